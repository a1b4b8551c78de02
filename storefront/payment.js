// The payment step of a card order, the controller's counterpart for it: the hold's countdown,
// Stripe's card field, "Pay" (with 3-D Secure), a declined card and another try, "Cancel order".
//
// The card becomes a PaymentMethod through a SetupIntent the API makes and Stripe.js's
// confirmCardSetup (the one card-to-PaymentMethod step both Stripe.js and localstripe's fake
// implement); the API then charges the order's exact total on the server. Like controller.js, this
// module never touches the DOM: it decides, the view shows. See docs/storefront.md, "Payment step".

import { errorMessage, isApiError } from "./api.js";
import { PaymentState } from "./state.js";

const TICK_MS = 1000;
const LAST_MINUTE_SECONDS = 60;
const POLL_MS = 2000;
const POLL_ATTEMPTS = 30;
// The API asks for 3-D Secure at most once per card; more asks in a row would be a loop.
const MAX_AUTHENTICATIONS = 2;

const PAY_AGAIN = "Press \u201cPay\u201d again: your card will not be charged twice.";
const ENDED = {
  expired:
    "The hold on your items has lapsed, so this order can no longer be paid, and nothing was charged. " +
    "\u201cBack to the cart\u201d puts the items in your cart again.",
  cancelled: "This order was cancelled, so it can no longer be paid. Nothing was charged.",
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A loader of Stripe.js from `url`: the script is added once, the first time a payment step opens
 * (shoppers of an on-delivery shop never fetch it), and again only if loading it failed.
 * Returns `async (publishableKey) => Stripe object`.
 */
export function stripeLoader(url, loadScript) {
  let loading = null;
  const instances = new Map();
  return async (publishableKey) => {
    loading ??= loadScript(url).catch((error) => {
      loading = null;
      throw error;
    });
    await loading;
    if (typeof window.Stripe !== "function") throw new Error(`${url} did not define Stripe()`);
    if (!instances.has(publishableKey)) instances.set(publishableKey, window.Stripe(publishableKey));
    return instances.get(publishableKey);
  };
}

/** Stripe.js's `error` in a sentence: Stripe words its errors for shoppers; a thrown Error is a fault here. */
function stripeMessage(error) {
  if (error instanceof Error || typeof error?.message !== "string" || error.message === "") {
    console.error(error);
    return "Your card could not be checked. Check the card details and press \u201cPay\u201d again.";
  }
  return error.message;
}

export class PaymentStep {
  /**
   * @param {object} parts
   * @param {ReturnType<import("./api.js").createApi>} parts.api
   * @param {import("./view.js").View} parts.view
   * @param {import("./state.js").ShopState} parts.state
   * @param {(publishableKey: string) => Promise<object>} parts.loadStripe see stripeLoader()
   * @param {(order: object, upsell: object) => void} parts.onPaid
   * @param {(order: object) => void} parts.onCancelled
   * @param {(order: object) => void} parts.onBackToCart the hold lapsed and the shopper wants the items again
   */
  constructor({ api, view, state, loadStripe, onPaid, onCancelled, onBackToCart }) {
    Object.assign(this, { api, view, state, loadStripe, onPaid, onCancelled, onBackToCart });
    this.timer = null;
    view.bindPayment({ pay: () => this.pay(), cancel: () => this.cancel(), backToCart: () => this.backToCart() });
  }

  /**
   * Open the step for a card order awaiting payment (`token` is its X-Order-Token): just placed, or
   * resumed after a reload with the hold's `deadline` kept on this device (null: counted from now).
   */
  open(order, token, upsell, deadline = null) {
    this.close();
    const payment = new PaymentState(order, token, upsell, deadline);
    this.state.payment = payment;
    this.view.showPayment(order);
    this.tick(payment);
    this.timer = setInterval(() => this.tick(payment), TICK_MS);
    payment.cardReady = this.prepareCard(payment);
  }

  close() {
    const payment = this.state.payment;
    if (!payment) return;
    this.state.payment = null;
    clearInterval(this.timer);
    payment.card?.destroy();
    this.view.hidePayment();
  }

  /** Whether `payment` is still the open step (an answer may arrive after it was closed). */
  isOpen(payment) {
    return this.state.payment === payment;
  }

  tick(payment) {
    const left = payment.secondsLeft();
    this.view.showHoldTime(left);
    if (left <= LAST_MINUTE_SECONDS && left > 0 && !payment.warned) {
      payment.warned = true;
      this.view.announce("One minute left to pay for your order.");
    }
    if (left <= 0) this.end(payment, "expired");
  }

  /** Load Stripe.js and mount its card field; false (and a message) when it could not be loaded. */
  async prepareCard(payment) {
    try {
      const stripe = await this.loadStripe(payment.order.payment.publishable_key);
      if (!this.isOpen(payment)) return false;
      const card = stripe.elements().create("card");
      card.on("change", (event) => this.cardChanged(payment, event));
      this.view.mountCard(card);
      Object.assign(payment, { stripe, card });
      return true;
    } catch (error) {
      console.error(error);
      if (this.isOpen(payment)) {
        this.view.showPaymentMessage(
          "The card form could not be loaded. Check your internet connection and press \u201cPay\u201d to try again.",
        );
      }
      return false;
    }
  }

  /** Other card details: the next "Pay" makes a new PaymentMethod of them. */
  cardChanged(payment, event) {
    payment.paymentMethod = null;
    if (event?.error?.message) this.view.showPaymentMessage(event.error.message);
  }

  setBusy(payment, busy) {
    payment.busy = busy;
    this.view.showPaying(busy);
  }

  async pay() {
    const payment = this.state.payment;
    if (!payment || payment.busy || payment.ended) return; // a double click is ignored here
    this.setBusy(payment, true);
    this.view.showPaymentMessage(null);
    try {
      if (!(await payment.cardReady)) {
        // Stripe.js could not be loaded: this press tries again, and the shopper then types the card.
        payment.cardReady = this.prepareCard(payment);
        await payment.cardReady;
        return;
      }
      payment.paymentMethod ??= await this.cardToPaymentMethod(payment);
      if (payment.paymentMethod && this.isOpen(payment)) await this.charge(payment);
    } catch (error) {
      if (this.isOpen(payment)) await this.failed(payment, error);
    } finally {
      if (this.isOpen(payment)) this.setBusy(payment, false);
    }
  }

  /** The card in the field as a PaymentMethod id, or null when Stripe refused it (the message is shown). */
  async cardToPaymentMethod(payment) {
    const { order, token } = payment;
    const setup = await this.api.startCardSetup(order.order_id, token, payment.cardAttempt());
    // The attempt id was kept only so that a retry after no answer gets the same SetupIntent back;
    // a SetupIntent is confirmed once, so whatever comes of it, the next card is a new attempt.
    payment.attempt = null;
    if (!this.isOpen(payment)) return null;
    const { setupIntent, error } = await payment.stripe.confirmCardSetup(setup.client_secret, {
      payment_method: { card: payment.card },
    });
    if (error) {
      if (this.isOpen(payment)) this.view.showPaymentMessage(stripeMessage(error));
      return null;
    }
    const method = setupIntent.payment_method;
    return typeof method === "string" ? method : method.id;
  }

  /** Have the API charge the order with the PaymentMethod, through 3-D Secure when the bank asks. */
  async charge(payment) {
    const { order, token, paymentMethod } = payment;
    for (let asked = 0; asked <= MAX_AUTHENTICATIONS; asked += 1) {
      const answer = await this.api.pay(order.order_id, token, paymentMethod);
      if (!this.isOpen(payment)) return;
      const { status, client_secret: clientSecret } = answer.payment;
      if (status === "succeeded") {
        this.paid(payment, answer.order);
        return;
      }
      if (status === "processing") {
        await this.waitForPayment(payment);
        return;
      }
      if (status !== "requires_action") break;
      // 3-D Secure: Stripe.js shows the bank's check. Once it is passed, the API is asked again with
      // the same card and finds the payment authenticated.
      const { paymentIntent, error } = await payment.stripe.confirmCardPayment(clientSecret);
      if (!this.isOpen(payment)) return;
      if (error || paymentIntent?.status === "requires_payment_method") {
        payment.paymentMethod = null; // the check failed: the next press starts again from the card
        this.view.showPaymentMessage(
          error
            ? stripeMessage(error)
            : "Your bank could not confirm this payment, so nothing was charged. Try again or use another card.",
        );
        return;
      }
    }
    payment.paymentMethod = null;
    this.view.showPaymentMessage("The payment did not go through, so nothing was charged. Please try again.");
  }

  /** Stripe is still processing the payment: ask the API until the order is paid (or ended). */
  async waitForPayment(payment) {
    this.view.showPaymentMessage("Your bank is processing the payment\u2026", "info");
    for (let poll = 0; poll < POLL_ATTEMPTS; poll += 1) {
      await sleep(POLL_MS);
      if (!this.isOpen(payment)) return;
      const order = await this.api.getOrder(payment.order.order_id, payment.token);
      if (!this.isOpen(payment)) return;
      if (order.status === "paid") {
        this.paid(payment, order);
        return;
      }
      if (order.status !== "pending_payment") {
        this.end(payment, order.status);
        return;
      }
    }
    this.view.showPaymentMessage(`Your bank is still processing the payment. ${PAY_AGAIN}`, "info");
  }

  async failed(payment, error) {
    if (isApiError(error, "ORDER_NOT_PAYABLE")) {
      if (error.details.status === "paid") await this.showPaidMeanwhile(payment);
      else this.end(payment, error.details.status);
      return;
    }
    if (isApiError(error, "PAYMENT_FAILED")) {
      payment.paymentMethod = null; // a declined card: the next press sets up the card in the field anew
      this.view.showPaymentMessage(
        `${error.apiMessage || "The payment did not go through."} Nothing was charged: check the card ` +
          "details or use another card, then press \u201cPay\u201d again.",
      );
      return;
    }
    if (error.retryable) {
      // No answer, or a 5xx/429: the same PaymentMethod is sent again, which the API pays at most once.
      this.view.showPaymentMessage(`${errorMessage(error)} ${PAY_AGAIN}`);
      return;
    }
    payment.paymentMethod = null;
    this.view.showPaymentMessage(errorMessage(error));
  }

  /** The order can no longer be paid (its hold lapsed, or it was cancelled): say so, offer the cart. */
  end(payment, status) {
    if (payment.ended || !this.isOpen(payment)) return;
    payment.ended = true;
    clearInterval(this.timer);
    this.view.showHoldLapsed(ENDED[status] ?? "This order can no longer be paid.");
  }

  /** Paid meanwhile (another tab, or an answer that never arrived): the paid order's confirmation. */
  async showPaidMeanwhile(payment) {
    try {
      const order = await this.api.getOrder(payment.order.order_id, payment.token);
      if (this.isOpen(payment)) this.paid(payment, order);
    } catch {
      if (this.isOpen(payment)) this.view.showPaymentMessage("This order has already been paid.", "info");
    }
  }

  paid(payment, order) {
    this.close();
    this.onPaid(order, payment.upsell);
  }

  async cancel() {
    const payment = this.state.payment;
    if (!payment || payment.busy) return;
    this.setBusy(payment, true);
    this.view.showPaymentMessage(null);
    try {
      const cancelled = await this.api.cancelOrder(payment.order.order_id, payment.token);
      if (!this.isOpen(payment)) return;
      this.close();
      this.onCancelled(cancelled);
    } catch (error) {
      if (!this.isOpen(payment)) return;
      // Paid before the cancel arrived (the API then refuses it): that is what the shopper gets.
      if (isApiError(error, "ORDER_NOT_CANCELLABLE") && error.details.status === "paid") {
        await this.showPaidMeanwhile(payment);
      } else {
        this.view.showPaymentMessage(errorMessage(error));
      }
    } finally {
      if (this.isOpen(payment)) this.setBusy(payment, false);
    }
  }

  backToCart() {
    const payment = this.state.payment;
    if (!payment) return;
    this.close();
    this.onBackToCart(payment.order);
  }
}
