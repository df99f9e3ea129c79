//! The sync engine (issue #4): moves records between the CRM and every
//! ledger connector instance, the same way for every ledger.
//!
//! * **Ledger → CRM** ([`inbound`]): pull a page of changes per entity
//!   kind, in dependency order (parties and products before documents),
//!   and apply the page, its links and its cursor in ONE transaction. A
//!   crash between pages repeats at most one page, which applies as a
//!   no-op (links carry a content hash).
//! * **CRM → ledger** ([`outbound`]): every CRM change already wrote an
//!   outbox row in its own transaction. The engine routes each row to the
//!   instance whose company code the record carries (S17), applies the
//!   origin rules (S8, S11–S16), and pushes it with an idempotency key
//!   derived from the row, so a retry after a crash never creates a second
//!   record. Transient failures back off with jitter; after
//!   `max_attempts`, or at once for a permanent failure, the row is parked
//!   as `failed` with the ledger's message until someone retries it (F2).
//! * **Echo suppression is structural**: a change the engine applied on
//!   behalf of instance `I` carries the origin tag `connector:I` and is
//!   never sent back to `I`. No time windows.

pub mod guard;
pub mod history;
pub mod inbound;
pub mod lookup;
pub mod map;
pub mod metrics;
pub mod outbound;
pub mod policy;
pub mod schedule;
pub mod version;
pub mod webhook;

use crate::config::SyncSettings;
use crate::crm::kinds::{CompanyCode, EntityKind};
use crate::crm::{Actor, Outbox};
use crate::plugins::manifest::PluginKind;
use crate::runtime::bindings::connector::exports::hamgam::ledger0_1_0::connector as ledger;
use crate::runtime::bindings::connector::exports::hamgam::ledger0_1_1::history as period;
use crate::runtime::bindings::types as wit;
use crate::runtime::error::CallError;
use crate::runtime::instance::PluginInstance;
use crate::state::SharedState;
use crate::store::Db;
use crate::store::error::StoreError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why a sync run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No running connector instance by that name.
    #[error("tenant {tenant} has no running connector instance {instance}")]
    NoInstance {
        /// Tenant.
        tenant: String,
        /// Instance.
        instance: String,
    },
    /// The plugin trapped, timed out or broke a limit.
    #[error("connector {instance}: {source}")]
    Call {
        /// Instance.
        instance: String,
        /// What happened.
        #[source]
        source: CallError,
    },
    /// The connector answered with an error.
    #[error("connector {instance}: {message}")]
    Connector {
        /// Instance.
        instance: String,
        /// The connector's error, rendered.
        message: String,
        /// Whether a later attempt may succeed.
        transient: bool,
    },
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Db(e) => SyncError::Db(e),
            other => SyncError::Db(sqlx::Error::Protocol(other.to_string())),
        }
    }
}

/// What one run did, per direction.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RunReport {
    /// Ledger records received.
    pub pulled: usize,
    /// Created or updated in the CRM.
    pub applied: usize,
    /// Received but unchanged since the last pull.
    pub unchanged: usize,
    /// Received, but an edit of a CRM-origin record (S8, S11): not applied.
    pub ignored: usize,
    /// Received, but older than the version already applied (a late
    /// webhook, an overlapping page): not applied, nothing rolled back.
    pub stale: usize,
    /// Could not be applied (see the failed links).
    pub refused: usize,
    /// Deleted in the CRM because the ledger deleted them.
    pub deleted: usize,
    /// CRM changes delivered to the ledger.
    pub delivered: usize,
    /// CRM changes that do not travel (with the rule that says so).
    pub skipped: usize,
    /// CRM changes that will be tried again later.
    pub retrying: usize,
    /// CRM changes parked as failed.
    pub failed: usize,
    /// Errors that stopped part of the run.
    pub errors: Vec<String>,
}

impl RunReport {
    /// Add another run's counts to these.
    pub fn merge(&mut self, other: RunReport) {
        self.pulled += other.pulled;
        self.applied += other.applied;
        self.unchanged += other.unchanged;
        self.ignored += other.ignored;
        self.stale += other.stale;
        self.refused += other.refused;
        self.deleted += other.deleted;
        self.delivered += other.delivered;
        self.skipped += other.skipped;
        self.retrying += other.retrying;
        self.failed += other.failed;
        self.errors.extend(other.errors);
    }
}

/// Held while one (tenant, instance) runs.
type RunLock = Arc<tokio::sync::Mutex<()>>;

/// The sync engine of one host process.
pub struct SyncEngine {
    state: SharedState,
    /// The scheduler's trigger, once it runs.
    trigger: std::sync::OnceLock<schedule::Trigger>,
    /// One run at a time per (tenant, instance).
    running: Mutex<HashMap<(String, String), RunLock>>,
    installation: tokio::sync::OnceCell<String>,
    lookups: lookup::LookupCache,
    webhooks: webhook::Wake,
    /// Wakes the one-shot import worker when a job starts.
    history_wake: std::sync::OnceLock<Arc<tokio::sync::Notify>>,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine").finish_non_exhaustive()
    }
}

/// What the engine needs from a connector: the wasm plugin instance in
/// production; the benchmarks also plug in the same mapping compiled
/// natively, to price the sandbox.
#[async_trait::async_trait]
pub trait Ledger: Send + Sync {
    /// `connector.describe`.
    async fn describe(&self) -> Result<ledger::ConnectorInfo, CallError>;
    /// `connector.pull`.
    async fn pull(
        &self,
        kind: wit::EntityKind,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Result<ledger::ChangePage, wit::Error>, CallError>;
    /// `connector.fetch`.
    async fn fetch(
        &self,
        kind: wit::EntityKind,
        remote_id: String,
    ) -> Result<Result<Option<ledger::RemoteRecord>, wit::Error>, CallError>;
    /// `connector.push`.
    async fn push(
        &self,
        kind: wit::EntityKind,
        item: wit::Entity,
        remote_id: Option<String>,
        version: Option<String>,
        key: String,
    ) -> Result<Result<ledger::PushOutcome, wit::Error>, CallError>;
    /// `history.count-period`. A ledger without one-shot reads of a
    /// period says so.
    async fn count_period(
        &self,
        kind: wit::EntityKind,
        from: wit::Date,
        to: wit::Date,
    ) -> Result<Result<Option<u64>, wit::Error>, CallError> {
        let _ = (kind, from, to);
        Ok(Err(wit::Error::Unsupported(
            "this connector reads no past periods".into(),
        )))
    }
    /// `history.pull-period`.
    async fn pull_period(
        &self,
        kind: wit::EntityKind,
        from: wit::Date,
        to: wit::Date,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Result<period::HistoryPage, wit::Error>, CallError> {
        let _ = (kind, from, to, cursor, limit);
        Ok(Err(wit::Error::Unsupported(
            "this connector reads no past periods".into(),
        )))
    }
}

#[async_trait::async_trait]
impl Ledger for PluginInstance {
    async fn describe(&self) -> Result<ledger::ConnectorInfo, CallError> {
        self.describe_connector().await
    }

    async fn pull(
        &self,
        kind: wit::EntityKind,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Result<ledger::ChangePage, wit::Error>, CallError> {
        PluginInstance::pull(self, kind, cursor, limit).await
    }

    async fn fetch(
        &self,
        kind: wit::EntityKind,
        remote_id: String,
    ) -> Result<Result<Option<ledger::RemoteRecord>, wit::Error>, CallError> {
        PluginInstance::fetch(self, kind, remote_id).await
    }

    async fn push(
        &self,
        kind: wit::EntityKind,
        item: wit::Entity,
        remote_id: Option<String>,
        version: Option<String>,
        key: String,
    ) -> Result<Result<ledger::PushOutcome, wit::Error>, CallError> {
        PluginInstance::push(self, kind, item, remote_id, version, key).await
    }

    async fn count_period(
        &self,
        kind: wit::EntityKind,
        from: wit::Date,
        to: wit::Date,
    ) -> Result<Result<Option<u64>, wit::Error>, CallError> {
        PluginInstance::count_period(self, kind, from, to).await
    }

    async fn pull_period(
        &self,
        kind: wit::EntityKind,
        from: wit::Date,
        to: wit::Date,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Result<period::HistoryPage, wit::Error>, CallError> {
        PluginInstance::pull_period(self, kind, from, to, cursor, limit).await
    }
}

/// Everything a run of one instance needs.
pub(crate) struct Ctx<'a> {
    pub db: &'a Db,
    pub tenant: &'a str,
    pub instance: &'a str,
    pub plugin: &'a dyn Ledger,
    pub company: Option<CompanyCode>,
    /// Books or a sales channel: decides whether its products may
    /// overwrite the CRM's (they may not from a channel).
    pub role: ledger::ConnectorRole,
    pub settings: SyncSettings,
    /// Which of the changes it brings get an outbox row (see [`onward`]).
    pub onward: Outbox,
}

/// Which changes a connector brings may travel on to another ledger, as
/// [`outbound`]'s routing rules say (H10): a shop's customers and invoices
/// go on to the books; the books' products go on to a shop, when the
/// tenant has one (`tenant_has_channel`, asked only for a books
/// connector). Nothing goes back to where it came from (invariant 15), so
/// every other change gets its audit row and no outbox row.
pub(crate) async fn onward(
    role: ledger::ConnectorRole,
    tenant_has_channel: impl std::future::Future<Output = bool>,
) -> Outbox {
    match role {
        ledger::ConnectorRole::SalesChannel => {
            Outbox::Onward(&[EntityKind::Party, EntityKind::SalesInvoice])
        }
        ledger::ConnectorRole::Books if tenant_has_channel.await => {
            Outbox::Onward(&[EntityKind::Product])
        }
        ledger::ConnectorRole::Books => Outbox::Onward(&[]),
    }
}

impl Ctx<'_> {
    /// The actor of the changes this run applies.
    pub(crate) fn actor(&self) -> Actor {
        Actor::connector(self.tenant, self.instance).with_outbox(self.onward)
    }

    pub(crate) fn call_error(&self, source: CallError) -> SyncError {
        SyncError::Call {
            instance: self.instance.to_owned(),
            source,
        }
    }

    pub(crate) fn connector_error(&self, e: wit::Error) -> SyncError {
        SyncError::Connector {
            instance: self.instance.to_owned(),
            transient: is_transient(&e),
            message: render(&e),
        }
    }
}

/// Whether a later attempt may succeed without anyone changing anything:
/// the ledger is down, or our session or its version check failed (an
/// operator fixes those for all records at once, then they go through).
pub fn is_transient(e: &wit::Error) -> bool {
    matches!(
        e,
        wit::Error::Unavailable(_) | wit::Error::Unauthorized(_) | wit::Error::VersionMismatch(_)
    )
}

pub use crate::runtime::error::render;

/// RFC 3339 UTC now, as the stores keep time.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl SyncEngine {
    /// Pull one kind from `ledger` into the tenant until the ledger has no
    /// more pages, as instance `instance` with its settings: the import
    /// path of a run, for a connector not in the registry (benchmarks).
    pub async fn import_kind(
        &self,
        tenant: &str,
        instance: &str,
        ledger: &dyn Ledger,
        kind: wit::EntityKind,
        company: u16,
    ) -> Result<RunReport, SyncError> {
        let snapshot = self.state.snapshot();
        let settings = snapshot
            .sync
            .get(&(tenant.to_owned(), instance.to_owned()))
            .cloned()
            .unwrap_or_default();
        let ctx = Ctx {
            db: self.state.db(),
            tenant,
            instance,
            plugin: ledger,
            company: Some(CompanyCode(company)),
            role: ledger::ConnectorRole::Books,
            settings: SyncSettings {
                max_pages_per_run: u32::MAX,
                ..settings
            },
            onward: onward(ledger::ConnectorRole::Books, self.has_channel(tenant)).await,
        };
        let mut report = RunReport::default();
        inbound::pull_kind(&ctx, kind, CompanyCode(company), &mut report).await?;
        Ok(report)
    }

    /// An engine over the host's state (registry snapshot and database).
    pub fn new(state: SharedState) -> Arc<SyncEngine> {
        metrics::install();
        Arc::new(SyncEngine {
            state,
            trigger: std::sync::OnceLock::new(),
            running: Mutex::new(HashMap::new()),
            installation: tokio::sync::OnceCell::new(),
            lookups: lookup::LookupCache::default(),
            webhooks: webhook::Wake::default(),
            history_wake: std::sync::OnceLock::new(),
        })
    }

    /// The host's shared state.
    pub fn state(&self) -> &SharedState {
        &self.state
    }

    /// The scheduler's trigger, when the scheduler runs.
    pub fn trigger(&self) -> Option<&schedule::Trigger> {
        self.trigger.get()
    }

    fn lock_of(&self, tenant: &str, instance: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.running.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((tenant.to_owned(), instance.to_owned()))
            .or_default()
            .clone()
    }

    async fn installation(&self) -> Result<&str, SyncError> {
        let id = self
            .installation
            .get_or_try_init(|| crate::store::sync::installation_id(self.state.db()))
            .await?;
        Ok(id)
    }

    /// The running connector instances of a tenant with their company codes.
    pub async fn connectors(
        &self,
        tenant: &str,
    ) -> Vec<(String, Arc<PluginInstance>, Option<ledger::ConnectorInfo>)> {
        let snapshot = self.state.snapshot();
        let mut out = Vec::new();
        for (name, inst) in snapshot.registry.tenant(tenant) {
            if inst.plugin().manifest.kind != PluginKind::Connector {
                continue;
            }
            let info = inst.describe_connector().await.ok();
            out.push((name.clone(), inst.clone(), info));
        }
        out
    }

    /// Whether the tenant runs a sales-channel connector (a shop).
    pub(crate) async fn has_channel(&self, tenant: &str) -> bool {
        self.connectors(tenant).await.iter().any(|(_, _, info)| {
            info.as_ref()
                .is_some_and(|i| i.role == ledger::ConnectorRole::SalesChannel)
        })
    }

    /// One sync run of one connector instance: pull every kind it offers
    /// (ledger → CRM), then deliver the CRM changes routed to it. Runs of
    /// the same instance queue behind each other.
    pub async fn run_once(&self, tenant: &str, instance: &str) -> Result<RunReport, SyncError> {
        use tracing::Instrument;
        let span = tracing::info_span!("sync_job", tenant, instance, job = "run");
        let result = self.run_locked(tenant, instance).instrument(span).await;
        metrics::record_run(tenant, instance, result.as_ref().ok());
        if let Err(e) = metrics::record_backlog(self.state.db(), tenant, instance).await {
            tracing::warn!(tenant, instance, "sync backlog not measured: {e}");
        }
        result
    }

    async fn run_locked(&self, tenant: &str, instance: &str) -> Result<RunReport, SyncError> {
        let lock = self.lock_of(tenant, instance);
        let _one_at_a_time = lock.lock().await;
        let snapshot = self.state.snapshot();
        let no_instance = || SyncError::NoInstance {
            tenant: tenant.to_owned(),
            instance: instance.to_owned(),
        };
        let plugin = snapshot
            .registry
            .get(tenant, instance)
            .ok_or_else(no_instance)?
            .clone();
        if plugin.plugin().manifest.kind != PluginKind::Connector {
            return Err(no_instance());
        }
        let settings = snapshot
            .sync
            .get(&(tenant.to_owned(), instance.to_owned()))
            .cloned()
            .unwrap_or_default();
        let info = Ledger::describe(plugin.as_ref())
            .await
            .map_err(|source| SyncError::Call {
                instance: instance.to_owned(),
                source,
            })?;
        let company = info.company_code.as_deref().and_then(CompanyCode::parse);
        let ctx = Ctx {
            db: self.state.db(),
            tenant,
            instance,
            plugin: plugin.as_ref(),
            company,
            role: info.role,
            settings,
            onward: onward(info.role, self.has_channel(tenant)).await,
        };
        let mut report = RunReport::default();
        inbound::pull_all(&ctx, &info, &mut report).await?;
        let installation = self.installation().await?.to_owned();
        outbound::route(self, tenant, &installation, &mut report).await?;
        outbound::deliver(&ctx, &installation, &mut report).await?;
        Ok(report)
    }
}
