//! One plugin instance of one tenant: its context, its store, and the call
//! path that applies the limits.
//!
//! A store lives as long as the instance stays healthy. A trap, a limit hit
//! or a timeout drops it ("poisons" the instance): the next call builds a
//! fresh one from the plugin's `InstancePre`, which costs microseconds, and
//! nothing else — no other instance, no other tenant — notices.

use super::backends::{CallRecorder, CrmStore, Scope, StateStore};
use super::bindings::{connector, device_driver, module, notifier};
use super::error::{CallError, LimitHit};
use super::grants::Effective;
use super::host::HostState;
use super::sql::SqlHub;
use super::{LoadedPlugin, Pre};
use crate::config::{Limits, SecretRef};
use crate::plugins::manifest::PluginKind;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tracing::Instrument;
use wasmtime::{Store, UpdateDeadline};

/// The clock plugins see through `hamgam:platform/clock`.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> chrono::DateTime<chrono::Utc>;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}

/// The services an instance's imports reach. Shared by every instance.
#[derive(Clone)]
pub struct Services {
    /// Key-value state.
    pub state: Arc<dyn StateStore>,
    /// The CRM store.
    pub crm: Arc<dyn CrmStore>,
    /// SQL connections.
    pub sql: Arc<dyn SqlHub>,
    /// Where capability use is reported.
    pub recorder: Arc<dyn CallRecorder>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

impl Services {
    /// Everything in memory, capability use traced: for tests and tools.
    pub fn in_memory() -> Services {
        Services {
            state: Arc::new(super::backends::MemoryState::default()),
            crm: Arc::new(super::backends::MemoryCrm::default()),
            sql: Arc::new(super::sql::SqlConnections::default()),
            recorder: Arc::new(super::backends::TracingRecorder),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Everything an instance is, apart from its store.
pub struct InstanceContext {
    /// Tenant and instance name.
    pub scope: Scope,
    /// Plugin id.
    pub plugin_id: String,
    /// Capabilities: declared ∩ granted.
    pub effective: Effective,
    /// Plain settings.
    pub settings: BTreeMap<String, String>,
    /// Secret references by name.
    pub secrets: BTreeMap<String, SecretRef>,
    /// Limits in force.
    pub limits: Limits,
    /// Backends.
    pub services: Services,
}

impl InstanceContext {
    pub(crate) fn memory_cap_bytes(&self) -> usize {
        (self.limits.memory_mib as usize).saturating_mul(1 << 20)
    }

    pub(crate) fn record_http(&self, target: &str, allowed: bool, why: &str) {
        let detail = if why.is_empty() {
            target.to_string()
        } else {
            format!("{target}: {why}")
        };
        self.services.recorder.record(super::backends::CallEvent {
            tenant: &self.scope.tenant,
            instance: &self.scope.instance,
            call: "http.request",
            detail: &detail,
            allowed,
        });
    }
}

/// The typed exports of a live instance.
pub enum Bound {
    /// A connector.
    Connector(connector::Connector),
    /// A module.
    Module(module::Module),
    /// A notifier.
    Notifier(notifier::Notifier),
    /// A device driver.
    DeviceDriver(device_driver::DeviceDriver),
}

struct Live {
    store: Store<HostState>,
    bound: Bound,
}

/// Counters of one instance, for metrics and the admin view.
#[derive(Debug, Default)]
pub struct InstanceStats {
    /// Calls that completed (whatever their business result).
    pub calls: AtomicU64,
    /// Calls that trapped, hit a limit or timed out.
    pub faults: AtomicU64,
    /// Stores created (1 + the number of recoveries).
    pub instantiations: AtomicU64,
}

/// A plugin instance serving one tenant.
pub struct PluginInstance {
    ctx: Arc<InstanceContext>,
    plugin: Arc<LoadedPlugin>,
    tick: Duration,
    live: tokio::sync::Mutex<Option<Live>>,
    /// Counters.
    pub stats: InstanceStats,
}

impl PluginInstance {
    pub(crate) fn new(ctx: InstanceContext, plugin: Arc<LoadedPlugin>, tick: Duration) -> Self {
        PluginInstance {
            ctx: Arc::new(ctx),
            plugin,
            tick,
            live: tokio::sync::Mutex::new(None),
            stats: InstanceStats::default(),
        }
    }

    /// The instance's context.
    pub fn context(&self) -> &InstanceContext {
        &self.ctx
    }

    /// The plugin it runs.
    pub fn plugin(&self) -> &Arc<LoadedPlugin> {
        &self.plugin
    }

    async fn instantiate(&self) -> Result<Live, CallError> {
        let engine = self.plugin.component.engine();
        let state = HostState::new(self.ctx.clone())
            .map_err(|e| CallError::Instantiate(format!("{e:#}")))?;
        let mut store = Store::new(engine, state);
        store.limiter(|s| s);
        store.epoch_deadline_callback(|mut cx| {
            let data = cx.data_mut();
            if data.ticks_left == 0 {
                let ms = data.ctx.limits.call_deadline_ms;
                return Err(LimitHit::Deadline { ms }.into());
            }
            data.ticks_left -= 1;
            // Yield at every tick so a busy plugin shares the executor
            // thread with other tenants' calls instead of holding it.
            Ok(UpdateDeadline::Yield(1))
        });
        store.data_mut().ticks_left = u64::MAX;
        store.set_epoch_deadline(1);
        let bound = match &self.plugin.pre {
            Pre::Connector(p) => p.instantiate_async(&mut store).await.map(Bound::Connector),
            Pre::Module(p) => p.instantiate_async(&mut store).await.map(Bound::Module),
            Pre::Notifier(p) => p.instantiate_async(&mut store).await.map(Bound::Notifier),
            Pre::DeviceDriver(p) => p
                .instantiate_async(&mut store)
                .await
                .map(Bound::DeviceDriver),
        }
        .map_err(|e| CallError::Instantiate(format!("{e:#}")))?;
        self.stats.instantiations.fetch_add(1, Ordering::Relaxed);
        Ok(Live { store, bound })
    }

    /// Call an export under the instance's limits. `f` receives the typed
    /// exports and the store; business errors stay inside its `Ok`.
    pub async fn call<R>(
        &self,
        name: &str,
        f: impl AsyncFnOnce(&Bound, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        // The span wraps the whole call as a future (not an `enter` guard,
        // which would leak across awaits onto other tasks).
        let span = tracing::debug_span!("plugin_call", tenant = %self.ctx.scope.tenant, instance = %self.ctx.scope.instance, plugin = %self.ctx.plugin_id, call = name);
        self.call_inner(name, f).instrument(span).await
    }

    async fn call_inner<R>(
        &self,
        name: &str,
        f: impl AsyncFnOnce(&Bound, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let mut guard = self.live.lock().await;
        if guard.is_none() {
            *guard = Some(self.instantiate().await?);
        }
        let Some(live) = guard.as_mut() else {
            return Err(CallError::Instantiate("instance vanished".into()));
        };
        let limits = self.ctx.limits;
        let tick_ms = (self.tick.as_millis() as u64).max(1);
        live.store.data_mut().ticks_left = limits.call_deadline_ms.div_ceil(tick_ms);
        live.store.data_mut().memory_refused = None;
        live.store.set_epoch_deadline(1);
        let started = Instant::now();
        let outcome = tokio::time::timeout(
            Duration::from_millis(limits.call_timeout_ms),
            f(&live.bound, &mut live.store),
        )
        .await;
        let error = match outcome {
            Ok(Ok(value)) => {
                // Idle instances must not burn deadline ticks between calls.
                live.store.data_mut().ticks_left = u64::MAX;
                self.stats.calls.fetch_add(1, Ordering::Relaxed);
                return Ok(value);
            }
            Ok(Err(trap)) => self.classify(name, &trap, live.store.data().memory_refused),
            Err(_) => CallError::Timeout {
                call: name.into(),
                ms: limits.call_timeout_ms,
            },
        };
        // Poison: whatever the guest was doing is abandoned with its store.
        *guard = None;
        self.stats.faults.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            tenant = %self.ctx.scope.tenant,
            instance = %self.ctx.scope.instance,
            plugin = %self.ctx.plugin_id,
            call = name,
            code = error.code(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "plugin call failed; instance discarded: {error}"
        );
        Err(error)
    }

    fn classify(
        &self,
        call: &str,
        err: &wasmtime::Error,
        memory_refused: Option<usize>,
    ) -> CallError {
        let call = call.to_string();
        if let Some(limit) = err.downcast_ref::<LimitHit>() {
            return match limit {
                LimitHit::Deadline { ms } => CallError::Deadline { call, ms: *ms },
                LimitHit::Memory { .. } => CallError::Memory {
                    call,
                    cap_mib: self.ctx.limits.memory_mib,
                },
            };
        }
        if memory_refused.is_some() {
            return CallError::Memory {
                call,
                cap_mib: self.ctx.limits.memory_mib,
            };
        }
        match err.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::StackOverflow) => CallError::StackOverflow { call },
            Some(wasmtime::Trap::Interrupt) => CallError::Deadline {
                call,
                ms: self.ctx.limits.call_deadline_ms,
            },
            _ => CallError::Trap {
                call,
                message: trap_summary(err),
            },
        }
    }

    /// Health check: instantiate a fresh store and make the world's
    /// side-effect-free call (describe, or channels for notifiers) under
    /// this instance's limits. The store is kept if it passes.
    pub async fn probe(&self) -> Result<(), String> {
        let result = match self.plugin.manifest.kind {
            PluginKind::Connector => self.describe_connector().await.map(drop),
            PluginKind::Module => self.describe_module().await.map(drop),
            PluginKind::Notifier => self.channels().await.map(drop),
            PluginKind::DeviceDriver => self.describe_device().await.map(drop),
        };
        result.map_err(|e| e.to_string())
    }

    fn wrong_world(&self, call: &str) -> CallError {
        CallError::WrongWorld {
            call: call.into(),
            kind: self.plugin.manifest.kind,
        }
    }
}

/// The reason of a trap without its wasm backtrace, which for deep
/// recursion runs to thousands of lines: the last line carries the cause.
fn trap_summary(err: &wasmtime::Error) -> String {
    let full = format!("{err:#}");
    let last = full.lines().last().unwrap_or("").trim();
    let reason = last.split_once(": ").map_or(last, |(_, r)| r);
    reason.chars().take(500).collect()
}

/// Generate one typed method per export: it checks the plugin's world,
/// then calls through [`PluginInstance::call`].
macro_rules! exports {
    ($(
        $(#[$doc:meta])*
        fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty
            = $kind:ident / $variant:ident . $iface:ident . $call:ident ($($pass:expr),*);
    )*) => {
        impl PluginInstance {
            $(
                $(#[$doc])*
                pub async fn $name(&self, $($arg: $ty),*) -> Result<$ret, CallError> {
                    let export = stringify!($name).replace('_', "-");
                    if self.plugin.manifest.kind != PluginKind::$kind {
                        return Err(self.wrong_world(&export));
                    }
                    self.call(&export, async |b, store| match b {
                        Bound::$variant(w) => w.$iface().$call(store, $($pass),*).await,
                        _ => Err(anyhow::anyhow!("instance is not a {}", PluginKind::$kind)),
                    })
                    .await
                }
            )*
        }
    };
}

use super::bindings::connector::exports::hamgam::ledger::connector as ledger;
use super::bindings::device_driver::exports::hamgam::hardware::driver;
use super::bindings::module::exports::hamgam::module::module as modx;
use super::bindings::notifier::exports::hamgam::notify::notifier as notify;
use super::bindings::types::{Entity, EntityKind, Error, HttpRequest, HttpResponse, Money};

exports! {
    /// `connector.describe`.
    fn describe_connector() -> ledger::ConnectorInfo
        = Connector / Connector.hamgam_ledger_connector.call_describe();
    /// `connector.pull`: a page of changes after `cursor`.
    fn pull(kind: EntityKind, cursor: Option<String>, limit: u32) -> Result<ledger::ChangePage, Error>
        = Connector / Connector.hamgam_ledger_connector.call_pull(kind, cursor.as_deref(), limit);
    /// `connector.push`: create or update a record with an idempotency key.
    fn push(kind: EntityKind, item: Entity, remote_id: Option<String>, version: Option<String>, key: String) -> Result<ledger::PushOutcome, Error>
        = Connector / Connector.hamgam_ledger_connector.call_push(kind, &item, remote_id.as_deref(), version.as_deref(), &key);
    /// `connector.delete`.
    fn delete(kind: EntityKind, remote_id: String) -> Result<(), Error>
        = Connector / Connector.hamgam_ledger_connector.call_delete(kind, &remote_id);
    /// `connector.fetch`: one record, none when the ledger lost it.
    fn fetch(kind: EntityKind, remote_id: String) -> Result<Option<ledger::RemoteRecord>, Error>
        = Connector / Connector.hamgam_ledger_connector.call_fetch(kind, &remote_id);
    /// `connector.party-balance` (S7).
    fn party_balance(remote_id: String) -> Result<ledger::Balance, Error>
        = Connector / Connector.hamgam_ledger_connector.call_party_balance(&remote_id);
    /// `connector.product-stock` (S13).
    fn product_stock(remote_id: String) -> Result<Vec<ledger::StockLevel>, Error>
        = Connector / Connector.hamgam_ledger_connector.call_product_stock(&remote_id);
    /// `connector.accept-webhook`: the check made while the sender waits.
    fn accept_webhook(request: HttpRequest) -> Result<ledger::WebhookIntake, Error>
        = Connector / Connector.hamgam_ledger_connector.call_accept_webhook(&request);
    /// `connector.handle-webhook`: the changes a queued delivery carries.
    fn handle_webhook(request: HttpRequest) -> Result<Vec<ledger::WebhookChange>, Error>
        = Connector / Connector.hamgam_ledger_connector.call_handle_webhook(&request);
    /// `module.describe`.
    fn describe_module() -> modx::ModuleInfo
        = Module / Module.hamgam_module_module.call_describe();
    /// `module.on-event`.
    fn on_event(event: modx::Event) -> Result<(), Error>
        = Module / Module.hamgam_module_module.call_on_event(&event);
    /// `module.handle-request`.
    fn handle_request(request: HttpRequest) -> Result<HttpResponse, Error>
        = Module / Module.hamgam_module_module.call_handle_request(&request);
    /// `notifier.channels`.
    fn channels() -> Vec<notify::Channel>
        = Notifier / Notifier.hamgam_notify_notifier.call_channels();
    /// `notifier.send`.
    fn send(message: notify::Message) -> Result<notify::Delivery, Error>
        = Notifier / Notifier.hamgam_notify_notifier.call_send(&message);
    /// `notifier.handle-inbound`.
    fn handle_inbound(request: HttpRequest) -> Result<Vec<notify::Inbound>, Error>
        = Notifier / Notifier.hamgam_notify_notifier.call_handle_inbound(&request);
    /// `driver.describe`.
    fn describe_device() -> driver::DeviceKind
        = DeviceDriver / DeviceDriver.hamgam_hardware_driver.call_describe();
    /// `driver.read-weight` (H8).
    fn read_weight() -> Result<driver::Weight, Error>
        = DeviceDriver / DeviceDriver.hamgam_hardware_driver.call_read_weight();
    /// `driver.charge` (H8).
    fn charge(amount: Money) -> Result<driver::CardPayment, Error>
        = DeviceDriver / DeviceDriver.hamgam_hardware_driver.call_charge(&amount);
}
