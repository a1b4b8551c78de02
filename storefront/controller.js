// The controller: what each user action does. It calls the API (api.js), keeps the page's state
// (state.js) and the per-tenant memory (storage.js), and asks the view (view.js) to show the result.

import { errorMessage, isApiError } from "./api.js";
import { PaymentStep } from "./payment.js";
import { orderHash, orderRoute } from "./settings.js";
import { holdDeadline } from "./state.js";
import * as storage from "./storage.js";

/** The address fields of a delivery, and those the shopper must fill in. */
export const ADDRESS_FIELDS = ["name", "line1", "line2", "city", "postal_code", "country", "phone"];
const OPTIONAL_FIELDS = new Set(["line2", "phone"]);
/** Orders the shopper may still cancel with the order's token. */
const CANCELLABLE = new Set(["pending_payment", "confirmed"]);
const CANCELLED_NOTE = "Nothing will be delivered or charged.";

const text = (value) => (typeof value === "string" ? value.trim() : "");

/**
 * The body of PUT …/delivery from the delivery form's values ({email, address: {...}, method}):
 * trimmed; an empty optional field left out, an empty required one sent (the API names it).
 */
export function deliveryBody(form) {
  const address = {};
  for (const field of ADDRESS_FIELDS) {
    const value = text(form.address?.[field]);
    if (value !== "" || !OPTIONAL_FIELDS.has(field)) address[field] = value;
  }
  return { email: text(form.email), address, method: form.method };
}

/** Whether the form says what the cart's delivery already holds (so "Place order" need not send it again). */
export function sameDelivery(form, delivery) {
  if (!delivery) return false;
  if (text(form.email) !== text(delivery.email) || form.method !== delivery.method?.id) return false;
  return ADDRESS_FIELDS.every((field) => text(form.address?.[field]) === text(delivery.address?.[field] ?? ""));
}

/**
 * The API's refusal of a delivery as messages per form field ({"email": "...", "address.city": "...",
 * "method": "..."}), or null when it is not about the delivery's fields. 400 BAD_REQUEST names the
 * fields in details.fields; COUNTRY_NOT_SERVED and SHIPPING_METHOD_UNAVAILABLE are said in the API's words.
 */
export function deliveryErrors(error) {
  if (isApiError(error, "BAD_REQUEST") && Array.isArray(error.details.fields) && error.details.fields.length > 0) {
    const errors = {};
    for (const { field, message } of error.details.fields) {
      const name = String(field ?? "").replace(/^body\./, "");
      errors[name] = errors[name] ? `${errors[name]} ${message}` : String(message ?? "");
    }
    return errors;
  }
  if (isApiError(error, "COUNTRY_NOT_SERVED")) {
    return { "address.country": error.apiMessage || "This shop does not deliver to that country." };
  }
  if (isApiError(error, "SHIPPING_METHOD_UNAVAILABLE")) {
    return { method: error.apiMessage || "That delivery method is not available for this address." };
  }
  return null;
}

/** The API's 400 about the up-sell set id alone (unknown to this cart, or without this product). */
function isRefusedSet(error) {
  const fields = isApiError(error, "BAD_REQUEST") ? (error.details.fields ?? []) : [];
  return fields.length > 0 && fields.every((field) => field.field === "upsell_set_id");
}

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
    view.bindAddProduct((productId, setId) => this.addProduct(productId, setId));
    view.bindChangeQuantity((productId, delta) => this.changeQuantity(productId, delta));
    view.bindRemoveLine((productId) => this.setQuantity(productId, 0));
    view.bindFixShortage((item) => this.setQuantity(item.product_id, Math.max(item.available, 0)));
    view.bindApplyPromo((code) => this.applyPromo(code));
    view.bindRemovePromo(() => this.removePromo());
    view.bindCheckout((form) => this.checkout(form));
    view.bindRetryProducts(() => this.loadProducts());
    view.bindDeliveryCountry((form) => this.chooseCountry(form));
    view.bindDeliveryMethod((form) => this.chooseMethod(form));
    view.bindRetryShipping(() => this.loadShipping());
    view.bindCancelOrder((order) => this.cancelOrder(order));
    view.bindContinueShopping(() => this.leaveOrder());
    view.bindRoute((hash) => this.route(hash));
    this.methodsRequest = 0;
    this.payment = new PaymentStep({
      api,
      view,
      state,
      loadStripe,
      onPaid: (order, upsell) => this.orderPaid(order, upsell),
      onCancelled: (order) => this.orderCancelled(order),
      onBackToCart: (order) => this.backToCart(order),
    });
  }

  /** Start the page at `hash` (the address's #…: an order's page, or the shop). */
  async start(hash = "") {
    const restoring = this.serially(() => this.restoreCart());
    const shipping = restoring.then(
      () => this.loadShipping({ restore: true }),
      () => this.loadShipping({ restore: true }),
    );
    const [, restored] = await Promise.allSettled([this.loadProducts(), restoring, shipping]);
    if (restored.status === "rejected") this.view.showNotice(errorMessage(restored.reason));
    this.showCart();
    const route = orderRoute(hash);
    // A checkout finished while restoring the cart has already opened its order.
    if (route && !this.state.orderPage) await this.openRoute(route);
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
      delivery: this.deliveryShown(),
    });
  }

  /** The delivery step as the cart shows it: the methods of the chosen country, the one chosen, and its price in this cart. */
  deliveryShown() {
    const { delivery, cart } = this.state;
    const saved = cart?.delivery;
    // What the chosen method costs this cart is the API's figure (free over a threshold included),
    // known once the cart holds that very choice; until then the list shows each method's own price.
    const priced = saved?.method?.id === delivery.method && saved?.address?.country === delivery.country;
    return {
      country: delivery.country,
      methods: delivery.methods,
      selected: delivery.method,
      shipping: priced ? (cart.totals.shipping ?? null) : null,
      error: delivery.error,
    };
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

  cartAction(edit, { onError = (error) => this.view.showNotice(this.describeCartError(error)), carry = true } = {}) {
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
        if (carry) this.carryDelivery(cart);
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

  /** Add one of a product; `setId` is the up-sell answer's set_id when it was added from a suggestion. */
  async addProduct(productId, setId = null) {
    const added = await this.cartAction(async (cart) => {
      const current = cart.items.find((line) => line.product_id === productId)?.quantity ?? 0;
      if (!setId) return this.api.setQuantity(cart.cart_id, productId, current + 1);
      try {
        return await this.api.setQuantity(cart.cart_id, productId, current + 1, setId);
      } catch (error) {
        // A set this cart can no longer use (a page left open, a cart replaced): the shopper still
        // wants the product, so it is added as an ordinary line rather than refused.
        if (!isRefusedSet(error)) throw error;
        return this.api.setQuantity(cart.cart_id, productId, current + 1);
      }
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
      await this.finishCheckout(await this.sendCheckout(cartId, pending));
      return true;
    } catch (error) {
      if (error.refused) return false;
      throw error; // no answer again: the attempt is kept for the next try
    }
  }

  // ---- delivery -----------------------------------------------------------------------------------

  /**
   * The shop's countries, then the methods of the country chosen. `restore` (the page's start): a
   * restored cart's delivery is filled in again and its country and method chosen.
   */
  async loadShipping({ restore = false } = {}) {
    const { delivery } = this.state;
    const saved = restore ? this.state.cart?.delivery : null;
    delivery.error = null;
    try {
      const { countries } = await this.api.listShippingMethods();
      delivery.setCountries(countries, saved?.address?.country);
      if (saved) delivery.follow(saved);
      this.view.showDeliveryCountries(countries, delivery.country);
      if (saved) this.view.showDeliveryForm(saved);
    } catch (error) {
      delivery.error = `Delivery options could not be loaded. ${errorMessage(error)}`;
      this.showCart();
      return;
    }
    await this.loadMethods();
  }

  /** The methods offered in the chosen country; false when the answer is not (or no longer) wanted. */
  async loadMethods() {
    const { delivery } = this.state;
    const { country } = delivery;
    const request = ++this.methodsRequest;
    delivery.error = null;
    if (!country) return false;
    this.showCart(); // the methods of another country are loading
    try {
      const { items } = await this.api.listShippingMethods(country);
      if (request !== this.methodsRequest || !delivery.setMethods(country, items)) return false;
      this.showCart();
      return true;
    } catch (error) {
      if (request === this.methodsRequest) {
        delivery.error = `Delivery options could not be loaded. ${errorMessage(error)}`;
        this.showCart();
      }
      return false;
    }
  }

  /** Another country: its methods; the method chosen stays if it is offered there, and the delivery is saved. */
  async chooseCountry(form) {
    const { delivery } = this.state;
    delivery.chooseCountry(form.address.country);
    delivery.method = form.method;
    if (!(await this.loadMethods())) return;
    if (delivery.method) await this.saveDelivery({ ...form, method: delivery.method });
  }

  /** A shipping method chosen: the delivery is saved, and the cart the API prices with it shown. */
  chooseMethod(form) {
    this.state.delivery.method = form.method;
    this.showCart();
    return this.saveDelivery(form);
  }

  /** PUT the form's delivery on the cart; its answer is the cart, with shipping in its totals. */
  saveDelivery(form) {
    return this.putDelivery(deliveryBody(form));
  }

  async putDelivery(body) {
    if (this.state.cartIsEmpty()) return false;
    this.view.showDeliveryErrors(null);
    const saved = await this.cartAction((cart) => this.api.setDelivery(cart.cart_id, body), {
      onError: (error) => {
        if (!this.deliveryFailed(error)) this.view.showNotice(this.describeCartError(error));
      },
      carry: false,
    });
    if (saved) this.state.delivery.accepted = body;
    return saved;
  }

  /**
   * A cart with items but no delivery (the next cart after an order, or one that replaced a lost
   * cart) gets the delivery the API last accepted, so its totals include shipping before "Place
   * order" (which would otherwise stop at a total the shopper had not seen).
   */
  carryDelivery(cart) {
    const { accepted, method } = this.state.delivery;
    if (!accepted || cart.delivery || cart.items.length === 0 || accepted.method !== method) return;
    this.putDelivery(accepted);
  }

  deliveryFailed(error, { focus = false } = {}) {
    const errors = deliveryErrors(error);
    if (!errors) return false;
    this.view.showDeliveryErrors(errors, { focus });
    if (isApiError(error, "SHIPPING_METHOD_UNAVAILABLE") || isApiError(error, "COUNTRY_NOT_SERVED")) {
      this.loadShipping(); // what the shop offers has changed since the page listed it
    }
    return true;
  }


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

  /**
   * "Place order" with the delivery form's values (`form`; null: the cart's delivery as it is). A
   * delivery the cart does not hold yet is saved first; if the total it comes to is not the one on
   * screen, that new total is shown and nothing is ordered (the shopper orders at a total seen).
   */
  async checkout(form = null) {
    if (this.state.checkingOut || this.state.cartIsEmpty()) return; // a double click is ignored here
    if (form && !form.method) {
      this.view.showDeliveryErrors({ method: "Choose a delivery method." }, { focus: true });
      return;
    }
    this.setCheckingOut(true);
    this.state.priceChange = null;
    this.view.showCheckoutError(null);
    this.view.showNotice(null);
    this.view.showDeliveryErrors(null);
    try {
      await this.serially(async () => {
        let cart = this.state.cart;
        if (!cart?.items.length) return;
        // An unanswered attempt is resent as it was, whatever the form says now.
        const pending = storage.pendingCheckout(this.tenant, cart.cart_id);
        if (form && !pending && !sameDelivery(form, cart.delivery)) {
          const shown = cart.totals.total;
          const body = deliveryBody(form);
          cart = await this.api.setDelivery(cart.cart_id, body);
          this.state.delivery.accepted = body;
          this.state.delivery.follow(cart.delivery);
          this.setCart(cart);
          if (cart.totals.total !== shown) {
            this.state.priceChange = { from: shown, to: cart.totals.total };
            this.showCart();
            this.view.focusCheckoutMessage();
            return;
          }
        }
        // One attempt is this cart at the total on screen. Its key is kept until an answer
        // arrives: a retry after a lost answer resends it, so the API returns the order it
        // already placed instead of placing a second one.
        const attempt = storage.checkoutAttempt(this.tenant, cart.cart_id, cart.totals.total);
        await this.finishCheckout(await this.sendCheckout(cart.cart_id, attempt));
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

  /** The order is placed: a fresh cart, and the order's page (its token kept for it) at #order={id}. */
  finishCheckout(result) {
    storage.forgetCheckout(this.tenant);
    storage.forgetCart(this.tenant);
    this.state.shortages.clear();
    this.setCart(null); // a fresh, empty cart; it is created on the first add
    this.view.showCheckoutError(null);
    this.loadProducts(); // the stock has dropped
    const { order, order_token: token, upsell } = result;
    return this.openOrder(order.order_id, { order, token: token || null, upsell, address: "push" });
  }

  // ---- the order page -----------------------------------------------------------------------------

  /** The page of the order an address names (#order=…; with &token=…, which is kept and dropped from the address). */
  openRoute({ orderId, token }) {
    return this.openOrder(orderId, { token, address: token ? "replace" : null });
  }

  /** The address changed (Back, Forward, an edited address): the order it names, or the shop. */
  async route(hash) {
    const route = orderRoute(hash);
    if (!route) {
      this.closeOrder();
      return;
    }
    if (route.orderId === this.state.orderPage?.orderId && !route.token) return;
    await this.openRoute(route);
  }

  /**
   * Show an order's page. `order` is the API's answer already at hand (the checkout's), else it is
   * read; `token` is kept in localStorage (the one stored is used when none is given); `address`
   * "push" or "replace" puts #order={id} in the address bar (null leaves it).
   */
  async openOrder(orderId, { order = null, token = null, upsell = null, address = null } = {}) {
    const { tenant } = this;
    if (token) {
      const awaitingPayment = order?.status === "pending_payment" && order.hold_expires_at;
      const kept = storage.savedOrder(tenant, orderId);
      const deadline = awaitingPayment ? holdDeadline(order) : kept?.token === token ? kept.holdDeadline : null;
      storage.rememberOrder(tenant, orderId, token, deadline);
    }
    const saved = storage.savedOrder(tenant, orderId);
    if (address) this.view.showAddress(orderHash(orderId), { replace: address === "replace" });
    const page = { orderId, order, token: saved?.token ?? null };
    this.state.orderPage = page;
    let shown = order;
    if (!shown || this.lacksPrivateParts(shown, page.token)) {
      shown = await this.readOrder(page, order);
      if (!shown || this.state.orderPage !== page) return;
    }
    this.showOrder(shown, { upsell, deadline: saved?.holdDeadline ?? null });
  }

  /** A token holder is shown the timeline: an order answer without it (the public shape) is read again with the token. */
  lacksPrivateParts(order, token) {
    return Boolean(token) && !Array.isArray(order.timeline) && order.status !== "pending_payment";
  }

  /**
   * GET the order (with its token if the page has one): a token the API refuses is forgotten and the
   * public order shown. Null when there is nothing to show (said in a notice); `fallback` when given.
   */
  async readOrder(page, fallback = null) {
    try {
      return await this.api.getOrder(page.orderId, page.token);
    } catch (error) {
      if (page.token && (isApiError(error, "UNAUTHORIZED") || isApiError(error, "FORBIDDEN"))) {
        storage.forgetOrder(this.tenant, page.orderId);
        page.token = null;
        return this.readOrder(page, fallback);
      }
      if (fallback) return fallback;
      if (this.state.orderPage !== page) return null;
      if (isApiError(error, "NOT_FOUND")) {
        this.view.showNotice(`There is no order ${page.orderId} in this shop.`);
        this.leaveOrder({ focus: false });
      } else {
        this.view.showNotice(`The order could not be loaded. ${errorMessage(error)} Reload the page to try again.`);
      }
      return null;
    }
  }

  /** The order's page: its payment step while a card order awaits payment (and the page holds its token), else its status. */
  showOrder(order, { upsell = null, message = null, deadline = null } = {}) {
    const page = this.state.orderPage;
    if (page) page.order = order;
    const token = page?.token ?? null;
    if (order.status === "pending_payment" && order.payment?.provider === "stripe" && token) {
      this.payment.open(order, token, upsell, deadline); // a card order: paid before it is confirmed
      return;
    }
    this.payment.close(); // an earlier order's payment step, if one was still open
    const cancellable = Boolean(token) && CANCELLABLE.has(order.status);
    this.view.showConfirmation(order, upsell, { cancellable, message });
  }

  /** The order with its timeline when the page holds its token (read again if `order` lacks it), else `order`. */
  async withPrivateParts(order) {
    const page = this.state.orderPage;
    if (page?.orderId !== order.order_id || !this.lacksPrivateParts(order, page.token)) return order;
    return (await this.readOrder(page, order)) ?? order;
  }

  async orderPaid(order, upsell) {
    const page = this.state.orderPage;
    if (page?.orderId === order.order_id && page.token) storage.rememberOrder(this.tenant, order.order_id, page.token);
    const shown = await this.withPrivateParts(order);
    if (this.state.orderPage === page) this.showOrder(shown, { upsell });
  }

  async cancelOrder(order) {
    const page = this.state.orderPage;
    try {
      await this.orderCancelled(await this.api.cancelOrder(order.order_id, page?.token ?? null));
    } catch (error) {
      if (isApiError(error, "ORDER_NOT_CANCELLABLE") && page) {
        // Shipped or paid meanwhile: the order as it is now, and why it was not cancelled.
        const current = await this.readOrder(page, order);
        if (this.state.orderPage === page) this.showOrder(current, { message: errorMessage(error) });
        return;
      }
      this.view.showConfirmation(order, null, { cancellable: true, message: errorMessage(error) });
    }
  }

  async orderCancelled(order) {
    const page = this.state.orderPage;
    const shown = await this.withPrivateParts(order);
    if (this.state.orderPage === page) this.showOrder(shown, { message: CANCELLED_NOTE });
    this.loadProducts(); // its units are back on sale
  }

  /** The order's page closes (the address no longer names it). */
  closeOrder() {
    this.state.orderPage = null;
    this.payment.close();
    this.view.hideConfirmation();
  }

  /** "Continue shopping": the order's page closes, the address is the shop's again. */
  leaveOrder({ focus = true } = {}) {
    this.closeOrder();
    this.view.showAddress("", { replace: false });
    if (focus) this.view.focusProducts();
  }

  /**
   * The hold of a card order lapsed: its items go into the cart again (as many as are in stock), added
   * to whatever the cart holds now, so the shopper can order them again.
   */
  async backToCart(order) {
    this.closeOrder();
    this.view.showAddress("", { replace: false });
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
    if (this.deliveryFailed(error, { focus: true })) {
      this.view.showCheckoutError("Check the delivery details above: nothing was ordered.");
      return;
    }
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
