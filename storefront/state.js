// What the page knows, in memory: the catalogue, the open cart and what the last checkout said.
// No DOM and no network here; the controller changes it and asks the view to show it.

export class ShopState {
  products = [];
  /** The category filter; "" shows every product. */
  category = "";
  /** The open cart as the API last returned it, or null before the first add. */
  cart = null;
  currency = null;
  /** product_id → {product_id, requested, available} from a checkout's 409 OUT_OF_STOCK. */
  shortages = new Map();
  /** {from, to} totals after a checkout's 409 PRICE_CHANGED, until the cart is edited or ordered. */
  priceChange = null;
  /** True while an order is being placed: cart edits wait for it. */
  checkingOut = false;

  setProducts(products) {
    this.products = products;
    this.currency = products[0]?.currency ?? this.currency;
    if (!this.categories().includes(this.category)) this.category = "";
  }

  /** A new cart (null: none yet); shortages it no longer has are forgotten. */
  setCart(cart) {
    this.cart = cart;
    if (cart) this.currency = cart.currency;
    for (const [productId, shortage] of this.shortages) {
      if (this.quantityInCart(productId) <= shortage.available) this.shortages.delete(productId);
    }
  }

  setShortages(items) {
    this.shortages = new Map(items.map((item) => [item.product_id, item]));
  }

  categories() {
    return [...new Set(this.products.map((p) => p.category))].sort();
  }

  shownProducts() {
    return this.products.filter((p) => !this.category || p.category === this.category);
  }

  product(productId) {
    return this.products.find((p) => p.product_id === productId);
  }

  quantityInCart(productId) {
    return this.cart?.items.find((line) => line.product_id === productId)?.quantity ?? 0;
  }

  cartIsEmpty() {
    return !this.cart?.items.length;
  }

  productName(productId) {
    return (
      this.product(productId)?.name ??
      this.cart?.items.find((line) => line.product_id === productId)?.name ??
      productId
    );
  }
}
