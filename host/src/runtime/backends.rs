//! What the host's imports reach: the stores behind `state`, the CRM store
//! behind `hamgam:crm/store`, and the recorder every host call reports to.
//!
//! They are traits so that the same runtime serves production (SQL-backed)
//! and the SDK's test harness (in memory, recording every call).

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Where a plugin instance's key-value state lives. Every method takes the
/// scope explicitly; the runtime passes the calling instance's own, so a
/// plugin cannot name another tenant's keys.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Value under `key` in `scope`.
    async fn get(&self, scope: &Scope, key: &str) -> anyhow::Result<Option<Vec<u8>>>;
    /// Store `value` under `key` in `scope`.
    async fn set(&self, scope: &Scope, key: &str, value: &[u8]) -> anyhow::Result<()>;
    /// Remove `key` from `scope`.
    async fn delete(&self, scope: &Scope, key: &str) -> anyhow::Result<()>;
}

/// Whose state: one plugin instance of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    /// Tenant id.
    pub tenant: String,
    /// Instance name within the tenant.
    pub instance: String,
}

/// State kept in memory (tests, the SDK harness).
#[derive(Debug, Default)]
pub struct MemoryState {
    map: Mutex<BTreeMap<(Scope, String), Vec<u8>>>,
}

#[async_trait]
impl StateStore for MemoryState {
    async fn get(&self, scope: &Scope, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(lock(&self.map)
            .get(&(scope.clone(), key.to_string()))
            .cloned())
    }
    async fn set(&self, scope: &Scope, key: &str, value: &[u8]) -> anyhow::Result<()> {
        lock(&self.map).insert((scope.clone(), key.to_string()), value.to_vec());
        Ok(())
    }
    async fn delete(&self, scope: &Scope, key: &str) -> anyhow::Result<()> {
        lock(&self.map).remove(&(scope.clone(), key.to_string()));
        Ok(())
    }
}

/// A record a module keeps in the CRM store (`hamgam:crm/store`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRecord {
    /// The module-defined type.
    pub record_type: String,
    /// Its id.
    pub id: String,
    /// JSON body.
    pub body: String,
}

/// What the host adds to a record it writes: the schema version it was
/// checked against (0: untyped) and its indexed fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordMeta {
    /// Schema version.
    pub schema_version: u32,
    /// (field, value) pairs of the indexed fields.
    pub index: Vec<(String, String)>,
}

/// Whose module records: one plugin's instance in one tenant. The plugin
/// is part of it so that pointing an instance name at another plugin does
/// not hand that plugin the first one's records.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordScope {
    /// Tenant id.
    pub tenant: String,
    /// Plugin id.
    pub plugin: String,
    /// Instance name within the tenant.
    pub instance: String,
}

/// The CRM store as modules see it. Records are scoped per plugin
/// instance ([`RecordScope`]); the runtime passes the caller's own scope,
/// so a module cannot name another module's or another instance's
/// records. Events stay per tenant: they are how modules talk.
#[async_trait]
pub trait CrmStore: Send + Sync {
    /// One module record.
    async fn get_record(
        &self,
        scope: &RecordScope,
        record_type: &str,
        id: &str,
    ) -> anyhow::Result<Option<ModuleRecord>>;
    /// Insert or replace a module record (checked by the caller against
    /// its type), with its index, audit row and event.
    async fn put_record(
        &self,
        scope: &RecordScope,
        record: ModuleRecord,
        meta: RecordMeta,
    ) -> anyhow::Result<()>;
    /// Records of a type whose indexed fields equal every filter, after id
    /// `after`, ordered by id.
    async fn query_records(
        &self,
        scope: &RecordScope,
        record_type: &str,
        filters: &[(String, String)],
        after: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<ModuleRecord>>;
    /// Records of a type written under a schema version below `version`,
    /// with the version each was written under.
    async fn records_below_version(
        &self,
        scope: &RecordScope,
        record_type: &str,
        version: u32,
        limit: u32,
    ) -> anyhow::Result<Vec<(ModuleRecord, u32)>>;
    /// Records of a type whose id starts with `prefix`, ordered by id.
    async fn list_records(
        &self,
        scope: &RecordScope,
        record_type: &str,
        prefix: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<ModuleRecord>>;
    /// Copy the records stored before records had a scope (tenant only)
    /// of the given types into `scope`, keeping any the scope already has.
    /// Called when an instance passes its health check, with the record
    /// types its module declares. Returns how many were copied.
    async fn adopt_unscoped(
        &self,
        scope: &RecordScope,
        record_types: &[String],
    ) -> anyhow::Result<u64>;
    /// Publish an event a module instance (`source`) emitted: the log
    /// names it `module.<source>.<name>`, so no module can speak for the
    /// CRM or for another module.
    async fn emit(
        &self,
        tenant: &str,
        source: &str,
        name: &str,
        payload: &str,
    ) -> anyhow::Result<()>;
}

/// A module record's key in [`MemoryCrm`]: whose, type, id.
type RecordKey = (RecordScope, String, String);

/// A CRM store in memory (tests, the SDK harness).
#[derive(Debug, Default)]
pub struct MemoryCrm {
    records: Mutex<BTreeMap<RecordKey, (ModuleRecord, RecordMeta)>>,
    /// Events emitted, as (tenant, source instance, name, payload).
    pub events: Mutex<Vec<(String, String, String, String)>>,
}

#[async_trait]
impl CrmStore for MemoryCrm {
    async fn get_record(
        &self,
        scope: &RecordScope,
        record_type: &str,
        id: &str,
    ) -> anyhow::Result<Option<ModuleRecord>> {
        Ok(lock(&self.records)
            .get(&(scope.clone(), record_type.into(), id.into()))
            .map(|(r, _)| r.clone()))
    }
    async fn put_record(
        &self,
        scope: &RecordScope,
        record: ModuleRecord,
        meta: RecordMeta,
    ) -> anyhow::Result<()> {
        lock(&self.records).insert(
            (scope.clone(), record.record_type.clone(), record.id.clone()),
            (record, meta),
        );
        Ok(())
    }
    async fn query_records(
        &self,
        scope: &RecordScope,
        record_type: &str,
        filters: &[(String, String)],
        after: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<ModuleRecord>> {
        Ok(lock(&self.records)
            .iter()
            .filter(|((s, ty, id), (_, meta))| {
                s == scope
                    && ty == record_type
                    && id.as_str() > after
                    && filters.iter().all(|f| meta.index.contains(f))
            })
            .take(limit as usize)
            .map(|(_, (r, _))| r.clone())
            .collect())
    }
    async fn records_below_version(
        &self,
        scope: &RecordScope,
        record_type: &str,
        version: u32,
        limit: u32,
    ) -> anyhow::Result<Vec<(ModuleRecord, u32)>> {
        Ok(lock(&self.records)
            .iter()
            .filter(|((s, ty, _), (_, meta))| {
                s == scope && ty == record_type && meta.schema_version < version
            })
            .take(limit as usize)
            .map(|(_, (r, meta))| (r.clone(), meta.schema_version))
            .collect())
    }
    async fn list_records(
        &self,
        scope: &RecordScope,
        record_type: &str,
        prefix: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<ModuleRecord>> {
        Ok(lock(&self.records)
            .iter()
            .filter(|((s, ty, id), _)| s == scope && ty == record_type && id.starts_with(prefix))
            .take(limit as usize)
            .map(|(_, (r, _))| r.clone())
            .collect())
    }
    async fn adopt_unscoped(
        &self,
        _scope: &RecordScope,
        _record_types: &[String],
    ) -> anyhow::Result<u64> {
        // A memory store starts empty with this schema: it never held
        // records without a scope.
        Ok(0)
    }
    async fn emit(
        &self,
        tenant: &str,
        source: &str,
        name: &str,
        payload: &str,
    ) -> anyhow::Result<()> {
        lock(&self.events).push((tenant.into(), source.into(), name.into(), payload.into()));
        Ok(())
    }
}

/// One use of a capability by a plugin: the audit trail (P8) and what the
/// SDK harness lets plugin authors assert on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCall {
    /// Tenant id.
    pub tenant: String,
    /// Instance name.
    pub instance: String,
    /// Interface and function, e.g. `state.set`, `http.request`.
    pub call: String,
    /// What it touched (a key, a URL, a record id) — never a secret value.
    pub detail: String,
    /// Whether the host allowed it.
    pub allowed: bool,
}

/// A host call as it happens, borrowed: recorders that only trace it pay
/// no allocation on the hot path; those that keep it copy it.
#[derive(Debug, Clone, Copy)]
pub struct CallEvent<'a> {
    /// Tenant id.
    pub tenant: &'a str,
    /// Instance name.
    pub instance: &'a str,
    /// Interface and function.
    pub call: &'a str,
    /// What it touched.
    pub detail: &'a str,
    /// Whether the host allowed it.
    pub allowed: bool,
}

impl CallEvent<'_> {
    /// An owned copy.
    pub fn to_owned_call(&self) -> HostCall {
        HostCall {
            tenant: self.tenant.to_string(),
            instance: self.instance.to_string(),
            call: self.call.to_string(),
            detail: self.detail.to_string(),
            allowed: self.allowed,
        }
    }
}

/// Receives every host call a plugin makes.
pub trait CallRecorder: Send + Sync {
    /// Record one call.
    fn record(&self, call: CallEvent<'_>);
}

/// Writes capability use to the `hamgam::audit` tracing target.
#[derive(Debug, Default)]
pub struct TracingRecorder;

impl CallRecorder for TracingRecorder {
    fn record(&self, c: CallEvent<'_>) {
        // Reads and log lines are frequent and harmless; only writes, network
        // use and refusals go to the audit trail at info level.
        let quiet = c.call.ends_with(".get") || c.call == "log" || c.call == "clock.now";
        if !c.allowed {
            tracing::warn!(target: "hamgam::audit", tenant = %c.tenant, instance = %c.instance, call = %c.call, detail = %c.detail, "capability denied");
        } else if quiet {
            tracing::trace!(target: "hamgam::audit", tenant = %c.tenant, instance = %c.instance, call = %c.call, detail = %c.detail, "capability used");
        } else {
            tracing::info!(target: "hamgam::audit", tenant = %c.tenant, instance = %c.instance, call = %c.call, detail = %c.detail, "capability used");
        }
    }
}

/// Keeps every call in memory (the SDK harness).
#[derive(Debug, Default, Clone)]
pub struct MemoryRecorder {
    calls: Arc<Mutex<Vec<HostCall>>>,
}

impl MemoryRecorder {
    /// Calls recorded so far.
    pub fn calls(&self) -> Vec<HostCall> {
        lock(&self.calls).clone()
    }
}

impl CallRecorder for MemoryRecorder {
    fn record(&self, call: CallEvent<'_>) {
        lock(&self.calls).push(call.to_owned_call());
    }
}

/// Lock a mutex, recovering from poisoning: the data here are plain maps
/// that a panicking holder cannot leave half-updated.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Who asks the CRM for its records: the module instance (the actor of
/// its writes) and its tenant's CRM settings (numbering, tax rates).
#[derive(Debug, Clone, Copy)]
pub struct EntityCaller<'a> {
    /// Tenant id: every call is scoped to it.
    pub tenant: &'a str,
    /// Instance name: the actor `module:<instance>`.
    pub instance: &'a str,
    /// The tenant's numbering templates and rate table.
    pub settings: &'a crate::crm::settings::CrmSettings,
}

/// Why a CRM record call was refused.
#[derive(Debug, thiserror::Error)]
pub enum EntityError {
    /// The body was not taken (field-named, as the REST API answers).
    #[error(transparent)]
    Json(#[from] crate::crm::json::JsonRefusal),
    /// A list filter the kind does not have, or a value it cannot take.
    #[error("{field}: {message}")]
    Filter {
        /// The filter's name.
        field: String,
        /// Why.
        message: String,
    },
    /// The repository refused or failed.
    #[error(transparent)]
    Store(#[from] crate::store::error::StoreError),
    /// The input broke a rule.
    #[error(transparent)]
    Invalid(#[from] hamgam_domain::ValidationError),
}

/// The CRM's parties, products, documents, receipts and payments as
/// modules reach them (`hamgam:crm/entities`): JSON in the REST API's
/// shapes, read and written through the same repositories, checks,
/// numbering, audit and outbox as the API. The capability check is the
/// runtime's; this only does the work.
#[async_trait]
pub trait EntityStore: Send + Sync {
    /// One record, or none in this tenant.
    async fn get(
        &self,
        caller: &EntityCaller<'_>,
        kind: crate::crm::kinds::EntityKind,
        id: i64,
    ) -> Result<Option<serde_json::Value>, EntityError>;
    /// Create from a REST request body.
    async fn create(
        &self,
        caller: &EntityCaller<'_>,
        kind: crate::crm::kinds::EntityKind,
        body: &[u8],
    ) -> Result<serde_json::Value, EntityError>;
    /// Replace from a REST request body.
    async fn update(
        &self,
        caller: &EntityCaller<'_>,
        kind: crate::crm::kinds::EntityKind,
        id: i64,
        body: &[u8],
    ) -> Result<serde_json::Value, EntityError>;
    /// Approve or reject a document, receipt or payment.
    async fn decide(
        &self,
        caller: &EntityCaller<'_>,
        kind: crate::crm::kinds::EntityKind,
        id: i64,
        approve: bool,
    ) -> Result<serde_json::Value, EntityError>;
    /// Records with `id > after`, at most `limit`, filtered as the REST
    /// list is; the second value says whether more follow.
    async fn query(
        &self,
        caller: &EntityCaller<'_>,
        kind: crate::crm::kinds::EntityKind,
        filters: &[(String, String)],
        after: i64,
        limit: u32,
    ) -> Result<(Vec<serde_json::Value>, bool), EntityError>;
}
