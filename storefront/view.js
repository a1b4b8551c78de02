// The view: the one module that touches the page (render.js builds its elements). The controller
// hands it handlers with bind…() and data to display with show…(); the view knows nothing of the
// API or of the page's state, and never decides what a click means.

import { countryName, formatCountdown, formatMoney } from "./format.js";
import * as render from "./render.js";

const byId = (id) => document.getElementById(id);

/** The delivery form's text fields: the API's field name → the input's id suffix. */
const DELIVERY_FIELDS = {
  email: "email",
  "address.name": "name",
  "address.line1": "line1",
  "address.line2": "line2",
  "address.city": "city",
  "address.postal_code": "postal_code",
  "address.country": "country",
  "address.phone": "phone",
  method: "method",
};

export class View {
  constructor() {
    this.dom = {
      shopName: byId("shop-name"),
      tenantLinks: byId("tenant-links"),
      notice: byId("notice"),
      status: byId("status"),
      confirmation: byId("confirmation"),
      payment: byId("payment"),
      productsHeading: byId("products-heading"),
      categorySelect: byId("category-select"),
      productsStatus: byId("products-status"),
      productList: byId("product-list"),
      cart: byId("cart"),
      cartLink: byId("cart-link"),
      cartHeading: byId("cart-heading"),
      cartEmpty: byId("cart-empty"),
      cartLines: byId("cart-lines"),
      cartDetails: byId("cart-details"),
      promoForm: byId("promo-form"),
      promoInput: byId("promo-code"),
      promoMessage: byId("promo-message"),
      promoApplied: byId("promo-applied"),
      promoAppliedCode: byId("promo-applied-code"),
      promoRemove: byId("promo-remove"),
      totals: byId("cart-totals"),
      upsell: byId("cart-upsell"),
      upsellList: byId("cart-upsell-list"),
      checkoutButton: byId("checkout-button"),
      checkoutMessage: byId("checkout-message"),
      deliveryForm: byId("delivery-form"),
      deliveryCountry: byId("delivery-country"),
      deliveryMethods: byId("delivery-methods"),
      deliveryMessage: byId("delivery-message"),
    };
    // Handlers of controls that render.js builds afresh on every render; set by bind…().
    this.handlers = {
      addProduct: () => {},
      changeQuantity: () => {},
      removeLine: () => {},
      fixShortage: () => {},
      retryProducts: () => {},
      cancelOrder: null, // set when the page holds the order's token: the confirmation offers "Cancel order"
      pay: () => {},
      cancelPayment: () => {},
      backToCart: () => {},
      deliveryMethod: () => {},
      retryShipping: () => {},
      continueShopping: () => {},
    };
    this.dom.promoInput.addEventListener("input", () => this.showPromoError(null));
    // Typing in a field clears what the API said about it; Enter in the form places nothing by surprise.
    for (const [name, suffix] of Object.entries(DELIVERY_FIELDS)) {
      if (name === "method") continue;
      const event = suffix === "country" ? "change" : "input";
      byId(`delivery-${suffix}`).addEventListener(event, () => this.setFieldError(name, null));
    }
    this.dom.deliveryForm.addEventListener("submit", (event) => event.preventDefault());
  }

  // ---- bind: user actions, handed to the controller ----------------------------------------

  bindCategoryChange(handler) {
    this.dom.categorySelect.addEventListener("change", () => handler(this.dom.categorySelect.value));
  }

  bindApplyPromo(handler) {
    this.dom.promoForm.addEventListener("submit", (event) => {
      event.preventDefault();
      handler(this.dom.promoInput.value.trim());
    });
  }

  bindRemovePromo(handler) {
    this.dom.promoRemove.addEventListener("click", handler);
  }

  /** "Place order": handler(the delivery form's values, see deliveryForm()). */
  bindCheckout(handler) {
    this.dom.checkoutButton.addEventListener("click", () => handler(this.deliveryForm()));
  }

  /** Another country in the delivery form: handler(the form's values). */
  bindDeliveryCountry(handler) {
    this.dom.deliveryCountry.addEventListener("change", () => handler(this.deliveryForm()));
  }

  /** A shipping method chosen: handler(the form's values). */
  bindDeliveryMethod(handler) {
    this.handlers.deliveryMethod = handler;
  }

  /** "Try again" when the delivery options could not be loaded. */
  bindRetryShipping(handler) {
    this.handlers.retryShipping = handler;
  }

  /** "Continue shopping" on an order's page. */
  bindContinueShopping(handler) {
    this.handlers.continueShopping = handler;
  }

  /** The address's #… changed (Back, Forward, an edited address): handler(location.hash). */
  bindRoute(handler) {
    window.addEventListener("hashchange", () => handler(window.location.hash));
  }

  /** "Add to cart" on a product, and "Add" on a suggestion: handler(productId, setId) (setId: the suggestion's up-sell set, else absent). */
  bindAddProduct(handler) {
    this.handlers.addProduct = handler;
  }

  /** The cart line's "+" and "−": handler(productId, +1 or −1). */
  bindChangeQuantity(handler) {
    this.handlers.changeQuantity = handler;
  }

  bindRemoveLine(handler) {
    this.handlers.removeLine = handler;
  }

  /** "Change to N" / "Remove it" beside a short line: handler({product_id, requested, available}). */
  bindFixShortage(handler) {
    this.handlers.fixShortage = handler;
  }

  bindRetryProducts(handler) {
    this.handlers.retryProducts = handler;
  }

  /** "Cancel order" on the confirmation: handler(order). */
  bindCancelOrder(handler) {
    this.handlers.cancelOrder = handler;
  }

  /** The payment step's "Pay", "Cancel order" and, once the hold lapsed, "Back to the cart". */
  bindPayment({ pay, cancel, backToCart }) {
    Object.assign(this.handlers, { pay, cancelPayment: cancel, backToCart });
  }

  // ---- show: the page --------------------------------------------------------------------------

  /** The shop's name and the demo shops: `shops` is [{name, href, current}]. */
  showShop(name, shops) {
    this.dom.shopName.textContent = name;
    document.title = `${name} \u2013 Cartwise`;
    this.dom.tenantLinks.replaceChildren(
      ...shops.map((shop) =>
        render.el("li", {}, render.el("a", { href: shop.href, "aria-current": shop.current ? "page" : null }, shop.name)),
      ),
    );
  }

  /** A page-wide message (an edit that failed); null hides it. */
  showNotice(text) {
    this.dom.notice.textContent = text ?? "";
    this.dom.notice.hidden = !text;
  }

  /** Said to screen readers only. */
  announce(text) {
    this.dom.status.textContent = text;
  }

  markReady() {
    document.body.dataset.ready = "true";
  }

  /** Puts `hash` ("#order=…", or "" for the shop) in the address bar: a new history entry, or in place of this one. */
  showAddress(hash, { replace = false } = {}) {
    const url = `${window.location.pathname}${window.location.search}${hash}`;
    if (replace) window.history.replaceState(null, "", url);
    else window.history.pushState(null, "", url);
  }

  // ---- catalogue ----

  showCategories(categories, selected) {
    this.dom.categorySelect.replaceChildren(...render.categoryOptions(categories, selected));
    this.dom.categorySelect.disabled = categories.length === 0;
  }

  /** The products to show (`shown`, after the filter) out of `total`, each with its quantity in the cart. */
  showProducts(shown, total, quantityInCart) {
    if (total === 0) this.dom.productsStatus.textContent = "This shop has no products yet.";
    else this.dom.productsStatus.textContent = shown.length === 1 ? "1 product" : `${shown.length} products`;
    render.replaceKeepingFocus(
      this.dom.productList,
      shown.map((product) =>
        render.productCard(product, {
          inCart: quantityInCart(product.product_id),
          onAdd: this.handlers.addProduct,
        }),
      ),
      this.dom.cartHeading,
    );
  }

  showProductsError(message, { canRetry }) {
    this.dom.productList.replaceChildren();
    this.dom.productsStatus.replaceChildren(message);
    if (canRetry) {
      this.dom.productsStatus.append(
        " ",
        render.el(
          "button",
          { type: "button", class: "button secondary", onclick: () => this.handlers.retryProducts() },
          "Try again",
        ),
      );
    }
  }

  // ---- cart ----

  /**
   * The cart: lines, promo, totals, the checkout button and what the last checkout said about it.
   * @param {object} cart the API's cart, or null
   * @param {object} options
   * @param {string} options.currency
   * @param {Map} options.shortages product_id → {product_id, requested, available}
   * @param {{from: string, to: string}|null} options.priceChange a total the checkout found changed
   * @param {(productId: string) => number|undefined} options.stockOf the product's stock, if known
   * @param {(productId: string) => string} options.nameOf
   * @param {boolean} options.checkingOut an order is being placed
   * @param {object} [options.delivery] the delivery step: {methods (null while loading), selected, shipping, error}
   */
  showCart(cart, { currency, shortages, priceChange, stockOf, nameOf, checkingOut, delivery }) {
    const items = cart?.items ?? [];
    const count = items.reduce((sum, line) => sum + line.quantity, 0);
    this.dom.cartLink.textContent = `Cart (${count})`;
    this.dom.cartEmpty.hidden = items.length > 0;
    this.dom.cartDetails.hidden = items.length === 0;
    render.replaceKeepingFocus(
      this.dom.cartLines,
      items.map((line) =>
        render.cartLine(line, currency, {
          shortage: shortages.get(line.product_id),
          maxQuantity: stockOf(line.product_id),
          onStep: (delta) => this.handlers.changeQuantity(line.product_id, delta),
          onRemove: () => this.handlers.removeLine(line.product_id),
        }),
      ),
      this.dom.cartHeading,
    );
    const promo = cart?.promo_code ?? null;
    this.dom.promoForm.hidden = promo !== null;
    this.dom.promoApplied.hidden = promo === null;
    this.dom.promoAppliedCode.textContent = promo ?? "";
    this.dom.totals.replaceChildren(
      items.length ? render.totalsList(cart.totals, currency, { shippingChosen: Boolean(cart.delivery?.method) }) : "",
    );
    if (delivery) this.showShippingMethods(delivery, currency);
    this.showCheckingOut(checkingOut, items.length > 0);
    if (shortages.size > 0) {
      const notice = render.shortageNotice([...shortages.values()], nameOf, this.handlers.fixShortage);
      this.setCheckoutMessage("shortage", notice);
    } else if (priceChange) {
      this.setCheckoutMessage("price", [priceChangedSentence(priceChange, currency)]);
    } else if (["shortage", "price"].includes(this.dom.checkoutMessage.dataset.kind)) {
      this.setCheckoutMessage(null, []);
    }
  }

  /** Edits are under way: the cart is marked busy for assistive technology. */
  showCartBusy(busy) {
    if (busy) this.dom.cart.setAttribute("aria-busy", "true");
    else this.dom.cart.removeAttribute("aria-busy");
  }

  showPromoApplied() {
    this.dom.promoInput.value = "";
    this.showPromoError(null);
    this.dom.promoRemove.focus();
  }

  showPromoRemoved() {
    this.dom.promoInput.focus();
  }

  /** A promo code that was refused; null clears it. */
  showPromoError(text) {
    this.dom.promoMessage.textContent = text ?? "";
    if (text) this.dom.promoInput.setAttribute("aria-invalid", "true");
    else this.dom.promoInput.removeAttribute("aria-invalid");
  }

  showUpsellLoading() {
    this.dom.upsell.dataset.status = "loading";
  }

  /** The cart's suggestions; `status` is empty, shown, off or error (data-status, for tests and styles). */
  showCartUpsell(upsell, status, currency) {
    const list = render.upsellList(upsell, currency, { idPrefix: "cart-upsell", onAdd: this.handlers.addProduct });
    render.replaceKeepingFocus(this.dom.upsellList, list ? [list] : [], this.dom.cartHeading);
    this.dom.upsell.hidden = list === null;
    this.dom.upsell.dataset.status = list === null && status === "shown" ? "none" : status;
  }

  // ---- delivery ----

  /** The shipping methods of the chosen country, the one chosen, and what it costs this cart (the API's figure). */
  showShippingMethods({ country, methods, selected, shipping, error }, currency) {
    const nodes = render.shippingMethods(methods, {
      country,
      selected,
      shipping,
      currency,
      error,
      onChoose: () => this.handlers.deliveryMethod(this.deliveryForm()),
      onRetry: () => this.handlers.retryShipping(),
    });
    render.replaceKeepingFocus(this.dom.deliveryMethods, nodes, byId("delivery-heading"));
  }

  /** The countries the shop ships to, by name, with `selected` chosen. */
  showDeliveryCountries(countries, selected) {
    const select = this.dom.deliveryCountry;
    select.replaceChildren(
      ...countries
        .map((code) => ({ code, name: countryName(code) }))
        .sort((a, b) => a.name.localeCompare(b.name, "en"))
        .map(({ code, name }) => render.el("option", { value: code, selected: code === selected }, name)),
    );
    select.value = selected ?? "";
    select.disabled = countries.length === 0;
  }

  /** The form filled in with a delivery the cart already has (after a reload). */
  showDeliveryForm(delivery) {
    byId("delivery-email").value = delivery.email ?? "";
    for (const suffix of ["name", "line1", "line2", "city", "postal_code", "phone"]) {
      byId(`delivery-${suffix}`).value = delivery.address?.[suffix] ?? "";
    }
    if (delivery.address?.country) this.dom.deliveryCountry.value = delivery.address.country;
  }

  /**
   * The delivery form's values: {email, address: {name, line1, line2, city, postal_code, country,
   * phone}, method} as typed (the controller trims them); method is null while none is chosen.
   */
  deliveryForm() {
    const value = (suffix) => byId(`delivery-${suffix}`).value;
    const checked = this.dom.deliveryMethods.querySelector("input[name='delivery-method']:checked");
    return {
      email: value("email"),
      address: Object.fromEntries(
        ["name", "line1", "line2", "city", "postal_code", "country", "phone"].map((suffix) => [suffix, value(suffix)]),
      ),
      method: checked ? checked.value : null,
    };
  }

  /**
   * What the API said about the delivery, per field ({"email": "…", "address.city": "…", "method": "…"});
   * what names no field of the form is said below it. null clears every message. `focus` moves the
   * keyboard to the first field named.
   */
  showDeliveryErrors(errors, { focus = false } = {}) {
    for (const name of Object.keys(DELIVERY_FIELDS)) this.setFieldError(name, errors?.[name] ?? null);
    const other = Object.entries(errors ?? {}).filter(([name]) => !(name in DELIVERY_FIELDS));
    this.dom.deliveryMessage.textContent = other.map(([, message]) => message).join(" ");
    if (!focus || !errors) return;
    const first = Object.keys(DELIVERY_FIELDS).find((name) => errors[name]);
    if (first === "method") (this.dom.deliveryMethods.querySelector("input") ?? byId("delivery-heading")).focus();
    else if (first) byId(`delivery-${DELIVERY_FIELDS[first]}`).focus();
    else byId("delivery-heading").focus();
  }

  setFieldError(name, message) {
    const suffix = DELIVERY_FIELDS[name];
    byId(`delivery-${suffix}-error`).textContent = message ?? "";
    const control = suffix === "method" ? null : byId(`delivery-${suffix}`);
    if (!control) return;
    if (message) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  }

  // ---- checkout ----

  showCheckingOut(busy, canCheckout) {
    const button = this.dom.checkoutButton;
    button.disabled = busy || !canCheckout;
    button.setAttribute("aria-busy", String(busy));
    button.textContent = busy ? "Placing order\u2026" : "Place order";
  }

  /** A checkout that failed, in a sentence; null clears it. */
  showCheckoutError(text) {
    this.setCheckoutMessage(text ? "error" : null, text ? [text] : []);
  }

  /** Moves the keyboard to the checkout's message (it is also a live region). */
  focusCheckoutMessage() {
    this.dom.checkoutMessage.focus();
  }

  setCheckoutMessage(kind, nodes) {
    render.replaceKeepingFocus(this.dom.checkoutMessage, nodes, this.dom.cartHeading);
    this.dom.checkoutMessage.dataset.kind = kind ?? "";
    this.dom.checkoutMessage.hidden = kind === null;
  }

  /** The placed (or cancelled) order; `cancellable` offers "Cancel order", `message` explains an outcome. */
  showConfirmation(order, upsell, { cancellable = false, message = null } = {}) {
    if (this.paymentParts) this.hidePayment();
    const confirmation = this.dom.confirmation;
    const cancel = this.handlers.cancelOrder;
    confirmation.replaceChildren(
      ...render.confirmationView(order, upsell, {
        onAddSuggestion: this.handlers.addProduct,
        onCancel: cancellable && cancel ? () => cancel(order) : null,
        message,
        onContinue: () => this.handlers.continueShopping(),
      }),
    );
    confirmation.hidden = false;
    byId("confirmation-heading").focus();
  }

  /** Adds a classic script (Stripe.js) to the page; resolves once it has run, rejects if it cannot load. */
  loadScript(url) {
    return new Promise((resolve, reject) => {
      const script = render.el("script", {
        src: url,
        onload: () => resolve(),
        onerror: () => {
          script.remove(); // a later try adds a fresh tag
          reject(new Error(`Could not load ${url}`));
        },
      });
      document.head.append(script);
    });
  }

  // ---- payment step ----

  /** The payment step for `order` (the confirmation makes way for it); focus moves to its heading. */
  showPayment(order) {
    this.hideConfirmation();
    const section = this.dom.payment;
    section.replaceChildren(
      ...render.paymentView(order, {
        onPay: () => this.handlers.pay(),
        onCancel: () => this.handlers.cancelPayment(),
        onBackToCart: () => this.handlers.backToCart(),
      }),
    );
    const part = (selector) => section.querySelector(selector);
    this.paymentParts = {
      hold: part(".hold"),
      holdTime: part(".hold-time"),
      cardField: part(".card-field"),
      cardElement: part("#card-element"),
      message: part("#payment-message"),
      pay: part(".pay"),
      cancel: part(".cancel-order"),
      backToCart: part(".back-to-cart"),
    };
    this.payLabel = this.paymentParts.pay.textContent;
    section.hidden = false;
    byId("payment-heading").focus();
  }

  /** Puts Stripe.js's card Element in the payment step. */
  mountCard(card) {
    card.mount(this.paymentParts.cardElement);
  }

  showHoldTime(seconds) {
    this.paymentParts.holdTime.textContent = formatCountdown(seconds);
  }

  /** A payment is under way: "Pay" says so, and neither button takes another press. */
  showPaying(busy) {
    const { pay, cancel } = this.paymentParts;
    pay.disabled = busy;
    pay.setAttribute("aria-busy", String(busy));
    pay.textContent = busy ? "Paying\u2026" : this.payLabel;
    cancel.disabled = busy;
  }

  /**
   * What the last payment attempt came to (`kind` "error" or "info"); null clears it. A live region:
   * it is read out without taking the focus, which stays where the shopper can try another card.
   */
  showPaymentMessage(text, kind = "error") {
    const { message } = this.paymentParts;
    message.textContent = text ?? "";
    message.dataset.kind = kind;
    message.hidden = !text;
  }

  /** The hold lapsed (or the order ended otherwise): no more paying, only "Back to the cart". */
  showHoldLapsed(text) {
    const { hold, cardField, pay, cancel, backToCart, message } = this.paymentParts;
    for (const part of [hold, cardField, pay, cancel]) part.hidden = true;
    backToCart.hidden = false;
    this.showPaymentMessage(text);
    message.focus(); // the controls it had are gone
  }

  hidePayment() {
    this.dom.payment.hidden = true;
    this.dom.payment.replaceChildren();
    this.paymentParts = null;
  }

  hideConfirmation() {
    this.dom.confirmation.hidden = true;
    this.dom.confirmation.replaceChildren();
  }

  /** Moves the keyboard to the cart (after the payment step put the order's items back in it). */
  focusCart() {
    this.dom.cartHeading.focus();
  }

  /** Moves the keyboard to the catalogue (the order's page was closed). */
  focusProducts() {
    this.dom.productsHeading.focus();
  }
}

/** "The total changed from €193.30 to €199.30 …": what a checkout's 409 PRICE_CHANGED means to the shopper. */
function priceChangedSentence({ from, to }, currency) {
  return (
    `The total changed from ${formatMoney(from, currency)} to ${formatMoney(to, currency)} since your cart ` +
    "was shown. Nothing was ordered: check your cart and press \u201cPlace order\u201d again to order at the new total."
  );
}
