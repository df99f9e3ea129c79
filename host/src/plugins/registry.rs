//! The registry: which plugins are installed (the catalog) and which
//! instances each tenant runs (built from the operator config).

use super::licensing::{Decision, LicenseState, TrustPolicy, decide, effective_tier};
use crate::config::{Config, InstanceConfig};
use crate::runtime::backends::Scope;
use crate::runtime::grants::Effective;
use crate::runtime::instance::{InstanceContext, PluginInstance, Services};
use crate::runtime::{LoadedPlugin, Runtime};
use hamgam_trust::bundle::{Signer, VerifiedBundle};
use hamgam_trust::manifest::{PluginKind, Tier};
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
    /// Load every signed bundle (`*.hgb`) in a directory, and bare
    /// components (`*.wasm`) when the policy allows unsigned plugins. A
    /// bundle is verified before it is compiled; a bad file is recorded in
    /// `rejected` and logged, and does not stop the others.
    ///
    /// A plugin id that a vendor-signed bundle carries belongs to the
    /// vendor: partner bundles of that id are refused even when the
    /// partner's scope would cover it, so a partner can never replace a
    /// vendor plugin for unpinned instances (which take the newest version).
    pub fn load_dir(
        runtime: &Runtime,
        dir: &Path,
        policy: &TrustPolicy,
    ) -> std::io::Result<Catalog> {
        let mut catalog = Catalog::default();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm" || x == "hgb"))
            .collect();
        paths.sort();
        // Verify every file first (cheap), compile only what is accepted.
        let verified: Vec<(PathBuf, Result<Checked, String>)> = paths
            .into_iter()
            .map(|path| {
                let checked = check_one(&path, policy);
                (path, checked)
            })
            .collect();
        let vendor_ids: std::collections::BTreeSet<String> = verified
            .iter()
            .filter_map(|(_, c)| match c {
                Ok(Checked::Bundle(b)) if matches!(b.signer, Signer::Vendor(_)) => {
                    Some(b.manifest.id.clone())
                }
                _ => None,
            })
            .collect();
        for (path, checked) in verified {
            let loaded = checked.and_then(|c| match c {
                Checked::Bundle(b)
                    if matches!(b.signer, Signer::Partner { .. })
                        && vendor_ids.contains(&b.manifest.id) =>
                {
                    Err(format!(
                        "plugin id `{}` belongs to the vendor (a vendor-signed bundle of it is installed); a partner key may not publish it",
                        b.manifest.id
                    ))
                }
                c => compile(runtime, c),
            });
            match loaded {
                Ok(p) => {
                    tracing::info!(plugin = %p.manifest.id, version = %p.manifest.version, digest = %&p.digest[..12], signer = p.signer.as_deref().unwrap_or("unsigned"), "plugin loaded");
                    catalog.insert(Arc::new(p));
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), "plugin rejected: {e}");
                    catalog.rejected.push((path, e));
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

    /// Installed versions of `id` matching `requirement` (any when none),
    /// newest first: the order in which upgrades are tried and rolled back.
    pub fn matching(
        &self,
        id: &str,
        requirement: Option<&semver::VersionReq>,
    ) -> Vec<Arc<LoadedPlugin>> {
        self.plugins
            .get(id)
            .map(|versions| {
                versions
                    .iter()
                    .rev()
                    .filter(|(v, _)| requirement.is_none_or(|r| r.matches(v)))
                    .map(|(_, p)| p.clone())
                    .collect()
            })
            .unwrap_or_default()
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

/// A plugin file that passed its trust check and awaits compiling.
enum Checked {
    /// A verified bundle.
    Bundle(Box<VerifiedBundle>),
    /// A bare component, allowed by `allow_unsigned`.
    Unsigned(Vec<u8>),
}

fn check_one(path: &Path, policy: &TrustPolicy) -> Result<Checked, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    if path.extension().is_some_and(|x| x == "hgb") {
        hamgam_trust::bundle::verify(&bytes, &policy.store)
            .map(|b| Checked::Bundle(Box::new(b)))
            .map_err(|e| e.to_string())
    } else if policy.allow_unsigned {
        Ok(Checked::Unsigned(bytes))
    } else {
        Err("unsigned component refused ([trust] allow_unsigned is off); ship it as a signed bundle (cargo xtask sign)".into())
    }
}

fn compile(runtime: &Runtime, checked: Checked) -> Result<LoadedPlugin, String> {
    match checked {
        Checked::Bundle(verified) => {
            let (signer, partner) = match &verified.signer {
                Signer::Vendor(k) => (format!("vendor key {k}"), None),
                Signer::Partner { key, partner, .. } => (
                    format!("partner {partner} (key {key})"),
                    Some(partner.clone()),
                ),
            };
            let mut plugin = runtime
                .load(&verified.component)
                .map_err(|e| e.to_string())?;
            plugin.signer = Some(signer);
            plugin.partner = partner;
            Ok(plugin)
        }
        Checked::Unsigned(bytes) => runtime.load(&bytes).map_err(|e| e.to_string()),
    }
}

/// Whether a configured instance runs, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InstanceStatus {
    /// Tenant id.
    pub tenant: String,
    /// Instance name.
    pub instance: String,
    /// Plugin id from the config.
    pub plugin: String,
    /// Version in service, when running.
    pub version: Option<String>,
    /// The module's tier, when installed.
    pub tier: Option<Tier>,
    /// Running or not.
    pub running: bool,
    /// Why it does not run.
    pub reason: Option<String>,
    /// A warning while running (entitlement in grace…).
    pub warning: Option<String>,
    /// Versions that failed their health check, newest first, with why.
    pub rolled_back: Vec<String>,
}

/// Instances by tenant and name, and the status of every configured one.
#[derive(Default)]
pub struct Registry {
    tenants: BTreeMap<String, BTreeMap<String, Arc<PluginInstance>>>,
    statuses: Vec<InstanceStatus>,
}

impl Registry {
    /// Build the instances the config, the tiers and the license allow.
    /// Each candidate version is health-checked (instantiated and probed
    /// under the tenant's own limits) before it serves; a failing version
    /// is skipped for the next older one that matches, so a bad upgrade
    /// rolls the tenant back. Problems never fail the build: they become
    /// the instance's status.
    pub async fn build(
        runtime: &Runtime,
        catalog: &Catalog,
        config: &Config,
        services: &Services,
        license: &LicenseState,
    ) -> Registry {
        let mut registry = Registry::default();
        let limits = license
            .license
            .as_ref()
            .map(|l| l.limits)
            .unwrap_or_default();
        // Ledger companies in use per tenant: distinct `company_code`s of
        // its connector instances (a shop selling for company 300 is not a
        // second company beside the books of 300); an instance without one
        // counts alone.
        let mut companies: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        // The tenants limit caps how many tenants run orderable modules:
        // the first ones by id, so the choice is stable across restarts.
        let orderable_tenants: Vec<&String> = config
            .tenants
            .keys()
            .take(limits.tenants.map_or(usize::MAX, |n| n as usize))
            .collect();
        for (tenant, name, inst) in config.instances() {
            let mut status = InstanceStatus {
                tenant: tenant.into(),
                instance: name.into(),
                plugin: inst.plugin.clone(),
                version: None,
                tier: None,
                running: false,
                reason: None,
                warning: None,
                rolled_back: Vec::new(),
            };
            let candidates = match resolve_checked(catalog, tenant, name, inst) {
                Ok(c) => c,
                Err(e) => {
                    status.reason = Some(e.to_string());
                    registry.push_status(status);
                    continue;
                }
            };
            let newest = &candidates[0].manifest;
            let tier = effective_tier(&candidates[0], license);
            status.tier = Some(tier);
            match decide(tier, inst.enabled, tenant, &newest.id, license) {
                Decision::Off(why) => {
                    status.reason = Some(match &candidates[0].partner {
                        Some(partner) if tier != newest.tier => format!(
                            "{why} (a plugin of partner {partner} runs under the tier the vendor's license gives it, {tier:?}, not its manifest's {:?})",
                            newest.tier
                        ),
                        _ => why,
                    });
                    registry.push_status(status);
                    continue;
                }
                Decision::Run { warning } => status.warning = warning,
            }
            if tier == Tier::Orderable && !orderable_tenants.iter().any(|t| t.as_str() == tenant) {
                let max = limits.tenants.unwrap_or_default();
                status.reason = Some(format!(
                    "the license allows orderable modules for {max} tenant(s); `{tenant}` is beyond that"
                ));
                registry.push_status(status);
                continue;
            }
            if newest.kind == PluginKind::Connector
                && let Some(max) = limits.companies
            {
                let company = inst
                    .settings
                    .get("company_code")
                    .map(|c| format!("company {}", c.trim()))
                    .unwrap_or_else(|| format!("instance {name}"));
                let used = companies.entry(tenant.to_string()).or_default();
                if !used.contains(&company) && used.len() as u32 >= max {
                    status.reason = Some(format!(
                        "the license allows {max} ledger compan{} per tenant",
                        if max == 1 { "y" } else { "ies" }
                    ));
                    registry.push_status(status);
                    continue;
                }
                used.insert(company);
            }
            for plugin in candidates {
                let instance = Arc::new(make_instance(
                    runtime,
                    config,
                    services,
                    tenant,
                    name,
                    inst,
                    plugin.clone(),
                ));
                match instance.probe().await {
                    Ok(()) => {
                        status.version = Some(plugin.manifest.version.to_string());
                        status.running = true;
                        registry
                            .tenants
                            .entry(tenant.to_string())
                            .or_default()
                            .insert(name.to_string(), instance);
                        break;
                    }
                    Err(why) => {
                        tracing::error!(tenant, instance = name, plugin = %plugin.manifest.id, version = %plugin.manifest.version, "health check failed, trying an older version: {why}");
                        status
                            .rolled_back
                            .push(format!("{}: {why}", plugin.manifest.version));
                    }
                }
            }
            if !status.running {
                status.reason = Some("no installed version passed its health check".into());
            }
            if !status.rolled_back.is_empty() && status.running {
                tracing::warn!(tenant, instance = name, version = ?status.version, "rolled back: {}", status.rolled_back.join("; "));
            }
            registry.push_status(status);
        }
        registry
    }

    fn push_status(&mut self, status: InstanceStatus) {
        if let Some(reason) = &status.reason {
            tracing::info!(tenant = %status.tenant, instance = %status.instance, "not running: {reason}");
        }
        self.statuses.push(status);
    }

    /// The status of every configured instance.
    pub fn statuses(&self) -> &[InstanceStatus] {
        &self.statuses
    }

    /// Every problem with the config against the catalog.
    pub fn check(catalog: &Catalog, config: &Config) -> Vec<RegistryError> {
        config
            .instances()
            .filter(|(_, _, i)| i.enabled != Some(false))
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

/// Installed versions matching the instance's requirement, newest first,
/// after checking its grants against what the plugin declares.
fn resolve_checked(
    catalog: &Catalog,
    tenant: &str,
    name: &str,
    inst: &InstanceConfig,
) -> Result<Vec<Arc<LoadedPlugin>>, RegistryError> {
    let req = inst
        .version
        .as_deref()
        .and_then(|v| semver::VersionReq::parse(v).ok());
    let candidates = catalog.matching(&inst.plugin, req.as_ref());
    let Some(plugin) = candidates.first() else {
        let installed = catalog.versions(&inst.plugin);
        return Err(if installed.is_empty() {
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
        });
    };
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
    for (db, grant) in &inst.grants.sql {
        crate::runtime::sql_gate::check_grant(&declared.sql, db, grant)
            .map_err(|message| grant_err(format!("{message} (plugin `{}`)", plugin.manifest.id)))?;
    }
    for (kind, access) in &inst.grants.entities {
        let asked = declared.entities.get(kind).copied().unwrap_or_default();
        if *access > asked {
            return Err(grant_err(format!(
                "grants.entities.{kind}: plugin `{}` declares {} access to it",
                plugin.manifest.id,
                match asked {
                    crate::plugins::manifest::CrmAccess::None => "no",
                    crate::plugins::manifest::CrmAccess::Read => "only read",
                    crate::plugins::manifest::CrmAccess::ReadWrite => "read-write",
                }
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
    Ok(candidates)
}

/// The tenant's CRM settings as the API applies them: the configured
/// ones (checked when the config loaded), else the defaults.
fn tenant_crm(config: &Config, tenant: &str) -> crate::crm::settings::CrmSettings {
    config
        .tenants
        .get(tenant)
        .and_then(|t| t.crm.settings(&format!("tenants.{tenant}")).ok())
        .unwrap_or_default()
}

fn make_instance(
    runtime: &Runtime,
    config: &Config,
    services: &Services,
    tenant: &str,
    name: &str,
    inst: &InstanceConfig,
    plugin: Arc<LoadedPlugin>,
) -> PluginInstance {
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
        crm: Arc::new(tenant_crm(config, tenant)),
        records: plugin.records.clone(),
        declared: std::sync::OnceLock::new(),
        services: services.clone(),
    };
    runtime.instance(plugin, ctx)
}
