// The console's controller: what each operator action does. It calls the admin API (api.js, made
// for the signed-in key by `makeApi`), keeps the key in sessionStorage (session.js) and asks the view
// (view.js, the only module that touches the page) to show the result.

import { describeError } from "./api.js";
import { upsellCharts } from "./chart.js";
import { formatMoney, normalisePrice, statusLabel } from "./format.js";
import * as session from "./session.js";
import { routeOf } from "./settings.js";

export const ORDERS_PAGE = 20;
export const INVENTORY_PAGE = 50;
export const STATS_DAYS = 30;
const TRACKING_NUMBER = /^[A-Za-z0-9 -]{1,64}$/;

/** What an operator may do with an order in each status (the API refuses the rest with a 409 anyway). */
export function actionsFor(order) {
  const card = Boolean(order.payment?.provider);
  switch (order.status) {
    case "pending_payment":
      return ["cancel"];
    case "paid":
      return ["ship", "refund"];
    case "confirmed":
      return ["ship", "cancel"];
    case "shipped":
      return card ? ["deliver", "refund"] : ["deliver"];
    case "delivered":
      return card ? ["refund"] : [];
    default:
      return [];
  }
}

/** Whether a refund of this order asks the operator if the goods came back (a paid order's units always do). */
export function refundAsksRestock(order) {
  return order.status === "shipped" || order.status === "delivered";
}

const units = (order) => order.items.reduce((sum, line) => sum + line.quantity, 0);

/**
 * The request an action makes and the question that confirms it, from the order and the action's
 * form, or {error} when the form is not complete.
 */
export function plannedAction(action, order, form = {}) {
  const id = order.order_id;
  const total = formatMoney(order.totals.total, order.currency);
  if (action === "ship") {
    const carrier = String(form.carrier ?? "").trim();
    const trackingNumber = String(form.trackingNumber ?? "").trim();
    const trackingUrl = String(form.trackingUrl ?? "").trim();
    if (!carrier) return { error: "Enter the carrier." };
    if (!TRACKING_NUMBER.test(trackingNumber)) return { error: "Enter the tracking number (letters, digits, spaces, -)." };
    if (trackingUrl && !/^https:\/\/\S+$/.test(trackingUrl)) return { error: "The tracking link must start with https://." };
    const body = { carrier, tracking_number: trackingNumber, ...(trackingUrl ? { tracking_url: trackingUrl } : {}) };
    return {
      body,
      question: `Ship order ${id} with ${carrier}, tracking number ${trackingNumber}? The shopper sees the tracking${trackingUrl ? " link" : " number"} on the order page.`,
      done: "Shipped: the order is on its way.",
    };
  }
  if (action === "deliver") {
    return { question: `Mark order ${id} as delivered?`, done: "Delivered: the order reached its shopper." };
  }
  if (action === "cancel") {
    const payment = order.status === "pending_payment" && order.payment ? " Its payment is cancelled." : "";
    return {
      question: `Cancel order ${id}? Its ${units(order)} unit(s) go back on sale.${payment}`,
      done: "Cancelled: its units are back on sale.",
    };
  }
  if (action === "refund") {
    const restock = refundAsksRestock(order) ? Boolean(form.restock) : null;
    const stock =
      restock === null || restock
        ? `Its ${units(order)} unit(s) go back on sale.`
        : "Its units stay sold (the goods are with the shopper).";
    return {
      restock,
      question: `Refund ${total} of order ${id} to the shopper's card? ${stock}`,
      done: `Refunded ${total}.${restock === false ? " The units stay sold." : " Its units are back on sale."}`,
    };
  }
  return { error: `Unknown action ${action}.` };
}

/** The body of PUT …/products/{id} from the inventory item and the edit form: never `stock`. */
export function productBody(item, form) {
  const name = String(form.name ?? "").trim();
  const price = normalisePrice(form.price);
  if (!name) return { error: "Enter a name." };
  if (price === null) return { error: "Enter a price above 0 with at most two decimals, e.g. 24.99." };
  return {
    body: {
      name,
      description: String(form.description ?? "").trim(),
      category: item.category,
      price,
      tags: item.tags ?? [],
      complements: item.complements ?? [],
    },
  };
}

/** A stock change typed by the operator ("+5", "-2", "12") → the integer, or null when it is not one. */
export function parseDelta(text) {
  const trimmed = String(text ?? "").trim();
  if (!/^[+-]?\d{1,6}$/.test(trimmed)) return null;
  const delta = Number(trimmed);
  return delta === 0 ? null : delta;
}

/** The up-sell settings form → the body of PUT …/upsell/settings, or {error}. */
export function upsellSettingsBody(form) {
  const enabled = { on: true, off: false, global: null }[form.mode];
  if (enabled === undefined) return { error: "Choose on, off or follow the global flag." };
  const text = String(form.holdoutPercent ?? "").trim();
  if (!/^\d{1,2}$/.test(text) || Number(text) > 50) return { error: "The holdout share is a whole percentage from 0 to 50." };
  return { body: { enabled, holdout_percent: Number(text) } };
}

/** Where a paged list is: its page number (from 1) and whether there are pages before and after. */
function pager(list) {
  return { page: list.page + 1, hasPrevious: list.page > 0, hasNext: Boolean(list.next) };
}

/** Why the API refused the key, for the sign-in form: "That key was refused: it belongs to another shop (403 FORBIDDEN: …)." */
function keyRefusal(prefix, error) {
  const why = error.status === 401 ? "it is not an admin key of this shop" : "it belongs to another shop";
  return `${prefix}: ${why} (${describeError(error)}).`;
}

export class Controller {
  /**
   * @param {object} parts
   * @param {import("./view.js").View} parts.view
   * @param {string} parts.tenant
   * @param {(key: string) => ReturnType<import("./api.js").createAdminApi>} parts.makeApi the admin API for a key
   * @param {() => string} [parts.newIdempotencyKey] a fresh Idempotency-Key (crypto.randomUUID)
   */
  constructor({ view, tenant, makeApi, newIdempotencyKey = () => crypto.randomUUID() }) {
    this.view = view;
    this.tenant = tenant;
    this.makeApi = makeApi;
    this.newIdempotencyKey = newIdempotencyKey;
    this.api = null; // set while signed in
    this.route = { screen: "orders" };
    this.orders = { status: "", cursors: [null], page: 0, items: [], next: null };
    this.order = null;
    this.pending = null; // the action awaiting the operator's confirmation
    this.inventory = { cursors: [null], page: 0, items: [], next: null, threshold: null };
    this.adjustments = new Map(); // product id → {delta, key, sending}: an adjustment until it is answered
    this.upsell = null;

    view.bindSignIn((key) => this.signIn(key));
    view.bindSignOut(() => this.signOut());
    view.bindRoute((hash) => this.go(routeOf(hash)));
    view.bindOrderFilter((status) => this.filterOrders(status));
    view.bindOrdersPage((step) => this.turnOrdersPage(step));
    view.bindOrderAction((action, form) => this.requestAction(action, form));
    view.bindConfirmAction(() => this.confirmAction());
    view.bindDismissAction(() => this.dismissAction());
    view.bindInventoryPage((step) => this.turnInventoryPage(step));
    view.bindSaveProduct((productId, form) => this.saveProduct(productId, form));
    view.bindAdjustStock((productId, deltaText) => this.adjustStock(productId, deltaText));
    view.bindSaveUpsell((form) => this.saveUpsell(form));
  }

  /** Open the console at `hash`: the screen it names with the saved key, or the sign-in form. */
  async start(hash = "") {
    this.route = routeOf(hash);
    const key = session.savedKey(this.tenant);
    if (key) await this.verify(key, "The saved key was refused");
    else this.view.showSignIn({ tenant: this.tenant });
    this.view.markReady();
  }

  // ---- signing in and out ---------------------------------------------------------------------------

  async signIn(text) {
    const key = String(text ?? "").trim();
    if (!key) {
      this.view.showSignIn({ tenant: this.tenant, error: "Enter the shop's admin key." });
      return;
    }
    this.view.showSignIn({ tenant: this.tenant, busy: true });
    await this.verify(key, "That key was refused");
  }

  /**
   * Try `key` on the screen to open: the screen's first request is the key's check, so opening the
   * orders costs one request, signed in or not. The key is kept (sessionStorage) once it is accepted.
   */
  async verify(key, refusal) {
    this.api = this.makeApi(key);
    const opened = await this.open(this.route, { refusal });
    if (opened === "refused") return;
    if (opened === "unanswered") {
      this.api = null;
      return;
    }
    session.rememberKey(this.tenant, key);
  }

  signOut(reason = null) {
    session.forgetKey(this.tenant);
    this.api = null;
    this.order = null;
    this.pending = null;
    this.adjustments.clear();
    this.view.showSignIn({
      tenant: this.tenant,
      ...(reason ? { error: reason } : { notice: "Signed out: this browser tab no longer holds the key." }),
    });
  }

  /** An error from any admin call: a refused key signs the operator out; anything else is said in `where`. */
  failed(error, show) {
    if (error?.keyRefused) {
      this.signOut(keyRefusal("The key was refused", error));
      return "refused";
    }
    show(describeError(error));
    return "failed";
  }

  // ---- screens --------------------------------------------------------------------------------------

  /** The address changed (a link, Back): open that screen when signed in, else remember it. */
  async go(route) {
    this.route = route;
    if (this.api) await this.open(route);
  }

  /**
   * Show `route`'s screen with its data. Answers "opened", "failed" (said on the screen), "refused"
   * (the key: signed out) or, while verifying a key, "unanswered" (no answer: the sign-in form says so).
   */
  async open(route, { refusal = null } = {}) {
    if (!this.api) return "refused"; // signed out meanwhile: nothing is asked
    const verifying = refusal !== null;
    const load = {
      orders: () => this.loadOrders(),
      order: () => this.loadOrder(route.orderId),
      inventory: () => this.loadInventory(),
      upsell: () => this.loadUpsell(),
    }[route.screen];
    try {
      const show = await load();
      if (verifying) this.view.showSignedIn({ tenant: this.tenant });
      this.view.showScreen(route.screen === "order" ? "orders" : route.screen);
      show();
      return "opened";
    } catch (error) {
      if (verifying && (error?.keyRefused || error?.uncertain)) {
        this.api = null;
        if (error.keyRefused) {
          session.forgetKey(this.tenant);
          this.view.showSignIn({ tenant: this.tenant, error: keyRefusal(refusal, error) });
          return "refused";
        }
        this.view.showSignIn({ tenant: this.tenant, error: `The key could not be checked: ${describeError(error)}` });
        return "unanswered";
      }
      if (verifying) this.view.showSignedIn({ tenant: this.tenant });
      this.view.showScreen(route.screen === "order" ? "orders" : route.screen);
      return this.failed(error, (message) => this.view.showScreenError(route.screen, message));
    }
  }

  // ---- orders -----------------------------------------------------------------------------------------

  /** One page of orders (one request, whatever the number of orders); returns how to show it. */
  async loadOrders() {
    const { orders } = this;
    const page = await this.api.listOrders({
      limit: ORDERS_PAGE,
      status: orders.status || null,
      cursor: orders.cursors[orders.page],
    });
    orders.items = page.items;
    orders.next = page.next_cursor;
    return () => this.showOrders();
  }

  showOrders() {
    const { orders } = this;
    this.view.showOrders({ items: orders.items, status: orders.status, ...pager(orders) });
  }

  async filterOrders(status) {
    Object.assign(this.orders, { status, cursors: [null], page: 0 });
    await this.open({ screen: "orders" });
  }

  turnOrdersPage(step) {
    return this.turnPage(this.orders, "orders", step);
  }

  /** One page on (+1, following next_cursor, kept for the way back) or back (−1) in a paged list. */
  async turnPage(list, screen, step) {
    if (step > 0 && list.next) {
      list.cursors[list.page + 1] = list.next;
      list.page += 1;
    } else if (step < 0 && list.page > 0) {
      list.page -= 1;
    } else {
      return;
    }
    await this.open({ screen });
  }

  async loadOrder(orderId) {
    this.pending = null;
    const order = await this.api.getOrder(orderId);
    this.order = order;
    return () => this.showOrder();
  }

  showOrder(message = null) {
    const { order } = this;
    this.view.showOrder(order, {
      actions: actionsFor(order),
      askRestock: refundAsksRestock(order),
      statusText: statusLabel(order.status),
      message,
    });
  }

  /** An action's button: check its form and ask the operator to confirm (nothing is sent yet). */
  requestAction(action, form) {
    if (!this.order || !actionsFor(this.order).includes(action)) return;
    const plan = plannedAction(action, this.order, form);
    if (plan.error) {
      this.view.showActionMessage({ text: plan.error, kind: "error" });
      return;
    }
    this.pending = { action, orderId: this.order.order_id, ...plan };
    this.view.showConfirmation({ action, question: plan.question });
  }

  dismissAction() {
    this.pending = null;
    this.view.showConfirmation(null);
  }

  /** "Confirm": send the action once (a second press finds nothing pending) and show the API's answer. */
  async confirmAction() {
    const pending = this.pending;
    if (!pending || !this.api) return;
    this.pending = null;
    this.view.showConfirmation(null);
    this.view.showActionBusy(true);
    const api = this.api;
    const send = {
      ship: () => api.ship(pending.orderId, pending.body),
      deliver: () => api.markDelivered(pending.orderId),
      cancel: () => api.cancel(pending.orderId),
      refund: () => api.refund(pending.orderId, pending.restock),
    }[pending.action];
    try {
      const answer = await send();
      // Cancel answers the order's public shape; the detail needs the full one (delivery, timeline).
      this.order = answer.timeline ? answer : await api.getOrder(pending.orderId);
      this.showOrder({ text: pending.done, kind: "ok" });
    } catch (error) {
      this.failed(error, (message) => this.view.showActionMessage({ text: message, kind: "error" }));
    } finally {
      this.view.showActionBusy(false);
    }
  }

  // ---- inventory --------------------------------------------------------------------------------------

  async loadInventory() {
    const { inventory } = this;
    const page = await this.api.listInventory({ limit: INVENTORY_PAGE, cursor: inventory.cursors[inventory.page] });
    inventory.items = page.items;
    inventory.next = page.next_cursor;
    inventory.threshold = page.low_stock_threshold ?? null;
    return () => this.showInventory();
  }

  showInventory() {
    const { inventory } = this;
    this.view.showInventory({ items: inventory.items, threshold: inventory.threshold, ...pager(inventory) });
  }

  turnInventoryPage(step) {
    return this.turnPage(this.inventory, "inventory", step);
  }

  item(productId) {
    return this.inventory.items.find((item) => item.product_id === productId) ?? null;
  }

  /** Keep an item's new figures (an answer's `stock`, an edit's fields); low stock follows the threshold. */
  updateItem(productId, changes) {
    const item = this.item(productId);
    if (!item) return null;
    Object.assign(item, changes);
    if (this.inventory.threshold !== null) item.low_stock = item.stock <= this.inventory.threshold;
    return item;
  }

  async saveProduct(productId, form) {
    const item = this.item(productId);
    if (!item || !this.api) return;
    const { body, error: invalid } = productBody(item, form);
    if (invalid) {
      this.view.showProductMessage(productId, { text: invalid, kind: "error" });
      return;
    }
    try {
      const saved = await this.api.updateProduct(productId, body);
      const updated = this.updateItem(productId, {
        name: saved.name,
        price: saved.price,
        description: saved.description,
        stock: saved.stock,
      });
      this.view.showInventoryItem(updated, { text: `Saved ${saved.name} at ${saved.price}.`, kind: "ok" });
    } catch (error) {
      this.failed(error, (message) => this.view.showProductMessage(productId, { text: message, kind: "error" }));
    }
  }

  /**
   * Add the typed delta to a product's stock with an Idempotency-Key made for this adjustment. Until
   * it is answered, pressing again sends nothing more; if no answer came (network, 5xx), pressing
   * again resends the same delta with the same key, so it is applied once whatever happened.
   */
  async adjustStock(productId, deltaText) {
    if (!this.item(productId) || !this.api) return;
    const delta = parseDelta(deltaText);
    if (delta === null) {
      this.view.showProductMessage(productId, { text: "Enter a whole number of units, e.g. 5 or -2.", kind: "error" });
      return;
    }
    const earlier = this.adjustments.get(productId);
    if (earlier?.sending) return;
    const adjustment = earlier?.delta === delta ? earlier : { delta, key: this.newIdempotencyKey() };
    adjustment.sending = true;
    this.adjustments.set(productId, adjustment);
    this.view.showAdjusting(productId, true);
    try {
      const product = await this.api.adjustStock(productId, delta, adjustment.key);
      this.adjustments.delete(productId);
      const updated = this.updateItem(productId, { stock: product.stock });
      const change = delta > 0 ? `+${delta}` : String(delta);
      this.view.showInventoryItem(updated, { text: `Stock ${change}: ${product.stock} on sale.`, kind: "ok" });
    } catch (error) {
      adjustment.sending = false;
      if (!error?.uncertain) this.adjustments.delete(productId);
      const retry = error?.uncertain ? " Press Adjust again: it will not be applied twice." : "";
      this.failed(error, (message) =>
        this.view.showProductMessage(productId, { text: `${message}${retry}`, kind: "error" }),
      );
    } finally {
      this.view.showAdjusting(productId, false);
    }
  }

  // ---- up-sell ------------------------------------------------------------------------------------------

  async loadUpsell() {
    const settings = await this.api.getUpsellSettings();
    let stats = null;
    let statsError = null;
    try {
      stats = await this.api.getUpsellStats(STATS_DAYS);
    } catch (error) {
      if (error?.keyRefused) throw error;
      statsError = describeError(error);
    }
    this.upsell = { settings, stats };
    return () =>
      this.view.showUpsell({
        settings,
        stats,
        charts: stats ? upsellCharts(stats) : [],
        statsError,
      });
  }

  async saveUpsell(form) {
    if (!this.api) return;
    const { body, error: invalid } = upsellSettingsBody(form);
    if (invalid) {
      this.view.showUpsellMessage({ text: invalid, kind: "error" });
      return;
    }
    try {
      const saved = await this.api.putUpsellSettings(body);
      this.upsell = { ...this.upsell, settings: saved };
      const mode = saved.enabled === null ? "following the global flag" : saved.enabled ? "on" : "off";
      this.view.showUpsellSettings(saved);
      this.view.showUpsellMessage({
        text: `Saved: up-sell ${mode}, ${saved.holdout_percent}% of carts held out.`,
        kind: "ok",
      });
    } catch (error) {
      this.failed(error, (message) => this.view.showUpsellMessage({ text: message, kind: "error" }));
    }
  }
}
