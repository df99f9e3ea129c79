//! `cargo xtask bench` — platform figures, measured side by side in one run:
//! - warm call host→plugin next to the same function called natively;
//! - instantiation from an `InstancePre` with the pooling allocator;
//! - resident memory per idle instance.
//!
//! Plain `std::time::Instant` loops, medians of several rounds: the figures
//! are for comparing, not for asserting (machines here are shared).

use hamgam::runtime::bindings::connector::exports::hamgam::ledger::connector as ledger;
use hamgam::runtime::bindings::types::EntityKind;
use hamgam::runtime::instance::PluginInstance;
use hamgam::testing::TestHost;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

/// The same logic as hello-connector's `describe`, compiled natively.
fn native_describe(company: Option<String>) -> ledger::ConnectorInfo {
    use ledger::{Direction, EntitySupport};
    ledger::ConnectorInfo {
        ledger: "Demo ledger".into(),
        company_code: company,
        role: ledger::ConnectorRole::Books,
        entities: vec![
            EntitySupport {
                kind: EntityKind::Party,
                direction: Direction::Both,
                reports_deletes: true,
            },
            EntitySupport {
                kind: EntityKind::Product,
                direction: Direction::LedgerToCrm,
                reports_deletes: true,
            },
            EntitySupport {
                kind: EntityKind::SalesInvoice,
                direction: Direction::LedgerToCrm,
                reports_deletes: true,
            },
        ],
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn connector(host: &TestHost, tenant: &str) -> Arc<PluginInstance> {
    host.plugin(hamgam::testing::plugin_path("hello-connector"))
        .expect("build plugins first: cargo xtask build-plugins")
        .tenant(tenant)
        .setting("company_code", "300")
        .setting("base_url", "http://127.0.0.1:9")
        .grant_state()
        .build()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let host = TestHost::untraced();
    let warm = connector(&host, "bench");
    warm.describe_connector().await.expect("describe");

    // Warm call: plugin vs native, same rounds.
    const CALLS: u32 = 20_000;
    let (mut wasm, mut native) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..CALLS {
            black_box(warm.describe_connector().await.expect("describe"));
        }
        wasm.push(t.elapsed().as_nanos() as f64 / CALLS as f64);
        let t = Instant::now();
        for _ in 0..CALLS {
            black_box(native_describe(black_box(Some("300".to_string()))));
        }
        native.push(t.elapsed().as_nanos() as f64 / CALLS as f64);
    }
    let (wasm, native) = (median(wasm), median(native));

    // Instantiation: a fresh instance per round, first call included, so
    // the figure is what a cold tenant pays (InstancePre + pooling).
    let mut inst = Vec::new();
    for round in 0..7 {
        // Below the harness's pool of 64 instances; the round's instances
        // are dropped before the next round.
        const N: u32 = 40;
        let instances: Vec<_> = (0..N)
            .map(|i| connector(&host, &format!("t{round}-{i}")))
            .collect();
        let t = Instant::now();
        for i in &instances {
            black_box(i.describe_connector().await.expect("describe"));
        }
        let per = t.elapsed().as_nanos() as f64 / N as f64;
        inst.push(per - wasm);
    }
    let inst = median(inst);

    // Resident memory per idle instance: 40 live, idle instances.
    const IDLE: usize = 40;
    let before = rss_bytes();
    let idle: Vec<_> = (0..IDLE)
        .map(|i| connector(&host, &format!("idle-{i}")))
        .collect();
    for i in &idle {
        i.describe_connector().await.expect("describe");
    }
    let per_idle = (rss_bytes().saturating_sub(before)) as f64 / IDLE as f64;

    println!(
        "platform benchmark (hello-connector `describe`, which makes one host call to `config.get`; release build)"
    );
    println!(
        "{:<44} {:>12} {:>12} {:>8}",
        "measure", "wasm", "native", "ratio"
    );
    println!(
        "{:<44} {:>9.0} ns {:>9.0} ns {:>7.1}x",
        "warm call host→plugin vs native fn",
        wasm,
        native,
        wasm / native.max(0.001)
    );
    println!(
        "{:<44} {:>9.1} µs {:>12} {:>8}",
        "instantiate (InstancePre + pooling)",
        inst / 1000.0,
        "-",
        "-"
    );
    println!(
        "{:<44} {:>8.2} MiB {:>12} {:>8}",
        "resident memory per idle instance",
        per_idle / (1024.0 * 1024.0),
        "-",
        "-"
    );
    println!("targets: instantiate ≤ 20 µs, warm call ≤ 1 µs, ≤ 2 MiB per idle instance");
}
