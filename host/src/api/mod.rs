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
pub mod events;
pub mod extract;
pub mod history;
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
use crate::state::SharedState;
use crate::store::Db;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::sync::{Arc, RwLock};

pub use error::ApiError;

pub use crate::state::Snapshot;

/// Asks the host to rebuild its registry now (after an admin change).
pub trait Reload: Send + Sync {
    /// Rebuild and swap; an error leaves the old snapshot in place.
    fn reload(&self) -> futures::future::BoxFuture<'_, anyhow::Result<()>>;
}

/// Shared state of the API: the host's [`SharedState`] (snapshot and
/// database, which the sync engine shares), and what only the API keeps.
#[derive(Clone)]
pub struct AppState {
    shared: SharedState,
    inner: Arc<Inner>,
}

impl std::ops::Deref for AppState {
    type Target = SharedState;
    fn deref(&self) -> &SharedState {
        &self.shared
    }
}

struct Inner {
    reloader: RwLock<Option<Arc<dyn Reload>>>,
    /// The sync engine, weakly: the engine holds this state.
    sync: RwLock<
        Option<(
            std::sync::Weak<crate::sync::SyncEngine>,
            crate::sync::schedule::Trigger,
        )>,
    >,
    /// The event dispatcher, weakly, to wake after a retry.
    events: RwLock<Option<std::sync::Weak<crate::events::Dispatcher>>>,
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
            shared: SharedState::new(snapshot, db),
            inner: Arc::new(Inner {
                reloader: RwLock::new(None),
                sync: RwLock::new(None),
                events: RwLock::new(None),
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

    /// Count a successful CRM write, and wake the event dispatcher: the
    /// write's event is in the log, and subscribers should not wait for
    /// the next tick to hear of it.
    pub(crate) fn wrote(&self) {
        self.inner
            .metrics
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(dispatcher) = self.events() {
            dispatcher.wake();
        }
    }

    /// The state the API shares with the sync engine.
    pub fn shared(&self) -> &SharedState {
        &self.shared
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

    /// Register the event dispatcher (a retry through the API wakes it).
    pub fn set_events(&self, dispatcher: &Arc<crate::events::Dispatcher>) {
        *self.inner.events.write().unwrap_or_else(|e| e.into_inner()) =
            Some(Arc::downgrade(dispatcher));
    }

    /// The event dispatcher, if one runs.
    pub fn events(&self) -> Option<Arc<crate::events::Dispatcher>> {
        let guard = self.inner.events.read().unwrap_or_else(|e| e.into_inner());
        guard.as_ref()?.upgrade()
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

    /// Check a tenant's bearer token; constant time.
    pub(crate) fn authorize(&self, tenant: &str, header: Option<&str>) -> Result<(), ApiError> {
        let snapshot = self.snapshot();
        // An unknown tenant and a wrong token look the same to the caller,
        // in the answer and in the time it takes: both run one comparison.
        match snapshot.tokens.get(tenant) {
            Some(expected) => check_bearer(header, expected),
            None => {
                let _ = bearer_matches(header, &[]);
                Err(ApiError::Unauthorized)
            }
        }
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
    if bearer_matches(header, expected.expose().as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Whether `header` is `Bearer <expected>`. A missing header or prefix is
/// compared like a wrong token, and an empty expected token never matches
/// (config load refuses those; this is the second lock).
fn bearer_matches(header: Option<&str>, expected: &[u8]) -> bool {
    let presented = header.and_then(|h| h.strip_prefix("Bearer "));
    let equal = constant_time_eq(presented.unwrap_or("").as_bytes(), expected);
    equal & presented.is_some() & !expected.is_empty()
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
                let snapshot = self.snapshot();
                // Every token is compared (no early exit), so the time
                // does not tell which tenant's token came closest.
                let known = snapshot.tokens.values().fold(false, |hit, t| {
                    hit | bearer_matches(header, t.expose().as_bytes())
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

/// Equality of two secrets in time that depends on neither their contents
/// nor their lengths: both are hashed to fixed-size SHA-256 digests first
/// (so a length mismatch is not an early exit), and the digests are
/// compared byte by byte without branching. Equal digests mean equal
/// inputs (a collision is not a practical worry for bearer tokens).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (da, db) = (Sha256::digest(a), Sha256::digest(b));
    let diff = da
        .iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
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
    let r = sync::routes(r);
    let r = events::routes(r);
    history::routes(r)
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

#[cfg(test)]
mod tests {
    use super::{bearer_matches, constant_time_eq};

    #[test]
    fn s9_token_comparison_is_constant_time_on_equal_unequal_and_different_length_inputs() {
        // Equal.
        assert!(constant_time_eq(b"acme-secret", b"acme-secret"));
        assert!(constant_time_eq(b"", b""));
        // Unequal, same length: first byte, last byte.
        assert!(!constant_time_eq(b"acme-secret", b"xcme-secret"));
        assert!(!constant_time_eq(b"acme-secret", b"acme-secreT"));
        // Different lengths, including a prefix of the other.
        assert!(!constant_time_eq(b"acme-secret", b"acme-secret!"));
        assert!(!constant_time_eq(b"acme", b"acme-secret"));
        assert!(!constant_time_eq(b"", b"acme-secret"));
        // The bearer check on top of it.
        assert!(bearer_matches(Some("Bearer acme-secret"), b"acme-secret"));
        assert!(!bearer_matches(Some("Bearer acme"), b"acme-secret"));
        assert!(!bearer_matches(Some("acme-secret"), b"acme-secret"));
        assert!(!bearer_matches(None, b"acme-secret"));
        // An empty configured token opens nothing, not even an empty bearer.
        assert!(!bearer_matches(Some("Bearer "), b""));
        assert!(!bearer_matches(None, b""));
    }
}
