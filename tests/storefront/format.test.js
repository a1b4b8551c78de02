// format.js: the API's money strings shown exactly, the VAT rate, stock labels and the hold's countdown.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  countryName,
  formatCountdown,
  formatDateTime,
  formatDays,
  formatDeduction,
  formatMoney,
  formatRate,
  isZero,
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

describe("delivery and the order page", () => {
  test("countries by their English names; an unknown code as it is", () => {
    assert.equal(countryName("DE"), "Germany");
    assert.equal(countryName("US"), "United States");
    assert.equal(countryName("NL"), "Netherlands");
    assert.equal(countryName("??"), "??");
  });

  test("a method's days: a range, or one figure", () => {
    assert.equal(formatDays({ min: 2, max: 4 }), "2\u20134 days");
    assert.equal(formatDays({ min: 1, max: 2 }), "1\u20132 days");
    assert.equal(formatDays({ min: 2, max: 2 }), "2 days");
    assert.equal(formatDays({ min: 1, max: 1 }), "1 day");
    assert.equal(formatDays(null), "");
  });

  test("zero is read from the API's string, not computed", () => {
    assert.equal(isZero("0.00"), true);
    assert.equal(isZero("0"), true);
    assert.equal(isZero("4.90"), false);
    assert.equal(isZero("0.01"), false);
  });

  test("a timeline's time: date and time (in the zone given), an unreadable one as it came", () => {
    assert.equal(formatDateTime("2024-06-01T10:15:00Z", "UTC"), "1 Jun 2024, 10:15");
    assert.equal(formatDateTime("2024-06-01T10:15:00Z", "Europe/Berlin"), "1 Jun 2024, 12:15");
    assert.equal(formatDateTime("yesterday", "UTC"), "yesterday");
  });
});
