// format.js: the API's money strings shown exactly, the VAT rate, stock labels and the hold's countdown.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  formatCountdown,
  formatDeduction,
  formatMoney,
  formatRate,
  stockLabel,
  stockLevel,
} from "../../storefront/format.js";

describe("formatMoney", () => {
  test("EUR and USD (the demo tenants' currencies) with their symbols and two decimals", () => {
    assert.equal(formatMoney("129.00", "EUR"), "€129.00");
    assert.equal(formatMoney("193.30", "EUR"), "€193.30");
    assert.equal(formatMoney("1234.50", "USD"), "$1,234.50");
    assert.equal(formatMoney("0.00", "EUR"), "€0.00");
  });

  test("other ISO currencies the page may meet", () => {
    assert.equal(formatMoney("12.50", "GBP"), "£12.50");
    assert.equal(formatMoney("12.50", "CHF"), "CHF\u00a012.50");
    // Held to two decimals whatever the currency's habit: the API's amount, not a rounded yen.
    assert.equal(formatMoney("12.50", "JPY"), "¥12.50");
  });

  test("the API's string is formatted exactly, never through a float", () => {
    assert.equal(formatMoney("9007199254740993.10", "EUR"), "€9,007,199,254,740,993.10");
    assert.equal(formatMoney("0.10", "EUR"), "€0.10");
    assert.equal(formatMoney("19.9", "EUR"), "€19.90");
  });

  test("a well-formed code Intl does not know gets the code as its symbol", () => {
    assert.equal(formatMoney("12.50", "XYZ"), "XYZ\u00a012.50");
  });

  test("a malformed or missing currency falls back to the amount and the code", () => {
    assert.equal(formatMoney("12.50", "EURO"), "12.50 EURO");
    assert.equal(formatMoney("12.50", null), "12.50 null");
  });
});

describe("formatDeduction", () => {
  test("a discount is shown with a minus sign (U+2212)", () => {
    assert.equal(formatDeduction("17.90", "EUR"), "\u2212€17.90");
    assert.equal(formatDeduction("0.01", "USD"), "\u2212$0.01");
  });

  test("no discount is a plain zero", () => {
    assert.equal(formatDeduction("0.00", "EUR"), "€0.00");
    assert.equal(formatDeduction("0", "EUR"), "€0.00");
  });
});

test("formatRate: the VAT rate as a percentage", () => {
  assert.equal(formatRate("0.20"), "20%");
  assert.equal(formatRate("0.075"), "7.5%");
  assert.equal(formatRate("0.055"), "5.5%");
  assert.equal(formatRate("0"), "0%");
});

describe("stock", () => {
  test("levels: out at 0 or below, low from 1 to 5, in above 5", () => {
    assert.deepEqual(
      [-1, 0, 1, 5, 6, 40].map(stockLevel),
      ["out", "out", "low", "low", "in", "in"],
    );
  });

  test("labels", () => {
    assert.equal(stockLabel(0), "Sold out");
    assert.equal(stockLabel(1), "Only 1 left");
    assert.equal(stockLabel(5), "Only 5 left");
    assert.equal(stockLabel(6), "In stock (6)");
  });
});

test("formatCountdown: minutes:seconds, rounded up, never negative", () => {
  assert.equal(formatCountdown(900), "15:00");
  assert.equal(formatCountdown(899.9), "15:00");
  assert.equal(formatCountdown(845), "14:05");
  assert.equal(formatCountdown(60), "1:00");
  assert.equal(formatCountdown(59.01), "1:00");
  assert.equal(formatCountdown(9), "0:09");
  assert.equal(formatCountdown(0.2), "0:01");
  assert.equal(formatCountdown(0), "0:00");
  assert.equal(formatCountdown(-3), "0:00");
  assert.equal(formatCountdown(3600), "60:00");
});
