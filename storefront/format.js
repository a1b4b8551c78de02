// Display of the API's figures. Money arrives as decimal strings with two decimals ("19.99");
// Intl.NumberFormat formats a string exactly (no trip through a float) and is held to two
// fraction digits whatever the currency's habit, so what is shown is the API's amount.

const LOCALE = "en";
const LOW_STOCK = 5;
const formatters = new Map();

function currencyFormatter(currency) {
  if (!formatters.has(currency)) {
    formatters.set(
      currency,
      new Intl.NumberFormat(LOCALE, { style: "currency", currency, minimumFractionDigits: 2, maximumFractionDigits: 2 }),
    );
  }
  return formatters.get(currency);
}

/** "129.00", "EUR" → "€129.00"; an unknown currency is shown as "129.00 XYZ". */
export function formatMoney(amount, currency) {
  try {
    return currencyFormatter(currency).format(amount);
  } catch {
    return `${amount} ${currency}`;
  }
}

/** A discount is shown as a deduction: "17.90" → "−€17.90" (but "€0.00" when there is none). */
export function formatDeduction(amount, currency) {
  return isZero(amount) ? formatMoney(amount, currency) : `\u2212${formatMoney(amount, currency)}`;
}

/** "0.20" → "20%". */
export function formatRate(rate) {
  return new Intl.NumberFormat(LOCALE, { style: "percent", maximumFractionDigits: 2 }).format(rate);
}

/** "in" (plenty), "low" (only a few left) or "out" (sold out). */
export function stockLevel(stock) {
  if (stock <= 0) return "out";
  return stock <= LOW_STOCK ? "low" : "in";
}

export function stockLabel(stock) {
  const level = stockLevel(stock);
  if (level === "out") return "Sold out";
  if (level === "low") return `Only ${stock} left`;
  return `In stock (${stock})`;
}

/** Seconds left → "14:05" (minutes:seconds); never negative. */
export function formatCountdown(seconds) {
  const whole = Math.max(Math.ceil(seconds), 0);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

let regionNames = null;

/** "DE" → "Germany" (English names, as the rest of the page); the code itself when unknown. */
export function countryName(code) {
  try {
    regionNames ??= new Intl.DisplayNames([LOCALE], { type: "region" });
    return regionNames.of(code) ?? code;
  } catch {
    return code;
  }
}

/** A method's delivery time, {min: 2, max: 4} → "2–4 days"; {min: 1, max: 1} → "1 day". */
export function formatDays(days) {
  const min = days?.min;
  const max = days?.max ?? min;
  if (!Number.isInteger(min)) return "";
  if (min === max) return min === 1 ? "1 day" : `${min} days`;
  return `${min}\u2013${max} days`;
}

/** Whether a money string is zero ("0.00"): a figure of the API read, not computed. */
export function isZero(amount) {
  return /^0*(\.0*)?$/.test(String(amount));
}

const dateTimes = new Map();

/** An ISO time as a date and time in `timeZone` (the device's when not given): "6 Dec 2026, 01:55". */
export function formatDateTime(iso, timeZone = undefined) {
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return String(iso ?? "");
  const key = timeZone ?? "";
  if (!dateTimes.has(key)) {
    dateTimes.set(
      key,
      new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", ...(timeZone ? { timeZone } : {}) }),
    );
  }
  return dateTimes.get(key).format(time);
}
