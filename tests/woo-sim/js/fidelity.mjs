// Drives the WooCommerce simulator with WooCommerce's official JavaScript
// REST client (@woocommerce/woocommerce-rest-api). Over a plain http:// URL
// the client signs every request with OAuth 1.0a (HMAC-SHA256, parameters in
// the query string), so this also proves the simulator verifies those
// signatures the way WC_REST_Authentication does.
//
// Usage: node fidelity.mjs <site-url> <consumer-key> <consumer-secret>
// Exits non-zero on the first mismatch.

import WooCommerceRestApiPkg from "@woocommerce/woocommerce-rest-api";

const WooCommerceRestApi = WooCommerceRestApiPkg.default ?? WooCommerceRestApiPkg;

const [url, consumerKey, consumerSecret] = process.argv.slice(2);
if (!url || !consumerKey || !consumerSecret) {
  console.error("usage: node fidelity.mjs <site-url> <consumer-key> <consumer-secret>");
  process.exit(2);
}

const api = new WooCommerceRestApi({ url, consumerKey, consumerSecret, version: "wc/v3" });

let checks = 0;
function check(cond, what, got) {
  checks += 1;
  if (!cond) {
    console.error(`MISMATCH: ${what}${got === undefined ? "" : ` (got ${JSON.stringify(got)})`}`);
    process.exit(1);
  }
}

async function expectStatus(promise, status, code, what) {
  try {
    await promise;
  } catch (e) {
    check(e.response && e.response.status === status, `${what}: status ${status}`, e.response && e.response.status);
    check(e.response.data.code === code, `${what}: code ${code}`, e.response.data.code);
    check(e.response.data.data && e.response.data.data.status === status, `${what}: data.status`);
    return;
  }
  check(false, `${what}: expected an error`);
}

try {
  // Paging: 7 orders seeded by the Rust test, 3 per page.
  const first = await api.get("orders", { per_page: 3, page: 1, orderby: "id", order: "asc" });
  check(first.status === 200, "list status", first.status);
  const total = Number(first.headers["x-wp-total"]);
  const pages = Number(first.headers["x-wp-totalpages"]);
  check(total === 7, "x-wp-total", first.headers["x-wp-total"]);
  check(pages === 3, "x-wp-totalpages", first.headers["x-wp-totalpages"]);
  check(Array.isArray(first.data) && first.data.length === 3, "page 1 length", first.data.length);
  check(/rel="next"/.test(first.headers["link"] || ""), "Link rel=next", first.headers["link"]);
  const seen = new Set(first.data.map((o) => o.id));
  for (let page = 2; page <= pages; page += 1) {
    const r = await api.get("orders", { per_page: 3, page, orderby: "id", order: "asc" });
    check(/rel="prev"/.test(r.headers["link"] || ""), `Link rel=prev on page ${page}`, r.headers["link"]);
    for (const o of r.data) {
      check(!seen.has(o.id), `order ${o.id} seen twice`);
      seen.add(o.id);
    }
  }
  check(seen.size === total, "all orders seen once", seen.size);
  const ids = [...seen];
  check(ids.every((id, i) => i === 0 || id > ids[i - 1]), "orderby=id asc", ids);

  // Money as strings with two decimals, currency IRT.
  const sample = first.data[0];
  check(sample.currency === "IRT", "currency", sample.currency);
  check(/^\d+\.\d{2}$/.test(sample.total), "total is a 2-decimal string", sample.total);
  check(typeof sample.date_modified_gmt === "string", "date_modified_gmt");

  // A product.
  const products = await api.get("products", { sku: "TEA-LAH-500" });
  check(products.data.length === 1, "product by sku", products.data.length);
  const product = products.data[0];
  const one = await api.get(`products/${product.id}`);
  check(one.data.id === product.id, "product id");
  check(one.data.name === "چای سیاه لاهیجان ۵۰۰ گرمی", "product name (Persian)", one.data.name);
  check(one.data.regular_price === "210000", "regular_price", one.data.regular_price);
  check(one.data.price === "210000", "price", one.data.price);
  check(one.data.manage_stock === true, "manage_stock");
  check(one.data.stock_quantity === 118, "stock_quantity", one.data.stock_quantity);

  // Create an order as a guest.
  const created = await api.post("orders", {
    payment_method: "bacs",
    payment_method_title: "انتقال مستقیم بانکی",
    billing: {
      first_name: "سارا",
      last_name: "کاظمی",
      email: "sara.k@example.ir",
      phone: "۰۹۱۲۱۱۱۲۲۳۳",
      city: "تهران",
      state: "THR",
      postcode: "۱۴۱۵۵۶۶۷۷۸",
      country: "IR",
    },
    line_items: [{ product_id: product.id, quantity: 3 }],
    shipping_lines: [{ method_id: "flat_rate", method_title: "پست پیشتاز", total: "45000" }],
  });
  check(created.status === 201, "create status", created.status);
  const order = created.data;
  check(order.status === "pending", "new order pending", order.status);
  check(order.customer_id === 0, "guest customer_id 0", order.customer_id);
  check(order.total === "675000.00", "order total", order.total);
  check(order.line_items.length === 1 && order.line_items[0].total === "630000.00", "line total", order.line_items);
  check(order.line_items[0].sku === "TEA-LAH-500", "line sku", order.line_items[0].sku);
  check(order.line_items[0].price === 210000, "line price (number)", order.line_items[0].price);
  check(order.billing.phone === "۰۹۱۲۱۱۱۲۲۳۳", "Persian digits kept", order.billing.phone);
  check(order.created_via === "rest-api", "created_via", order.created_via);

  // Update it (PUT): pay and complete.
  const updated = await api.put(`orders/${order.id}`, { status: "completed", transaction_id: "BANK-991" });
  check(updated.status === 200, "update status", updated.status);
  check(updated.data.status === "completed", "completed", updated.data.status);
  check(updated.data.transaction_id === "BANK-991", "transaction_id", updated.data.transaction_id);
  check(updated.data.date_paid !== null && updated.data.date_completed !== null, "paid and completed dates");
  check(updated.data.date_modified_gmt >= order.date_modified_gmt, "date_modified_gmt not older");

  const again = await api.get(`orders/${order.id}`);
  check(again.data.status === "completed", "GET after update", again.data.status);
  const stock = await api.get(`products/${product.id}`);
  check(stock.data.stock_quantity === 115, "stock reduced by 3", stock.data.stock_quantity);

  // modified_after sees the change.
  const before = new Date(Date.parse(updated.data.date_modified_gmt + "Z") - 1000).toISOString().slice(0, 19);
  const since = await api.get("orders", { modified_after: before, dates_are_gmt: true });
  check(since.data.length === 1, "modified_after filters", since.data.map((o) => o.id));
  check(since.data.some((o) => o.id === order.id), "modified_after finds the updated order", since.data.map((o) => o.id));

  // WooCommerce's errors.
  await expectStatus(api.get("orders/999999"), 404, "woocommerce_rest_shop_order_invalid_id", "missing order");
  await expectStatus(api.get("orders", { per_page: 101 }), 400, "rest_invalid_param", "per_page 101");
  const bad = new WooCommerceRestApi({ url, consumerKey, consumerSecret: consumerSecret + "x", version: "wc/v3" });
  await expectStatus(bad.get("orders"), 401, "woocommerce_rest_authentication_error", "wrong secret");

  console.log(`fidelity: ${checks} checks passed`);
} catch (e) {
  const r = e.response;
  console.error("request failed:", r ? `${r.status} ${JSON.stringify(r.data)}` : e);
  process.exit(1);
}
