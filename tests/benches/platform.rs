//! `cargo xtask bench` — platform figures, measured side by side in one run:
//! - warm call host→plugin next to the same function on wasmtime alone
//!   (no host call path) and called natively;
//! - instantiation from an `InstancePre` with the pooling allocator, through
//!   the host and on wasmtime alone;
//! - resident memory per idle instance.
//!
//! Plain `std::time::Instant` loops over several rounds (`HAMGAM_BENCH_ROUNDS`,
//! default 15, of `HAMGAM_BENCH_CALLS` calls, default 20,000), printed as
//! the best round and the median. The figures are for comparing, not for
//! asserting: on a shared machine the absolute numbers move with the
//! neighbours (the native column shows by how much), the wasm/native ratio
//! much less.

use hamgam::runtime::LoadedPlugin;
use hamgam::runtime::bindings::connector::exports::hamgam::ledger0_1_0::connector as ledger;
use hamgam::runtime::bindings::device_driver::exports::hamgam::hardware::driver::DeviceKind;
use hamgam::runtime::bindings::types::EntityKind;
use hamgam::runtime::instance::PluginInstance;
use hamgam::testing::TestHost;
use hamgam_tests::bench::size_from_env;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{Component, ComponentType, InstancePre, Lift, Linker, TypedFunc};
use wasmtime::{Engine, Store};

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

/// Time `calls` calls of the plugin through the host, then on wasmtime
/// alone, then natively, round by round, so all three see the same
/// machine; ns per call as (best, median) for each.
async fn interleaved(
    rounds: u32,
    calls: u32,
    mut hosted: impl AsyncFnMut(),
    mut bare: impl AsyncFnMut(),
    mut native: impl FnMut(),
) -> [(f64, f64); 3] {
    let mut out: [Vec<f64>; 3] = Default::default();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..calls {
            hosted().await;
        }
        out[0].push(t.elapsed().as_nanos() as f64 / calls as f64);
        let t = Instant::now();
        for _ in 0..calls {
            bare().await;
        }
        out[1].push(t.elapsed().as_nanos() as f64 / calls as f64);
        let t = Instant::now();
        for _ in 0..calls {
            native();
        }
        out[2].push(t.elapsed().as_nanos() as f64 / calls as f64);
    }
    out.map(best_and_median)
}

/// A plugin on wasmtime alone: the runtime's engine (same pooling and
/// limits) and the same compiled component, but none of the host's call
/// path, and a linker that answers `config.get` from a closure and traps
/// on every other import. What is left is what wasmtime itself takes to
/// run the export; the host's share is the difference.
struct Bare {
    pre: InstancePre<()>,
}

impl Bare {
    fn new(engine: &Engine, component: &Component) -> Bare {
        let mut linker = Linker::<()>::new(engine);
        linker
            .define_unknown_imports_as_traps(component)
            .expect("stub imports");
        // Replace the stubbed `config` with one whose `get` answers.
        linker.allow_shadowing(true);
        let mut config = linker
            .instance("hamgam:platform/config@0.1.0")
            .expect("config");
        config
            .func_wrap("get", |_, (key,): (String,)| {
                Ok(((key == "company_code").then(|| "300".to_string()),))
            })
            .expect("config.get");
        for unused in ["all", "secret"] {
            config
                .func_new(unused, |_, _, _| anyhow::bail!("not used by the benchmark"))
                .expect("config stub");
        }
        Bare {
            pre: linker.instantiate_pre(component).expect("link"),
        }
    }

    /// A fresh store and instance, and `interface`'s `func` typechecked.
    async fn export<R>(&self, interface: &str, func: &str) -> (Store<()>, TypedFunc<(), (R,)>)
    where
        R: ComponentType + Lift + 'static,
    {
        let mut store = Store::new(self.pre.engine(), ());
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = self
            .pre
            .instantiate_async(&mut store)
            .await
            .expect("instantiate");
        let typed = typed_export(&instance, &mut store, interface, func);
        (store, typed)
    }
}

/// `interface`'s `func` of a live instance, typechecked.
fn typed_export<R: ComponentType + Lift + 'static>(
    instance: &wasmtime::component::Instance,
    store: &mut Store<()>,
    interface: &str,
    func: &str,
) -> TypedFunc<(), (R,)> {
    let iface = instance
        .get_export_index(&mut *store, None, interface)
        .expect("interface");
    let index = instance
        .get_export_index(&mut *store, Some(&iface), func)
        .expect("export");
    instance
        .get_typed_func::<(), (R,)>(&mut *store, &index)
        .expect("typecheck")
}

/// One call and its `post_return`, as the host makes it.
async fn call_bare<R: ComponentType + Lift + Send + Sync + 'static>(
    store: &mut Store<()>,
    f: &TypedFunc<(), (R,)>,
) -> R {
    let (r,) = f.call_async(&mut *store, ()).await.expect("call");
    f.post_return_async(&mut *store).await.expect("post_return");
    r
}

/// hello-connector's `describe` on wasmtime alone with a store that has no
/// async support, so no fibers: ns per call, per round. The host cannot
/// run plugins this way (outbound HTTP and the state, CRM and SQL imports
/// are async host functions, which need an async store), but the figure
/// shows what the async store's fibers cost a call.
fn sync_describe_ns(path: &std::path::Path, calls: u32, rounds: u32) -> Vec<f64> {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(512 * 1024);
    let engine = Engine::new(&config).expect("sync engine");
    let component = Component::from_file(&engine, path).expect("compile");
    let bare = Bare::new(&engine, &component);
    let mut store = Store::new(&engine, ());
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = bare.pre.instantiate(&mut store).expect("instantiate");
    let describe = typed_export::<ledger::ConnectorInfo>(&instance, &mut store, LEDGER, "describe");
    let mut out = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..calls {
            black_box(describe.call(&mut store, ()).expect("call"));
            describe.post_return(&mut store).expect("post_return");
        }
        out.push(t.elapsed().as_nanos() as f64 / calls as f64);
    }
    out
}

const LEDGER: &str = "hamgam:ledger/connector@0.1.0";

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

/// One table row: best (median) per column, "-" where it does not apply.
fn row(label: &str, cells: [Option<(f64, f64)>; 3], unit: &str, ratio: &str) {
    let cells = cells.map(|cell| match cell {
        // Sub-10 figures (a native call, microseconds) need their decimal.
        Some((best, median)) if best < 10.0 || unit == "µs" => {
            format!("{best:.1} {unit} ({median:>5.1})")
        }
        Some((best, median)) => format!("{best:.0} {unit} ({median:>5.0})"),
        None => "-".to_string(),
    });
    println!(
        "{label:<44} {:>20} {:>20} {:>20} {ratio:>7}",
        cells[0], cells[1], cells[2]
    );
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

/// A staged plugin, verified and compiled once; instances share it.
fn load(host: &TestHost, id: &str) -> Arc<LoadedPlugin> {
    Arc::new(
        host.runtime()
            .load_file(&hamgam::testing::plugin_path(id))
            .expect("build plugins first: cargo xtask build-plugins"),
    )
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
    let plugin = load(&host, "hello-connector");
    let warm = connector(&host, &plugin, "bench");
    warm.describe_connector().await.expect("describe");
    let bare = Bare::new(host.runtime().engine(), plugin.component());
    let (mut bare_store, bare_describe) = bare
        .export::<ledger::ConnectorInfo>(LEDGER, "describe")
        .await;
    let bare_store = &mut bare_store;

    // Warm call: through the host, on wasmtime alone, native.
    let [wasm, wasm_bare, native] = interleaved(
        rounds,
        calls,
        async || {
            black_box(warm.describe_connector().await.expect("describe"));
        },
        async || {
            black_box(call_bare(bare_store, &bare_describe).await);
        },
        || {
            black_box(native_describe(black_box(Some("300".to_string()))));
        },
    )
    .await;
    // The host's whole call path (instance lock, deadline, timeout, typed
    // export) around the smallest real export: a driver's `describe`,
    // which returns an enum and calls nothing.
    let scale_plugin = load(&host, "serial-scale");
    let scale = host
        .plugin_loaded(scale_plugin.clone())
        .tenant("bench")
        .build();
    scale.describe_device().await.expect("describe");
    let bare_scale = Bare::new(host.runtime().engine(), scale_plugin.component());
    let (mut scale_store, bare_device) = bare_scale
        .export::<DeviceKind>("hamgam:hardware/driver@0.1.0", "describe")
        .await;
    let scale_store = &mut scale_store;
    let [smallest, smallest_bare, smallest_native] = interleaved(
        rounds,
        calls,
        async || {
            black_box(scale.describe_device().await.expect("describe"));
        },
        async || {
            black_box(call_bare(scale_store, &bare_device).await);
        },
        || {
            black_box(native_describe_device());
        },
    )
    .await;
    let sync = best_and_median(sync_describe_ns(
        &hamgam::testing::plugin_path("hello-connector"),
        calls,
        rounds,
    ));
    let floor = best_and_median(empty_call_ns(host.runtime().engine(), calls, rounds).await);

    // Instantiation: a fresh instance per round, first call included, so
    // the figure is what a cold tenant pays (InstancePre + pooling), less
    // the warm call.
    let (mut inst, mut inst_bare) = (Vec::new(), Vec::new());
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
        inst.push(t.elapsed().as_nanos() as f64 / N as f64 - wasm.0);
        drop(instances);
        // The same on wasmtime alone: store, instance, typecheck, call.
        let mut live = Vec::new();
        let t = Instant::now();
        for _ in 0..N {
            let (mut store, describe) = bare
                .export::<ledger::ConnectorInfo>(LEDGER, "describe")
                .await;
            black_box(call_bare(&mut store, &describe).await);
            live.push(store);
        }
        inst_bare.push(t.elapsed().as_nanos() as f64 / N as f64 - wasm_bare.0);
    }
    let (inst, inst_bare) = (best_and_median(inst), best_and_median(inst_bare));

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
        "{:<44} {:>20} {:>20} {:>20} {:>7}",
        "measure", "hamgam host", "wasmtime alone", "native", "ratio"
    );
    row(
        "warm call: describe + one config.get",
        [Some(wasm), Some(wasm_bare), Some(native)],
        "ns",
        &format!("{:.1}x", wasm.0 / native.0.max(0.001)),
    );
    // The native function does nothing: a ratio would only measure the loop.
    row(
        "  the same, store without async (no fibers)",
        [None, Some(sync), None],
        "ns",
        "-",
    );
    row(
        "warm call: smallest real export",
        [Some(smallest), Some(smallest_bare), Some(smallest_native)],
        "ns",
        "n/a",
    );
    row(
        "warm call: empty export (wasmtime's floor)",
        [None, Some(floor), None],
        "ns",
        "-",
    );
    let us = |(best, median): (f64, f64)| (best / 1000.0, median / 1000.0);
    row(
        "instantiate + first call, less a warm call",
        [Some(us(inst)), Some(us(inst_bare)), None],
        "µs",
        "-",
    );
    println!(
        "{:<44} {:>16.2} MiB {:>20} {:>20} {:>7}",
        "resident memory per idle instance",
        per_idle / (1024.0 * 1024.0),
        "-",
        "-",
        "-"
    );
    println!(
        "host's share of a warm describe: {:.0} ns; of an instantiation: {:.1} µs",
        wasm.0 - wasm_bare.0,
        (inst.0 - inst_bare.0) / 1000.0
    );
    println!("targets: instantiate ≤ 20 µs, warm call ≤ 1 µs, ≤ 2 MiB per idle instance");
}
