// The delivery step (controller.js): the shop's countries and methods, each choice PUT on the cart
// and the API's cart shown, the API's refusals beside their fields, and "Place order" with the
// delivery the form holds. Against a recording view, a scripted API and an in-memory localStorage.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Controller, deliveryBody, deliveryErrors, sameDelivery } from "../../storefront/controller.js";
import { ShopState } from "../../storefront/state.js";
import {
  CART_HEADLAMP_STANDARD,
  CART_ID,
  CART_SUMMER10,
  CART_SUMMER10_EXPRESS,
  CART_SUMMER10_STANDARD,
  COURIER,
  EMPTY_CART,
  EXPRESS,
  FakeApi,
  FakeStripe,
  ORDER_TOKEN,
  PRODUCTS,
  RecordingView,
  STANDARD,
  UPSELL,
  cart,
  delivery,
  deliveryForm,
  networkError,
  privateOrder,
  refusal,
  settle,
  shippingMethods,
} from "./fakes.js";

const STANDARD_BODY = {
  email: "ada@example.com",
  address: { name: "Ada Lovelace", line1: "Unter den Linden 1", city: "Berlin", postal_code: "10117", country: "DE" },
  method: "standard",
};
const NEW_CART_ID = "01HZX9NEWCART0000000000000";

/** A started controller for acme: the catalogue, `openCart` restored (null: none), the shipping methods; calls forgotten. */
async function started(openCart = null) {
  const local = installLocal(openCart);
  const api = new FakeApi();
  const view = new RecordingView();
  const state = new ShopState();
  const controller = new Controller({
    api,
    view,
    state,
    tenant: "acme",
    loadStripe: async () => new FakeStripe("pk_test_51AcmeDemo"),
  });
  api.always("listProducts", PRODUCTS).always("getUpsell", UPSELL).always("listShippingMethods", shippingMethods);
  if (openCart) api.answer("getCart", openCart);
  await controller.start();
  await settle();
  view.clear();
  api.requests = [];
  return { api, view, state, controller, local };
}

function installLocal(openCart) {
  const items = new Map(openCart ? [["cartwise:acme:cart", openCart.cart_id]] : []);
  const local = {
    items,
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
  globalThis.window = { localStorage: local };
  return local;
}

/** The requests but the catalogue's and the up-sell's (each cart change asks for both). */
const sent = (api) => api.requests.filter(([name]) => !["listProducts", "getUpsell"].includes(name));

/** The delivery step as showCart last showed it. */
const lastDelivery = (view) => view.lastArgs("showCart")[1].delivery;

describe("loading the step", () => {
  test("the shop's countries, the first chosen, and its methods with none chosen", async () => {
    const { state, view } = await started(CART_SUMMER10);
    assert.deepEqual(state.delivery.countries, ["DE", "FR", "NL", "AT", "BE", "ES", "IT"]);
    assert.equal(state.delivery.country, "DE");
    assert.deepEqual(state.delivery.methods, [STANDARD, EXPRESS, COURIER]);
    assert.equal(state.delivery.method, null);
    assert.deepEqual(view.calls, [], "nothing more is shown once started");
  });

  test("a restored cart's delivery: its country's methods, its method chosen at the cart's shipping, the form filled", async () => {
    const inNetherlands = {
      ...CART_SUMMER10_EXPRESS,
      delivery: delivery(EXPRESS, { country: "NL", city: "Amsterdam", postal_code: "1012 JS" }),
    };
    const local = installLocal(inNetherlands);
    const api = new FakeApi();
    const view = new RecordingView();
    const controller = new Controller({ api, view, state: new ShopState(), tenant: "acme", loadStripe: null });
    api
      .always("listProducts", PRODUCTS)
      .always("getUpsell", UPSELL)
      .answer("getCart", inNetherlands)
      .answer("listShippingMethods", shippingMethods(), shippingMethods("NL"));
    await controller.start();
    await settle();
    assert.equal(local.getItem("cartwise:acme:cart"), CART_ID);
    assert.deepEqual(api.requestsOf("listShippingMethods"), [[], ["NL"]]);
    assert.deepEqual(view.argsOf("showDeliveryCountries"), [[["DE", "FR", "NL", "AT", "BE", "ES", "IT"], "NL"]]);
    assert.deepEqual(view.argsOf("showDeliveryForm"), [[inNetherlands.delivery]]);
    assert.deepEqual(lastDelivery(view), {
      country: "NL",
      methods: [STANDARD, EXPRESS],
      selected: "express",
      shipping: "12.90",
      error: null,
    });
  });

  test("options that cannot be loaded are said, and Try again loads them", async () => {
    const { api, view, state } = await started(CART_SUMMER10);
    api.defaults.delete("listShippingMethods");
    api.answer("listShippingMethods", networkError(), shippingMethods(), shippingMethods("DE"));
    await view.trigger("retryShipping");
    assert.equal(
      lastDelivery(view).error,
      "Delivery options could not be loaded. Could not reach the shop. Check your internet connection and try again.",
    );
    await view.trigger("retryShipping");
    assert.deepEqual(api.requestsOf("listShippingMethods"), [[], [], ["DE"]]);
    assert.equal(lastDelivery(view).error, null);
    assert.deepEqual(lastDelivery(view).methods, [STANDARD, EXPRESS, COURIER]);
    assert.equal(state.delivery.error, null);
  });
});

describe("choosing", () => {
  test("a method: the delivery PUT (trimmed, empty optional fields left out) and the API's cart shown", async () => {
    const { api, view, state } = await started(CART_SUMMER10);
    api.answer("setDelivery", CART_SUMMER10_STANDARD);
    const form = deliveryForm({ email: "  ada@example.com " }, { name: " Ada Lovelace", line2: "   " });
    await view.trigger("deliveryMethod", form);
    assert.deepEqual(api.requestsOf("setDelivery"), [[CART_ID, STANDARD_BODY]]);
    assert.deepEqual(state.cart, CART_SUMMER10_STANDARD);
    const [shownCart] = view.lastArgs("showCart");
    assert.equal(shownCart.totals.shipping, "0.00");
    assert.equal(shownCart.totals.total, "193.30");
    // Standard is free over 50.00: the cart says 0.00, which the list shows beside the chosen method.
    assert.deepEqual(lastDelivery(view), {
      country: "DE",
      methods: [STANDARD, EXPRESS, COURIER],
      selected: "standard",
      shipping: "0.00",
      error: null,
    });
    assert.deepEqual(view.argsOf("showDeliveryErrors"), [[null]]);
    assert.deepEqual(state.delivery.accepted, STANDARD_BODY);
  });

  test("another method: the new shipping and total are the API's", async () => {
    const { api, view } = await started(CART_SUMMER10_STANDARD);
    api.answer("setDelivery", CART_SUMMER10_EXPRESS);
    await view.trigger("deliveryMethod", deliveryForm({ method: "express" }));
    assert.deepEqual(api.requestsOf("setDelivery"), [[CART_ID, { ...STANDARD_BODY, method: "express" }]]);
    const [shownCart] = view.lastArgs("showCart");
    assert.deepEqual(
      [shownCart.totals.shipping, shownCart.totals.vat, shownCart.totals.total],
      ["12.90", "34.80", "208.78"],
    );
    assert.equal(lastDelivery(view).shipping, "12.90");
  });

  test("a country: its methods; a method it offers too is kept and PUT with the new country", async () => {
    const { api, view, state } = await started(CART_SUMMER10_EXPRESS);
    const inFrance = { ...CART_SUMMER10_EXPRESS, delivery: delivery(EXPRESS, { country: "FR" }) };
    api.answer("setDelivery", inFrance);
    await view.trigger("deliveryCountry", deliveryForm({ method: "express" }, { country: "FR" }));
    assert.deepEqual(sent(api), [
      ["listShippingMethods", "FR"],
      ["setDelivery", CART_ID, { ...STANDARD_BODY, address: { ...STANDARD_BODY.address, country: "FR" }, method: "express" }],
    ]);
    assert.equal(state.delivery.country, "FR");
    assert.deepEqual(lastDelivery(view), {
      country: "FR",
      methods: [STANDARD, EXPRESS],
      selected: "express",
      shipping: "12.90",
      error: null,
    });
  });

  test("a country that lacks the method chosen: none chosen, nothing PUT, the old figure no longer beside it", async () => {
    const { api, view, state } = await started({ ...CART_SUMMER10, delivery: delivery(COURIER), totals: { ...CART_SUMMER10.totals, shipping: "9.00" } });
    assert.equal(state.delivery.method, "courier");
    await view.trigger("deliveryCountry", deliveryForm({ method: "courier" }, { country: "BE" }));
    assert.deepEqual(sent(api), [["listShippingMethods", "BE"]]);
    assert.deepEqual(lastDelivery(view), {
      country: "BE",
      methods: [STANDARD, EXPRESS],
      selected: null,
      shipping: null,
      error: null,
    });
  });

  test("quick country changes: only the last country's methods are shown", async () => {
    const { api, view, state } = await started(CART_SUMMER10);
    let releaseFrance;
    api.defaults.delete("listShippingMethods");
    api.answer(
      "listShippingMethods",
      () => new Promise((resolve) => (releaseFrance = () => resolve(shippingMethods("FR")))),
      shippingMethods("DE"),
    );
    const france = view.trigger("deliveryCountry", deliveryForm({ method: null }, { country: "FR" }));
    await view.trigger("deliveryCountry", deliveryForm({ method: null }, { country: "DE" }));
    releaseFrance();
    await france;
    assert.equal(state.delivery.country, "DE");
    assert.deepEqual(lastDelivery(view).methods, [STANDARD, EXPRESS, COURIER]);
  });

  test("400: the API's message beside each field it names; the cart stays as it was", async () => {
    const { api, view, state } = await started(CART_SUMMER10);
    api.answer(
      "setDelivery",
      refusal(400, "BAD_REQUEST", "Invalid request body.", {
        fields: [
          { field: "email", message: "value is not a valid email address: An email address must have an @-sign." },
          { field: "address.postal_code", message: "String should have at least 1 character" },
        ],
      }),
    );
    await view.trigger("deliveryMethod", deliveryForm({ email: "ada.example.com" }, { postal_code: "" }));
    assert.deepEqual(view.lastArgs("showDeliveryErrors"), [
      {
        email: "value is not a valid email address: An email address must have an @-sign.",
        "address.postal_code": "String should have at least 1 character",
      },
      { focus: false },
    ]);
    assert.deepEqual(state.cart, CART_SUMMER10);
    assert.deepEqual(view.argsOf("showNotice"), []);
    assert.equal(state.delivery.accepted, null);
    assert.deepEqual(api.requestsOf("setDelivery")[0][1].address.postal_code, "");
  });

  test("422 COUNTRY_NOT_SERVED: the API's message beside the country, the shop's countries read again", async () => {
    const { api, view } = await started(CART_SUMMER10_STANDARD);
    api.answer("setDelivery", refusal(422, "COUNTRY_NOT_SERVED", "Acme Outdoor does not deliver to Italy."));
    await view.trigger("deliveryMethod", deliveryForm({}, { country: "IT" }));
    await settle();
    assert.deepEqual(view.lastArgs("showDeliveryErrors"), [
      { "address.country": "Acme Outdoor does not deliver to Italy." },
      { focus: false },
    ]);
    assert.deepEqual(api.requestsOf("listShippingMethods"), [[], ["DE"]]);
    // What the shopper typed stays: only a page that starts fills the form from the cart.
    assert.deepEqual(view.argsOf("showDeliveryForm"), []);
  });

  test("422 SHIPPING_METHOD_UNAVAILABLE: the API's message beside the methods, which are read again", async () => {
    const { api, view } = await started(CART_SUMMER10);
    api.answer("setDelivery", refusal(422, "SHIPPING_METHOD_UNAVAILABLE", "Express is not offered to Germany."));
    await view.trigger("deliveryMethod", deliveryForm({ method: "express" }));
    await settle();
    assert.deepEqual(view.lastArgs("showDeliveryErrors"), [
      { method: "Express is not offered to Germany." },
      { focus: false },
    ]);
    assert.deepEqual(api.requestsOf("listShippingMethods"), [[], ["DE"]]);
  });

  test("an empty cart has no delivery to save", async () => {
    const { api, view } = await started(EMPTY_CART);
    await view.trigger("deliveryMethod", deliveryForm());
    assert.deepEqual(api.requestsOf("setDelivery"), []);
  });
});

describe("placing the order", () => {
  const placed = { order: privateOrder(), upsell: UPSELL, order_token: ORDER_TOKEN };

  test("no method chosen: said beside the methods, nothing sent", async () => {
    const { api, view } = await started(CART_SUMMER10);
    await view.trigger("checkout", deliveryForm({ method: null }));
    assert.deepEqual(api.requests, []);
    assert.deepEqual(view.argsOf("showDeliveryErrors"), [[{ method: "Choose a delivery method." }, { focus: true }]]);
    assert.deepEqual(view.argsOf("showCheckingOut"), []);
  });

  test("the form as the cart holds it: no PUT, the order placed at the total shown", async () => {
    const { api, view } = await started(CART_SUMMER10_EXPRESS);
    api.answer("checkout", placed);
    await view.trigger("checkout", deliveryForm({ method: "express", email: "ada@example.com " }));
    assert.deepEqual(sent(api).map(([name]) => name), ["checkout"]);
    assert.equal(api.requestsOf("checkout")[0][1].expectedTotal, "208.78");
  });

  test("an address typed since the last choice: PUT first, then the order at the same total", async () => {
    const { api, view } = await started(CART_SUMMER10_STANDARD);
    const moved = { ...CART_SUMMER10_STANDARD, delivery: delivery(STANDARD, { line2: "Hinterhaus" }) };
    api.answer("setDelivery", moved).answer("checkout", placed);
    await view.trigger("checkout", deliveryForm({}, { line2: "Hinterhaus" }));
    assert.deepEqual(sent(api).map(([name]) => name), ["setDelivery", "checkout"]);
    assert.deepEqual(api.requestsOf("setDelivery"), [
      [CART_ID, { ...STANDARD_BODY, address: { ...STANDARD_BODY.address, line2: "Hinterhaus" } }],
    ]);
    assert.equal(api.requestsOf("checkout")[0][1].expectedTotal, "193.30");
    assert.deepEqual(view.argsOf("showConfirmation"), [[privateOrder(), UPSELL, { cancellable: true, message: null }]]);
  });

  test("a delivery that changes the total: the new total shown, nothing ordered; the next press orders at it", async () => {
    const { api, view, state } = await started(CART_HEADLAMP_STANDARD);
    const noDelivery = cart(CART_HEADLAMP_STANDARD.items, {
      subtotal: "24.99",
      net: "24.99",
      shipping: "0.00",
      vat: "5.00",
      total: "29.99",
    });
    state.setCart(noDelivery); // as if the delivery had not been saved yet
    api.answer("setDelivery", CART_HEADLAMP_STANDARD).answer("checkout", placed);
    await view.trigger("checkout", deliveryForm());
    assert.deepEqual(sent(api).map(([name]) => name), ["setDelivery"]);
    assert.deepEqual(view.lastArgs("showCart")[1].priceChange, { from: "29.99", to: "35.87" });
    assert.deepEqual(view.argsOf("focusCheckoutMessage"), [[]]);
    assert.equal(lastDelivery(view).shipping, "4.90");
    await view.trigger("checkout", deliveryForm());
    assert.deepEqual(api.requestsOf("checkout").map(([, attempt]) => attempt.expectedTotal), ["35.87"]);
  });

  test("a delivery refused at Place order: beside its fields with the focus, and nothing ordered", async () => {
    const { api, view, local } = await started(CART_SUMMER10);
    api.answer(
      "setDelivery",
      refusal(400, "BAD_REQUEST", "Invalid request body.", {
        fields: [{ field: "address.name", message: "String should have at least 1 character" }],
      }),
    );
    await view.trigger("checkout", deliveryForm({}, { name: "" }));
    assert.deepEqual(sent(api).map(([name]) => name), ["setDelivery"]);
    assert.deepEqual(view.lastArgs("showDeliveryErrors"), [
      { "address.name": "String should have at least 1 character" },
      { focus: true },
    ]);
    assert.deepEqual(view.lastArgs("showCheckoutError"), ["Check the delivery details above: nothing was ordered."]);
    assert.equal(local.getItem("cartwise:acme:checkout"), null);
    assert.deepEqual(view.lastArgs("showCheckingOut"), [false, true]);
  });

  test("422 DELIVERY_REQUIRED (a cart without delivery placed as it is): said in a sentence", async () => {
    const { api, view } = await started(CART_SUMMER10);
    api.answer("checkout", refusal(422, "DELIVERY_REQUIRED", "The cart has no delivery."));
    await view.trigger("checkout");
    assert.deepEqual(view.lastArgs("showCheckoutError"), [
      "Fill in where your order goes and choose a delivery method before placing the order.",
    ]);
  });

  test("a retry after a lost answer resends that attempt as it was, whatever the form says now", async () => {
    const { api, view } = await started(CART_SUMMER10_STANDARD);
    api.answer("checkout", networkError(), placed);
    await view.trigger("checkout", deliveryForm());
    await view.trigger("checkout", deliveryForm({ method: "express" }));
    assert.deepEqual(api.requestsOf("setDelivery"), []);
    const [[, first], [, second]] = api.requestsOf("checkout");
    assert.deepEqual(second, first);
  });

  test("the next cart gets the delivery the API last accepted, so its totals include shipping", async () => {
    const { api, view, state } = await started(CART_SUMMER10);
    api.answer("setDelivery", CART_SUMMER10_STANDARD).answer("checkout", placed);
    await view.trigger("deliveryMethod", deliveryForm());
    await view.trigger("checkout", deliveryForm());
    await settle();
    api.requests = [];
    const newCart = { ...EMPTY_CART, cart_id: NEW_CART_ID };
    const withHeadlamp = { ...cart(CART_HEADLAMP_STANDARD.items, { ...CART_HEADLAMP_STANDARD.totals, shipping: "0.00", vat: "5.00", total: "29.99" }), cart_id: NEW_CART_ID };
    const delivered = { ...CART_HEADLAMP_STANDARD, cart_id: NEW_CART_ID };
    api.answer("createCart", newCart).answer("setQuantity", withHeadlamp).answer("setDelivery", delivered);
    await view.trigger("addProduct", "headlamp");
    await settle();
    assert.deepEqual(
      sent(api),
      [
        ["createCart"],
        ["setQuantity", NEW_CART_ID, "headlamp", 1],
        ["setDelivery", NEW_CART_ID, STANDARD_BODY],
      ],
    );
    assert.deepEqual(state.cart, delivered);
    assert.equal(lastDelivery(view).shipping, "4.90");
  });
});

describe("the form's values", () => {
  test("deliveryBody trims, leaves out empty optional fields and sends empty required ones", () => {
    assert.deepEqual(deliveryBody(deliveryForm({}, { line2: " Hinterhaus ", phone: "+49 30 1234567 " })), {
      ...STANDARD_BODY,
      address: { ...STANDARD_BODY.address, line2: "Hinterhaus", phone: "+49 30 1234567" },
    });
    assert.deepEqual(deliveryBody({ email: "", address: {}, method: null }), {
      email: "",
      address: { name: "", line1: "", city: "", postal_code: "", country: "" },
      method: null,
    });
  });

  test("sameDelivery: the form against the cart's delivery (null and \"\" alike, spaces trimmed)", () => {
    assert.equal(sameDelivery(deliveryForm(), delivery(STANDARD)), true);
    assert.equal(sameDelivery(deliveryForm({}, { city: " Berlin " }), delivery(STANDARD)), true);
    assert.equal(sameDelivery(deliveryForm({ method: "express" }), delivery(STANDARD)), false);
    assert.equal(sameDelivery(deliveryForm({}, { phone: "+49" }), delivery(STANDARD)), false);
    assert.equal(sameDelivery(deliveryForm({ email: "bob@example.com" }), delivery(STANDARD)), false);
    assert.equal(sameDelivery(deliveryForm(), null), false);
  });

  test("deliveryErrors: fields by the API's names, a body. prefix dropped, two problems of one field joined", () => {
    const error = refusal(400, "BAD_REQUEST", "Invalid.", {
      fields: [
        { field: "body.email", message: "Not an address." },
        { field: "address.city", message: "Too long." },
        { field: "address.city", message: "Not printable." },
      ],
    });
    assert.deepEqual(deliveryErrors(error), { email: "Not an address.", "address.city": "Too long. Not printable." });
    assert.equal(deliveryErrors(refusal(400, "BAD_REQUEST", "Malformed JSON body.", { fields: [] })), null);
    assert.equal(deliveryErrors(refusal(409, "CART_CLOSED", "Closed.")), null);
    assert.deepEqual(deliveryErrors(refusal(422, "COUNTRY_NOT_SERVED", "")), {
      "address.country": "This shop does not deliver to that country.",
    });
    assert.deepEqual(deliveryErrors(refusal(422, "SHIPPING_METHOD_UNAVAILABLE", "")), {
      method: "That delivery method is not available for this address.",
    });
  });
});
