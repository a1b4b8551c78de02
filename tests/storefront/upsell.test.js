// Attribution of suggestions: the storefront adds a suggested product with its up-sell answer's
// set_id (the cart page's and the order confirmation's), and falls back to an ordinary line when
// the API refuses the set for this cart. The suggestion list's button is checked on a minimal DOM.

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";

import { createApi } from "../../storefront/api.js";
import { Controller } from "../../storefront/controller.js";
import { upsellList } from "../../storefront/render.js";
import { ShopState } from "../../storefront/state.js";
import {
  CART_ID,
  CART_SUMMER10,
  CART_TENT,
  EMPTY_CART,
  FakeApi,
  FakeStripe,
  ORDER_TOKEN,
  PRODUCTS,
  RecordingView,
  UPSELL,
  UPSELL_SET_ID,
  cart,
  installStorage,
  privateOrder,
  refusal,
  settle,
  shippingMethods,
} from "./fakes.js";

const NEXT_CART_ID = "01HZX9NEXTCART000000000000";

async function started(openCart = null) {
  const local = installStorage();
  if (openCart) local.setItem("cartwise:acme:cart", openCart.cart_id);
  const api = new FakeApi();
  const view = new RecordingView();
  const controller = new Controller({
    api,
    view,
    state: new ShopState(),
    tenant: "acme",
    loadStripe: async () => new FakeStripe("pk_test_51AcmeDemo"),
  });
  api.always("listProducts", PRODUCTS).always("getUpsell", UPSELL).always("listShippingMethods", shippingMethods);
  if (openCart) api.answer("getCart", openCart);
  await controller.start();
  await settle();
  view.clear();
  api.requests = [];
  return { api, view };
}

describe("a suggestion is added with its set id", () => {
  test("on the cart page: the cart's up-sell answer's set_id goes with the product", async () => {
    const { api, view } = await started(CART_TENT);
    api.answer("setQuantity", CART_SUMMER10);
    await view.trigger("addProduct", "headlamp", UPSELL_SET_ID);
    await settle();
    assert.deepEqual(api.requestsOf("setQuantity"), [[CART_ID, "headlamp", 1, UPSELL_SET_ID]]);
  });

  test("a product added from the catalogue carries no set id", async () => {
    const { api, view } = await started(CART_TENT);
    api.answer("setQuantity", CART_SUMMER10);
    await view.trigger("addProduct", "headlamp");
    await settle();
    assert.deepEqual(api.requestsOf("setQuantity"), [[CART_ID, "headlamp", 1]]);
  });

  test("on the confirmation: the checkout's set_id goes with the product into the next cart", async () => {
    const { api, view } = await started(CART_SUMMER10);
    api.answer("checkout", { order: privateOrder(), upsell: UPSELL, order_token: ORDER_TOKEN });
    await view.trigger("checkout");
    await settle();
    const [, confirmed] = view.lastArgs("showConfirmation");
    assert.equal(confirmed.set_id, UPSELL_SET_ID);
    const next = { ...EMPTY_CART, cart_id: NEXT_CART_ID };
    api.answer("createCart", next).answer("setQuantity", cart([], {}, { cart_id: NEXT_CART_ID }));
    await view.trigger("addProduct", "headlamp", confirmed.set_id);
    await settle();
    assert.deepEqual(api.requestsOf("setQuantity"), [[NEXT_CART_ID, "headlamp", 1, UPSELL_SET_ID]]);
  });

  test("a set the API refuses for this cart: the product is added as an ordinary line", async () => {
    const { api, view } = await started(CART_TENT);
    const stale = refusal(400, "BAD_REQUEST", "Up-sell set is not a suggestion set shown to this cart.", {
      fields: [{ field: "upsell_set_id", message: "unknown suggestion set" }],
    });
    api.answer("setQuantity", stale, CART_SUMMER10);
    await view.trigger("addProduct", "headlamp", UPSELL_SET_ID);
    await settle();
    assert.deepEqual(api.requestsOf("setQuantity"), [
      [CART_ID, "headlamp", 1, UPSELL_SET_ID],
      [CART_ID, "headlamp", 1],
    ]);
    assert.deepEqual(view.argsOf("announce").at(-1), ["Headlamp added to your cart."]);
  });

  test("any other refusal is shown, not retried", async () => {
    const { api, view } = await started(CART_TENT);
    const limit = refusal(400, "BAD_REQUEST", "A cart holds at most 50 products.", {
      fields: [{ field: "product_id", message: "cart is full" }],
    });
    api.answer("setQuantity", limit);
    await view.trigger("addProduct", "headlamp", UPSELL_SET_ID);
    await settle();
    assert.equal(api.requestsOf("setQuantity").length, 1);
  });
});

describe("the API sends the set id", () => {
  let sent;
  let realFetch;
  beforeEach(() => {
    sent = [];
    realFetch = globalThis.fetch;
    globalThis.fetch = async (url, init) => {
      sent.push([init.method, url, init.body]);
      return new Response(JSON.stringify({ cart_id: "c1" }), { status: 200 });
    };
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
  });

  test("as upsell_set_id in the item's body, only when given", async () => {
    const api = createApi("https://api.example", "acme");
    await api.setQuantity("c1", "headlamp", 1, UPSELL_SET_ID);
    await api.setQuantity("c1", "headlamp", 2);
    assert.deepEqual(sent, [
      ["PUT", "https://api.example/tenants/acme/carts/c1/items/headlamp", `{"quantity":1,"upsell_set_id":"${UPSELL_SET_ID}"}`],
      ["PUT", "https://api.example/tenants/acme/carts/c1/items/headlamp", '{"quantity":2}'],
    ]);
  });
});

/** Just enough DOM for render.js's builders: elements with listeners, attributes and children. */
class FakeNode {
  children = [];
  append(...nodes) {
    this.children.push(...nodes);
  }
}
class FakeElement extends FakeNode {
  constructor(tag) {
    super();
    this.tag = tag;
    this.dataset = {};
    this.attributes = {};
    this.listeners = {};
  }
  addEventListener(type, listener) {
    this.listeners[type] = listener;
  }
  setAttribute(name, value) {
    this.attributes[name] = value;
  }
}
function* walk(node) {
  yield node;
  for (const child of node.children ?? []) yield* walk(child);
}

describe("the suggestion list's Add button", () => {
  beforeEach(() => {
    globalThis.Node = FakeNode;
    globalThis.document = {
      createElement: (tag) => new FakeElement(tag),
      createTextNode: (text) => Object.assign(new FakeNode(), { text }),
    };
  });
  afterEach(() => {
    delete globalThis.Node;
    delete globalThis.document;
  });

  test("hands the product and its answer's set id to the handler (cart page and confirmation alike)", () => {
    const added = [];
    const list = upsellList(UPSELL, "EUR", { idPrefix: "cart-upsell", onAdd: (...args) => added.push(args) });
    const buttons = [...walk(list)].filter((node) => node.tag === "button");
    assert.equal(buttons.length, 1);
    buttons[0].listeners.click();
    assert.deepEqual(added, [["headlamp", UPSELL_SET_ID]]);
  });
});
