// What the page knows, in memory: the catalogue, the open cart and what the last checkout said.
// No DOM and no network here; the controller changes it and asks the view to show it.

/**
 * The delivery step's choices: the shop's countries (from GET …/shipping-methods), the methods offered
 * in the chosen country, and the method chosen. The cart's `delivery` is what the API holds; this is
 * what the form shows, which the next "Place order" (or a choice of method) sends.
 */
export class DeliveryChoice {
  /** The countries the shop ships to (ISO codes); null until loaded. */
  countries = null;
  country = null;
  /** The shipping methods offered in `country`, as the API lists them; null while they load. */
  methods = null;
  /** The id of the method chosen, or null. */
  method = null;
  /** Why the countries or methods could not be loaded (a sentence), or null. */
  error = null;
  /** The last delivery the API accepted (a PUT body): a new cart (after an order, or a lost one) gets it too. */
  accepted = null;

  setCountries(countries, preferred = null) {
    this.countries = countries;
    if (!countries.includes(this.country)) this.country = countries.includes(preferred) ? preferred : (countries[0] ?? null);
  }

  /** Another country: its methods are to be loaded; a method is kept only if offered there too (see setMethods). */
  chooseCountry(country) {
    if (country !== this.country) this.methods = null;
    this.country = country;
  }

  setMethods(country, methods) {
    if (country !== this.country) return false; // an answer for a country no longer chosen
    this.methods = methods;
    if (!this.offers(this.method)) this.method = null;
    return true;
  }

  offers(methodId) {
    return Boolean(methodId) && (this.methods ?? []).some((method) => method.id === methodId);
  }

  /** The cart's delivery (restored, or as the API saved it): its country and method become the choice. */
  follow(delivery) {
    if (!delivery) return;
    this.chooseCountry(delivery.address?.country ?? this.country);
    this.method = delivery.method?.id ?? this.method;
  }
}

export class ShopState {
  products = [];
  /** The category filter; "" shows every product. */
  category = "";
  /** The open cart as the API last returned it, or null before the first add. */
  cart = null;
  currency = null;
  /** product_id → {product_id, requested, available} from a checkout's 409 OUT_OF_STOCK. */
  shortages = new Map();
  /** {from, to} totals after a checkout's 409 PRICE_CHANGED, until the cart is edited or ordered. */
  priceChange = null;
  /** True while an order is being placed: cart edits wait for it. */
  checkingOut = false;
  /** The open payment step of a card order (a PaymentState), or null. */
  payment = null;
  /** The delivery step: what the shop ships where, and what the shopper has chosen (DeliveryChoice). */
  delivery = new DeliveryChoice();
  /** The order page on screen: {orderId, order (the API's, or null while loading), token (or null)}; null for the shop. */
  orderPage = null;

  setProducts(products) {
    this.products = products;
    this.currency = products[0]?.currency ?? this.currency;
    if (!this.categories().includes(this.category)) this.category = "";
  }

  /** A new cart (null: none yet); shortages it no longer has are forgotten. */
  setCart(cart) {
    this.cart = cart;
    if (cart) this.currency = cart.currency;
    for (const [productId, shortage] of this.shortages) {
      if (this.quantityInCart(productId) <= shortage.available) this.shortages.delete(productId);
    }
  }

  setShortages(items) {
    this.shortages = new Map(items.map((item) => [item.product_id, item]));
  }

  categories() {
    return [...new Set(this.products.map((p) => p.category))].sort();
  }

  shownProducts() {
    return this.products.filter((p) => !this.category || p.category === this.category);
  }

  product(productId) {
    return this.products.find((p) => p.product_id === productId);
  }

  quantityInCart(productId) {
    return this.cart?.items.find((line) => line.product_id === productId)?.quantity ?? 0;
  }

  cartIsEmpty() {
    return !this.cart?.items.length;
  }

  productName(productId) {
    return (
      this.product(productId)?.name ??
      this.cart?.items.find((line) => line.product_id === productId)?.name ??
      productId
    );
  }
}

/** When the hold of `order` lapses on this device's clock: its length as the API measured it, counted from `now`. */
export function holdDeadline(order, now = Date.now()) {
  return now + (Date.parse(order.hold_expires_at) - Date.parse(order.created_at));
}

/**
 * One payment step: the card order awaiting payment and what the page knows between presses. The
 * order token is kept here, in memory only: it is the shopper's key to this one order.
 */
export class PaymentState {
  /** Stripe.js's Stripe object and card Element of this step, once loaded (null before). */
  stripe = null;
  card = null;
  /** Settles true once the card field is mounted, false when Stripe.js could not be loaded. */
  cardReady = null;
  /** The id of the card attempt whose SetupIntent was asked for but not answered; null otherwise. */
  attempt = null;
  /** The PaymentMethod (pm_…) the card became; kept so that a retry after no answer pays with the same one. */
  paymentMethod = null;
  /** A payment or cancel is under way. */
  busy = false;
  /** The order can no longer be paid (its hold lapsed, or it was cancelled). */
  ended = false;
  /** The shopper was told that one minute is left. */
  warned = false;

  /**
   * @param {number|null} deadline when the hold lapses on this device's clock: kept from the checkout
   *   when the step is resumed after a reload; null for a step opened by the checkout's answer.
   */
  constructor(order, token, upsell, deadline = null) {
    this.order = order;
    this.token = token;
    this.upsell = upsell;
    // The hold's length as the API measured it, counted from now on this device: a device clock that
    // is wrong by minutes neither hides Pay nor promises more time (the API's 409 has the last word).
    this.deadline = deadline ?? holdDeadline(order);
  }

  secondsLeft(now = Date.now()) {
    return (this.deadline - now) / 1000;
  }

  /** The current card attempt's id, a new one (for a new SetupIntent) when none is pending. */
  cardAttempt() {
    this.attempt ??= randomId();
    return this.attempt;
  }
}

/** 32 hex digits: an attempt id as the API takes them (8 to 64 of [A-Za-z0-9_-]). */
function randomId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
