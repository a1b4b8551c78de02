// The shop page, wired together: the API of the tenant in the URL, the page's state, the view
// (the only module that touches the DOM) and the controller that connects them.

import { createApi } from "./api.js";
import { Controller } from "./controller.js";
import { stripeLoader } from "./payment.js";
import { DEMO_TENANTS, apiBaseUrl, stripeJsUrl, tenantFromUrl, tenantName, urlForTenant } from "./settings.js";
import { ShopState } from "./state.js";
import { View } from "./view.js";

const tenant = tenantFromUrl();
const view = new View();
view.showShop(
  tenantName(tenant),
  DEMO_TENANTS.map((shop) => ({ name: shop.name, href: urlForTenant(shop.id), current: shop.id === tenant })),
);
const api = createApi(await apiBaseUrl(), tenant);
// Stripe.js is fetched only when a card order's payment step opens.
const loadStripe = stripeLoader(await stripeJsUrl(), (url) => view.loadScript(url));
new Controller({ api, view, state: new ShopState(), tenant, loadStripe }).start(window.location.hash);
