//! The shop's records as WooCommerce stores them, and their REST v3 shapes.
//!
//! Records keep exact amounts ([`Decimal`]); the REST rendering formats
//! order money as strings with the store's price decimals (`dp`), product
//! prices as stored, and dates as site-local `YYYY-MM-DDTHH:MM:SS` plus a
//! `_gmt` twin, like `wc_rest_prepare_date_response`.

use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// A `meta_data` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Meta {
    /// Meta id.
    pub id: u64,
    /// Key, e.g. `_billing_national_id`.
    pub key: String,
    /// Any JSON value.
    pub value: Value,
}

/// A billing or shipping address (shipping has no `email`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Address line 1.
    pub address_1: String,
    /// Address line 2.
    pub address_2: String,
    /// City.
    pub city: String,
    /// State code (e.g. `THR` for Tehran in WooCommerce's Iran states).
    pub state: String,
    /// Postcode, as typed (may hold Persian digits).
    pub postcode: String,
    /// Country code, e.g. `IR`.
    pub country: String,
    /// E-mail (billing only).
    pub email: String,
    /// Phone, as typed (may hold Persian digits).
    pub phone: String,
}

impl Address {
    /// An Iranian address.
    pub fn iran(first_name: &str, last_name: &str, city: &str, state: &str) -> Address {
        Address {
            first_name: first_name.into(),
            last_name: last_name.into(),
            city: city.into(),
            state: state.into(),
            country: "IR".into(),
            ..Default::default()
        }
    }
    /// Sets the e-mail.
    pub fn email(mut self, email: &str) -> Self {
        self.email = email.into();
        self
    }
    /// Sets the phone.
    pub fn phone(mut self, phone: &str) -> Self {
        self.phone = phone.into();
        self
    }
    /// Sets the postcode.
    pub fn postcode(mut self, postcode: &str) -> Self {
        self.postcode = postcode.into();
        self
    }
    /// Sets address line 1.
    pub fn line1(mut self, line: &str) -> Self {
        self.address_1 = line.into();
        self
    }

    pub(crate) fn billing_json(&self) -> Value {
        json!({
            "first_name": self.first_name, "last_name": self.last_name, "company": self.company,
            "address_1": self.address_1, "address_2": self.address_2, "city": self.city,
            "state": self.state, "postcode": self.postcode, "country": self.country,
            "email": self.email, "phone": self.phone,
        })
    }

    pub(crate) fn shipping_json(&self) -> Value {
        json!({
            "first_name": self.first_name, "last_name": self.last_name, "company": self.company,
            "address_1": self.address_1, "address_2": self.address_2, "city": self.city,
            "state": self.state, "postcode": self.postcode, "country": self.country,
            "phone": self.phone,
        })
    }

    /// Applies the fields present in a REST `billing`/`shipping` object.
    pub(crate) fn apply_json(&mut self, v: &Value) {
        let Some(o) = v.as_object() else { return };
        let set = |f: &mut String, k: &str| {
            if let Some(s) = o.get(k) {
                *f = crate::api::lenient_string(s);
            }
        };
        set(&mut self.first_name, "first_name");
        set(&mut self.last_name, "last_name");
        set(&mut self.company, "company");
        set(&mut self.address_1, "address_1");
        set(&mut self.address_2, "address_2");
        set(&mut self.city, "city");
        set(&mut self.state, "state");
        set(&mut self.postcode, "postcode");
        set(&mut self.country, "country");
        set(&mut self.email, "email");
        set(&mut self.phone, "phone");
    }
}

/// An order line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineItem {
    /// Order item id (its own sequence, like `woocommerce_order_items`).
    pub id: u64,
    /// Product name at the time of the order.
    pub name: String,
    /// Product id (0 when the product was deleted).
    pub product_id: u64,
    /// Variation id.
    pub variation_id: u64,
    /// Quantity.
    pub quantity: i64,
    /// Tax class (`""` = standard).
    pub tax_class: String,
    /// Before discounts, without tax.
    pub subtotal: Decimal,
    /// Tax on `subtotal`.
    pub subtotal_tax: Decimal,
    /// After discounts, without tax.
    pub total: Decimal,
    /// Tax on `total`.
    pub total_tax: Decimal,
    /// Product SKU.
    pub sku: String,
    /// Item meta.
    pub meta_data: Vec<Meta>,
}

/// A shipping line.
#[derive(Debug, Clone, PartialEq)]
pub struct ShippingLine {
    /// Order item id.
    pub id: u64,
    /// Title, e.g. `پست پیشتاز`.
    pub method_title: String,
    /// Method id, e.g. `flat_rate`.
    pub method_id: String,
    /// Cost without tax.
    pub total: Decimal,
    /// Tax.
    pub total_tax: Decimal,
}

/// An order (also what an order's `checkout-draft` is).
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// Id (shared post id sequence with products and refunds).
    pub id: u64,
    /// Parent order id.
    pub parent_id: u64,
    /// Order number shown to the shopper (`number`).
    pub number: String,
    /// `wc_order_…` key.
    pub order_key: String,
    /// `checkout`, `store-api`, `rest-api`, `admin`.
    pub created_via: String,
    /// Status without the `wc-` prefix.
    pub status: String,
    /// Currency code.
    pub currency: String,
    /// Whether prices include tax.
    pub prices_include_tax: bool,
    /// Created (UTC).
    pub date_created: DateTime<Utc>,
    /// Last change (UTC), bumped on every save.
    pub date_modified: DateTime<Utc>,
    /// Paid (UTC).
    pub date_paid: Option<DateTime<Utc>>,
    /// Completed (UTC).
    pub date_completed: Option<DateTime<Utc>>,
    /// Registered customer id, 0 for guests.
    pub customer_id: u64,
    /// Shopper IP.
    pub customer_ip_address: String,
    /// Shopper user agent.
    pub customer_user_agent: String,
    /// Note from the shopper.
    pub customer_note: String,
    /// Billing address.
    pub billing: Address,
    /// Shipping address.
    pub shipping: Address,
    /// Gateway id, e.g. `bacs`, `cod`, `zarinpal`.
    pub payment_method: String,
    /// Gateway title.
    pub payment_method_title: String,
    /// Gateway transaction id.
    pub transaction_id: String,
    /// Lines.
    pub line_items: Vec<LineItem>,
    /// Shipping lines.
    pub shipping_lines: Vec<ShippingLine>,
    /// Order meta.
    pub meta_data: Vec<Meta>,
    /// Refund ids, newest first.
    pub refunds: Vec<u64>,
    /// Stock was reduced for this order (`_order_stock_reduced`).
    pub stock_reduced: bool,
    /// Cart hash.
    pub cart_hash: String,
}

/// Totals of an order, computed from its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Discount.
    pub discount_total: Decimal,
    /// Shipping.
    pub shipping_total: Decimal,
    /// Shipping tax.
    pub shipping_tax: Decimal,
    /// Tax on lines.
    pub cart_tax: Decimal,
    /// All tax.
    pub total_tax: Decimal,
    /// Grand total.
    pub total: Decimal,
}

impl Order {
    /// Totals as `WC_Order::calculate_totals` would store them.
    pub fn totals(&self) -> Totals {
        let lines: Decimal = self.line_items.iter().map(|l| l.total).sum();
        let cart_tax: Decimal = self.line_items.iter().map(|l| l.total_tax).sum();
        let shipping_total: Decimal = self.shipping_lines.iter().map(|s| s.total).sum();
        let shipping_tax: Decimal = self.shipping_lines.iter().map(|s| s.total_tax).sum();
        let discount_total: Decimal = self.line_items.iter().map(|l| l.subtotal - l.total).sum();
        let total_tax = cart_tax + shipping_tax;
        Totals {
            discount_total,
            shipping_total,
            shipping_tax,
            cart_tax,
            total_tax,
            total: lines + total_tax + shipping_total,
        }
    }
}

/// A refund line.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundLine {
    /// Refund item id.
    pub id: u64,
    /// The order item refunded.
    pub refunded_item_id: u64,
    /// Product.
    pub product_id: u64,
    /// Name.
    pub name: String,
    /// SKU.
    pub sku: String,
    /// Quantity refunded (positive; rendered negative).
    pub quantity: i64,
    /// Amount refunded without tax (positive; rendered negative).
    pub refund_total: Decimal,
    /// Tax refunded (positive; rendered negative).
    pub refund_tax: Decimal,
}

/// A refund (`shop_order_refund`).
#[derive(Debug, Clone, PartialEq)]
pub struct Refund {
    /// Id (post id sequence).
    pub id: u64,
    /// Parent order.
    pub order_id: u64,
    /// Created (UTC).
    pub date_created: DateTime<Utc>,
    /// Amount refunded.
    pub amount: Decimal,
    /// Reason.
    pub reason: String,
    /// User id who refunded.
    pub refunded_by: u64,
    /// Whether the gateway refunded the payment.
    pub refunded_payment: bool,
    /// Lines.
    pub line_items: Vec<RefundLine>,
    /// Meta.
    pub meta_data: Vec<Meta>,
}

/// A registered customer (WordPress user with role `customer`).
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    /// User id.
    pub id: u64,
    /// Registered (UTC).
    pub date_created: DateTime<Utc>,
    /// Last change (UTC).
    pub date_modified: DateTime<Utc>,
    /// E-mail (unique).
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Role.
    pub role: String,
    /// Login.
    pub username: String,
    /// Billing address.
    pub billing: Address,
    /// Shipping address.
    pub shipping: Address,
    /// Has a paid order.
    pub is_paying_customer: bool,
    /// Meta (e.g. national id stored by a local plugin).
    pub meta_data: Vec<Meta>,
}

/// A simple product.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// Id (post id sequence).
    pub id: u64,
    /// Name.
    pub name: String,
    /// Slug.
    pub slug: String,
    /// `publish`, `draft`, `pending`, `private`, `trash`.
    pub status: String,
    /// SKU (unique when not empty).
    pub sku: String,
    /// Regular price (None = empty, not purchasable).
    pub regular_price: Option<Decimal>,
    /// Sale price.
    pub sale_price: Option<Decimal>,
    /// Manage stock.
    pub manage_stock: bool,
    /// Stock quantity (meaningful when `manage_stock`).
    pub stock_quantity: Option<i64>,
    /// Created (UTC).
    pub date_created: DateTime<Utc>,
    /// Last change (UTC).
    pub date_modified: DateTime<Utc>,
    /// Categories: (id, name, slug).
    pub categories: Vec<(u64, String, String)>,
    /// Units sold.
    pub total_sales: i64,
    /// Description.
    pub description: String,
    /// Short description.
    pub short_description: String,
    /// `taxable` or `none`.
    pub tax_status: String,
    /// Meta.
    pub meta_data: Vec<Meta>,
}

impl Product {
    /// Active price: sale price when set, else regular price.
    pub fn price(&self) -> Option<Decimal> {
        self.sale_price.or(self.regular_price)
    }
    /// `instock` / `outofstock`.
    pub fn stock_status(&self) -> &'static str {
        match (self.manage_stock, self.stock_quantity) {
            (true, Some(q)) if q <= 0 => "outofstock",
            _ => "instock",
        }
    }
}

/// Webhook status.
pub const WEBHOOK_STATUSES: [&str; 3] = ["active", "paused", "disabled"];

/// A webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// `active`, `paused`, `disabled`.
    pub status: String,
    /// `resource.event` or `action.<hook>`.
    pub topic: String,
    /// Delivery URL.
    pub delivery_url: String,
    /// HMAC secret.
    pub secret: String,
    /// Created (UTC).
    pub date_created: DateTime<Utc>,
    /// Last change (UTC).
    pub date_modified: DateTime<Utc>,
    /// Consecutive failures.
    pub failure_count: u32,
    /// True until the creation ping got a 200.
    pub pending_delivery: bool,
    /// Owner user id.
    pub user_id: u64,
}

impl Webhook {
    /// `order` of `order.created`.
    pub fn resource(&self) -> &str {
        self.topic.split_once('.').map(|(r, _)| r).unwrap_or("")
    }
    /// `created` of `order.created`.
    pub fn event(&self) -> &str {
        self.topic.split_once('.').map(|(_, e)| e).unwrap_or("")
    }
    /// The WordPress hooks behind the topic (as `WC_Webhook::get_hooks`).
    pub fn hooks(&self) -> Vec<&'static str> {
        match self.topic.as_str() {
            "coupon.created" => vec![
                "woocommerce_process_shop_coupon_meta",
                "woocommerce_new_coupon",
            ],
            "coupon.updated" => vec![
                "woocommerce_process_shop_coupon_meta",
                "woocommerce_update_coupon",
            ],
            "coupon.deleted" => vec!["wp_trash_post"],
            "coupon.restored" => vec!["untrashed_post"],
            "customer.created" => vec![
                "user_register",
                "woocommerce_created_customer",
                "woocommerce_new_customer",
            ],
            "customer.updated" => vec!["profile_update", "woocommerce_update_customer"],
            "customer.deleted" => vec!["delete_user"],
            "order.created" => vec!["woocommerce_new_order"],
            "order.updated" => vec![
                "woocommerce_update_order",
                "woocommerce_order_refunded",
                "woocommerce_delete_order_refund",
            ],
            "order.deleted" => vec!["wp_trash_post", "woocommerce_trash_order"],
            "order.restored" => vec!["untrashed_post", "woocommerce_untrash_order"],
            "product.created" => vec![
                "woocommerce_process_product_meta",
                "woocommerce_new_product",
                "woocommerce_new_product_variation",
            ],
            "product.updated" => vec![
                "woocommerce_process_product_meta",
                "woocommerce_update_product",
                "woocommerce_update_product_variation",
            ],
            "product.deleted" => vec!["wp_trash_post"],
            "product.restored" => vec!["untrashed_post"],
            _ => vec![],
        }
    }
}

/// Whether `topic` is one WooCommerce accepts (`wc_is_webhook_valid_topic`).
pub fn valid_topic(topic: &str) -> bool {
    if let Some(rest) = topic.strip_prefix("action.") {
        return !rest.is_empty();
    }
    match topic.split_once('.') {
        Some((r, e)) => {
            ["coupon", "customer", "order", "product"].contains(&r)
                && ["created", "updated", "deleted", "restored"].contains(&e)
        }
        None => false,
    }
}

// ------------------------------------------------------------- rendering

/// How to render: site timezone and decimals.
#[derive(Debug, Clone)]
pub(crate) struct Fmt {
    pub offset: FixedOffset,
    pub dp: u32,
    pub site: String,
    pub currency_symbol: String,
}

impl Fmt {
    pub fn local(&self, d: DateTime<Utc>) -> Value {
        Value::String(
            d.with_timezone(&self.offset)
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string(),
        )
    }
    pub fn gmt(&self, d: DateTime<Utc>) -> Value {
        Value::String(d.format("%Y-%m-%dT%H:%M:%S").to_string())
    }
    pub fn local_opt(&self, d: Option<DateTime<Utc>>) -> Value {
        d.map(|d| self.local(d)).unwrap_or(Value::Null)
    }
    pub fn gmt_opt(&self, d: Option<DateTime<Utc>>) -> Value {
        d.map(|d| self.gmt(d)).unwrap_or(Value::Null)
    }
    /// `wc_format_decimal($x, $dp)`: a string with exactly `dp` decimals.
    pub fn money(&self, d: Decimal) -> Value {
        Value::String(money_str(d, self.dp))
    }
    fn links(&self, path: &str, collection: &str) -> Value {
        json!({
            "self": [{"href": format!("{}/wp-json/wc/v3/{path}", self.site)}],
            "collection": [{"href": format!("{}/wp-json/wc/v3/{collection}", self.site)}],
        })
    }
}

/// `d` rounded half away from zero with exactly `dp` decimals.
pub fn money_str(d: Decimal, dp: u32) -> String {
    let mut r = d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(dp);
    if r.is_zero() {
        r.set_sign_positive(true);
    }
    r.to_string()
}

/// A product price as stored (`"1500000"`, `"19.5"`), empty when unset.
pub fn price_str(d: Option<Decimal>) -> String {
    d.map(|d| d.normalize().to_string()).unwrap_or_default()
}

/// A JSON number for `line_items[].price` (PHP: `total / quantity`).
pub(crate) fn number(d: Decimal) -> Value {
    let n = d.normalize();
    if n.scale() == 0
        && let Ok(i) = i64::try_from(n.mantissa())
    {
        return Value::from(i);
    }
    use rust_decimal::prelude::ToPrimitive;
    n.to_f64()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn meta_json(m: &[Meta]) -> Value {
    serde_json::to_value(m).unwrap_or(Value::Array(vec![]))
}

pub(crate) fn order_json(o: &Order, refunds: &[&Refund], f: &Fmt, wc_version: &str) -> Value {
    let t = o.totals();
    let line_items: Vec<Value> = o
        .line_items
        .iter()
        .map(|l| {
            let price = if l.quantity != 0 {
                l.total / Decimal::from(l.quantity)
            } else {
                Decimal::ZERO
            };
            json!({
                "id": l.id, "name": l.name, "product_id": l.product_id, "variation_id": l.variation_id,
                "quantity": l.quantity, "tax_class": l.tax_class,
                "subtotal": f.money(l.subtotal), "subtotal_tax": f.money(l.subtotal_tax),
                "total": f.money(l.total), "total_tax": f.money(l.total_tax),
                "taxes": if l.total_tax.is_zero() && l.subtotal_tax.is_zero() { json!([]) } else {
                    json!([{"id": 1, "total": money_str(l.total_tax, 6), "subtotal": money_str(l.subtotal_tax, 6)}])
                },
                "meta_data": meta_json(&l.meta_data), "sku": l.sku, "price": number(price),
                "image": {"id": "", "src": ""}, "parent_name": Value::Null,
            })
        })
        .collect();
    let tax_lines = if t.total_tax.is_zero() {
        json!([])
    } else {
        json!([{
            "id": o.line_items.last().map(|l| l.id + 1000).unwrap_or(1), "rate_code": "IR-VAT-1", "rate_id": 1,
            "label": "مالیات بر ارزش افزوده", "compound": false,
            "tax_total": f.money(t.cart_tax), "shipping_tax_total": f.money(t.shipping_tax),
            "rate_percent": 10, "meta_data": [],
        }])
    };
    let shipping_lines: Vec<Value> = o
        .shipping_lines
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "method_title": s.method_title, "method_id": s.method_id, "instance_id": "",
                "total": f.money(s.total), "total_tax": f.money(s.total_tax), "taxes": [], "meta_data": [],
            })
        })
        .collect();
    let refunds: Vec<Value> = refunds
        .iter()
        .map(|r| json!({"id": r.id, "reason": r.reason, "total": f.money(-r.amount)}))
        .collect();
    let is_editable =
        ["pending", "on-hold", "auto-draft", "checkout-draft"].contains(&o.status.as_str());
    let needs_payment =
        ["pending", "failed"].contains(&o.status.as_str()) && t.total > Decimal::ZERO;
    let mut links = f.links(&format!("orders/{}", o.id), "orders");
    if o.customer_id > 0 {
        links["customer"] =
            json!([{"href": format!("{}/wp-json/wc/v3/customers/{}", f.site, o.customer_id)}]);
    }
    json!({
        "id": o.id, "parent_id": o.parent_id, "status": o.status, "currency": o.currency,
        "version": wc_version, "prices_include_tax": o.prices_include_tax,
        "date_created": f.local(o.date_created), "date_modified": f.local(o.date_modified),
        "discount_total": f.money(t.discount_total), "discount_tax": f.money(Decimal::ZERO),
        "shipping_total": f.money(t.shipping_total), "shipping_tax": f.money(t.shipping_tax),
        "cart_tax": f.money(t.cart_tax), "total": f.money(t.total), "total_tax": f.money(t.total_tax),
        "customer_id": o.customer_id, "order_key": o.order_key,
        "billing": o.billing.billing_json(), "shipping": o.shipping.shipping_json(),
        "payment_method": o.payment_method, "payment_method_title": o.payment_method_title,
        "transaction_id": o.transaction_id, "customer_ip_address": o.customer_ip_address,
        "customer_user_agent": o.customer_user_agent, "created_via": o.created_via,
        "customer_note": o.customer_note,
        "date_completed": f.local_opt(o.date_completed), "date_paid": f.local_opt(o.date_paid),
        "cart_hash": o.cart_hash, "number": o.number, "meta_data": meta_json(&o.meta_data),
        "line_items": line_items, "tax_lines": tax_lines, "shipping_lines": shipping_lines,
        "fee_lines": [], "coupon_lines": [], "refunds": refunds,
        "payment_url": format!("{}/checkout/order-pay/{}/?pay_for_order=true&key={}", f.site, o.id, o.order_key),
        "is_editable": is_editable,
        "needs_payment": needs_payment, "needs_processing": true,
        "date_created_gmt": f.gmt(o.date_created), "date_modified_gmt": f.gmt(o.date_modified),
        "date_completed_gmt": f.gmt_opt(o.date_completed), "date_paid_gmt": f.gmt_opt(o.date_paid),
        "currency_symbol": f.currency_symbol,
        "_links": links,
    })
}

pub(crate) fn refund_json(r: &Refund, f: &Fmt) -> Value {
    let lines: Vec<Value> = r
        .line_items
        .iter()
        .map(|l| {
            let price = if l.quantity != 0 {
                -l.refund_total / Decimal::from(l.quantity)
            } else {
                Decimal::ZERO
            };
            json!({
                "id": l.id, "name": l.name, "product_id": l.product_id, "variation_id": 0,
                "quantity": -l.quantity, "tax_class": "",
                "subtotal": f.money(-l.refund_total), "subtotal_tax": f.money(-l.refund_tax),
                "total": f.money(-l.refund_total), "total_tax": f.money(-l.refund_tax), "taxes": [],
                "meta_data": [{"id": l.id * 10, "key": "_refunded_item_id", "value": l.refunded_item_id.to_string(),
                               "display_key": "_refunded_item_id", "display_value": l.refunded_item_id.to_string()}],
                "sku": l.sku, "price": number(price), "refund_total": number(l.refund_total + l.refund_tax),
            })
        })
        .collect();
    json!({
        "id": r.id, "date_created": f.local(r.date_created), "date_created_gmt": f.gmt(r.date_created),
        "amount": f.money(r.amount), "reason": r.reason, "refunded_by": r.refunded_by,
        "refunded_payment": r.refunded_payment, "meta_data": meta_json(&r.meta_data),
        "line_items": lines, "shipping_lines": [], "tax_lines": [], "fee_lines": [],
        "_links": {
            "self": [{"href": format!("{}/wp-json/wc/v3/orders/{}/refunds/{}", f.site, r.order_id, r.id)}],
            "collection": [{"href": format!("{}/wp-json/wc/v3/orders/{}/refunds", f.site, r.order_id)}],
            "up": [{"href": format!("{}/wp-json/wc/v3/orders/{}", f.site, r.order_id)}],
        },
    })
}

pub(crate) fn customer_json(c: &Customer, f: &Fmt) -> Value {
    json!({
        "id": c.id, "date_created": f.local(c.date_created), "date_created_gmt": f.gmt(c.date_created),
        "date_modified": f.local(c.date_modified), "date_modified_gmt": f.gmt(c.date_modified),
        "email": c.email, "first_name": c.first_name, "last_name": c.last_name, "role": c.role,
        "username": c.username, "billing": c.billing.billing_json(), "shipping": c.shipping.shipping_json(),
        "is_paying_customer": c.is_paying_customer,
        "avatar_url": format!("https://secure.gravatar.com/avatar/{}?s=96&d=mm&r=g", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(c.email.trim().to_lowercase().as_bytes()))),
        "meta_data": meta_json(&c.meta_data),
        "_links": f.links(&format!("customers/{}", c.id), "customers"),
    })
}

pub(crate) fn product_json(p: &Product, f: &Fmt) -> Value {
    let price = price_str(p.price());
    let on_sale = p.sale_price.is_some() && p.sale_price < p.regular_price;
    let categories: Vec<Value> = p
        .categories
        .iter()
        .map(|(id, name, slug)| json!({"id": id, "name": name, "slug": slug}))
        .collect();
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("id", json!(p.id));
    put("name", json!(p.name));
    put("slug", json!(p.slug));
    put(
        "permalink",
        json!(format!("{}/product/{}/", f.site, p.slug)),
    );
    put("date_created", f.local(p.date_created));
    put("date_created_gmt", f.gmt(p.date_created));
    put("date_modified", f.local(p.date_modified));
    put("date_modified_gmt", f.gmt(p.date_modified));
    put("type", json!("simple"));
    put("status", json!(p.status));
    put("featured", json!(false));
    put("catalog_visibility", json!("visible"));
    put("description", json!(p.description));
    put("short_description", json!(p.short_description));
    put("sku", json!(p.sku));
    put("price", json!(price));
    put("regular_price", json!(price_str(p.regular_price)));
    put("sale_price", json!(price_str(p.sale_price)));
    put("date_on_sale_from", Value::Null);
    put("date_on_sale_from_gmt", Value::Null);
    put("date_on_sale_to", Value::Null);
    put("date_on_sale_to_gmt", Value::Null);
    put("on_sale", json!(on_sale));
    put(
        "purchasable",
        json!(p.price().is_some() && p.status == "publish"),
    );
    put("total_sales", json!(p.total_sales));
    put("virtual", json!(false));
    put("downloadable", json!(false));
    put("downloads", json!([]));
    put("download_limit", json!(-1));
    put("download_expiry", json!(-1));
    put("external_url", json!(""));
    put("button_text", json!(""));
    put("tax_status", json!(p.tax_status));
    put("tax_class", json!(""));
    put("manage_stock", json!(p.manage_stock));
    put(
        "stock_quantity",
        if p.manage_stock {
            json!(p.stock_quantity)
        } else {
            Value::Null
        },
    );
    put("backorders", json!("no"));
    put("backorders_allowed", json!(false));
    put("backordered", json!(false));
    put("low_stock_amount", Value::Null);
    put("sold_individually", json!(false));
    put("weight", json!(""));
    put(
        "dimensions",
        json!({"length": "", "width": "", "height": ""}),
    );
    put("shipping_required", json!(true));
    put("shipping_taxable", json!(true));
    put("shipping_class", json!(""));
    put("shipping_class_id", json!(0));
    put("reviews_allowed", json!(true));
    put("average_rating", json!("0.00"));
    put("rating_count", json!(0));
    put("upsell_ids", json!([]));
    put("cross_sell_ids", json!([]));
    put("parent_id", json!(0));
    put("purchase_note", json!(""));
    put("categories", json!(categories));
    put("brands", json!([]));
    put("tags", json!([]));
    put("images", json!([]));
    put("attributes", json!([]));
    put("default_attributes", json!([]));
    put("variations", json!([]));
    put("grouped_products", json!([]));
    put("menu_order", json!(0));
    put(
        "price_html",
        json!(if price.is_empty() {
            String::new()
        } else {
            format!(
                "<span class=\"woocommerce-Price-amount amount\"><bdi>{price}&nbsp;<span class=\"woocommerce-Price-currencySymbol\">{}</span></bdi></span>",
                f.currency_symbol
            )
        }),
    );
    put("related_ids", json!([]));
    put("meta_data", meta_json(&p.meta_data));
    put("stock_status", json!(p.stock_status()));
    put("has_options", json!(false));
    put("post_password", json!(""));
    put("global_unique_id", json!(""));
    put("_links", f.links(&format!("products/{}", p.id), "products"));
    Value::Object(m)
}

pub(crate) fn webhook_json(w: &Webhook, f: &Fmt, edit: bool) -> Value {
    let mut v = json!({
        "id": w.id, "name": w.name, "status": w.status, "topic": w.topic,
        "resource": w.resource(), "event": w.event(), "hooks": w.hooks(),
        "delivery_url": w.delivery_url,
        "date_created": f.local(w.date_created), "date_created_gmt": f.gmt(w.date_created),
        "date_modified": f.local(w.date_modified), "date_modified_gmt": f.gmt(w.date_modified),
        "_links": f.links(&format!("webhooks/{}", w.id), "webhooks"),
    });
    if edit {
        v["secret"] = json!(w.secret);
    }
    v
}
