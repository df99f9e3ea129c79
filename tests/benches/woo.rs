//! `cargo xtask bench` (after `sync`) — WooCommerce webhooks into the host,
//! in one run, side by side:
//!
//! 1. Webhook intake: signed `order.updated` deliveries POSTed over HTTP to
//!    `/hooks/{tenant}/{instance}` by 8 concurrent senders; each is checked
//!    by the wasm connector's `accept-webhook` (HMAC-SHA256 over the raw
//!    body, JSON, topic) and stored in the durable queue before its 200.
//!    Deliveries per second — beside the same check compiled natively
//!    (`plugins/woocommerce/src/webhook.rs`) behind the same HTTP server
//!    writing to the same queue. The ratio is the price of the sandbox.
//!    `HAMGAM_BENCH_WEBHOOKS` sets the count (default 4 000).
//! 2. Order → CRM latency: orders placed in the WooCommerce simulator one
//!    by one at random moments; its webhook sender delivers them to the
//!    host, whose queue worker applies them. Time from the order until its
//!    invoice is in the CRM, p50 and p99. `HAMGAM_BENCH_ORDERS` (default
//!    100).
//!
//! Figures are printed, never asserted.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hamgam::server::Server;
use hamgam::store::Db;
use hamgam::store::webhooks as queue;
use hamgam::sync::SyncEngine;
use hamgam_tests::bench::{count_invoices, percentile, size_from_env, until_one_more_invoice};
use hamgam_woo_sim::{Address, NewOrder, NewProduct, SimConfig, WooSim, signature};
use rust_decimal::Decimal;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

// The connector's own signature check, compiled natively for the baseline.
#[allow(dead_code, unused_imports)]
#[path = "../../plugins/woocommerce/src/webhook.rs"]
mod webhook;

const TENANT: &str = "bench";
const SECRET: &str = "bench-webhook-secret";
const SENDERS: usize = 8;

async fn host(dir: &Path, shop: &WooSim, listen: &str) -> (Arc<Server>, Arc<SyncEngine>) {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        hamgam::testing::plugin_path("woocommerce"),
        plugins.join("woocommerce.wasm"),
    )
    .expect("plugins built (cargo xtask build-plugins)");
    let (ck, cs) = shop.credentials();
    for (name, value) in [
        ("token", "bench-token"),
        ("ck", &ck),
        ("cs", &cs),
        ("wh", SECRET),
    ] {
        std::fs::write(dir.join(name), value).unwrap();
    }
    let config = format!(
        r#"
[server]
database = "sqlite://{db}"
plugin_dir = "{plugins}"
reload_interval_s = 0
listen = "{listen}"

[trust]
allow_unsigned = true
{trust}

[tenants.{TENANT}]
api_token = {{ file = "{token}" }}

[tenants.{TENANT}.instances.shop]
plugin = "woocommerce"
enabled = true

[tenants.{TENANT}.instances.shop.settings]
base_url = "{url}"
company_code = "300"
reconcile_interval_s = "3600"

[tenants.{TENANT}.instances.shop.secrets]
consumer_key = {{ file = "{ck}" }}
consumer_secret = {{ file = "{cs}" }}
webhook_secret = {{ file = "{wh}" }}

[tenants.{TENANT}.instances.shop.grants]
http = ["http://127.0.0.1:*"]
state = true

[tenants.{TENANT}.instances.shop.sync]
enabled = false
"#,
        db = dir.join("hamgam.db").display(),
        plugins = plugins.display(),
        // WooCommerce is orderable (P3): the host runs it entitled.
        trust = hamgam_tests::entitled::trust_lines(dir, &[TENANT], &["woocommerce"]).join("\n"),
        token = dir.join("token").display(),
        url = shop.url(),
        ck = dir.join("ck").display(),
        cs = dir.join("cs").display(),
        wh = dir.join("wh").display(),
    );
    let path = dir.join("hamgam.toml");
    std::fs::write(&path, config).unwrap();
    let (server, _) = Server::start(&path).await.expect("host starts");
    let engine = server.sync_engine(false);
    (server, engine)
}

/// The native baseline's route: the same check as the plugin's
/// `accept-webhook`, then the same durable enqueue.
async fn native_intake(
    State(db): State<Db>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let Some(sig) = webhook::header(&pairs, "X-WC-Webhook-Signature") else {
        return (StatusCode::UNAUTHORIZED, "unsigned");
    };
    if !webhook::verify(&body, sig, SECRET) {
        return (StatusCode::UNAUTHORIZED, "forged");
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not json");
    };
    if !value.is_object() || webhook::topic(&pairs).is_none() {
        return (StatusCode::BAD_REQUEST, "no topic");
    }
    let at = chrono::Utc::now().to_rfc3339();
    match queue::enqueue(&db, TENANT, "native", &pairs, &body, &at).await {
        Ok(_) => (StatusCode::OK, "queued"),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "db"),
    }
}

/// POSTs every body to `url` from `SENDERS` concurrent clients; returns
/// the wall time. Every answer must be a 200.
async fn send_all(url: &str, bodies: Arc<Vec<(Vec<u8>, String)>>) -> Duration {
    let client = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..SENDERS {
        let (client, url, bodies, next) =
            (client.clone(), url.to_owned(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((body, sig)) = bodies.get(i) else {
                    return;
                };
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-wc-webhook-topic", "order.updated")
                    .header("x-wc-webhook-signature", sig)
                    .body(body.clone())
                    .send()
                    .await
                    .expect("host answers");
                assert_eq!(resp.status().as_u16(), 200, "{:?}", resp.text().await);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed()
}

fn free_listen() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn buyer(i: usize) -> Address {
    Address::iran("خریدار", &format!("شماره {i}"), "تهران", "THR")
        .email(&format!("buyer{i}@example.ir"))
        .phone("09121234567")
}

/// A plain-HTTP shop selling one product; returns the product's id.
async fn shop_with_one_product() -> (WooSim, u64) {
    let shop = WooSim::start(SimConfig::default().plain_http())
        .await
        .unwrap();
    let product = shop
        .create_product(NewProduct::new("کالا", "A1", Decimal::from(125_000)))
        .unwrap()
        .id;
    (shop, product)
}

async fn intake(count: usize) {
    println!(
        "# webhook intake: {count} signed order deliveries, {SENDERS} concurrent senders, checked and stored before the 200"
    );
    let (shop, product) = shop_with_one_product().await;
    // Real order payloads from the simulator, each signed.
    let mut bodies = Vec::with_capacity(count);
    for i in 0..count.min(200) {
        let o = shop
            .place_order(NewOrder::guest(buyer(i)).line(product, 1).payment("cod"))
            .unwrap();
        bodies.push(serde_json::to_vec(&shop.order_json(o.id)).unwrap());
    }
    let bodies: Vec<(Vec<u8>, String)> = (0..count)
        .map(|i| {
            let b = bodies[i % bodies.len()].clone();
            let s = signature(&b, SECRET);
            (b, s)
        })
        .collect();
    let bodies = Arc::new(bodies);

    let dir = tempfile::tempdir().unwrap();
    let listen = free_listen();
    let (server, _engine) = host(dir.path(), &shop, &listen).await;
    let db = server.state().db().clone();
    let app = hamgam::api::app(server.state().clone()).merge(
        axum::Router::new()
            .route("/native", axum::routing::post(native_intake))
            .with_state(db.clone()),
    );
    let listener = tokio::net::TcpListener::bind(&listen).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Warm both paths (compile caches, connections, SQLite pages).
    let warm = Arc::new(bodies[..50.min(count)].to_vec());
    send_all(
        &format!("http://{listen}/hooks/{TENANT}/shop"),
        warm.clone(),
    )
    .await;
    send_all(&format!("http://{listen}/native"), warm).await;

    let wasm = send_all(
        &format!("http://{listen}/hooks/{TENANT}/shop"),
        bodies.clone(),
    )
    .await;
    let native = send_all(&format!("http://{listen}/native"), bodies.clone()).await;
    let stored = queue::list(&db, TENANT, None, u32::MAX).await.unwrap();
    assert!(stored.len() >= 2 * count, "every delivery was stored");
    let rate = |d: Duration| count as f64 / d.as_secs_f64();
    println!(
        "| path | deliveries/s | wall |\n|---|---|---|\n| wasm accept-webhook + queue | {:.0} | {:.2} s |\n| native check + queue | {:.0} | {:.2} s |",
        rate(wasm),
        wasm.as_secs_f64(),
        rate(native),
        native.as_secs_f64()
    );
    println!("ratio wasm/native: {:.2}", rate(wasm) / rate(native));
}

async fn latency(orders: usize) {
    println!(
        "# order → CRM latency: {orders} orders placed at random moments, delivered by webhook"
    );
    let (shop, product) = shop_with_one_product().await;
    let dir = tempfile::tempdir().unwrap();
    let listen = free_listen();
    let (server, engine) = host(dir.path(), &shop, &listen).await;
    // Products first, so orders resolve their lines (not timed).
    let report = engine.run_once(TENANT, "shop").await.unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    engine.spawn_webhook_worker();
    let app = hamgam::api::app(server.state().clone());
    let listener = tokio::net::TcpListener::bind(&listen).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    for topic in ["order.created", "order.updated"] {
        shop.add_webhook(
            topic,
            &format!("http://{listen}/hooks/{TENANT}/shop"),
            SECRET,
        )
        .unwrap();
    }
    let db = server.state().db().clone();
    let mut samples = Vec::with_capacity(orders);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..orders {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        tokio::time::sleep(Duration::from_millis(rng % 200)).await;
        let before = count_invoices(&db).await;
        let placed = Instant::now();
        shop.place_order(NewOrder::guest(buyer(i)).line(product, 1).payment("cod"))
            .unwrap();
        samples.push(until_one_more_invoice(&db, before, placed, Duration::from_millis(2)).await);
    }
    samples.sort();
    println!(
        "order → CRM invoice: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    intake(size_from_env("HAMGAM_BENCH_WEBHOOKS", 4_000)).await;
    latency(size_from_env("HAMGAM_BENCH_ORDERS", 100)).await;
}
