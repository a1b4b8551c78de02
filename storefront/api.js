// The Cartwise API for one tenant: JSON in and out. Every failure becomes an ApiError, and
// errorMessage() turns any of them into a sentence for the shopper (never the raw answer).

const TIMEOUT_MS = 15000;
const PAGE_SIZE = 100;
const MAX_PAGES = 50;

export class ApiError extends Error {
  /**
   * @param {object} init
   * @param {number} init.status HTTP status, 0 when no answer arrived
   * @param {string} init.code the envelope's error code, or NETWORK / TIMEOUT / HTTP_<status> / BAD_RESPONSE
   * @param {string} [init.message] the API's own message (shown only for codes this page does not know)
   * @param {object} [init.details] the envelope's details
   */
  constructor({ status, code, message = "", details = {} }) {
    super(message || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.apiMessage = message;
    this.details = details && typeof details === "object" ? details : {};
  }

  /** True when no answer arrived: the request may or may not have reached the API. */
  get network() {
    return this.status === 0;
  }

  /**
   * No answer, a 5xx or 429 (throttled before reaching the shop): this request may or may not
   * have been applied, or an earlier unanswered send of it may have been; retry to find out.
   */
  get retryable() {
    return this.network || this.status >= 500 || this.status === 429;
  }

  /**
   * The shop answered 4xx about this very request: it refused it and changed nothing (a key's
   * own earlier order would have been answered instead). 429 is not such an answer.
   */
  get refused() {
    return this.status >= 400 && this.status < 500 && this.status !== 429;
  }
}

/** Whether `error` is the API's answer with this envelope code, e.g. isApiError(error, "OUT_OF_STOCK"). */
export function isApiError(error, code) {
  return error instanceof ApiError && error.code === code;
}

export function createApi(baseUrl, tenantId) {
  const root = `${baseUrl.replace(/\/+$/, "")}/tenants/${encodeURIComponent(tenantId)}`;
  const cart = (cartId) => `/carts/${encodeURIComponent(cartId)}`;
  const order = (orderId) => `/orders/${encodeURIComponent(orderId)}`;

  const request = (method, path, options) => send(method, root + path, options);

  return {
    /** Every product of the tenant, following next_cursor. */
    async listProducts() {
      const items = [];
      let cursor = null;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
        if (cursor) query.set("cursor", cursor);
        const answer = await request("GET", `/products?${query}`);
        items.push(...answer.items);
        cursor = answer.next_cursor;
        if (!cursor) break;
      }
      return items;
    },
    createCart: () => request("POST", "/carts", { body: {} }),
    getCart: (cartId) => request("GET", cart(cartId)),
    /** A line's quantity; `upsellSetId` (the up-sell answer's set_id) when the product was added from a suggestion. */
    setQuantity: (cartId, productId, quantity, upsellSetId = null) =>
      request("PUT", `${cart(cartId)}/items/${encodeURIComponent(productId)}`, {
        body: upsellSetId ? { quantity, upsell_set_id: upsellSetId } : { quantity },
      }),
    applyPromo: (cartId, code) => request("PUT", `${cart(cartId)}/promo`, { body: { code } }),
    removePromo: (cartId) => request("DELETE", `${cart(cartId)}/promo`),
    getUpsell: (cartId) => request("GET", `${cart(cartId)}/upsell`),
    /** The order: its public shape, or with its token also e-mail, delivery, fulfilment and timeline. */
    getOrder: (orderId, orderToken = null) =>
      request("GET", order(orderId), { headers: orderToken ? { "X-Order-Token": orderToken } : {} }),
    /** {countries, items}: the shop's countries and its shipping methods (only those offered in `country`, if given). */
    listShippingMethods: (country = null) =>
      request("GET", country ? `/shipping-methods?${new URLSearchParams({ country })}` : "/shipping-methods"),
    /** Contact, address and shipping method of the cart: {email, address: {...}, method} → the cart, priced. */
    setDelivery: (cartId, delivery) => request("PUT", `${cart(cartId)}/delivery`, { body: delivery }),
    /** Cancel an order with the shopper's order token (from the checkout's answer). */
    cancelOrder: (orderId, orderToken) =>
      request("POST", `${order(orderId)}/cancel`, { headers: { "X-Order-Token": orderToken } }),
    /** A SetupIntent for one card attempt: the same `attempt` id gets the same one back. */
    startCardSetup: (orderId, orderToken, attempt) =>
      request("POST", `${order(orderId)}/payment/setup`, {
        body: { attempt },
        headers: { "X-Order-Token": orderToken },
      }),
    /** Pay the order with the PaymentMethod Stripe.js made: {order, payment: {status, client_secret?}}. */
    pay: (orderId, orderToken, paymentMethod) =>
      request("POST", `${order(orderId)}/payment`, {
        body: { payment_method: paymentMethod },
        headers: { "X-Order-Token": orderToken },
      }),
    /** Place the order at the total the shopper saw: the API refuses it (PRICE_CHANGED) if that total is stale. */
    checkout: (cartId, { key, expectedTotal }) =>
      request("POST", `${cart(cartId)}/checkout`, {
        body: { expected_total: expectedTotal },
        headers: { "Idempotency-Key": key },
      }),
  };
}

async function send(method, url, { body, headers = {} } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  let response;
  let text;
  try {
    const init = { method, headers: { Accept: "application/json", ...headers }, signal: controller.signal };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    response = await fetch(url, init);
    text = await response.text();
  } catch {
    throw new ApiError({ status: 0, code: controller.signal.aborted ? "TIMEOUT" : "NETWORK" });
  } finally {
    clearTimeout(timer);
  }
  let data;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const envelope = data && typeof data === "object" ? data.error : null;
    if (envelope && typeof envelope.code === "string") {
      throw new ApiError({
        status: response.status,
        code: envelope.code,
        message: typeof envelope.message === "string" ? envelope.message : "",
        details: envelope.details,
      });
    }
    throw new ApiError({ status: response.status, code: `HTTP_${response.status}` });
  }
  if (data === null || typeof data !== "object") {
    throw new ApiError({ status: response.status, code: "BAD_RESPONSE" });
  }
  return data;
}

const MESSAGES = {
  NETWORK: "Could not reach the shop. Check your internet connection and try again.",
  TIMEOUT: "The shop did not answer in time. Check your internet connection and try again.",
  BAD_RESPONSE: "The shop sent an answer this page cannot read. Please try again.",
  BAD_REQUEST: "The shop could not accept that request.",
  UNAUTHORIZED: "This action needs you to sign in.",
  FORBIDDEN: "This action is not allowed.",
  TENANT_NOT_FOUND: "This shop does not exist. Choose one of the shops above.",
  NOT_FOUND: "That item could not be found; it may have been removed from the shop.",
  OUT_OF_STOCK: "There is not enough stock for some items.",
  CART_CLOSED: "This cart has already been checked out.",
  PRICE_CHANGED: "The total of your cart has changed. Check it and place the order again.",
  EMPTY_CART: "Your cart is empty. Add something before placing the order.",
  DELIVERY_REQUIRED: "Fill in where your order goes and choose a delivery method before placing the order.",
  INVALID_PROMO_CODE: "That promo code is not valid.",
  ORDER_NOT_PAYABLE: "This order can no longer be paid.",
  ORDER_NOT_CANCELLABLE: "This order can no longer be cancelled.",
  // PAYMENT_FAILED has no sentence here: the API's message is Stripe's, written for the shopper
  // ("Your card was declined."), so errorMessage() shows it.
  IDEMPOTENCY_KEY_REUSED: "This order was already sent with different details. Please reload the page.",
  PAYLOAD_TOO_LARGE: "That request is too large.",
  RATE_LIMITED: "The shop is busy right now. Please try again in a moment.",
  UNAVAILABLE: "The shop is busy right now. Please try again in a moment.",
  INTERNAL: "Something went wrong on the shop's side. Please try again.",
};

/** A sentence for the shopper about any error thrown while talking to the API. */
export function errorMessage(error) {
  if (!(error instanceof ApiError)) {
    console.error(error);
    return "Something went wrong in this page. Please reload and try again.";
  }
  if (MESSAGES[error.code]) return MESSAGES[error.code];
  if (error.apiMessage) return error.apiMessage;
  if (error.status >= 500) return MESSAGES.INTERNAL;
  return `The shop refused this request (HTTP ${error.status}).`;
}
