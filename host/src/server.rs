//! The running host: builds a snapshot (catalog, license, registry,
//! tokens) from the config file, serves it, and rebuilds it when the
//! config, the license or the plugin directory changes, or an operator
//! flips a module in the admin API (hot reload, P5). It also rebuilds at
//! the instants the license's standing changes (an expiry, the end of a
//! grace period) by the host's clock, so a host that runs unchanged for
//! months still stops orderable modules when their license ends (P4).
//!
//! A rebuild never interrupts work: requests hold the snapshot they began
//! with (and its instances) until they finish, and a config that fails to
//! parse leaves the running snapshot in place.

use crate::api::{AppState, Reload, Snapshot};
use crate::config::Config;
use crate::plugins::licensing::{LicenseState, TrustPolicy};
use crate::plugins::manifest::PluginKind;
use crate::plugins::registry::{Catalog, Registry};
use crate::runtime::instance::{Clock, Services, SystemClock};
use crate::runtime::{Runtime, RuntimeOptions};
use crate::store::Db;
use crate::sync::SyncEngine;
use anyhow::Context;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The host process's state.
pub struct Server {
    config_path: PathBuf,
    runtime: Arc<Runtime>,
    services: Services,
    state: AppState,
    fingerprint: Mutex<u64>,
    rebuild: tokio::sync::Mutex<()>,
    /// The config of the snapshot in force, to re-judge the license with
    /// when the file on disk no longer parses.
    in_force: Mutex<Config>,
}

/// Longest sleep between two looks at the license clock, in case the clock
/// jumps (a suspended machine, an adjusted system time).
pub const LICENSE_RECHECK: Duration = Duration::from_secs(60);

/// The longest an event waits for its first delivery when nothing wakes
/// the dispatcher sooner.
pub const EVENT_TICK: Duration = Duration::from_millis(500);

/// The engine options a config asks for.
pub fn runtime_options(config: &Config) -> RuntimeOptions {
    let max_memory = config
        .instances()
        .map(|(_, _, i)| config.limits.with(&i.limits).memory_mib)
        .chain([config.limits.memory_mib])
        .max()
        .unwrap_or(64);
    RuntimeOptions {
        max_instances: config.server.max_instances,
        max_memory_mib: max_memory,
        cache_dir: config.server.compile_cache.clone(),
        ..RuntimeOptions::default()
    }
}

impl Server {
    /// Open the database, build the engine and the first snapshot.
    pub async fn start(config_path: &Path) -> anyhow::Result<(Arc<Server>, Config)> {
        Server::start_with_clock(config_path, Arc::new(SystemClock)).await
    }

    /// [`Server::start`] with the clock the license is judged by (and
    /// plugins read): tests move it past an expiry.
    pub async fn start_with_clock(
        config_path: &Path,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<(Arc<Server>, Config)> {
        let config = Config::load(config_path)?;
        let db = Db::connect(&config.server.database)
            .await
            .with_context(|| format!("cannot open database {}", config.server.database))?;
        let runtime = Arc::new(Runtime::new(runtime_options(&config))?);
        let db_arc = Arc::new(db.clone());
        let services = Services {
            state: db_arc.clone(),
            crm: db_arc.clone(),
            entities: db_arc,
            sql: Arc::new(crate::runtime::sql::SqlConnections::default()),
            recorder: Arc::new(crate::runtime::backends::TracingRecorder),
            clock,
        };
        let snapshot = build_snapshot(&config, &runtime, &services, &db).await?;
        let state = AppState::new(snapshot, db);
        state.set_webhook_limits(&config.server);
        let server = Arc::new(Server {
            config_path: config_path.to_path_buf(),
            runtime,
            services,
            state,
            fingerprint: Mutex::new(fingerprint(config_path, &config)),
            rebuild: tokio::sync::Mutex::new(()),
            in_force: Mutex::new(config.clone()),
        });
        server.state.set_reloader(server.clone());
        Ok((server, config))
    }

    /// The API state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Start the sync engine over this server's state; with `schedule`, it
    /// runs every connector instance on its interval and works the webhook
    /// queue as deliveries arrive. The engine is registered on the API
    /// state (F2 routes, live lookups, webhook intake).
    pub fn sync_engine(&self, schedule: bool) -> Arc<SyncEngine> {
        let engine = SyncEngine::new(self.state.shared().clone());
        let trigger = if schedule {
            engine.spawn_webhook_worker();
            engine.spawn_history_worker();
            engine.spawn_scheduler()
        } else {
            Default::default()
        };
        self.state.set_sync(&engine, trigger);
        engine
    }

    /// Start delivering the event log to subscribed modules (S20), a pass
    /// each `tick` and whenever the API retries an event; registered on
    /// the API state. The returned handle keeps it running.
    pub fn events(&self, tick: Duration) -> Arc<crate::events::Dispatcher> {
        let dispatcher = crate::events::Dispatcher::new(
            self.state.shared().clone(),
            self.services.clock.clone(),
            crate::events::RetryPolicy::default(),
        );
        dispatcher.spawn(tick);
        self.state.set_events(&dispatcher);
        dispatcher
    }

    /// Rebuild from the files now.
    pub async fn rebuild(&self) -> anyhow::Result<()> {
        let config = Config::load(&self.config_path)?;
        self.rebuild_from(config).await
    }

    async fn rebuild_from(&self, config: Config) -> anyhow::Result<()> {
        let _one_at_a_time = self.rebuild.lock().await;
        let snapshot =
            build_snapshot(&config, &self.runtime, &self.services, self.state.db()).await?;
        let running = snapshot
            .registry
            .statuses()
            .iter()
            .filter(|s| s.running)
            .count();
        self.state.replace(snapshot);
        self.state.set_webhook_limits(&config.server);
        *self.fingerprint.lock().unwrap_or_else(|e| e.into_inner()) =
            fingerprint(&self.config_path, &config);
        *self.in_force.lock().unwrap_or_else(|e| e.into_inner()) = config;
        tracing::info!(running, "configuration reloaded");
        Ok(())
    }

    /// Rebuild if the clock has reached the instant the license's standing
    /// changes ([`LicenseState::next_change`]); returns whether it did.
    /// The files are read again; if the config no longer parses, the
    /// config in force is re-judged, so a broken file cannot keep an
    /// expired license running.
    pub async fn check_license_clock(&self) -> anyhow::Result<bool> {
        let due = self
            .state
            .snapshot()
            .license
            .next_change()
            .is_some_and(|at| self.services.clock.now() >= at);
        if !due {
            return Ok(false);
        }
        tracing::info!("license standing changes now: re-deciding every instance");
        if let Err(e) = self.rebuild().await {
            tracing::warn!(
                "config not reloaded ({e:#}); re-judging the license with the config in force"
            );
            let config = self
                .in_force
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            self.rebuild_from(config).await?;
        }
        Ok(true)
    }

    /// Re-judge the license at the instants its standing changes: sleep
    /// until the next one by the host's clock, at most `recheck` at a time.
    pub fn watch_license(self: &Arc<Self>, recheck: Duration) {
        let server = self.clone();
        tokio::spawn(async move {
            loop {
                let until_change = server.state.snapshot().license.next_change().map(|at| {
                    (at - server.services.clock.now())
                        .to_std()
                        .unwrap_or(Duration::ZERO)
                });
                let wait = until_change.map_or(recheck, |d| d.min(recheck));
                // Never spin: a rebuild that keeps failing retries each second.
                tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
                if let Err(e) = server.check_license_clock().await {
                    tracing::error!("license re-check failed, previous snapshot stays: {e:#}");
                    tokio::time::sleep(Duration::from_secs(1).min(recheck)).await;
                }
            }
        });
    }

    /// Check for changed files every `interval` and rebuild when they did.
    pub fn watch(self: &Arc<Self>, interval: Duration) {
        let server = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let config = match Config::load(&server.config_path) {
                    Ok(c) => c,
                    Err(e) => {
                        // A half-written or broken config: keep serving the
                        // last good one.
                        tracing::warn!("config not reloaded: {e}");
                        continue;
                    }
                };
                let now = fingerprint(&server.config_path, &config);
                let before = *server.fingerprint.lock().unwrap_or_else(|e| e.into_inner());
                if now != before
                    && let Err(e) = server.rebuild().await
                {
                    tracing::error!("reload failed, previous configuration stays in force: {e:#}");
                }
            }
        });
    }
}

impl Reload for Server {
    fn reload(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(self.rebuild())
    }
}

/// Build everything a request needs from a config.
pub async fn build_snapshot(
    config: &Config,
    runtime: &Runtime,
    services: &Services,
    db: &Db,
) -> anyhow::Result<Snapshot> {
    let policy = TrustPolicy::from_config(config)?;
    let catalog =
        Catalog::load_dir(runtime, &config.server.plugin_dir, &policy).with_context(|| {
            format!(
                "cannot read plugin_dir {}",
                config.server.plugin_dir.display()
            )
        })?;
    let license = LicenseState::load(config, &policy, services.clock.now().date_naive());
    let mut config = config.clone();
    for ((tenant, instance), enabled) in crate::store::instance_overrides(db).await? {
        if let Some(i) = config
            .tenants
            .get_mut(&tenant)
            .and_then(|t| t.instances.get_mut(&instance))
        {
            i.enabled = Some(enabled);
        }
    }
    let registry = Registry::build(runtime, &catalog, &config, services, &license).await;
    let mut tokens = BTreeMap::new();
    for (tenant, t) in &config.tenants {
        if let Some(token) = &t.api_token {
            tokens.insert(
                tenant.clone(),
                token.resolve(&format!("tenants.{tenant}.api_token"))?,
            );
        }
    }
    let admin_token = match &config.server.admin_token {
        Some(t) => Some(t.resolve("server.admin_token")?),
        None => None,
    };
    let mut crm = BTreeMap::new();
    for (tenant, t) in &config.tenants {
        crm.insert(
            tenant.clone(),
            t.crm.settings(&format!("tenants.{tenant}"))?,
        );
    }
    let mut sync = BTreeMap::new();
    for (tenant, name, instance) in config.instances() {
        let connector = registry
            .get(tenant, name)
            .is_some_and(|i| i.plugin().manifest.kind == PluginKind::Connector);
        if connector {
            sync.insert((tenant.to_owned(), name.to_owned()), instance.sync.clone());
        }
    }
    Ok(Snapshot {
        registry,
        tokens,
        admin_token,
        license,
        rejected: catalog.rejected,
        crm,
        sync,
    })
}

/// What a reload depends on: the config text, the license file and the
/// plugin directory's listing (name, size, modification time).
fn fingerprint(config_path: &Path, config: &Config) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::read(config_path).unwrap_or_default().hash(&mut h);
    if let Some(license) = &config.trust.license {
        std::fs::read(license).unwrap_or_default().hash(&mut h);
    }
    if let Ok(entries) = std::fs::read_dir(&config.server.plugin_dir) {
        let mut listing: Vec<(String, u64, Option<std::time::SystemTime>)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((
                    e.file_name().to_string_lossy().into_owned(),
                    meta.len(),
                    meta.modified().ok(),
                ))
            })
            .collect();
        listing.sort();
        listing.hash(&mut h);
    }
    h.finish()
}
