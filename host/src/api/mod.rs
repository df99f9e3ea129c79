//! The HTTP API (axum): health, metrics, module routes under
//! `/api/v1/tenants/{tenant}/modules/{instance}/…`, the CRM under
//! `/api/v1/tenants/{tenant}/…` (one file per resource: [`parties`],
//! [`products`], [`documents`], [`payments`]), and the operators' admin
//! API under `/admin/v1/…`. [`app`] builds the router; tests call it
//! directly. The CRM routes are registered through [`openapi::Routes`],
//! which records each one for the OpenAPI document at
//! `/api/v1/openapi.json`, so the document cannot miss a route.

mod admin;
mod documents;
pub mod error;
pub mod extract;
mod hooks;
pub mod module_response;
mod modules;
pub mod openapi;
mod ops;
mod parties;
mod payments;
mod products;
pub mod sync;

use crate::config::Secret;
use crate::crm::settings::CrmSettings;
use crate::plugins::licensing::LicenseState;
use crate::plugins::registry::Registry;
use crate::store::Db;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

pub use error::ApiError;

/// What the API serves from; swapped whole on reload, so a request sees
/// one consistent registry, token set and license from start to end.
pub struct Snapshot {
    /// Instances and their statuses.
    pub registry: Registry,
    /// Bearer token per tenant.
    pub tokens: BTreeMap<String, Secret>,
    /// Bearer token of the admin API; none turns it off.
    pub admin_token: Option<Secret>,
    /// The license in force.
    pub license: LicenseState,
    /// Plugin files that were refused, with the reason.
    pub rejected: Vec<(std::path::PathBuf, String)>,
    /// CRM settings per tenant.
    pub crm: BTreeMap<String, CrmSettings>,
    /// Sync settings per (tenant, connector instance) that runs.
    pub sync: BTreeMap<(String, String), crate::config::SyncSettings>,
}

/// Asks the host to rebuild its registry now (after an admin change).
pub trait Reload: Send + Sync {
    /// Rebuild and swap; an error leaves the old snapshot in place.
    fn reload(&self) -> futures::future::BoxFuture<'_, anyhow::Result<()>>;
}

/// Shared state of the API.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    snapshot: RwLock<Arc<Snapshot>>,
    db: Db,
    reloader: RwLock<Option<Arc<dyn Reload>>>,
    /// The sync engine, weakly: the engine holds this state.
    sync: RwLock<
        Option<(
            std::sync::Weak<crate::sync::SyncEngine>,
            crate::sync::schedule::Trigger,
        )>,
    >,
    default_crm: CrmSettings,
    metrics: CrmMetrics,
    /// Bounds on `/hooks` (`server.webhook_*`).
    webhooks: RwLock<Arc<hooks::WebhookGate>>,
}

/// Cheap CRM counters for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct CrmMetrics {
    /// Successful CRM writes (create, replace, delete, approve, reject).
    pub writes: std::sync::atomic::AtomicU64,
    /// CRM requests refused with a 4xx for bad input (400, 413, 415, 422).
    pub invalid: std::sync::atomic::AtomicU64,
}

impl AppState {
    /// State over a first snapshot and the database.
    pub fn new(snapshot: Snapshot, db: Db) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                snapshot: RwLock::new(Arc::new(snapshot)),
                db,
                reloader: RwLock::new(None),
                sync: RwLock::new(None),
                default_crm: CrmSettings::default(),
                metrics: CrmMetrics::default(),
                webhooks: RwLock::new(Arc::new(hooks::WebhookGate::new(
                    &crate::config::ServerConfig::default(),
                ))),
            }),
        }
    }

    /// A tenant's CRM settings (numbering templates, rates), from the
    /// snapshot in force; tenants without a `crm` section get the defaults.
    pub fn crm(&self, tenant: &str) -> CrmSettings {
        self.snapshot()
            .crm
            .get(tenant)
            .cloned()
            .unwrap_or_else(|| self.inner.default_crm.clone())
    }

    /// The bounds `/hooks` works under now.
    pub(crate) fn webhook_gate(&self) -> Arc<hooks::WebhookGate> {
        self.inner
            .webhooks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Apply the server config's `webhook_*` bounds. Unchanged bounds keep
    /// the gate in force, so a reload does not hand out a second set of
    /// turns while deliveries still hold the first.
    pub fn set_webhook_limits(&self, server: &crate::config::ServerConfig) {
        let gate = hooks::WebhookGate::new(server);
        let mut current = self
            .inner
            .webhooks
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if !current.same_bounds(&gate) {
            *current = Arc::new(gate);
        }
    }

    pub(crate) fn metrics(&self) -> &CrmMetrics {
        &self.inner.metrics
    }

    /// Count a refused input and turn it into the API error.
    pub(crate) fn refuse(&self, e: impl Into<ApiError>) -> ApiError {
        self.inner
            .metrics
            .invalid
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        e.into()
    }

    /// Count a successful CRM write.
    pub(crate) fn wrote(&self) {
        self.inner
            .metrics
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The snapshot in force. In-flight requests keep the one they began with.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner
            .snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Swap in a new snapshot (config reload, admin change).
    pub fn replace(&self, snapshot: Snapshot) {
        *self
            .inner
            .snapshot
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
    }

    /// Who rebuilds snapshots (set by the server; absent in some tests).
    pub fn set_reloader(&self, reloader: Arc<dyn Reload>) {
        *self
            .inner
            .reloader
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(reloader);
    }

    /// Register the running sync engine and its scheduler's trigger.
    pub fn set_sync(
        &self,
        engine: &Arc<crate::sync::SyncEngine>,
        trigger: crate::sync::schedule::Trigger,
    ) {
        *self.inner.sync.write().unwrap_or_else(|e| e.into_inner()) =
            Some((Arc::downgrade(engine), trigger));
    }

    /// The sync engine, if one runs.
    pub fn sync(&self) -> Option<(Arc<crate::sync::SyncEngine>, crate::sync::schedule::Trigger)> {
        let guard = self.inner.sync.read().unwrap_or_else(|e| e.into_inner());
        let (engine, trigger) = guard.as_ref()?;
        Some((engine.upgrade()?, trigger.clone()))
    }

    fn reloader(&self) -> Option<Arc<dyn Reload>> {
        self.inner
            .reloader
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Check a tenant's bearer token; constant time.
    pub(crate) fn authorize(&self, tenant: &str, header: Option<&str>) -> Result<(), ApiError> {
        let snapshot = self.snapshot();
        // An unknown tenant and a wrong token look the same to the caller.
        let expected = snapshot.tokens.get(tenant).ok_or(ApiError::Unauthorized)?;
        check_bearer(header, expected)
    }

    /// Check the admin bearer token.
    pub(crate) fn authorize_admin(&self, header: Option<&str>) -> Result<(), ApiError> {
        let snapshot = self.snapshot();
        let expected = snapshot
            .admin_token
            .as_ref()
            .ok_or(ApiError::Unauthorized)?;
        check_bearer(header, expected)
    }
}

fn check_bearer(header: Option<&str>, expected: &Secret) -> Result<(), ApiError> {
    let presented = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    if constant_time_eq(presented.as_bytes(), expected.expose().as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

impl AppState {
    /// [`AppState::authorize`], telling apart a token of another tenant
    /// (403: authenticated, not allowed here) from no valid token at all
    /// (401). Neither reveals whether the tenant in the path exists.
    pub(crate) fn authorize_tenant(
        &self,
        tenant: &str,
        header: Option<&str>,
    ) -> Result<(), ApiError> {
        match self.authorize(tenant, header) {
            Ok(()) => Ok(()),
            Err(_) => {
                let presented = header.and_then(|h| h.strip_prefix("Bearer "));
                let snapshot = self.snapshot();
                let known = presented.is_some_and(|p| {
                    snapshot
                        .tokens
                        .values()
                        .any(|t| constant_time_eq(p.as_bytes(), t.expose().as_bytes()))
                });
                if known {
                    Err(ApiError::Forbidden(tenant.to_owned()))
                } else {
                    Err(ApiError::Unauthorized)
                }
            }
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Largest request body the API accepts.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The CRM routes, each recorded for the OpenAPI document.
pub fn crm_routes() -> openapi::Routes {
    let r = openapi::Routes::default();
    let r = parties::routes(r);
    let r = products::routes(r);
    let r = documents::routes(r);
    let r = payments::routes(r);
    sync::routes(r)
}

/// The whole router.
pub fn app(state: AppState) -> Router {
    let (crm, ops) = crm_routes().finish();
    let doc = Arc::new(openapi::document(&ops));
    Router::new()
        .merge(ops::router())
        .merge(modules::router())
        .merge(hooks::router())
        .merge(admin::router())
        .merge(crm)
        .merge(openapi::router(doc))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
