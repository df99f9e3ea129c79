//! A Sepidar (سپیدار) integration web-service simulator.
//!
//! One [`Sepidar`] = one Sepidar company database served over real HTTP at
//! `http://127.0.0.1:PORT/api`, following `/work/sepidar-contract.md`: the
//! device handshake (AES-128-CBC registration, RSA-512 `EncArbitraryCode`,
//! MD5 login, bearer token), the GV 110 resources, the paging envelope, the
//! error model and the rejections real Sepidar makes.
//!
//! Tests drive it the way a Sepidar desktop user would (create and edit
//! customers, items, quotations, invoices…) through the methods of
//! [`Sepidar`], inspect what the connector wrote, read the request log, and
//! inject faults (outage, `fail_next`, token revocation).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use hamgam_sepidar_sim::{Sepidar, SimConfig, NewCustomer, refs};
//! let sim = Sepidar::start(SimConfig::default()).await?;
//! let c = sim.create_customer(NewCustomer::person("علی", "رضایی").address(refs::CITY_TEHRAN, "خیابان آزادی"))?;
//! println!("{} serves customer {}", sim.url(), c.code);
//! # Ok(()) }
//! ```

mod api;
pub mod crypto;
pub mod jalali;
pub mod model;
pub mod num;
pub mod seed;
mod store;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use chrono::NaiveDate;
use rsa::RsaPrivateKey;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use uuid::Uuid;

pub use model::*;
pub use store::{
    NewAddress, NewCustomer, NewDocument, NewItem, NewLine, ReturnLine, refs, round_rial,
};

/// Configuration of one simulated company.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Hamgam company code (100–999); only used for logs and demo data.
    pub company_code: u16,
    /// Device serial shown by Sepidar, e.g. `"10017ff3"`; its first four
    /// characters are the `IntegrationID`.
    pub serial: String,
    /// Server `GenerationVersion` (110).
    pub generation_version: i32,
    /// Users that may log in: (user name, password).
    pub users: Vec<(String, String)>,
    /// "Today" of the server: date of API-created invoices and the current
    /// fiscal year of `Invoices/Paginated`.
    pub today: NaiveDate,
    /// Jalali years defined as fiscal years (the year of `today` is added).
    pub fiscal_years: Vec<i32>,
    /// `DeviceTitle` returned by registration.
    pub device_title: String,
    /// `LockNumber` of the GenerationVersion probe.
    pub lock_number: String,
    /// Reuse this RSA key instead of generating one (tests that start many
    /// simulators can share a key; `None` = generate at start).
    pub rsa_key: Option<RsaPrivateKey>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            company_code: 300,
            serial: "10017ff3".into(),
            generation_version: 110,
            users: vec![("admin".into(), "admin".into())],
            today: chrono::Local::now().date_naive(),
            fiscal_years: vec![1403, 1404, 1405],
            device_title: "Hamgam".into(),
            lock_number: "LK-10017".into(),
            rsa_key: None,
        }
    }
}

impl SimConfig {
    /// Defaults with the given company code.
    pub fn new(company_code: u16) -> Self {
        SimConfig {
            company_code,
            ..Default::default()
        }
    }
    /// Sets "today".
    pub fn today(mut self, today: NaiveDate) -> Self {
        self.today = today;
        self
    }
    /// `IntegrationID`: the first four characters of the serial as an integer.
    pub fn integration_id(&self) -> Option<i32> {
        self.serial.get(..4)?.parse().ok()
    }
}

/// A fault injected into API requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (and an error body) without processing.
    Status(u16),
    /// Wait this long, then process the request normally (slow server).
    Delay(Duration),
    /// Never answer (until the simulator shuts down).
    Hang,
    /// Process the request (records are created), then answer with this
    /// status: the "lost response" a client must recover from by GUID.
    AfterProcessing(u16),
}

#[derive(Debug, Clone)]
struct FaultRule {
    remaining: usize,
    method: Option<String>,
    path_contains: Option<String>,
    fault: Fault,
}

#[derive(Debug, Default)]
struct Faults {
    outage: Option<Fault>,
    rules: VecDeque<FaultRule>,
}

/// One line of the request log (like Sepidar's `FMK.ApiLog`).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiLogEntry {
    /// When the request arrived.
    pub time: chrono::DateTime<chrono::Utc>,
    /// HTTP method.
    pub method: String,
    /// Path as sent (original case).
    pub path: String,
    /// Query string.
    pub query: Option<String>,
    /// Status answered.
    pub status: u16,
    /// Time to answer.
    pub elapsed: Duration,
    /// User of the bearer token, when one was valid.
    pub user: Option<String>,
}

/// Counters for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// API requests answered (all statuses).
    pub requests: u64,
    /// Successful logins.
    pub logins: u64,
    /// Rejected logins.
    pub failed_logins: u64,
    /// Successful device registrations.
    pub registrations: u64,
}

const LOG_CAP: usize = 200_000;

struct AuthState {
    generation_version: i32,
    registered: bool,
    key: RsaPrivateKey,
    seen_codes: HashSet<Uuid>,
    tokens: HashMap<String, String>,
    token_counter: u64,
}

pub(crate) struct Shared {
    cfg: SimConfig,
    db: Mutex<store::Db>,
    auth: Mutex<AuthState>,
    faults: Mutex<Faults>,
    log: Mutex<VecDeque<ApiLogEntry>>,
    stats: Mutex<Stats>,
    shutdown: watch::Receiver<bool>,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

impl Shared {
    fn take_fault(&self, method: &str, path_lc: &str) -> Option<Fault> {
        let mut f = self.faults.lock().expect("faults lock");
        if let Some(o) = &f.outage {
            return Some(o.clone());
        }
        let pos = f.rules.iter().position(|r| {
            r.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && r.path_contains
                    .as_deref()
                    .is_none_or(|p| path_lc.contains(p))
        })?;
        let rule = &mut f.rules[pos];
        let fault = rule.fault.clone();
        rule.remaining -= 1;
        if rule.remaining == 0 {
            f.rules.remove(pos);
        }
        Some(fault)
    }

    async fn wait_shutdown(&self) {
        let mut rx = self.shutdown.clone();
        let _ = rx.wait_for(|v| *v).await;
    }

    fn record(&self, e: ApiLogEntry) {
        self.bump(|s| s.requests += 1);
        let mut log = self.log.lock().expect("log lock");
        if log.len() >= LOG_CAP {
            log.pop_front();
        }
        log.push_back(e);
    }

    fn bump(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.stats.lock().expect("stats lock"));
    }

    /// GenerationVersion (412), IntegrationID (401), ArbitraryCode (401/400).
    fn check_device(&self, h: &HeaderMap) -> Result<(), SimError> {
        let mut auth = self.auth.lock().expect("auth lock");
        let gv = header(h, "GenerationVersion").and_then(|v| v.parse::<i32>().ok());
        if gv != Some(auth.generation_version) {
            return Err(SimError::business(
                412,
                format!(
                    "نسخه دستگاه با نسخه سپیدار همخوانی ندارد (GenerationVersion mismatch: server is {})",
                    auth.generation_version
                ),
            ));
        }
        let Some(iid) = header(h, "IntegrationID") else {
            return Err(SimError::business(
                401,
                "کلید یکپارچه‌سازی ارسال نشده است (IntegrationID header missing)",
            ));
        };
        let known = auth.registered && iid.parse::<i32>().ok() == self.cfg.integration_id();
        if !known {
            return Err(SimError::business(
                401,
                format!("دستگاه یافت نشد (unknown device IntegrationID {iid:?})"),
            ));
        }
        let code = header(h, "ArbitraryCode")
            .and_then(|c| Uuid::parse_str(c).ok())
            .ok_or_else(|| {
                SimError::business(
                    401,
                    "ArbitraryCode ارسال نشده یا نامعتبر است (ArbitraryCode missing or not a GUID)",
                )
            })?;
        let enc = header(h, "EncArbitraryCode").ok_or_else(|| {
            SimError::business(
                401,
                "EncArbitraryCode ارسال نشده است (EncArbitraryCode missing)",
            )
        })?;
        let plain = crypto::rsa_decrypt_b64(&auth.key, enc);
        if plain.as_deref() != Some(code.as_bytes().as_slice()) {
            return Err(SimError::business(
                401,
                "ArbitraryCode و EncArbitraryCode همخوانی ندارند (EncArbitraryCode does not decrypt to ArbitraryCode)",
            ));
        }
        if !auth.seen_codes.insert(code) {
            return Err(SimError::bad_request(
                "ArbitraryCode تکراری است (ArbitraryCode already used)",
            ));
        }
        Ok(())
    }

    /// Bearer token → user name (401 otherwise).
    fn check_token(&self, h: &HeaderMap) -> Result<String, SimError> {
        let invalid = || {
            SimError::business(
                401,
                "توکن نامعتبر است؛ دوباره وارد شوید (missing or invalid token: login again)",
            )
        };
        let value = header(h, "Authorization").ok_or_else(invalid)?;
        let (scheme, token) = value.split_once(' ').ok_or_else(invalid)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(invalid());
        }
        let auth = self.auth.lock().expect("auth lock");
        auth.tokens.get(token.trim()).cloned().ok_or_else(invalid)
    }

    fn issue_token(&self, user_id: i32, user: &str) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut auth = self.auth.lock().expect("auth lock");
        auth.token_counter += 1;
        let head = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = b64.encode(
            serde_json::json!({"UserID": user_id, "UserName": user, "n": auth.token_counter, "jti": Uuid::new_v4()})
                .to_string(),
        );
        let sig = b64.encode(Sha256::digest(format!("{head}.{body}.{}", Uuid::new_v4())));
        let token = format!("{head}.{body}.{sig}");
        auth.tokens.insert(token.clone(), user.to_string());
        token
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

/// A running simulator (one Sepidar company). Cheap to clone; the server
/// stops when the last clone is dropped or on [`Sepidar::shutdown`].
#[derive(Clone)]
pub struct Sepidar {
    shared: Arc<Shared>,
    server: Arc<ServerGuard>,
}

impl std::fmt::Debug for Sepidar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sepidar")
            .field("url", &self.url())
            .field("company_code", &self.shared.cfg.company_code)
            .finish()
    }
}

impl Sepidar {
    /// Starts a simulator on `127.0.0.1` with a free port.
    pub async fn start(cfg: SimConfig) -> anyhow::Result<Sepidar> {
        Self::start_on(cfg, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a simulator on `addr`.
    pub async fn start_on(mut cfg: SimConfig, addr: SocketAddr) -> anyhow::Result<Sepidar> {
        anyhow::ensure!(
            cfg.integration_id().is_some(),
            "serial {:?} must start with four digits (the IntegrationID)",
            cfg.serial
        );
        anyhow::ensure!(
            cfg.serial.len() >= 8,
            "serial {:?} must have 8 characters",
            cfg.serial
        );
        let key = match cfg.rsa_key.take() {
            Some(k) => k,
            None => tokio::task::spawn_blocking(crypto::generate_rsa).await?,
        };
        let (stop, shutdown) = watch::channel(false);
        let db = store::Db::new(cfg.today, &cfg.fiscal_years);
        let shared = Arc::new(Shared {
            auth: Mutex::new(AuthState {
                generation_version: cfg.generation_version,
                registered: false,
                key,
                seen_codes: HashSet::new(),
                tokens: HashMap::new(),
                token_counter: 0,
            }),
            cfg,
            db: Mutex::new(db),
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(VecDeque::new()),
            stats: Mutex::new(Stats::default()),
            shutdown: shutdown.clone(),
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
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
        tracing::info!(%local, "Sepidar simulator listening");
        Ok(Sepidar {
            shared,
            server: Arc::new(ServerGuard { addr: local, stop }),
        })
    }

    /// Base URL, `http://127.0.0.1:PORT/api`.
    pub fn url(&self) -> String {
        format!("http://{}/api", self.server.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The configuration it was started with (without the RSA key).
    pub fn config(&self) -> &SimConfig {
        &self.shared.cfg
    }

    /// Stops the server (hanging requests are released with 503).
    pub fn shutdown(&self) {
        let _ = self.server.stop.send(true);
    }

    fn db(&self) -> MutexGuard<'_, store::Db> {
        self.shared.db.lock().expect("db lock")
    }

    // ------------------------------------------------------------ auth hooks

    /// Forgets the device registration so `Devices/Register` works again.
    pub fn reset_device(&self) {
        self.shared.auth.lock().expect("auth lock").registered = false;
    }

    /// Whether a device is registered.
    pub fn device_registered(&self) -> bool {
        self.shared.auth.lock().expect("auth lock").registered
    }

    /// Invalidates every token (the next data call answers 401).
    pub fn revoke_tokens(&self) {
        self.shared.auth.lock().expect("auth lock").tokens.clear();
    }

    /// Changes the server's GenerationVersion (clients sending the old one get 412).
    pub fn set_generation_version(&self, v: i32) {
        self.shared
            .auth
            .lock()
            .expect("auth lock")
            .generation_version = v;
    }

    /// The `RSAKeyValue` XML of the server's public key.
    pub fn public_key_xml(&self) -> String {
        crypto::public_key_xml(&self.shared.auth.lock().expect("auth lock").key)
    }

    // ----------------------------------------------------------------- faults

    /// Every API request gets `fault` until `clear_outage`.
    pub fn set_outage(&self, fault: Fault) {
        self.shared.faults.lock().expect("faults lock").outage = Some(fault);
    }

    /// Ends the outage.
    pub fn clear_outage(&self) {
        self.shared.faults.lock().expect("faults lock").outage = None;
    }

    /// The next `n` API requests (any endpoint) get `fault`.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.fail_next_on(n, None, None, fault);
    }

    /// The next `n` requests with this method (any if `None`) whose path
    /// contains `path_contains` (case-insensitive; any if `None`) get `fault`.
    pub fn fail_next_on(
        &self,
        n: usize,
        method: Option<&str>,
        path_contains: Option<&str>,
        fault: Fault,
    ) {
        if n == 0 {
            return;
        }
        self.shared
            .faults
            .lock()
            .expect("faults lock")
            .rules
            .push_back(FaultRule {
                remaining: n,
                method: method.map(str::to_string),
                path_contains: path_contains.map(str::to_ascii_lowercase),
                fault,
            });
    }

    /// Removes pending `fail_next` rules and the outage.
    pub fn clear_faults(&self) {
        let mut f = self.shared.faults.lock().expect("faults lock");
        f.rules.clear();
        f.outage = None;
    }

    // ------------------------------------------------------------ inspection

    /// The request log, oldest first.
    pub fn request_log(&self) -> Vec<ApiLogEntry> {
        self.shared
            .log
            .lock()
            .expect("log lock")
            .iter()
            .cloned()
            .collect()
    }

    /// Empties the request log.
    pub fn clear_request_log(&self) {
        self.shared.log.lock().expect("log lock").clear();
    }

    /// Counters (requests, logins…).
    pub fn stats(&self) -> Stats {
        *self.shared.stats.lock().expect("stats lock")
    }

    /// Number of successful logins.
    pub fn login_count(&self) -> u64 {
        self.stats().logins
    }

    /// Server "today".
    pub fn today(&self) -> NaiveDate {
        self.db().today
    }

    /// Moves server "today" (changes the current fiscal year and the date of
    /// API-created invoices).
    pub fn set_today(&self, d: NaiveDate) {
        self.db().today = d;
    }

    /// Fiscal years (`FMK.FiscalYear`).
    pub fn fiscal_years(&self) -> Vec<FiscalYear> {
        self.db().fiscal_years.clone()
    }

    /// The fiscal year containing `d`.
    pub fn fiscal_year_of(&self, d: NaiveDate) -> Option<FiscalYear> {
        self.db().fiscal_year_of(d).cloned()
    }

    /// The fiscal year of "today".
    pub fn current_fiscal_year(&self) -> Option<FiscalYear> {
        self.db().current_fiscal_year().cloned()
    }

    /// Administrative divisions.
    pub fn divisions(&self) -> Vec<Division> {
        self.db().divisions.values().cloned().collect()
    }

    /// All customers in id order.
    pub fn customers(&self) -> Vec<Customer> {
        self.db().customers.values().cloned().collect()
    }

    /// One customer.
    pub fn customer(&self, id: i32) -> Option<Customer> {
        self.db().customers.get(&id).cloned()
    }

    /// The customer created with this GUID.
    pub fn customer_by_guid(&self, guid: Uuid) -> Option<Customer> {
        self.db().customer_by_guid(&guid).cloned()
    }

    /// All items in id order.
    pub fn items(&self) -> Vec<Item> {
        self.db().items.values().cloned().collect()
    }

    /// One item.
    pub fn item(&self, id: i32) -> Option<Item> {
        self.db().items.get(&id).cloned()
    }

    /// Price-list lines.
    pub fn price_notes(&self) -> Vec<PriceNoteItem> {
        self.db().price_notes.values().cloned().collect()
    }

    /// Inventory rows of an item.
    pub fn inventories(&self, item_id: i32) -> Vec<Inventory> {
        self.db().inventories_of(item_id)
    }

    /// All quotations (with lines) in id order.
    pub fn quotations(&self) -> Vec<Quotation> {
        self.db().quotations.values().cloned().collect()
    }

    /// One quotation.
    pub fn quotation(&self, id: i32) -> Option<Quotation> {
        self.db().quotations.get(&id).cloned()
    }

    /// The quotation created with this GUID.
    pub fn quotation_by_guid(&self, guid: Uuid) -> Option<Quotation> {
        self.db().quotation_by_guid(&guid).cloned()
    }

    /// All invoices in id order (clones: mind large data sets).
    pub fn invoices(&self) -> Vec<Invoice> {
        self.db().invoices.values().cloned().collect()
    }

    /// Number of invoices.
    pub fn invoice_count(&self) -> usize {
        self.db().invoices.len()
    }

    /// One invoice.
    pub fn invoice(&self, id: i32) -> Option<Invoice> {
        self.db().invoices.get(&id).cloned()
    }

    /// The invoice created with this GUID.
    pub fn invoice_by_guid(&self, guid: Uuid) -> Option<Invoice> {
        self.db().invoice_by_guid(&guid).cloned()
    }

    /// All returned invoices in id order.
    pub fn returned_invoices(&self) -> Vec<ReturnedInvoice> {
        self.db().returned.values().cloned().collect()
    }

    /// One returned invoice.
    pub fn returned_invoice(&self, id: i32) -> Option<ReturnedInvoice> {
        self.db().returned.get(&id).cloned()
    }

    /// The returned invoice with this GUID.
    pub fn returned_invoice_by_guid(&self, guid: Uuid) -> Option<ReturnedInvoice> {
        self.db().returned_by_guid(&guid).cloned()
    }

    /// All receipts (as stored, with drafts) in id order.
    pub fn receipts(&self) -> Vec<Receipt> {
        self.db().receipts.values().cloned().collect()
    }

    /// The receipt created with this GUID.
    pub fn receipt_by_guid(&self, guid: Uuid) -> Option<Receipt> {
        self.db().receipt_by_guid(&guid).cloned()
    }

    // ------------------------------------------------ "inside Sepidar" edits

    /// Creates a customer as a Sepidar user would (`Code` auto-assigned).
    pub fn create_customer(&self, c: NewCustomer) -> Result<Customer, SimError> {
        self.db().create_customer(c)
    }

    /// Edits a customer: `f` changes it; Sepidar validates, recomputes the
    /// title and bumps `Version`. Set an address's id to 0 to add it.
    pub fn edit_customer(
        &self,
        id: i32,
        f: impl FnOnce(&mut Customer),
    ) -> Result<Customer, SimError> {
        self.db().edit_customer(id, f)
    }

    /// Deletes a customer (refused when documents reference it).
    pub fn delete_customer(&self, id: i32) -> Result<Customer, SimError> {
        self.db().delete_customer(id)
    }

    /// Sets a customer's accounting balances (no `Version` change).
    pub fn set_customer_balance(
        &self,
        id: i32,
        accounting_remainder: Decimal,
        remainder_without_cheque: Decimal,
    ) -> Result<(), SimError> {
        self.db()
            .set_balance(id, accounting_remainder, remainder_without_cheque)
    }

    /// Creates an item.
    pub fn create_item(&self, i: NewItem) -> Result<Item, SimError> {
        self.db().create_item(i)
    }

    /// Edits an item.
    pub fn edit_item(&self, id: i32, f: impl FnOnce(&mut Item)) -> Result<Item, SimError> {
        self.db().edit_item(id, f)
    }

    /// Sets the price-list fee of an item for a sale type (creates or updates
    /// the `PriceNoteItem`).
    pub fn set_price(
        &self,
        item_id: i32,
        sale_type_id: i32,
        fee: impl Into<Decimal>,
    ) -> Result<PriceNoteItem, SimError> {
        self.db().set_price(item_id, sale_type_id, fee.into())
    }

    /// Sets the stock quantity of an item in a stock.
    pub fn set_inventory(
        &self,
        item_id: i32,
        stock_id: i32,
        quantity: impl Into<Decimal>,
    ) -> Result<(), SimError> {
        self.db().set_inventory(item_id, stock_id, quantity.into())
    }

    /// Creates a quotation (number assigned per fiscal year and sale type;
    /// tax and duty from the items' rates).
    pub fn create_quotation(&self, d: NewDocument) -> Result<Quotation, SimError> {
        self.db().create_quotation(&d)
    }

    /// Edits a quotation; lines and totals are recomputed afterwards.
    pub fn edit_quotation(
        &self,
        id: i32,
        f: impl FnOnce(&mut Quotation),
    ) -> Result<Quotation, SimError> {
        self.db().edit_quotation(id, f)
    }

    /// Closes or reopens a quotation.
    pub fn set_quotation_closed(&self, id: i32, closed: bool) -> Result<Quotation, SimError> {
        self.db().set_quotation_closed(id, closed)
    }

    /// Deletes a quotation (a Sepidar user may delete a closed one).
    pub fn delete_quotation(&self, id: i32) -> Result<Quotation, SimError> {
        self.db().delete_quotation(id, false)
    }

    /// Issues an invoice from a quotation (dated `date`) and closes the quotation.
    pub fn invoice_from_quotation(
        &self,
        quotation_id: i32,
        date: NaiveDate,
    ) -> Result<Invoice, SimError> {
        self.db().invoice_from_quotation(quotation_id, date)
    }

    /// Creates a sales invoice dated `d.date`.
    pub fn create_invoice(&self, d: NewDocument) -> Result<Invoice, SimError> {
        self.db().create_invoice(&d, None)
    }

    /// Creates many invoices under one lock (for large data sets); stops at
    /// the first invalid one.
    pub fn create_invoices_bulk(
        &self,
        docs: impl IntoIterator<Item = NewDocument>,
    ) -> Result<Vec<i32>, SimError> {
        let mut db = self.db();
        let mut ids = Vec::new();
        for d in docs {
            ids.push(db.create_invoice(&d, None)?.invoice_id);
        }
        Ok(ids)
    }

    /// Edits an invoice; lines and totals are recomputed afterwards.
    pub fn edit_invoice(&self, id: i32, f: impl FnOnce(&mut Invoice)) -> Result<Invoice, SimError> {
        self.db().edit_invoice(id, f)
    }

    /// Deletes an invoice (refused when it has returned invoices).
    pub fn delete_invoice(&self, id: i32) -> Result<Invoice, SimError> {
        self.db().delete_invoice(id)
    }

    /// Records a return of (part of) an invoice's lines dated `date`.
    pub fn create_returned_invoice(
        &self,
        invoice_id: i32,
        date: NaiveDate,
        lines: &[ReturnLine],
    ) -> Result<ReturnedInvoice, SimError> {
        self.db().create_returned(invoice_id, date, lines, None)
    }

    /// Deletes a returned invoice.
    pub fn delete_returned_invoice(&self, id: i32) -> Result<ReturnedInvoice, SimError> {
        self.db().delete_returned(id)
    }

    /// Loads the believable demo data set (see [`seed::demo`]).
    pub fn seed_demo(&self) -> Result<(), SimError> {
        seed::demo(self)
    }
}
