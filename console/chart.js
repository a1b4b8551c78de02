// The up-sell charts as plain data: bars, lines, axis ticks and labels in SVG coordinates. Drawing
// them (view.js) only turns this into <rect>, <polyline> and <text> elements, so what the chart says
// is decided, and tested, here.

import { formatMoney, fromCents, toCents } from "./format.js";

export const CHART = Object.freeze({ width: 640, height: 180, left: 56, right: 8, top: 10, bottom: 26 });

/** The smallest "round" number (1, 2 or 5 times a power of ten) at or above `value` (at least 1). */
export function niceCeiling(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value);
}

/**
 * A chart of one value per day for each series: `kind` "bar" (grouped side by side in each day's band)
 * or "line" (a null value leaves a gap). `format` writes an axis value (the series' unit).
 */
export function chartModel({ title, dates, series, format = String }) {
  const { width, height, left, right, top, bottom } = CHART;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const values = series.flatMap((one) => one.values).filter((value) => value !== null);
  const max = niceCeiling(Math.max(0, ...values));
  const y = (value) => top + plotHeight - (value / max) * plotHeight;
  const band = plotWidth / Math.max(dates.length, 1);
  const bars = series.filter((one) => one.kind === "bar");
  const barWidth = (band * 0.8) / Math.max(bars.length, 1);
  const centre = (index) => left + band * index + band / 2;
  return {
    title,
    width,
    height,
    baseline: top + plotHeight,
    ticks: [0, max / 2, max].map((value) => ({ y: y(value), label: format(value) })),
    xLabels: dates
      .map((date, index) => ({ x: centre(index), label: date.slice(5), index }))
      .filter(({ index }) => index % 7 === 0 || index === dates.length - 1)
      .map(({ x, label }) => ({ x, label })),
    bars: bars.flatMap((one, position) =>
      one.values.map((value, index) => ({
        series: one.key,
        x: left + band * index + band * 0.1 + barWidth * position,
        y: y(value ?? 0),
        width: barWidth,
        height: top + plotHeight - y(value ?? 0),
        label: `${dates[index]}: ${one.name} ${format(value ?? 0)}`,
      })),
    ),
    lines: series
      .filter((one) => one.kind === "line")
      .map((one) => ({
        series: one.key,
        name: one.name,
        segments: segments(one.values.map((value, index) => (value === null ? null : [centre(index), y(value)]))),
      })),
    legend: series.map((one) => ({ series: one.key, name: one.name })),
  };
}

/** Runs of consecutive points (a null ends a run). */
function segments(points) {
  const runs = [];
  let run = [];
  for (const point of points) {
    if (point === null) {
      if (run.length > 0) runs.push(run);
      run = [];
    } else {
      run.push(point);
    }
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** The average order value of a day in cents, or null without orders that day. */
function averageCents(revenue, orders) {
  return orders > 0 ? Math.round(toCents(revenue) / orders) : null;
}

/**
 * The up-sell screen's three charts from GET …/upsell/stats: carts shown and suggestions added, the
 * up-sell revenue, and the average order value of treated and held-out carts, per day.
 */
export function upsellCharts(stats) {
  const dates = stats.days.map((day) => day.date);
  const money = (cents) => formatMoney(fromCents(cents), stats.currency);
  return [
    chartModel({
      title: "Carts shown suggestions, and suggestions added",
      dates,
      series: [
        { key: "shown", name: "Carts shown", kind: "bar", values: stats.days.map((day) => day.carts_shown) },
        { key: "added", name: "Suggestions added", kind: "bar", values: stats.days.map((day) => day.suggestions_added) },
      ],
    }),
    chartModel({
      title: "Up-sell revenue",
      dates,
      format: money,
      series: [
        {
          key: "revenue",
          name: "Up-sell revenue",
          kind: "bar",
          values: stats.days.map((day) => toCents(day.upsell_revenue)),
        },
      ],
    }),
    chartModel({
      title: "Average order value, treated and held-out carts",
      dates,
      format: money,
      series: [
        {
          key: "treated",
          name: "Treated",
          kind: "line",
          values: stats.days.map((day) => averageCents(day.revenue_treated, day.orders_treated)),
        },
        {
          key: "holdout",
          name: "Holdout",
          kind: "line",
          values: stats.days.map((day) => averageCents(day.revenue_holdout, day.orders_holdout)),
        },
      ],
    }),
  ];
}
