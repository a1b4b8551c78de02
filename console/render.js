// Element builders for view.js. Text from the API becomes text nodes (never HTML), handlers come in
// as arguments, and nothing here knows of the API, the key or the controller.

import { eventLabel, formatDateTime, formatMoney, statusLabel } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";

/**
 * A node: `tag` with `attributes` (class, text, data-*, on<event> handlers; null/false leave one
 * out, true sets it empty) and `children` (nodes or text). `namespace` makes SVG elements.
 */
export function node(tag, attributes = {}, children = [], namespace = null) {
  const made = namespace ? document.createElementNS(namespace, tag) : document.createElement(tag);
  Object.entries(attributes).forEach(([name, value]) => {
    if (value === null || value === undefined || value === false) return;
    if (name === "text") made.textContent = String(value);
    else if (name.startsWith("on")) made.addEventListener(name.slice(2), value);
    else made.setAttribute(name === "className" ? "class" : name, value === true ? "" : String(value));
  });
  made.append(...[children].flat().filter((child) => child !== null && child !== false && child !== undefined));
  return made;
}

const svg = (tag, attributes = {}, children = []) => node(tag, attributes, children, SVG);

// ---- orders ------------------------------------------------------------------------------------------

export function orderRow(order) {
  const count = order.items.reduce((sum, line) => sum + line.quantity, 0);
  return node("tr", { "data-order-id": order.order_id, "data-status": order.status }, [
    node("td", {}, [node("a", { href: `#order=${encodeURIComponent(order.order_id)}`, text: order.order_id })]),
    node("td", { text: formatDateTime(order.created_at) }),
    node("td", {}, [node("span", { className: `status status-${order.status}`, text: statusLabel(order.status) })]),
    node("td", { text: `${count} item${count === 1 ? "" : "s"}` }),
    node("td", { className: "number", text: formatMoney(order.totals.total, order.currency) }),
    node("td", { text: order.email ?? "" }),
  ]);
}

const TOTALS = [
  ["subtotal", "Subtotal"],
  ["discount", "Discount"],
  ["shipping", "Shipping"],
  ["vat", "VAT"],
  ["total", "Total"],
];

function facts(pairs) {
  return node(
    "dl",
    { className: "facts" },
    pairs.filter(([, value]) => value !== null && value !== undefined && value !== "").flatMap(([term, value, key]) => [
      node("dt", { text: term }),
      node("dd", key ? { "data-fact": key } : {}, [value]),
    ]),
  );
}

function addressLines(delivery) {
  const address = delivery?.address;
  if (!address) return "—";
  return [address.name, address.line1, address.line2, `${address.postal_code} ${address.city}`, address.country, address.phone]
    .filter(Boolean)
    .join(", ");
}

function trackingLink(fulfilment) {
  if (!fulfilment?.tracking_url) return null;
  return node("a", { href: fulfilment.tracking_url, rel: "noopener noreferrer", target: "_blank", text: fulfilment.tracking_url });
}

/** The order's detail: lines, totals, delivery, payment, fulfilment, timeline and its actions' forms. */
export function orderDetail(order, { actions, askRestock, statusText }, onAction) {
  const money = (amount) => formatMoney(amount, order.currency);
  const payment = order.payment;
  const fulfilment = order.fulfilment;
  return [
    node("p", {}, [node("a", { href: "#orders", text: "← All orders" })]),
    node("h2", { id: "order-heading", tabindex: "-1" }, ["Order ", node("span", { className: "order-id", text: order.order_id })]),
    node("p", { className: "order-status" }, [
      "Status: ",
      node("span", { className: `status status-${order.status}`, text: statusText }),
      ` · placed ${formatDateTime(order.created_at)}`,
    ]),
    node("table", { className: "grid lines" }, [
      node("caption", { className: "visually-hidden", text: "Lines" }),
      node("thead", {}, [
        node("tr", {}, ["Product", "Quantity", "Unit price", "Line total"].map((h) => node("th", { scope: "col", text: h }))),
      ]),
      node(
        "tbody",
        {},
        order.items.map((line) =>
          node("tr", { "data-product-id": line.product_id }, [
            node("td", {}, [line.name, line.source === "upsell" ? node("span", { className: "tag", text: "up-sell" }) : null]),
            node("td", { className: "number", text: String(line.quantity) }),
            node("td", { className: "number", text: money(line.unit_price) }),
            node("td", { className: "number", text: money(line.line_total) }),
          ]),
        ),
      ),
    ]),
    node(
      "dl",
      { className: "totals" },
      TOTALS.filter(([key]) => order.totals[key] !== undefined).flatMap(([key, label]) => [
        node("dt", { text: key === "discount" && order.promo_code ? `Discount (${order.promo_code})` : label }),
        node("dd", { "data-total": key, text: money(order.totals[key]) }),
      ]),
    ),
    node("div", { className: "columns" }, [
      node("section", { "aria-label": "Delivery" }, [
        node("h3", { text: "Delivery" }),
        facts([
          ["E-mail", order.email ?? order.delivery?.email ?? "—"],
          ["Address", addressLines(order.delivery)],
          ["Method", order.delivery?.method?.name ?? "—"],
        ]),
      ]),
      node("section", { "aria-label": "Payment" }, [
        node("h3", { text: "Payment" }),
        facts(
          payment
            ? [
                ["Provider", payment.provider],
                ["Status", payment.status, "payment-status"],
                ["Refund", payment.refund_reason ?? null],
                ["Dispute", payment.dispute ? `${payment.dispute.reason} (${payment.dispute.status})` : null],
                ["Refund failed", payment.refund_failure?.reason ?? null],
              ]
            : [["Provider", "Paid on delivery"]],
        ),
      ]),
      node("section", { "aria-label": "Fulfilment" }, [
        node("h3", { text: "Fulfilment" }),
        fulfilment
          ? facts([
              ["Carrier", fulfilment.carrier, "carrier"],
              ["Tracking number", fulfilment.tracking_number, "tracking-number"],
              ["Tracking link", trackingLink(fulfilment), "tracking-link"],
              ["Shipped", formatDateTime(fulfilment.shipped_at)],
              ["Delivered", formatDateTime(fulfilment.delivered_at)],
            ])
          : node("p", { className: "muted", text: "Not shipped yet." }),
      ]),
    ]),
    node("section", { "aria-label": "Timeline" }, [
      node("h3", { text: "Timeline" }),
      node(
        "ol",
        { className: "timeline" },
        (order.timeline ?? []).map((moment) =>
          node("li", {}, [
            node("span", { className: "timeline-event", text: eventLabel(moment.event) }),
            " ",
            node("time", { datetime: moment.at, text: formatDateTime(moment.at) }),
          ]),
        ),
      ),
    ]),
    actionForms(actions, askRestock, onAction),
  ];
}

function actionForms(actions, askRestock, onAction) {
  const message = node("p", { id: "action-message", className: "message", role: "status" });
  if (actions.length === 0) {
    return node("section", { "aria-label": "Actions", className: "actions-panel" }, [
      node("p", { className: "muted", text: "Nothing left to do with this order." }),
      message,
    ]);
  }
  const submit = (action, read) => (event) => {
    event.preventDefault();
    onAction(action, read(event.currentTarget));
  };
  const field = (label, name, attributes = {}) =>
    node("label", {}, [label, node("input", { name, autocomplete: "off", ...attributes })]);
  const forms = {
    ship: () =>
      node(
        "form",
        {
          className: "action ship",
          onsubmit: submit("ship", (form) => ({
            carrier: form.elements.carrier.value,
            trackingNumber: form.elements.tracking_number.value,
            trackingUrl: form.elements.tracking_url.value,
          })),
        },
        [
          field("Carrier", "carrier"),
          field("Tracking number", "tracking_number"),
          field("Tracking link (https://…)", "tracking_url", { type: "url", inputmode: "url" }),
          node("button", { type: "submit", text: "Ship…" }),
        ],
      ),
    deliver: () =>
      node("form", { className: "action", onsubmit: submit("deliver", () => ({})) }, [
        node("button", { type: "submit", text: "Mark delivered…" }),
      ]),
    cancel: () =>
      node("form", { className: "action", onsubmit: submit("cancel", () => ({})) }, [
        node("button", { type: "submit", className: "danger", text: "Cancel order…" }),
      ]),
    refund: () =>
      node(
        "form",
        { className: "action", onsubmit: submit("refund", (form) => ({ restock: Boolean(form.elements.restock?.checked) })) },
        [
          askRestock
            ? node("label", { className: "check" }, [
                node("input", { type: "checkbox", name: "restock" }),
                " The goods came back: put the units on sale again",
              ])
            : null,
          node("button", { type: "submit", className: "danger", text: "Refund…" }),
        ],
      ),
  };
  return node("section", { "aria-label": "Actions", className: "actions-panel" }, [
    node("h3", { text: "Actions" }),
    ...actions.map((action) => forms[action]()),
    message,
  ]);
}

// ---- inventory --------------------------------------------------------------------------------------

/** One product of the inventory: its figures, the edit form and the stock adjustment form. */
export function inventoryItem(item, message, { onSave, onAdjust }) {
  const id = item.product_id.replace(/[^a-zA-Z0-9_-]/g, "_");
  const save = (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    onSave(item.product_id, {
      name: form.elements.name.value,
      price: form.elements.price.value,
      description: form.elements.description.value,
    });
  };
  const adjust = (event) => {
    event.preventDefault();
    onAdjust(item.product_id, event.currentTarget.elements.delta.value);
  };
  return node(
    "li",
    { className: item.low_stock ? "product low-stock" : "product", "data-product-id": item.product_id },
    [
      node("div", { className: "product-head" }, [
        node("h3", { id: `name-${id}`, text: item.name }),
        node("span", { className: "muted", text: item.product_id }),
        item.low_stock ? node("span", { className: "badge", text: item.stock === 0 ? "Sold out" : "Low stock" }) : null,
      ]),
      node("dl", { className: "figures" }, [
        ...[
          ["stock", "On sale"],
          ["reserved", "Reserved"],
          ["sold", "Sold"],
        ].flatMap(([key, label]) => [node("dt", { text: label }), node("dd", { "data-figure": key, text: String(item[key]) })]),
      ]),
      node("form", { className: "edit", onsubmit: save, "aria-labelledby": `name-${id}` }, [
        node("label", {}, ["Name", node("input", { name: "name", value: item.name, maxlength: 120 })]),
        node("label", {}, ["Price", node("input", { name: "price", value: item.price, inputmode: "decimal" })]),
        node("label", { className: "wide" }, [
          "Description",
          node("textarea", { name: "description", rows: 2, maxlength: 2000, text: item.description ?? "" }),
        ]),
        node("button", { type: "submit", text: "Save" }),
      ]),
      node("form", { className: "adjust", onsubmit: adjust, "aria-labelledby": `name-${id}` }, [
        node("label", {}, ["Add or remove units", node("input", { name: "delta", inputmode: "numeric", placeholder: "+5 or -2" })]),
        node("button", { type: "submit", text: "Adjust" }),
      ]),
      node("p", { className: `message ${message?.kind ?? ""}`, role: "status", text: message?.text ?? "" }),
    ],
  );
}

// ---- up-sell ----------------------------------------------------------------------------------------

/** One chart (chart.js's model) as SVG, with a title and a legend. */
export function chart(model) {
  const points = (segment) => segment.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
  return node("figure", { className: "chart" }, [
    node("figcaption", { text: model.title }),
    svg("svg", { viewBox: `0 0 ${model.width} ${model.height}`, role: "img", "aria-label": model.title }, [
      svg("title", { text: model.title }),
      ...model.ticks.flatMap((tick) => [
        svg("line", { className: "grid-line", x1: 56, x2: model.width - 8, y1: tick.y, y2: tick.y }),
        svg("text", { className: "tick", x: 52, y: tick.y + 4, "text-anchor": "end", text: tick.label }),
      ]),
      ...model.bars.map((bar) =>
        svg("rect", { className: `bar series-${bar.series}`, x: bar.x, y: bar.y, width: bar.width, height: bar.height }, [
          svg("title", { text: bar.label }),
        ]),
      ),
      ...model.lines.flatMap((line) =>
        line.segments.map((segment) =>
          segment.length === 1
            ? svg("circle", { className: `dot series-${line.series}`, cx: segment[0][0], cy: segment[0][1], r: 3 })
            : svg("polyline", { className: `line series-${line.series}`, points: points(segment) }),
        ),
      ),
      ...model.xLabels.map((label) =>
        svg("text", { className: "tick", x: label.x, y: model.height - 8, "text-anchor": "middle", text: label.label }),
      ),
    ]),
    node(
      "ul",
      { className: "legend" },
      model.legend.map((entry) => node("li", {}, [node("span", { className: `key series-${entry.series}` }), entry.name])),
    ),
  ]);
}

const percent = (value) => (value === null || value === undefined ? "—" : `${(Number(value) * 100).toFixed(1)} %`);

/** The totals of the stats, treated against held-out carts. */
export function upsellTotals(totals, currency) {
  const money = (amount) => (amount === null || amount === undefined ? "—" : formatMoney(amount, currency));
  const rows = [
    ["Carts", String(totals.carts_shown), String(totals.carts_holdout)],
    ["Orders", String(totals.orders_treated), String(totals.orders_holdout)],
    ["Conversion", percent(totals.conversion_treated), percent(totals.conversion_holdout)],
    ["Average order value", money(totals.aov_treated), money(totals.aov_holdout)],
    ["Revenue", money(totals.revenue_treated), money(totals.revenue_holdout)],
    ["Suggestions added", String(totals.suggestions_added), "—"],
    ["Up-sell revenue", money(totals.upsell_revenue), "—"],
  ];
  return rows.map(([label, treated, holdout]) =>
    node("tr", {}, [
      node("th", { scope: "row", text: label }),
      node("td", { className: "number", text: treated }),
      node("td", { className: "number", text: holdout }),
    ]),
  );
}
