// What the page remembers per tenant in localStorage: the open cart's id and, while a checkout
// has not been answered, the Idempotency-Key it was sent with (so a retry, even after a reload,
// cannot order twice). Storage may be unavailable (private modes); the page then simply forgets.

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

export function savedCartId(tenantId) {
  return read(cartKey(tenantId));
}

export function rememberCart(tenantId, cartId) {
  write(cartKey(tenantId), cartId);
}

export function forgetCart(tenantId) {
  write(cartKey(tenantId), null);
}

/** The key of an unanswered checkout of this cart, or null. */
export function pendingCheckoutKey(tenantId, cartId) {
  try {
    const pending = JSON.parse(read(checkoutKey(tenantId)) ?? "null");
    return pending && pending.cartId === cartId && typeof pending.key === "string" ? pending.key : null;
  } catch {
    return null;
  }
}

/** The key for checking out this cart: the pending one, or a new one remembered until answered. */
export function checkoutKeyFor(tenantId, cartId) {
  const pending = pendingCheckoutKey(tenantId, cartId);
  if (pending) return pending;
  const key = randomUuid();
  write(checkoutKey(tenantId), JSON.stringify({ cartId, key }));
  return key;
}

export function forgetCheckoutKey(tenantId) {
  write(checkoutKey(tenantId), null);
}

/** A random UUID v4; crypto.randomUUID needs a secure context, which an S3 website is not. */
function randomUuid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
