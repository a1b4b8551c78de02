// The controller: what each user action does. It calls the API (api.js), keeps the page's state
// (state.js) and the per-tenant memory (storage.js), and asks the view (view.js) to show the result.

import { errorMessage, isApiError } from "./api.js";
import { PaymentStep } from "./payment.js";
import * as storage from "./storage.js";

/** A cart id the API no longer knows (expired) or that was checked out elsewhere. */
function isLostCart(error) {
  return (isApiError(error, "NOT_FOUND") && error.details.cart_id !== undefined) || isApiError(error, "CART_CLOSED");
}

export class Controller {
  /**
   * @param {object} parts
   * @param {ReturnType<import("./api.js").createApi>} parts.api the API of this tenant
   * @param {import("./view.js").View} parts.view
   * @param {import("./state.js").ShopState} parts.state
   * @param {string} parts.tenant
   * @param {(publishableKey: string) => Promise<object>} parts.loadStripe Stripe.js, for card orders (payment.js)
   */
  constructor({ api, view, state, tenant, loadStripe }) {
    this.api = api;
    this.view = view;
    this.state = state;
    this.tenant = tenant;
    // Cart edits run one after another, each computed from the cart the previous one returned,
    // so quick clicks on "+" add up instead of racing each other.
    this.queue = Promise.resolve();
    this.pendingEdits = 0;
    this.upsellRequest = 0;

    view.bindCategoryChange((category) => {
      state.category = category;
      this.showProducts();
    });
    view.bindAddProduct((productId) => this.addProduct(productId));
    view.bindChangeQuantity((productId, delta) => this.changeQuantity(productId, delta));
    view.bindRemoveLine((productId) => this.setQuantity(productId, 0));
    view.bindFixShortage((item) => this.setQuantity(item.product_id, Math.max(item.available, 0)));
    view.bindApplyPromo((code) => this.applyPromo(code));
    view.bindRemovePromo(() => this.removePromo());
    view.bindCheckout(() => this.checkout());
    view.bindRetryProducts(() => this.loadProducts());
    view.bindCancelOrder((order) => this.cancelOrder(order));
    this.payment = new PaymentStep({
      api,
      view,
      state,
      loadStripe,
      onPaid: (order, upsell) => this.view.showConfirmation(order, upsell),
      onCancelled: (order) => this.orderCancelled(order),
      onBackToCart: (order) => this.backToCart(order),
    });
  }

  async start() {
    const [, restored] = await Promise.allSettled([this.loadProducts(), this.serially(() => this.restoreCart())]);
    if (restored.status === "rejected") this.view.showNotice(errorMessage(restored.reason));
    this.showCart();
    this.view.markReady();
  }

  serially(task) {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => {});
    return run;
  }

  // ---- showing the state ------------------------------------------------------------------------

  showProducts() {
    const { state } = this;
    this.view.showProducts(state.shownProducts(), state.products.length, (id) => state.quantityInCart(id));
  }

  showCart() {
    const { state } = this;
    this.view.showCart(state.cart, {
      currency: state.cart?.currency ?? state.currency,
      shortages: state.shortages,
      priceChange: state.priceChange,
      stockOf: (id) => state.product(id)?.stock,
      nameOf: (id) => state.productName(id),
      checkingOut: state.checkingOut,
    });
  }

  setCart(cart) {
    this.state.setCart(cart);
    if (cart) storage.rememberCart(this.tenant, cart.cart_id);
    this.showCart();
    this.showProducts();
    this.refreshUpsell();
  }

  // ---- products -----------------------------------------------------------------------------------

  async loadProducts() {
    try {
      this.state.setProducts(await this.api.listProducts());
      this.view.showCategories(this.state.categories(), this.state.category);
      this.showProducts();
    } catch (error) {
      this.view.showProductsError(errorMessage(error), { canRetry: !isApiError(error, "TENANT_NOT_FOUND") });
    }
  }

  // ---- cart ---------------------------------------------------------------------------------------

  async newCart() {
    const cart = await this.api.createCart();
    storage.rememberCart(this.tenant, cart.cart_id);
    return cart;
  }

  /**
   * Run `edit(cart)` on the current cart (creating one if needed) and return the edited cart. A
   * lost cart is replaced once, silently, unless this page's own unanswered checkout closed it:
   * then that order is shown and null returned (carrying on in a new cart could order it twice).
   */
  async editCart(edit) {
    const cart = this.state.cart ?? (await this.newCart());
    try {
      return await edit(cart);
    } catch (error) {
      if (!isLostCart(error)) throw error;
      if (await this.resumeCheckout(cart.cart_id)) return null;
      storage.forgetCart(this.tenant);
      return edit(await this.newCart());
    }
  }

  describeCartError(error) {
    const items = isApiError(error, "OUT_OF_STOCK") ? (error.details.items ?? []) : [];
    if (items.length === 0) return errorMessage(error);
    const name = (item) => this.state.productName(item.product_id);
    return items
      .map((item) => (item.available > 0 ? `Only ${item.available} of ${name(item)} left.` : `${name(item)} is sold out.`))
      .join(" ");
  }

  cartAction(edit, { onError = (error) => this.view.showNotice(this.describeCartError(error)) } = {}) {
    if (this.state.checkingOut) {
      // The cart is being ordered as it is; an edit now would land in the next cart by surprise.
      this.view.showNotice("Please wait until your order is placed.");
      return Promise.resolve(false);
    }
    this.pendingEdits += 1;
    this.view.showCartBusy(true);
    return this.serially(async () => {
      try {
        const cart = await this.editCart(edit);
        if (cart === null) return false; // it had been ordered: its confirmation is shown instead
        this.state.priceChange = null; // the shopper has moved on from the changed total
        this.setCart(cart);
        this.view.showNotice(null);
        return true;
      } catch (error) {
        onError(error);
        if (isApiError(error, "OUT_OF_STOCK")) this.loadProducts();
        return false;
      } finally {
        this.pendingEdits -= 1;
        if (this.pendingEdits === 0) this.view.showCartBusy(false);
      }
    });
  }

  async addProduct(productId) {
    const added = await this.cartAction((cart) => {
      const current = cart.items.find((line) => line.product_id === productId)?.quantity ?? 0;
      return this.api.setQuantity(cart.cart_id, productId, current + 1);
    });
    if (added) this.view.announce(`${this.state.productName(productId)} added to your cart.`);
  }

  changeQuantity(productId, delta) {
    return this.cartAction((cart) => {
      const current = cart.items.find((line) => line.product_id === productId)?.quantity ?? 0;
      return this.api.setQuantity(cart.cart_id, productId, Math.max(current + delta, 0));
    });
  }

  setQuantity(productId, quantity) {
    return this.cartAction((cart) => this.api.setQuantity(cart.cart_id, productId, quantity));
  }

  async applyPromo(code) {
    if (!code) {
      this.view.showPromoError("Enter a promo code first.");
      return;
    }
    const applied = await this.cartAction((cart) => this.api.applyPromo(cart.cart_id, code), {
      onError: (error) =>
        this.view.showPromoError(
          isApiError(error, "INVALID_PROMO_CODE") ? `The promo code \u201c${code}\u201d is not valid.` : errorMessage(error),
        ),
    });
    if (applied) {
      this.view.showPromoApplied();
      this.view.announce(`Promo code ${this.state.cart?.promo_code ?? code} applied.`);
    }
  }

  async removePromo() {
    if (await this.cartAction((cart) => this.api.removePromo(cart.cart_id))) {
      this.view.announce("Promo code removed.");
      this.view.showPromoRemoved();
    }
  }

  /** The stored cart, if the API still has it open; a checkout of it that never got its answer is finished. */
  async restoreCart() {
    const { tenant } = this;
    const cartId = storage.savedCartId(tenant);
    if (!cartId) return;
    let cart;
    try {
      cart = await this.api.getCart(cartId);
    } catch (error) {
      if (isApiError(error, "NOT_FOUND")) {
        storage.forgetCart(tenant); // expired or unknown: a fresh cart is made on the first add
        return;
      }
      throw error;
    }
    if (cart.status === "open") {
      this.setCart(cart);
      return;
    }
    if (!(await this.resumeCheckout(cart.cart_id))) storage.forgetCart(tenant);
  }

  /**
   * Finish this cart's checkout that never got its answer, if there is one: the same key and body
   * again, so the API answers with the order it placed. True when that order is now shown; false
   * when there was none or it is not ours (the API refused: another key placed it).
   */
  async resumeCheckout(cartId) {
    const pending = storage.pendingCheckout(this.tenant, cartId);
    if (!pending) return false;
    try {
      this.finishCheckout(await this.sendCheckout(cartId, pending));
      return true;
    } catch (error) {
      if (error.refused) return false;
      throw error; // no answer again: the attempt is kept for the next try
    }
  }

  // ---- up-sell ------------------------------------------------------------------------------------

  async refreshUpsell() {
    const request = ++this.upsellRequest;
    const cart = this.state.cart;
    const currency = cart?.currency ?? this.state.currency;
    if (!cart || cart.items.length === 0) {
      this.view.showCartUpsell(null, "empty", currency);
      return;
    }
    this.view.showUpsellLoading();
    try {
      const upsell = await this.api.getUpsell(cart.cart_id);
      if (request === this.upsellRequest) this.view.showCartUpsell(upsell, upsell.enabled ? "shown" : "off", currency);
    } catch {
      // Suggestions are optional: when they fail, the cart simply goes without them.
      if (request === this.upsellRequest) this.view.showCartUpsell(null, "error", currency);
    }
  }

  // ---- checkout -----------------------------------------------------------------------------------

  setCheckingOut(busy) {
    this.state.checkingOut = busy;
    this.view.showCheckingOut(busy, !this.state.cartIsEmpty());
  }

  async checkout() {
    if (this.state.checkingOut || this.state.cartIsEmpty()) return; // a double click is ignored here
    this.setCheckingOut(true);
    this.state.priceChange = null;
    this.view.showCheckoutError(null);
    this.view.showNotice(null);
    try {
      await this.serially(async () => {
        const cart = this.state.cart;
        if (!cart?.items.length) return;
        // One attempt is this cart at the total on screen. Its key is kept until an answer
        // arrives: a retry after a lost answer resends it, so the API returns the order it
        // already placed instead of placing a second one.
        const attempt = storage.checkoutAttempt(this.tenant, cart.cart_id, cart.totals.total);
        this.finishCheckout(await this.sendCheckout(cart.cart_id, attempt));
      });
    } catch (error) {
      await this.checkoutFailed(error);
    } finally {
      this.setCheckingOut(false);
    }
  }

  /** The checkout's answer (201 placed, 200 placed before under this key: the same to the page). */
  async sendCheckout(cartId, attempt) {
    try {
      return await this.api.checkout(cartId, attempt);
    } catch (error) {
      if (error.refused) storage.forgetCheckout(this.tenant); // nothing was written: the next try is a new attempt
      throw error;
    }
  }

  finishCheckout(result) {
    storage.forgetCheckout(this.tenant);
    storage.forgetCart(this.tenant);
    this.state.shortages.clear();
    this.setCart(null); // a fresh, empty cart; it is created on the first add
    this.view.showCheckoutError(null);
    // The order token lives in this page only: it is the shopper's key to this one order.
    this.orderToken = result.order_token;
    const { order } = result;
    if (order.status === "pending_payment" && order.payment?.provider === "stripe" && this.orderToken) {
      this.payment.open(order, this.orderToken, result.upsell); // a card order: paid before it is confirmed
    } else {
      this.payment.close(); // an earlier order's payment step, if one was still open
      const cancellable = order.status === "confirmed" && Boolean(this.orderToken);
      this.view.showConfirmation(order, result.upsell, { cancellable });
    }
    this.loadProducts(); // the stock has dropped
  }

  async cancelOrder(order) {
    try {
      this.orderCancelled(await this.api.cancelOrder(order.order_id, this.orderToken));
    } catch (error) {
      this.view.showConfirmation(order, null, { cancellable: true, message: errorMessage(error) });
    }
  }

  orderCancelled(order) {
    this.view.showConfirmation(order, null, { message: "Nothing will be delivered or charged." });
    this.loadProducts(); // its units are back on sale
  }

  /**
   * The hold of a card order lapsed: its items go into the cart again (as many as are in stock), added
   * to whatever the cart holds now, so the shopper can order them again.
   */
  async backToCart(order) {
    const short = [];
    const refilled = await this.cartAction(async (cart) => {
      let current = cart;
      for (const line of order.items) {
        const inCart = current.items.find((item) => item.product_id === line.product_id)?.quantity ?? 0;
        const quantity = inCart + line.quantity;
        try {
          current = await this.api.setQuantity(current.cart_id, line.product_id, quantity);
        } catch (error) {
          if (!isApiError(error, "OUT_OF_STOCK")) throw error;
          short.push(error); // that line stays as it was; the others still go in
        }
      }
      return current;
    });
    if (!refilled) return;
    if (short.length > 0) this.view.showNotice(short.map((error) => this.describeCartError(error)).join(" "));
    this.view.announce("The items of your order are back in your cart.");
    this.view.focusCart();
  }

  async checkoutFailed(error) {
    if (isApiError(error, "OUT_OF_STOCK") && Array.isArray(error.details.items)) {
      this.state.setShortages(error.details.items);
      this.showCart();
      this.loadProducts().then(() => this.showCart()); // show the new stock beside the lines
      this.view.focusCheckoutMessage();
      return;
    }
    if (isApiError(error, "PRICE_CHANGED")) {
      await this.showChangedPrice(error.details);
      return;
    }
    if (isApiError(error, "CART_CLOSED")) {
      storage.forgetCart(this.tenant);
      this.setCart(null);
      this.view.showCheckoutError(
        "This cart was already checked out, so it has been emptied. Please add your items again.",
      );
      return;
    }
    if (error.retryable) {
      this.view.showCheckoutError(
        `${errorMessage(error)} Your order may not have been placed yet. ` +
          "Press \u201cPlace order\u201d again: it will not be ordered twice.",
      );
      return;
    }
    this.view.showCheckoutError(errorMessage(error));
  }

  /** A 409 PRICE_CHANGED: the cart as it is priced now, and a sentence from the total sent to the new one. */
  async showChangedPrice({ totals }) {
    const cart = this.state.cart;
    let current = { ...cart, totals };
    try {
      current = await this.serially(() => this.api.getCart(cart.cart_id)); // the lines' new prices
    } catch {
      // The answer's totals are the current ones; the lines catch up on the next edit.
    }
    this.state.priceChange = { from: cart.totals.total, to: current.totals.total };
    this.setCart(current);
    this.loadProducts(); // the catalogue shows the new prices too
    this.view.focusCheckoutMessage();
  }
}
