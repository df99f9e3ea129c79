//! The HTTP API (axum): health, metrics, and module routes under
//! `/api/v1/tenants/{tenant}/modules/{instance}/…`. [`app`] builds the
//! router; tests call it directly.

pub mod error;
mod modules;
mod ops;

use crate::config::Secret;
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
}

impl AppState {
    /// State over a registry, tenant tokens and the database.
    pub fn new(registry: Registry, tokens: BTreeMap<String, Secret>, db: Db) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                registry: RwLock::new(Arc::new(registry)),
                tokens,
                db,
            }),
        }
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
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
