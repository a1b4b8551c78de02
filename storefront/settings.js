// Where the page gets its settings: the shop from the URL, the API base URL from config.js.
//
// config.js is written at deploy/run time by `scripts/provision.py --api-url ...` and is not in
// git; without it (opening the files straight from a checkout) the page talks to `make run`'s API.

export const DEFAULT_API_BASE_URL = "http://127.0.0.1:8000";

// The demo tenants seeded from data/tenants; the API has no public list of shops.
export const DEMO_TENANTS = Object.freeze([
  Object.freeze({ id: "acme", name: "Acme Outdoor" }),
  Object.freeze({ id: "globex", name: "Globex Home Office" }),
]);

export async function apiBaseUrl() {
  try {
    const config = await import("./config.js");
    if (typeof config.API_BASE_URL === "string" && config.API_BASE_URL.trim() !== "") {
      return config.API_BASE_URL.trim();
    }
  } catch {
    // No config.js next to the page: fall back to the local default below.
  }
  return DEFAULT_API_BASE_URL;
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
