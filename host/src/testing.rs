//! An in-memory host for tests: load a built component, grant it what the
//! test wants, call it, and assert on every host call it made.
//!
//! This is the harness plugin authors use through `hamgam_sdk::harness`,
//! and the one the host's own sandbox tests use. It runs the real runtime
//! (same engine settings, limits and capability checks as production);
//! only the backends are in memory.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use hamgam::testing::TestHost;
//! let host = TestHost::new();
//! let plugin = host
//!     .plugin("target/plugins/petty-cash.wasm")?
//!     .grant_state()
//!     .grant_crm(hamgam::plugins::manifest::CrmAccess::ReadWrite)
//!     .build();
//! let response = plugin.request("GET", "/bills", b"").await??;
//! assert_eq!(response.status, 200);
//! assert!(host.calls().iter().any(|c| c.call == "crm.list-records"));
//! # Ok(()) }
//! ```

use crate::config::{Grants, Limits, PortGrant, SecretRef, SqlGrant};
use crate::plugins::manifest::{CrmAccess, CrmEntity};
use crate::runtime::backends::{
    EntityStore, HostCall, MemoryCrm, MemoryRecorder, MemoryState, Scope,
};
use crate::runtime::bindings::types::{Error, HttpRequest, HttpResponse};
use crate::runtime::entities_db::ScratchEntities;
use crate::runtime::error::CallError;
use crate::runtime::grants::Effective;
use crate::runtime::instance::{InstanceContext, PluginInstance, Services, SystemClock};
use crate::runtime::{LoadedPlugin, Runtime, RuntimeOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// One engine per test process: compiled components are cached by digest,
/// so every test after the first loads a plugin in microseconds.
fn shared_runtime() -> anyhow::Result<Arc<Runtime>> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt.clone());
    }
    let rt = Arc::new(Runtime::new(RuntimeOptions {
        max_instances: 64,
        max_memory_mib: 256,
        tick: Duration::from_millis(10),
        cache_dir: None,
    })?);
    Ok(RUNTIME.get_or_init(|| rt).clone())
}

/// Where `cargo xtask build-plugins` puts components: `$CARGO_TARGET_DIR/plugins`
/// or `<workspace>/target/plugins`.
pub fn plugin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("HAMGAM_PLUGIN_DIR") {
        return PathBuf::from(dir);
    }
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("plugins");
    }
    // host/ sits one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .join("target/plugins")
}

/// Path of a built plugin by id.
pub fn plugin_path(id: &str) -> PathBuf {
    plugin_dir().join(format!("{id}.wasm"))
}

/// An in-memory host. Instances built from one `TestHost` share its state
/// store, CRM store and call log, as tenants of one real host do.
pub struct TestHost {
    runtime: Arc<Runtime>,
    services: Services,
    recorder: MemoryRecorder,
    crm: Arc<MemoryCrm>,
    entities: Arc<ScratchEntities>,
    /// Where [`TestHost::deliver`] is in each instance's tenant log.
    cursors: Arc<std::sync::Mutex<BTreeMap<(String, String), i64>>>,
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

impl TestHost {
    /// Like [`TestHost::new`], but capability use goes to tracing (as in
    /// production) instead of the in-memory log: for benchmarks.
    pub fn untraced() -> TestHost {
        let mut host = TestHost::new();
        host.services.recorder = Arc::new(crate::runtime::backends::TracingRecorder);
        host
    }

    /// A fresh host with empty stores.
    ///
    /// # Panics
    /// If the wasmtime engine cannot be created (a broken machine).
    #[allow(clippy::expect_used)]
    pub fn new() -> TestHost {
        let runtime = shared_runtime().expect("wasmtime engine");
        let recorder = MemoryRecorder::default();
        let crm = Arc::new(MemoryCrm::default());
        let entities = Arc::new(ScratchEntities::default());
        let services = Services {
            state: Arc::new(MemoryState::default()),
            crm: crm.clone(),
            entities: entities.clone(),
            sql: Arc::new(crate::runtime::sql::SqlConnections::default()),
            recorder: Arc::new(recorder.clone()),
            clock: Arc::new(SystemClock),
        };
        TestHost {
            runtime,
            services,
            recorder,
            crm,
            entities,
            cursors: Arc::default(),
        }
    }

    /// The runtime, for loading by bytes.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Start configuring an instance of the component at `path` (a path
    /// or a plugin id, looked up in [`plugin_dir`]).
    pub fn plugin(&self, path: impl AsRef<Path>) -> anyhow::Result<PluginBuilder<'_>> {
        let mut path = path.as_ref().to_path_buf();
        if path.extension().is_none() {
            path = plugin_path(&path.to_string_lossy());
        }
        let plugin = self.runtime.load_file(&path)?;
        Ok(self.plugin_loaded(Arc::new(plugin)))
    }

    /// Start configuring an instance of an already loaded plugin.
    pub fn plugin_loaded(&self, plugin: Arc<LoadedPlugin>) -> PluginBuilder<'_> {
        PluginBuilder {
            host: self,
            plugin,
            tenant: "test".into(),
            instance: "main".into(),
            settings: BTreeMap::new(),
            secrets: BTreeMap::new(),
            grants: Grants::default(),
            limits: Limits::default(),
        }
    }

    /// Every host call made so far, by every instance of this host.
    pub fn calls(&self) -> Vec<HostCall> {
        self.recorder.calls()
    }

    /// The CRM database modules of this host read and write through
    /// `hamgam:crm/entities` (SQLite in memory, opened at first use): seed
    /// it with the `store` repositories, read back what a module wrote.
    ///
    /// # Errors
    /// If the in-memory database cannot be opened.
    pub async fn crm_db(&self) -> Result<&crate::store::Db, crate::store::error::StoreError> {
        self.entities.db().await
    }

    /// Events modules emitted: (tenant, source instance, name, payload).
    pub fn events(&self) -> Vec<(String, String, String, String)> {
        crate::runtime::backends::lock(&self.crm.events).clone()
    }

    /// Create a CRM record in `tenant` from its REST request body (a
    /// party, an invoice…), through the same checks, numbering, audit and
    /// event log as the REST API and a module's `crm::create`; the answer
    /// is the stored record. The change's event (`party.created`…) is
    /// what [`deliver`](Self::deliver) hands subscribed modules.
    ///
    /// # Errors
    /// The body refused, with the field named, as the API would.
    pub async fn seed(
        &self,
        tenant: &str,
        kind: CrmEntity,
        body: &serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let body = serde_json::to_vec(body)?;
        let settings = crate::crm::settings::CrmSettings::default();
        let caller = harness_caller(tenant, &settings);
        self.entities
            .create(&caller, kind.into(), &body)
            .await
            .map_err(|e| anyhow::anyhow!("seeding a {}: {e}", kind.as_str()))
    }

    /// Approve (`true`) or reject a seeded document, receipt or payment:
    /// `sales_invoice.approved`… in the event log.
    ///
    /// # Errors
    /// No such record, or one that cannot be decided.
    pub async fn decide(
        &self,
        tenant: &str,
        kind: CrmEntity,
        id: i64,
        approve: bool,
    ) -> anyhow::Result<serde_json::Value> {
        let settings = crate::crm::settings::CrmSettings::default();
        let caller = harness_caller(tenant, &settings);
        self.entities
            .decide(&caller, kind.into(), id, approve)
            .await
            .map_err(|e| anyhow::anyhow!("deciding {} {id}: {e}", kind.as_str()))
    }

    /// Hand `plugin` the events of its tenant's log it has not had yet and
    /// subscribes to (its `describe`), in log order, each through
    /// `on-event` with the envelope a real host sends: what
    /// [`seed`](Self::seed), [`decide`](Self::decide) and the module's own
    /// CRM writes logged. One call is one delivery pass: each event once,
    /// whatever the module answers (a real host would try a failed one
    /// again later).
    ///
    /// # Errors
    /// The event log unreadable, or a call that trapped.
    pub async fn deliver(&self, plugin: &PluginInstance) -> anyhow::Result<Vec<Delivered>> {
        let db = self.entities.db().await?;
        while crate::store::event::sequence(db, 5_000).await? > 0 {}
        let subscriptions = plugin.subscriptions().await?.to_vec();
        let scope = &plugin.context().scope;
        let key = (scope.tenant.clone(), scope.instance.clone());
        let mut after = crate::runtime::backends::lock(&self.cursors)
            .get(&key)
            .copied()
            .unwrap_or(0);
        let mut out = Vec::new();
        loop {
            let events = crate::store::event::after(db, &scope.tenant, after, 500).await?;
            let Some(last) = events.last() else { break };
            after = last.seq;
            for event in events {
                if !subscriptions
                    .iter()
                    .any(|p| crate::events::matches(p, &event.name))
                {
                    continue;
                }
                let outcome = plugin.on_event(crate::events::module_event(&event)).await?;
                out.push(Delivered {
                    id: event.id,
                    name: event.name,
                    subject: event.subject,
                    outcome,
                });
            }
        }
        crate::runtime::backends::lock(&self.cursors).insert(key, after);
        Ok(out)
    }
}

/// One event [`TestHost::deliver`] handed a module, and what it answered.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The event's id (the idempotency key).
    pub id: i64,
    /// `party.created`, `sales_invoice.approved`…
    pub name: String,
    /// `party:1`…
    pub subject: String,
    /// The module's answer.
    pub outcome: Result<(), Error>,
}

/// The harness's own CRM writes are made as the module instance
/// `harness`, so they show apart from the module's in the audit trail.
fn harness_caller<'a>(
    tenant: &'a str,
    settings: &'a crate::crm::settings::CrmSettings,
) -> crate::runtime::backends::EntityCaller<'a> {
    crate::runtime::backends::EntityCaller {
        tenant,
        instance: "harness",
        settings,
    }
}

/// Settings, grants and limits of one test instance.
pub struct PluginBuilder<'h> {
    host: &'h TestHost,
    plugin: Arc<LoadedPlugin>,
    tenant: String,
    instance: String,
    settings: BTreeMap<String, String>,
    secrets: BTreeMap<String, SecretRef>,
    grants: Grants,
    limits: Limits,
}

impl PluginBuilder<'_> {
    /// The tenant (default `test`).
    pub fn tenant(mut self, tenant: &str) -> Self {
        self.tenant = tenant.into();
        self
    }
    /// The instance name (default `main`).
    pub fn instance(mut self, name: &str) -> Self {
        self.instance = name.into();
        self
    }
    /// A setting the plugin reads with `config.get`.
    pub fn setting(mut self, key: &str, value: &str) -> Self {
        self.settings.insert(key.into(), value.into());
        self
    }
    /// A secret value.
    pub fn secret(mut self, name: &str, value: &str) -> Self {
        self.secrets
            .insert(name.into(), SecretRef::Value(value.into()));
        self
    }
    /// Grant an outbound URL pattern.
    pub fn grant_http(mut self, pattern: &str) -> Self {
        self.grants.http.push(pattern.into());
        self
    }
    /// Let granted names resolve to private addresses.
    pub fn allow_private_network(mut self) -> Self {
        self.grants.allow_private_network = true;
        self
    }
    /// Grant the key-value state.
    pub fn grant_state(mut self) -> Self {
        self.grants.state = true;
        self
    }
    /// Map a declared directory name to a real directory.
    pub fn grant_dir(mut self, name: &str, dir: impl Into<PathBuf>) -> Self {
        self.grants.files.insert(name.into(), dir.into());
        self
    }
    /// Grant CRM store access.
    pub fn grant_crm(mut self, access: CrmAccess) -> Self {
        self.grants.crm = access;
        self
    }
    /// Grant access to one kind of CRM record (`hamgam:crm/entities`).
    pub fn grant_entities(mut self, kind: CrmEntity, access: CrmAccess) -> Self {
        self.grants.entities.insert(kind, access);
        self
    }
    /// Grant a database.
    pub fn grant_sql(mut self, name: &str, grant: SqlGrant) -> Self {
        self.grants.sql.insert(name.into(), grant);
        self
    }
    /// Grant a device port.
    pub fn grant_port(mut self, port: PortGrant) -> Self {
        self.grants.port = Some(port);
        self
    }
    /// Change the limits.
    pub fn limits(mut self, f: impl FnOnce(&mut Limits)) -> Self {
        f(&mut self.limits);
        self
    }

    /// The instance.
    pub fn build(self) -> Arc<PluginInstance> {
        let ctx = InstanceContext {
            scope: Scope {
                tenant: self.tenant,
                instance: self.instance,
            },
            plugin_id: self.plugin.manifest.id.clone(),
            effective: Effective::intersect(&self.plugin.manifest.capabilities, &self.grants),
            settings: self.settings,
            secrets: self.secrets,
            limits: self.limits,
            crm: Arc::new(crate::crm::settings::CrmSettings::default()),
            records: self.plugin.records.clone(),
            declared: std::sync::OnceLock::new(),
            services: self.host.services.clone(),
        };
        Arc::new(self.host.runtime.instance(self.plugin, ctx))
    }
}

impl PluginInstance {
    /// A request as the host's API hands it to a module: with no headers,
    /// and only to a route the module's `describe` declares. Another path
    /// is answered as the host answers it (404, or 405 for another
    /// method), without reaching the module.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Result<HttpResponse, Error>, CallError> {
        if let Some(declared) = self.declared().await? {
            let refused = match declared.route(method, path) {
                crate::runtime::declared::RouteMatch::Found(_) => None,
                crate::runtime::declared::RouteMatch::OtherMethods(m) => Some((
                    405,
                    "method-not-allowed",
                    format!("{path} takes only {}", m.join(", ")),
                )),
                crate::runtime::declared::RouteMatch::Undeclared => Some((
                    404,
                    "not-found",
                    format!("{method} {path} is not among the routes describe declares"),
                )),
            };
            if let Some((status, code, message)) = refused {
                return Ok(Ok(HttpResponse {
                    status,
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: serde_json::json!({"error": {"code": code, "message": message}})
                        .to_string()
                        .into_bytes(),
                }));
            }
        }
        self.handle_request(HttpRequest {
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: body.to_vec(),
        })
        .await
    }
}
