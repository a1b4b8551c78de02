// Where the console gets its settings: the shop from the URL (?tenant=), the API's URL from config.js
// (written beside it when the storefront and console are published), the screen from the address's #….
//
// The admin key is never part of any address: it lives in sessionStorage (session.js) only.

export const DEFAULT_API_BASE_URL = "http://127.0.0.1:8000";
export const DEFAULT_TENANT = "acme";
export const SCREENS = Object.freeze(["orders", "inventory", "upsell"]);

let config = null;

/** The API's base URL from config.js, or `make run`'s API when there is none. */
export async function apiBaseUrl() {
  config ??= import("./config.js").catch(() => ({}));
  const value = (await config).API_BASE_URL;
  return typeof value === "string" && value.trim() !== "" ? value.trim() : DEFAULT_API_BASE_URL;
}

/** The tenant chosen by `?tenant=`; the first demo tenant when none is given. */
export function tenantFromUrl(href) {
  const requested = new URL(href).searchParams.get("tenant");
  return requested && requested.trim() !== "" ? requested.trim() : DEFAULT_TENANT;
}

const ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The screen the address names: "#inventory", "#upsell", "#order={id}" (one order) or anything else
 * (the orders) → {screen, orderId?}.
 */
export function routeOf(hash) {
  const fragment = String(hash ?? "").replace(/^#/, "");
  const params = new URLSearchParams(fragment);
  const orderId = params.get("order");
  if (orderId && ORDER_ID.test(orderId)) return { screen: "order", orderId };
  return { screen: SCREENS.includes(fragment) ? fragment : "orders" };
}

/** The address (#…) of a route. */
export function hashOf(route) {
  return route.screen === "order" ? `#order=${encodeURIComponent(route.orderId)}` : `#${route.screen}`;
}
