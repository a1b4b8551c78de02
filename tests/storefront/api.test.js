// api.js: the requests it builds, and what it makes of every kind of answer (globalThis.fetch stubbed).

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";

import { ApiError, createApi, errorMessage, isApiError } from "../../storefront/api.js";

const BASE = "https://api.example.test/prod";
const ROOT = `${BASE}/tenants/acme`;

let requests;
let answers;
const realFetch = globalThis.fetch;

/** fetch, recording [url, init] and answering from `answers` (a Response, an Error to reject with, or a function). */
function fakeFetch(url, init) {
  requests.push([url, init]);
  if (answers.length === 0) return Promise.reject(new Error(`unscripted fetch ${init.method} ${url}`));
  const answer = answers.shift();
  const result = typeof answer === "function" ? answer(url, init) : answer;
  return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
}

const json = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

beforeEach(() => {
  requests = [];
  answers = [];
  globalThis.fetch = fakeFetch;
});

afterEach(() => {
  globalThis.fetch = realFetch;
});

/** The request as sent, without its AbortSignal: [method, url, headers, body]. */
function sent(index = 0) {
  const [url, init] = requests[index];
  assert.ok(init.signal instanceof AbortSignal, "every request can be aborted (the timeout)");
  return [init.method, url, init.headers, init.body];
}

async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected the call to throw");
}

describe("requests", () => {
  test("listProducts asks for pages of 100 and follows next_cursor", async () => {
    answers.push(
      json(200, { items: [{ product_id: "a" }, { product_id: "b" }], next_cursor: "c2" }),
      json(200, { items: [{ product_id: "c" }], next_cursor: null }),
    );
    const items = await createApi(BASE, "acme").listProducts();
    assert.deepEqual(items, [{ product_id: "a" }, { product_id: "b" }, { product_id: "c" }]);
    assert.deepEqual(sent(0), ["GET", `${ROOT}/products?limit=100`, { Accept: "application/json" }, undefined]);
    assert.deepEqual(sent(1), ["GET", `${ROOT}/products?limit=100&cursor=c2`, { Accept: "application/json" }, undefined]);
  });

  test("the base URL's trailing slashes go, and the tenant and ids are URL-encoded", async () => {
    answers.push(json(200, { cart_id: "c" }), json(200, { cart_id: "c" }));
    const api = createApi(`${BASE}//`, "ac me/x");
    await api.getCart("c/1?");
    await api.setQuantity("c 1", "mug#blue", 2);
    assert.equal(requests[0][0], `${BASE}/tenants/ac%20me%2Fx/carts/c%2F1%3F`);
    assert.equal(requests[1][0], `${BASE}/tenants/ac%20me%2Fx/carts/c%201/items/mug%23blue`);
  });

  test("a JSON body is sent with its Content-Type", async () => {
    const api = createApi(BASE, "acme");
    answers.push(json(201, { cart_id: "c1" }), json(200, {}), json(200, {}), json(200, {}));
    assert.deepEqual(await api.createCart(), { cart_id: "c1" });
    await api.setQuantity("c1", "tent-2p", 3);
    await api.applyPromo("c1", "SUMMER10");
    await api.removePromo("c1");
    const withBody = { Accept: "application/json", "Content-Type": "application/json" };
    assert.deepEqual(sent(0), ["POST", `${ROOT}/carts`, withBody, "{}"]);
    assert.deepEqual(sent(1), ["PUT", `${ROOT}/carts/c1/items/tent-2p`, withBody, '{"quantity":3}']);
    assert.deepEqual(sent(2), ["PUT", `${ROOT}/carts/c1/promo`, withBody, '{"code":"SUMMER10"}']);
    assert.deepEqual(sent(3), ["DELETE", `${ROOT}/carts/c1/promo`, { Accept: "application/json" }, undefined]);
  });

  test("checkout sends the Idempotency-Key and the total the shopper saw", async () => {
    answers.push(json(201, { order: {}, order_token: "t" }));
    await createApi(BASE, "acme").checkout("c1", { key: "k-123", expectedTotal: "193.30" });
    assert.deepEqual(sent(), [
      "POST",
      `${ROOT}/carts/c1/checkout`,
      { Accept: "application/json", "Idempotency-Key": "k-123", "Content-Type": "application/json" },
      '{"expected_total":"193.30"}',
    ]);
  });

  test("the order's calls carry X-Order-Token", async () => {
    const api = createApi(BASE, "acme");
    answers.push(json(200, {}), json(200, {}), json(200, {}), json(200, {}), json(200, {}));
    await api.getOrder("o1");
    await api.getUpsell("c1");
    await api.cancelOrder("o1", "tok");
    await api.startCardSetup("o1", "tok", "attempt-1");
    await api.pay("o1", "tok", "pm_1");
    const token = { Accept: "application/json", "X-Order-Token": "tok" };
    const tokenAndBody = { ...token, "Content-Type": "application/json" };
    assert.deepEqual(sent(0), ["GET", `${ROOT}/orders/o1`, { Accept: "application/json" }, undefined]);
    assert.deepEqual(sent(1), ["GET", `${ROOT}/carts/c1/upsell`, { Accept: "application/json" }, undefined]);
    assert.deepEqual(sent(2), ["POST", `${ROOT}/orders/o1/cancel`, token, undefined]);
    assert.deepEqual(sent(3), ["POST", `${ROOT}/orders/o1/payment/setup`, tokenAndBody, '{"attempt":"attempt-1"}']);
    assert.deepEqual(sent(4), ["POST", `${ROOT}/orders/o1/payment`, tokenAndBody, '{"payment_method":"pm_1"}']);
  });

  test("getOrder with the order's token asks for the token holder's order", async () => {
    answers.push(json(200, { order_id: "o1", timeline: [] }));
    const answer = await createApi(BASE, "acme").getOrder("o1", "tok");
    assert.deepEqual(answer, { order_id: "o1", timeline: [] });
    assert.deepEqual(sent(), ["GET", `${ROOT}/orders/o1`, { Accept: "application/json", "X-Order-Token": "tok" }, undefined]);
  });

  test("shipping methods: all of them, or those of one country", async () => {
    const api = createApi(BASE, "acme");
    answers.push(json(200, { countries: ["DE"], items: [] }), json(200, { countries: ["DE"], items: [] }));
    assert.deepEqual(await api.listShippingMethods(), { countries: ["DE"], items: [] });
    await api.listShippingMethods("DE");
    assert.deepEqual(sent(0), ["GET", `${ROOT}/shipping-methods`, { Accept: "application/json" }, undefined]);
    assert.deepEqual(sent(1), ["GET", `${ROOT}/shipping-methods?country=DE`, { Accept: "application/json" }, undefined]);
  });

  test("setDelivery PUTs the e-mail, address and method as they are given", async () => {
    answers.push(json(200, { cart_id: "c1" }));
    const delivery = {
      email: "ada@example.com",
      address: { name: "Ada", line1: "Unter den Linden 1", city: "Berlin", postal_code: "10117", country: "DE" },
      method: "standard",
    };
    await createApi(BASE, "acme").setDelivery("c 1", delivery);
    assert.deepEqual(sent(), [
      "PUT",
      `${ROOT}/carts/c%201/delivery`,
      { Accept: "application/json", "Content-Type": "application/json" },
      '{"email":"ada@example.com","address":{"name":"Ada","line1":"Unter den Linden 1","city":"Berlin",' +
        '"postal_code":"10117","country":"DE"},"method":"standard"}',
    ]);
  });

  test("a refused delivery keeps the fields the API names in details", async () => {
    const fields = [{ field: "email", message: "value is not a valid email address" }];
    answers.push(json(400, { error: { code: "BAD_REQUEST", message: "Invalid request.", details: { fields } } }));
    const error = await rejection(createApi(BASE, "acme").setDelivery("c1", {}));
    assert.equal(error.code, "BAD_REQUEST");
    assert.deepEqual(error.details, { fields });
  });
});

describe("answers", () => {
  test("409 with the error envelope: an ApiError with its code, message and details; refused", async () => {
    const details = { items: [{ product_id: "mug-blue", requested: 5, available: 2 }] };
    answers.push(
      json(409, { error: { code: "OUT_OF_STOCK", message: "Not enough stock for some items.", details } }),
    );
    const error = await rejection(createApi(BASE, "acme").setQuantity("c1", "mug-blue", 5));
    assert.ok(error instanceof ApiError);
    assert.equal(error.name, "ApiError");
    assert.equal(error.status, 409);
    assert.equal(error.code, "OUT_OF_STOCK");
    assert.equal(error.apiMessage, "Not enough stock for some items.");
    assert.equal(error.message, "Not enough stock for some items.");
    assert.deepEqual(error.details, details);
    assert.equal(error.refused, true);
    assert.equal(error.retryable, false);
    assert.equal(error.network, false);
    assert.equal(isApiError(error, "OUT_OF_STOCK"), true);
    assert.equal(isApiError(error, "PRICE_CHANGED"), false);
    assert.equal(errorMessage(error), "There is not enough stock for some items.");
  });

  test("503 UNAVAILABLE with Retry-After: retryable, not refused", async () => {
    answers.push(
      json(
        503,
        { error: { code: "UNAVAILABLE", message: "Service temporarily unavailable, retry later.", details: {} } },
        { "Retry-After": "1" },
      ),
    );
    const error = await rejection(createApi(BASE, "acme").checkout("c1", { key: "k", expectedTotal: "1.00" }));
    assert.equal(error.status, 503);
    assert.equal(error.code, "UNAVAILABLE");
    assert.equal(error.retryable, true);
    assert.equal(error.refused, false);
    assert.equal(errorMessage(error), "The shop is busy right now. Please try again in a moment.");
  });

  test("429 (throttled before the shop) is retryable and says nothing about the request", async () => {
    answers.push(json(429, { message: "Too Many Requests" }));
    const error = await rejection(createApi(BASE, "acme").getCart("c1"));
    assert.equal(error.code, "HTTP_429");
    assert.equal(error.retryable, true);
    assert.equal(error.refused, false);
    assert.equal(errorMessage(error), "The shop refused this request (HTTP 429).");
  });

  test("an error without an envelope gets HTTP_<status>; a 5xx reads as the shop's fault", async () => {
    answers.push(new Response("<html>Bad Gateway</html>", { status: 502 }), new Response("", { status: 404 }));
    const api = createApi(BASE, "acme");
    const gateway = await rejection(api.getCart("c1"));
    assert.equal(gateway.code, "HTTP_502");
    assert.equal(gateway.apiMessage, "");
    assert.deepEqual(gateway.details, {});
    assert.equal(errorMessage(gateway), "Something went wrong on the shop's side. Please try again.");
    const missing = await rejection(api.getCart("c1"));
    assert.equal(missing.code, "HTTP_404");
    assert.equal(missing.refused, true);
    assert.equal(errorMessage(missing), "The shop refused this request (HTTP 404).");
  });

  test("an envelope's odd message and details are dropped, not shown", async () => {
    answers.push(json(400, { error: { code: "SOMETHING_NEW", message: 7, details: "x" } }));
    const error = await rejection(createApi(BASE, "acme").getCart("c1"));
    assert.equal(error.code, "SOMETHING_NEW");
    assert.equal(error.apiMessage, "");
    assert.deepEqual(error.details, {});
    assert.equal(errorMessage(error), "The shop refused this request (HTTP 400).");
  });

  test("no answer (fetch rejects): NETWORK, status 0, retryable", async () => {
    answers.push(new TypeError("Failed to fetch"));
    const error = await rejection(createApi(BASE, "acme").getCart("c1"));
    assert.equal(error.status, 0);
    assert.equal(error.code, "NETWORK");
    assert.equal(error.network, true);
    assert.equal(error.retryable, true);
    assert.equal(error.refused, false);
    assert.equal(errorMessage(error), "Could not reach the shop. Check your internet connection and try again.");
  });

  test("no answer within 15 s: the request is aborted, TIMEOUT", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    answers.push(
      (url, init) =>
        new Promise((resolve, reject) => init.signal.addEventListener("abort", () => reject(new Error("aborted")))),
    );
    const call = rejection(createApi(BASE, "acme").getCart("c1"));
    t.mock.timers.tick(14_999);
    assert.equal(requests[0][1].signal.aborted, false);
    t.mock.timers.tick(1);
    assert.equal(requests[0][1].signal.aborted, true);
    const error = await call;
    assert.equal(error.code, "TIMEOUT");
    assert.equal(error.status, 0);
    assert.equal(error.retryable, true);
    assert.equal(errorMessage(error), "The shop did not answer in time. Check your internet connection and try again.");
  });

  test("a 2xx that is not a JSON object: BAD_RESPONSE", async () => {
    answers.push(new Response("<html>", { status: 200 }), new Response("", { status: 200 }), json(200, "text"));
    const api = createApi(BASE, "acme");
    for (let i = 0; i < 3; i += 1) {
      const error = await rejection(api.getCart("c1"));
      assert.equal(error.code, "BAD_RESPONSE");
      assert.equal(error.status, 200);
      assert.equal(errorMessage(error), "The shop sent an answer this page cannot read. Please try again.");
    }
  });
});

describe("errorMessage", () => {
  test("a code the page knows gets the page's sentence, whatever the API's message", () => {
    const error = new ApiError({ status: 404, code: "TENANT_NOT_FOUND", message: "Tenant 'x' not found." });
    assert.equal(errorMessage(error), "This shop does not exist. Choose one of the shops above.");
  });

  test("a code it does not know shows the API's own message (PAYMENT_FAILED: Stripe's words)", () => {
    const declined = new ApiError({ status: 402, code: "PAYMENT_FAILED", message: "Your card was declined." });
    assert.equal(errorMessage(declined), "Your card was declined.");
    const other = new ApiError({ status: 422, code: "PROMO_EXPIRED", message: "This code expired on 1 May." });
    assert.equal(errorMessage(other), "This code expired on 1 May.");
  });

  test("a checkout without delivery gets the page's sentence; a country not served, the API's", () => {
    const required = new ApiError({ status: 422, code: "DELIVERY_REQUIRED", message: "Set the delivery first." });
    assert.equal(
      errorMessage(required),
      "Fill in where your order goes and choose a delivery method before placing the order.",
    );
    const country = new ApiError({ status: 422, code: "COUNTRY_NOT_SERVED", message: "acme does not ship to JP." });
    assert.equal(errorMessage(country), "acme does not ship to JP.");
  });

  test("anything but an ApiError is this page's fault, logged, never shown raw", (t) => {
    const logged = t.mock.method(console, "error", () => {});
    const bug = new TypeError("x is undefined");
    assert.equal(errorMessage(bug), "Something went wrong in this page. Please reload and try again.");
    assert.deepEqual(logged.mock.calls[0].arguments, [bug]);
  });
});
