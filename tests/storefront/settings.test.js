// settings.js: the order page's address (#order=…&token=…) and the shop's URLs.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { orderHash, orderRoute, tenantFromUrl, urlForTenant } from "../../storefront/settings.js";

const ORDER_ID = "01HZX3M2B7C8D9EFGHJKMNPQRS";

describe("orderRoute", () => {
  test("#order={id} names an order; &token= carries its token", () => {
    assert.deepEqual(orderRoute(`#order=${ORDER_ID}`), { orderId: ORDER_ID, token: null });
    assert.deepEqual(orderRoute(`#order=${ORDER_ID}&token=3mZ0n1c7b9Wq5yHk2r8LxV-_`), {
      orderId: ORDER_ID,
      token: "3mZ0n1c7b9Wq5yHk2r8LxV-_",
    });
    assert.deepEqual(orderRoute(`#token=abc&order=${ORDER_ID}`), { orderId: ORDER_ID, token: "abc" });
    assert.deepEqual(orderRoute(`#order=${ORDER_ID}&token=`), { orderId: ORDER_ID, token: null });
  });

  test("anything else is the shop", () => {
    for (const hash of ["", "#", "#cart", "#order=", "#order=../../admin", "#order=a%20b", null, undefined]) {
      assert.equal(orderRoute(hash), null, String(hash));
    }
  });

  test("orderHash is the address without the token", () => {
    assert.equal(orderHash(ORDER_ID), `#order=${ORDER_ID}`);
    assert.deepEqual(orderRoute(orderHash(ORDER_ID)), { orderId: ORDER_ID, token: null });
  });
});

describe("tenant URLs", () => {
  test("the tenant from ?tenant=, the first demo shop without it; another tenant's URL keeps the rest", () => {
    assert.equal(tenantFromUrl("https://shop.example/index.html?tenant=globex#order=x"), "globex");
    assert.equal(tenantFromUrl("https://shop.example/index.html"), "acme");
    assert.equal(
      urlForTenant("globex", "https://shop.example/index.html?tenant=acme"),
      "https://shop.example/index.html?tenant=globex",
    );
  });
});
