// The operator's admin key, per tenant, in sessionStorage only: it lasts as long as the browser tab,
// is never written to localStorage, never put in an address and never logged. Signing out forgets it.
// Storage may be unavailable (private modes): the console then asks for the key on every load.

const keyName = (tenantId) => `cartwise-console:${tenantId}:admin-key`;

export function savedKey(tenantId) {
  try {
    const key = window.sessionStorage.getItem(keyName(tenantId));
    return key && key.trim() !== "" ? key : null;
  } catch {
    return null;
  }
}

export function rememberKey(tenantId, key) {
  try {
    window.sessionStorage.setItem(keyName(tenantId), key);
  } catch {
    // Nothing to do: the key lives in this page's memory until it is reloaded.
  }
}

export function forgetKey(tenantId) {
  try {
    window.sessionStorage.removeItem(keyName(tenantId));
  } catch {
    // Nothing stored, nothing to forget.
  }
}

