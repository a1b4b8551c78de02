// console/controller.js against a recording view, a scripted admin API and an in-memory sessionStorage
// (localStorage throws): what each operator action asks of the API, and what the view is asked to show.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Controller, ORDERS_PAGE, actionsFor, parseDelta, plannedAction } from "../../console/controller.js";
import {
  FakeAdminApi,
  INVENTORY,
  KEY,
  ORDER_ID,
  RecordingView,
  SETTINGS,
  STATS,
  deferred,
  installWindow,
  networkError,
  order,
  orderPage,
  product,
  publicOrder,
  refusal,
} from "./fakes.js";

const STORED_KEY = "cartwise-console:acme:admin-key";
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function setup({ savedKey = null } = {}) {
  const session = installWindow();
  if (savedKey) session.setItem(STORED_KEY, savedKey);
  const api = new FakeAdminApi();
  const view = new RecordingView();
  const controller = new Controller({ view, tenant: "acme", makeApi: api.factory() });
  return { api, view, controller, session };
}

/** Signed in with KEY on `hash`'s screen, whose first answers are scripted by `script(api)`; calls forgotten. */
async function signedIn(hash = "", script = (api) => api.answer("listOrders", orderPage(2))) {
  const parts = setup({ savedKey: KEY });
  script(parts.api);
  await parts.controller.start(hash);
  parts.view.clear();
  parts.api.requests = [];
  return parts;
}

describe("signing in", () => {
  test("no saved key: the sign-in form, no request, and the page is ready", async () => {
    const { api, view, controller } = setup();
    await controller.start("#inventory");
    assert.deepEqual(api.requests, []);
    assert.deepEqual(view.shownMethods(), ["showSignIn", "markReady"]);
    assert.deepEqual(view.lastArgs("showSignIn"), [{ tenant: "acme" }]);
  });

  test("a good key opens the orders with one request, and is kept in sessionStorage only", async () => {
    const { api, view, controller, session } = setup();
    await controller.start();
    api.answer("listOrders", orderPage(3));

    await view.trigger("signIn", `  ${KEY}  `);

    assert.deepEqual(api.keys, [KEY]);
    assert.deepEqual(api.requests, [["listOrders", { limit: ORDERS_PAGE, status: null, cursor: null }]]);
    assert.equal(session.getItem(STORED_KEY), KEY);
    assert.deepEqual(view.lastArgs("showSignedIn"), [{ tenant: "acme" }]);
    assert.deepEqual(view.lastArgs("showScreen"), ["orders"]);
    const [{ items, page, hasPrevious, hasNext }] = view.lastArgs("showOrders");
    assert.deepEqual([items.length, page, hasPrevious, hasNext], [3, 1, false, false]);
  });

  test("a key that is no admin key of the shop is refused with its 401, and not kept", async () => {
    const { api, view, controller, session } = setup();
    await controller.start();
    api.answer("listOrders", refusal(401, "UNAUTHORIZED", "Unauthorized"));

    await view.trigger("signIn", "cw_acme_wrong");

    assert.equal(session.getItem(STORED_KEY), null);
    assert.deepEqual(view.lastArgs("showSignIn"), [
      {
        tenant: "acme",
        error: "That key was refused: it is not an admin key of this shop (401 UNAUTHORIZED: Unauthorized).",
      },
    ]);
    assert.equal(view.argsOf("showSignedIn").length, 0);
    // Signed out: a later change of screen asks nothing of the API.
    await view.trigger("route", "#inventory");
    assert.equal(api.requests.length, 1);
  });

  test("another shop's key is refused with its 403", async () => {
    const { api, view, controller, session } = setup();
    await controller.start();
    api.answer("listOrders", refusal(403, "FORBIDDEN", "This key is not valid for this tenant."));

    await view.trigger("signIn", "cw_globex_key");

    assert.equal(session.getItem(STORED_KEY), null);
    assert.equal(
      view.lastArgs("showSignIn")[0].error,
      "That key was refused: it belongs to another shop (403 FORBIDDEN: This key is not valid for this tenant.).",
    );
  });

  test("an empty key is not sent", async () => {
    const { api, view, controller } = setup();
    await controller.start();
    await view.trigger("signIn", "   ");
    assert.deepEqual(api.requests, []);
    assert.deepEqual(view.lastArgs("showSignIn"), [{ tenant: "acme", error: "Enter the shop's admin key." }]);
  });

  test("no answer while checking the key: said, and the key is not kept", async () => {
    const { api, view, controller, session } = setup();
    await controller.start();
    api.answer("listOrders", networkError());
    await view.trigger("signIn", KEY);
    assert.equal(session.getItem(STORED_KEY), null);
    assert.equal(view.lastArgs("showSignIn")[0].error, "The key could not be checked: Could not reach the API.");
  });

  test("a saved key opens the screen in the address at once", async () => {
    const { api, view, controller } = setup({ savedKey: KEY });
    api.answer("listInventory", INVENTORY);
    await controller.start("#inventory");
    assert.deepEqual(api.keys, [KEY]);
    assert.deepEqual(api.requestNames(), ["listInventory"]);
    assert.deepEqual(view.shownMethods(), ["showSignedIn", "showScreen", "showInventory", "markReady"]);
  });

  test("a saved key refused since (rotated) is forgotten", async () => {
    const { api, view, controller, session } = setup({ savedKey: KEY });
    api.answer("listOrders", refusal(401, "UNAUTHORIZED", "Unauthorized"));
    await controller.start();
    assert.equal(session.getItem(STORED_KEY), null);
    assert.match(view.lastArgs("showSignIn")[0].error, /^The saved key was refused: it is not an admin key/);
  });

  test("signing out forgets the key; nothing more is asked of the API", async () => {
    const { api, view, session } = await signedIn();
    view.trigger("signOut");
    assert.equal(session.getItem(STORED_KEY), null);
    assert.deepEqual(view.lastArgs("showSignIn"), [
      { tenant: "acme", notice: "Signed out: this browser tab no longer holds the key." },
    ]);
    await view.trigger("route", "#order=" + ORDER_ID);
    await view.trigger("orderFilter", "paid");
    assert.deepEqual(api.requests, []);
  });

  test("a key revoked while working signs the operator out with the API's answer", async () => {
    const { api, view, session } = await signedIn();
    api.answer("listInventory", refusal(401, "UNAUTHORIZED", "Unauthorized"));
    await view.trigger("route", "#inventory");
    assert.equal(session.getItem(STORED_KEY), null);
    assert.equal(
      view.lastArgs("showSignIn")[0].error,
      "The key was refused: it is not an admin key of this shop (401 UNAUTHORIZED: Unauthorized).",
    );
  });
});

describe("orders", () => {
  test("opening the orders is one request whatever the number of orders: one page and its cursor", async () => {
    const { api, view } = await signedIn();
    api.answer("listOrders", orderPage(ORDERS_PAGE, "cursor-2"));
    await view.trigger("route", "#orders");
    assert.deepEqual(api.requests, [["listOrders", { limit: 20, status: null, cursor: null }]]);
    const [{ items, hasNext }] = view.lastArgs("showOrders");
    assert.deepEqual([items.length, hasNext], [20, true]);
  });

  test("paging follows next_cursor forward and the kept cursors back; a filter starts again at page 1", async () => {
    const { api, view } = await signedIn("", (fake) => fake.answer("listOrders", orderPage(20, "c2")));
    api.answer("listOrders", orderPage(20, "c3"), orderPage(5, null), orderPage(20, "c2"), orderPage(1, null, "shipped"));

    await view.trigger("ordersPage", 1);
    await view.trigger("ordersPage", 1);
    assert.deepEqual(view.lastArgs("showOrders")[0].page, 3);
    assert.equal(view.lastArgs("showOrders")[0].hasNext, false);
    await view.trigger("ordersPage", 1); // no next page: nothing asked
    await view.trigger("ordersPage", -1);
    await view.trigger("orderFilter", "shipped");

    assert.deepEqual(api.requestsOf("listOrders"), [
      [{ limit: 20, status: null, cursor: "c2" }],
      [{ limit: 20, status: null, cursor: "c3" }],
      [{ limit: 20, status: null, cursor: "c2" }],
      [{ limit: 20, status: "shipped", cursor: null }],
    ]);
    assert.deepEqual(view.lastArgs("showOrders")[0].status, "shipped");
    assert.deepEqual(view.lastArgs("showOrders")[0].page, 1);
  });

  test("an order's detail offers what its status allows", async () => {
    const { api, view } = await signedIn();
    api.answer("getOrder", order());
    await view.trigger("route", `#order=${ORDER_ID}`);
    assert.deepEqual(api.requests, [["getOrder", ORDER_ID]]);
    const [shown, options] = view.lastArgs("showOrder");
    assert.equal(shown.order_id, ORDER_ID);
    assert.deepEqual(options, { actions: ["ship", "refund"], askRestock: false, statusText: "Paid", message: null });
    assert.deepEqual(view.lastArgs("showScreen"), ["orders"]);
  });

  test("actions per status", () => {
    const onDelivery = { payment: undefined };
    assert.deepEqual(actionsFor(order({ status: "pending_payment" })), ["cancel"]);
    assert.deepEqual(actionsFor(order({ status: "paid" })), ["ship", "refund"]);
    assert.deepEqual(actionsFor(order({ status: "confirmed", ...onDelivery })), ["ship", "cancel"]);
    assert.deepEqual(actionsFor(order({ status: "shipped" })), ["deliver", "refund"]);
    assert.deepEqual(actionsFor(order({ status: "shipped", ...onDelivery })), ["deliver"]);
    assert.deepEqual(actionsFor(order({ status: "delivered" })), ["refund"]);
    for (const status of ["expired", "cancelled", "refunded"]) assert.deepEqual(actionsFor(order({ status })), []);
  });

  test("ship: checked, confirmed, sent once, and the answer shown", async () => {
    const { api, view } = await signedIn(`#order=${ORDER_ID}`, (fake) => fake.answer("getOrder", order()));
    const form = { carrier: " DHL ", trackingNumber: "00340434", trackingUrl: "http://dhl.example/track" };

    view.trigger("orderAction", "ship", form);
    assert.deepEqual(view.lastArgs("showActionMessage"), [{ text: "The tracking link must start with https://.", kind: "error" }]);
    assert.equal(view.argsOf("showConfirmation").length, 0);

    view.trigger("orderAction", "ship", { ...form, trackingUrl: "https://dhl.example/track?n=00340434" });
    assert.deepEqual(view.lastArgs("showConfirmation"), [
      {
        action: "ship",
        question: `Ship order ${ORDER_ID} with DHL, tracking number 00340434? The shopper sees the tracking link on the order page.`,
      },
    ]);
    assert.deepEqual(api.requests, []); // nothing is sent before the confirmation

    const shipped = order({
      status: "shipped",
      fulfilment: { carrier: "DHL", tracking_number: "00340434", tracking_url: "https://dhl.example/track?n=00340434" },
    });
    const answer = deferred();
    api.answer("ship", () => answer.promise);
    const first = view.trigger("confirmAction");
    const second = view.trigger("confirmAction"); // a double click on "Confirm"
    answer.resolve(shipped);
    await Promise.all([first, second]);

    assert.deepEqual(api.requests, [
      ["ship", ORDER_ID, { carrier: "DHL", tracking_number: "00340434", tracking_url: "https://dhl.example/track?n=00340434" }],
    ]);
    const [shown, options] = view.lastArgs("showOrder");
    assert.equal(shown.status, "shipped");
    assert.deepEqual(options.actions, ["deliver", "refund"]);
    assert.deepEqual(options.message, { text: "Shipped: the order is on its way.", kind: "ok" });
    assert.deepEqual(view.argsOf("showActionBusy"), [[true], [false]]);
  });

  test("Back on the confirmation sends nothing", async () => {
    const { api, view } = await signedIn(`#order=${ORDER_ID}`, (fake) => fake.answer("getOrder", order({ status: "shipped" })));
    view.trigger("orderAction", "deliver", {});
    view.trigger("dismissAction");
    await view.trigger("confirmAction");
    assert.deepEqual(api.requests, []);
    assert.deepEqual(view.lastArgs("showConfirmation"), [null]);
  });

  test("a refusal is shown with its status, code and message (409)", async () => {
    const confirmed = order({ status: "confirmed", payment: undefined });
    const { api, view } = await signedIn(`#order=${ORDER_ID}`, (fake) => fake.answer("getOrder", confirmed));
    api.answer("cancel", refusal(409, "ORDER_NOT_CANCELLABLE", `Order ${ORDER_ID} is shipped.`, { status: "shipped" }));
    view.trigger("orderAction", "cancel", {});
    assert.equal(view.lastArgs("showConfirmation")[0].question, `Cancel order ${ORDER_ID}? Its 3 unit(s) go back on sale.`);
    await view.trigger("confirmAction");
    assert.deepEqual(view.lastArgs("showActionMessage"), [
      { text: `409 ORDER_NOT_CANCELLABLE: Order ${ORDER_ID} is shipped.`, kind: "error" },
    ]);
  });

  test("cancel answers the public shape: the full order is read again for the detail", async () => {
    const confirmed = order({ status: "confirmed", payment: undefined });
    const { api, view } = await signedIn(`#order=${ORDER_ID}`, (fake) => fake.answer("getOrder", confirmed));
    const cancelled = order({ status: "cancelled", payment: undefined });
    api.answer("cancel", publicOrder({ status: "cancelled" })).answer("getOrder", cancelled);
    view.trigger("orderAction", "cancel", {});
    await view.trigger("confirmAction");
    assert.deepEqual(api.requestNames(), ["cancel", "getOrder"]);
    assert.deepEqual(view.lastArgs("showOrder")[0], cancelled);
    assert.deepEqual(view.lastArgs("showOrder")[1].message, { text: "Cancelled: its units are back on sale.", kind: "ok" });
  });

  test("refund: a paid order's units come back; a shipped one's only when the operator says the goods came back", async () => {
    const paid = await signedIn(`#order=${ORDER_ID}`, (fake) => fake.answer("getOrder", order()));
    paid.api.answer("refund", order({ status: "refunded" }));
    paid.view.trigger("orderAction", "refund", { restock: false });
    assert.equal(
      paid.view.lastArgs("showConfirmation")[0].question,
      `Refund €214.78 of order ${ORDER_ID} to the shopper's card? Its 3 unit(s) go back on sale.`,
    );
    await paid.view.trigger("confirmAction");
    assert.deepEqual(paid.api.requests, [["refund", ORDER_ID, null]]); // the API restocks a paid order itself

    const shipped = await signedIn(`#order=${ORDER_ID}`, (fake) => fake.answer("getOrder", order({ status: "shipped" })));
    assert.equal(shipped.view.argsOf("showOrder").length, 0); // cleared; the detail was shown by start()
    shipped.api.answer("refund", order({ status: "refunded" }), order({ status: "refunded" }));
    shipped.view.trigger("orderAction", "refund", { restock: false });
    assert.match(shipped.view.lastArgs("showConfirmation")[0].question, /Its units stay sold \(the goods are with the shopper\)\.$/);
    await shipped.view.trigger("confirmAction");
    assert.deepEqual(shipped.view.lastArgs("showOrder")[1].message, { text: "Refunded €214.78. The units stay sold.", kind: "ok" });
    assert.deepEqual(shipped.api.requests, [["refund", ORDER_ID, false]]);
  });

  test("a restocking refund of a delivered order sends restock: true", () => {
    const plan = plannedAction("refund", order({ status: "delivered" }), { restock: true });
    assert.equal(plan.restock, true);
    assert.match(plan.question, /Its 3 unit\(s\) go back on sale\.$/);
  });

  test("an action the status does not allow is not even asked", async () => {
    const { api, view } = await signedIn(`#order=${ORDER_ID}`, (fake) => fake.answer("getOrder", order({ status: "refunded" })));
    view.trigger("orderAction", "refund", {});
    assert.equal(view.argsOf("showConfirmation").length, 0);
    assert.deepEqual(api.requests, []);
  });
});

describe("inventory", () => {
  const openInventory = () => signedIn("#inventory", (fake) => fake.answer("listInventory", structuredClone(INVENTORY)));

  test("the inventory is one page with the threshold; pages follow the cursor", async () => {
    const { api, view } = await signedIn();
    api.answer("listInventory", { ...INVENTORY, next_cursor: "p2" }, INVENTORY);
    await view.trigger("route", "#inventory");
    await view.trigger("inventoryPage", 1);
    assert.deepEqual(api.requestsOf("listInventory"), [[{ limit: 50, cursor: null }], [{ limit: 50, cursor: "p2" }]]);
    const [{ items, threshold, page, hasPrevious }] = view.lastArgs("showInventory");
    assert.deepEqual([items.map((i) => [i.product_id, i.low_stock]), threshold, page, hasPrevious], [
      [
        ["sleeping-pad", true],
        ["tent-2p", false],
      ],
      5,
      2,
      true,
    ]);
  });

  test("an edit sends name, price and description with the product's other fields, never its stock", async () => {
    const { api, view } = await openInventory();
    api.answer("updateProduct", product("tent-2p", 10, { name: "Tent 2P Ultralight", price: "139.00", description: "Lighter." }));

    await view.trigger("saveProduct", "tent-2p", { name: " Tent 2P Ultralight ", price: "139", description: "Lighter." });

    assert.deepEqual(api.requests, [
      [
        "updateProduct",
        "tent-2p",
        {
          name: "Tent 2P Ultralight",
          description: "Lighter.",
          category: "camping",
          price: "139.00",
          tags: ["outdoor"],
          complements: ["headlamp"],
        },
      ],
    ]);
    assert.ok(!("stock" in api.requests[0][2]));
    const [shown, message] = view.lastArgs("showInventoryItem");
    assert.deepEqual([shown.name, shown.price, shown.stock, shown.reserved], ["Tent 2P Ultralight", "139.00", 10, 1]);
    assert.deepEqual(message, { text: "Saved Tent 2P Ultralight at 139.00.", kind: "ok" });
  });

  test("a price that is not one is refused before anything is sent", async () => {
    const { api, view } = await openInventory();
    for (const price of ["0", "12.345", "ten", "-3"]) {
      await view.trigger("saveProduct", "tent-2p", { name: "Tent", price, description: "" });
    }
    assert.deepEqual(api.requests, []);
    assert.equal(view.lastArgs("showProductMessage")[1].kind, "error");
  });

  test("a double click on Adjust adjusts once: one request, one key", async () => {
    const { api, view } = await openInventory();
    const answer = deferred();
    api.answer("adjustStock", () => answer.promise);

    const first = view.trigger("adjustStock", "sleeping-pad", "+5");
    const second = view.trigger("adjustStock", "sleeping-pad", "+5");
    answer.resolve(product("sleeping-pad", 8));
    await Promise.all([first, second]);

    assert.equal(api.requests.length, 1);
    const [[productId, delta, key]] = api.requestsOf("adjustStock");
    assert.deepEqual([productId, delta], ["sleeping-pad", 5]);
    assert.match(key, UUID_V4);
    const [shown, message] = view.lastArgs("showInventoryItem");
    assert.deepEqual([shown.stock, shown.low_stock], [8, false]); // above the threshold of 5 now
    assert.deepEqual(message, { text: "Stock +5: 8 on sale.", kind: "ok" });
    assert.deepEqual(view.argsOf("showAdjusting"), [
      ["sleeping-pad", true],
      ["sleeping-pad", false],
    ]);
  });

  test("an unanswered adjustment pressed again resends the same key; the next adjustment gets a new one", async () => {
    const { api, view } = await openInventory();
    api.answer("adjustStock", networkError(), product("sleeping-pad", 1), product("sleeping-pad", 4));

    await view.trigger("adjustStock", "sleeping-pad", "-2");
    assert.deepEqual(view.lastArgs("showProductMessage"), [
      "sleeping-pad",
      { text: "Could not reach the API. Press Adjust again: it will not be applied twice.", kind: "error" },
    ]);
    await view.trigger("adjustStock", "sleeping-pad", "-2");
    await view.trigger("adjustStock", "sleeping-pad", "3");

    const [[, , firstKey], [, , retryKey], [, delta, nextKey]] = api.requestsOf("adjustStock");
    assert.equal(retryKey, firstKey);
    assert.equal(delta, 3);
    assert.notEqual(nextKey, firstKey);
    assert.equal(view.lastArgs("showInventoryItem")[0].stock, 4);
  });

  test("a refused adjustment (409, not enough stock) is said, and the next press is a new adjustment", async () => {
    const { api, view } = await openInventory();
    const short = refusal(409, "OUT_OF_STOCK", "Not enough stock.", { items: [{ product_id: "sleeping-pad" }] });
    api.answer("adjustStock", short, product("sleeping-pad", 0));
    await view.trigger("adjustStock", "sleeping-pad", "-9");
    assert.deepEqual(view.lastArgs("showProductMessage"), ["sleeping-pad", { text: "409 OUT_OF_STOCK: Not enough stock.", kind: "error" }]);
    await view.trigger("adjustStock", "sleeping-pad", "-9");
    const [[, , first], [, , second]] = api.requestsOf("adjustStock");
    assert.notEqual(first, second);
  });

  test("what is not a whole, non-zero number of units is not sent", async () => {
    const { api } = await openInventory();
    assert.deepEqual(["", "0", "1.5", "ten", "+-2", "1234567"].map(parseDelta), [null, null, null, null, null, null]);
    assert.deepEqual(["5", "+5", "-2", " 12 "].map(parseDelta), [5, 5, -2, 12]);
    assert.deepEqual(api.requests, []);
  });
});

describe("up-sell", () => {
  test("the screen reads the settings and 30 days of stats, and draws three charts", async () => {
    const { api, view } = await signedIn();
    api.answer("getUpsellSettings", SETTINGS).answer("getUpsellStats", STATS);
    await view.trigger("route", "#upsell");
    assert.deepEqual(api.requests, [["getUpsellSettings"], ["getUpsellStats", 30]]);
    const [{ settings, stats, charts, statsError }] = view.lastArgs("showUpsell");
    assert.deepEqual([settings, stats.totals.upsell_revenue, statsError], [SETTINGS, "180.75", null]);
    assert.deepEqual(
      charts.map((chart) => chart.title),
      [
        "Carts shown suggestions, and suggestions added",
        "Up-sell revenue",
        "Average order value, treated and held-out carts",
      ],
    );
  });

  test("stats that cannot be read leave the settings usable and say why", async () => {
    const { api, view } = await signedIn();
    api.answer("getUpsellSettings", SETTINGS).answer("getUpsellStats", refusal(503, "UNAVAILABLE", "Retry later."));
    await view.trigger("route", "#upsell");
    const [{ settings, charts, statsError }] = view.lastArgs("showUpsell");
    assert.deepEqual([settings, charts, statsError], [SETTINGS, [], "503 UNAVAILABLE: Retry later."]);
  });

  test("on, off and follow-global are saved as true, false and null, with the holdout share", async () => {
    const { api, view } = await signedIn("#upsell", (fake) =>
      fake.answer("getUpsellSettings", SETTINGS).answer("getUpsellStats", STATS),
    );
    api.answer(
      "putUpsellSettings",
      { enabled: null, holdout_percent: 20 },
      { enabled: false, holdout_percent: 0 },
      { enabled: true, holdout_percent: 50 },
    );
    await view.trigger("saveUpsell", { mode: "global", holdoutPercent: "20" });
    assert.deepEqual(view.lastArgs("showUpsellMessage"), [
      { text: "Saved: up-sell following the global flag, 20% of carts held out.", kind: "ok" },
    ]);
    await view.trigger("saveUpsell", { mode: "off", holdoutPercent: "0" });
    await view.trigger("saveUpsell", { mode: "on", holdoutPercent: " 50 " });
    assert.deepEqual(api.requestsOf("putUpsellSettings"), [
      [{ enabled: null, holdout_percent: 20 }],
      [{ enabled: false, holdout_percent: 0 }],
      [{ enabled: true, holdout_percent: 50 }],
    ]);
    assert.deepEqual(view.lastArgs("showUpsellSettings"), [{ enabled: true, holdout_percent: 50 }]);
  });

  test("a holdout share outside 0..50 or no choice is refused before anything is sent", async () => {
    const { api, view } = await signedIn("#upsell", (fake) =>
      fake.answer("getUpsellSettings", SETTINGS).answer("getUpsellStats", STATS),
    );
    await view.trigger("saveUpsell", { mode: "on", holdoutPercent: "51" });
    assert.deepEqual(view.lastArgs("showUpsellMessage"), [
      { text: "The holdout share is a whole percentage from 0 to 50.", kind: "error" },
    ]);
    await view.trigger("saveUpsell", { mode: null, holdoutPercent: "5" });
    await view.trigger("saveUpsell", { mode: "on", holdoutPercent: "2.5" });
    assert.deepEqual(api.requests, []);
  });
});
