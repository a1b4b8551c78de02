// controller.js against a recording view, a scripted API and an in-memory localStorage (the style of
// TodoMVC's ControllerSpec): what each user action asks of the API, and what the view is asked to show.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Controller } from "../../storefront/controller.js";
import { ShopState } from "../../storefront/state.js";
import {
  CART_ID,
  CART_SUMMER10,
  CART_TENT,
  CART_TWO_TENTS,
  EMPTY_CART,
  FakeApi,
  FakeStripe,
  HEADLAMP,
  NO_UPSELL,
  ORDER_ID,
  ORDER_TOKEN,
  PRODUCTS,
  RecordingView,
  UPSELL,
  cardOrder,
  cart,
  conflict,
  deferred,
  installStorage,
  networkError,
  order,
  refusal,
  privateOrder,
  settle,
  shippingMethods,
  unavailable,
  STANDARD,
  EXPRESS,
  COURIER,
} from "./fakes.js";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const RETRY_CHECKOUT =
  "Your order may not have been placed yet. Press \u201cPlace order\u201d again: it will not be ordered twice.";
const NEW_CART_ID = "01HZX9NEWCART0000000000000";

/** A controller for tenant acme with fresh doubles; `savedCart` is the cart id localStorage holds. */
function setup({ savedCart = null, stripe = new FakeStripe("pk_test_51AcmeDemo") } = {}) {
  const local = installStorage();
  if (savedCart) local.setItem("cartwise:acme:cart", savedCart);
  const api = new FakeApi();
  const view = new RecordingView();
  const state = new ShopState();
  const loads = [];
  const loadStripe = async (key) => {
    loads.push(key);
    return stripe;
  };
  const controller = new Controller({ api, view, state, tenant: "acme", loadStripe });
  return { api, view, state, controller, local, stripe, loads };
}

/** Started, with the catalogue and `openCart` restored from localStorage (null: no cart yet); calls so far forgotten. */
async function started(openCart = null) {
  const parts = setup({ savedCart: openCart?.cart_id });
  parts.api.always("listProducts", PRODUCTS).always("getUpsell", UPSELL).always("listShippingMethods", shippingMethods);
  if (openCart) parts.api.answer("getCart", openCart);
  await parts.controller.start();
  await settle();
  parts.view.clear();
  parts.api.requests = [];
  return parts;
}

/** showCart's last call: the cart and options, with its callbacks asked about `productId`. */
function lastCart(view, productId = "tent-2p") {
  const [shownCart, { currency, shortages, priceChange, checkingOut, stockOf, nameOf }] = view.lastArgs("showCart");
  return {
    cart: shownCart,
    currency,
    shortages: [...shortages.values()],
    priceChange,
    checkingOut,
    stock: stockOf(productId),
    name: nameOf(productId),
  };
}

/** showProducts's last call: the product ids shown, the total, and the cart's quantity of each shown. */
function lastProducts(view) {
  const [shown, total, quantityInCart] = view.lastArgs("showProducts");
  return { ids: shown.map((p) => p.product_id), total, inCart: shown.map((p) => quantityInCart(p.product_id)) };
}

describe("start", () => {
  test("binds every user action of the view, and shows nothing before start()", () => {
    const { view } = setup();
    assert.deepEqual(Object.keys(view.handlers).sort(), [
      "addProduct",
      "applyPromo",
      "backToCart",
      "cancelOrder",
      "cancelPayment",
      "categoryChange",
      "changeQuantity",
      "checkout",
      "continueShopping",
      "deliveryCountry",
      "deliveryMethod",
      "fixShortage",
      "pay",
      "removeLine",
      "removePromo",
      "retryProducts",
      "retryShipping",
      "route",
    ]);
    assert.deepEqual(view.shown(), []);
  });

  test("loads the catalogue and renders it with an empty cart, then marks the page ready", async () => {
    const { api, view, controller } = setup();
    api.answer("listProducts", PRODUCTS).answer("listShippingMethods", shippingMethods(), shippingMethods("DE"));
    await controller.start();
    assert.deepEqual(api.requests, [["listProducts"], ["listShippingMethods"], ["listShippingMethods", "DE"]]);
    assert.deepEqual(view.shownMethods(), [
      "showCategories",
      "showProducts",
      "showDeliveryCountries",
      "showCart",
      "showCart",
      "showCart",
      "markReady",
    ]);
    // The shop's countries, the first chosen, and its methods (none chosen yet).
    assert.deepEqual(view.lastArgs("showDeliveryCountries"), [["DE", "FR", "NL", "AT", "BE", "ES", "IT"], "DE"]);
    assert.deepEqual(view.lastArgs("showCart")[1].delivery, {
      country: "DE",
      methods: [STANDARD, EXPRESS, COURIER],
      selected: null,
      shipping: null,
      error: null,
    });
    assert.deepEqual(view.lastArgs("showCategories"), [["camping", "lighting"], ""]);
    assert.deepEqual(lastProducts(view), { ids: ["tent-2p", "headlamp", "stove"], total: 3, inCart: [0, 0, 0] });
    assert.deepEqual(lastCart(view), {
      cart: null,
      currency: "EUR",
      shortages: [],
      priceChange: null,
      checkingOut: false,
      stock: 7,
      name: "Tent 2P",
    });
  });

  test("restores the stored cart when the API still has it open", async () => {
    const { api, view, controller, state } = setup({ savedCart: CART_ID });
    api.answer("listProducts", PRODUCTS).answer("getCart", CART_SUMMER10).answer("getUpsell", UPSELL);
    await controller.start();
    await settle();
    assert.deepEqual(api.requestsOf("getCart"), [[CART_ID]]);
    assert.deepEqual(api.requestsOf("getUpsell"), [[CART_ID]]);
    assert.equal(state.cart.cart_id, CART_ID);
    assert.deepEqual(lastCart(view).cart, CART_SUMMER10);
    assert.deepEqual(lastProducts(view).inCart, [1, 2, 0]);
    assert.deepEqual(view.lastArgs("showCartUpsell"), [UPSELL, "shown", "EUR"]);
    assert.deepEqual(view.argsOf("showNotice"), []);
    assert.deepEqual(view.argsOf("markReady"), [[]]);
  });

  test("a stored cart the API no longer knows is forgotten silently", async () => {
    const { api, view, controller, local } = setup({ savedCart: CART_ID });
    api.answer("listProducts", PRODUCTS).answer("getCart", refusal(404, "NOT_FOUND", "Cart not found.", { cart_id: CART_ID }));
    await controller.start();
    assert.equal(local.getItem("cartwise:acme:cart"), null);
    assert.deepEqual(view.argsOf("showNotice"), []);
    assert.equal(lastCart(view).cart, null);
  });

  test("a stored cart that cannot be read (no answer) is kept, and the shopper told", async () => {
    const { api, view, controller, local } = setup({ savedCart: CART_ID });
    api.answer("listProducts", PRODUCTS).answer("getCart", networkError());
    await controller.start();
    assert.equal(local.getItem("cartwise:acme:cart"), CART_ID);
    assert.deepEqual(view.argsOf("showNotice"), [
      ["Could not reach the shop. Check your internet connection and try again."],
    ]);
    assert.deepEqual(view.shownMethods().slice(-2), ["showCart", "markReady"]);
  });

  test("a stored cart closed by this page's unanswered checkout: that checkout is finished, its order shown", async () => {
    const { api, view, controller, local } = setup({ savedCart: CART_ID });
    const pending = { cartId: CART_ID, key: "6f1c7a43-1d1e-4a57-9b0c-3f7b2d9e8a10", expectedTotal: "193.30" };
    local.setItem("cartwise:acme:checkout", JSON.stringify(pending));
    api
      .always("listProducts", PRODUCTS)
      .always("listShippingMethods", shippingMethods)
      .answer("getCart", { ...CART_SUMMER10, status: "checked_out", order_id: ORDER_ID })
      .answer("checkout", { order: order(), upsell: UPSELL, order_token: ORDER_TOKEN })
      .answer("getOrder", privateOrder());
    await controller.start("#order=01HZX9SOMEOTHERORDER000000");
    await settle();
    assert.deepEqual(api.requestsOf("checkout"), [
      [CART_ID, { key: "6f1c7a43-1d1e-4a57-9b0c-3f7b2d9e8a10", expectedTotal: "193.30" }],
    ]);
    // The order's page, read with its token for the timeline; the address names it (not the one the page opened at).
    assert.deepEqual(api.requestsOf("getOrder"), [[ORDER_ID, ORDER_TOKEN]]);
    assert.deepEqual(view.argsOf("showConfirmation"), [[privateOrder(), UPSELL, { cancellable: true, message: null }]]);
    assert.deepEqual(view.argsOf("showAddress"), [[`#order=${ORDER_ID}`, { replace: false }]]);
    assert.deepEqual(JSON.parse(local.getItem(`cartwise:acme:order:${ORDER_ID}`)), {
      token: ORDER_TOKEN,
      holdDeadline: null,
    });
    assert.equal(local.getItem("cartwise:acme:cart"), null);
    assert.equal(local.getItem("cartwise:acme:checkout"), null);
  });
});

describe("catalogue", () => {
  test("an unknown shop: its message, and no retry", async () => {
    const { api, view, controller } = setup();
    api.answer("listProducts", refusal(404, "TENANT_NOT_FOUND", "Tenant 'nope' not found."));
    await controller.start();
    assert.deepEqual(view.argsOf("showProductsError"), [
      ["This shop does not exist. Choose one of the shops above.", { canRetry: false }],
    ]);
    assert.deepEqual(view.argsOf("showProducts"), []);
  });

  test("no answer: a retry that loads it", async () => {
    const { api, view, controller } = setup();
    api.answer("listProducts", networkError(), PRODUCTS);
    await controller.start();
    assert.deepEqual(view.argsOf("showProductsError"), [
      ["Could not reach the shop. Check your internet connection and try again.", { canRetry: true }],
    ]);
    view.clear();
    await view.trigger("retryProducts");
    assert.deepEqual(view.shownMethods(), ["showCategories", "showProducts"]);
    assert.deepEqual(lastProducts(view).ids, ["tent-2p", "headlamp", "stove"]);
  });

  test("a category filter re-renders that category's products", async () => {
    const { view } = await started();
    view.trigger("categoryChange", "lighting");
    assert.deepEqual(lastProducts(view), { ids: ["headlamp"], total: 3, inCart: [0] });
    view.trigger("categoryChange", "");
    assert.deepEqual(lastProducts(view).ids, ["tent-2p", "headlamp", "stove"]);
  });
});

describe("cart", () => {
  test("the first add creates a cart, sets quantity 1 and renders the API's cart and totals as they are", async () => {
    const { api, view, state, local } = await started();
    api.answer("createCart", EMPTY_CART).answer("setQuantity", CART_TENT);
    await view.trigger("addProduct", "tent-2p");
    await settle();
    assert.deepEqual(api.requests, [["createCart"], ["setQuantity", CART_ID, "tent-2p", 1], ["getUpsell", CART_ID]]);
    assert.equal(local.getItem("cartwise:acme:cart"), CART_ID);
    assert.equal(state.cart.cart_id, CART_ID);
    const shown = lastCart(view);
    assert.deepEqual(shown.cart, CART_TENT);
    assert.deepEqual(shown.cart.totals, {
      subtotal: "129.00",
      discount: "0.00",
      net: "129.00",
      vat_rate: "0.20",
      vat: "25.80",
      total: "154.80",
    });
    assert.equal(shown.currency, "EUR");
    assert.deepEqual(lastProducts(view).inCart, [1, 0, 0]);
    assert.deepEqual(
      view.shown().filter(([method]) => method !== "showCartUpsell"),
      [
        ["showCartBusy", true],
        ["showCart", ...view.lastArgs("showCart")],
        ["showProducts", ...view.lastArgs("showProducts")],
        ["showUpsellLoading"],
        ["showNotice", null],
        ["showCartBusy", false],
        ["announce", "Tent 2P added to your cart."],
      ],
    );
    assert.deepEqual(view.lastArgs("showCartUpsell"), [UPSELL, "shown", "EUR"]);
  });

  test("the totals shown are the API's, even when they are not what the lines add up to", async () => {
    const { api, view } = await started(CART_TENT);
    // A server-side promotion the page knows nothing about: the page does no arithmetic on money.
    const promoted = cart(CART_TWO_TENTS.items, {
      subtotal: "258.00",
      discount: "25.80",
      net: "232.20",
      vat: "46.44",
      total: "278.64",
    });
    api.answer("setQuantity", promoted).always("getUpsell", NO_UPSELL);
    await view.trigger("addProduct", "tent-2p");
    await settle();
    assert.deepEqual(api.requestsOf("setQuantity"), [[CART_ID, "tent-2p", 2]]);
    assert.deepEqual(lastCart(view).cart.totals, promoted.totals);
    assert.deepEqual(view.lastArgs("showCartUpsell"), [NO_UPSELL, "off", "EUR"]);
  });

  test("quick double clicks add up: the second edit is computed from the first one's answer", async () => {
    const { api, view } = await started();
    const first = deferred();
    api.answer("createCart", EMPTY_CART).answer("setQuantity", () => first.promise, CART_TWO_TENTS);
    const one = view.trigger("addProduct", "tent-2p");
    const two = view.trigger("addProduct", "tent-2p");
    await settle();
    assert.deepEqual(api.requestNames(), ["createCart", "setQuantity"], "the second waits for the first");
    first.resolve(CART_TENT);
    await Promise.all([one, two]);
    await settle();
    assert.deepEqual(api.requestsOf("createCart"), [[]], "one cart");
    assert.deepEqual(api.requestsOf("setQuantity"), [
      [CART_ID, "tent-2p", 1],
      [CART_ID, "tent-2p", 2],
    ]);
    assert.deepEqual(lastCart(view).cart, CART_TWO_TENTS);
    assert.deepEqual(view.argsOf("showCartBusy"), [[true], [true], [false]]);
    assert.deepEqual(view.argsOf("announce"), [["Tent 2P added to your cart."], ["Tent 2P added to your cart."]]);
  });

  test("+, − and remove set the line's quantity from the cart", async () => {
    const { api, view } = await started(CART_SUMMER10);
    api.always("setQuantity", CART_SUMMER10);
    await view.trigger("changeQuantity", "headlamp", +1);
    await view.trigger("changeQuantity", "headlamp", -1);
    await view.trigger("changeQuantity", "stove", -1);
    await view.trigger("removeLine", "tent-2p");
    assert.deepEqual(api.requestsOf("setQuantity"), [
      [CART_ID, "headlamp", 3],
      [CART_ID, "headlamp", 1],
      [CART_ID, "stove", 0],
      [CART_ID, "tent-2p", 0],
    ]);
  });

  test("out of stock: each short line named, the stock reloaded, nothing announced", async () => {
    const { api, view, state } = await started(CART_SUMMER10);
    api.answer(
      "setQuantity",
      conflict("OUT_OF_STOCK", { items: [{ product_id: "headlamp", requested: 4, available: 3 }] }),
      conflict("OUT_OF_STOCK", { items: [{ product_id: "stove", requested: 1, available: 0 }] }),
    );
    await view.trigger("changeQuantity", "headlamp", +2);
    await settle();
    assert.deepEqual(view.argsOf("showNotice"), [["Only 3 of Headlamp left."]]);
    assert.deepEqual(api.requestNames(), ["setQuantity", "listProducts"]);
    await view.trigger("addProduct", "stove");
    assert.deepEqual(view.lastArgs("showNotice"), ["Camping stove is sold out."]);
    assert.deepEqual(view.argsOf("announce"), []);
    assert.deepEqual(state.cart, CART_SUMMER10, "the cart is as it was");
  });

  test("a lost cart (expired) is replaced once, silently, and the edit made in the new one", async () => {
    const { api, view, local } = await started(CART_SUMMER10);
    const fresh = cart([], {}, { cart_id: NEW_CART_ID });
    const added = cart(CART_TENT.items, CART_TENT.totals, { cart_id: NEW_CART_ID });
    api
      .answer("setQuantity", refusal(404, "NOT_FOUND", "Cart not found.", { cart_id: CART_ID }), added)
      .answer("createCart", fresh);
    await view.trigger("addProduct", "tent-2p");
    assert.deepEqual(api.requests.slice(0, 3), [
      ["setQuantity", CART_ID, "tent-2p", 2],
      ["createCart"],
      ["setQuantity", NEW_CART_ID, "tent-2p", 1],
    ]);
    assert.equal(local.getItem("cartwise:acme:cart"), NEW_CART_ID);
    assert.deepEqual(lastCart(view).cart, added);
    assert.deepEqual(view.argsOf("showNotice"), [[null]]);
  });

  test("a 404 that is not about the cart (a product gone) is shown, not a new cart", async () => {
    const { api, view } = await started(CART_SUMMER10);
    api.answer("setQuantity", refusal(404, "NOT_FOUND", "Product not found.", { product_id: "tent-2p" }));
    await view.trigger("addProduct", "tent-2p");
    assert.deepEqual(api.requestNames(), ["setQuantity"]);
    assert.deepEqual(view.argsOf("showNotice"), [
      ["That item could not be found; it may have been removed from the shop."],
    ]);
  });

  test("a fix offered for a shortage sets the available quantity (0 removes the line)", async () => {
    const { api, view } = await started(CART_SUMMER10);
    api.always("setQuantity", CART_SUMMER10);
    await view.trigger("fixShortage", { product_id: "headlamp", requested: 2, available: 1 });
    await view.trigger("fixShortage", { product_id: "tent-2p", requested: 1, available: -2 });
    assert.deepEqual(api.requestsOf("setQuantity"), [
      [CART_ID, "headlamp", 1],
      [CART_ID, "tent-2p", 0],
    ]);
  });
});

describe("promo codes", () => {
  test("applied: the API's cart, the form cleared and the code announced", async () => {
    const { api, view } = await started(CART_TENT);
    api.answer("applyPromo", CART_SUMMER10);
    await view.trigger("applyPromo", "summer10");
    assert.deepEqual(api.requestsOf("applyPromo"), [[CART_ID, "summer10"]]);
    assert.deepEqual(lastCart(view).cart, CART_SUMMER10);
    assert.deepEqual(view.argsOf("showPromoApplied"), [[]]);
    assert.deepEqual(view.argsOf("announce"), [["Promo code SUMMER10 applied."]]);
  });

  test("an empty code is not sent", async () => {
    const { api, view } = await started(CART_TENT);
    await view.trigger("applyPromo", "");
    assert.deepEqual(api.requests, []);
    assert.deepEqual(view.shown(), [["showPromoError", "Enter a promo code first."]]);
  });

  test("refused: the code named in the promo message; an unknown refusal in the API's words", async () => {
    const { api, view } = await started(CART_TENT);
    api.answer(
      "applyPromo",
      refusal(400, "INVALID_PROMO_CODE", "Unknown promo code."),
      refusal(422, "PROMO_EXPIRED", "This code expired on 1 May."),
    );
    await view.trigger("applyPromo", "BOGUS");
    await view.trigger("applyPromo", "SPRING");
    assert.deepEqual(view.argsOf("showPromoError"), [
      ["The promo code \u201cBOGUS\u201d is not valid."],
      ["This code expired on 1 May."],
    ]);
    assert.deepEqual(view.argsOf("showNotice"), []);
    assert.deepEqual(view.argsOf("showPromoApplied"), []);
  });

  test("removed", async () => {
    const { api, view } = await started(CART_SUMMER10);
    api.answer("removePromo", cart(CART_SUMMER10.items, { subtotal: "178.98", total: "214.78" }));
    await view.trigger("removePromo");
    assert.deepEqual(api.requestsOf("removePromo"), [[CART_ID]]);
    assert.equal(lastCart(view).cart.totals.total, "214.78");
    assert.deepEqual(view.argsOf("announce"), [["Promo code removed."]]);
    assert.deepEqual(view.argsOf("showPromoRemoved"), [[]]);
  });
});

describe("checkout", () => {
  const placed = { order: privateOrder(), upsell: UPSELL, order_token: ORDER_TOKEN };

  test("places the order at the total shown, with a new Idempotency-Key, and confirms it", async () => {
    const { api, view, state, local } = await started(CART_SUMMER10);
    api.answer("checkout", placed);
    await view.trigger("checkout");
    await settle();
    const [[cartId, attempt]] = api.requestsOf("checkout");
    assert.equal(cartId, CART_ID);
    assert.equal(attempt.expectedTotal, "193.30");
    assert.match(attempt.key, UUID_V4);
    assert.deepEqual(view.argsOf("showConfirmation"), [[privateOrder(), UPSELL, { cancellable: true, message: null }]]);
    assert.deepEqual(view.argsOf("showAddress"), [[`#order=${ORDER_ID}`, { replace: false }]]);
    assert.deepEqual(api.requestsOf("getOrder"), [], "the checkout's answer has the timeline already");
    assert.deepEqual(view.argsOf("showCheckingOut"), [
      [true, true],
      [false, false],
    ]);
    assert.equal(state.cart, null);
    assert.equal(lastCart(view).cart, null);
    assert.deepEqual(view.lastArgs("showCartUpsell"), [null, "empty", "EUR"]);
    assert.equal(local.getItem("cartwise:acme:cart"), null);
    assert.equal(local.getItem("cartwise:acme:checkout"), null);
    assert.ok(api.requestNames().includes("listProducts"), "the stock has dropped: the catalogue is reloaded");
  });

  test("an on-delivery order without a token cannot be cancelled from the page", async () => {
    const { api, view } = await started(CART_SUMMER10);
    api.answer("checkout", { order: order(), upsell: NO_UPSELL, order_token: "" });
    await view.trigger("checkout");
    assert.deepEqual(view.argsOf("showConfirmation"), [[order(), NO_UPSELL, { cancellable: false, message: null }]]);
    assert.deepEqual(api.requestsOf("getOrder"), []);
  });

  test("a double click sends one checkout; cart edits wait until it is answered", async () => {
    const { api, view } = await started(CART_SUMMER10);
    const answer = deferred();
    api.answer("checkout", () => answer.promise);
    const presses = [view.trigger("checkout"), view.trigger("checkout"), view.trigger("addProduct", "tent-2p")];
    await settle();
    assert.deepEqual(api.requestNames(), ["checkout"]);
    assert.deepEqual(view.argsOf("showCheckingOut"), [[true, true]]);
    assert.deepEqual(view.argsOf("showNotice"), [[null], ["Please wait until your order is placed."]]);
    answer.resolve(placed);
    await Promise.all(presses);
    assert.deepEqual(view.argsOf("showCheckingOut"), [
      [true, true],
      [false, false],
    ]);
    assert.equal(api.requestsOf("checkout").length, 1);
    assert.deepEqual(api.requestsOf("setQuantity"), []);
  });

  test("503 (Retry-After): may have been placed; the next press resends the same key and total", async () => {
    const { api, view, local } = await started(CART_SUMMER10);
    api.answer("checkout", unavailable(), placed);
    await view.trigger("checkout");
    assert.deepEqual(view.argsOf("showCheckoutError").at(-1), [
      `The shop is busy right now. Please try again in a moment. ${RETRY_CHECKOUT}`,
    ]);
    const [[, first]] = api.requestsOf("checkout");
    assert.deepEqual(JSON.parse(local.getItem("cartwise:acme:checkout")), { cartId: CART_ID, ...first });
    assert.equal(local.getItem("cartwise:acme:cart"), CART_ID);
    await view.trigger("checkout");
    const [, [, second]] = api.requestsOf("checkout");
    assert.deepEqual(second, first);
    assert.deepEqual(view.argsOf("showConfirmation"), [[privateOrder(), UPSELL, { cancellable: true, message: null }]]);
  });

  test("no answer at all: the same, in other words", async () => {
    const { api, view, local } = await started(CART_SUMMER10);
    api.answer("checkout", networkError());
    await view.trigger("checkout");
    assert.deepEqual(view.lastArgs("showCheckoutError"), [
      `Could not reach the shop. Check your internet connection and try again. ${RETRY_CHECKOUT}`,
    ]);
    assert.notEqual(local.getItem("cartwise:acme:checkout"), null);
  });

  test("an API refusal is shown with its message, and the next press is a new attempt", async () => {
    const { api, view, local } = await started(CART_SUMMER10);
    api.answer(
      "checkout",
      refusal(422, "SHOP_CLOSED", "This shop is closed for the holidays."),
      refusal(400, "EMPTY_CART", "The cart has no items."),
    );
    await view.trigger("checkout");
    assert.deepEqual(view.lastArgs("showCheckoutError"), ["This shop is closed for the holidays."]);
    assert.equal(local.getItem("cartwise:acme:checkout"), null, "a refusal wrote nothing: its key is dropped");
    await view.trigger("checkout");
    assert.deepEqual(view.lastArgs("showCheckoutError"), [
      "Your cart is empty. Add something before placing the order.",
    ]);
    const [[, first], [, second]] = api.requestsOf("checkout");
    assert.notEqual(second.key, first.key);
  });

  test("409 OUT_OF_STOCK: the short lines beside the cart, the stock reloaded, the fix clears them", async () => {
    const { api, view, state } = await started(CART_SUMMER10);
    const short = { product_id: "headlamp", requested: 2, available: 1 };
    api.answer("checkout", conflict("OUT_OF_STOCK", { items: [short] }, "Not enough stock for some items."));
    await view.trigger("checkout");
    await settle();
    assert.deepEqual(lastCart(view, "headlamp").shortages, [short]);
    assert.equal(lastCart(view, "headlamp").stock, HEADLAMP.stock);
    assert.deepEqual(view.argsOf("focusCheckoutMessage"), [[]]);
    assert.deepEqual(view.argsOf("showConfirmation"), []);
    assert.ok(api.requestNames().includes("listProducts"));
    const fixed = cart([CART_SUMMER10.items[0], { ...CART_SUMMER10.items[1], quantity: 1, line_total: "24.99" }]);
    api.answer("setQuantity", fixed);
    await view.trigger("fixShortage", short);
    assert.deepEqual(api.requestsOf("setQuantity"), [[CART_ID, "headlamp", 1]]);
    assert.deepEqual(lastCart(view).shortages, []);
    assert.equal(state.shortages.size, 0);
  });

  test("409 PRICE_CHANGED: the cart reloaded, the change shown, the next press orders at the new total", async () => {
    const { api, view } = await started(CART_SUMMER10);
    const repriced = cart(CART_SUMMER10.items, { ...CART_SUMMER10.totals, vat: "38.22", total: "199.30" });
    api
      .answer("checkout", conflict("PRICE_CHANGED", { totals: repriced.totals }), placed)
      .answer("getCart", repriced);
    await view.trigger("checkout");
    assert.deepEqual(lastCart(view).priceChange, { from: "193.30", to: "199.30" });
    assert.deepEqual(lastCart(view).cart, repriced);
    assert.deepEqual(view.argsOf("focusCheckoutMessage"), [[]]);
    await view.trigger("checkout");
    const [[, first], [, second]] = api.requestsOf("checkout");
    assert.equal(first.expectedTotal, "193.30");
    assert.equal(second.expectedTotal, "199.30");
    assert.notEqual(second.key, first.key);
  });

  test("409 PRICE_CHANGED when the cart cannot be reloaded: the answer's totals are shown", async () => {
    const { api, view } = await started(CART_SUMMER10);
    const totals = { ...CART_SUMMER10.totals, vat: "38.22", total: "199.30" };
    api.answer("checkout", conflict("PRICE_CHANGED", { totals })).answer("getCart", networkError());
    await view.trigger("checkout");
    assert.deepEqual(lastCart(view).priceChange, { from: "193.30", to: "199.30" });
    assert.deepEqual(lastCart(view).cart, { ...CART_SUMMER10, totals });
  });

  test("409 CART_CLOSED: the cart is emptied and the shopper told why", async () => {
    const { api, view, local, state } = await started(CART_SUMMER10);
    api.answer("checkout", conflict("CART_CLOSED", {}, "The cart is already checked out."));
    await view.trigger("checkout");
    assert.equal(state.cart, null);
    assert.equal(local.getItem("cartwise:acme:cart"), null);
    assert.deepEqual(view.lastArgs("showCheckoutError"), [
      "This cart was already checked out, so it has been emptied. Please add your items again.",
    ]);
  });

  test("an empty cart is not checked out", async () => {
    const { api, view } = await started(EMPTY_CART);
    await view.trigger("checkout");
    assert.deepEqual(api.requests, []);
  });

  test("a card order opens the payment step instead of the confirmation", async () => {
    const { api, view, state, controller, loads } = await started(CART_SUMMER10);
    api.answer("checkout", { order: cardOrder(), upsell: UPSELL, order_token: ORDER_TOKEN });
    await view.trigger("checkout");
    await settle();
    try {
      assert.deepEqual(view.argsOf("showPayment"), [[cardOrder()]]);
      assert.deepEqual(view.argsOf("showConfirmation"), []);
      assert.equal(state.payment.token, ORDER_TOKEN);
      assert.deepEqual(loads, ["pk_test_51AcmeDemo"]);
    } finally {
      controller.payment.close();
    }
  });
});

describe("after the order", () => {
  async function confirmed() {
    const parts = await started(CART_SUMMER10);
    parts.api.answer("checkout", { order: privateOrder(), upsell: UPSELL, order_token: ORDER_TOKEN });
    await parts.view.trigger("checkout");
    await settle();
    parts.view.clear();
    parts.api.requests = [];
    return parts;
  }

  test("cancel: sent with the order token; the cancelled order confirmed, the stock reloaded", async () => {
    const { api, view } = await confirmed();
    const cancelled = privateOrder({
      status: "cancelled",
      timeline: [
        { event: "created", at: "2024-06-01T10:15:00Z" },
        { event: "cancelled", at: "2024-06-01T10:17:00Z" },
      ],
    });
    api.answer("cancelOrder", cancelled);
    await view.trigger("cancelOrder", privateOrder());
    assert.deepEqual(api.requests, [
      ["cancelOrder", ORDER_ID, ORDER_TOKEN],
      ["listProducts"],
    ]);
    assert.deepEqual(view.argsOf("showConfirmation"), [
      [cancelled, null, { cancellable: false, message: "Nothing will be delivered or charged." }],
    ]);
  });

  test("a cancel without an answer keeps the order, its message and the button", async () => {
    const { api, view } = await confirmed();
    api.answer("cancelOrder", unavailable());
    await view.trigger("cancelOrder", privateOrder());
    assert.deepEqual(view.argsOf("showConfirmation"), [
      [privateOrder(), null, { cancellable: true, message: "The shop is busy right now. Please try again in a moment." }],
    ]);
  });

  test("back to the cart after a lapsed hold: the order's lines added, a short one named", async () => {
    const { api, view, controller, local } = await started();
    const withTent = cart([{ ...CART_TENT.items[0] }], CART_TENT.totals);
    api
      .answer("createCart", EMPTY_CART)
      .answer(
        "setQuantity",
        withTent,
        conflict("OUT_OF_STOCK", { items: [{ product_id: "headlamp", requested: 2, available: 1 }] }),
      );
    await controller.backToCart(cardOrder());
    assert.deepEqual(api.requests.slice(0, 3), [
      ["createCart"],
      ["setQuantity", CART_ID, "tent-2p", 1],
      ["setQuantity", CART_ID, "headlamp", 2],
    ]);
    assert.deepEqual(lastCart(view).cart, withTent);
    assert.equal(local.getItem("cartwise:acme:cart"), CART_ID);
    assert.deepEqual(view.lastArgs("showNotice"), ["Only 1 of Headlamp left."]);
    assert.deepEqual(view.argsOf("announce"), [["The items of your order are back in your cart."]]);
    assert.deepEqual(view.argsOf("focusCart"), [[]]);
  });
});
