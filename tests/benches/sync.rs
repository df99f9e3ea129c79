//! `cargo xtask bench` (after `crm`) — the sync engine against the Sepidar
//! simulator, in one run, side by side:
//!
//! 1. Initial import of N sales invoices × 5 lines (default 100 000;
//!    `HAMGAM_BENCH_SYNC_INVOICES` to change) from Sepidar into SQLite
//!    through the wasm connector, invoices per second — beside the same
//!    connector mapping (`plugins/sepidar/src/mapping.rs`, `model.rs`,
//!    `crypto.rs`) compiled natively into the host, speaking the same HTTP
//!    to the same simulator through the same engine path, and beside the
//!    store's own ceiling measured in the same run: raw multi-row INSERTs of
//!    as many invoices × 5 lines into a fresh SQLite database
//!    (`hamgam_tests::bench::raw_insert_rate`, as the `crm` bench). Targets
//!    (issue 14): wasm ≥ 0.5 × the ceiling, wasm ≥ 0.9 × native.
//! 2. Ledger → CRM latency at a 1 s poll interval (S19): invoices created in
//!    Sepidar one by one at random moments, the time until each is visible
//!    through the CRM API, p50 and p99.
//!
//! Figures are printed, never asserted.

use async_trait::async_trait;
use crypto::{DeviceKey, Serial};
use hamgam::runtime::bindings::connector::exports::hamgam::ledger0_1_0::connector as ledger;
use hamgam::runtime::bindings::types as wit;
use hamgam::runtime::error::CallError;
use hamgam::server::Server;
use hamgam::sync::{Ledger, SyncEngine};
use hamgam_sepidar_sim::{NewCustomer, NewDocument, NewItem, NewLine, Sepidar, SimConfig, refs};
use hamgam_tests::bench::{
    count_invoices, invoices as raw_invoices, party as raw_party, percentile, raw_insert_rate,
    size_from_env, until_one_more_invoice,
};
use model::{Item, LoginResponse, Page, RegisterResponse, SaleDocument};
use rand_core::OsRng;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// The connector's own pure modules, compiled natively: the baseline runs
// exactly the plugin's parsing and mapping code. Only part of them is used
// here, hence `dead_code`.
#[allow(dead_code, unused_imports)]
#[path = "../../plugins/sepidar/src/crypto.rs"]
mod crypto;
#[allow(dead_code, unused_imports)]
#[path = "../../plugins/sepidar/src/json.rs"]
mod json;
#[allow(dead_code, unused_imports)]
#[path = "../../plugins/sepidar/src/mapping.rs"]
mod mapping;
#[allow(dead_code, unused_imports)]
#[path = "../../plugins/sepidar/src/model.rs"]
mod model;

const TENANT: &str = "bench";
const SERIAL: &str = "10037ff3";
const CUSTOMERS: usize = 50;
const ITEMS: usize = 40;
const PAGE: u32 = 1000;

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
}

async fn simulator(invoices: usize) -> Sepidar {
    let sim = Sepidar::start(SimConfig {
        serial: SERIAL.into(),
        ..SimConfig::new(300).today(today())
    })
    .await
    .expect("simulator");
    let customers: Vec<i32> = (0..CUSTOMERS)
        .map(|i| {
            sim.create_customer(
                NewCustomer::person("مشتری", format!("بنچ{i}"))
                    .address(refs::CITY_TEHRAN, "خیابان آزادی"),
            )
            .unwrap()
            .customer_id
        })
        .collect();
    let items: Vec<i32> = (0..ITEMS)
        .map(|i| {
            let it = sim
                .create_item(NewItem::product(format!("B{i}"), format!("کالا {i}")))
                .unwrap();
            sim.set_price(
                it.item_id,
                refs::SALE_TYPE_DOMESTIC,
                Decimal::from(10_000 * (i + 1)),
            )
            .unwrap();
            it.item_id
        })
        .collect();
    let docs = (0..invoices).map(|i| {
        let lines = (0..5)
            .map(|l| {
                NewLine::new(
                    items[(i + l * 7) % items.len()],
                    1 + (l as i64),
                    120_000 + (i % 991) as i64 * 10,
                )
            })
            .collect();
        NewDocument::new(customers[i % customers.len()], today(), lines)
    });
    sim.create_invoices_bulk(docs).unwrap();
    sim
}

/// A host with one Sepidar instance over a fresh SQLite database.
async fn host(
    dir: &Path,
    sim: &Sepidar,
    interval_s: f64,
    schedule: bool,
) -> (Arc<Server>, Arc<SyncEngine>) {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        hamgam::testing::plugin_path("sepidar"),
        plugins.join("sepidar.wasm"),
    )
    .expect("plugins built (cargo xtask build-plugins)");
    std::fs::write(dir.join("password"), "admin").unwrap();
    std::fs::write(dir.join("token"), "bench-token").unwrap();
    let config = format!(
        r#"
[server]
database = "sqlite://{db}"
plugin_dir = "{plugins}"
reload_interval_s = 0

[trust]
allow_unsigned = true

[tenants.{TENANT}]
api_token = {{ file = "{token}" }}

[tenants.{TENANT}.instances.sepidar-300]
plugin = "sepidar"
enabled = true

[tenants.{TENANT}.instances.sepidar-300.settings]
base_url = "{url}"
serial = "{SERIAL}"
username = "admin"
company_code = "300"
documents_from = "2020-01-01"
reconcile_interval_s = "3600"

[tenants.{TENANT}.instances.sepidar-300.secrets]
password = {{ file = "{password}" }}

[tenants.{TENANT}.instances.sepidar-300.grants]
http = ["http://127.0.0.1:*"]
state = true

[tenants.{TENANT}.instances.sepidar-300.sync]
enabled = {schedule}
interval_s = {interval_s}
page_size = {PAGE}
max_pages_per_run = 1000

[tenants.{TENANT}.instances.sepidar-300.limits]
memory_mib = 256
"#,
        db = dir.join("hamgam.db").display(),
        plugins = plugins.display(),
        token = dir.join("token").display(),
        password = dir.join("password").display(),
        url = sim.url(),
    );
    let path = dir.join("hamgam.toml");
    std::fs::write(&path, config).unwrap();
    let (server, _) = Server::start(&path).await.expect("host");
    let engine = server.sync_engine(schedule);
    (server, engine)
}

/// The same connector mapping as the wasm plugin, compiled natively, with
/// reqwest for HTTP: the baseline the sandbox is priced against.
struct NativeSepidar {
    http: reqwest::Client,
    base: String,
    key: DeviceKey,
    token: String,
    items: Mutex<HashMap<i64, Item>>,
}

impl NativeSepidar {
    async fn connect(base: &str) -> NativeSepidar {
        let http = reqwest::Client::new();
        let serial = Serial::parse(SERIAL).unwrap();
        let mut iv = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut OsRng, &mut iv);
        let reg: RegisterResponse = http
            .post(format!("{base}/Devices/Register"))
            .json(&crypto::register_request(&serial, iv))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let xml = crypto::decrypt_register_response(&serial, &reg.cypher, &reg.iv).unwrap();
        let mut native = NativeSepidar {
            http,
            base: base.to_owned(),
            key: DeviceKey::from_xml(&xml).unwrap(),
            token: String::new(),
            items: Mutex::new(HashMap::new()),
        };
        let login = native
            .signed(native.http.post(format!("{base}/users/login")))
            .json(
                &serde_json::json!({"UserName": "admin", "PasswordHash": crypto::md5_hex("admin")}),
            )
            .send()
            .await
            .unwrap();
        native.token = login.json::<LoginResponse>().await.unwrap().token;
        native
    }

    fn signed(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let code = crypto::new_uuid(&mut OsRng);
        let enc = self.key.encrypt_code(&mut OsRng, &code).unwrap();
        let request = request
            .header("GenerationVersion", "110")
            .header("IntegrationID", "1003")
            .header("ArbitraryCode", code.to_string())
            .header("EncArbitraryCode", enc);
        if self.token.is_empty() {
            request
        } else {
            request.bearer_auth(&self.token)
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let resp = self
            .signed(self.http.get(format!("{}/{path}", self.base)))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
    }
}

#[async_trait]
impl Ledger for NativeSepidar {
    async fn describe(&self) -> Result<ledger::ConnectorInfo, CallError> {
        Ok(ledger::ConnectorInfo {
            ledger: "Sepidar (native)".into(),
            company_code: Some("300".into()),
            role: ledger::ConnectorRole::Books,
            entities: Vec::new(),
        })
    }

    async fn pull(
        &self,
        kind: wit::EntityKind,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Result<ledger::ChangePage, wit::Error>, CallError> {
        assert_eq!(kind, wit::EntityKind::SalesInvoice);
        let offset: u64 = cursor.as_deref().map(|c| c.parse().unwrap()).unwrap_or(0);
        let page: Page<SaleDocument> = self
            .get(&format!(
                "Invoices/BasedOnDate/Paginated?fromDate=2020-01-01T00:00:00&toDate=2100-01-01T00:00:00&limit={limit}&offset={offset}&orderBy=InvoiceID"
            ))
            .await;
        // Lines need their items' rates, read once, as the plugin does.
        let wanted: Vec<i64> = {
            let known = self.items.lock().unwrap();
            let mut w: Vec<i64> = page
                .result
                .iter()
                .flat_map(|d| d.items.iter().map(|l| l.item_ref))
                .filter(|id| !known.contains_key(id))
                .collect();
            w.sort_unstable();
            w.dedup();
            w
        };
        for id in wanted {
            let item: Item = self.get(&format!("Items/{id}")).await;
            self.items.lock().unwrap().insert(id, item);
        }
        let items = self.items.lock().unwrap().clone();
        let mut changes = Vec::with_capacity(page.result.len());
        for doc in &page.result {
            let d = mapping::sale_to_document(hamgam_sdk::DocumentKind::SalesInvoice, doc, &items)
                .unwrap();
            changes.push(ledger::Change::Upsert(ledger::RemoteRecord {
                remote_id: doc.id.to_string(),
                version: None,
                origin_key: doc.guid.clone(),
                entity: wit::Entity::Document(host_document(d)),
            }));
        }
        let n = page.result.len() as u64;
        Ok(Ok(ledger::ChangePage {
            changes,
            next_cursor: Some((offset + n).to_string()),
            has_more: n == u64::from(limit),
            full_scan: true,
        }))
    }

    async fn fetch(
        &self,
        _: wit::EntityKind,
        _: String,
    ) -> Result<Result<Option<ledger::RemoteRecord>, wit::Error>, CallError> {
        Ok(Err(wit::Error::Unsupported("bench".into())))
    }

    async fn push(
        &self,
        _: wit::EntityKind,
        _: wit::Entity,
        _: Option<String>,
        _: Option<String>,
        _: String,
    ) -> Result<Result<ledger::PushOutcome, wit::Error>, CallError> {
        Ok(Err(wit::Error::Unsupported("bench".into())))
    }
}

fn dec(d: hamgam_sdk::Decimal) -> wit::Decimal {
    wit::Decimal {
        mantissa_lo: d.mantissa_lo,
        mantissa_hi: d.mantissa_hi,
        negative: d.negative,
        scale: d.scale,
    }
}

/// The guest's record as the host's: what the canonical ABI does for the
/// wasm plugin, done by hand for the native one.
fn host_document(d: hamgam_sdk::Document) -> wit::Document {
    wit::Document {
        kind: wit::DocumentKind::SalesInvoice,
        number: d.number,
        date: wit::Date {
            year: d.date.year,
            month: d.date.month,
            day: d.date.day,
        },
        party_ref: d.party_ref,
        currency: d.currency,
        lines: d
            .lines
            .into_iter()
            .map(|l| wit::DocumentLine {
                product_ref: l.product_ref,
                description: l.description,
                quantity: dec(l.quantity),
                unit_price: dec(l.unit_price),
                discount: dec(l.discount),
                additions: dec(l.additions),
                tax_rate: dec(l.tax_rate),
                toll_rate: dec(l.toll_rate),
                tax_exempt: l.tax_exempt,
                tax: dec(l.tax),
                toll: dec(l.toll),
                total: dec(l.total),
                serial_numbers: l.serial_numbers,
            })
            .collect(),
        discount: dec(d.discount),
        additions: dec(d.additions),
        tax_total: dec(d.tax_total),
        toll_total: dec(d.toll_total),
        total: dec(d.total),
        settlements: Vec::new(),
        related_ref: d.related_ref,
        note: d.note,
    }
}

/// Parties and products first (not timed), through the wasm connector.
async fn prepare(engine: &SyncEngine) {
    for kind in [wit::EntityKind::Party, wit::EntityKind::Product] {
        let plugin = engine
            .state()
            .snapshot()
            .registry
            .get(TENANT, "sepidar-300")
            .unwrap()
            .clone();
        let r = engine
            .import_kind(TENANT, "sepidar-300", plugin.as_ref(), kind, 300)
            .await
            .unwrap();
        assert!(r.errors.is_empty() && r.refused == 0, "{r:?}");
    }
}

/// The store's ceiling on this machine now: raw INSERTs of `n` invoices ×
/// 5 lines into a fresh SQLite database, a page per transaction.
async fn ceiling(n: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let db =
        hamgam::store::Db::connect(&format!("sqlite://{}", dir.path().join("raw.db").display()))
            .await
            .unwrap();
    let actor = hamgam::crm::Actor::api("bench-raw");
    let party = raw_party(&db, &actor).await;
    let docs = raw_invoices(n, party);
    raw_insert_rate(&db, &docs, "bench-raw", PAGE as usize).await
}

async fn import(invoices: usize) {
    println!("# initial import: {invoices} sales invoices × 5 lines, Sepidar simulator → SQLite");
    let raw_rate = ceiling(invoices).await;
    // wasm
    let sim = simulator(invoices).await;
    let dir = tempfile::tempdir().unwrap();
    let (_server, engine) = host(dir.path(), &sim, 5.0, false).await;
    prepare(&engine).await;
    let plugin = engine
        .state()
        .snapshot()
        .registry
        .get(TENANT, "sepidar-300")
        .unwrap()
        .clone();
    let started = Instant::now();
    let r = engine
        .import_kind(
            TENANT,
            "sepidar-300",
            plugin.as_ref(),
            wit::EntityKind::SalesInvoice,
            300,
        )
        .await
        .unwrap();
    let wasm_s = started.elapsed().as_secs_f64();
    assert_eq!(r.applied, invoices, "{r:?}");
    assert_eq!(count_invoices(engine.state().db()).await, invoices as i64);
    drop(engine);
    drop(_server);

    // native: a fresh database, the same simulator (device re-registered).
    sim.reset_device();
    let dir2 = tempfile::tempdir().unwrap();
    let (_server2, engine2) = host(dir2.path(), &sim, 5.0, false).await;
    sim.reset_device();
    prepare(&engine2).await;
    sim.reset_device();
    let native = NativeSepidar::connect(&sim.url()).await;
    let started = Instant::now();
    let r = engine2
        .import_kind(
            TENANT,
            "sepidar-300",
            &native,
            wit::EntityKind::SalesInvoice,
            300,
        )
        .await
        .unwrap();
    let native_s = started.elapsed().as_secs_f64();
    assert_eq!(r.applied, invoices, "{r:?}");
    let wasm_rate = invoices as f64 / wasm_s;
    let native_rate = invoices as f64 / native_s;
    println!("| path | seconds | invoices/s |");
    println!(
        "| store ceiling: raw INSERTs, no sync (same run) | {:.1} | {raw_rate:.0} |",
        invoices as f64 / raw_rate
    );
    println!("| wasm connector (sandboxed, wasi:http) | {wasm_s:.1} | {wasm_rate:.0} |");
    println!("| same mapping, native in the host (reqwest) | {native_s:.1} | {native_rate:.0} |");
    println!(
        "wasm/ceiling: {:.2} (target ≥ 0.5); wasm/native: {:.2} (target ≥ 0.9)",
        wasm_rate / raw_rate,
        wasm_rate / native_rate
    );
}

async fn latency(samples: usize) {
    println!("# S19: ledger → CRM latency at a 1 s poll interval, {samples} invoices");
    let sim = simulator(0).await;
    let dir = tempfile::tempdir().unwrap();
    let (_server, engine) = host(dir.path(), &sim, 1.0, true).await;
    let db = engine.state().db().clone();
    // Let the first runs bring parties and products in.
    let started = Instant::now();
    loop {
        let n: i64 = match &db {
            hamgam::store::Db::Sqlite(p) => sqlx::query_scalar("SELECT COUNT(*) FROM crm_products")
                .fetch_one(p)
                .await
                .unwrap(),
            hamgam::store::Db::Postgres(p) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM crm_products")
                    .fetch_one(p)
                    .await
                    .unwrap()
            }
        };
        if n == ITEMS as i64 || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let customer = sim.customers()[0].customer_id;
    let item = sim.items()[0].item_id;
    let mut took = Vec::with_capacity(samples);
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..samples {
        // A random moment within the poll interval.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(seed % 1000)).await;
        let before = count_invoices(&db).await;
        let created = Instant::now();
        sim.create_invoice(NewDocument::new(
            customer,
            today(),
            vec![NewLine::new(item, 1, 10_000 + i as i64)],
        ))
        .unwrap();
        took.push(until_one_more_invoice(&db, before, created, Duration::from_millis(5)).await);
    }
    took.sort();
    println!(
        "p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (target: within 2 s)",
        percentile(&took, 0.5).as_secs_f64() * 1000.0,
        percentile(&took, 0.99).as_secs_f64() * 1000.0,
        took.last().unwrap().as_secs_f64() * 1000.0
    );
}

// The runtime `hamgam serve` runs (multi-threaded, one worker per core
// of this 2-core machine). The simulator shares the process but stands
// for a Sepidar server on another machine: on one thread its page
// building would be charged to the host's path as if the host did it.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    import(size_from_env("HAMGAM_BENCH_SYNC_INVOICES", 100_000)).await;
    latency(size_from_env("HAMGAM_BENCH_LATENCY_SAMPLES", 60)).await;
}
