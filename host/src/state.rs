//! What the API and the sync engine share: the snapshot in force
//! (registry, tokens, license, per-tenant settings) and the database. It
//! sits below both, so the engine needs nothing of the HTTP layer; the
//! API's `AppState` holds one and adds its own (reloader, metrics, the
//! webhook gate, the running engine).

use crate::config::{Secret, SyncSettings};
use crate::crm::settings::CrmSettings;
use crate::plugins::licensing::LicenseState;
use crate::plugins::registry::Registry;
use crate::store::Db;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// What the host serves from; swapped whole on reload, so a request or a
/// sync run sees one consistent registry, token set and license from start
/// to end.
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
    pub sync: BTreeMap<(String, String), SyncSettings>,
}

/// The snapshot in force and the database, cheap to clone.
#[derive(Clone)]
pub struct SharedState {
    inner: Arc<Inner>,
}

struct Inner {
    snapshot: RwLock<Arc<Snapshot>>,
    db: Db,
}

impl SharedState {
    /// State over a first snapshot and the database.
    pub fn new(snapshot: Snapshot, db: Db) -> SharedState {
        SharedState {
            inner: Arc::new(Inner {
                snapshot: RwLock::new(Arc::new(snapshot)),
                db,
            }),
        }
    }

    /// The snapshot in force. In-flight work keeps the one it began with.
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

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }
}
