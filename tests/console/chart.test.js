// console/chart.js: the up-sell charts as data (scales, bars, gaps in lines), from the stats' shape.

import assert from "node:assert/strict";
import { test } from "node:test";

import { CHART, chartModel, niceCeiling, upsellCharts } from "../../console/chart.js";
import { STATS } from "./fakes.js";

const PLOT_BOTTOM = CHART.height - CHART.bottom; // 154
const PLOT_HEIGHT = PLOT_BOTTOM - CHART.top; // 144

test("the axis ends at a round number at or above the largest value", () => {
  assert.deepEqual([0, 0.4, 1, 7, 12, 40, 51, 180].map(niceCeiling), [1, 0.5, 1, 10, 20, 50, 100, 200]);
});

test("bars stand on the baseline, as tall as their share of the axis, side by side in each day", () => {
  const model = chartModel({
    title: "Counts",
    dates: ["2024-06-01", "2024-06-02"],
    series: [
      { key: "a", name: "A", kind: "bar", values: [50, 25] },
      { key: "b", name: "B", kind: "bar", values: [10, 0] },
    ],
  });
  assert.equal(model.baseline, PLOT_BOTTOM);
  assert.deepEqual(model.ticks.map((tick) => tick.label), ["0", "25", "50"]);
  const band = (CHART.width - CHART.left - CHART.right) / 2; // 288
  const [a1, a2, b1, b2] = model.bars;
  assert.deepEqual([a1.x, a1.height, a1.y + a1.height], [CHART.left + band * 0.1, PLOT_HEIGHT, PLOT_BOTTOM]);
  assert.equal(a2.height, PLOT_HEIGHT / 2);
  assert.equal(b1.x, a1.x + a1.width); // B right of A in the same day
  assert.ok(Math.abs(b1.height - 28.8) < 1e-9, b1.height); // 10 of 50 on a 144-pixel axis
  assert.equal(b2.height, 0);
  assert.equal(a1.label, "2024-06-01: A 50");
});

test("a line has a gap where a day has no value (no orders that day)", () => {
  const model = chartModel({
    title: "Lines",
    dates: ["d1", "d2", "d3", "d4"].map((d) => `2024-06-${d}`),
    series: [{ key: "t", name: "T", kind: "line", values: [10, null, 5, 10] }],
  });
  const [line] = model.lines;
  assert.deepEqual(line.segments.map((segment) => segment.length), [1, 2]);
  assert.equal(line.segments[0][0][1], CHART.top); // 10 is the top of a 0..10 axis
  assert.deepEqual(model.bars, []);
});

test("the up-sell charts: shown and added, up-sell revenue in cents, order value per day treated vs holdout", () => {
  const [counts, revenue, orderValue] = upsellCharts(STATS);
  assert.deepEqual(counts.legend.map((entry) => entry.name), ["Carts shown", "Suggestions added"]);
  assert.deepEqual(counts.bars.filter((bar) => bar.series === "shown").map((bar) => bar.label), [
    "2024-06-01: Carts shown 40",
    "2024-06-02: Carts shown 10",
    "2024-06-03: Carts shown 20",
  ]);
  // 120.50 is the largest revenue: the axis ends at 200.00, written as money.
  assert.deepEqual(revenue.ticks.map((tick) => tick.label), ["€0.00", "€100.00", "€200.00"]);
  assert.equal(revenue.bars[0].label, "2024-06-01: Up-sell revenue €120.50");
  // Treated: 800.00 / 8 = 100.00, no orders on the 2nd, 330.00 / 3 = 110.00; holdout 70.00 and 95.00.
  const [treated, holdout] = orderValue.lines;
  assert.deepEqual([treated.name, holdout.name], ["Treated", "Holdout"]);
  assert.deepEqual(treated.segments.map((segment) => segment.length), [1, 1]);
  assert.deepEqual(orderValue.ticks.map((tick) => tick.label), ["€0.00", "€100.00", "€200.00"]);
  const y = (cents) => CHART.top + PLOT_HEIGHT - (cents / 20000) * PLOT_HEIGHT;
  assert.deepEqual([treated.segments[0][0][1], treated.segments[1][0][1]], [y(10000), y(11000)]);
  assert.deepEqual([holdout.segments[0][0][1], holdout.segments[1][0][1]], [y(7000), y(9500)]);
});
