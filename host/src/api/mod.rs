//! The HTTP API (axum): health, metrics, module routes under
//! `/api/v1/tenants/{tenant}/modules/{instance}/…`, and the operators'
//! admin API under `/admin/v1/…`. [`app`] builds the router; tests call it
//! directly.

mod admin;
pub mod error;
mod modules;
mod ops;

use crate::config::Secret;
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
}

impl AppState {
    /// State over a first snapshot and the database.
    pub fn new(snapshot: Snapshot, db: Db) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                snapshot: RwLock::new(Arc::new(snapshot)),
                db,
                reloader: RwLock::new(None),
            }),
        }
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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Largest request body the API accepts.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The whole router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(ops::router())
        .merge(modules::router())
        .merge(admin::router())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
