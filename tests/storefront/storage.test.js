// storage.js: the cart id and an unanswered checkout's Idempotency-Key, per tenant, in localStorage.

import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";

import * as storage from "../../storefront/storage.js";
import { CART_ID, MemoryStorage, installStorage } from "./fakes.js";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let local;
beforeEach(() => {
  local = installStorage();
});

describe("cart id", () => {
  test("round-trips per tenant under cartwise:<tenant>:cart", () => {
    assert.equal(storage.savedCartId("acme"), null);
    storage.rememberCart("acme", CART_ID);
    storage.rememberCart("globex", "01GLOBEXCART0000000000000");
    assert.equal(storage.savedCartId("acme"), CART_ID);
    assert.equal(storage.savedCartId("globex"), "01GLOBEXCART0000000000000");
    assert.equal(local.getItem("cartwise:acme:cart"), CART_ID);
    storage.forgetCart("acme");
    assert.equal(storage.savedCartId("acme"), null);
    assert.equal(local.items.has("cartwise:acme:cart"), false);
    assert.equal(storage.savedCartId("globex"), "01GLOBEXCART0000000000000");
  });
});

describe("pending checkout", () => {
  test("an attempt is remembered with its cart and total, and a retry gets the same key", () => {
    const attempt = storage.checkoutAttempt("acme", CART_ID, "193.30");
    assert.match(attempt.key, UUID_V4);
    assert.equal(attempt.expectedTotal, "193.30");
    assert.deepEqual(JSON.parse(local.getItem("cartwise:acme:checkout")), {
      cartId: CART_ID,
      key: attempt.key,
      expectedTotal: "193.30",
    });
    assert.deepEqual(storage.pendingCheckout("acme", CART_ID), attempt);
    assert.deepEqual(storage.checkoutAttempt("acme", CART_ID, "193.30"), attempt);
  });

  test("another total is another attempt, with a new key that replaces the old one", () => {
    const first = storage.checkoutAttempt("acme", CART_ID, "193.30");
    const second = storage.checkoutAttempt("acme", CART_ID, "199.30");
    assert.notEqual(second.key, first.key);
    assert.deepEqual(storage.pendingCheckout("acme", CART_ID), { key: second.key, expectedTotal: "199.30" });
  });

  test("belongs to one cart and one tenant", () => {
    storage.checkoutAttempt("acme", CART_ID, "193.30");
    assert.equal(storage.pendingCheckout("acme", "01OTHERCART00000000000000"), null);
    assert.equal(storage.pendingCheckout("globex", CART_ID), null);
  });

  test("forgetCheckout drops it", () => {
    storage.checkoutAttempt("acme", CART_ID, "193.30");
    storage.forgetCheckout("acme");
    assert.equal(storage.pendingCheckout("acme", CART_ID), null);
    assert.equal(local.items.has("cartwise:acme:checkout"), false);
  });

  test("missing or corrupt values read as no pending checkout", () => {
    for (const value of [
      "{not json",
      "null",
      "42",
      '"a string"',
      "[]",
      JSON.stringify({ cartId: CART_ID, expectedTotal: "193.30" }),
      JSON.stringify({ cartId: CART_ID, key: 7, expectedTotal: "193.30" }),
      JSON.stringify({ cartId: CART_ID, key: "k", expectedTotal: 193.3 }),
    ]) {
      local.setItem("cartwise:acme:checkout", value);
      assert.equal(storage.pendingCheckout("acme", CART_ID), null, value);
    }
    // A corrupt value is replaced by a fresh attempt.
    local.setItem("cartwise:acme:checkout", "{not json");
    const attempt = storage.checkoutAttempt("acme", CART_ID, "193.30");
    assert.match(attempt.key, UUID_V4);
    assert.deepEqual(storage.pendingCheckout("acme", CART_ID), attempt);
  });
});

describe("order tokens", () => {
  test("kept per tenant and order under cartwise:<tenant>:order:<id>, with a card order's hold deadline", () => {
    assert.equal(storage.savedOrder("acme", "o1"), null);
    storage.rememberOrder("acme", "o1", "tok-1", 1_717_236_000_000);
    storage.rememberOrder("acme", "o2", "tok-2");
    storage.rememberOrder("globex", "o1", "tok-3");
    assert.deepEqual(storage.savedOrder("acme", "o1"), { token: "tok-1", holdDeadline: 1_717_236_000_000 });
    assert.deepEqual(storage.savedOrder("acme", "o2"), { token: "tok-2", holdDeadline: null });
    assert.deepEqual(storage.savedOrder("globex", "o1"), { token: "tok-3", holdDeadline: null });
    assert.equal(local.getItem("cartwise:acme:order:o1"), '{"token":"tok-1","holdDeadline":1717236000000}');
    storage.forgetOrder("acme", "o1");
    assert.equal(storage.savedOrder("acme", "o1"), null);
    assert.equal(local.items.has("cartwise:acme:order:o1"), false);
    assert.deepEqual(storage.savedOrder("globex", "o1"), { token: "tok-3", holdDeadline: null });
  });

  test("a corrupt or tokenless entry is no token", () => {
    for (const value of ["{", "null", '"tok"', '{"token": 7}', '{"token": ""}', '{"holdDeadline": 5}']) {
      local.setItem("cartwise:acme:order:o1", value);
      assert.equal(storage.savedOrder("acme", "o1"), null, value);
    }
    local.setItem("cartwise:acme:order:o1", '{"token": "tok", "holdDeadline": "soon"}');
    assert.deepEqual(storage.savedOrder("acme", "o1"), { token: "tok", holdDeadline: null });
  });
});

describe("without localStorage (private modes, blocked storage)", () => {
  test("reading localStorage throws: nothing is remembered and nothing throws", () => {
    globalThis.window = {
      get localStorage() {
        throw new Error("SecurityError: The operation is insecure.");
      },
    };
    assert.equal(storage.savedCartId("acme"), null);
    assert.doesNotThrow(() => storage.rememberCart("acme", CART_ID));
    assert.doesNotThrow(() => storage.forgetCart("acme"));
    const attempt = storage.checkoutAttempt("acme", CART_ID, "193.30");
    assert.match(attempt.key, UUID_V4);
    assert.equal(storage.pendingCheckout("acme", CART_ID), null);
    assert.doesNotThrow(() => storage.forgetCheckout("acme"));
    assert.doesNotThrow(() => storage.rememberOrder("acme", "o1", "tok"));
    assert.equal(storage.savedOrder("acme", "o1"), null);
  });

  test("a full storage (setItem throws) is ignored", () => {
    const full = new MemoryStorage();
    full.setItem = () => {
      throw new Error("QuotaExceededError");
    };
    installStorage(full);
    assert.doesNotThrow(() => storage.rememberCart("acme", CART_ID));
    assert.equal(storage.savedCartId("acme"), null);
  });
});
