// Where the page gets its settings: the shop from the URL, the API's and Stripe.js's URLs from config.js.
//
// config.js is written at deploy/run time by `scripts/provision.py --api-url ...` and is not in
// git; without it (opening the files straight from a checkout) the page talks to `make run`'s API
// and loads `make run`'s Stripe.js (localstripe's fake, on its default port).

export const DEFAULT_API_BASE_URL = "http://127.0.0.1:8000";
export const DEFAULT_STRIPE_JS_URL = "http://127.0.0.1:8420/js.stripe.com/v3/";

// The demo tenants seeded from data/tenants; the API has no public list of shops.
export const DEMO_TENANTS = Object.freeze([
  Object.freeze({ id: "acme", name: "Acme Outdoor" }),
  Object.freeze({ id: "globex", name: "Globex Home Office" }),
]);

let config = null;

/** config.js's exports, read once; {} when there is none next to the page. */
function pageConfig() {
  config ??= import("./config.js").catch(() => ({}));
  return config;
}

/** A non-empty string setting of config.js, trimmed, or `fallback`. */
async function setting(name, fallback) {
  const value = (await pageConfig())[name];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : fallback;
}

export function apiBaseUrl() {
  return setting("API_BASE_URL", DEFAULT_API_BASE_URL);
}

/** Where the page loads Stripe.js from: Stripe's own in the cloud, localstripe's fake locally. */
export function stripeJsUrl() {
  return setting("STRIPE_JS_URL", DEFAULT_STRIPE_JS_URL);
}

/** The tenant chosen by `?tenant=`; the first demo tenant when none is given. */
export function tenantFromUrl(href = window.location.href) {
  const requested = new URL(href).searchParams.get("tenant");
  return requested && requested.trim() !== "" ? requested.trim() : DEMO_TENANTS[0].id;
}

export function tenantName(tenantId) {
  return DEMO_TENANTS.find((tenant) => tenant.id === tenantId)?.name ?? tenantId;
}

/** The page's URL for another tenant, keeping everything else. */
export function urlForTenant(tenantId, href = window.location.href) {
  const url = new URL(href);
  url.searchParams.set("tenant", tenantId);
  return url.toString();
}

const ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The order page the address names: `#order={id}` or `#order={id}&token={token}` (the link in an
 * order's e-mail) → {orderId, token|null}; null for any other address (the shop).
 */
export function orderRoute(hash) {
  const params = new URLSearchParams(String(hash ?? "").replace(/^#/, ""));
  const orderId = params.get("order");
  if (!orderId || !ORDER_ID.test(orderId)) return null;
  const token = params.get("token");
  return { orderId, token: token && token.trim() !== "" ? token.trim() : null };
}

/** The address of an order's page (its hash), without the token: "#order=01HZX…". */
export function orderHash(orderId) {
  return `#order=${encodeURIComponent(orderId)}`;
}
