//! The shop database and the WooCommerce behaviour behind every write:
//! status transitions (paid date, stock reduction and restoration, paying
//! customer), totals, refunds, trash, and the webhook events each change
//! raises.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use rand::Rng;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};

use crate::api::{lenient_decimal, lenient_i64, lenient_string, lenient_u64};
use crate::error::WooError;
use crate::model::*;

/// Order statuses WooCommerce registers (without `wc-`), plus the post statuses the REST API accepts.
pub const ORDER_STATUSES: [&str; 11] = [
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
    "trash",
    "auto-draft",
    "draft",
];

/// A change that webhooks may deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Event {
    pub resource: &'static str,
    pub event: &'static str,
    pub id: u64,
}

/// A queued delivery (an Action Scheduler `woocommerce_deliver_webhook_async` job).
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub webhook_id: u64,
    pub resource_id: u64,
}

/// Test knobs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Knobs {
    pub duplicate: bool,
    pub created_then_updated: bool,
    pub omit_line_items: bool,
    pub paused: bool,
}

pub(crate) struct Db {
    pub currency: String,
    pub tax_rate: Decimal,
    pub dp: u32,
    pub number_prefix: String,
    pub refund_gateways: Vec<String>,
    pub clock_offset: chrono::Duration,
    next_post: u64,
    next_item: u64,
    next_user: u64,
    next_webhook: u64,
    next_meta: u64,
    pub orders: BTreeMap<u64, Order>,
    pub refunds: BTreeMap<u64, Refund>,
    pub customers: BTreeMap<u64, Customer>,
    pub products: BTreeMap<u64, Product>,
    pub webhooks: BTreeMap<u64, Webhook>,
    pub events: Vec<Event>,
    pub queue: VecDeque<Job>,
    pub knobs: Knobs,
}

type R<T> = Result<T, WooError>;

fn order_404() -> WooError {
    WooError::new(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
}
fn product_404() -> WooError {
    WooError::new(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
}
fn customer_404() -> WooError {
    WooError::new(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
}

fn random_key(n: usize) -> String {
    const CH: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| CH[rng.gen_range(0..CH.len())] as char)
        .collect()
}

fn slugify(s: &str) -> String {
    let mut out = String::new();
    for c in s.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn gateway_title(id: &str) -> &'static str {
    match id {
        "bacs" => "انتقال مستقیم بانکی",
        "cod" => "پرداخت هنگام دریافت",
        "cheque" => "پرداخت با چک",
        "zarinpal" => "زرین‌پال",
        "idpay" => "آیدی پی",
        _ => "",
    }
}

impl Db {
    pub fn new(
        currency: &str,
        tax_rate: Decimal,
        dp: u32,
        number_prefix: &str,
        refund_gateways: Vec<String>,
    ) -> Db {
        Db {
            currency: currency.into(),
            tax_rate,
            dp,
            number_prefix: number_prefix.into(),
            refund_gateways,
            clock_offset: chrono::Duration::zero(),
            next_post: 100,
            next_item: 1,
            next_user: 2,
            next_webhook: 1,
            next_meta: 1000,
            orders: BTreeMap::new(),
            refunds: BTreeMap::new(),
            customers: BTreeMap::new(),
            products: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            events: Vec::new(),
            queue: VecDeque::new(),
            knobs: Knobs::default(),
        }
    }

    /// Server time, whole seconds (WordPress stores seconds).
    pub fn now(&self) -> DateTime<Utc> {
        let t = Utc::now() + self.clock_offset;
        DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
    }

    fn post_id(&mut self) -> u64 {
        let id = self.next_post;
        // Posts also hold revisions, notes, attachments: ids are not contiguous.
        self.next_post += 1 + rand::thread_rng().gen_range(0..3);
        id
    }
    fn item_id(&mut self) -> u64 {
        let id = self.next_item;
        self.next_item += 1;
        id
    }
    fn meta_id(&mut self) -> u64 {
        self.next_meta += 1;
        self.next_meta
    }

    fn emit(&mut self, resource: &'static str, event: &'static str, id: u64) {
        self.events.push(Event {
            resource,
            event,
            id,
        });
    }

    fn round(&self, d: Decimal) -> Decimal {
        d.round_dp_with_strategy(self.dp, RoundingStrategy::MidpointAwayFromZero)
    }

    fn tax_for(&self, product_id: u64, amount: Decimal) -> Decimal {
        let taxable = self
            .products
            .get(&product_id)
            .is_none_or(|p| p.tax_status == "taxable");
        if taxable && !self.tax_rate.is_zero() {
            self.round(amount * self.tax_rate / Decimal::from(100))
        } else {
            Decimal::ZERO
        }
    }

    fn apply_meta(&mut self, meta: &mut Vec<Meta>, v: &Value) {
        let Some(arr) = v.as_array() else { return };
        for m in arr {
            let key = m.get("key").map(lenient_string).unwrap_or_default();
            let id = m.get("id").and_then(lenient_u64);
            let value = m.get("value").cloned().unwrap_or(Value::Null);
            if let Some(existing) = meta
                .iter_mut()
                .find(|x| id.is_some_and(|i| i == x.id) || (!key.is_empty() && x.key == key))
            {
                existing.value = value;
                if !key.is_empty() {
                    existing.key = key;
                }
            } else if !key.is_empty() {
                let id = self.meta_id();
                meta.push(Meta { id, key, value });
            }
        }
    }

    // ---------------------------------------------------------------- orders

    fn find_product(&self, line: &Value) -> R<&Product> {
        let pid = line.get("product_id").and_then(lenient_u64).unwrap_or(0);
        if pid > 0 {
            return self.products.get(&pid).ok_or_else(|| {
                WooError::new(
                    400,
                    "woocommerce_rest_invalid_product_id",
                    "Invalid product ID.",
                )
            });
        }
        let sku = line.get("sku").map(lenient_string).unwrap_or_default();
        if !sku.is_empty() {
            return self
                .products
                .values()
                .find(|p| p.sku == sku)
                .ok_or_else(|| {
                    WooError::new(
                        400,
                        "woocommerce_rest_invalid_product_id",
                        "Invalid product ID.",
                    )
                });
        }
        Err(WooError::new(
            400,
            "woocommerce_rest_required_product_reference",
            "Product ID or SKU is required.",
        ))
    }

    fn make_line(&mut self, line: &Value) -> R<LineItem> {
        let qty = line.get("quantity").and_then(lenient_i64).unwrap_or(1);
        if qty <= 0 {
            return Err(WooError::new(
                400,
                "woocommerce_rest_invalid_product_quantity",
                "Product quantity must be a positive float.",
            ));
        }
        let p = self.find_product(line)?.clone();
        let unit = p.price().unwrap_or_default();
        let subtotal = line
            .get("subtotal")
            .and_then(lenient_decimal)
            .unwrap_or(unit * Decimal::from(qty));
        let total = line
            .get("total")
            .and_then(lenient_decimal)
            .unwrap_or(subtotal);
        let mut item = LineItem {
            id: self.item_id(),
            name: line
                .get("name")
                .map(lenient_string)
                .filter(|s| !s.is_empty())
                .unwrap_or(p.name.clone()),
            product_id: p.id,
            variation_id: 0,
            quantity: qty,
            tax_class: String::new(),
            subtotal,
            subtotal_tax: Decimal::ZERO,
            total,
            total_tax: Decimal::ZERO,
            sku: p.sku.clone(),
            meta_data: vec![],
        };
        if let Some(m) = line.get("meta_data") {
            let mut meta = std::mem::take(&mut item.meta_data);
            self.apply_meta(&mut meta, m);
            item.meta_data = meta;
        }
        Ok(item)
    }

    fn recalc(&mut self, o: &mut Order) {
        for l in o.line_items.iter_mut() {
            l.subtotal_tax = self.tax_for(l.product_id, l.subtotal);
            l.total_tax = self.tax_for(l.product_id, l.total);
        }
        for s in o.shipping_lines.iter_mut() {
            s.total_tax = Decimal::ZERO;
        }
    }

    fn apply_order_fields(&mut self, o: &mut Order, b: &Value, creating: bool) -> R<bool> {
        let mut set_paid = false;
        if let Some(s) = b.get("status") {
            let s = lenient_string(s);
            if !ORDER_STATUSES.contains(&s.as_str()) {
                return Err(WooError::invalid_param(
                    "status",
                    format!("status is not one of {}.", ORDER_STATUSES.join(", ")),
                ));
            }
            o.status = s;
        }
        if let Some(v) = b.get("customer_id") {
            let id = lenient_u64(v).unwrap_or(0);
            if id != 0 && !self.customers.contains_key(&id) {
                return Err(WooError::new(
                    400,
                    "woocommerce_rest_invalid_customer_id",
                    "Customer ID is invalid.",
                ));
            }
            o.customer_id = id;
        }
        if let Some(v) = b.get("parent_id") {
            o.parent_id = lenient_u64(v).unwrap_or(0);
        }
        if let Some(v) = b.get("currency") {
            o.currency = lenient_string(v);
        }
        if let Some(v) = b.get("customer_note") {
            o.customer_note = lenient_string(v);
        }
        if let Some(v) = b.get("payment_method") {
            o.payment_method = lenient_string(v);
        }
        if let Some(v) = b.get("payment_method_title") {
            o.payment_method_title = lenient_string(v);
        }
        if let Some(v) = b.get("transaction_id") {
            o.transaction_id = lenient_string(v);
        }
        if let Some(v) = b.get("billing") {
            o.billing.apply_json(v);
        }
        if let Some(v) = b.get("shipping") {
            o.shipping.apply_json(v);
        }
        if let Some(v) = b.get("meta_data") {
            let mut meta = std::mem::take(&mut o.meta_data);
            self.apply_meta(&mut meta, v);
            o.meta_data = meta;
        }
        if let Some(lines) = b.get("line_items").and_then(Value::as_array) {
            for line in lines {
                let id = line.get("id").and_then(lenient_u64).unwrap_or(0);
                if id > 0 && !creating {
                    let Some(pos) = o.line_items.iter().position(|l| l.id == id) else {
                        return Err(WooError::new(
                            400,
                            "woocommerce_rest_invalid_item_id",
                            "Order item ID provided is not associated with order.",
                        ));
                    };
                    let remove = line.get("product_id").is_some_and(Value::is_null)
                        || line.get("quantity").and_then(lenient_i64) == Some(0);
                    if remove {
                        o.line_items.remove(pos);
                        continue;
                    }
                    let unit = {
                        let l = &o.line_items[pos];
                        if l.quantity != 0 {
                            l.subtotal / Decimal::from(l.quantity)
                        } else {
                            Decimal::ZERO
                        }
                    };
                    let l = &mut o.line_items[pos];
                    if let Some(q) = line.get("quantity").and_then(lenient_i64) {
                        if q < 0 {
                            return Err(WooError::new(
                                400,
                                "woocommerce_rest_invalid_product_quantity",
                                "Product quantity must be a positive float.",
                            ));
                        }
                        l.quantity = q;
                        l.subtotal = unit * Decimal::from(q);
                        l.total = l.subtotal;
                    }
                    if let Some(s) = line.get("subtotal").and_then(lenient_decimal) {
                        l.subtotal = s;
                    }
                    if let Some(t) = line.get("total").and_then(lenient_decimal) {
                        l.total = t;
                    }
                    if let Some(n) = line.get("name") {
                        l.name = lenient_string(n);
                    }
                } else {
                    let item = self.make_line(line)?;
                    o.line_items.push(item);
                }
            }
        }
        if let Some(lines) = b.get("shipping_lines").and_then(Value::as_array) {
            for s in lines {
                let id = s.get("id").and_then(lenient_u64).unwrap_or(0);
                let total = s.get("total").and_then(lenient_decimal).unwrap_or_default();
                if let Some(existing) = o.shipping_lines.iter_mut().find(|x| id > 0 && x.id == id) {
                    if s.get("method_id").is_some_and(Value::is_null) {
                        let keep = existing.id;
                        o.shipping_lines.retain(|x| x.id != keep);
                        continue;
                    }
                    existing.total = total;
                    if let Some(t) = s.get("method_title") {
                        existing.method_title = lenient_string(t);
                    }
                } else {
                    let sid = self.item_id();
                    o.shipping_lines.push(ShippingLine {
                        id: sid,
                        method_title: s
                            .get("method_title")
                            .map(lenient_string)
                            .unwrap_or_default(),
                        method_id: s.get("method_id").map(lenient_string).unwrap_or_default(),
                        total,
                        total_tax: Decimal::ZERO,
                    });
                }
            }
        }
        if let Some(v) = b.get("set_paid") {
            set_paid = v.as_bool().unwrap_or(false) || lenient_string(v) == "true";
        }
        if o.payment_method_title.is_empty() && !o.payment_method.is_empty() {
            o.payment_method_title = gateway_title(&o.payment_method).to_string();
        }
        Ok(set_paid)
    }

    /// Side effects of a status change (`WC_Order::status_transition`).
    fn transition(&mut self, o: &mut Order, from: &str) {
        let to = o.status.clone();
        if from == to {
            return;
        }
        let now = self.now();
        let paid = ["processing", "completed"].contains(&to.as_str());
        if paid && o.date_paid.is_none() {
            o.date_paid = Some(now);
        }
        if to == "completed" {
            o.date_completed = Some(now);
        }
        if ["processing", "completed", "on-hold"].contains(&to.as_str()) && !o.stock_reduced {
            self.change_stock(o, -1);
            o.stock_reduced = true;
            for l in &o.line_items {
                if let Some(p) = self.products.get_mut(&l.product_id) {
                    p.total_sales += l.quantity;
                }
            }
        }
        if ["cancelled", "pending"].contains(&to.as_str()) && o.stock_reduced {
            self.change_stock(o, 1);
            o.stock_reduced = false;
        }
        if paid && o.customer_id > 0 {
            let now = self.now();
            if let Some(c) = self.customers.get_mut(&o.customer_id)
                && !c.is_paying_customer
            {
                c.is_paying_customer = true;
                c.date_modified = now;
                self.emit("customer", "updated", o.customer_id);
            }
        }
    }

    fn change_stock(&mut self, o: &Order, sign: i64) {
        let now = self.now();
        for l in &o.line_items {
            if let Some(p) = self.products.get_mut(&l.product_id)
                && p.manage_stock
            {
                p.stock_quantity = Some(p.stock_quantity.unwrap_or(0) + sign * l.quantity);
                p.date_modified = now;
                self.events.push(Event {
                    resource: "product",
                    event: "updated",
                    id: p.id,
                });
            }
        }
    }

    fn payment_complete(&mut self, o: &mut Order) {
        let from = o.status.clone();
        if [
            "pending",
            "failed",
            "on-hold",
            "cancelled",
            "checkout-draft",
        ]
        .contains(&from.as_str())
        {
            o.status = "processing".into();
            self.transition(o, &from);
        }
        if o.date_paid.is_none() {
            o.date_paid = Some(self.now());
        }
    }

    /// Creates an order from a REST body.
    pub fn create_order(&mut self, b: &Value, created_via: &str) -> R<Order> {
        let now = self.now();
        let id = self.post_id();
        let mut o = Order {
            id,
            parent_id: 0,
            number: format!("{}{id}", self.number_prefix),
            order_key: format!("wc_order_{}", random_key(13)),
            created_via: created_via.into(),
            status: "pending".into(),
            currency: self.currency.clone(),
            prices_include_tax: false,
            date_created: now,
            date_modified: now,
            date_paid: None,
            date_completed: None,
            customer_id: 0,
            customer_ip_address: String::new(),
            customer_user_agent: String::new(),
            customer_note: String::new(),
            billing: Address::default(),
            shipping: Address::default(),
            payment_method: String::new(),
            payment_method_title: String::new(),
            transaction_id: String::new(),
            line_items: vec![],
            shipping_lines: vec![],
            meta_data: vec![],
            refunds: vec![],
            stock_reduced: false,
            cart_hash: String::new(),
        };
        let set_paid = self.apply_order_fields(&mut o, b, true)?;
        self.recalc(&mut o);
        let status = o.status.clone();
        self.emit("order", "created", id);
        if status != "pending" {
            self.transition(&mut o, "pending");
        }
        if set_paid {
            self.payment_complete(&mut o);
        }
        self.orders.insert(id, o.clone());
        Ok(o)
    }

    /// Updates an order from a REST body (`PUT /orders/{id}`).
    pub fn update_order(&mut self, id: u64, b: &Value) -> R<Order> {
        let mut o = self.orders.get(&id).cloned().ok_or_else(order_404)?;
        let from = o.status.clone();
        let set_paid = self.apply_order_fields(&mut o, b, false)?;
        self.recalc(&mut o);
        self.transition(&mut o, &from);
        if set_paid {
            self.payment_complete(&mut o);
        }
        o.date_modified = self.now();
        self.emit("order", "updated", id);
        self.orders.insert(id, o.clone());
        Ok(o)
    }

    /// Applies `f` to an order as a shop manager would, then saves it.
    pub fn edit_order(&mut self, id: u64, f: impl FnOnce(&mut Order)) -> R<Order> {
        let mut o = self.orders.get(&id).cloned().ok_or_else(order_404)?;
        let from = o.status.clone();
        f(&mut o);
        self.recalc(&mut o);
        self.transition(&mut o, &from);
        o.date_modified = self.now();
        self.emit("order", "updated", id);
        self.orders.insert(id, o.clone());
        Ok(o)
    }

    /// Marks an order paid (`WC_Order::payment_complete`).
    pub fn mark_paid(&mut self, id: u64, transaction_id: &str) -> R<Order> {
        let mut o = self.orders.get(&id).cloned().ok_or_else(order_404)?;
        if !transaction_id.is_empty() {
            o.transaction_id = transaction_id.into();
        }
        self.payment_complete(&mut o);
        o.date_modified = self.now();
        self.emit("order", "updated", id);
        self.orders.insert(id, o.clone());
        Ok(o)
    }

    /// `DELETE /orders/{id}`: trash (fires `order.deleted`) or delete for good.
    pub fn delete_order(&mut self, id: u64, force: bool) -> R<Order> {
        let o = self.orders.get(&id).cloned().ok_or_else(order_404)?;
        if force {
            self.orders.remove(&id);
            for r in &o.refunds {
                self.refunds.remove(r);
            }
            return Ok(o);
        }
        if o.status == "trash" {
            return Err(WooError::new(
                410,
                "woocommerce_rest_already_trashed",
                "The order has already been deleted.",
            ));
        }
        let mut t = o.clone();
        t.meta_data.push(Meta {
            id: self.meta_id(),
            key: "_wp_trash_meta_status".into(),
            value: json!(format!("wc-{}", o.status)),
        });
        t.status = "trash".into();
        t.date_modified = self.now();
        self.emit("order", "deleted", id);
        self.orders.insert(id, t.clone());
        Ok(t)
    }

    /// Restores a trashed order (fires `order.restored`).
    pub fn untrash_order(&mut self, id: u64) -> R<Order> {
        let mut o = self.orders.get(&id).cloned().ok_or_else(order_404)?;
        if o.status != "trash" {
            return Ok(o);
        }
        let prev = o
            .meta_data
            .iter()
            .find(|m| m.key == "_wp_trash_meta_status")
            .and_then(|m| m.value.as_str())
            .map(|s| s.trim_start_matches("wc-").to_string())
            .unwrap_or_else(|| "pending".into());
        o.meta_data.retain(|m| m.key != "_wp_trash_meta_status");
        o.status = prev;
        o.date_modified = self.now();
        self.emit("order", "restored", id);
        self.orders.insert(id, o.clone());
        Ok(o)
    }

    fn refunded_total(&self, o: &Order) -> Decimal {
        o.refunds
            .iter()
            .filter_map(|r| self.refunds.get(r))
            .map(|r| r.amount)
            .sum()
    }

    /// `POST /orders/{id}/refunds` (`wc_create_refund`).
    pub fn create_refund(&mut self, order_id: u64, b: &Value, user_id: u64) -> R<Refund> {
        let mut o = self.orders.get(&order_id).cloned().ok_or_else(|| {
            WooError::new(
                404,
                "woocommerce_rest_invalid_order_id",
                "Invalid order ID.",
            )
        })?;
        let mut lines = Vec::new();
        if let Some(arr) = b.get("line_items").and_then(Value::as_array) {
            for l in arr {
                let item_id = l.get("id").and_then(lenient_u64).unwrap_or(0);
                let Some(item) = o.line_items.iter().find(|x| x.id == item_id) else {
                    continue;
                };
                let qty = l.get("quantity").and_then(lenient_i64).unwrap_or(0);
                let refund_total = l
                    .get("refund_total")
                    .and_then(lenient_decimal)
                    .unwrap_or_default();
                let refund_tax: Decimal = l
                    .get("refund_tax")
                    .and_then(Value::as_array)
                    .map(|t| {
                        t.iter()
                            .filter_map(|x| x.get("refund_total").and_then(lenient_decimal))
                            .sum()
                    })
                    .unwrap_or_default();
                if qty == 0 && refund_total.is_zero() && refund_tax.is_zero() {
                    continue;
                }
                lines.push(RefundLine {
                    id: 0,
                    refunded_item_id: item.id,
                    product_id: item.product_id,
                    name: item.name.clone(),
                    sku: item.sku.clone(),
                    quantity: qty,
                    refund_total,
                    refund_tax,
                });
            }
        }
        let amount = match b.get("amount").and_then(lenient_decimal) {
            Some(a) => a,
            None => lines.iter().map(|l| l.refund_total + l.refund_tax).sum(),
        };
        if amount <= Decimal::ZERO {
            return Err(WooError::new(
                400,
                "woocommerce_rest_invalid_order_refund",
                "Refund amount must be greater than zero.",
            ));
        }
        let remaining = o.totals().total - self.refunded_total(&o);
        if amount > remaining {
            return Err(WooError::new(
                500,
                "woocommerce_rest_cannot_create_order_refund",
                "Invalid refund amount.",
            ));
        }
        let api_refund = b
            .get("api_refund")
            .map(|v| v.as_bool().unwrap_or(lenient_string(v) == "true"))
            .unwrap_or(true);
        if api_refund && !self.refund_gateways.contains(&o.payment_method) {
            let msg = if ["bacs", "cod", "cheque"].contains(&o.payment_method.as_str()) {
                "The payment gateway for this order does not support automatic refunds."
            } else {
                "The payment gateway for this order does not exist."
            };
            return Err(WooError::new(
                500,
                "woocommerce_rest_cannot_create_order_refund",
                msg,
            ));
        }
        let restock = b
            .get("api_restock")
            .map(|v| v.as_bool().unwrap_or(lenient_string(v) == "true"))
            .unwrap_or(true);
        for l in lines.iter_mut() {
            l.id = self.item_id();
        }
        let now = self.now();
        let id = self.post_id();
        let mut meta = Vec::new();
        if let Some(m) = b.get("meta_data") {
            self.apply_meta(&mut meta, m);
        }
        let r = Refund {
            id,
            order_id,
            date_created: now,
            amount,
            reason: b.get("reason").map(lenient_string).unwrap_or_default(),
            refunded_by: b
                .get("refunded_by")
                .and_then(lenient_u64)
                .unwrap_or(user_id),
            refunded_payment: api_refund,
            line_items: lines,
            meta_data: meta,
        };
        if restock {
            for l in &r.line_items {
                if let Some(p) = self.products.get_mut(&l.product_id)
                    && p.manage_stock
                    && l.quantity > 0
                {
                    p.stock_quantity = Some(p.stock_quantity.unwrap_or(0) + l.quantity);
                    p.date_modified = now;
                    self.events.push(Event {
                        resource: "product",
                        event: "updated",
                        id: p.id,
                    });
                }
            }
        }
        self.refunds.insert(id, r.clone());
        o.refunds.insert(0, id);
        if remaining - amount <= Decimal::ZERO {
            let from = o.status.clone();
            o.status = "refunded".into();
            self.transition(&mut o, &from);
        }
        o.date_modified = now;
        self.emit("order", "updated", order_id);
        self.orders.insert(order_id, o);
        Ok(r)
    }

    /// Deletes a refund (fires `order.updated` through `woocommerce_delete_order_refund`).
    pub fn delete_refund(&mut self, order_id: u64, refund_id: u64) -> R<Refund> {
        let r = self
            .refunds
            .get(&refund_id)
            .filter(|r| r.order_id == order_id)
            .cloned()
            .ok_or_else(|| {
                WooError::new(
                    404,
                    "woocommerce_rest_shop_order_refund_invalid_id",
                    "Invalid ID.",
                )
            })?;
        self.refunds.remove(&refund_id);
        if let Some(o) = self.orders.get_mut(&order_id) {
            o.refunds.retain(|x| *x != refund_id);
        }
        self.emit("order", "updated", order_id);
        Ok(r)
    }

    /// Refunds of an order, newest first.
    pub fn refunds_of(&self, order_id: u64) -> Vec<&Refund> {
        self.orders
            .get(&order_id)
            .map(|o| {
                o.refunds
                    .iter()
                    .filter_map(|r| self.refunds.get(r))
                    .collect()
            })
            .unwrap_or_default()
    }

    // ------------------------------------------------------------- customers

    fn apply_customer(&mut self, c: &mut Customer, b: &Value) {
        if let Some(v) = b.get("email") {
            c.email = lenient_string(v);
        }
        if let Some(v) = b.get("first_name") {
            c.first_name = lenient_string(v);
        }
        if let Some(v) = b.get("last_name") {
            c.last_name = lenient_string(v);
        }
        if let Some(v) = b.get("billing") {
            c.billing.apply_json(v);
        }
        if let Some(v) = b.get("shipping") {
            c.shipping.apply_json(v);
        }
        if let Some(v) = b.get("meta_data") {
            let mut meta = std::mem::take(&mut c.meta_data);
            self.apply_meta(&mut meta, v);
            c.meta_data = meta;
        }
    }

    fn check_email(&self, email: &str, except: u64) -> R<()> {
        if !email.contains('@') {
            return Err(WooError::new(
                400,
                "registration-error-invalid-email",
                "Please provide a valid email address.",
            ));
        }
        if self
            .customers
            .values()
            .any(|c| c.id != except && c.email.eq_ignore_ascii_case(email))
        {
            return Err(WooError::new(
                400,
                "registration-error-email-exists",
                "An account is already registered with your email address. Please log in.",
            ));
        }
        Ok(())
    }

    /// `POST /customers`.
    pub fn create_customer(&mut self, b: &Value) -> R<Customer> {
        let email = b.get("email").map(lenient_string).unwrap_or_default();
        if email.is_empty() {
            return Err(WooError::new(
                400,
                "rest_missing_callback_param",
                "Missing parameter(s): email",
            ));
        }
        self.check_email(&email, 0)?;
        let now = self.now();
        let id = self.next_user;
        self.next_user += 1;
        let username = b
            .get("username")
            .map(lenient_string)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| email.split('@').next().unwrap_or("user").to_string());
        if self.customers.values().any(|c| c.username == username) {
            return Err(WooError::new(
                400,
                "registration-error-username-exists",
                "An account is already registered with that username. Please choose another.",
            ));
        }
        let mut c = Customer {
            id,
            date_created: now,
            date_modified: now,
            email,
            first_name: String::new(),
            last_name: String::new(),
            role: "customer".into(),
            username,
            billing: Address::default(),
            shipping: Address::default(),
            is_paying_customer: false,
            meta_data: vec![],
        };
        self.apply_customer(&mut c, b);
        self.customers.insert(id, c.clone());
        self.emit("customer", "created", id);
        Ok(c)
    }

    /// `PUT /customers/{id}`.
    pub fn update_customer(&mut self, id: u64, b: &Value) -> R<Customer> {
        let mut c = self.customers.get(&id).cloned().ok_or_else(customer_404)?;
        if let Some(e) = b.get("email") {
            self.check_email(&lenient_string(e), id)?;
        }
        if b.get("username")
            .is_some_and(|u| lenient_string(u) != c.username)
        {
            return Err(WooError::new(
                400,
                "woocommerce_rest_customer_invalid_argument",
                "Username isn't editable.",
            ));
        }
        self.apply_customer(&mut c, b);
        c.date_modified = self.now();
        self.customers.insert(id, c.clone());
        self.emit("customer", "updated", id);
        Ok(c)
    }

    /// Applies `f` to a customer, then saves.
    pub fn edit_customer(&mut self, id: u64, f: impl FnOnce(&mut Customer)) -> R<Customer> {
        let mut c = self.customers.get(&id).cloned().ok_or_else(customer_404)?;
        f(&mut c);
        c.date_modified = self.now();
        self.customers.insert(id, c.clone());
        self.emit("customer", "updated", id);
        Ok(c)
    }

    /// `DELETE /customers/{id}?force=true`.
    pub fn delete_customer(&mut self, id: u64) -> R<Customer> {
        let c = self.customers.remove(&id).ok_or_else(customer_404)?;
        if c.role == "customer" {
            self.emit("customer", "deleted", id);
        }
        Ok(c)
    }

    // -------------------------------------------------------------- products

    fn apply_product(&mut self, p: &mut Product, b: &Value) -> R<()> {
        if let Some(v) = b.get("name") {
            p.name = lenient_string(v);
            if p.slug.is_empty() {
                p.slug = slugify(&p.name);
            }
        }
        if let Some(v) = b.get("slug") {
            p.slug = lenient_string(v);
        }
        if let Some(v) = b.get("status") {
            p.status = lenient_string(v);
        }
        if let Some(v) = b.get("sku") {
            let sku = lenient_string(v);
            if !sku.is_empty() && self.products.values().any(|x| x.id != p.id && x.sku == sku) {
                return Err(WooError::new(
                    400,
                    "product_invalid_sku",
                    "Invalid or duplicated SKU.",
                ));
            }
            p.sku = sku;
        }
        let price = |v: &Value| -> R<Option<Decimal>> {
            let s = lenient_string(v);
            if s.is_empty() {
                return Ok(None);
            }
            lenient_decimal(v).map(Some).ok_or_else(|| {
                WooError::invalid_param("regular_price", "regular_price is not of type string.")
            })
        };
        if let Some(v) = b.get("regular_price") {
            p.regular_price = price(v)?;
        }
        if let Some(v) = b.get("sale_price") {
            p.sale_price = price(v)?;
        }
        if let Some(v) = b.get("manage_stock") {
            p.manage_stock = v.as_bool().unwrap_or(lenient_string(v) == "true");
        }
        if let Some(v) = b.get("stock_quantity") {
            p.stock_quantity = if v.is_null() { None } else { lenient_i64(v) };
        }
        if let Some(v) = b.get("description") {
            p.description = lenient_string(v);
        }
        if let Some(v) = b.get("short_description") {
            p.short_description = lenient_string(v);
        }
        if let Some(v) = b.get("tax_status") {
            p.tax_status = lenient_string(v);
        }
        if let Some(v) = b.get("meta_data") {
            let mut meta = std::mem::take(&mut p.meta_data);
            self.apply_meta(&mut meta, v);
            p.meta_data = meta;
        }
        Ok(())
    }

    /// `POST /products`.
    pub fn create_product(&mut self, b: &Value) -> R<Product> {
        let now = self.now();
        let mut p = Product {
            id: 0,
            name: String::new(),
            slug: String::new(),
            status: "publish".into(),
            sku: String::new(),
            regular_price: None,
            sale_price: None,
            manage_stock: false,
            stock_quantity: None,
            date_created: now,
            date_modified: now,
            categories: vec![],
            total_sales: 0,
            description: String::new(),
            short_description: String::new(),
            tax_status: "taxable".into(),
            meta_data: vec![],
        };
        self.apply_product(&mut p, b)?;
        if let Some(cats) = b.get("categories").and_then(Value::as_array) {
            for c in cats {
                let name = c.get("name").map(lenient_string).unwrap_or_default();
                let id = c.get("id").and_then(lenient_u64).unwrap_or(15);
                p.categories.push((id, name.clone(), slugify(&name)));
            }
        }
        p.id = self.post_id();
        if p.name.is_empty() {
            p.name = "Product".into();
        }
        if p.slug.is_empty() {
            p.slug = format!("product-{}", p.id);
        }
        self.products.insert(p.id, p.clone());
        self.emit("product", "created", p.id);
        Ok(p)
    }

    /// `PUT /products/{id}`.
    pub fn update_product(&mut self, id: u64, b: &Value) -> R<Product> {
        let mut p = self.products.get(&id).cloned().ok_or_else(product_404)?;
        self.apply_product(&mut p, b)?;
        p.date_modified = self.now();
        self.products.insert(id, p.clone());
        self.emit("product", "updated", id);
        Ok(p)
    }

    /// Applies `f` to a product, then saves.
    pub fn edit_product(&mut self, id: u64, f: impl FnOnce(&mut Product)) -> R<Product> {
        let mut p = self.products.get(&id).cloned().ok_or_else(product_404)?;
        f(&mut p);
        p.date_modified = self.now();
        self.products.insert(id, p.clone());
        self.emit("product", "updated", id);
        Ok(p)
    }

    /// `DELETE /products/{id}`: trash (fires `product.deleted`) or delete for good.
    pub fn delete_product(&mut self, id: u64, force: bool) -> R<Product> {
        let p = self.products.get(&id).cloned().ok_or_else(product_404)?;
        if force {
            self.products.remove(&id);
            return Ok(p);
        }
        if p.status == "trash" {
            return Err(WooError::new(
                410,
                "woocommerce_rest_already_trashed",
                "The product has already been deleted.",
            ));
        }
        let mut t = p;
        t.status = "trash".into();
        t.date_modified = self.now();
        self.products.insert(id, t.clone());
        self.emit("product", "deleted", id);
        Ok(t)
    }

    // -------------------------------------------------------------- webhooks

    /// Adds a webhook record.
    pub fn insert_webhook(
        &mut self,
        name: &str,
        status: &str,
        topic: &str,
        delivery_url: &str,
        secret: &str,
    ) -> Webhook {
        let now = self.now();
        let id = self.next_webhook;
        self.next_webhook += 1;
        let w = Webhook {
            id,
            name: name.into(),
            status: status.into(),
            topic: topic.into(),
            delivery_url: delivery_url.into(),
            secret: secret.into(),
            date_created: now,
            date_modified: now,
            failure_count: 0,
            pending_delivery: true,
            user_id: 1,
        };
        self.webhooks.insert(id, w.clone());
        w
    }

    /// Turns pending events into queued deliveries, the way
    /// `WC_Webhook::process` + `wc_webhook_execute_queue` do: active
    /// webhooks with the matching topic, drafts ignored, once per webhook and
    /// resource per request, and not again while the same job still waits in
    /// the queue.
    pub fn flush_events(&mut self) -> usize {
        let events = std::mem::take(&mut self.events);
        let mut queued = 0;
        let mut seen: Vec<(u64, u64)> = Vec::new();
        for e in events {
            if e.resource == "order"
                && let Some(o) = self.orders.get(&e.id)
                && ["draft", "auto-draft", "new"].contains(&o.status.as_str())
            {
                continue;
            }
            let mut topics = vec![format!("{}.{}", e.resource, e.event)];
            if self.knobs.created_then_updated && e.resource == "order" && e.event == "created" {
                topics.push("order.updated".into());
            }
            for topic in topics {
                let hooks: Vec<u64> = self
                    .webhooks
                    .values()
                    .filter(|w| w.status == "active" && w.topic == topic)
                    .map(|w| w.id)
                    .collect();
                for wid in hooks {
                    if seen.contains(&(wid, e.id)) {
                        continue;
                    }
                    seen.push((wid, e.id));
                    let pending = self
                        .queue
                        .iter()
                        .any(|j| j.webhook_id == wid && j.resource_id == e.id);
                    if pending && !self.knobs.duplicate {
                        continue;
                    }
                    let copies = if self.knobs.duplicate { 2 } else { 1 };
                    for _ in 0..copies {
                        self.queue.push_back(Job {
                            webhook_id: wid,
                            resource_id: e.id,
                        });
                        queued += 1;
                    }
                }
            }
        }
        queued
    }
}
