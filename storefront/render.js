// DOM builders. Every string from the API becomes a text node (never parsed as HTML), and
// handlers are passed in, so this module knows nothing about state or the network.

import {
  countryName,
  formatDateTime,
  formatDays,
  formatDeduction,
  formatMoney,
  formatRate,
  isZero,
  stockLabel,
  stockLevel,
} from "./format.js";

/**
 * Create an element. Props: `class`, `text`, `dataset`, `on<event>` handlers, booleans (true sets
 * the attribute, false/null/undefined leaves it out) and plain attributes. Children may be nodes
 * or strings; strings become text nodes.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/**
 * Replace a container's children, keeping keyboard focus on the "same" control (matched by
 * data-focus-key) so that re-rendering after each click does not throw the keyboard user out.
 * When that control is gone or disabled, focus moves to `fallback`.
 */
export function replaceKeepingFocus(container, nodes, fallback) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.focusKey : undefined;
  const hadFocus = active && container.contains(active);
  container.replaceChildren(...nodes);
  if (!hadFocus || active === container) return;
  const next = key ? container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`) : null;
  if (next && !next.disabled) next.focus();
  else fallback?.focus();
}

const domId = (prefix, productId) => `${prefix}-${productId.replace(/[^a-zA-Z0-9_-]/g, "_")}`;

export function productCard(product, { inCart, onAdd }) {
  const nameId = domId("product-name", product.product_id);
  const soldOut = product.stock <= 0;
  const allInCart = !soldOut && inCart >= product.stock;
  let label = "Add to cart";
  if (soldOut) label = "Sold out";
  else if (allInCart) label = "All in cart";
  return el(
    "li",
    { class: "product", dataset: { productId: product.product_id } },
    el("h3", { class: "product-name", id: nameId }, product.name),
    el("p", { class: "product-category" }, product.category),
    el("p", { class: "product-description" }, product.description),
    el(
      "div",
      { class: "product-buy" },
      el("p", { class: "product-price" }, formatMoney(product.price, product.currency)),
      el("p", { class: `stock stock-${stockLevel(product.stock)}` }, stockLabel(product.stock)),
      el(
        "button",
        {
          type: "button",
          class: "button primary add-to-cart",
          disabled: soldOut || allInCart,
          "aria-describedby": nameId,
          dataset: { focusKey: `add:${product.product_id}` },
          onclick: () => onAdd(product.product_id),
        },
        label,
      ),
      inCart > 0 ? el("p", { class: "in-cart" }, `${inCart} in your cart`) : null,
    ),
  );
}

export function categoryOptions(categories, selected) {
  return [
    el("option", { value: "" }, "All categories"),
    ...categories.map((category) => el("option", { value: category, selected: category === selected }, category)),
  ];
}

export function cartLine(line, currency, { shortage, maxQuantity, onStep, onRemove }) {
  const nameId = domId("line-name", line.product_id);
  const key = (action) => `${action}:${line.product_id}`;
  return el(
    "li",
    { class: shortage ? "line short" : "line", dataset: { productId: line.product_id } },
    el("span", { class: "line-name", id: nameId }, line.name),
    el("span", { class: "line-unit" }, `${formatMoney(line.unit_price, currency)} each`),
    el(
      "div",
      { class: "stepper", role: "group", "aria-label": `Quantity of ${line.name}` },
      el(
        "button",
        {
          type: "button",
          class: "button step",
          "aria-label": "Decrease quantity",
          dataset: { focusKey: key("dec") },
          onclick: () => onStep(-1),
        },
        "\u2212",
      ),
      el(
        "span",
        { class: "quantity" },
        el("span", { class: "visually-hidden" }, "Quantity: "),
        el("span", { class: "quantity-value" }, String(line.quantity)),
      ),
      el(
        "button",
        {
          type: "button",
          class: "button step",
          "aria-label": "Increase quantity",
          disabled: maxQuantity !== undefined && line.quantity >= maxQuantity,
          dataset: { focusKey: key("inc") },
          onclick: () => onStep(1),
        },
        "+",
      ),
    ),
    el("span", { class: "line-total" }, formatMoney(line.line_total, currency)),
    el(
      "button",
      {
        type: "button",
        class: "button link remove",
        "aria-describedby": nameId,
        dataset: { focusKey: key("remove") },
        onclick: onRemove,
      },
      "Remove",
    ),
    shortage
      ? el(
          "p",
          { class: "line-warning" },
          shortage.available > 0 ? `Only ${shortage.available} left` : "Sold out: please remove it",
        )
      : null,
  );
}

/**
 * Subtotal, discount, net, shipping, VAT (on net + shipping) and total, each exactly the API's figure.
 * `shippingChosen` false says that the shipping figure is the one without a method (0.00 until one is chosen).
 */
export function totalsList(totals, currency, { shippingChosen = true } = {}) {
  const row = (name, label, value) =>
    [el("dt", {}, label), el("dd", { dataset: { total: name } }, value)];
  return el(
    "dl",
    { class: "totals" },
    row("subtotal", "Subtotal", formatMoney(totals.subtotal, currency)),
    row("discount", "Discount", formatDeduction(totals.discount, currency)),
    row("net", "Net", formatMoney(totals.net, currency)),
    totals.shipping === undefined
      ? null
      : row("shipping", shippingChosen ? "Shipping" : "Shipping (no method yet)", formatMoney(totals.shipping, currency)),
    row("vat", `VAT (${formatRate(totals.vat_rate)})`, formatMoney(totals.vat, currency)),
    row("total", "Total", formatMoney(totals.total, currency)),
  );
}

/**
 * The shipping methods offered in the chosen country as radio buttons: name, days and price, with
 * "free over …" when the method has a threshold. The chosen one shows what the API's cart says it
 * costs (`shipping`, "Free" at 0.00) once the cart holds that choice; nothing is computed here.
 */
export function shippingMethods(methods, { country, selected, shipping, currency, error, onChoose, onRetry }) {
  if (error) {
    return [
      el("p", { class: "methods-status" }, error, " "),
      el("button", { type: "button", class: "button secondary", onclick: onRetry }, "Try again"),
    ];
  }
  if (!country) return [el("p", { class: "methods-status" }, "Choose a country to see the delivery methods.")];
  if (methods === null) return [el("p", { class: "methods-status" }, "Loading delivery methods\u2026")];
  if (methods.length === 0) {
    return [el("p", { class: "methods-status" }, `No delivery method is offered to ${countryName(country)}.`)];
  }
  return methods.map((method) => {
    const chosen = method.id === selected;
    const id = domId("delivery-method", method.id);
    let price = formatMoney(method.price, currency);
    if (chosen && shipping !== null && shipping !== undefined) price = isZero(shipping) ? "Free" : formatMoney(shipping, currency);
    return el(
      "div",
      { class: chosen ? "method chosen" : "method", dataset: { methodId: method.id } },
      el("input", {
        type: "radio",
        name: "delivery-method",
        id,
        value: method.id,
        checked: chosen,
        dataset: { focusKey: `method:${method.id}` },
        onchange: onChoose,
      }),
      el(
        "label",
        { for: id },
        el("span", { class: "method-name" }, method.name),
        el("span", { class: "method-price" }, price),
        el(
          "span",
          { class: "method-details" },
          el("span", { class: "method-days" }, formatDays(method.days)),
          method.free_over
            ? [" \u00b7 ", el("span", { class: "method-note" }, `free over ${formatMoney(method.free_over, currency)}`)]
            : null,
        ),
      ),
    );
  });
}

/** Suggestions with their reasons; null when the up-sell is off or has nothing to say. */
export function upsellList(upsell, currency, { idPrefix, onAdd }) {
  if (!upsell || upsell.enabled !== true || !Array.isArray(upsell.suggestions) || upsell.suggestions.length === 0) {
    return null;
  }
  return el(
    "ul",
    { class: "suggestions" },
    upsell.suggestions.map((suggestion) => {
      const nameId = domId(`${idPrefix}-name`, suggestion.product_id);
      return el(
        "li",
        { class: "suggestion", dataset: { productId: suggestion.product_id } },
        el("span", { class: "suggestion-name", id: nameId }, suggestion.name),
        el("span", { class: "suggestion-price" }, formatMoney(suggestion.price, currency)),
        el("p", { class: "suggestion-reason" }, suggestion.reason),
        el(
          "button",
          {
            type: "button",
            class: "button secondary",
            "aria-describedby": nameId,
            dataset: { focusKey: `${idPrefix}:${suggestion.product_id}` },
            onclick: () => onAdd(suggestion.product_id, upsell.set_id ?? null), // attributed to this answer
          },
          "Add",
        ),
      );
    }),
  );
}

/** The checkout's 409 OUT_OF_STOCK, per short line, with a one-click fix. */
export function shortageNotice(shortages, nameOf, onFix) {
  return [
    el("p", {}, "Some items no longer have enough stock. Change them and place the order again:"),
    el(
      "ul",
      { class: "shortages" },
      shortages.map((item) =>
        el(
          "li",
          { dataset: { productId: item.product_id } },
          item.available > 0
            ? `${nameOf(item.product_id)}: you asked for ${item.requested}, only ${item.available} left. `
            : `${nameOf(item.product_id)}: you asked for ${item.requested}, it is sold out. `,
          el(
            "button",
            {
              type: "button",
              class: "button secondary",
              dataset: { focusKey: `fix:${item.product_id}` },
              onclick: () => onFix(item),
            },
            item.available > 0 ? `Change to ${item.available}` : "Remove it",
          ),
        ),
      ),
    ),
  ];
}

const CONFIRMATION_HEADINGS = {
  cancelled: "Your order is cancelled.",
  paid: "Thank you! Your order is paid.",
  pending_payment: "Your order is waiting for its payment.",
  shipped: "Your order is on its way.",
  delivered: "Your order has been delivered.",
  expired: "This order has expired.",
  refunded: "Your order has been refunded.",
};

const STATUS_LABELS = {
  pending_payment: "Awaiting payment",
  paid: "Paid",
  confirmed: "Confirmed",
  shipped: "Shipped",
  delivered: "Delivered",
  expired: "Expired: the hold lapsed before it was paid",
  cancelled: "Cancelled",
  refunded: "Refunded",
};

const TIMELINE_EVENTS = {
  created: "Order placed",
  paid: "Paid",
  shipped: "Shipped",
  delivered: "Delivered",
  cancelled: "Cancelled",
  expired: "Expired",
  refunded: "Refunded",
};

/** How the order is paid, in a sentence: by card (done) or on delivery; null when neither is settled. */
function paymentNote(order) {
  const total = formatMoney(order.totals.total, order.currency);
  const byCard = order.status === "paid" || (order.payment?.status === "succeeded" && order.status !== "refunded");
  if (byCard) return `Paid by card: ${total}.`;
  if (!order.payment && ["confirmed", "shipped"].includes(order.status)) return `You pay ${total} on delivery.`;
  return null;
}

/** An http(s) address as it is, or null: a tracking link never runs script (javascript:, data:). */
function safeLink(url) {
  try {
    const parsed = new URL(url);
    return ["https:", "http:"].includes(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}

/** Where the order goes and how (the token holder's view of the order). */
function deliveryDetails(order) {
  const { delivery } = order;
  if (!delivery) return null;
  const address = delivery.address ?? {};
  const method = delivery.method;
  return el(
    "section",
    { class: "order-delivery", "aria-labelledby": "order-delivery-heading" },
    el("h3", { id: "order-delivery-heading" }, "Delivery"),
    el(
      "address",
      { class: "delivery-address" },
      [
        address.name,
        address.line1,
        address.line2,
        [address.postal_code, address.city].filter(Boolean).join(" "),
        address.country ? countryName(address.country) : null,
        address.phone,
      ]
        .filter((part) => part)
        .map((part) => el("span", { class: "address-line" }, part)),
    ),
    method
      ? el(
          "p",
          { class: "delivery-method" },
          `${method.name}${method.days ? ` (${formatDays(method.days)})` : ""}: ${formatMoney(order.totals.shipping ?? method.price, order.currency)}`,
        )
      : null,
    (order.email ?? delivery.email) ? el("p", { class: "delivery-email" }, `E-mail: ${order.email ?? delivery.email}`) : null,
  );
}

/** The carrier and its tracking link, once the order is shipped. */
function tracking(order) {
  const fulfilment = order.fulfilment;
  if (!fulfilment) return null;
  const link = safeLink(fulfilment.tracking_url);
  return el(
    "section",
    { class: "order-tracking", "aria-labelledby": "order-tracking-heading" },
    el("h3", { id: "order-tracking-heading" }, "Tracking"),
    el(
      "p",
      {},
      `Sent with ${fulfilment.carrier}`,
      fulfilment.shipped_at ? ` on ${formatDateTime(fulfilment.shipped_at)}` : "",
      fulfilment.tracking_number ? `, tracking number ${fulfilment.tracking_number}.` : ".",
    ),
    link
      ? el(
          "p",
          {},
          el(
            "a",
            { class: "tracking-link", href: link, target: "_blank", rel: "noopener noreferrer" },
            `Track your parcel with ${fulfilment.carrier}`,
          ),
        )
      : null,
    fulfilment.delivered_at ? el("p", {}, `Delivered on ${formatDateTime(fulfilment.delivered_at)}.`) : null,
  );
}

/** What happened to the order, oldest first. */
function timelineList(order) {
  if (!Array.isArray(order.timeline)) return null;
  return el(
    "section",
    { class: "order-timeline", "aria-labelledby": "order-timeline-heading" },
    el("h3", { id: "order-timeline-heading" }, "Timeline"),
    el(
      "ol",
      { class: "timeline" },
      order.timeline.map((entry) =>
        el(
          "li",
          { dataset: { event: entry.event } },
          el("span", { class: "timeline-event" }, TIMELINE_EVENTS[entry.event] ?? entry.event),
          " ",
          el("time", { datetime: entry.at }, formatDateTime(entry.at)),
        ),
      ),
    ),
  );
}

function orderNumber(order) {
  return el("p", { class: "order-number" }, "Order number ", el("strong", { class: "order-id" }, order.order_id));
}

/** The order's lines as a table, with its totals below. */
function orderSummary(order) {
  return [
    el(
      "table",
      { class: "order-lines" },
      el("caption", { class: "visually-hidden" }, "Ordered items"),
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          el("th", { scope: "col" }, "Item"),
          el("th", { scope: "col", class: "number" }, "Qty"),
          el("th", { scope: "col", class: "number" }, "Price"),
          el("th", { scope: "col", class: "number" }, "Total"),
        ),
      ),
      el(
        "tbody",
        {},
        order.items.map((line) =>
          el(
            "tr",
            { dataset: { productId: line.product_id } },
            el("th", { scope: "row" }, line.name),
            el("td", { class: "number" }, String(line.quantity)),
            el("td", { class: "number" }, formatMoney(line.unit_price, order.currency)),
            el("td", { class: "number" }, formatMoney(line.line_total, order.currency)),
          ),
        ),
      ),
    ),
    order.promo_code ? el("p", { class: "promo-used" }, `Promo code ${order.promo_code} applied.`) : null,
    totalsList(order.totals, order.currency),
  ];
}

export function confirmationView(order, upsell, { onAddSuggestion, onContinue, onCancel, message }) {
  const cancelled = order.status === "cancelled";
  const suggestions = cancelled
    ? null
    : upsellList(upsell, order.currency, { idPrefix: "confirmation-upsell", onAdd: onAddSuggestion });
  const note = paymentNote(order);
  // The public order (no token on this device) has neither delivery nor timeline.
  const publicOnly = !Array.isArray(order.timeline) && !order.delivery;
  return [
    el(
      "h2",
      { id: "confirmation-heading", tabindex: "-1" },
      CONFIRMATION_HEADINGS[order.status] ?? "Thank you! Your order is confirmed.",
    ),
    orderNumber(order),
    el(
      "p",
      { class: "order-status", dataset: { status: order.status } },
      "Status: ",
      el("strong", {}, STATUS_LABELS[order.status] ?? order.status),
    ),
    orderSummary(order),
    note ? el("p", { class: "payment-note" }, note) : null,
    tracking(order),
    deliveryDetails(order),
    timelineList(order),
    publicOnly
      ? el(
          "p",
          { class: "order-public-note" },
          "Its delivery details and progress show on the device the order was placed on, or from the link in its e-mail.",
        )
      : null,
    suggestions
      ? el(
          "section",
          { class: "upsell", "aria-labelledby": "confirmation-upsell-heading" },
          el("h3", { id: "confirmation-upsell-heading" }, "You might also like"),
          suggestions,
        )
      : null,
    message ? el("p", { class: "confirmation-message", role: "alert" }, message) : null,
    el(
      "div",
      { class: "confirmation-actions" },
      el("button", { type: "button", class: "button primary", onclick: onContinue }, "Continue shopping"),
      onCancel && !cancelled
        ? el("button", { type: "button", class: "button secondary cancel-order", onclick: onCancel }, "Cancel order")
        : null,
    ),
  ]
    .flat()
    .filter((node) => node !== null); // replaceChildren() would show a null as the text "null"
}

/**
 * The payment step of a card order: its summary, the hold's countdown, a place for Stripe's card
 * field, a message region and the actions. The view fills in the countdown and the message later.
 */
export function paymentView(order, { onPay, onCancel, onBackToCart }) {
  const total = formatMoney(order.totals.total, order.currency);
  return [
    el("h2", { id: "payment-heading", tabindex: "-1" }, "Pay for your order"),
    orderNumber(order),
    orderSummary(order),
    // role=timer is not announced on every tick; the view announces the last minute once.
    el(
      "p",
      { class: "hold", role: "timer", "aria-atomic": "true" },
      "Your items are held for you for ",
      el("strong", { class: "hold-time" }, ""),
      ". Pay before then, or they go back on sale.",
    ),
    el(
      "div",
      { class: "card-field", role: "group", "aria-labelledby": "card-label" },
      el("p", { id: "card-label", class: "label" }, "Card details"),
      // Stripe.js mounts its card field here (in the cloud an iframe of Stripe's, so the card
      // number never touches this page).
      el("div", { id: "card-element", class: "card-element" }),
    ),
    el("div", { id: "payment-message", class: "payment-message", role: "alert", tabindex: "-1", hidden: true }),
    el(
      "div",
      { class: "payment-actions" },
      el("button", { type: "button", class: "button primary pay", onclick: onPay }, `Pay ${total}`),
      el("button", { type: "button", class: "button secondary cancel-order", onclick: onCancel }, "Cancel order"),
      el(
        "button",
        { type: "button", class: "button primary back-to-cart", hidden: true, onclick: onBackToCart },
        "Back to the cart",
      ),
    ),
  ]
    .flat()
    .filter((node) => node !== null);
}
