// payment.js: the payment step of a card order against a recording view, a scripted API and a fake
// Stripe.js; the hold's countdown on mocked timers; and the Stripe.js loader.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { PaymentStep, stripeLoader } from "../../storefront/payment.js";
import { ShopState } from "../../storefront/state.js";
import {
  FakeApi,
  FakeStripe,
  ORDER_ID,
  ORDER_TOKEN,
  RecordingView,
  UPSELL,
  cardOrder,
  conflict,
  networkError,
  refusal,
  settle,
  unavailable,
} from "./fakes.js";

const KEY = "pk_test_51AcmeDemo";
const ATTEMPT = /^[0-9a-f]{32}$/;
const PAY_AGAIN = "Press \u201cPay\u201d again: your card will not be charged twice.";
const LAPSED =
  "The hold on your items has lapsed, so this order can no longer be paid, and nothing was charged. " +
  "\u201cBack to the cart\u201d puts the items in your cart again.";
const PAID = cardOrder({
  status: "paid",
  payment: { provider: "stripe", status: "succeeded", publishable_key: KEY },
});
const succeeded = { order: PAID, payment: { status: "succeeded" } };
const setupAnswer = (n = 1) => ({ client_secret: `seti_${n}_secret_abc` });
const cardBecomes = (pm) => ({ setupIntent: { id: "seti_1", status: "succeeded", payment_method: pm } });

/**
 * An open payment step (order: cardOrder(), 15 minutes' hold, on mocked timers and clock), its doubles,
 * and what it handed back to the controller (`outcomes`). `loadStripe` defaults to one that gives `stripe`.
 */
async function opened(t, { loadStripe, timers = ["setInterval", "Date"] } = {}) {
  t.mock.timers.enable({ apis: timers, now: Date.parse("2024-06-01T10:15:00Z") });
  const api = new FakeApi();
  const view = new RecordingView();
  const state = new ShopState();
  const stripe = new FakeStripe(KEY);
  const loads = [];
  const outcomes = [];
  const step = new PaymentStep({
    api,
    view,
    state,
    loadStripe: async (key) => {
      loads.push(key);
      return loadStripe ? loadStripe(key, loads.length) : stripe;
    },
    onPaid: (order, upsell) => outcomes.push(["paid", order, upsell]),
    onCancelled: (order) => outcomes.push(["cancelled", order]),
    onBackToCart: (order) => outcomes.push(["backToCart", order]),
  });
  t.after(() => step.close());
  step.open(cardOrder(), ORDER_TOKEN, UPSELL);
  await settle();
  return { api, view, state, stripe, step, loads, outcomes };
}

/** Press "Pay" and forget what was shown before. */
async function pay(view) {
  view.clear();
  await view.trigger("pay");
}

describe("opening", () => {
  test("shows the order, the hold's time, and mounts Stripe's card field for the order's key", async (t) => {
    const { view, stripe, loads, state, api } = await opened(t);
    assert.deepEqual(view.shown(), [
      ["showPayment", cardOrder()],
      ["showHoldTime", 900],
      ["mountCard", stripe.card],
    ]);
    assert.deepEqual(loads, [KEY]);
    assert.deepEqual(stripe.callsOf("create"), [["card"]]);
    assert.equal(await state.payment.cardReady, true);
    assert.equal(state.payment.token, ORDER_TOKEN);
    assert.deepEqual(api.requests, []);
  });
});

describe("paying", () => {
  test("card set up, confirmed by Stripe.js, paid: the step closes and the paid order is confirmed", async (t) => {
    const { api, view, stripe, state, outcomes } = await opened(t);
    api.answer("startCardSetup", setupAnswer()).answer("pay", succeeded);
    stripe.setupAnswers.push(cardBecomes("pm_card_visa"));
    await pay(view);
    const [[orderId, token, attempt]] = api.requestsOf("startCardSetup");
    assert.deepEqual([orderId, token], [ORDER_ID, ORDER_TOKEN]);
    assert.match(attempt, ATTEMPT);
    assert.deepEqual(stripe.callsOf("confirmCardSetup"), [["seti_1_secret_abc", { payment_method: { card: stripe.card } }]]);
    assert.deepEqual(api.requestsOf("pay"), [[ORDER_ID, ORDER_TOKEN, "pm_card_visa"]]);
    assert.deepEqual(view.shown(), [["showPaying", true], ["showPaymentMessage", null], ["hidePayment"]]);
    assert.deepEqual(outcomes, [["paid", PAID, UPSELL]]);
    assert.equal(state.payment, null);
    assert.equal(stripe.card.destroyed, true);
  });

  test("a PaymentMethod given as an object is paid with its id", async (t) => {
    const { api, view, stripe, outcomes } = await opened(t);
    api.answer("startCardSetup", setupAnswer()).answer("pay", succeeded);
    stripe.setupAnswers.push(cardBecomes({ id: "pm_obj", object: "payment_method" }));
    await pay(view);
    assert.deepEqual(api.requestsOf("pay"), [[ORDER_ID, ORDER_TOKEN, "pm_obj"]]);
    assert.equal(outcomes.length, 1);
  });

  test("requires_action: 3-D Secure through Stripe.js, then the same card is paid again", async (t) => {
    const { api, view, stripe, outcomes } = await opened(t);
    api
      .answer("startCardSetup", setupAnswer())
      .answer(
        "pay",
        { order: cardOrder(), payment: { status: "requires_action", client_secret: "pi_1_secret_3ds" } },
        succeeded,
      );
    stripe.setupAnswers.push(cardBecomes("pm_card_threeDSecure2Required"));
    stripe.paymentAnswers.push({ paymentIntent: { id: "pi_1", status: "requires_confirmation" } });
    await pay(view);
    assert.deepEqual(stripe.callsOf("confirmCardPayment"), [["pi_1_secret_3ds"]]);
    assert.deepEqual(api.requestsOf("pay"), [
      [ORDER_ID, ORDER_TOKEN, "pm_card_threeDSecure2Required"],
      [ORDER_ID, ORDER_TOKEN, "pm_card_threeDSecure2Required"],
    ]);
    assert.equal(api.requestsOf("startCardSetup").length, 1);
    assert.deepEqual(outcomes, [["paid", PAID, UPSELL]]);
  });

  test("3-D Secure failed: Stripe's message, and the next press starts again from the card", async (t) => {
    const { api, view, stripe, state, outcomes } = await opened(t);
    const message = "We are unable to authenticate your payment method. Please choose a different payment method.";
    api
      .answer("startCardSetup", setupAnswer(1), setupAnswer(2))
      .answer("pay", { order: cardOrder(), payment: { status: "requires_action", client_secret: "pi_1_secret_3ds" } });
    stripe.setupAnswers.push(cardBecomes("pm_1"));
    stripe.paymentAnswers.push({ error: { type: "card_error", code: "payment_intent_authentication_failure", message } });
    await pay(view);
    assert.deepEqual(view.shown(), [
      ["showPaying", true],
      ["showPaymentMessage", null],
      ["showPaymentMessage", message],
      ["showPaying", false],
    ]);
    assert.equal(state.payment.paymentMethod, null);
    assert.deepEqual(outcomes, []);
    api.answer("pay", succeeded);
    stripe.setupAnswers.push(cardBecomes("pm_2"));
    await pay(view);
    assert.equal(api.requestsOf("startCardSetup").length, 2);
    assert.deepEqual(api.requestsOf("pay").at(-1), [ORDER_ID, ORDER_TOKEN, "pm_2"]);
    assert.deepEqual(outcomes, [["paid", PAID, UPSELL]]);
  });

  test("the bank did not confirm (requires_payment_method after the check)", async (t) => {
    const { api, view, stripe } = await opened(t);
    api
      .answer("startCardSetup", setupAnswer())
      .answer("pay", { order: cardOrder(), payment: { status: "requires_action", client_secret: "pi_1_secret_3ds" } });
    stripe.setupAnswers.push(cardBecomes("pm_1"));
    stripe.paymentAnswers.push({ paymentIntent: { id: "pi_1", status: "requires_payment_method" } });
    await pay(view);
    assert.deepEqual(view.argsOf("showPaymentMessage").at(-1), [
      "Your bank could not confirm this payment, so nothing was charged. Try again or use another card.",
    ]);
  });

  test("declined (402 PAYMENT_FAILED): the API's words, nothing charged, and another try with a new card", async (t) => {
    const { api, view, stripe, state, outcomes } = await opened(t);
    api
      .answer("startCardSetup", setupAnswer(1), setupAnswer(2))
      .answer(
        "pay",
        refusal(402, "PAYMENT_FAILED", "Your card was declined.", { decline_code: "generic_decline" }),
        succeeded,
      );
    stripe.setupAnswers.push(cardBecomes("pm_card_chargeDeclined"), cardBecomes("pm_card_visa"));
    await pay(view);
    assert.deepEqual(view.shown(), [
      ["showPaying", true],
      ["showPaymentMessage", null],
      [
        "showPaymentMessage",
        "Your card was declined. Nothing was charged: check the card details or use another card, " +
          "then press \u201cPay\u201d again.",
      ],
      ["showPaying", false],
    ]);
    assert.equal(state.payment.busy, false);
    assert.deepEqual(outcomes, []);
    await pay(view);
    const [[, , first], [, , second]] = api.requestsOf("startCardSetup");
    assert.match(second, ATTEMPT);
    assert.notEqual(second, first, "a new card is a new attempt");
    assert.equal(stripe.callsOf("confirmCardSetup")[1][0], "seti_2_secret_abc");
    assert.deepEqual(api.requestsOf("pay"), [
      [ORDER_ID, ORDER_TOKEN, "pm_card_chargeDeclined"],
      [ORDER_ID, ORDER_TOKEN, "pm_card_visa"],
    ]);
    assert.deepEqual(outcomes, [["paid", PAID, UPSELL]]);
  });

  test("503 on pay: press again, and the same PaymentMethod is sent (never a second card set-up)", async (t) => {
    const { api, view, stripe, outcomes } = await opened(t);
    api.answer("startCardSetup", setupAnswer()).answer("pay", unavailable(), succeeded);
    stripe.setupAnswers.push(cardBecomes("pm_1"));
    await pay(view);
    assert.deepEqual(view.argsOf("showPaymentMessage").at(-1), [
      `The shop is busy right now. Please try again in a moment. ${PAY_AGAIN}`,
    ]);
    await pay(view);
    assert.equal(api.requestsOf("startCardSetup").length, 1);
    assert.deepEqual(api.requestsOf("pay"), [
      [ORDER_ID, ORDER_TOKEN, "pm_1"],
      [ORDER_ID, ORDER_TOKEN, "pm_1"],
    ]);
    assert.deepEqual(outcomes, [["paid", PAID, UPSELL]]);
  });

  test("no answer to the card set-up: the retry asks for the same attempt (the same SetupIntent)", async (t) => {
    const { api, view, stripe } = await opened(t);
    api.answer("startCardSetup", networkError(), setupAnswer()).answer("pay", succeeded);
    stripe.setupAnswers.push(cardBecomes("pm_1"));
    await pay(view);
    assert.deepEqual(view.argsOf("showPaymentMessage").at(-1), [
      `Could not reach the shop. Check your internet connection and try again. ${PAY_AGAIN}`,
    ]);
    assert.deepEqual(stripe.callsOf("confirmCardSetup"), []);
    await pay(view);
    const [[, , first], [, , second]] = api.requestsOf("startCardSetup");
    assert.equal(second, first);
  });

  test("editing the card after a failed send drops its PaymentMethod: the next press sets up the new one", async (t) => {
    const { api, view, stripe } = await opened(t);
    api.answer("startCardSetup", setupAnswer(1), setupAnswer(2)).answer("pay", unavailable(), succeeded);
    stripe.setupAnswers.push(cardBecomes("pm_1"), cardBecomes("pm_2"));
    await pay(view);
    stripe.card.handlers.change({ complete: false, error: { message: "Your card number is incomplete." } });
    assert.deepEqual(view.argsOf("showPaymentMessage").at(-1), ["Your card number is incomplete."]);
    await pay(view);
    assert.equal(api.requestsOf("startCardSetup").length, 2);
    assert.deepEqual(api.requestsOf("pay").at(-1), [ORDER_ID, ORDER_TOKEN, "pm_2"]);
  });

  test("Stripe refuses the card at set-up: its message, nothing sent to pay", async (t) => {
    const { api, view, stripe, state } = await opened(t);
    api.answer("startCardSetup", setupAnswer());
    stripe.setupAnswers.push({ error: { type: "card_error", code: "incorrect_number", message: "Your card number is incorrect." } });
    await pay(view);
    assert.deepEqual(view.argsOf("showPaymentMessage"), [[null], ["Your card number is incorrect."]]);
    assert.deepEqual(api.requestsOf("pay"), []);
    assert.equal(state.payment.attempt, null, "the next card is a new attempt");
  });

  test("a double press pays once", async (t) => {
    const { api, view, stripe } = await opened(t);
    api.answer("startCardSetup", setupAnswer()).answer("pay", succeeded);
    stripe.setupAnswers.push(cardBecomes("pm_1"));
    await Promise.all([view.trigger("pay"), view.trigger("pay")]);
    assert.equal(api.requestsOf("startCardSetup").length, 1);
    assert.equal(api.requestsOf("pay").length, 1);
  });

  test("processing: the order is asked for every 2 s until it is paid", async (t) => {
    const { api, view, stripe, outcomes } = await opened(t, { timers: ["setInterval", "setTimeout", "Date"] });
    api
      .answer("startCardSetup", setupAnswer())
      .answer("pay", { order: cardOrder(), payment: { status: "processing" } })
      .answer("getOrder", cardOrder(), PAID);
    stripe.setupAnswers.push(cardBecomes("pm_1"));
    view.clear();
    const pressed = view.trigger("pay");
    await settle();
    assert.deepEqual(view.lastArgs("showPaymentMessage"), ["Your bank is processing the payment\u2026", "info"]);
    assert.deepEqual(api.requestsOf("getOrder"), []);
    t.mock.timers.tick(2000);
    await settle();
    assert.deepEqual(api.requestsOf("getOrder"), [[ORDER_ID, ORDER_TOKEN]]);
    t.mock.timers.tick(2000);
    await pressed;
    assert.deepEqual(api.requestsOf("getOrder"), [
      [ORDER_ID, ORDER_TOKEN],
      [ORDER_ID, ORDER_TOKEN],
    ]);
    assert.deepEqual(outcomes, [["paid", PAID, UPSELL]]);
  });
});

describe("Stripe.js missing or failing", () => {
  test("it could not be loaded: the shopper is told, and Pay loads it again (no API call)", async (t) => {
    const logged = t.mock.method(console, "error", () => {});
    const { api, view, loads, state } = await opened(t, {
      loadStripe: (key, attempt) => {
        if (attempt === 1) throw new Error("Could not load http://127.0.0.1:8420/js.stripe.com/v3/");
        return new FakeStripe(key);
      },
    });
    assert.deepEqual(view.argsOf("showPaymentMessage"), [
      ["The card form could not be loaded. Check your internet connection and press \u201cPay\u201d to try again."],
    ]);
    assert.deepEqual(view.argsOf("mountCard"), []);
    assert.equal(logged.mock.callCount(), 1);
    await pay(view);
    assert.deepEqual(loads, [KEY, KEY]);
    assert.deepEqual(view.shownMethods(), ["showPaying", "showPaymentMessage", "mountCard", "showPaying"]);
    assert.equal(await state.payment.cardReady, true);
    assert.deepEqual(api.requests, []);
  });

  test("Stripe.js throws while confirming the card: a fault of the page, worded for the shopper", async (t) => {
    const logged = t.mock.method(console, "error", () => {});
    const { api, view, stripe, outcomes } = await opened(t);
    api.answer("startCardSetup", setupAnswer());
    stripe.setupAnswers.push(new TypeError("Cannot read properties of undefined (reading 'mount')"));
    await pay(view);
    assert.deepEqual(view.argsOf("showPaymentMessage").at(-1), [
      "Something went wrong in this page. Please reload and try again.",
    ]);
    assert.equal(logged.mock.callCount(), 1);
    assert.deepEqual(view.argsOf("showPaying").at(-1), [false]);
    assert.deepEqual(outcomes, []);
  });

  test("a Stripe error without a message gets the page's sentence", async (t) => {
    t.mock.method(console, "error", () => {});
    const { api, view, stripe } = await opened(t);
    api.answer("startCardSetup", setupAnswer());
    stripe.setupAnswers.push({ error: { type: "api_error" } });
    await pay(view);
    assert.deepEqual(view.argsOf("showPaymentMessage").at(-1), [
      "Your card could not be checked. Check the card details and press \u201cPay\u201d again.",
    ]);
  });
});

describe("the hold", () => {
  test("counts down each second, announces the last minute once, and lapses at zero", async (t) => {
    const { view, api, outcomes } = await opened(t);
    view.clear();
    t.mock.timers.tick(1000);
    assert.deepEqual(view.shown(), [["showHoldTime", 899]]);
    t.mock.timers.tick(839_000);
    assert.deepEqual(view.argsOf("announce"), [["One minute left to pay for your order."]]);
    t.mock.timers.tick(59_000);
    assert.deepEqual(view.argsOf("showHoldLapsed"), []);
    t.mock.timers.tick(1000);
    assert.deepEqual(view.argsOf("showHoldLapsed"), [[LAPSED]]);
    assert.equal(view.argsOf("announce").length, 1);
    // (Whether the interval stopped cannot be seen here: Node 20's mock timers keep firing an
    // interval cleared from its own callback. What the shopper sees is said once all the same.)
    t.mock.timers.tick(5000);
    assert.deepEqual(view.argsOf("showHoldLapsed"), [[LAPSED]]);
    await pay(view);
    assert.deepEqual(api.requests, [], "a lapsed order is not paid");
    view.trigger("backToCart");
    assert.deepEqual(view.shown(), [["hidePayment"]]);
    assert.deepEqual(outcomes, [["backToCart", cardOrder()]]);
  });

  test("409 ORDER_NOT_PAYABLE (expired by the API's clock) ends the step the same way", async (t) => {
    const { api, view, stripe } = await opened(t);
    api
      .answer("startCardSetup", setupAnswer())
      .answer("pay", conflict("ORDER_NOT_PAYABLE", { status: "expired" }, "Order is expired."));
    stripe.setupAnswers.push(cardBecomes("pm_1"));
    await pay(view);
    assert.deepEqual(view.argsOf("showHoldLapsed"), [[LAPSED]]);
  });

  test("409 ORDER_NOT_PAYABLE because it was cancelled elsewhere", async (t) => {
    const { api, view, stripe } = await opened(t);
    api
      .answer("startCardSetup", setupAnswer())
      .answer("pay", conflict("ORDER_NOT_PAYABLE", { status: "cancelled" }, "Order is cancelled."));
    stripe.setupAnswers.push(cardBecomes("pm_1"));
    await pay(view);
    assert.deepEqual(view.argsOf("showHoldLapsed"), [
      ["This order was cancelled, so it can no longer be paid. Nothing was charged."],
    ]);
  });

  test("409 ORDER_NOT_PAYABLE because it was paid meanwhile: the paid order is confirmed", async (t) => {
    const { api, view, stripe, outcomes } = await opened(t);
    api
      .answer("startCardSetup", setupAnswer())
      .answer("pay", conflict("ORDER_NOT_PAYABLE", { status: "paid" }, "Order is paid."))
      .answer("getOrder", PAID);
    stripe.setupAnswers.push(cardBecomes("pm_1"));
    await pay(view);
    assert.deepEqual(api.requestsOf("getOrder"), [[ORDER_ID, ORDER_TOKEN]]);
    assert.deepEqual(outcomes, [["paid", PAID, UPSELL]]);
  });
});

describe("cancelling", () => {
  test("cancels with the order token and hands the cancelled order back", async (t) => {
    const { api, view, outcomes, state } = await opened(t);
    const cancelled = cardOrder({ status: "cancelled" });
    api.answer("cancelOrder", cancelled);
    view.clear();
    await view.trigger("cancelPayment");
    assert.deepEqual(api.requests, [["cancelOrder", ORDER_ID, ORDER_TOKEN]]);
    assert.deepEqual(view.shown(), [["showPaying", true], ["showPaymentMessage", null], ["hidePayment"]]);
    assert.deepEqual(outcomes, [["cancelled", cancelled]]);
    assert.equal(state.payment, null);
  });

  test("paid before the cancel arrived: the paid order is what the shopper gets", async (t) => {
    const { api, view, outcomes } = await opened(t);
    api
      .answer("cancelOrder", conflict("ORDER_NOT_CANCELLABLE", { status: "paid" }, "Order is paid."))
      .answer("getOrder", PAID);
    await view.trigger("cancelPayment");
    assert.deepEqual(outcomes, [["paid", PAID, UPSELL]]);
  });

  test("a failed cancel is shown and the step stays", async (t) => {
    const { api, view, outcomes, state } = await opened(t);
    api.answer("cancelOrder", networkError());
    view.clear();
    await view.trigger("cancelPayment");
    assert.deepEqual(view.shown(), [
      ["showPaying", true],
      ["showPaymentMessage", null],
      ["showPaymentMessage", "Could not reach the shop. Check your internet connection and try again."],
      ["showPaying", false],
    ]);
    assert.deepEqual(outcomes, []);
    assert.notEqual(state.payment, null);
  });
});

describe("stripeLoader", () => {
  const STRIPE_JS = "https://js.stripe.com/v3/";

  test("adds the script once, and makes one Stripe object per publishable key", async (t) => {
    const made = [];
    globalThis.window = { Stripe: (key) => (made.push(key), { key }) };
    t.after(() => delete globalThis.window);
    const scripts = [];
    const load = stripeLoader(STRIPE_JS, async (url) => void scripts.push(url));
    const a = await load("pk_a");
    assert.equal(await load("pk_a"), a);
    const b = await load("pk_b");
    assert.deepEqual(b, { key: "pk_b" });
    assert.deepEqual(scripts, [STRIPE_JS]);
    assert.deepEqual(made, ["pk_a", "pk_b"]);
  });

  test("a script that failed to load is added again on the next try", async (t) => {
    globalThis.window = { Stripe: (key) => ({ key }) };
    t.after(() => delete globalThis.window);
    const scripts = [];
    let fail = true;
    const load = stripeLoader(STRIPE_JS, async (url) => {
      scripts.push(url);
      if (fail) throw new Error(`Could not load ${url}`);
    });
    await assert.rejects(load("pk_a"), { message: `Could not load ${STRIPE_JS}` });
    fail = false;
    assert.deepEqual(await load("pk_a"), { key: "pk_a" });
    assert.deepEqual(scripts, [STRIPE_JS, STRIPE_JS]);
  });

  test("a script that loaded without defining Stripe() is an error", async (t) => {
    globalThis.window = {};
    t.after(() => delete globalThis.window);
    const load = stripeLoader(STRIPE_JS, async () => {});
    await assert.rejects(load("pk_a"), { message: `${STRIPE_JS} did not define Stripe()` });
  });
});
