//! The wasmtime runtime: one engine, one linker per world, compiled
//! components cached by digest, an `InstancePre` per loaded plugin, and
//! stores created per plugin instance per tenant.
//!
//! Limits come from three places: the pooling allocator bounds what any
//! instance can ever reserve, a `ResourceLimiter` enforces each instance's
//! own memory cap, and an epoch ticker drives the per-call CPU deadline.

pub mod address;
pub mod backends;
mod backends_db;
pub mod bindings;
pub mod declared;
mod egress;
pub mod entities_db;
pub mod error;
pub mod grants;
pub mod host;
mod host_entities;
mod host_records;
pub mod instance;
pub mod log_line;
pub mod outgoing;
pub mod port;
pub mod records;
pub mod sql;
pub mod sql_convert;
pub mod sql_gate;
mod stderr;

use error::LoadError;
use hamgam_trust::manifest::{Manifest, PluginKind};
use host::HostState;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, ComponentExportIndex, HasSelf, InstancePre, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Most instances alive at once.
    pub max_instances: u32,
    /// Largest memory any instance may be given, in MiB (per-instance caps
    /// are at most this).
    pub max_memory_mib: u64,
    /// Epoch tick; deadlines are counted in ticks.
    pub tick: Duration,
    /// Where compiled components are kept between runs (wasmtime's own
    /// cache, keyed by the component's hash and the compiler settings, so
    /// only artifacts this engine produced are ever loaded). None: compile
    /// at every start.
    pub cache_dir: Option<std::path::PathBuf>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            max_instances: 200,
            max_memory_mib: 512,
            tick: Duration::from_millis(10),
            cache_dir: None,
        }
    }
}

/// A compiled, linked plugin, ready to instantiate.
pub struct LoadedPlugin {
    /// Its manifest.
    pub manifest: Manifest,
    /// SHA-256 of the component bytes, hex.
    pub digest: String,
    /// Who signed it, for bundles; none for bare components.
    pub signer: Option<String>,
    /// The partner whose endorsed key signed it; none for vendor-signed
    /// and bare components. A partner's plugin runs under the tier the
    /// vendor gives it, never its own manifest's (`licensing::effective_tier`).
    pub partner: Option<String>,
    pub(crate) component: Component,
    /// Linked against its world; instantiated without binding the typed
    /// exports, which each live instance does lazily (`instance::Exports`).
    pub(crate) pre: InstancePre<HostState>,
    /// Where each export the host may call sits in the component, looked up
    /// once here: `[i]` is `instance::EXPORTS[i]`, none for other worlds.
    pub(crate) exports: Vec<Option<ComponentExportIndex>>,
    /// Its declared record types, compiled (module world).
    pub records: std::sync::Arc<records::RecordSchemas>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("id", &self.manifest.id)
            .field("version", &self.manifest.version)
            .field("digest", &self.digest)
            .finish()
    }
}

struct Linkers {
    connector: Linker<HostState>,
    module: Linker<HostState>,
    notifier: Linker<HostState>,
    device_driver: Linker<HostState>,
}

/// The engine and everything compiled with it.
pub struct Runtime {
    engine: Engine,
    linkers: Linkers,
    options: RuntimeOptions,
    compiled: Mutex<HashMap<String, Component>>,
    stop_ticker: Arc<AtomicBool>,
}

impl LoadedPlugin {
    /// The compiled component, for tools that run it outside the host's
    /// call path (the platform benchmark's "wasmtime alone" column).
    pub fn component(&self) -> &Component {
        &self.component
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// Build the engine, the linkers and start the epoch ticker.
    pub fn new(options: RuntimeOptions) -> anyhow::Result<Runtime> {
        let mut config = Config::new();
        config.async_support(true);
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // Recursion traps well before the fiber stack (2 MiB default) runs out.
        config.max_wasm_stack(512 * 1024);
        let mut pool = PoolingAllocationConfig::default();
        let n = options.max_instances;
        pool.total_component_instances(n);
        // A Rust component holds a few core instances (the program, shims)
        // and tables; one memory.
        pool.total_core_instances(n * 8);
        pool.total_memories(n * 2);
        pool.total_tables(n * 8);
        pool.total_stacks(n);
        pool.max_memory_size((options.max_memory_mib as usize) << 20);
        // A freed table slot is zeroed with memset instead of handed back
        // to the kernel: the next instance's table initialisation then
        // writes to resident pages instead of taking a page fault per table,
        // which was a tenth of an instantiation. Plugin tables are a few
        // KiB; this bounds what one freed slot keeps resident.
        pool.table_keep_resident(64 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if let Some(dir) = &options.cache_dir {
            let mut cache = wasmtime::CacheConfig::new();
            cache.with_directory(dir);
            config.cache(Some(wasmtime::Cache::new(cache)?));
        }
        let engine = Engine::new(&config)?;

        let linkers = Linkers {
            connector: Self::linker(&engine, |l| {
                bindings::connector::Connector::add_to_linker::<_, HasSelf<_>>(l, |s| s)
            })?,
            module: Self::linker(&engine, |l| {
                bindings::module::Module::add_to_linker::<_, HasSelf<_>>(l, |s| s)
            })?,
            notifier: Self::linker(&engine, |l| {
                bindings::notifier::Notifier::add_to_linker::<_, HasSelf<_>>(l, |s| s)
            })?,
            device_driver: Self::linker(&engine, |l| {
                bindings::device_driver::DeviceDriver::add_to_linker::<_, HasSelf<_>>(l, |s| s)
            })?,
        };

        let stop_ticker = Arc::new(AtomicBool::new(false));
        let (weak, stop, tick) = (engine.weak(), stop_ticker.clone(), options.tick);
        std::thread::Builder::new()
            .name("hamgam-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => return,
                    }
                }
            })?;
        Ok(Runtime {
            engine,
            linkers,
            options,
            compiled: Mutex::new(HashMap::new()),
            stop_ticker,
        })
    }

    fn linker(
        engine: &Engine,
        add_world: impl FnOnce(&mut Linker<HostState>) -> anyhow::Result<()>,
    ) -> anyhow::Result<Linker<HostState>> {
        let mut linker = Linker::new(engine);
        // WASI without sockets: a plugin's only way out is wasi:http, which
        // the host filters. Filesystem access reaches granted dirs only.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::add_only_http_to_linker_async(&mut linker)?;
        add_world(&mut linker)?;
        Ok(linker)
    }

    /// The options it was built with.
    pub fn options(&self) -> &RuntimeOptions {
        &self.options
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Read a component file and [`load`](Self::load) it.
    pub fn load_file(&self, path: &std::path::Path) -> Result<LoadedPlugin, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.load(&bytes)
    }

    /// Verify a component's manifest, compile it (once per digest) and link
    /// it against the world its manifest names.
    pub fn load(&self, wasm: &[u8]) -> Result<LoadedPlugin, LoadError> {
        let manifest = Manifest::from_component(wasm)?;
        let digest = hex::encode(Sha256::digest(wasm));
        let cached = backends::lock(&self.compiled).get(&digest).cloned();
        let component = match cached {
            Some(c) => c,
            None => {
                let c = Component::new(&self.engine, wasm).map_err(|e| LoadError::Compile {
                    id: manifest.id.clone(),
                    message: format!("{e:#}"),
                })?;
                backends::lock(&self.compiled).insert(digest.clone(), c.clone());
                c
            }
        };
        let world_err = |e: anyhow::Error| LoadError::World {
            id: manifest.id.clone(),
            world: manifest.kind.world(),
            message: format!("{e:#}"),
        };
        // The world's typed `…Pre` checks that every export the world names
        // is there, so a plugin built for another world fails here, at
        // load; the export types are checked when an instance binds them.
        // The connector and module worlds have exports added in 0.1.1 that
        // older plugins lack (history, migrate): for them the export table
        // below is the check — every export it does not mark `optional`
        // must be there.
        let pre = match manifest.kind {
            PluginKind::Connector => self
                .linkers
                .connector
                .instantiate_pre(&component)
                .map_err(world_err)?,
            PluginKind::Module => self
                .linkers
                .module
                .instantiate_pre(&component)
                .map_err(world_err)?,
            PluginKind::Notifier => bindings::notifier::NotifierPre::new(
                self.linkers
                    .notifier
                    .instantiate_pre(&component)
                    .map_err(world_err)?,
            )
            .map_err(world_err)?
            .instance_pre()
            .clone(),
            PluginKind::DeviceDriver => bindings::device_driver::DeviceDriverPre::new(
                self.linkers
                    .device_driver
                    .instantiate_pre(&component)
                    .map_err(world_err)?,
            )
            .map_err(world_err)?
            .instance_pre()
            .clone(),
        };
        let exports = instance::EXPORTS
            .iter()
            .map(|e| {
                if e.kind != manifest.kind {
                    return Ok(None);
                }
                let iface = component.get_export_index(None, e.interface);
                let found = iface.and_then(|i| component.get_export_index(Some(&i), e.func));
                if found.is_none() && e.optional {
                    return Ok(None);
                }
                found.map(Some).ok_or_else(|| {
                    world_err(anyhow::anyhow!(
                        "no export `{}` in `{}`",
                        e.func,
                        e.interface
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let records = records::RecordSchemas::compile(&manifest).map_err(|message| {
            LoadError::Manifest(hamgam_trust::manifest::ManifestError::Field {
                field: "records",
                message,
            })
        })?;
        Ok(LoadedPlugin {
            manifest,
            digest,
            signer: None,
            partner: None,
            component,
            pre,
            exports,
            records: std::sync::Arc::new(records),
        })
    }

    /// Create an instance of a loaded plugin for one tenant. The store is
    /// built lazily on the first call.
    pub fn instance(
        &self,
        plugin: Arc<LoadedPlugin>,
        ctx: instance::InstanceContext,
    ) -> instance::PluginInstance {
        instance::PluginInstance::new(ctx, plugin, self.options.tick)
    }
}
