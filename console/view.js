// The view: the one module that touches the page (render.js builds its elements). The controller hands
// it handlers with bind…() and data to show with show…(); the view never calls the API, never holds
// the key beyond the sign-in field, and never decides what a click means.

import * as render from "./render.js";

const byId = (id) => document.getElementById(id);
const SCREENS = ["orders", "inventory", "upsell"];

export class View {
  constructor() {
    this.dom = {
      shopName: byId("shop-name"),
      screens: byId("screens"),
      signOut: byId("sign-out"),
      signIn: byId("sign-in"),
      signInForm: byId("sign-in-form"),
      keyInput: byId("admin-key"),
      signInMessage: byId("sign-in-message"),
      ordersList: byId("orders-list"),
      ordersRows: byId("orders-rows"),
      ordersEmpty: byId("orders-empty"),
      statusFilter: byId("status-filter"),
      ordersPage: byId("orders-page"),
      ordersNewer: byId("orders-newer"),
      ordersOlder: byId("orders-older"),
      orderDetail: byId("order-detail"),
      inventoryList: byId("inventory-list"),
      inventoryThreshold: byId("inventory-threshold"),
      inventoryPage: byId("inventory-page"),
      inventoryPrevious: byId("inventory-previous"),
      inventoryNext: byId("inventory-next"),
      upsellForm: byId("upsell-form"),
      holdout: byId("holdout-percent"),
      upsellMessage: byId("upsell-message"),
      upsellStatsError: byId("upsell-stats-error"),
      upsellCharts: byId("upsell-charts"),
      upsellTotals: byId("upsell-totals"),
      upsellTotalsRows: byId("upsell-totals-rows"),
      dialog: byId("confirm-dialog"),
      question: byId("confirm-question"),
      confirmYes: byId("confirm-yes"),
      confirmNo: byId("confirm-no"),
    };
    this.handlers = { orderAction: () => {}, saveProduct: () => {}, adjustStock: () => {}, dismiss: () => {} };
    // Escape closes the dialog without an answer: the same as "Back".
    this.dom.dialog.addEventListener("cancel", () => this.handlers.dismiss());
    this.ordersListedOnce = false;
  }

  // ---- bind: operator actions, handed to the controller -----------------------------------------------

  bindSignIn(handler) {
    this.dom.signInForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const key = this.dom.keyInput.value;
      this.dom.keyInput.value = ""; // the field does not keep the key once it is handed over
      handler(key);
    });
  }

  bindSignOut(handler) {
    this.dom.signOut.addEventListener("click", () => handler());
  }

  /** The address's #… changed (a screen's link, Back): handler(location.hash). */
  bindRoute(handler) {
    window.addEventListener("hashchange", () => handler(window.location.hash));
  }

  bindOrderFilter(handler) {
    this.dom.statusFilter.addEventListener("change", () => handler(this.dom.statusFilter.value));
  }

  /** "Newer" (−1) and "Older" (+1). */
  bindOrdersPage(handler) {
    this.dom.ordersNewer.addEventListener("click", () => handler(-1));
    this.dom.ordersOlder.addEventListener("click", () => handler(1));
  }

  /** An action's form on the order: handler(action, the form's values). */
  bindOrderAction(handler) {
    this.handlers.orderAction = handler;
  }

  bindConfirmAction(handler) {
    this.dom.confirmYes.addEventListener("click", () => handler());
  }

  bindDismissAction(handler) {
    this.handlers.dismiss = handler;
    this.dom.confirmNo.addEventListener("click", () => handler());
  }

  bindInventoryPage(handler) {
    this.dom.inventoryPrevious.addEventListener("click", () => handler(-1));
    this.dom.inventoryNext.addEventListener("click", () => handler(1));
  }

  /** "Save" on a product: handler(productId, {name, price, description}). */
  bindSaveProduct(handler) {
    this.handlers.saveProduct = handler;
  }

  /** "Adjust" on a product: handler(productId, the typed change). */
  bindAdjustStock(handler) {
    this.handlers.adjustStock = handler;
  }

  /** "Save" on the up-sell settings: handler({mode: "on"|"off"|"global", holdoutPercent}). */
  bindSaveUpsell(handler) {
    this.dom.upsellForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const mode = this.dom.upsellForm.querySelector("input[name='upsell-mode']:checked")?.value ?? null;
      handler({ mode, holdoutPercent: this.dom.holdout.value });
    });
  }

  // ---- show -----------------------------------------------------------------------------------------

  /** The page is wired and the first screen (or the sign-in form) is shown. */
  markReady() {
    document.body.dataset.ready = "true";
  }

  showInsecure() {
    this.showSignIn({ tenant: "", error: "The console needs HTTPS: an admin key must never cross the network in clear." });
    this.dom.signInForm.hidden = true;
  }

  /** The sign-in form, with an error or a notice; everything signed-in is hidden and emptied. */
  showSignIn({ tenant, error = null, notice = null, busy = false }) {
    if (tenant) this.dom.shopName.textContent = `Shop: ${tenant}`;
    this.dom.screens.hidden = true;
    this.dom.signOut.hidden = true;
    for (const screen of SCREENS) byId(`${screen}-screen`).hidden = true;
    this.dom.ordersRows.replaceChildren();
    this.dom.orderDetail.replaceChildren();
    this.dom.inventoryList.replaceChildren();
    this.dom.upsellCharts.replaceChildren();
    this.dom.upsellTotalsRows.replaceChildren();
    if (this.dom.dialog.open) this.dom.dialog.close();
    this.dom.signIn.hidden = false;
    this.dom.signInForm.querySelector("button").disabled = busy;
    this.dom.signInMessage.textContent = error ?? notice ?? "";
    this.dom.signInMessage.className = error ? "message error" : "message";
    if (!busy) this.dom.keyInput.focus();
  }

  showSignedIn({ tenant }) {
    this.dom.shopName.textContent = `Shop: ${tenant}`;
    this.dom.signIn.hidden = true;
    this.dom.signInMessage.textContent = "";
    this.dom.screens.hidden = false;
    this.dom.signOut.hidden = false;
  }

  showScreen(name) {
    for (const screen of SCREENS) byId(`${screen}-screen`).hidden = screen !== name;
    for (const link of this.dom.screens.querySelectorAll("a")) {
      if (link.dataset.screen === name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    byId(`${name}-error`).hidden = true;
  }

  showScreenError(route, message) {
    const screen = route === "order" ? "orders" : route;
    const error = byId(`${screen}-error`);
    error.textContent = message;
    error.hidden = false;
    if (route === "order") {
      this.dom.ordersList.hidden = false;
      this.dom.orderDetail.hidden = true;
    }
  }

  showOrders({ items, status, page, hasPrevious, hasNext }) {
    this.dom.orderDetail.hidden = true;
    this.dom.orderDetail.replaceChildren();
    this.dom.ordersList.hidden = false;
    this.dom.statusFilter.value = status;
    this.dom.ordersRows.replaceChildren(...items.map((order) => render.orderRow(order)));
    this.dom.ordersEmpty.hidden = items.length > 0;
    this.dom.ordersPage.textContent = `Page ${page}`;
    this.dom.ordersNewer.disabled = !hasPrevious;
    this.dom.ordersOlder.disabled = !hasNext;
    if (!this.ordersListedOnce) {
      this.ordersListedOnce = true;
      performance.mark("cartwise:orders-listed"); // make bench: from navigation to the first list
    }
  }

  showOrder(order, options) {
    this.dom.ordersList.hidden = true;
    const detail = this.dom.orderDetail;
    const hadFocus = detail.contains(document.activeElement);
    detail.replaceChildren(...render.orderDetail(order, options, (action, form) => this.handlers.orderAction(action, form)));
    detail.hidden = false;
    if (options.message) this.showActionMessage(options.message);
    if (!hadFocus) byId("order-heading").focus();
    else byId("action-message")?.focus?.();
  }

  showActionMessage({ text, kind }) {
    const message = byId("action-message");
    if (!message) return;
    message.textContent = text;
    message.className = `message ${kind}`;
  }

  showActionBusy(busy) {
    for (const button of this.dom.orderDetail.querySelectorAll(".actions-panel button")) button.disabled = busy;
  }

  /** The question that confirms an action, or null to close it. */
  showConfirmation(confirmation) {
    const { dialog } = this.dom;
    if (!confirmation) {
      if (dialog.open) dialog.close();
      return;
    }
    this.dom.question.textContent = confirmation.question;
    dialog.dataset.action = confirmation.action;
    if (!dialog.open) dialog.showModal();
    this.dom.confirmNo.focus();
  }

  showInventory({ items, threshold, page, hasPrevious, hasNext }) {
    this.dom.inventoryThreshold.textContent =
      threshold === null ? "" : `Low stock: ${threshold} unit${threshold === 1 ? "" : "s"} on sale or fewer.`;
    this.dom.inventoryList.replaceChildren(...items.map((item) => this.inventoryItem(item, null)));
    this.dom.inventoryPage.textContent = `Page ${page}`;
    this.dom.inventoryPrevious.disabled = !hasPrevious;
    this.dom.inventoryNext.disabled = !hasNext;
  }

  inventoryItem(item, message) {
    return render.inventoryItem(item, message, {
      onSave: (productId, form) => this.handlers.saveProduct(productId, form),
      onAdjust: (productId, delta) => this.handlers.adjustStock(productId, delta),
    });
  }

  productElement(productId) {
    return [...this.dom.inventoryList.children].find((li) => li.dataset.productId === productId) ?? null;
  }

  /** One product again, with its new figures and what the API answered. */
  showInventoryItem(item, message) {
    const current = this.productElement(item.product_id);
    if (!current) return;
    const focusedForm = [...current.querySelectorAll("form")].findIndex((form) => form.contains(document.activeElement));
    const replacement = this.inventoryItem(item, message);
    current.replaceWith(replacement);
    if (focusedForm >= 0) replacement.querySelectorAll("form")[focusedForm].querySelector("button").focus();
  }

  showProductMessage(productId, { text, kind }) {
    const message = this.productElement(productId)?.querySelector(".message");
    if (!message) return;
    message.textContent = text;
    message.className = `message ${kind}`;
  }

  /** While an adjustment is on its way, its button is disabled. */
  showAdjusting(productId, busy) {
    const button = this.productElement(productId)?.querySelector("form.adjust button");
    if (button) button.disabled = busy;
  }

  showUpsell({ settings, stats, charts, statsError }) {
    this.showUpsellSettings(settings);
    this.dom.upsellMessage.textContent = "";
    this.dom.upsellStatsError.textContent = statsError ?? "";
    this.dom.upsellStatsError.hidden = !statsError;
    this.dom.upsellCharts.replaceChildren(...charts.map((model) => render.chart(model)));
    this.dom.upsellTotals.hidden = !stats;
    this.dom.upsellTotalsRows.replaceChildren(...(stats ? render.upsellTotals(stats.totals, stats.currency) : []));
  }

  showUpsellSettings(settings) {
    const mode = settings.enabled === null ? "global" : settings.enabled ? "on" : "off";
    for (const radio of this.dom.upsellForm.querySelectorAll("input[name='upsell-mode']")) {
      radio.checked = radio.value === mode;
    }
    this.dom.holdout.value = String(settings.holdout_percent);
  }

  showUpsellMessage({ text, kind }) {
    this.dom.upsellMessage.textContent = text;
    this.dom.upsellMessage.className = `message ${kind}`;
  }
}
