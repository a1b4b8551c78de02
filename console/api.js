// The admin API of one tenant, with the operator's key: JSON in and out. Every failure becomes an
// AdminApiError carrying the HTTP status, the envelope's code and the API's own message, which the
// console shows as they are (an operator wants "409 ORDER_NOT_CANCELLABLE: …", not a paraphrase).

const TIMEOUT_MS = 15000;

export class AdminApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when no answer arrived
   * @param {string} code the envelope's code, or NETWORK / TIMEOUT / HTTP_<status> / BAD_RESPONSE
   * @param {string} message the API's message, if any
   * @param {object} details the envelope's details
   */
  constructor(status, code, message = "", details = {}) {
    super(message || code);
    this.name = "AdminApiError";
    this.status = status;
    this.code = code;
    this.apiMessage = message;
    this.details = details && typeof details === "object" ? details : {};
  }

  /** 401 or 403: the key is not (or no longer) an admin key of this shop. */
  get keyRefused() {
    return this.status === 401 || this.status === 403;
  }

  /** No answer, a 5xx or a 429: the request may or may not have been applied. */
  get uncertain() {
    return this.status === 0 || this.status >= 500 || this.status === 429;
  }
}

/** The API's answer about an error, for the operator: "409 ORDER_NOT_CANCELLABLE: Order is paid …". */
export function describeError(error) {
  if (!(error instanceof AdminApiError)) {
    console.error(error);
    return "Something went wrong in this page. Reload it and try again.";
  }
  if (error.status === 0) {
    return error.code === "TIMEOUT" ? "The API did not answer in time." : "Could not reach the API.";
  }
  const fields = Array.isArray(error.details.fields)
    ? error.details.fields.map((field) => ` ${String(field.field ?? "").replace(/^body\./, "")}: ${field.message}`)
    : [];
  const message = error.apiMessage ? `: ${error.apiMessage}` : "";
  return `${error.status} ${error.code}${message}${fields.join(";")}`;
}

/**
 * The admin routes of `tenantId` with `key` sent as X-Api-Key on every request (never in the URL).
 * Each method answers the API's JSON, or throws an AdminApiError.
 */
export function createAdminApi(baseUrl, tenantId, key) {
  const root = `${baseUrl.replace(/\/+$/, "")}/tenants/${encodeURIComponent(tenantId)}`;
  const order = (orderId) => `/orders/${encodeURIComponent(orderId)}`;
  const product = (productId) => `/products/${encodeURIComponent(productId)}`;
  const call = (method, path, body, headers = {}) => request(method, root + path, body, { "X-Api-Key": key, ...headers });
  const query = (params) => {
    const kept = Object.entries(params).filter(([, value]) => value !== null && value !== undefined && value !== "");
    return new URLSearchParams(kept.map(([name, value]) => [name, String(value)])).toString();
  };

  return {
    /** One page of orders, newest first: {items, next_cursor}. */
    listOrders: ({ limit, status = null, cursor = null }) => call("GET", `/orders?${query({ limit, status, cursor })}`),
    getOrder: (orderId) => call("GET", order(orderId)),
    ship: (orderId, shipment) => call("POST", `${order(orderId)}/shipment`, shipment),
    markDelivered: (orderId) => call("POST", `${order(orderId)}/delivered`),
    cancel: (orderId) => call("POST", `${order(orderId)}/cancel`),
    /** restock: true or false for a shipped or delivered order; null leaves it to the API (a paid order's units come back). */
    refund: (orderId, restock = null) => call("POST", `${order(orderId)}/refund`, restock === null ? {} : { restock }),
    /** One page of the inventory: {items, next_cursor, low_stock_threshold}. */
    listInventory: ({ limit, cursor = null }) => call("GET", `/inventory?${query({ limit, cursor })}`),
    /** Replace a product's catalogue fields (never its stock). */
    updateProduct: (productId, fields) => call("PUT", product(productId), fields),
    /** Add `delta` to the stock, once per `idempotencyKey`. */
    adjustStock: (productId, delta, idempotencyKey) =>
      call("POST", `${product(productId)}/stock`, { delta }, { "Idempotency-Key": idempotencyKey }),
    getUpsellSettings: () => call("GET", "/upsell/settings"),
    putUpsellSettings: (settings) => call("PUT", "/upsell/settings", settings),
    getUpsellStats: (days) => call("GET", `/upsell/stats?${query({ days })}`),
  };
}

async function request(method, url, body, headers) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  const init = { method, headers: { Accept: "application/json", ...headers }, signal: abort.signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  let text;
  try {
    response = await fetch(url, init);
    text = await response.text();
  } catch {
    throw new AdminApiError(0, abort.signal.aborted ? "TIMEOUT" : "NETWORK");
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: judged below.
  }
  if (!response.ok) {
    const envelope = data?.error;
    if (envelope && typeof envelope.code === "string") {
      throw new AdminApiError(response.status, envelope.code, String(envelope.message ?? ""), envelope.details);
    }
    throw new AdminApiError(response.status, `HTTP_${response.status}`);
  }
  if (data === null || typeof data !== "object") throw new AdminApiError(response.status, "BAD_RESPONSE");
  return data;
}
