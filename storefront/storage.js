// What the page remembers per tenant in localStorage: the open cart's id; while a checkout has not
// been answered, the Idempotency-Key and total it was sent with (so a retry, even after a reload,
// sends the same request and cannot order twice); and each order's token (the shopper's key to that
// one order, so its page survives a reload), with the hold's deadline on this device for a card order. Storage may be unavailable (private modes); the page then simply forgets.

const PREFIX = "cartwise";

function read(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch {
    // Nothing to do: the cart lives for this page view only.
  }
}

const cartKey = (tenantId) => `${PREFIX}:${tenantId}:cart`;
const checkoutKey = (tenantId) => `${PREFIX}:${tenantId}:checkout`;
const orderKey = (tenantId, orderId) => `${PREFIX}:${tenantId}:order:${orderId}`;

export function savedCartId(tenantId) {
  return read(cartKey(tenantId));
}

export function rememberCart(tenantId, cartId) {
  write(cartKey(tenantId), cartId);
}

export function forgetCart(tenantId) {
  write(cartKey(tenantId), null);
}

/**
 * The unanswered checkout of this cart, `{key, expectedTotal}`, or null. Its retry must send the
 * same key and the same body, or the API refuses it (IDEMPOTENCY_KEY_REUSED).
 */
export function pendingCheckout(tenantId, cartId) {
  try {
    const pending = JSON.parse(read(checkoutKey(tenantId)) ?? "null");
    if (pending?.cartId !== cartId || typeof pending.key !== "string" || typeof pending.expectedTotal !== "string") {
      return null;
    }
    return { key: pending.key, expectedTotal: pending.expectedTotal };
  } catch {
    return null;
  }
}

/**
 * One checkout attempt: this cart at the total the shopper sees. The pending attempt when it is
 * the same one (a retry), otherwise a new key, remembered until an answer arrives.
 */
export function checkoutAttempt(tenantId, cartId, expectedTotal) {
  const pending = pendingCheckout(tenantId, cartId);
  if (pending?.expectedTotal === expectedTotal) return pending;
  const attempt = { key: randomUuid(), expectedTotal };
  write(checkoutKey(tenantId), JSON.stringify({ cartId, ...attempt }));
  return attempt;
}

export function forgetCheckout(tenantId) {
  write(checkoutKey(tenantId), null);
}

/**
 * What the page keeps of an order: `{token, holdDeadline}` (holdDeadline: when the hold of a card
 * order lapses, in this device's milliseconds, or null), or null when it holds no token for it.
 */
export function savedOrder(tenantId, orderId) {
  try {
    const saved = JSON.parse(read(orderKey(tenantId, orderId)) ?? "null");
    if (typeof saved?.token !== "string" || saved.token === "") return null;
    return { token: saved.token, holdDeadline: Number.isFinite(saved.holdDeadline) ? saved.holdDeadline : null };
  } catch {
    return null;
  }
}

/** Keep an order's token (and, for a card order awaiting payment, its hold's deadline on this device). */
export function rememberOrder(tenantId, orderId, token, holdDeadline = null) {
  write(orderKey(tenantId, orderId), JSON.stringify({ token, holdDeadline }));
}

export function forgetOrder(tenantId, orderId) {
  write(orderKey(tenantId, orderId), null);
}

/** A random UUID v4; crypto.randomUUID needs a secure context, which an S3 website is not. */
function randomUuid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
