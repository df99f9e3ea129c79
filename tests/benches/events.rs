//! `cargo xtask bench` (after `woo`) — event delivery to modules (S20), in
//! one run, side by side:
//!
//! 1. Throughput: `HAMGAM_BENCH_EVENTS` (default 5 000) committed CRM
//!    changes handed to one subscriber. The wasm module (`hostile`'s
//!    `on-event`: read the envelope, skip what it has taken, keep a tally
//!    in its state) beside the same handler compiled natively, reading and
//!    writing the same state table through the same dispatcher. Events per
//!    second, and the ratio: the price of the sandbox per event.
//! 2. Commit → `on-event` latency: `HAMGAM_BENCH_EVENT_SAMPLES` (default
//!    100) parties created one at a time through the REST API with the
//!    dispatcher running as `hamgam serve` runs it (woken by each write);
//!    the time from the request until the module's tally moved, p50/p99.
//!
//! Figures are printed, never asserted.

use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use hamgam::crm::{Actor, PartyInput};
use hamgam::events::{Dispatcher, RetryPolicy, Subscriber};
use hamgam::runtime::instance::SystemClock;
use hamgam::server::Server;
use hamgam::store::{Db, modules, party};
use hamgam_tests::bench::{percentile, size_from_env};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const TENANT: &str = "bench";
const TOKEN: &str = "bench-token";

async fn host(dir: &Path) -> Arc<Server> {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        hamgam::testing::plugin_path("hostile"),
        plugins.join("hostile.wasm"),
    )
    .expect("plugins built (cargo xtask build-plugins)");
    std::fs::write(dir.join("token"), TOKEN).unwrap();
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

[tenants.{TENANT}.instances.wasm]
plugin = "hostile"
enabled = true
grants = {{ state = true }}
"#,
        db = dir.join("hamgam.db").display(),
        plugins = plugins.display(),
        token = dir.join("token").display(),
    );
    let path = dir.join("hamgam.toml");
    std::fs::write(&path, config).unwrap();
    let (server, _) = Server::start(&path).await.expect("host starts");
    server
}

/// `hostile`'s `on-event`, compiled natively: the same envelope, the same
/// skip-what-was-taken rule, the same tally in the same state table.
struct Native {
    db: Db,
}

#[async_trait]
impl Subscriber for Native {
    fn tenant(&self) -> &str {
        TENANT
    }

    fn name(&self) -> &str {
        "native"
    }

    async fn take(&self, _name: &str, envelope: String) -> Result<(), String> {
        let e: Value = serde_json::from_str(&envelope).map_err(|e| e.to_string())?;
        let get = |key: &'static str| {
            let db = self.db.clone();
            async move {
                modules::state_get(&db, TENANT, "native", key)
                    .await
                    .map_err(|e| e.to_string())
            }
        };
        let fail = get("fail").await?.unwrap_or_default();
        let subject = e["subject"].as_str().unwrap_or("");
        if !fail.is_empty() && (fail == b"*" || fail == subject.as_bytes()) {
            return Err("told to fail".into());
        }
        let key = format!("p:{subject}");
        let mut progress: Value = modules::state_get(&self.db, TENANT, "native", &key)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| json!({ "last_seq": 0, "count": 0, "id_sum": 0 }));
        let seq = e["seq"].as_i64().unwrap_or(0);
        if seq <= progress["last_seq"].as_i64().unwrap_or(0) {
            return Ok(());
        }
        progress["last_seq"] = json!(seq);
        progress["count"] = json!(progress["count"].as_i64().unwrap_or(0) + 1);
        progress["id_sum"] =
            json!(progress["id_sum"].as_i64().unwrap_or(0) + e["id"].as_i64().unwrap_or(0));
        if get("full").await?.is_none() {
            let mut seen: Vec<Value> = get("events")
                .await?
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            let (key, value) = if seen.len() < 200 {
                seen.push(json!({ "id": e["id"], "name": e["name"], "subject": e["subject"] }));
                ("events", json!(seen).to_string())
            } else {
                ("full", "1".to_owned())
            };
            modules::state_set(&self.db, TENANT, "native", key, value.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
        }
        modules::state_set(
            &self.db,
            TENANT,
            "native",
            &key,
            progress.to_string().as_bytes(),
        )
        .await
        .map_err(|e| e.to_string())
    }
}

async fn tally(db: &Db, instance: &str) -> i64 {
    let sql =
        "SELECT value FROM plugin_state WHERE tenant = $1 AND instance = $2 AND key LIKE 'p:%'";
    let Db::Sqlite(pool) = db else {
        unreachable!("the bench runs on SQLite")
    };
    let values: Vec<Vec<u8>> = sqlx::query_scalar(sql)
        .bind(TENANT)
        .bind(instance)
        .fetch_all(pool)
        .await
        .unwrap();
    values
        .iter()
        .filter_map(|v| serde_json::from_slice::<Value>(v).ok())
        .filter_map(|v| v["count"].as_i64())
        .sum()
}

fn person(n: usize) -> Value {
    json!({
        "kind": "person",
        "first_name": "نسرین",
        "last_name": format!("سنجه{n}"),
        "customer_number": format!("{}-300", 10_000 + n),
    })
}

async fn throughput(count: usize) {
    println!(
        "# event delivery: {count} committed CRM changes to one subscriber (SQLite), its tally in plugin state"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = host(dir.path()).await;
    let db = server.state().db().clone();
    let dispatcher = Dispatcher::new(
        server.state().shared().clone(),
        Arc::new(SystemClock),
        RetryPolicy::default(),
    );
    let native = Native { db: db.clone() };
    let all = ["*".to_string()];
    // Both subscribers take their place before the changes.
    dispatcher.run_once().await.unwrap();
    dispatcher.run_for(&native, &all).await.unwrap();
    let actor = Actor::api(TENANT);
    for n in 0..count {
        let input = serde_json::from_value::<PartyInput>(person(n))
            .unwrap()
            .validate()
            .unwrap();
        party::create_party(&db, &actor, &input).await.unwrap();
    }

    let started = Instant::now();
    while tally(&db, "wasm").await < count as i64 {
        dispatcher.run_once().await.unwrap();
    }
    let wasm = started.elapsed();
    let started = Instant::now();
    while tally(&db, "native").await < count as i64 {
        dispatcher.run_for(&native, &all).await.unwrap();
    }
    let native_time = started.elapsed();
    let rate = |d: Duration| count as f64 / d.as_secs_f64();
    println!(
        "events/s  wasm module {:>9.0}   native handler {:>9.0}   wasm/native {:.2}",
        rate(wasm),
        rate(native_time),
        rate(wasm) / rate(native_time)
    );
}

async fn latency(samples: usize) {
    println!(
        "# commit → on-event latency: {samples} parties created one at a time through the REST API, dispatcher woken by each write"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = host(dir.path()).await;
    let db = server.state().db().clone();
    let _events = server.events(hamgam::server::EVENT_TICK);
    let app = hamgam::api::app(server.state().clone());
    // Wait for the subscriber's first pass (its place in the log).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut times = Vec::with_capacity(samples);
    for n in 0..samples {
        let before = tally(&db, "wasm").await;
        let started = Instant::now();
        let request = Request::post(format!("/api/v1/tenants/{TENANT}/parties"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
            .body(Body::from(person(n).to_string()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status().as_u16(), 201);
        while tally(&db, "wasm").await <= before {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the event never reached the module"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "latency   p50 {:>7.1} ms   p99 {:>7.1} ms   (request → committed → on-event → module state)",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() {
    throughput(size_from_env("HAMGAM_BENCH_EVENTS", 5_000)).await;
    latency(size_from_env("HAMGAM_BENCH_EVENT_SAMPLES", 100)).await;
}
