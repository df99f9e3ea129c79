//! `cargo xtask bench` — platform figures, measured side by side in one run:
//! - warm call host→plugin next to the same function called natively;
//! - instantiation from an `InstancePre` with the pooling allocator;
//! - resident memory per idle instance.
//!
//! Plain `std::time::Instant` loops over several rounds (`HAMGAM_BENCH_ROUNDS`,
//! default 15, of `HAMGAM_BENCH_CALLS` calls, default 20,000), printed as
//! the best round and the median. The figures are for comparing, not for
//! asserting: on a shared machine the absolute numbers move with the
//! neighbours (the native column shows by how much), the wasm/native ratio
//! much less.

use hamgam::runtime::LoadedPlugin;
use hamgam::runtime::bindings::connector::exports::hamgam::ledger::connector as ledger;
use hamgam::runtime::bindings::device_driver::exports::hamgam::hardware::driver::DeviceKind;
use hamgam::runtime::bindings::types::EntityKind;
use hamgam::runtime::instance::PluginInstance;
use hamgam::testing::TestHost;
use hamgam_tests::bench::size_from_env;
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

/// The same logic as serial-scale's `describe`, compiled natively.
#[inline(never)]
fn native_describe_device() -> DeviceKind {
    DeviceKind::Scale
}

/// Best (least disturbed) and median of per-round figures. On a shared
/// machine other tenants only ever add time, so the best round is the
/// closest to what the code costs; the median shows how noisy the run was.
fn best_and_median(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[0], v[v.len() / 2])
}

/// Time `calls` calls of `wasm`, then of `native`, round by round, so both
/// see the same machine; ns per call as (best, median) for each.
async fn interleaved(
    rounds: u32,
    calls: u32,
    mut wasm: impl AsyncFnMut(),
    mut native: impl FnMut(),
) -> ((f64, f64), (f64, f64)) {
    let (mut w, mut n) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..calls {
            wasm().await;
        }
        w.push(t.elapsed().as_nanos() as f64 / calls as f64);
        let t = Instant::now();
        for _ in 0..calls {
            native();
        }
        n.push(t.elapsed().as_nanos() as f64 / calls as f64);
    }
    (best_and_median(w), best_and_median(n))
}

/// The smallest possible component: one export `f: func() -> u32`, no
/// imports, no memory. Called on the runtime's own engine it gives
/// wasmtime's floor for an async call (fiber in, `post_return`, fiber
/// out), which no plugin can go below.
const EMPTY_COMPONENT: &str = r#"(component
  (core module $m (func (export "f") (result i32) i32.const 7))
  (core instance $i (instantiate $m))
  (func (export "f") (result u32) (canon lift (core func $i "f"))))"#;

async fn empty_call_ns(engine: &wasmtime::Engine, calls: u32, rounds: u32) -> Vec<f64> {
    let bytes = wat::parse_str(EMPTY_COMPONENT).expect("empty component");
    let component = wasmtime::component::Component::new(engine, &bytes).expect("compile");
    let linker = wasmtime::component::Linker::<()>::new(engine);
    let mut store = wasmtime::Store::new(engine, ());
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = linker
        .instantiate_async(&mut store, &component)
        .await
        .expect("instantiate");
    let f = instance
        .get_typed_func::<(), (u32,)>(&mut store, "f")
        .expect("export f");
    let mut out = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..calls {
            black_box(f.call_async(&mut store, ()).await.expect("call"));
            f.post_return_async(&mut store).await.expect("post_return");
        }
        out.push(t.elapsed().as_nanos() as f64 / calls as f64);
    }
    out
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

fn connector(host: &TestHost, plugin: &Arc<LoadedPlugin>, tenant: &str) -> Arc<PluginInstance> {
    host.plugin_loaded(plugin.clone())
        .tenant(tenant)
        .setting("company_code", "300")
        .setting("base_url", "http://127.0.0.1:9")
        .grant_state()
        .build()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds = size_from_env("HAMGAM_BENCH_ROUNDS", 15) as u32;
    let calls = size_from_env("HAMGAM_BENCH_CALLS", 20_000) as u32;
    let host = TestHost::untraced();
    // Loaded (verified, compiled) once, as the server does: every instance
    // below shares its `InstancePre`.
    let plugin = Arc::new(
        host.runtime()
            .load_file(&hamgam::testing::plugin_path("hello-connector"))
            .expect("build plugins first: cargo xtask build-plugins"),
    );
    let warm = connector(&host, &plugin, "bench");
    warm.describe_connector().await.expect("describe");

    // Warm call: plugin vs native.
    let (wasm, native) = interleaved(
        rounds,
        calls,
        async || {
            black_box(warm.describe_connector().await.expect("describe"));
        },
        || {
            black_box(native_describe(black_box(Some("300".to_string()))));
        },
    )
    .await;
    // The host's whole call path (instance lock, deadline, timeout, typed
    // export) around the smallest real export: a driver's `describe`,
    // which returns an enum and calls nothing.
    let scale = host
        .plugin(hamgam::testing::plugin_path("serial-scale"))
        .expect("build plugins first: cargo xtask build-plugins")
        .tenant("bench")
        .build();
    scale.describe_device().await.expect("describe");
    let (smallest, smallest_native) = interleaved(
        rounds,
        calls,
        async || {
            black_box(scale.describe_device().await.expect("describe"));
        },
        || {
            black_box(native_describe_device());
        },
    )
    .await;
    let floor = best_and_median(empty_call_ns(host.runtime().engine(), calls, rounds).await);

    // Instantiation: a fresh instance per round, first call included, so
    // the figure is what a cold tenant pays (InstancePre + pooling), less
    // the warm call.
    let mut inst = Vec::new();
    for round in 0..rounds {
        // Below the harness's pool of 64 instances; the round's instances
        // are dropped before the next round.
        const N: u32 = 40;
        let instances: Vec<_> = (0..N)
            .map(|i| connector(&host, &plugin, &format!("t{round}-{i}")))
            .collect();
        let t = Instant::now();
        for i in &instances {
            black_box(i.describe_connector().await.expect("describe"));
        }
        let per = t.elapsed().as_nanos() as f64 / N as f64;
        inst.push(per - wasm.0);
    }
    let inst = best_and_median(inst);

    // Resident memory per idle instance: 40 live, idle instances.
    const IDLE: usize = 40;
    let before = rss_bytes();
    let idle: Vec<_> = (0..IDLE)
        .map(|i| connector(&host, &plugin, &format!("idle-{i}")))
        .collect();
    for i in &idle {
        i.describe_connector().await.expect("describe");
    }
    let per_idle = (rss_bytes().saturating_sub(before)) as f64 / IDLE as f64;

    println!("platform benchmark (release build; {rounds} rounds; best round, median in brackets)");
    println!(
        "{:<48} {:>22} {:>22} {:>7}",
        "measure", "wasm", "native", "ratio"
    );
    println!(
        "{:<48} {:>9.0} ns ({:>6.0} ns) {:>9.0} ns ({:>6.0} ns) {:>6.1}x",
        "warm call: describe + one config.get",
        wasm.0,
        wasm.1,
        native.0,
        native.1,
        wasm.0 / native.0.max(0.001)
    );
    println!(
        "{:<48} {:>9.0} ns ({:>6.0} ns) {:>9.1} ns ({:>6.1} ns) {:>7}",
        "warm call: smallest real export, full call path",
        smallest.0,
        smallest.1,
        smallest_native.0,
        smallest_native.1,
        // The native function does nothing: a ratio would only measure
        // the loop.
        "n/a"
    );
    println!(
        "{:<48} {:>9.0} ns ({:>6.0} ns) {:>22} {:>7}",
        "wasmtime's floor: empty export, no host code", floor.0, floor.1, "-", "-"
    );
    println!(
        "{:<48} {:>9.1} µs ({:>6.1} µs) {:>22} {:>7}",
        "instantiate (InstancePre + pooling)",
        inst.0 / 1000.0,
        inst.1 / 1000.0,
        "-",
        "-"
    );
    println!(
        "{:<48} {:>8.2} MiB {:>33} {:>7}",
        "resident memory per idle instance",
        per_idle / (1024.0 * 1024.0),
        "-",
        "-"
    );
    println!("targets: instantiate ≤ 20 µs, warm call ≤ 1 µs, ≤ 2 MiB per idle instance");
}
