// Figures for the operator: money, dates, statuses. Money stays a decimal string until it is shown,
// and sums are made in minor units (cents), never in floating point.

const money = new Map();

/** "129.00" in EUR → "€129.00" (the browser's locale decides the separators). */
export function formatMoney(amount, currency) {
  if (!money.has(currency)) {
    money.set(currency, new Intl.NumberFormat(undefined, { style: "currency", currency }));
  }
  return money.get(currency).format(Number(amount));
}

/** An API timestamp → "1 Jun 2024, 10:15" in the browser's locale and time zone; "" for none. */
export function formatDateTime(timestamp) {
  if (!timestamp) return "";
  return new Date(timestamp).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** "12.34" → 1234 (cents); a malformed amount → 0. */
export function toCents(amount) {
  const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(amount ?? "").trim());
  if (!match) return 0;
  const cents = Number(match[2]) * 100 + Number((match[3] ?? "").padEnd(2, "0"));
  return match[1] ? -cents : cents;
}

/** 1234 → "12.34". */
export function fromCents(cents) {
  const sign = cents < 0 ? "-" : "";
  const whole = Math.abs(Math.round(cents));
  return `${sign}${Math.floor(whole / 100)}.${String(whole % 100).padStart(2, "0")}`;
}

export const STATUS_LABELS = Object.freeze({
  pending_payment: "Awaiting payment",
  paid: "Paid",
  confirmed: "Confirmed (pay on delivery)",
  shipped: "Shipped",
  delivered: "Delivered",
  expired: "Expired",
  cancelled: "Cancelled",
  refunded: "Refunded",
});

export function statusLabel(status) {
  return STATUS_LABELS[status] ?? status;
}

const EVENT_LABELS = {
  created: "Order placed",
  paid: "Paid",
  confirmed: "Confirmed",
  shipped: "Shipped",
  delivered: "Delivered",
  cancelled: "Cancelled",
  expired: "Expired",
  refunded: "Refunded",
};

export function eventLabel(event) {
  return EVENT_LABELS[event] ?? event;
}

/** A price typed by the operator ("12", "12.5", "12.50") → "12.50"; null when it is not one. */
export function normalisePrice(text) {
  const trimmed = String(text ?? "").trim();
  if (!/^\d{1,8}(\.\d{1,2})?$/.test(trimmed)) return null;
  const price = fromCents(toCents(trimmed));
  return price === "0.00" ? null : price;
}
