// console/api.js against a recorded fetch: the key goes in X-Api-Key (never the URL), the admin routes'
// paths and bodies, and every failure as an AdminApiError the console can show.

import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { AdminApiError, createAdminApi, describeError } from "../../console/api.js";
import { KEY } from "./fakes.js";

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

/** fetch answering `status` with `body` (JSON) and recording the requests. */
function answering(status, body) {
  const requests = [];
  globalThis.fetch = async (url, init) => {
    requests.push({ url, ...init, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    return new Response(body === undefined ? "" : JSON.stringify(body), { status });
  };
  return requests;
}

const api = () => createAdminApi("http://127.0.0.1:8000/", "acme", KEY);

test("the key travels in X-Api-Key only, never in an address", async () => {
  const requests = answering(200, { items: [], next_cursor: null });
  await api().listOrders({ limit: 20, status: "paid", cursor: "abc" });
  await api().listInventory({ limit: 50 });
  assert.deepEqual(
    requests.map((r) => [r.method, r.url, r.headers["X-Api-Key"]]),
    [
      ["GET", "http://127.0.0.1:8000/tenants/acme/orders?limit=20&status=paid&cursor=abc", KEY],
      ["GET", "http://127.0.0.1:8000/tenants/acme/inventory?limit=50", KEY],
    ],
  );
  assert.ok(requests.every((r) => !r.url.includes(KEY)));
});

test("the actions' routes and bodies", async () => {
  const requests = answering(200, {});
  const admin = api();
  await admin.ship("O1", { carrier: "DHL", tracking_number: "1" });
  await admin.markDelivered("O1");
  await admin.cancel("O1");
  await admin.refund("O1");
  await admin.refund("O1", true);
  await admin.updateProduct("tent-2p", { name: "Tent" });
  await admin.adjustStock("tent-2p", -2, "key-1");
  await admin.putUpsellSettings({ enabled: null, holdout_percent: 10 });
  await admin.getUpsellStats(30);
  const base = "http://127.0.0.1:8000/tenants/acme";
  assert.deepEqual(
    requests.map((r) => [r.method, r.url.slice(base.length), r.body]),
    [
      ["POST", "/orders/O1/shipment", { carrier: "DHL", tracking_number: "1" }],
      ["POST", "/orders/O1/delivered", undefined],
      ["POST", "/orders/O1/cancel", undefined],
      ["POST", "/orders/O1/refund", {}],
      ["POST", "/orders/O1/refund", { restock: true }],
      ["PUT", "/products/tent-2p", { name: "Tent" }],
      ["POST", "/products/tent-2p/stock", { delta: -2 }],
      ["PUT", "/upsell/settings", { enabled: null, holdout_percent: 10 }],
      ["GET", "/upsell/stats?days=30", undefined],
    ],
  );
  assert.equal(requests[6].headers["Idempotency-Key"], "key-1");
});

test("errors keep status, code, message and details; the operator reads them as they are", async () => {
  answering(409, { error: { code: "ORDER_NOT_SHIPPABLE", message: "Order is cancelled.", details: { status: "cancelled" } } });
  const error = await api().ship("O1", {}).catch((caught) => caught);
  assert.ok(error instanceof AdminApiError);
  assert.deepEqual([error.status, error.code, error.details, error.keyRefused, error.uncertain], [409, "ORDER_NOT_SHIPPABLE", { status: "cancelled" }, false, false]);
  assert.equal(describeError(error), "409 ORDER_NOT_SHIPPABLE: Order is cancelled.");

  const fields = { fields: [{ field: "body.tracking_url", message: "String should match pattern" }] };
  answering(400, { error: { code: "BAD_REQUEST", message: "Invalid request body.", details: fields } });
  const invalid = await api().ship("O1", {}).catch((caught) => caught);
  assert.equal(describeError(invalid), "400 BAD_REQUEST: Invalid request body. tracking_url: String should match pattern");

  answering(403, { error: { code: "FORBIDDEN", message: "This key is not valid for this tenant." } });
  assert.equal((await api().getOrder("O1").catch((caught) => caught)).keyRefused, true);
  answering(502, undefined);
  const gateway = await api().getOrder("O1").catch((caught) => caught);
  assert.deepEqual([gateway.code, gateway.uncertain, describeError(gateway)], ["HTTP_502", true, "502 HTTP_502"]);
  globalThis.fetch = async () => {
    throw new TypeError("Failed to fetch");
  };
  const network = await api().getOrder("O1").catch((caught) => caught);
  assert.deepEqual([network.status, network.uncertain, describeError(network)], [0, true, "Could not reach the API."]);
});
