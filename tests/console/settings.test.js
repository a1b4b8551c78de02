// console/settings.js and session.js: routes from the address, and the key in sessionStorage only.

import assert from "node:assert/strict";
import { test } from "node:test";

import { forgetKey, rememberKey, savedKey } from "../../console/session.js";
import { hashOf, routeOf, tenantFromUrl } from "../../console/settings.js";
import { KEY, installWindow } from "./fakes.js";

test("the address names a screen or one order; anything else is the orders", () => {
  assert.deepEqual(routeOf("#inventory"), { screen: "inventory" });
  assert.deepEqual(routeOf("#upsell"), { screen: "upsell" });
  assert.deepEqual(routeOf("#order=01HZX3M2B7C8D9EFGHJKMNPQRS"), { screen: "order", orderId: "01HZX3M2B7C8D9EFGHJKMNPQRS" });
  for (const hash of ["", "#", "#orders", "#order=", "#order=<script>", "#settings"]) {
    assert.deepEqual(routeOf(hash), { screen: "orders" }, hash);
  }
  assert.equal(hashOf({ screen: "order", orderId: "01A" }), "#order=01A");
  assert.equal(hashOf({ screen: "inventory" }), "#inventory");
});

test("the tenant comes from ?tenant=, acme by default", () => {
  assert.equal(tenantFromUrl("http://127.0.0.1:4566/b/console/index.html?tenant=globex#orders"), "globex");
  assert.equal(tenantFromUrl("http://127.0.0.1:4566/b/console/index.html"), "acme");
});

test("the key is kept per tenant in sessionStorage, and forgotten (localStorage would throw)", () => {
  const session = installWindow();
  assert.equal(savedKey("acme"), null);
  rememberKey("acme", KEY);
  assert.deepEqual([...session.items], [["cartwise-console:acme:admin-key", KEY]]);
  assert.equal(savedKey("acme"), KEY);
  assert.equal(savedKey("globex"), null);
  forgetKey("acme");
  assert.equal(savedKey("acme"), null);
  assert.equal(session.items.size, 0);
});

test("without storage the console simply asks again", () => {
  globalThis.window = {
    get sessionStorage() {
      throw new Error("SecurityError");
    },
  };
  rememberKey("acme", KEY);
  assert.equal(savedKey("acme"), null);
  forgetKey("acme");
});
