//! The registry: which plugins are installed (the catalog) and which
//! instances each tenant runs (built from the operator config).

use crate::config::{Config, InstanceConfig};
use crate::runtime::backends::Scope;
use crate::runtime::grants::Effective;
use crate::runtime::instance::{InstanceContext, PluginInstance, Services};
use crate::runtime::{LoadedPlugin, Runtime};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why an instance could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// No installed plugin has this id.
    #[error("tenant `{tenant}` instance `{instance}`: plugin `{plugin}` is not installed")]
    UnknownPlugin {
        /// Tenant.
        tenant: String,
        /// Instance.
        instance: String,
        /// Plugin id asked for.
        plugin: String,
    },
    /// Installed, but no version matches the requirement.
    #[error(
        "tenant `{tenant}` instance `{instance}`: no installed version of `{plugin}` matches `{requirement}` (installed: {installed})"
    )]
    NoMatchingVersion {
        /// Tenant.
        tenant: String,
        /// Instance.
        instance: String,
        /// Plugin id.
        plugin: String,
        /// The requirement.
        requirement: String,
        /// Versions present.
        installed: String,
    },
    /// A grant names something the plugin did not declare; refused so the
    /// operator learns their grant does nothing rather than assuming it works.
    #[error("tenant `{tenant}` instance `{instance}`: {message}")]
    Grant {
        /// Tenant.
        tenant: String,
        /// Instance.
        instance: String,
        /// What is wrong.
        message: String,
    },
}

/// Installed plugins by id, every version kept.
#[derive(Debug, Default)]
pub struct Catalog {
    plugins: BTreeMap<String, BTreeMap<semver::Version, Arc<LoadedPlugin>>>,
    /// Files that failed to load, with the reason.
    pub rejected: Vec<(PathBuf, String)>,
}

impl Catalog {
    /// Load every `*.wasm` in a directory. A bad file is recorded in
    /// `rejected` and logged; it does not stop the others.
    pub fn load_dir(runtime: &Runtime, dir: &Path) -> std::io::Result<Catalog> {
        let mut catalog = Catalog::default();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        paths.sort();
        for path in paths {
            match runtime.load_file(&path) {
                Ok(p) => {
                    tracing::info!(plugin = %p.manifest.id, version = %p.manifest.version, digest = %&p.digest[..12], "plugin loaded");
                    catalog.insert(Arc::new(p));
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), "plugin rejected: {e}");
                    catalog.rejected.push((path, e.to_string()));
                }
            }
        }
        Ok(catalog)
    }

    /// Add a loaded plugin (a newer build of the same version replaces it).
    pub fn insert(&mut self, plugin: Arc<LoadedPlugin>) {
        self.plugins
            .entry(plugin.manifest.id.clone())
            .or_default()
            .insert(plugin.manifest.version.clone(), plugin);
    }

    /// Every installed plugin, newest version last per id.
    pub fn all(&self) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        self.plugins.values().flat_map(|v| v.values())
    }

    /// The newest version matching `requirement` (any when none).
    pub fn resolve(
        &self,
        id: &str,
        requirement: Option<&semver::VersionReq>,
    ) -> Option<&Arc<LoadedPlugin>> {
        self.plugins
            .get(id)?
            .iter()
            .rev()
            .find(|(v, _)| requirement.is_none_or(|r| r.matches(v)))
            .map(|(_, p)| p)
    }

    fn versions(&self, id: &str) -> String {
        self.plugins
            .get(id)
            .map(|v| {
                v.keys()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    }
}

/// Instances by tenant and name.
#[derive(Default)]
pub struct Registry {
    tenants: BTreeMap<String, BTreeMap<String, Arc<PluginInstance>>>,
}

impl Registry {
    /// Build every enabled instance of the config. Returns the first error;
    /// `hamgam check-config` reports all of them via [`Registry::check`].
    pub fn build(
        runtime: &Runtime,
        catalog: &Catalog,
        config: &Config,
        services: &Services,
    ) -> Result<Registry, RegistryError> {
        let mut registry = Registry::default();
        for (tenant, name, inst) in config.instances() {
            if !inst.enabled {
                continue;
            }
            let instance = build_instance(runtime, catalog, config, services, tenant, name, inst)?;
            registry
                .tenants
                .entry(tenant.to_string())
                .or_default()
                .insert(name.to_string(), Arc::new(instance));
        }
        Ok(registry)
    }

    /// Every problem with the config against the catalog.
    pub fn check(catalog: &Catalog, config: &Config) -> Vec<RegistryError> {
        config
            .instances()
            .filter(|(_, _, i)| i.enabled)
            .filter_map(|(t, n, i)| resolve_checked(catalog, t, n, i).err())
            .collect()
    }

    /// One instance of a tenant.
    pub fn get(&self, tenant: &str, instance: &str) -> Option<&Arc<PluginInstance>> {
        self.tenants.get(tenant)?.get(instance)
    }

    /// A tenant's instances.
    pub fn tenant(&self, tenant: &str) -> impl Iterator<Item = (&String, &Arc<PluginInstance>)> {
        self.tenants.get(tenant).into_iter().flat_map(|m| m.iter())
    }

    /// Every instance.
    pub fn all(&self) -> impl Iterator<Item = &Arc<PluginInstance>> {
        self.tenants.values().flat_map(|m| m.values())
    }
}

fn resolve_checked<'a>(
    catalog: &'a Catalog,
    tenant: &str,
    name: &str,
    inst: &InstanceConfig,
) -> Result<&'a Arc<LoadedPlugin>, RegistryError> {
    let req = inst
        .version
        .as_deref()
        .and_then(|v| semver::VersionReq::parse(v).ok());
    let plugin = catalog.resolve(&inst.plugin, req.as_ref()).ok_or_else(|| {
        let installed = catalog.versions(&inst.plugin);
        if installed.is_empty() {
            RegistryError::UnknownPlugin {
                tenant: tenant.into(),
                instance: name.into(),
                plugin: inst.plugin.clone(),
            }
        } else {
            RegistryError::NoMatchingVersion {
                tenant: tenant.into(),
                instance: name.into(),
                plugin: inst.plugin.clone(),
                requirement: inst.version.clone().unwrap_or_default(),
                installed,
            }
        }
    })?;
    let declared = &plugin.manifest.capabilities;
    let grant_err = |message: String| RegistryError::Grant {
        tenant: tenant.into(),
        instance: name.into(),
        message,
    };
    for dir in inst.grants.files.keys() {
        if !declared.files.contains(dir) {
            return Err(grant_err(format!(
                "grants.files.{dir}: plugin `{}` does not declare that directory",
                plugin.manifest.id
            )));
        }
    }
    for db in inst.grants.sql.keys() {
        if !declared.sql.contains(db) {
            return Err(grant_err(format!(
                "grants.sql.{db}: plugin `{}` does not declare that database",
                plugin.manifest.id
            )));
        }
    }
    for secret in inst.secrets.keys() {
        if !declared.secrets.contains(secret) {
            return Err(grant_err(format!(
                "secrets.{secret}: plugin `{}` does not declare that secret",
                plugin.manifest.id
            )));
        }
    }
    Ok(plugin)
}

/// Build one instance from its config section.
pub fn build_instance(
    runtime: &Runtime,
    catalog: &Catalog,
    config: &Config,
    services: &Services,
    tenant: &str,
    name: &str,
    inst: &InstanceConfig,
) -> Result<PluginInstance, RegistryError> {
    let plugin = resolve_checked(catalog, tenant, name, inst)?;
    let ctx = InstanceContext {
        scope: Scope {
            tenant: tenant.into(),
            instance: name.into(),
        },
        plugin_id: plugin.manifest.id.clone(),
        effective: Effective::intersect(&plugin.manifest.capabilities, &inst.grants),
        settings: inst.settings.clone(),
        secrets: inst.secrets.clone(),
        limits: config.limits.with(&inst.limits),
        services: services.clone(),
    };
    Ok(runtime.instance(plugin.clone(), ctx))
}
