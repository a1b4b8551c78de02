// state.js: what the page knows in memory, and how each change moves it.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { DeliveryChoice, PaymentState, ShopState, holdDeadline } from "../../storefront/state.js";
import {
  ACME_COUNTRIES,
  CART_SUMMER10,
  CART_TENT,
  COURIER,
  EMPTY_CART,
  EXPRESS,
  HEADLAMP,
  PRODUCTS,
  STANDARD,
  TENT,
  cardOrder,
  cart,
  delivery,
  shippingMethods,
} from "./fakes.js";

describe("ShopState", () => {
  test("starts empty: no products, no cart, no currency, nothing pending", () => {
    const state = new ShopState();
    assert.deepEqual(state.products, []);
    assert.equal(state.cart, null);
    assert.equal(state.currency, null);
    assert.equal(state.category, "");
    assert.equal(state.shortages.size, 0);
    assert.equal(state.priceChange, null);
    assert.equal(state.checkingOut, false);
    assert.equal(state.payment, null);
    assert.equal(state.cartIsEmpty(), true);
  });

  test("setProducts: the catalogue, its currency and sorted categories", () => {
    const state = new ShopState();
    state.setProducts(PRODUCTS);
    assert.equal(state.currency, "EUR");
    assert.deepEqual(state.categories(), ["camping", "lighting"]);
    assert.deepEqual(
      state.shownProducts().map((p) => p.product_id),
      ["tent-2p", "headlamp", "stove"],
    );
    assert.equal(state.product("headlamp"), HEADLAMP);
    assert.equal(state.product("nope"), undefined);
  });

  test("categories are listed once each, in alphabetical order", () => {
    const state = new ShopState();
    state.setProducts([
      HEADLAMP,
      TENT,
      { ...HEADLAMP, product_id: "lantern", category: "lighting" },
      { ...TENT, product_id: "axe", category: "bushcraft" },
    ]);
    assert.deepEqual(state.categories(), ["bushcraft", "camping", "lighting"]);
  });

  test("the category filter shows that category only, and is dropped when the category disappears", () => {
    const state = new ShopState();
    state.setProducts(PRODUCTS);
    state.category = "camping";
    assert.deepEqual(
      state.shownProducts().map((p) => p.product_id),
      ["tent-2p", "stove"],
    );
    state.setProducts([HEADLAMP]);
    assert.equal(state.category, "");
    assert.deepEqual(state.shownProducts(), [HEADLAMP]);
  });

  test("an empty catalogue keeps the currency it knew", () => {
    const state = new ShopState();
    state.setProducts(PRODUCTS);
    state.setProducts([]);
    assert.equal(state.currency, "EUR");
    assert.deepEqual(state.categories(), []);
  });

  test("setCart: the cart as the API returned it, its currency and quantities", () => {
    const state = new ShopState();
    state.setCart(cart([], {}, { currency: "USD" }));
    assert.equal(state.currency, "USD");
    assert.equal(state.cartIsEmpty(), true);
    state.setCart(CART_SUMMER10);
    assert.equal(state.cart, CART_SUMMER10);
    assert.equal(state.currency, "EUR");
    assert.equal(state.cartIsEmpty(), false);
    assert.equal(state.quantityInCart("headlamp"), 2);
    assert.equal(state.quantityInCart("tent-2p"), 1);
    assert.equal(state.quantityInCart("stove"), 0);
    state.setCart(null);
    assert.equal(state.cart, null);
    assert.equal(state.currency, "EUR");
    assert.equal(state.quantityInCart("headlamp"), 0);
  });

  test("shortages are forgotten once the cart holds no more than is available", () => {
    const state = new ShopState();
    state.setCart(CART_SUMMER10);
    state.setShortages([
      { product_id: "headlamp", requested: 2, available: 1 },
      { product_id: "tent-2p", requested: 1, available: 0 },
    ]);
    assert.deepEqual([...state.shortages.keys()], ["headlamp", "tent-2p"]);
    // The headlamps go down to 1; the tent is still short.
    state.setCart(cart([{ ...CART_SUMMER10.items[0] }, { ...CART_SUMMER10.items[1], quantity: 1 }]));
    assert.deepEqual([...state.shortages.keys()], ["tent-2p"]);
    assert.deepEqual(state.shortages.get("tent-2p"), { product_id: "tent-2p", requested: 1, available: 0 });
    state.setCart(EMPTY_CART);
    assert.equal(state.shortages.size, 0);
  });

  test("productName: from the catalogue, else the cart line, else the id", () => {
    const state = new ShopState();
    state.setCart(CART_TENT);
    assert.equal(state.productName("tent-2p"), "Tent 2P");
    state.setProducts([{ ...TENT, name: "Tent 2P (2025)" }]);
    assert.equal(state.productName("tent-2p"), "Tent 2P (2025)");
    assert.equal(state.productName("gone"), "gone");
  });
});

describe("PaymentState", () => {
  test("the hold is counted from now for as long as the API measured it", (t) => {
    t.mock.timers.enable({ apis: ["Date"], now: Date.parse("2030-01-01T00:00:00Z") });
    // The device's clock is years off the API's: the hold is still 15 minutes from now.
    const payment = new PaymentState(cardOrder(), "token", null);
    assert.equal(payment.secondsLeft(), 900);
    t.mock.timers.tick(60_500);
    assert.equal(payment.secondsLeft(), 839.5);
    assert.equal(payment.order.order_id, cardOrder().order_id);
    assert.equal(payment.token, "token");
    assert.equal(payment.stripe, null);
    assert.equal(payment.paymentMethod, null);
    assert.equal(payment.busy, false);
    assert.equal(payment.ended, false);
  });

  test("a resumed step keeps the deadline it was given (the one kept on this device since the checkout)", (t) => {
    t.mock.timers.enable({ apis: ["Date"], now: Date.parse("2030-01-01T00:00:00Z") });
    const deadline = Date.parse("2030-01-01T00:04:10Z");
    assert.equal(new PaymentState(cardOrder(), "token", null, deadline).secondsLeft(), 250);
    assert.equal(holdDeadline(cardOrder(), 1000), 1000 + 900_000);
  });

  test("a card attempt id is kept until it is answered, then a new one is made", () => {
    const payment = new PaymentState(cardOrder(), "token", null);
    const first = payment.cardAttempt();
    assert.match(first, /^[0-9a-f]{32}$/);
    assert.equal(payment.cardAttempt(), first);
    payment.attempt = null;
    const second = payment.cardAttempt();
    assert.match(second, /^[0-9a-f]{32}$/);
    assert.notEqual(second, first);
  });
});

describe("DeliveryChoice", () => {
  test("the first country is chosen unless the cart's is served; no methods or method yet", () => {
    const choice = new DeliveryChoice();
    assert.deepEqual([choice.countries, choice.country, choice.methods, choice.method], [null, null, null, null]);
    choice.setCountries(ACME_COUNTRIES);
    assert.equal(choice.country, "DE");
    const other = new DeliveryChoice();
    other.setCountries(ACME_COUNTRIES, "NL");
    assert.equal(other.country, "NL");
    other.setCountries(ACME_COUNTRIES, "JP");
    assert.equal(other.country, "NL", "a country already chosen and still served stays");
    const fresh = new DeliveryChoice();
    fresh.setCountries(ACME_COUNTRIES, "JP");
    assert.equal(fresh.country, "DE");
    const none = new DeliveryChoice();
    none.setCountries([]);
    assert.equal(none.country, null);
  });

  test("a method is kept across countries only where it is offered", () => {
    const choice = new DeliveryChoice();
    choice.setCountries(ACME_COUNTRIES);
    assert.equal(choice.setMethods("DE", shippingMethods("DE").items), true);
    choice.method = "courier";
    assert.equal(choice.offers("courier"), true);
    choice.chooseCountry("FR");
    assert.equal(choice.methods, null, "France's methods are to be loaded");
    assert.equal(choice.setMethods("DE", shippingMethods("DE").items), false, "a late answer for Germany is dropped");
    assert.equal(choice.setMethods("FR", shippingMethods("FR").items), true);
    assert.deepEqual(choice.methods, [STANDARD, EXPRESS]);
    assert.equal(choice.method, null, "the courier does not go to France");
    choice.method = "express";
    choice.chooseCountry("AT");
    choice.setMethods("AT", shippingMethods("AT").items);
    assert.equal(choice.method, "express");
    assert.equal(choice.offers(null), false);
    assert.equal(COURIER.countries[0], "DE");
  });

  test("follows the cart's delivery: its country and method", () => {
    const choice = new DeliveryChoice();
    choice.setCountries(ACME_COUNTRIES);
    choice.setMethods("DE", shippingMethods("DE").items);
    choice.follow(delivery(EXPRESS, { country: "NL" }));
    assert.deepEqual([choice.country, choice.method, choice.methods], ["NL", "express", null]);
    choice.follow(null);
    assert.deepEqual([choice.country, choice.method], ["NL", "express"]);
  });
});

describe("ShopState's delivery and order page", () => {
  test("start with a fresh choice and no order page", () => {
    const state = new ShopState();
    assert.ok(state.delivery instanceof DeliveryChoice);
    assert.equal(state.delivery.accepted, null);
    assert.equal(state.orderPage, null);
  });
});
