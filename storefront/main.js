// The shop page: state, user actions and the calls behind them. Rendering lives in render.js,
// HTTP and error wording in api.js, per-tenant memory in storage.js.

import { ApiError, createApi, errorMessage } from "./api.js";
import * as view from "./render.js";
import { DEMO_TENANTS, apiBaseUrl, tenantFromUrl, tenantName, urlForTenant } from "./settings.js";
import * as storage from "./storage.js";

const $ = (id) => document.getElementById(id);
const dom = {
  shopName: $("shop-name"),
  tenantLinks: $("tenant-links"),
  notice: $("notice"),
  status: $("status"),
  confirmation: $("confirmation"),
  categorySelect: $("category-select"),
  productsStatus: $("products-status"),
  productList: $("product-list"),
  cart: $("cart"),
  cartLink: $("cart-link"),
  cartHeading: $("cart-heading"),
  cartEmpty: $("cart-empty"),
  cartLines: $("cart-lines"),
  cartDetails: $("cart-details"),
  promoForm: $("promo-form"),
  promoInput: $("promo-code"),
  promoMessage: $("promo-message"),
  promoApplied: $("promo-applied"),
  promoAppliedCode: $("promo-applied-code"),
  promoRemove: $("promo-remove"),
  totals: $("cart-totals"),
  upsell: $("cart-upsell"),
  upsellList: $("cart-upsell-list"),
  checkoutButton: $("checkout-button"),
  checkoutMessage: $("checkout-message"),
};

const tenant = tenantFromUrl();
const state = {
  api: null,
  products: [],
  category: "",
  cart: null,
  currency: null,
  /** product_id → {product_id, requested, available} from a checkout's 409 OUT_OF_STOCK */
  shortages: new Map(),
  upsellRequest: 0,
  checkingOut: false,
};

// Cart edits run one after another, each computed from the cart the previous one returned, so
// quick clicks on "+" add up instead of racing each other.
let queue = Promise.resolve();
function serially(task) {
  const run = queue.then(task, task);
  queue = run.catch(() => {});
  return run;
}

// ---- messages -------------------------------------------------------------------------------

function showNotice(text) {
  dom.notice.textContent = text;
  dom.notice.hidden = false;
}

function clearNotice() {
  dom.notice.hidden = true;
  dom.notice.textContent = "";
}

function announce(text) {
  dom.status.textContent = text;
}

const productName = (productId) =>
  state.products.find((p) => p.product_id === productId)?.name ??
  state.cart?.items.find((line) => line.product_id === productId)?.name ??
  productId;

function describeCartError(error) {
  const items = error instanceof ApiError && error.code === "OUT_OF_STOCK" ? (error.details.items ?? []) : [];
  if (items.length === 0) return errorMessage(error);
  return items
    .map((item) =>
      item.available > 0
        ? `Only ${item.available} of ${productName(item.product_id)} left.`
        : `${productName(item.product_id)} is sold out.`,
    )
    .join(" ");
}

// ---- products -------------------------------------------------------------------------------

async function loadProducts() {
  try {
    state.products = await state.api.listProducts();
    state.currency = state.products[0]?.currency ?? state.currency;
    renderCategories();
    renderProducts();
  } catch (error) {
    dom.productList.replaceChildren();
    dom.productsStatus.replaceChildren(errorMessage(error));
    if (!(error instanceof ApiError && error.code === "TENANT_NOT_FOUND")) {
      dom.productsStatus.append(
        " ",
        view.el("button", { type: "button", class: "button secondary", onclick: loadProducts }, "Try again"),
      );
    }
  }
}

function renderCategories() {
  const categories = [...new Set(state.products.map((p) => p.category))].sort();
  if (!categories.includes(state.category)) state.category = "";
  dom.categorySelect.replaceChildren(...view.categoryOptions(categories, state.category));
  dom.categorySelect.disabled = categories.length === 0;
}

function quantityInCart(productId) {
  return state.cart?.items.find((line) => line.product_id === productId)?.quantity ?? 0;
}

function renderProducts() {
  const shown = state.products.filter((p) => !state.category || p.category === state.category);
  if (state.products.length === 0) dom.productsStatus.textContent = "This shop has no products yet.";
  else dom.productsStatus.textContent = shown.length === 1 ? "1 product" : `${shown.length} products`;
  view.replaceKeepingFocus(
    dom.productList,
    shown.map((product) =>
      view.productCard(product, { inCart: quantityInCart(product.product_id), onAdd: addProduct }),
    ),
    dom.cartHeading,
  );
}

// ---- cart -----------------------------------------------------------------------------------

function setCart(cart) {
  state.cart = cart;
  if (cart) {
    storage.rememberCart(tenant, cart.cart_id);
    state.currency = cart.currency;
  }
  for (const [productId, shortage] of state.shortages) {
    if (quantityInCart(productId) <= shortage.available) state.shortages.delete(productId);
  }
  renderCart();
  renderProducts();
  refreshUpsell();
}

function renderCart() {
  const cart = state.cart;
  const items = cart?.items ?? [];
  const currency = cart?.currency ?? state.currency;
  const count = items.reduce((sum, line) => sum + line.quantity, 0);
  dom.cartLink.textContent = `Cart (${count})`;
  dom.cartEmpty.hidden = items.length > 0;
  dom.cartDetails.hidden = items.length === 0;
  view.replaceKeepingFocus(
    dom.cartLines,
    items.map((line) =>
      view.cartLine(line, currency, {
        shortage: state.shortages.get(line.product_id),
        maxQuantity: state.products.find((p) => p.product_id === line.product_id)?.stock,
        onStep: (delta) => changeQuantity(line.product_id, delta),
        onRemove: () => setQuantity(line.product_id, 0),
      }),
    ),
    dom.cartHeading,
  );
  const promo = cart?.promo_code ?? null;
  dom.promoForm.hidden = promo !== null;
  dom.promoApplied.hidden = promo === null;
  dom.promoAppliedCode.textContent = promo ?? "";
  dom.totals.replaceChildren(cart && items.length ? view.totalsList(cart.totals, currency) : "");
  dom.checkoutButton.disabled = items.length === 0 || state.checkingOut;
  renderShortages();
}

function renderShortages() {
  const shortages = [...state.shortages.values()];
  if (shortages.length === 0) {
    if (dom.checkoutMessage.dataset.kind === "shortage") setCheckoutMessage(null);
    return;
  }
  const fix = (item) => setQuantity(item.product_id, Math.max(item.available, 0));
  view.replaceKeepingFocus(dom.checkoutMessage, view.shortageNotice(shortages, productName, fix), dom.cartHeading);
  dom.checkoutMessage.dataset.kind = "shortage";
  dom.checkoutMessage.hidden = false;
}

function setCheckoutMessage(text) {
  dom.checkoutMessage.textContent = text ?? "";
  dom.checkoutMessage.dataset.kind = text ? "error" : "";
  dom.checkoutMessage.hidden = !text;
}

async function newCart() {
  const cart = await state.api.createCart();
  storage.rememberCart(tenant, cart.cart_id);
  return cart;
}

/** A cart id the API no longer knows (expired) or that was checked out elsewhere. */
function isLostCart(error) {
  return (
    error instanceof ApiError &&
    ((error.code === "NOT_FOUND" && error.details.cart_id !== undefined) || error.code === "CART_CLOSED")
  );
}

/** Run `edit(cart)` on the current cart (creating one if needed); a lost cart is replaced once, silently. */
async function editCart(edit) {
  const cart = state.cart ?? (await newCart());
  try {
    return await edit(cart);
  } catch (error) {
    if (!isLostCart(error)) throw error;
    storage.forgetCart(tenant);
    return edit(await newCart());
  }
}

let pendingEdits = 0;

function cartAction(edit, { onError = (error) => showNotice(describeCartError(error)) } = {}) {
  if (state.checkingOut) {
    // The cart is being ordered as it is; an edit now would land in the next cart by surprise.
    showNotice("Please wait until your order is placed.");
    return Promise.resolve(false);
  }
  pendingEdits += 1;
  dom.cart.setAttribute("aria-busy", "true");
  return serially(async () => {
    try {
      setCart(await editCart(edit));
      clearNotice();
      return true;
    } catch (error) {
      onError(error);
      if (error instanceof ApiError && error.code === "OUT_OF_STOCK") loadProducts();
      return false;
    } finally {
      pendingEdits -= 1;
      if (pendingEdits === 0) dom.cart.removeAttribute("aria-busy");
    }
  });
}

async function addProduct(productId) {
  const added = await cartAction((cart) => {
    const current = cart.items.find((line) => line.product_id === productId)?.quantity ?? 0;
    return state.api.setQuantity(cart.cart_id, productId, current + 1);
  });
  if (added) announce(`${productName(productId)} added to your cart.`);
}

function changeQuantity(productId, delta) {
  return cartAction((cart) => {
    const current = cart.items.find((line) => line.product_id === productId)?.quantity ?? 0;
    return state.api.setQuantity(cart.cart_id, productId, Math.max(current + delta, 0));
  });
}

function setQuantity(productId, quantity) {
  return cartAction((cart) => state.api.setQuantity(cart.cart_id, productId, quantity));
}

async function applyPromo(event) {
  event.preventDefault();
  const code = dom.promoInput.value.trim();
  if (!code) {
    showPromoError("Enter a promo code first.");
    return;
  }
  const applied = await cartAction((cart) => state.api.applyPromo(cart.cart_id, code), {
    onError: (error) =>
      showPromoError(
        error instanceof ApiError && error.code === "INVALID_PROMO_CODE"
          ? `The promo code \u201c${code}\u201d is not valid.`
          : errorMessage(error),
      ),
  });
  if (applied) {
    dom.promoInput.value = "";
    dom.promoInput.removeAttribute("aria-invalid");
    dom.promoMessage.textContent = "";
    announce(`Promo code ${state.cart?.promo_code ?? code} applied.`);
    dom.promoRemove.focus();
  }
}

function showPromoError(text) {
  dom.promoMessage.textContent = text;
  dom.promoInput.setAttribute("aria-invalid", "true");
}

async function removePromo() {
  const removed = await cartAction((cart) => state.api.removePromo(cart.cart_id));
  if (removed) {
    announce("Promo code removed.");
    dom.promoInput.focus();
  }
}

/** The stored cart, if the API still has it open; a checkout that never got its answer is replayed. */
async function restoreCart() {
  const cartId = storage.savedCartId(tenant);
  if (!cartId) return;
  let cart;
  try {
    cart = await state.api.getCart(cartId);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404 && error.code === "NOT_FOUND") {
      storage.forgetCart(tenant); // expired or unknown: a fresh cart is made on the first add
      return;
    }
    throw error;
  }
  if (cart.status === "open") {
    setCart(cart);
    return;
  }
  const key = storage.pendingCheckoutKey(tenant, cart.cart_id);
  if (!key) {
    storage.forgetCart(tenant);
    return;
  }
  // Checked out, but the page never saw the answer. Same key, same cart: the API answers with
  // the order it already placed, placing nothing new.
  try {
    finishCheckout(await state.api.checkout(cart.cart_id, key));
  } catch (error) {
    if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
      storage.forgetCheckoutKey(tenant); // not ours to show (another key placed it): start afresh
      storage.forgetCart(tenant);
      return;
    }
    throw error; // no answer again: both are kept for the next visit
  }
}

// ---- up-sell --------------------------------------------------------------------------------

async function refreshUpsell() {
  const request = ++state.upsellRequest;
  const cart = state.cart;
  if (!cart || cart.items.length === 0) {
    showCartUpsell(null, "empty");
    return;
  }
  dom.upsell.dataset.status = "loading";
  try {
    const upsell = await state.api.getUpsell(cart.cart_id);
    if (request === state.upsellRequest) showCartUpsell(upsell, upsell.enabled ? "shown" : "off");
  } catch {
    // Suggestions are optional: when they fail, the cart simply goes without them.
    if (request === state.upsellRequest) showCartUpsell(null, "error");
  }
}

function showCartUpsell(upsell, status) {
  const list = view.upsellList(upsell, state.cart?.currency ?? state.currency, {
    idPrefix: "cart-upsell",
    onAdd: addProduct,
  });
  view.replaceKeepingFocus(dom.upsellList, list ? [list] : [], dom.cartHeading);
  dom.upsell.hidden = list === null;
  dom.upsell.dataset.status = list === null && status === "shown" ? "none" : status;
}

// ---- checkout -------------------------------------------------------------------------------

function setCheckingOut(busy) {
  state.checkingOut = busy;
  dom.checkoutButton.disabled = busy || !state.cart?.items.length;
  dom.checkoutButton.setAttribute("aria-busy", String(busy));
  dom.checkoutButton.textContent = busy ? "Placing order\u2026" : "Place order";
}

async function checkout() {
  if (state.checkingOut || !state.cart?.items.length) return; // a double click is ignored here
  setCheckingOut(true);
  setCheckoutMessage(null);
  clearNotice();
  try {
    await serially(async () => {
      const cart = state.cart;
      if (!cart?.items.length) return;
      // The key is kept until an answer arrives: a retry after a lost answer reuses it, so the
      // API returns the order it already placed instead of placing a second one.
      const key = storage.checkoutKeyFor(tenant, cart.cart_id);
      let result;
      try {
        result = await state.api.checkout(cart.cart_id, key);
      } catch (error) {
        if (error instanceof ApiError && error.status >= 400 && error.status < 500) storage.forgetCheckoutKey(tenant);
        throw error;
      }
      finishCheckout(result);
    });
  } catch (error) {
    checkoutFailed(error);
  } finally {
    setCheckingOut(false);
  }
}

function finishCheckout(result) {
  storage.forgetCheckoutKey(tenant);
  storage.forgetCart(tenant);
  state.shortages.clear();
  setCart(null); // a fresh, empty cart; it is created on the first add
  setCheckoutMessage(null);
  dom.confirmation.replaceChildren(
    ...view.confirmationView(result.order, result.upsell, {
      onAddSuggestion: addProduct,
      onContinue: () => {
        dom.confirmation.hidden = true;
        dom.confirmation.replaceChildren();
        $("products-heading").focus();
      },
    }),
  );
  dom.confirmation.hidden = false;
  $("confirmation-heading").focus();
  loadProducts(); // the stock has dropped
}

function checkoutFailed(error) {
  if (error instanceof ApiError && error.code === "OUT_OF_STOCK" && Array.isArray(error.details.items)) {
    state.shortages = new Map(error.details.items.map((item) => [item.product_id, item]));
    renderCart();
    loadProducts().then(renderCart); // show the new stock beside the lines
    dom.checkoutMessage.focus();
    return;
  }
  if (error instanceof ApiError && error.code === "CART_CLOSED") {
    storage.forgetCart(tenant);
    setCart(null);
    setCheckoutMessage("This cart was already checked out, so it has been emptied. Please add your items again.");
    return;
  }
  if (error instanceof ApiError && (error.network || error.status >= 500)) {
    setCheckoutMessage(
      `${errorMessage(error)} Your order may not have been placed yet. ` +
        "Press \u201cPlace order\u201d again: it will not be ordered twice.",
    );
    return;
  }
  setCheckoutMessage(errorMessage(error));
}

// ---- start ----------------------------------------------------------------------------------

function renderTenantSwitcher() {
  const name = tenantName(tenant);
  dom.shopName.textContent = name;
  document.title = `${name} \u2013 Cartwise`;
  dom.tenantLinks.replaceChildren(
    ...DEMO_TENANTS.map((t) =>
      view.el(
        "li",
        {},
        view.el("a", { href: urlForTenant(t.id), "aria-current": t.id === tenant ? "page" : null }, t.name),
      ),
    ),
  );
}

async function start() {
  renderTenantSwitcher();
  dom.categorySelect.addEventListener("change", () => {
    state.category = dom.categorySelect.value;
    renderProducts();
  });
  dom.promoForm.addEventListener("submit", applyPromo);
  dom.promoInput.addEventListener("input", () => {
    dom.promoInput.removeAttribute("aria-invalid");
    dom.promoMessage.textContent = "";
  });
  dom.promoRemove.addEventListener("click", removePromo);
  dom.checkoutButton.addEventListener("click", checkout);

  state.api = createApi(await apiBaseUrl(), tenant);
  const [, restored] = await Promise.allSettled([loadProducts(), serially(restoreCart)]);
  if (restored.status === "rejected") showNotice(errorMessage(restored.reason));
  renderCart();
  document.body.dataset.ready = "true";
}

start();
