// The operator's console, wired together: the tenant in the URL, the admin API for the key the
// operator signs in with, the view (the only module that touches the DOM) and the controller.

import { createAdminApi } from "./api.js";
import { Controller } from "./controller.js";
import { apiBaseUrl, tenantFromUrl } from "./settings.js";
import { View } from "./view.js";

const tenant = tenantFromUrl(window.location.href);
const view = new View();
if (window.isSecureContext) {
  const baseUrl = await apiBaseUrl();
  const makeApi = (key) => createAdminApi(baseUrl, tenant, key);
  new Controller({ view, tenant, makeApi }).start(window.location.hash);
} else {
  // An admin key must not cross the network in clear: HTTPS (or this machine's own address) only.
  view.showInsecure();
}
