// The order page (controller.js with payment.js): #order={id} opened from the moment the order
// exists, its token kept in localStorage per tenant and order, a reload that resumes the payment step,
// #order={id}&token=… links, cancel while allowed, Back and "Continue shopping". Against a recording
// view, a scripted API, an in-memory localStorage and a fake Stripe.js.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Controller } from "../../storefront/controller.js";
import { ShopState } from "../../storefront/state.js";
import {
  CART_SUMMER10_STANDARD,
  FakeApi,
  FakeStripe,
  ORDER_ID,
  ORDER_TOKEN,
  PRODUCTS,
  RecordingView,
  UPSELL,
  cardOrder,
  conflict,
  installStorage,
  networkError,
  order,
  privateOrder,
  refusal,
  settle,
  shippingMethods,
} from "./fakes.js";

const KEY = `cartwise:acme:order:${ORDER_ID}`;
const OTHER_ORDER = "01HZX9OTHERORDER0000000000";
const SHIPPED = privateOrder({
  status: "shipped",
  fulfilment: {
    carrier: "DHL",
    tracking_number: "00340434161094042557",
    tracking_url: "https://www.dhl.de/track?piececode=00340434161094042557",
    shipped_at: "2024-06-02T09:00:00Z",
    delivered_at: null,
  },
  timeline: [
    { event: "created", at: "2024-06-01T10:15:00Z" },
    { event: "shipped", at: "2024-06-02T09:00:00Z" },
  ],
});
const PAID = privateOrder({
  status: "paid",
  hold_expires_at: "2024-06-01T10:30:00Z",
  payment: { provider: "stripe", status: "succeeded", publishable_key: "pk_test_51AcmeDemo" },
  timeline: [
    { event: "created", at: "2024-06-01T10:15:00Z" },
    { event: "paid", at: "2024-06-01T10:17:00Z" },
  ],
});

/**
 * A controller for acme started at `hash`, with `saved` ({token, holdDeadline}) kept for ORDER_ID and
 * the API's answers scripted by `script(api)` before start. The catalogue and shipping are answered always.
 */
async function startAt(hash, { saved = null, script = () => {} } = {}) {
  const local = installStorage();
  if (saved) local.setItem(KEY, JSON.stringify(saved));
  const api = new FakeApi();
  const view = new RecordingView();
  const state = new ShopState();
  const stripe = new FakeStripe("pk_test_51AcmeDemo");
  const controller = new Controller({ api, view, state, tenant: "acme", loadStripe: async () => stripe });
  api.always("listProducts", PRODUCTS).always("getUpsell", UPSELL).always("listShippingMethods", shippingMethods);
  script(api);
  await controller.start(hash);
  await settle();
  return { api, view, state, controller, local, stripe };
}

const orderReads = (api) => api.requestsOf("getOrder");

describe("opening #order={id}", () => {
  test("with the token kept on this device: the token holder's order, its status and timeline", async () => {
    const { api, view, state } = await startAt(`#order=${ORDER_ID}`, {
      saved: { token: ORDER_TOKEN, holdDeadline: null },
      script: (fake) => fake.answer("getOrder", SHIPPED),
    });
    assert.deepEqual(orderReads(api), [[ORDER_ID, ORDER_TOKEN]]);
    assert.deepEqual(view.argsOf("showConfirmation"), [[SHIPPED, null, { cancellable: false, message: null }]]);
    assert.deepEqual(view.argsOf("showAddress"), [], "the address already names the order");
    assert.deepEqual(state.orderPage, { orderId: ORDER_ID, order: SHIPPED, token: ORDER_TOKEN });
    // The page is marked ready once the order is on it.
    assert.deepEqual(view.shownMethods().slice(-2), ["showConfirmation", "markReady"]);
  });

  test("a confirmed order with its token can be cancelled from its page", async () => {
    const { view } = await startAt(`#order=${ORDER_ID}`, {
      saved: { token: ORDER_TOKEN, holdDeadline: null },
      script: (fake) => fake.answer("getOrder", privateOrder()),
    });
    assert.deepEqual(view.argsOf("showConfirmation"), [[privateOrder(), null, { cancellable: true, message: null }]]);
  });

  test("without a token: the public order, nothing to cancel", async () => {
    const { api, view, local } = await startAt(`#order=${ORDER_ID}`, {
      script: (fake) => fake.answer("getOrder", order()),
    });
    assert.deepEqual(orderReads(api), [[ORDER_ID, null]]);
    assert.deepEqual(view.argsOf("showConfirmation"), [[order(), null, { cancellable: false, message: null }]]);
    assert.equal(local.getItem(KEY), null);
  });

  test("a link with &token=: the token kept, dropped from the address in place, the order read with it", async () => {
    const { api, view, local } = await startAt(`#order=${ORDER_ID}&token=${ORDER_TOKEN}`, {
      script: (fake) => fake.answer("getOrder", privateOrder()),
    });
    assert.deepEqual(JSON.parse(local.getItem(KEY)), { token: ORDER_TOKEN, holdDeadline: null });
    assert.deepEqual(view.argsOf("showAddress"), [[`#order=${ORDER_ID}`, { replace: true }]]);
    assert.deepEqual(orderReads(api), [[ORDER_ID, ORDER_TOKEN]]);
    assert.deepEqual(view.argsOf("showConfirmation"), [[privateOrder(), null, { cancellable: true, message: null }]]);
  });

  test("a token the API refuses is forgotten and the public order shown", async () => {
    const { api, view, local } = await startAt(`#order=${ORDER_ID}&token=not-the-token`, {
      script: (fake) => fake.answer("getOrder", refusal(403, "FORBIDDEN", "Invalid order token."), order()),
    });
    assert.deepEqual(orderReads(api), [
      [ORDER_ID, "not-the-token"],
      [ORDER_ID, null],
    ]);
    assert.equal(local.getItem(KEY), null);
    assert.deepEqual(view.argsOf("showConfirmation"), [[order(), null, { cancellable: false, message: null }]]);
  });

  test("an order the shop does not have: said, and the shop's address again", async () => {
    const { view, state } = await startAt(`#order=${OTHER_ORDER}`, {
      script: (fake) => fake.answer("getOrder", refusal(404, "NOT_FOUND", "Order not found.", { order_id: OTHER_ORDER })),
    });
    assert.deepEqual(view.lastArgs("showNotice"), [`There is no order ${OTHER_ORDER} in this shop.`]);
    assert.deepEqual(view.argsOf("showAddress"), [["", { replace: false }]]);
    assert.deepEqual(view.argsOf("showConfirmation"), []);
    assert.equal(state.orderPage, null);
  });

  test("no answer: said, the address kept so that a reload tries again", async () => {
    const { view, state } = await startAt(`#order=${ORDER_ID}`, {
      script: (fake) => fake.answer("getOrder", networkError()),
    });
    assert.deepEqual(view.lastArgs("showNotice"), [
      "The order could not be loaded. Could not reach the shop. Check your internet connection and try again. " +
        "Reload the page to try again.",
    ]);
    assert.deepEqual(view.argsOf("showAddress"), []);
    assert.equal(state.orderPage.orderId, ORDER_ID);
  });
});

describe("a card order's page", () => {
  test("placed: the address names it, its token and hold deadline are kept, and its payment step opens", async (t) => {
    t.mock.timers.enable({ apis: ["setInterval", "Date"], now: Date.parse("2024-06-01T10:15:00Z") });
    const { api, view, local, controller, state } = await startAt("", {
      script: (fake) => fake.answer("getCart", CART_SUMMER10_STANDARD),
    });
    local.setItem("cartwise:acme:cart", CART_SUMMER10_STANDARD.cart_id);
    state.setCart(CART_SUMMER10_STANDARD);
    t.after(() => controller.payment.close());
    api.answer("checkout", { order: cardOrder(), upsell: UPSELL, order_token: ORDER_TOKEN });
    view.clear();
    await view.trigger("checkout");
    await settle();
    assert.deepEqual(view.argsOf("showAddress"), [[`#order=${ORDER_ID}`, { replace: false }]]);
    assert.deepEqual(JSON.parse(local.getItem(KEY)), {
      token: ORDER_TOKEN,
      holdDeadline: Date.parse("2024-06-01T10:30:00Z"),
    });
    assert.deepEqual(view.argsOf("showPayment"), [[cardOrder()]]);
    assert.deepEqual(orderReads(api), [], "the checkout's answer is the order awaiting payment");
  });

  test("after a reload: the payment step resumes with the hold's deadline kept since the checkout", async (t) => {
    t.mock.timers.enable({ apis: ["setInterval", "Date"], now: Date.parse("2024-06-01T10:25:00Z") });
    const deadline = Date.parse("2024-06-01T10:29:30Z"); // this device's clock at checkout, plus 15 minutes
    const { api, view, state, controller, stripe } = await startAt(`#order=${ORDER_ID}`, {
      saved: { token: ORDER_TOKEN, holdDeadline: deadline },
      script: (fake) => fake.answer("getOrder", cardOrder()),
    });
    t.after(() => controller.payment.close());
    assert.deepEqual(orderReads(api), [[ORDER_ID, ORDER_TOKEN]]);
    assert.deepEqual(view.argsOf("showPayment"), [[cardOrder()]]);
    assert.deepEqual(view.argsOf("showHoldTime"), [[270]]);
    assert.equal(state.payment.token, ORDER_TOKEN);
    assert.equal(state.payment.upsell, null);
    assert.deepEqual(view.argsOf("mountCard"), [[stripe.card]]);
  });

  test("after a reload, paid there: the paid order read with its token (timeline), the deadline forgotten", async (t) => {
    t.mock.timers.enable({ apis: ["setInterval", "Date"], now: Date.parse("2024-06-01T10:20:00Z") });
    const { api, view, local, controller, stripe } = await startAt(`#order=${ORDER_ID}`, {
      saved: { token: ORDER_TOKEN, holdDeadline: Date.parse("2024-06-01T10:30:00Z") },
      script: (fake) => fake.answer("getOrder", cardOrder()),
    });
    t.after(() => controller.payment.close());
    const paidWithoutTimeline = { ...PAID };
    delete paidWithoutTimeline.timeline;
    stripe.setupAnswers.push({ setupIntent: { id: "seti_1", status: "succeeded", payment_method: "pm_card_visa" } });
    api
      .answer("startCardSetup", { client_secret: "seti_1_secret_abc" })
      .answer("pay", { order: paidWithoutTimeline, payment: { status: "succeeded" } })
      .answer("getOrder", PAID);
    view.clear();
    await view.trigger("pay");
    await settle();
    assert.deepEqual(api.requestsOf("pay"), [[ORDER_ID, ORDER_TOKEN, "pm_card_visa"]]);
    assert.deepEqual(orderReads(api), [
      [ORDER_ID, ORDER_TOKEN],
      [ORDER_ID, ORDER_TOKEN],
    ]);
    assert.deepEqual(view.argsOf("showConfirmation"), [[PAID, null, { cancellable: false, message: null }]]);
    assert.deepEqual(JSON.parse(local.getItem(KEY)), { token: ORDER_TOKEN, holdDeadline: null });
  });

  test("a card order awaiting payment, opened without its token: its status only, no payment step", async () => {
    const { view } = await startAt(`#order=${ORDER_ID}`, {
      script: (fake) => fake.answer("getOrder", cardOrder()),
    });
    assert.deepEqual(view.argsOf("showPayment"), []);
    assert.deepEqual(view.argsOf("showConfirmation"), [[cardOrder(), null, { cancellable: false, message: null }]]);
  });
});

describe("cancel from the order's page", () => {
  async function onConfirmedOrder() {
    const parts = await startAt(`#order=${ORDER_ID}`, {
      saved: { token: ORDER_TOKEN, holdDeadline: null },
      script: (fake) => fake.answer("getOrder", privateOrder()),
    });
    parts.view.clear();
    parts.api.requests = [];
    return parts;
  }

  test("sent with the kept token; the cancelled order without its public shape is read again for its timeline", async () => {
    const { api, view } = await onConfirmedOrder();
    const cancelled = privateOrder({
      status: "cancelled",
      timeline: [
        { event: "created", at: "2024-06-01T10:15:00Z" },
        { event: "cancelled", at: "2024-06-01T10:20:00Z" },
      ],
    });
    api.answer("cancelOrder", order({ status: "cancelled" })).answer("getOrder", cancelled);
    await view.trigger("cancelOrder", privateOrder());
    assert.deepEqual(api.requestsOf("cancelOrder"), [[ORDER_ID, ORDER_TOKEN]]);
    assert.deepEqual(orderReads(api), [[ORDER_ID, ORDER_TOKEN]]);
    assert.deepEqual(view.argsOf("showConfirmation"), [
      [cancelled, null, { cancellable: false, message: "Nothing will be delivered or charged." }],
    ]);
    assert.ok(api.requestNames().includes("listProducts"), "its units are back on sale");
  });

  test("shipped meanwhile (409 ORDER_NOT_CANCELLABLE): the order as it is now, and why", async () => {
    const { api, view } = await onConfirmedOrder();
    api
      .answer("cancelOrder", conflict("ORDER_NOT_CANCELLABLE", { status: "shipped" }, "Order is shipped."))
      .answer("getOrder", SHIPPED);
    await view.trigger("cancelOrder", privateOrder());
    assert.deepEqual(view.argsOf("showConfirmation"), [
      [SHIPPED, null, { cancellable: false, message: "This order can no longer be cancelled." }],
    ]);
  });
});

describe("leaving and coming back", () => {
  async function onShippedOrder() {
    const parts = await startAt(`#order=${ORDER_ID}`, {
      saved: { token: ORDER_TOKEN, holdDeadline: null },
      script: (fake) => fake.answer("getOrder", SHIPPED),
    });
    parts.view.clear();
    parts.api.requests = [];
    return parts;
  }

  test("Continue shopping: the page closes, the address is the shop's, the keyboard at the products", async () => {
    const { view, state, local } = await onShippedOrder();
    await view.trigger("continueShopping");
    assert.deepEqual(view.shown(), [
      ["hideConfirmation"],
      ["showAddress", "", { replace: false }],
      ["focusProducts"],
    ]);
    assert.equal(state.orderPage, null);
    assert.notEqual(local.getItem(KEY), null, "the token stays: the order's page can be opened again");
  });

  test("Back to the shop's address closes the page; Forward opens it again", async () => {
    const { api, view, state } = await onShippedOrder();
    await view.trigger("route", "");
    assert.deepEqual(view.shown(), [["hideConfirmation"]]);
    assert.equal(state.orderPage, null);
    api.answer("getOrder", SHIPPED);
    await view.trigger("route", `#order=${ORDER_ID}`);
    assert.deepEqual(orderReads(api), [[ORDER_ID, ORDER_TOKEN]]);
    assert.deepEqual(view.lastArgs("showConfirmation"), [SHIPPED, null, { cancellable: false, message: null }]);
  });

  test("the same order's address again is nothing new; another order's opens that one", async () => {
    const { api, view } = await onShippedOrder();
    await view.trigger("route", `#order=${ORDER_ID}`);
    assert.deepEqual(api.requests, []);
    api.answer("getOrder", order({ order_id: OTHER_ORDER }));
    await view.trigger("route", `#order=${OTHER_ORDER}`);
    assert.deepEqual(orderReads(api), [[OTHER_ORDER, null]]);
  });
});
