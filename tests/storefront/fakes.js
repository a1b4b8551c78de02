// Test doubles for the storefront's controllers, in the style of TodoMVC's ControllerSpec: a view
// that records what it is asked to show and lets a test press its buttons, an API whose answers
// each test scripts and which records the requests, an in-memory localStorage, and a Stripe.js.
// No DOM, no network: node:test runs these in plain Node.

import { ApiError } from "../../storefront/api.js";
import { View } from "../../storefront/view.js";

/** Every method of a real view class: the stub has exactly these, so a call the view lacks fails. */
const methodsOf = (viewClass) => Object.getOwnPropertyNames(viewClass.prototype).filter((name) => name !== "constructor");

/**
 * A view that records each call as {method, args}. bind…(handler) keeps the handler so that
 * trigger("checkout") presses the button (bindPayment's three are "pay", "cancelPayment" and
 * "backToCart"); the handler's promise is returned, to be awaited.
 */
export class RecordingView {
  calls = [];
  handlers = {};

  /** `viewClass`: the view whose methods are recorded (the console's tests pass theirs). */
  constructor(viewClass = View) {
    for (const method of methodsOf(viewClass)) {
      this[method] = (...args) => {
        this.calls.push({ method, args });
        if (method === "bindPayment") {
          const { pay, cancel, backToCart } = args[0];
          Object.assign(this.handlers, { pay, cancelPayment: cancel, backToCart });
        } else if (method.startsWith("bind")) {
          const event = method.slice(4, 5).toLowerCase() + method.slice(5);
          this.handlers[event] = args[0];
        } else if (method === "loadScript") {
          return Promise.resolve();
        }
        return undefined;
      };
    }
  }

  trigger(event, ...args) {
    const handler = this.handlers[event];
    if (!handler) throw new Error(`nothing is bound to ${event}`);
    return handler(...args);
  }

  /** The show…/hide…/announce… calls (bind… calls left out), as [method, ...args]. */
  shown() {
    return this.calls.filter((call) => !call.method.startsWith("bind")).map((call) => [call.method, ...call.args]);
  }

  /** The method names of the show… calls, in order. */
  shownMethods() {
    return this.shown().map(([method]) => method);
  }

  /** The argument lists of every call to `method`. */
  argsOf(method) {
    return this.calls.filter((call) => call.method === method).map((call) => call.args);
  }

  lastArgs(method) {
    const all = this.argsOf(method);
    if (all.length === 0) throw new Error(`the view was never asked to ${method}`);
    return all.at(-1);
  }

  /** Forget the calls so far (the bindings stay). */
  clear() {
    this.calls = [];
  }
}

const API_METHODS = [
  "listProducts",
  "createCart",
  "getCart",
  "setQuantity",
  "applyPromo",
  "removePromo",
  "getUpsell",
  "getOrder",
  "listShippingMethods",
  "setDelivery",
  "cancelOrder",
  "startCardSetup",
  "pay",
  "checkout",
];

/**
 * The API of createApi(), with scripted answers. answer(method, ...results) queues results for
 * that method, used one per call: a value is returned, an Error thrown, a function called with the
 * request's arguments (it may return a promise the test settles later). always(method, result) answers every call. A call with nothing scripted
 * fails the test. requests holds [method, ...args] of every call.
 */
export class FakeApi {
  requests = [];
  queues = new Map();
  defaults = new Map();

  /** `methods`: the API's method names (the console's admin API passes its own). */
  constructor(methods = API_METHODS) {
    for (const method of methods) {
      this[method] = async (...args) => {
        this.requests.push([method, ...args]);
        const queue = this.queues.get(method) ?? [];
        let result;
        if (queue.length > 0) result = queue.shift();
        else if (this.defaults.has(method)) result = this.defaults.get(method);
        else throw new Error(`unscripted API call: ${method}(${args.map((arg) => JSON.stringify(arg)).join(", ")})`);
        if (typeof result === "function") result = await result(...args);
        if (result instanceof Error) throw result;
        return structuredClone(result);
      };
    }
  }

  answer(method, ...results) {
    this.queues.set(method, [...(this.queues.get(method) ?? []), ...results]);
    return this;
  }

  always(method, result) {
    this.defaults.set(method, result);
    return this;
  }

  requestsOf(method) {
    return this.requests.filter(([name]) => name === method).map(([, ...args]) => args);
  }

  requestNames() {
    return this.requests.map(([method]) => method);
  }
}

// The errors api.js makes of the API's answers (tests/storefront/api.test.js checks that mapping).

/** A 4xx with the envelope {"error": {code, message, details}}. */
export function refusal(status, code, message = "", details = {}) {
  return new ApiError({ status, code, message, details });
}

/** 409 with the envelope, e.g. conflict("OUT_OF_STOCK", {items: [...]}). */
export function conflict(code, details = {}, message = "") {
  return refusal(409, code, message, details);
}

/** 503 UNAVAILABLE, as the API answers it with Retry-After: 1. */
export function unavailable() {
  return new ApiError({ status: 503, code: "UNAVAILABLE", message: "Service temporarily unavailable, retry later." });
}

/** No answer at all (fetch rejected). */
export function networkError() {
  return new ApiError({ status: 0, code: "NETWORK" });
}

/** An in-memory Storage (localStorage's interface). */
export class MemoryStorage {
  items = new Map();

  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }

  setItem(key, value) {
    this.items.set(key, String(value));
  }

  removeItem(key) {
    this.items.delete(key);
  }

  clear() {
    this.items.clear();
  }
}

/** Give the page's modules a `window` whose localStorage is `storage`; returns it. */
export function installStorage(storage = new MemoryStorage()) {
  globalThis.window = { localStorage: storage };
  return storage;
}

/**
 * Stripe.js's Stripe object for one publishable key: elements().create("card") gives a card Element
 * that records mount/destroy and keeps its "change" handler; confirmCardSetup and
 * confirmCardPayment answer from scripted queues (a function is called, an Error thrown).
 */
export class FakeStripe {
  calls = [];
  setupAnswers = [];
  paymentAnswers = [];

  constructor(publishableKey) {
    this.publishableKey = publishableKey;
    const stripe = this;
    this.card = {
      handlers: {},
      destroyed: false,
      on(event, handler) {
        this.handlers[event] = handler;
      },
      mount(target) {
        stripe.calls.push(["mount", target]);
      },
      destroy() {
        this.destroyed = true;
      },
    };
  }

  elements() {
    return {
      create: (type) => {
        this.calls.push(["create", type]);
        return this.card;
      },
    };
  }

  async confirmCardSetup(clientSecret, data) {
    this.calls.push(["confirmCardSetup", clientSecret, data]);
    return next(this.setupAnswers, "confirmCardSetup");
  }

  async confirmCardPayment(clientSecret) {
    this.calls.push(["confirmCardPayment", clientSecret]);
    return next(this.paymentAnswers, "confirmCardPayment");
  }

  callsOf(name) {
    return this.calls.filter(([call]) => call === name).map(([, ...args]) => args);
  }
}

function next(queue, name) {
  if (queue.length === 0) throw new Error(`unscripted Stripe.js call: ${name}`);
  const answer = queue.shift();
  const result = typeof answer === "function" ? answer() : answer;
  if (result instanceof Error) throw result;
  return result;
}

/** Let every answer already given (promises, fire-and-forget reloads) run its course. */
export function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A promise and its resolve/reject, for an answer that arrives when the test says so. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

// ---- fixtures, shaped as docs/openapi.yaml's examples ---------------------------------------------

export const TENT = {
  product_id: "tent-2p",
  name: "Tent 2P",
  description: "A two-person tent.",
  category: "camping",
  price: "129.00",
  currency: "EUR",
  stock: 7,
};
export const HEADLAMP = {
  product_id: "headlamp",
  name: "Headlamp",
  description: "300 lumens.",
  category: "lighting",
  price: "24.99",
  currency: "EUR",
  stock: 3,
};
export const STOVE = {
  product_id: "stove",
  name: "Camping stove",
  description: "Gas stove.",
  category: "camping",
  price: "39.90",
  currency: "EUR",
  stock: 0,
};
export const PRODUCTS = [TENT, HEADLAMP, STOVE];

export const CART_ID = "01HZX3K9Q8V7T6S5R4P3N2M1KJ";
export const ORDER_ID = "01HZX3M2B7C8D9EFGHJKMNPQRS";
export const ORDER_TOKEN = "3mZ0n1c7b9Wq5yHk2r8LxVtP4sDfGjAe6uNoBiQcK1E";

const line = (product, quantity, lineTotal) => ({
  product_id: product.product_id,
  name: product.name,
  unit_price: product.price,
  quantity,
  line_total: lineTotal,
});

export function cart(items = [], totals = {}, extra = {}) {
  return {
    cart_id: CART_ID,
    status: "open",
    items,
    promo_code: null,
    totals: { subtotal: "0.00", discount: "0.00", net: "0.00", vat_rate: "0.20", vat: "0.00", total: "0.00", ...totals },
    currency: "EUR",
    order_id: null,
    created_at: "2024-06-01T10:00:00Z",
    updated_at: "2024-06-01T10:05:00Z",
    ...extra,
  };
}

export const EMPTY_CART = cart();
/** One tent: totals as the API computes them (the page must show these, not recompute them). */
export const CART_TENT = cart([line(TENT, 1, "129.00")], {
  subtotal: "129.00",
  net: "129.00",
  vat: "25.80",
  total: "154.80",
});
export const CART_TWO_TENTS = cart([line(TENT, 2, "258.00")], {
  subtotal: "258.00",
  net: "258.00",
  vat: "51.60",
  total: "309.60",
});
/** tent + 2 headlamps with SUMMER10 (tests/conftest.py's figures). */
export const CART_SUMMER10 = cart(
  [line(TENT, 1, "129.00"), line(HEADLAMP, 2, "49.98")],
  { subtotal: "178.98", discount: "17.90", net: "161.08", vat: "32.22", total: "193.30" },
  { promo_code: "SUMMER10" },
);

export const UPSELL_SET_ID = "01HZX3K9Q8V7T6S5R4P3N2M1KJ-3f9a0c41d2e7b865";
export const UPSELL = {
  enabled: true,
  source: "fallback",
  set_id: UPSELL_SET_ID,
  suggestions: [{ product_id: "headlamp", name: "Headlamp", price: "24.99", reason: "Often bought with Tent 2P." }],
};
export const NO_UPSELL = { enabled: false, source: "off", suggestions: [] };

export function order(extra = {}) {
  return {
    order_id: ORDER_ID,
    cart_id: CART_ID,
    status: "confirmed",
    items: CART_SUMMER10.items,
    promo_code: "SUMMER10",
    totals: CART_SUMMER10.totals,
    currency: "EUR",
    created_at: "2024-06-01T10:15:00Z",
    ...extra,
  };
}

/** A card order awaiting payment: 15 minutes' hold. */
export function cardOrder(extra = {}) {
  return order({
    status: "pending_payment",
    hold_expires_at: "2024-06-01T10:30:00Z",
    payment: { provider: "stripe", status: "requires_payment", publishable_key: "pk_test_51AcmeDemo" },
    ...extra,
  });
}

// ---- delivery and the order page (the contract of issue 25) ----------------------------------------

export const STANDARD = {
  id: "standard",
  name: "Standard",
  price: "4.90",
  free_over: "50.00",
  days: { min: 2, max: 4 },
  countries: null,
};
export const EXPRESS = { id: "express", name: "Express", price: "12.90", free_over: null, days: { min: 1, max: 2 }, countries: null };
/** A method offered in Germany only (acme's demo has none; globex's two_day is the US's). */
export const COURIER = { id: "courier", name: "City courier", price: "9.00", free_over: null, days: { min: 1, max: 1 }, countries: ["DE"] };
export const ACME_COUNTRIES = ["DE", "FR", "NL", "AT", "BE", "ES", "IT"];

/** GET …/shipping-methods[?country=]: acme's, with a courier offered in Germany only. */
export function shippingMethods(country = null) {
  const items = [STANDARD, EXPRESS, COURIER];
  return {
    countries: ACME_COUNTRIES,
    items: country ? items.filter((method) => method.countries === null || method.countries.includes(country)) : items,
  };
}

/** What the delivery form holds (view.deliveryForm()): Germany, standard shipping. */
export function deliveryForm(extra = {}, address = {}) {
  return {
    email: "ada@example.com",
    address: {
      name: "Ada Lovelace",
      line1: "Unter den Linden 1",
      line2: "",
      city: "Berlin",
      postal_code: "10117",
      country: "DE",
      phone: "",
      ...address,
    },
    method: "standard",
    ...extra,
  };
}

/** The cart's `delivery` as the API returns it for deliveryForm(). */
export function delivery(method = STANDARD, address = {}) {
  return {
    email: "ada@example.com",
    address: {
      name: "Ada Lovelace",
      line1: "Unter den Linden 1",
      line2: null,
      city: "Berlin",
      postal_code: "10117",
      country: "DE",
      phone: null,
      ...address,
    },
    method: { id: method.id, name: method.name, price: method.price, days: method.days },
  };
}

/**
 * CART_SUMMER10 (net 161.08) with a delivery: standard is free over 50.00, so shipping 0.00 and the
 * total unchanged; express 12.90: VAT on 173.98 is 34.80 (34.796), total 208.78.
 */
export const CART_SUMMER10_STANDARD = {
  ...CART_SUMMER10,
  delivery: delivery(STANDARD),
  totals: { ...CART_SUMMER10.totals, shipping: "0.00" },
};
export const CART_SUMMER10_EXPRESS = {
  ...CART_SUMMER10,
  delivery: delivery(EXPRESS),
  totals: { ...CART_SUMMER10.totals, shipping: "12.90", vat: "34.80", total: "208.78" },
};
/** One headlamp (24.99, under the 50.00 threshold) with standard shipping 4.90: VAT on 29.89 is 5.98 (5.978), total 35.87. */
export const CART_HEADLAMP_STANDARD = cart(
  [line(HEADLAMP, 1, "24.99")],
  { subtotal: "24.99", net: "24.99", shipping: "4.90", vat: "5.98", total: "35.87" },
  { delivery: delivery(STANDARD) },
);

/** The order as its token holder reads it: e-mail, delivery, fulfilment and timeline. */
export function privateOrder(extra = {}) {
  return order({
    email: "ada@example.com",
    delivery: delivery(STANDARD),
    fulfilment: null,
    timeline: [{ event: "created", at: "2024-06-01T10:15:00Z" }],
    ...extra,
  });
}
