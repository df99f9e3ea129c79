//! The HTTP API (axum): health, metrics, module routes under
//! `/api/v1/tenants/{tenant}/modules/{instance}/…`, and the CRM under
//! `/api/v1/tenants/{tenant}/…` (one file per resource: [`parties`],
//! [`products`], [`documents`], [`payments`]). [`app`] builds the router;
//! tests call it directly. The CRM routes are registered through
//! [`openapi::Routes`], which records each one for the OpenAPI document at
//! `/api/v1/openapi.json`, so the document cannot miss a route.

mod documents;
pub mod error;
pub mod extract;
mod modules;
pub mod openapi;
mod ops;
mod parties;
mod payments;
mod products;

use crate::config::Secret;
use crate::crm::settings::CrmSettings;
use crate::plugins::registry::Registry;
use crate::store::Db;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

pub use error::ApiError;

/// Shared state of the API.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    registry: RwLock<Arc<Registry>>,
    tokens: BTreeMap<String, Secret>,
    db: Db,
    crm: BTreeMap<String, CrmSettings>,
    default_crm: CrmSettings,
    metrics: CrmMetrics,
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
    /// State over a registry, tenant tokens and the database, with default
    /// CRM settings for every tenant.
    pub fn new(registry: Registry, tokens: BTreeMap<String, Secret>, db: Db) -> AppState {
        AppState::with_crm(registry, tokens, db, BTreeMap::new())
    }

    /// State with per-tenant CRM settings (numbering templates, rates);
    /// tenants not in `crm` get [`CrmSettings::default`].
    pub fn with_crm(
        registry: Registry,
        tokens: BTreeMap<String, Secret>,
        db: Db,
        crm: BTreeMap<String, CrmSettings>,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                registry: RwLock::new(Arc::new(registry)),
                tokens,
                db,
                crm,
                default_crm: CrmSettings::default(),
                metrics: CrmMetrics::default(),
            }),
        }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// A tenant's CRM settings.
    pub fn crm(&self, tenant: &str) -> &CrmSettings {
        self.inner
            .crm
            .get(tenant)
            .unwrap_or(&self.inner.default_crm)
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

    /// The registry in force. In-flight calls keep the one they started with.
    pub fn registry(&self) -> Arc<Registry> {
        self.inner
            .registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Swap in a new registry (config reload).
    pub fn replace_registry(&self, registry: Registry) {
        *self
            .inner
            .registry
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(registry);
    }

    /// Check a bearer token against the tenant's; constant time.
    pub(crate) fn authorize(&self, tenant: &str, header: Option<&str>) -> Result<(), ApiError> {
        let presented = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        // An unknown tenant and a wrong token look the same to the caller.
        let expected = self
            .inner
            .tokens
            .get(tenant)
            .ok_or(ApiError::Unauthorized)?;
        if constant_time_eq(presented.as_bytes(), expected.expose().as_bytes()) {
            Ok(())
        } else {
            Err(ApiError::Unauthorized)
        }
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
                let known = presented.is_some_and(|p| {
                    self.inner
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
    payments::routes(r)
}

/// The whole router.
pub fn app(state: AppState) -> Router {
    let (crm, ops) = crm_routes().finish();
    let doc = Arc::new(openapi::document(&ops));
    Router::new()
        .merge(ops::router())
        .merge(modules::router())
        .merge(crm)
        .merge(openapi::router(doc))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
