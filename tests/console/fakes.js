// Test doubles for the console's controller (the storefront's style, tests/storefront/fakes.js): a
// view that records what it is asked to show and lets a test press its buttons, an admin API whose
// answers each test scripts, and a window whose sessionStorage is in memory and whose localStorage
// fails the test if anything touches it. Fixtures follow the API's shapes (docs/openapi.yaml).

import { AdminApiError } from "../../console/api.js";
import { View } from "../../console/view.js";
import { FakeApi, MemoryStorage, RecordingView as StorefrontRecordingView } from "../storefront/fakes.js";

export { deferred, settle } from "../storefront/fakes.js";

/** The console's View, recorded as the storefront's tests record theirs (trigger, argsOf, lastArgs, …). */
export class RecordingView extends StorefrontRecordingView {
  constructor() {
    super(View);
  }
}

const API_METHODS = [
  "listOrders",
  "getOrder",
  "ship",
  "markDelivered",
  "cancel",
  "refund",
  "listInventory",
  "updateProduct",
  "adjustStock",
  "getUpsellSettings",
  "putUpsellSettings",
  "getUpsellStats",
];

/**
 * createAdminApi()'s methods with scripted answers (the storefront's FakeApi: answer(method, ...results),
 * requestsOf(method), requestNames(); an unscripted call fails the test). `keys` holds every key
 * the controller made an API for.
 */
export class FakeAdminApi extends FakeApi {
  keys = [];

  constructor() {
    super(API_METHODS);
  }

  /** makeApi for the controller: this same fake, whatever the key (recorded). */
  factory() {
    return (key) => {
      this.keys.push(key);
      return this;
    };
  }
}

export function refusal(status, code, message = "", details = {}) {
  return new AdminApiError(status, code, message, details);
}

export const networkError = () => new AdminApiError(0, "NETWORK");

/** A `window` with an in-memory sessionStorage; any use of localStorage throws (and so fails the test). */
export function installWindow() {
  const sessionStorage = new MemoryStorage();
  globalThis.window = {
    sessionStorage,
    get localStorage() {
      throw new Error("the console touched localStorage");
    },
  };
  return sessionStorage;
}

// ---- fixtures -------------------------------------------------------------------------------------------

export const KEY = "cw_acme_local-demo-admin-key-never-use-in-production";
export const ORDER_ID = "01HZX3M2B7C8D9EFGHJKMNPQRS";

const LINES = [
  { product_id: "tent-2p", name: "Tent 2P", unit_price: "129.00", quantity: 1, line_total: "129.00", source: null },
  { product_id: "headlamp", name: "Headlamp", unit_price: "24.99", quantity: 2, line_total: "49.98", source: "upsell" },
];

/** An order as the admin sees it (full shape): a paid card order unless `extra` says otherwise. */
export function order(extra = {}) {
  return {
    order_id: ORDER_ID,
    cart_id: "01HZX3K9Q8V7T6S5R4P3N2M1KJ",
    status: "paid",
    items: LINES,
    promo_code: null,
    totals: { subtotal: "178.98", discount: "0.00", net: "178.98", shipping: "0.00", vat_rate: "0.20", vat: "35.80", total: "214.78" },
    currency: "EUR",
    payment: { provider: "stripe", status: "succeeded", publishable_key: "pk_test_x" },
    created_at: "2024-06-01T10:15:00.000Z",
    email: "ada@example.com",
    delivery: {
      email: "ada@example.com",
      address: { name: "Ada Lovelace", line1: "Unter den Linden 1", line2: null, city: "Berlin", postal_code: "10117", country: "DE", phone: null },
      method: { id: "standard", name: "Standard", price: "4.90", days: { min: 2, max: 4 } },
    },
    fulfilment: null,
    timeline: [
      { event: "created", at: "2024-06-01T10:15:00.000Z" },
      { event: "paid", at: "2024-06-01T10:16:00.000Z" },
    ],
    ...extra,
  };
}

/** The public shape (what cancel answers): no e-mail, delivery, fulfilment or timeline. */
export function publicOrder(extra = {}) {
  const shape = order(extra);
  for (const privateField of ["email", "delivery", "fulfilment", "timeline"]) delete shape[privateField];
  return shape;
}

export function orderPage(count, nextCursor = null, status = "paid") {
  return {
    items: Array.from({ length: count }, (_, index) => order({ order_id: `01HZX3M2B7C8D9EFGHJKMNP${String(index).padStart(3, "0")}`, status })),
    next_cursor: nextCursor,
  };
}

export function item(productId, stock, extra = {}) {
  return {
    product_id: productId,
    name: productId.replace(/-/g, " "),
    description: `About ${productId}.`,
    category: "camping",
    price: "44.45",
    stock,
    reserved: 1,
    sold: 7,
    low_stock: stock <= 5,
    tags: ["outdoor"],
    complements: ["headlamp"],
    ...extra,
  };
}

export const INVENTORY = {
  items: [item("sleeping-pad", 3), item("tent-2p", 10, { price: "129.00" })],
  next_cursor: null,
  low_stock_threshold: 5,
};

/** What POST …/stock and PUT …/products answer: the Product shape (no reserved, sold). */
export function product(productId, stock, extra = {}) {
  const shape = { ...item(productId, stock, extra), currency: "EUR" };
  for (const counter of ["reserved", "sold", "low_stock", "complements"]) delete shape[counter];
  return shape;
}

// The up-sell routes' shapes: GET/PUT …/upsell/settings and GET …/upsell/stats?days=30.
export const SETTINGS = { enabled: true, holdout_percent: 10 };

function day(date, shown, holdout, added, ordersTreated, ordersHoldout, revenueTreated, revenueHoldout, upsell) {
  return {
    date,
    carts_shown: shown,
    carts_holdout: holdout,
    suggestions_added: added,
    orders_treated: ordersTreated,
    orders_holdout: ordersHoldout,
    revenue_treated: revenueTreated,
    revenue_holdout: revenueHoldout,
    upsell_revenue: upsell,
  };
}

export const STATS = {
  currency: "EUR",
  days: [
    day("2024-06-01", 40, 4, 6, 8, 1, "800.00", "70.00", "120.50"),
    day("2024-06-02", 10, 1, 0, 0, 0, "0.00", "0.00", "0.00"),
    day("2024-06-03", 20, 2, 3, 3, 1, "330.00", "95.00", "60.25"),
  ],
  totals: {
    carts_shown: 70,
    carts_holdout: 7,
    suggestions_added: 9,
    orders_treated: 11,
    orders_holdout: 2,
    revenue_treated: "1130.00",
    revenue_holdout: "165.00",
    upsell_revenue: "180.75",
    aov_treated: "102.73",
    aov_holdout: "82.50",
    conversion_treated: "0.1571",
    conversion_holdout: "0.2857",
  },
};
