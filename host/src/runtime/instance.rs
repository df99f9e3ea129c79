//! One plugin instance of one tenant: its context, its store, and the call
//! path that applies the limits.
//!
//! A store lives as long as the instance stays healthy. A trap, a limit hit
//! or a timeout drops it ("poisons" the instance): the next call builds a
//! fresh one from the plugin's `InstancePre`, which costs microseconds, and
//! nothing else — no other instance, no other tenant — notices.

use super::LoadedPlugin;
use super::backends::{CallRecorder, CrmStore, RecordScope, Scope, StateStore};
use super::error::{CallError, LimitHit};
use super::grants::Effective;
use super::host::HostState;
use super::sql::SqlHub;
use crate::config::{Limits, SecretRef};
use hamgam_trust::manifest::PluginKind;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;
use tracing::Instrument;
use wasmtime::component::TypedFunc;
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
    /// The CRM store: module records and events.
    pub crm: Arc<dyn CrmStore>,
    /// The CRM's parties, products and documents (`hamgam:crm/entities`).
    pub entities: Arc<dyn super::backends::EntityStore>,
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
            entities: Arc::new(super::entities_db::ScratchEntities::default()),
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
    /// The tenant's CRM settings, for the module's writes of CRM records
    /// (numbering templates, tax rates).
    pub crm: Arc<crate::crm::settings::CrmSettings>,
    /// The plugin's declared record types, compiled (`LoadedPlugin::records`).
    pub records: Arc<super::records::RecordSchemas>,
    /// A module's `describe`, checked, from its first call on (the host
    /// asks before any other call of the module): its routes, record
    /// types and subscriptions.
    pub declared: std::sync::OnceLock<super::declared::Declared>,
    /// Backends.
    pub services: Services,
}

impl InstanceContext {
    pub(crate) fn memory_cap_bytes(&self) -> usize {
        (self.limits.memory_mib as usize).saturating_mul(1 << 20)
    }

    /// Whose module records this instance reads and writes.
    pub fn record_scope(&self) -> RecordScope {
        RecordScope {
            tenant: self.scope.tenant.clone(),
            plugin: self.plugin_id.clone(),
            instance: self.scope.instance.clone(),
        }
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

struct Live {
    store: Store<HostState>,
    instance: wasmtime::component::Instance,
    exports: Exports,
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
    /// `call_deadline_ms` in epoch ticks, worked out once: the divisions
    /// cost more than the rest of a call's bookkeeping.
    ticks_per_call: u64,
    live: tokio::sync::Mutex<Option<Live>>,
    /// A second store of the same instance, only for `accept-webhook`: an
    /// acknowledgement must not wait behind a pull that holds `live` for a
    /// whole call (up to `call_timeout_ms`), or the sender gives up and
    /// WooCommerce disables the hook (issue 13 §9). Same tenant, same
    /// context and limits; a fault poisons only the store it happened in.
    intake: tokio::sync::Mutex<Option<Live>>,
    /// Counters.
    pub stats: InstanceStats,
}

impl PluginInstance {
    pub(crate) fn new(ctx: InstanceContext, plugin: Arc<LoadedPlugin>, tick: Duration) -> Self {
        let tick_ms = (tick.as_millis() as u64).max(1);
        PluginInstance {
            ticks_per_call: ctx.limits.call_deadline_ms.div_ceil(tick_ms),
            ctx: Arc::new(ctx),
            plugin,
            live: tokio::sync::Mutex::new(None),
            intake: tokio::sync::Mutex::new(None),
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

    /// The event names (patterns) a module subscribes to, from its
    /// `describe`. Empty for the other worlds.
    pub async fn subscriptions(&self) -> Result<&[String], CallError> {
        Ok(match self.declared().await? {
            Some(declared) => &declared.subscriptions,
            None => &[],
        })
    }

    /// A module's `describe`, checked (routes, record types,
    /// subscriptions): asked of the module once, then kept. `None` for the
    /// other worlds.
    ///
    /// # Errors
    /// The call failing, or an answer the host refuses
    /// ([`CallError::Describe`]: the health check fails with it).
    pub async fn declared(&self) -> Result<Option<&super::declared::Declared>, CallError> {
        if self.plugin.manifest.kind != PluginKind::Module {
            return Ok(None);
        }
        if let Some(known) = self.ctx.declared.get() {
            return Ok(Some(known));
        }
        let info = self.describe_module().await?;
        let routes: Vec<(String, String)> = info
            .routes
            .into_iter()
            .map(|r| (r.method, r.path))
            .collect();
        let declared = super::declared::Declared::new(
            &routes,
            &info.record_types,
            info.subscriptions,
            &self.ctx.records,
        )
        .map_err(|e| CallError::Describe(e.to_string()))?;
        Ok(Some(self.ctx.declared.get_or_init(|| declared)))
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
        // Only instantiate: each export is typechecked and bound the first
        // time this instance calls it (`Exports`). Checking all of a world's
        // exports here cost more than the rest of instantiation together.
        let instance = self
            .plugin
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| CallError::Instantiate(format!("{e:#}")))?;
        self.stats.instantiations.fetch_add(1, Ordering::Relaxed);
        Ok(Live {
            store,
            instance,
            exports: Exports::default(),
        })
    }

    /// Call an export under the instance's limits. `f` receives the live
    /// instance; business errors stay inside its `Ok`.
    async fn call<R>(
        &self,
        export: Export,
        name: &str,
        f: impl AsyncFnOnce(&mut Live) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        // A module's `describe` is known, and checked, before any other
        // call: the host's gates (routes, record types) read it.
        if self.plugin.manifest.kind == PluginKind::Module
            && !matches!(export, Export::describe_module)
            && self.ctx.declared.get().is_none()
        {
            Box::pin(self.declared()).await?;
        }
        let slot = self.slot(export);
        // The span wraps the whole call as a future (not an `enter` guard,
        // which would leak across awaits onto other tasks).
        let span = tracing::debug_span!("plugin_call", tenant = %self.ctx.scope.tenant, instance = %self.ctx.scope.instance, plugin = %self.ctx.plugin_id, call = name);
        // Without a subscriber that wants the span, entering and leaving it
        // at every poll is pure cost on the hot path.
        if span.is_disabled() {
            return self.call_inner(slot, name, f).await;
        }
        self.call_inner(slot, name, f).instrument(span).await
    }

    /// The store an export runs in (see `intake`).
    fn slot(&self, export: Export) -> &tokio::sync::Mutex<Option<Live>> {
        match export {
            Export::accept_webhook => &self.intake,
            _ => &self.live,
        }
    }

    async fn call_inner<R>(
        &self,
        slot: &tokio::sync::Mutex<Option<Live>>,
        name: &str,
        f: impl AsyncFnOnce(&mut Live) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        // Uncontended (the usual case) the lock is taken without building
        // the waiter a contended `lock()` needs.
        let mut guard = match slot.try_lock() {
            Ok(guard) => guard,
            Err(_) => slot.lock().await,
        };
        if guard.is_none() {
            *guard = Some(self.instantiate().await?);
        }
        let Some(live) = guard.as_mut() else {
            return Err(CallError::Instantiate("instance vanished".into()));
        };
        let limits = self.ctx.limits;
        live.store.data_mut().ticks_left = self.ticks_per_call;
        live.store.data_mut().memory_refused = None;
        live.store.set_epoch_deadline(1);
        let timeout = Duration::from_millis(limits.call_timeout_ms);
        let (outcome, waited_since) = with_timeout(timeout, f(live)).await;
        let error = match outcome {
            Some(Ok(value)) => {
                // Idle instances must not burn deadline ticks between calls.
                live.store.data_mut().ticks_left = u64::MAX;
                self.stats.calls.fetch_add(1, Ordering::Relaxed);
                return Ok(value);
            }
            Some(Err(trap)) => self.classify(name, &trap, live.store.data().memory_refused),
            None => CallError::Timeout {
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
            waited_ms = waited_since.map_or(0, |t| t.elapsed().as_millis() as u64),
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
        if let Some(mismatch) = err.downcast_ref::<ExportMismatch>() {
            // As when instantiation itself fails: the plugin, not the call.
            return CallError::Instantiate(mismatch.0.clone());
        }
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
        // A store whose exports do not match the world fails here, at the
        // health check, rather than at the first call of that export.
        self.bind_exports().await.map_err(|e| e.to_string())?;
        let result = match self.plugin.manifest.kind {
            PluginKind::Connector => self.describe_connector().await.map(drop),
            PluginKind::Module => {
                let declared = self.declared().await.map_err(|e| e.to_string())?;
                let record_types: Vec<String> = declared
                    .map(|d| d.record_types.iter().cloned().collect())
                    .unwrap_or_default();
                // Records stored before they had a per-instance scope
                // become this instance's copy, for the types its module
                // declares (migration 20261203000420).
                let scope = self.ctx.record_scope();
                let copied = self
                    .ctx
                    .services
                    .crm
                    .adopt_unscoped(&scope, &record_types)
                    .await
                    .map_err(|e| format!("adopting unscoped module records: {e}"))?;
                if copied > 0 {
                    tracing::info!(tenant = %scope.tenant, instance = %scope.instance, plugin = %scope.plugin, copied, "module records from before per-instance scope adopted");
                }
                return self.migrate_records().await;
            }
            PluginKind::Notifier => self.channels().await.map(drop),
            PluginKind::DeviceDriver => self.describe_device().await.map(drop),
        };
        result.map_err(|e| e.to_string())
    }

    /// Bring the instance's stored records up to their types' current
    /// schema versions (issue 15 §3): each record written under an older
    /// version goes through the module's `migrate-record` (or stays as it
    /// is where the module has none) and must meet the current schema.
    /// All of a batch are checked before any is written, so a record that
    /// cannot be migrated fails the health check and leaves the batch as
    /// it was: the registry then keeps the older plugin version.
    async fn migrate_records(&self) -> Result<(), String> {
        const BATCH: u32 = 10_000;
        let scope = self.ctx.record_scope();
        let crm = &self.ctx.services.crm;
        for (name, schema) in self.ctx.records.iter() {
            loop {
                let stale = crm
                    .records_below_version(&scope, name, schema.version, BATCH)
                    .await
                    .map_err(|e| format!("reading `{name}` records to migrate: {e}"))?;
                if stale.is_empty() {
                    break;
                }
                let mut migrated = Vec::with_capacity(stale.len());
                for (record, from) in &stale {
                    let body = match self
                        .migrate_record(name.clone(), *from, record.body.clone())
                        .await
                    {
                        Ok(Ok(body)) => body,
                        Ok(Err(super::bindings::types::Error::Unsupported(_)))
                        | Err(CallError::NotExported { .. }) => record.body.clone(),
                        Ok(Err(e)) => {
                            return Err(format!(
                                "record `{name}/{}` (schema version {from}) was not migrated to version {}: {}",
                                record.id,
                                schema.version,
                                super::error::render(&e)
                            ));
                        }
                        Err(e) => return Err(e.to_string()),
                    };
                    let value: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
                        format!(
                            "record `{name}/{}`: the migrated body is not JSON: {e}",
                            record.id
                        )
                    })?;
                    schema.check(&value).map_err(|b| {
                        format!(
                            "record `{name}/{}` (schema version {from}) does not meet version {}: {}: {}",
                            record.id, schema.version, b.field, b.message
                        )
                    })?;
                    let meta = super::backends::RecordMeta {
                        schema_version: schema.version,
                        index: schema.index_of(&value),
                    };
                    migrated.push((record.clone(), body, meta));
                }
                let count = migrated.len();
                for (mut record, body, meta) in migrated {
                    record.body = body;
                    crm.put_record(&scope, record, meta)
                        .await
                        .map_err(|e| format!("writing a migrated `{name}` record: {e}"))?;
                }
                tracing::info!(tenant = %scope.tenant, instance = %scope.instance, record_type = %name, count, version = schema.version, "module records migrated");
            }
        }
        Ok(())
    }

    /// Instantiate if needed and bind every export of the world; a
    /// mismatch discards the store like a failed instantiation.
    async fn bind_exports(&self) -> Result<(), CallError> {
        let mut guard = self.live.lock().await;
        if guard.is_none() {
            *guard = Some(self.instantiate().await?);
        }
        if let Some(live) = guard.as_mut()
            && let Err(e) = live
                .exports
                .bind_all(&self.plugin, &live.instance, &mut live.store)
        {
            *guard = None;
            return Err(CallError::Instantiate(format!("{e:#}")));
        }
        Ok(())
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

/// `tokio::time::timeout` that reads the clock and arms its timer only
/// when the call first has to wait. Most calls finish in their first poll,
/// so they never touch the clock or the timer wheel. A call that waits is
/// timed from its first wait; its first poll ran at most one epoch tick of
/// wasm (wasm yields at every tick) plus synchronous imports, so the
/// timeout is late by about a tick at worst. Returns the output, or `None`
/// when the timeout passed first, and when the call first waited.
async fn with_timeout<F: Future>(
    timeout: Duration,
    fut: F,
) -> (Option<F::Output>, Option<tokio::time::Instant>) {
    let mut fut = std::pin::pin!(fut);
    let mut sleep = std::pin::pin!(None::<tokio::time::Sleep>);
    let mut waited_since = None;
    let outcome = std::future::poll_fn(|cx| {
        if let Poll::Ready(value) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(value));
        }
        if sleep.is_none() {
            let now = tokio::time::Instant::now();
            waited_since = Some(now);
            sleep.set(Some(tokio::time::sleep_until(deadline_after(now, timeout))));
        }
        match sleep.as_mut().as_pin_mut().map(|s| s.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(None),
            _ => Poll::Pending,
        }
    })
    .await;
    (outcome, waited_since)
}

/// `start + timeout`, or a deadline decades away if that overflows (as
/// `tokio::time::timeout` does for huge timeouts).
fn deadline_after(start: tokio::time::Instant, timeout: Duration) -> tokio::time::Instant {
    start
        .checked_add(timeout)
        .unwrap_or_else(|| start + Duration::from_secs(30 * 365 * 86_400))
}

/// Generate one typed method per export, the table of exports
/// ([`EXPORTS`]) and the per-instance cache of bound exports ([`Exports`]).
macro_rules! exports {
    ($(
        $(#[$doc:meta])*
        fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty
            = $kind:ident $label:literal: $($optional:ident)? $iface:literal / $func:literal;
    )*) => {
        /// Positions in [`EXPORTS`] and `LoadedPlugin::exports`.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy)]
        enum Export { $($name,)* }

        /// Every export the host calls: the world it belongs to, the
        /// interface that exports it and its name there.
        pub(crate) const EXPORTS: &[ExportName] = &[
            $(ExportName {
                kind: PluginKind::$kind,
                interface: $iface,
                func: $func,
                optional: optional!($($optional)?),
            },)*
        ];

        /// One live instance's exports, each typechecked against the
        /// host's bindings and kept the first time it is called.
        #[derive(Default)]
        pub(crate) struct Exports {
            $($name: Option<TypedFunc<($($ty,)*), ($ret,)>>,)*
        }

        impl Exports {
            /// Bind every export of the plugin's world.
            fn bind_all(
                &mut self,
                plugin: &LoadedPlugin,
                instance: &wasmtime::component::Instance,
                store: &mut Store<HostState>,
            ) -> wasmtime::Result<()> {
                $(
                    // An optional export the component lacks stays unbound;
                    // calling it answers `unsupported` (see `bind`).
                    if plugin.manifest.kind == PluginKind::$kind
                        && self.$name.is_none()
                        && plugin.exports[Export::$name as usize].is_some()
                    {
                        self.$name = Some(bind(plugin, Export::$name, instance, store)?);
                    }
                )*
                Ok(())
            }
        }

        impl PluginInstance {
            $(
                $(#[$doc])*
                pub async fn $name(&self, $($arg: $ty),*) -> Result<$ret, CallError> {
                    if self.plugin.manifest.kind != PluginKind::$kind {
                        return Err(self.wrong_world($label));
                    }
                    if self.plugin.exports[Export::$name as usize].is_none() {
                        return Err(CallError::NotExported {
                            call: $label.into(),
                            interface: $iface.into(),
                        });
                    }
                    let plugin = &self.plugin;
                    self.call(Export::$name, $label, async |live| {
                        let func = match live.exports.$name {
                            Some(func) => func,
                            None => {
                                let func = bind(plugin, Export::$name, &live.instance, &mut live.store)?;
                                *live.exports.$name.insert(func)
                            }
                        };
                        let (ret,) = func.call_async(&mut live.store, ($($arg,)*)).await?;
                        func.post_return_async(&mut live.store).await?;
                        Ok(ret)
                    })
                    .await
                }
            )*
        }
    };
}

/// `optional` in an [`exports!`] line, as a bool.
macro_rules! optional {
    () => {
        false
    };
    (optional) => {
        true
    };
}
/// An export the host calls, by name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExportName {
    /// The world it belongs to.
    pub kind: PluginKind,
    /// The exported interface, as the bindings name it.
    pub interface: &'static str,
    /// The function within it.
    pub func: &'static str,
    /// Added to the world after its first release: a component built
    /// before lacks it and still loads.
    pub optional: bool,
}

/// Look up one export of a live instance and check its type against the
/// host's bindings.
fn bind<P, R>(
    plugin: &LoadedPlugin,
    export: Export,
    instance: &wasmtime::component::Instance,
    store: &mut Store<HostState>,
) -> wasmtime::Result<TypedFunc<P, R>>
where
    P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
    R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
{
    let name = &EXPORTS[export as usize];
    let index = plugin.exports[export as usize].ok_or_else(|| {
        ExportMismatch(format!("no export `{}` in `{}`", name.func, name.interface))
    })?;
    instance
        .get_typed_func::<P, R>(&mut *store, index)
        .map_err(|e| {
            ExportMismatch(format!(
                "export `{}` in `{}`: {e:#}",
                name.func, name.interface
            ))
            .into()
        })
}

/// An export whose type does not match the host's bindings.
#[derive(Debug)]
struct ExportMismatch(String);

impl std::fmt::Display for ExportMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExportMismatch {}

use super::bindings::connector::exports::hamgam::ledger0_1_0::connector as ledger;
use super::bindings::connector::exports::hamgam::ledger0_1_1::history;
use super::bindings::device_driver::exports::hamgam::hardware::driver;
use super::bindings::module::exports::hamgam::module0_1_0::module as modx;
use super::bindings::notifier::exports::hamgam::notify::notifier as notify;
use super::bindings::types::{Date, Entity, EntityKind, Error, HttpRequest, HttpResponse, Money};

exports! {
    /// `connector.describe`.
    fn describe_connector() -> ledger::ConnectorInfo
        = Connector "describe-connector": "hamgam:ledger/connector@0.1.0" / "describe";
    /// `connector.pull`: a page of changes after `cursor`.
    fn pull(kind: EntityKind, cursor: Option<String>, limit: u32) -> Result<ledger::ChangePage, Error>
        = Connector "pull": "hamgam:ledger/connector@0.1.0" / "pull";
    /// `connector.push`: create or update a record with an idempotency key.
    fn push(kind: EntityKind, item: Entity, remote_id: Option<String>, version: Option<String>, key: String) -> Result<ledger::PushOutcome, Error>
        = Connector "push": "hamgam:ledger/connector@0.1.0" / "push";
    /// `connector.delete`.
    fn delete(kind: EntityKind, remote_id: String) -> Result<(), Error>
        = Connector "delete": "hamgam:ledger/connector@0.1.0" / "delete";
    /// `connector.fetch`: one record, none when the ledger lost it.
    fn fetch(kind: EntityKind, remote_id: String) -> Result<Option<ledger::RemoteRecord>, Error>
        = Connector "fetch": "hamgam:ledger/connector@0.1.0" / "fetch";
    /// `connector.party-balance` (S7).
    fn party_balance(remote_id: String) -> Result<ledger::Balance, Error>
        = Connector "party-balance": "hamgam:ledger/connector@0.1.0" / "party-balance";
    /// `connector.product-stock` (S13).
    fn product_stock(remote_id: String) -> Result<Vec<ledger::StockLevel>, Error>
        = Connector "product-stock": "hamgam:ledger/connector@0.1.0" / "product-stock";
    /// `connector.accept-webhook`: the check made while the sender waits.
    fn accept_webhook(request: HttpRequest) -> Result<ledger::WebhookIntake, Error>
        = Connector "accept-webhook": "hamgam:ledger/connector@0.1.0" / "accept-webhook";
    /// `connector.handle-webhook`: the changes a queued delivery carries.
    fn handle_webhook(request: HttpRequest) -> Result<Vec<ledger::WebhookChange>, Error>
        = Connector "handle-webhook": "hamgam:ledger/connector@0.1.0" / "handle-webhook";
    /// `history.count-period` (0.1.1): records of a kind in a period.
    fn count_period(kind: EntityKind, from: Date, to: Date) -> Result<Option<u64>, Error>
        = Connector "count-period": optional "hamgam:ledger/history@0.1.1" / "count-period";
    /// `history.pull-period` (0.1.1): a page of a past period's records.
    fn pull_period(kind: EntityKind, from: Date, to: Date, cursor: Option<String>, limit: u32) -> Result<history::HistoryPage, Error>
        = Connector "pull-period": optional "hamgam:ledger/history@0.1.1" / "pull-period";
    /// `module.describe`.
    fn describe_module() -> modx::ModuleInfo
        = Module "describe-module": "hamgam:module/module@0.1.0" / "describe";
    /// `module.on-event`.
    fn on_event(event: modx::Event) -> Result<(), Error>
        = Module "on-event": "hamgam:module/module@0.1.0" / "on-event";
    /// `migrate.migrate-record` (0.1.1): a stored record of an older schema
    /// version as the current one wants it.
    fn migrate_record(record_type: String, from_version: u32, body: String) -> Result<String, Error>
        = Module "migrate-record": optional "hamgam:module/migrate@0.1.1" / "migrate-record";
    /// `module.handle-request`.
    fn handle_request(request: HttpRequest) -> Result<HttpResponse, Error>
        = Module "handle-request": "hamgam:module/module@0.1.0" / "handle-request";
    /// `notifier.channels`.
    fn channels() -> Vec<notify::Channel>
        = Notifier "channels": "hamgam:notify/notifier@0.1.0" / "channels";
    /// `notifier.send`.
    fn send(message: notify::Message) -> Result<notify::Delivery, Error>
        = Notifier "send": "hamgam:notify/notifier@0.1.0" / "send";
    /// `notifier.handle-inbound`.
    fn handle_inbound(request: HttpRequest) -> Result<Vec<notify::Inbound>, Error>
        = Notifier "handle-inbound": "hamgam:notify/notifier@0.1.0" / "handle-inbound";
    /// `driver.describe`.
    fn describe_device() -> driver::DeviceKind
        = DeviceDriver "describe-device": "hamgam:hardware/driver@0.1.0" / "describe";
    /// `driver.read-weight` (H8).
    fn read_weight() -> Result<driver::Weight, Error>
        = DeviceDriver "read-weight": "hamgam:hardware/driver@0.1.0" / "read-weight";
    /// `driver.charge` (H8).
    fn charge(amount: Money) -> Result<driver::CardPayment, Error>
        = DeviceDriver "charge": "hamgam:hardware/driver@0.1.0" / "charge";
}
