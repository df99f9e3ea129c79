//! A WooCommerce shop simulator: REST API v3 and webhooks.
//!
//! One [`WooSim`] = one WooCommerce store served over real HTTP at
//! `http://127.0.0.1:PORT/wp-json/wc/v3/`, following WooCommerce's REST
//! controllers and `WC_REST_Authentication` (Basic / query-string keys when
//! the site is HTTPS, OAuth 1.0a otherwise), WordPress's pagination headers
//! and error bodies, and `WC_Webhook` delivery: background queue, HMAC
//! signature over the raw body, no retries, failure counting and automatic
//! disabling, creation ping.
//!
//! Tests drive it the way a shopper or a shop manager would (place orders
//! as a registered customer or a guest, pay, complete, refund, change
//! stock) through the methods of [`WooSim`], inspect the deliveries, and
//! turn on the real-world misbehaviours connectors must survive
//! (duplicate deliveries, `order.created` followed by an identical
//! `order.updated`, webhook payloads without line items).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use hamgam_woo_sim::{Address, NewOrder, NewProduct, SimConfig, WooSim};
//! let shop = WooSim::start(SimConfig::default()).await?;
//! let p = shop.create_product(NewProduct::new("چای سیاه لاهیجان", "TEA-1", 210_000).stock(40))?;
//! let guest = Address::iran("مریم", "احمدی", "تهران", "THR").email("m@example.ir").phone("۰۹۱۲۳۴۵۶۷۸۹");
//! let o = shop.place_order(NewOrder::guest(guest).line(p.id, 2).payment("zarinpal"))?;
//! shop.mark_paid(o.id, "ZP-1")?;
//! println!("{} has order {}", shop.url(), o.id);
//! # Ok(()) }
//! ```

#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod error;
pub mod json;
pub mod model;
pub mod seed;
mod store;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

pub use auth::{ApiKey, AuthMethod, Permissions};
pub use error::WooError;
pub use model::*;
pub use store::ORDER_STATUSES;
pub use webhooks::{Delivery, signature};

/// Configuration of one simulated store.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// REST API keys (default: one read/write key `ck_test` / `cs_test`).
    pub keys: Vec<ApiKey>,
    /// Whether WordPress sees requests as HTTPS (`is_ssl()`, e.g. behind a
    /// TLS-terminating proxy). True: HTTP Basic and `consumer_key` query
    /// parameters are accepted and OAuth signs `https://` URLs. False (a
    /// plain-HTTP site): only OAuth 1.0a over `http://` URLs.
    pub https: bool,
    /// Site host (`host:port`) used in links, `X-WC-Webhook-Source` and the
    /// OAuth base URL; default: the bound address.
    pub site_host: Option<String>,
    /// Store currency (`IRT` = Toman).
    pub currency: String,
    /// Currency symbol in responses.
    pub currency_symbol: String,
    /// Site timezone offset in minutes (Tehran: +210).
    pub utc_offset_minutes: i32,
    /// Price decimals (`dp`; default 2).
    pub price_decimals: u32,
    /// Standard tax rate in percent applied to taxable products (0 = no tax).
    pub tax_rate: Decimal,
    /// Prefix of order numbers (`number`); empty = the order id.
    pub order_number_prefix: String,
    /// Webhook delivery timeout (WooCommerce: 60 s).
    pub webhook_timeout: Duration,
    /// Creation ping timeout (WordPress HTTP default: 5 s).
    pub ping_timeout: Duration,
    /// `woocommerce_max_webhook_delivery_failures` (5).
    pub max_delivery_failures: u32,
    /// Gateways that support automatic refunds (`api_refund`).
    pub refund_gateways: Vec<String>,
    /// `WC_VERSION`.
    pub wc_version: String,
    /// WordPress version.
    pub wp_version: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            keys: vec![ApiKey::read_write("ck_test", "cs_test")],
            https: true,
            site_host: None,
            currency: "IRT".into(),
            currency_symbol: "تومان".into(),
            utc_offset_minutes: 210,
            price_decimals: 2,
            tax_rate: Decimal::ZERO,
            order_number_prefix: String::new(),
            webhook_timeout: Duration::from_secs(60),
            ping_timeout: Duration::from_secs(5),
            max_delivery_failures: 5,
            refund_gateways: vec![],
            wc_version: "9.8.5".into(),
            wp_version: "6.8.1".into(),
        }
    }
}

impl SimConfig {
    /// Defaults with one read/write key.
    pub fn with_key(key: &str, secret: &str) -> SimConfig {
        SimConfig {
            keys: vec![ApiKey::read_write(key, secret)],
            ..Default::default()
        }
    }
    /// A plain-HTTP site (OAuth 1.0a only).
    pub fn plain_http(mut self) -> Self {
        self.https = false;
        self
    }
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// REST requests answered.
    pub requests: u64,
    /// Answers with status 401.
    pub unauthorized: u64,
    /// Webhook event deliveries attempted.
    pub deliveries: u64,
    /// Of which failed.
    pub delivery_failures: u64,
    /// Creation pings sent.
    pub pings: u64,
    /// Times a webhook was disabled for failures.
    pub webhooks_disabled: u64,
}

/// One REST request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestLogEntry {
    /// Arrival.
    pub time: DateTime<Utc>,
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Raw query.
    pub query: Option<String>,
    /// Status answered.
    pub status: u16,
    /// How it authenticated.
    pub auth: Option<AuthMethod>,
    /// Time to answer.
    pub elapsed: Duration,
}

pub(crate) struct Shared {
    cfg: SimConfig,
    site_host: String,
    db: Mutex<store::Db>,
    keys: Mutex<Vec<ApiKey>>,
    nonces: Mutex<auth::NonceStore>,
    deliveries: Mutex<Vec<Delivery>>,
    log: Mutex<Vec<RequestLogEntry>>,
    stats: Mutex<Stats>,
    webhook_timeout: Mutex<Duration>,
    notify: Notify,
    shutdown: watch::Receiver<bool>,
    stall: Stall,
}

/// A stuck site (a long database query, a busy PHP worker pool): while
/// set, REST requests are held before they are processed, then answered
/// normally once it is lifted. Tests use it to hold a connector's call
/// open for as long as they need, without timing anything.
#[derive(Debug)]
pub(crate) struct Stall {
    on: watch::Sender<bool>,
    held: watch::Sender<usize>,
}

impl Default for Stall {
    fn default() -> Self {
        Stall {
            on: watch::channel(false).0,
            held: watch::channel(0).0,
        }
    }
}

impl Stall {
    /// Wait here while the site is stuck.
    pub(crate) async fn hold(&self) {
        let mut on = self.on.subscribe();
        if !*on.borrow_and_update() {
            return;
        }
        self.held.send_modify(|n| *n += 1);
        let _ = on.wait_for(|stuck| !*stuck).await;
        self.held.send_modify(|n| *n -= 1);
    }
}

impl Shared {
    fn db(&self) -> MutexGuard<'_, store::Db> {
        self.db.lock().expect("db lock")
    }

    fn bump(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.stats.lock().expect("stats lock"));
    }

    async fn wait_shutdown(&self) {
        let mut rx = self.shutdown.clone();
        let _ = rx.wait_for(|v| *v).await;
    }

    /// `scheme://host` of the site.
    fn site(&self) -> String {
        let scheme = if self.cfg.https { "https" } else { "http" };
        format!("{scheme}://{}", self.site_host)
    }

    fn fmt(&self, dp: Option<u32>) -> model::Fmt {
        model::Fmt {
            offset: FixedOffset::east_opt(self.cfg.utc_offset_minutes * 60)
                .unwrap_or(FixedOffset::east_opt(0).expect("utc")),
            dp: dp.unwrap_or(self.cfg.price_decimals),
            site: self.site(),
            currency_symbol: self.cfg.currency_symbol.clone(),
        }
    }

    /// The REST GET payload of a resource (an error body when it is gone).
    fn render(&self, db: &store::Db, resource: &str, id: u64) -> Value {
        let f = self.fmt(None);
        match resource {
            "order" => match db.orders.get(&id) {
                Some(o) => model::order_json(o, &db.refunds_of(id), &f, &self.cfg.wc_version),
                None => WooError::new(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
                    .to_json(),
            },
            "customer" => match db.customers.get(&id) {
                Some(c) => model::customer_json(c, &f),
                None => WooError::new(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
                    .to_json(),
            },
            "product" => match db.products.get(&id) {
                Some(p) => model::product_json(p, &f),
                None => WooError::new(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
                    .to_json(),
            },
            _ => json!({"id": id}),
        }
    }

    /// Runs a write, then queues the webhook deliveries it caused.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut store::Db) -> Result<T, WooError>,
    ) -> Result<T, WooError> {
        let mut db = self.db();
        let r = f(&mut db);
        if r.is_err() {
            db.events.clear();
        }
        if db.flush_events() > 0 {
            self.notify.notify_one();
        }
        r
    }

    fn record_delivery(&self, mut d: Delivery) {
        let mut all = self.deliveries.lock().expect("deliveries lock");
        d.seq = all.len() as u64 + 1;
        all.push(d);
    }

    fn record(&self, e: RequestLogEntry) {
        self.bump(|s| {
            s.requests += 1;
            if e.status == 401 {
                s.unauthorized += 1;
            }
        });
        let mut log = self.log.lock().expect("log lock");
        if log.len() >= 100_000 {
            log.remove(0);
        }
        log.push(e);
    }
}

struct ServerGuard {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// A running store. Cheap to clone; the server and the webhook sender stop
/// when the last clone is dropped or on [`WooSim::shutdown`].
#[derive(Clone)]
pub struct WooSim {
    shared: Arc<Shared>,
    server: Arc<ServerGuard>,
}

impl std::fmt::Debug for WooSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WooSim").field("url", &self.url()).finish()
    }
}

/// An order placed "in the shop" (checkout).
#[derive(Debug, Clone, Default)]
pub struct NewOrder {
    /// Registered customer, 0 = guest.
    pub customer_id: u64,
    /// Billing address (guests: must carry e-mail/phone).
    pub billing: Option<Address>,
    /// Shipping address (default: billing).
    pub shipping: Option<Address>,
    /// (product id, quantity).
    pub lines: Vec<(u64, i64)>,
    /// Shipping method title and cost.
    pub shipping_line: Option<(String, Decimal)>,
    /// Gateway id: `bacs` → on-hold, `cod` → processing, others stay pending until paid.
    pub payment_method: String,
    /// Shopper note.
    pub note: String,
    /// Order meta (e.g. national id from a local plugin).
    pub meta: Vec<(String, Value)>,
}

impl NewOrder {
    /// A guest order with this billing address.
    pub fn guest(billing: Address) -> NewOrder {
        NewOrder {
            billing: Some(billing),
            payment_method: "zarinpal".into(),
            ..Default::default()
        }
    }
    /// An order by a registered customer (billing from the account unless set).
    pub fn registered(customer_id: u64) -> NewOrder {
        NewOrder {
            customer_id,
            payment_method: "zarinpal".into(),
            ..Default::default()
        }
    }
    /// Adds a line.
    pub fn line(mut self, product_id: u64, quantity: i64) -> Self {
        self.lines.push((product_id, quantity));
        self
    }
    /// Sets shipping.
    pub fn shipping(mut self, title: &str, cost: impl Into<Decimal>) -> Self {
        self.shipping_line = Some((title.into(), cost.into()));
        self
    }
    /// Sets the gateway.
    pub fn payment(mut self, gateway: &str) -> Self {
        self.payment_method = gateway.into();
        self
    }
    /// Sets the billing address.
    pub fn billing(mut self, a: Address) -> Self {
        self.billing = Some(a);
        self
    }
    /// Sets the shopper note.
    pub fn note(mut self, note: &str) -> Self {
        self.note = note.into();
        self
    }
    /// Adds order meta.
    pub fn meta(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.meta.push((key.into(), value.into()));
        self
    }
}

/// A customer registering in the shop.
#[derive(Debug, Clone, Default)]
pub struct NewCustomer {
    /// E-mail.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Billing address.
    pub billing: Address,
    /// Meta.
    pub meta: Vec<(String, Value)>,
}

impl NewCustomer {
    /// A customer with names and e-mail; billing gets the same names and e-mail.
    pub fn new(first_name: &str, last_name: &str, email: &str) -> NewCustomer {
        NewCustomer {
            email: email.into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            billing: Address {
                first_name: first_name.into(),
                last_name: last_name.into(),
                email: email.into(),
                country: "IR".into(),
                ..Default::default()
            },
            meta: vec![],
        }
    }
    /// Sets the billing address (e-mail kept when empty).
    pub fn billing(mut self, mut a: Address) -> Self {
        if a.email.is_empty() {
            a.email = self.email.clone();
        }
        self.billing = a;
        self
    }
    /// Adds meta.
    pub fn meta(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.meta.push((key.into(), value.into()));
        self
    }
}

/// A simple product.
#[derive(Debug, Clone)]
pub struct NewProduct {
    /// Name.
    pub name: String,
    /// SKU.
    pub sku: String,
    /// Regular price.
    pub regular_price: Decimal,
    /// Managed stock quantity (None = stock not managed).
    pub stock: Option<i64>,
    /// Category name.
    pub category: Option<String>,
}

impl NewProduct {
    /// A product with a price.
    pub fn new(name: &str, sku: &str, regular_price: impl Into<Decimal>) -> NewProduct {
        NewProduct {
            name: name.into(),
            sku: sku.into(),
            regular_price: regular_price.into(),
            stock: None,
            category: None,
        }
    }
    /// Manages stock with this quantity.
    pub fn stock(mut self, qty: i64) -> Self {
        self.stock = Some(qty);
        self
    }
    /// Sets the category.
    pub fn category(mut self, name: &str) -> Self {
        self.category = Some(name.into());
        self
    }
}

/// A refund made by the shop manager ("Refund manually": no gateway call).
#[derive(Debug, Clone, Default)]
pub struct NewRefund {
    /// Amount; default = the lines' value.
    pub amount: Option<Decimal>,
    /// Reason.
    pub reason: String,
    /// (order item id, quantity).
    pub lines: Vec<(u64, i64)>,
    /// Put refunded quantities back in stock.
    pub restock: bool,
}

impl NewRefund {
    /// A refund of an amount.
    pub fn amount(amount: impl Into<Decimal>, reason: &str) -> NewRefund {
        NewRefund {
            amount: Some(amount.into()),
            reason: reason.into(),
            ..Default::default()
        }
    }
    /// A refund of whole lines (amount from the lines' unit prices and tax).
    pub fn lines(lines: &[(u64, i64)], reason: &str, restock: bool) -> NewRefund {
        NewRefund {
            amount: None,
            reason: reason.into(),
            lines: lines.to_vec(),
            restock,
        }
    }
}

impl WooSim {
    /// Starts a store on `127.0.0.1` with a free port.
    pub async fn start(cfg: SimConfig) -> anyhow::Result<WooSim> {
        Self::start_on(cfg, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a store on `addr`.
    pub async fn start_on(cfg: SimConfig, addr: SocketAddr) -> anyhow::Result<WooSim> {
        anyhow::ensure!(!cfg.keys.is_empty(), "at least one API key is needed");
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let (stop, shutdown) = watch::channel(false);
        let db = store::Db::new(
            &cfg.currency,
            cfg.tax_rate,
            cfg.price_decimals,
            &cfg.order_number_prefix,
            cfg.refund_gateways.clone(),
        );
        let shared = Arc::new(Shared {
            site_host: cfg.site_host.clone().unwrap_or_else(|| local.to_string()),
            keys: Mutex::new(cfg.keys.clone()),
            nonces: Mutex::new(auth::NonceStore { used: vec![] }),
            webhook_timeout: Mutex::new(cfg.webhook_timeout),
            cfg,
            db: Mutex::new(db),
            deliveries: Mutex::new(vec![]),
            log: Mutex::new(vec![]),
            stats: Mutex::new(Stats::default()),
            notify: Notify::new(),
            shutdown: shutdown.clone(),
            stall: Stall::default(),
        });
        let app = Router::new()
            .fallback(api::handle)
            .with_state(shared.clone());
        let mut rx = shutdown;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|v| *v).await;
                })
                .await;
        });
        tokio::spawn(webhooks::run(shared.clone()));
        tracing::info!(%local, "WooCommerce simulator listening");
        Ok(WooSim {
            shared,
            server: Arc::new(ServerGuard { addr: local, stop }),
        })
    }

    /// REST base, `http://127.0.0.1:PORT/wp-json/wc/v3`.
    pub fn url(&self) -> String {
        format!("http://{}/wp-json/wc/v3", self.server.addr)
    }

    /// Site root as a client configures it, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// The site URL WooCommerce believes it has (`https://…` when `https`).
    pub fn site_url(&self) -> String {
        self.shared.site()
    }

    /// Bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// Configuration.
    pub fn config(&self) -> &SimConfig {
        &self.shared.cfg
    }

    /// Stops the server and the sender.
    pub fn shutdown(&self) {
        let _ = self.server.stop.send(true);
    }

    // ------------------------------------------------------------- keys

    /// The first key (`consumer_key`, `consumer_secret`).
    pub fn credentials(&self) -> (String, String) {
        let keys = self.shared.keys.lock().expect("keys lock");
        (
            keys[0].consumer_key.clone(),
            keys[0].consumer_secret.clone(),
        )
    }

    /// Adds a key.
    pub fn add_api_key(&self, key: ApiKey) {
        self.shared.keys.lock().expect("keys lock").push(key);
    }

    /// Revokes a key (its WordPress user was deleted, say).
    pub fn revoke_api_key(&self, consumer_key: &str) {
        self.shared
            .keys
            .lock()
            .expect("keys lock")
            .retain(|k| k.consumer_key != consumer_key);
    }

    // ------------------------------------------------------------ knobs

    /// Send every event delivery twice (woocommerce#20047).
    pub fn duplicate_deliveries(&self, on: bool) {
        self.shared.db().knobs.duplicate = on;
    }

    /// Follow every `order.created` with an `order.updated` of the same
    /// order, with an identical body (woocommerce#20047, #19764, #28329).
    pub fn created_then_identical_updated(&self, on: bool) {
        self.shared.db().knobs.created_then_updated = on;
    }

    /// Webhook order payloads carry `"line_items": []` (woocommerce#62266).
    pub fn omit_line_items_in_webhooks(&self, on: bool) {
        self.shared.db().knobs.omit_line_items = on;
    }

    /// Stops the sender after the delivery in flight; queued deliveries
    /// wait (and coalesce, as WooCommerce does for a job already pending).
    pub fn pause_sender(&self) {
        self.shared.db().knobs.paused = true;
    }

    /// Resumes the sender.
    pub fn resume_sender(&self) {
        self.shared.db().knobs.paused = false;
        self.shared.notify.notify_one();
    }

    /// Changes the delivery timeout.
    pub fn set_webhook_timeout(&self, t: Duration) {
        *self.shared.webhook_timeout.lock().expect("timeout lock") = t;
    }

    // ------------------------------------------------------- inspection

    /// Every delivery attempt and ping so far, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared
            .deliveries
            .lock()
            .expect("deliveries lock")
            .clone()
    }

    /// Event deliveries (no pings) so far.
    pub fn event_deliveries(&self) -> Vec<Delivery> {
        self.deliveries().into_iter().filter(|d| !d.ping).collect()
    }

    /// Forgets recorded deliveries.
    pub fn clear_deliveries(&self) {
        self.shared
            .deliveries
            .lock()
            .expect("deliveries lock")
            .clear();
    }

    /// Deliveries waiting in the queue.
    pub fn pending_deliveries(&self) -> usize {
        self.shared.db().queue.len()
    }

    /// Waits until at least `n` event deliveries were attempted; returns them.
    pub async fn wait_for_deliveries(
        &self,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Delivery>> {
        let until = Instant::now() + timeout;
        loop {
            let d = self.event_deliveries();
            if d.len() >= n {
                return Ok(d);
            }
            if Instant::now() > until {
                anyhow::bail!("{} of {n} deliveries after {timeout:?}", d.len());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the queue is empty and nothing is in flight.
    pub async fn wait_idle(&self, timeout: Duration) -> anyhow::Result<()> {
        let until = Instant::now() + timeout;
        let mut stable = 0;
        let mut last = usize::MAX;
        loop {
            let n = self.deliveries().len();
            if self.pending_deliveries() == 0 && n == last {
                stable += 1;
                if stable >= 5 {
                    return Ok(());
                }
            } else {
                stable = 0;
            }
            last = n;
            if Instant::now() > until {
                anyhow::bail!("sender not idle after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        *self.shared.stats.lock().expect("stats lock")
    }

    /// REST requests so far.
    pub fn request_log(&self) -> Vec<RequestLogEntry> {
        self.shared.log.lock().expect("log lock").clone()
    }

    /// Server time.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.db().now()
    }

    /// Moves the server clock forward (dates of later changes move with it).
    pub fn advance_clock(&self, by: Duration) {
        let d = chrono::Duration::from_std(by).unwrap_or_default();
        self.shared.db().clock_offset += d;
    }

    // ---------------------------------------------------------- webhooks

    /// All webhooks.
    pub fn webhooks(&self) -> Vec<Webhook> {
        self.shared.db().webhooks.values().cloned().collect()
    }

    /// One webhook.
    pub fn webhook(&self, id: u64) -> Option<Webhook> {
        self.shared.db().webhooks.get(&id).cloned()
    }

    /// Adds an active webhook as the admin screen would, without the ping.
    pub fn add_webhook(
        &self,
        topic: &str,
        delivery_url: &str,
        secret: &str,
    ) -> Result<Webhook, WooError> {
        if !valid_topic(topic) {
            return Err(WooError::new(
                400,
                "woocommerce_rest_webhook_invalid_topic",
                "Webhook topic is required and must be valid.",
            ));
        }
        Ok(self.shared.db().insert_webhook(
            &format!("Webhook {topic}"),
            "active",
            topic,
            delivery_url,
            secret,
        ))
    }

    /// Sets a webhook's status (`active` also resets `failure_count`).
    pub fn set_webhook_status(&self, id: u64, status: &str) -> Result<Webhook, WooError> {
        let mut db = self.shared.db();
        let now = db.now();
        let w = db.webhooks.get_mut(&id).ok_or_else(|| {
            WooError::new(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
        })?;
        w.status = status.into();
        if status == "active" {
            w.failure_count = 0;
        }
        w.date_modified = now;
        Ok(w.clone())
    }

    // ------------------------------------------------------------ orders

    /// All orders (including trashed) in id order.
    pub fn orders(&self) -> Vec<Order> {
        self.shared.db().orders.values().cloned().collect()
    }

    /// One order.
    pub fn order(&self, id: u64) -> Option<Order> {
        self.shared.db().orders.get(&id).cloned()
    }

    /// The REST GET body of an order.
    pub fn order_json(&self, id: u64) -> Value {
        let db = self.shared.db();
        self.shared.render(&db, "order", id)
    }

    /// Refunds of an order, newest first.
    pub fn refunds(&self, order_id: u64) -> Vec<Refund> {
        self.shared
            .db()
            .refunds_of(order_id)
            .into_iter()
            .cloned()
            .collect()
    }

    fn checkout(&self, o: NewOrder, draft: bool) -> Result<Order, WooError> {
        let mut billing = o.billing.clone();
        {
            let db = self.shared.db();
            if o.customer_id > 0 {
                let c = db.customers.get(&o.customer_id).ok_or_else(|| {
                    WooError::new(
                        400,
                        "woocommerce_rest_invalid_customer_id",
                        "Customer ID is invalid.",
                    )
                })?;
                if billing.is_none() {
                    billing = Some(c.billing.clone());
                }
            }
            for (pid, qty) in &o.lines {
                let p = db.products.get(pid).ok_or_else(|| {
                    WooError::new(
                        400,
                        "woocommerce_rest_invalid_product_id",
                        "Invalid product ID.",
                    )
                })?;
                if p.manage_stock && p.stock_quantity.unwrap_or(0) < *qty {
                    return Err(WooError::new(
                        400,
                        "woocommerce_rest_product_out_of_stock",
                        format!(
                            "Sorry, we do not have enough \"{}\" in stock to fulfill your order ({} available). We apologize for any inconvenience caused.",
                            p.name,
                            p.stock_quantity.unwrap_or(0)
                        ),
                    ));
                }
            }
        }
        let billing = billing.unwrap_or_default();
        let shipping = o.shipping.clone().unwrap_or_else(|| billing.clone());
        let body = json!({
            "status": if draft { "checkout-draft" } else { "pending" },
            "customer_id": o.customer_id,
            "billing": billing.billing_json(),
            "shipping": shipping.shipping_json(),
            "payment_method": o.payment_method,
            "customer_note": o.note,
            "line_items": o.lines.iter().map(|(p, q)| json!({"product_id": p, "quantity": q})).collect::<Vec<_>>(),
            "shipping_lines": o.shipping_line.iter().map(|(t, c)| json!({"method_id": "flat_rate", "method_title": t, "total": c.to_string()})).collect::<Vec<_>>(),
            "meta_data": o.meta.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
        });
        let gateway = o.payment_method.clone();
        self.shared.write(|db| {
            let mut created = db.create_order(&body, if draft { "store-api" } else { "checkout" })?;
            let id = created.id;
            if let Some(ord) = db.orders.get_mut(&id) {
                ord.customer_ip_address = "5.160.12.34".into();
                ord.customer_user_agent = "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36".into();
                ord.cart_hash = format!("{:x}", id * 7919);
                created = ord.clone();
            }
            if !draft {
                created = Self::process_payment(db, id, &gateway)?.unwrap_or(created);
            }
            Ok(created)
        })
    }

    /// The gateway's `process_payment`: `bacs` → on-hold, `cod` → processing, others wait.
    fn process_payment(
        db: &mut store::Db,
        id: u64,
        gateway: &str,
    ) -> Result<Option<Order>, WooError> {
        let status = match gateway {
            "bacs" | "cheque" => "on-hold",
            "cod" => "processing",
            _ => return Ok(None),
        };
        db.edit_order(id, |o| o.status = status.into()).map(Some)
    }

    /// A shopper places an order at checkout (`created_via` `checkout`).
    /// Fires `order.created`; with `bacs`/`cod` the gateway's status
    /// change in the same request fires `order.updated` too.
    pub fn place_order(&self, o: NewOrder) -> Result<Order, WooError> {
        self.checkout(o, false)
    }

    /// A shopper opens the block checkout: a `checkout-draft` order is
    /// created and `order.created` fires for it (woocommerce#37958).
    pub fn checkout_draft(&self, o: NewOrder) -> Result<Order, WooError> {
        self.checkout(o, true)
    }

    /// The shopper completes a block checkout draft: it becomes pending (and
    /// then on-hold/processing for `bacs`/`cod`), firing `order.updated`.
    pub fn complete_checkout(&self, id: u64) -> Result<Order, WooError> {
        self.shared.write(|db| {
            let o = db.edit_order(id, |o| {
                o.status = "pending".into();
                o.created_via = "store-api".into();
            })?;
            let gateway = o.payment_method.clone();
            Ok(Self::process_payment(db, id, &gateway)?.unwrap_or(o))
        })
    }

    /// The gateway confirms payment: `date_paid`, status `processing`,
    /// stock reduced, customer becomes paying.
    pub fn mark_paid(&self, id: u64, transaction_id: &str) -> Result<Order, WooError> {
        self.shared.write(|db| db.mark_paid(id, transaction_id))
    }

    /// The shop manager completes the order (`date_completed`).
    pub fn complete_order(&self, id: u64) -> Result<Order, WooError> {
        self.set_order_status(id, "completed")
    }

    /// Sets any status (with WooCommerce's side effects).
    pub fn set_order_status(&self, id: u64, status: &str) -> Result<Order, WooError> {
        if !ORDER_STATUSES.contains(&status) {
            return Err(WooError::invalid_param("status", "status is not valid."));
        }
        self.shared
            .write(|db| db.edit_order(id, |o| o.status = status.into()))
    }

    /// Edits an order as the shop manager would (totals recomputed).
    pub fn edit_order(&self, id: u64, f: impl FnOnce(&mut Order)) -> Result<Order, WooError> {
        self.shared.write(|db| db.edit_order(id, f))
    }

    /// Moves an order to the trash (fires `order.deleted`).
    pub fn trash_order(&self, id: u64) -> Result<Order, WooError> {
        self.shared.write(|db| db.delete_order(id, false))
    }

    /// Restores a trashed order (fires `order.restored`).
    pub fn untrash_order(&self, id: u64) -> Result<Order, WooError> {
        self.shared.write(|db| db.untrash_order(id))
    }

    /// The shop manager refunds (part of) an order manually; fires `order.updated`.
    pub fn refund_order(&self, id: u64, r: NewRefund) -> Result<Refund, WooError> {
        let o = self.order(id).ok_or_else(|| {
            WooError::new(
                404,
                "woocommerce_rest_invalid_order_id",
                "Invalid order ID.",
            )
        })?;
        let lines: Vec<Value> = r
            .lines
            .iter()
            .filter_map(|(item, qty)| {
                let l = o.line_items.iter().find(|l| l.id == *item)?;
                let q = Decimal::from((*qty).max(0));
                let per = |v: Decimal| if l.quantity != 0 { v / Decimal::from(l.quantity) * q } else { Decimal::ZERO };
                Some(json!({"id": item, "quantity": qty, "refund_total": per(l.total).to_string(),
                            "refund_tax": [{"id": 1, "refund_total": per(l.total_tax).to_string()}]}))
            })
            .collect();
        let mut body = json!({"reason": r.reason, "line_items": lines, "api_refund": false, "api_restock": r.restock});
        if let Some(a) = r.amount {
            body["amount"] = json!(a.to_string());
        }
        self.shared.write(|db| db.create_refund(id, &body, 1))
    }

    // --------------------------------------------------------- customers

    /// All customers.
    pub fn customers(&self) -> Vec<Customer> {
        self.shared.db().customers.values().cloned().collect()
    }

    /// One customer.
    pub fn customer(&self, id: u64) -> Option<Customer> {
        self.shared.db().customers.get(&id).cloned()
    }

    /// A shopper registers (fires `customer.created`).
    pub fn create_customer(&self, c: NewCustomer) -> Result<Customer, WooError> {
        let body = json!({
            "email": c.email, "first_name": c.first_name, "last_name": c.last_name,
            "billing": c.billing.billing_json(), "shipping": c.billing.shipping_json(),
            "meta_data": c.meta.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
        });
        self.shared.write(|db| db.create_customer(&body))
    }

    /// Edits a customer (fires `customer.updated`).
    pub fn edit_customer(
        &self,
        id: u64,
        f: impl FnOnce(&mut Customer),
    ) -> Result<Customer, WooError> {
        self.shared.write(|db| db.edit_customer(id, f))
    }

    /// Deletes a customer (fires `customer.deleted`).
    pub fn delete_customer(&self, id: u64) -> Result<Customer, WooError> {
        self.shared.write(|db| db.delete_customer(id))
    }

    // ---------------------------------------------------------- products

    /// All products.
    pub fn products(&self) -> Vec<Product> {
        self.shared.db().products.values().cloned().collect()
    }

    /// One product.
    pub fn product(&self, id: u64) -> Option<Product> {
        self.shared.db().products.get(&id).cloned()
    }

    /// Creates a product (fires `product.created`).
    pub fn create_product(&self, p: NewProduct) -> Result<Product, WooError> {
        let mut body = json!({
            "name": p.name, "sku": p.sku, "regular_price": p.regular_price.to_string(),
            "manage_stock": p.stock.is_some(), "stock_quantity": p.stock,
        });
        if let Some(c) = &p.category {
            body["categories"] = json!([{"id": 15 + c.len() as u64, "name": c}]);
        }
        self.shared.write(|db| db.create_product(&body))
    }

    /// Edits a product (fires `product.updated`).
    pub fn edit_product(&self, id: u64, f: impl FnOnce(&mut Product)) -> Result<Product, WooError> {
        self.shared.write(|db| db.edit_product(id, f))
    }

    /// Sets a product's managed stock.
    pub fn set_stock(&self, id: u64, qty: i64) -> Result<Product, WooError> {
        self.edit_product(id, |p| {
            p.manage_stock = true;
            p.stock_quantity = Some(qty);
        })
    }

    /// Sets a product's regular price.
    pub fn set_price(
        &self,
        id: u64,
        regular_price: impl Into<Decimal>,
    ) -> Result<Product, WooError> {
        let price = regular_price.into();
        self.edit_product(id, |p| p.regular_price = Some(price))
    }

    /// Moves a product to the trash (fires `product.deleted`).
    pub fn trash_product(&self, id: u64) -> Result<Product, WooError> {
        self.shared.write(|db| db.delete_product(id, false))
    }

    /// The site gets stuck: REST requests from now on wait (unanswered)
    /// until [`WooSim::unstall`]. Webhook deliveries still go out.
    pub fn stall(&self) {
        self.shared.stall.on.send_replace(true);
    }

    /// The site answers again, the held requests first.
    pub fn unstall(&self) {
        self.shared.stall.on.send_replace(false);
    }

    /// Waits until at least one REST request is held by [`WooSim::stall`].
    pub async fn wait_stalled(&self) {
        let mut held = self.shared.stall.held.subscribe();
        let _ = held.wait_for(|n| *n > 0).await;
    }

    /// Loads the demo data set (see [`seed::demo`]).
    pub fn seed_demo(&self) -> Result<(), WooError> {
        seed::demo(self)
    }
}
