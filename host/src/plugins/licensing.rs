//! Trust and licensing as the host applies them: which signers it trusts,
//! which license is in force, and whether a configured instance may run
//! given its module's tier (P3, P4).

use crate::config::{Config, ConfigError};
use crate::runtime::LoadedPlugin;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use hamgam_trust::bundle::{Endorsement, TrustStore};
use hamgam_trust::keys::PublicKey;
use hamgam_trust::license::{License, Standing};
use hamgam_trust::manifest::Tier;

/// What the host trusts, built from `[trust]`.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// Trusted signers.
    pub store: TrustStore,
    /// Whether bare `*.wasm` files load (development only).
    pub allow_unsigned: bool,
}

impl TrustPolicy {
    /// Build from the config; a partner entry the vendor did not endorse
    /// is an error naming it.
    pub fn from_config(config: &Config) -> Result<TrustPolicy, ConfigError> {
        let field = |field: String, message: String| ConfigError::Field { field, message };
        let mut vendor = Vec::new();
        for (i, k) in config.trust.vendor_keys.iter().enumerate() {
            vendor.push(
                PublicKey::parse(k)
                    .map_err(|e| field(format!("trust.vendor_keys[{i}]"), e.to_string()))?,
            );
        }
        for (i, path) in config.trust.vendor_key_files.iter().enumerate() {
            let at = format!("trust.vendor_key_files[{i}]");
            let text = std::fs::read_to_string(path)
                .map_err(|e| field(at.clone(), format!("cannot read {}: {e}", path.display())))?;
            vendor.push(PublicKey::parse(&text).map_err(|e| field(at, e.to_string()))?);
        }
        let mut endorsements = Vec::new();
        for (i, p) in config.trust.partners.iter().enumerate() {
            let key = PublicKey::parse(&p.key)
                .map_err(|e| field(format!("trust.partners[{i}].key"), e.to_string()))?;
            let signature = base64::engine::general_purpose::STANDARD
                .decode(&p.endorsement)
                .map_err(|_| {
                    field(
                        format!("trust.partners[{i}].endorsement"),
                        "not base64".into(),
                    )
                })?;
            endorsements.push(Endorsement {
                key,
                partner: p.partner.clone(),
                scope: p.scope.clone(),
                signature,
            });
        }
        let store = TrustStore::new(vendor, endorsements)
            .map_err(|e| field("trust.partners".into(), e.to_string()))?;
        Ok(TrustPolicy {
            store,
            allow_unsigned: config.trust.allow_unsigned,
        })
    }
}

/// The license in force, or why there is none.
#[derive(Debug, Clone)]
pub struct LicenseState {
    /// The verified license.
    pub license: Option<License>,
    /// Why no license is in force (missing, refused…).
    pub problem: Option<String>,
    /// The day decisions are made for.
    pub today: NaiveDate,
}

impl LicenseState {
    /// Read and verify `[trust] license`, for `today`. A license issued
    /// for another customer or installation than `[trust] customer` and
    /// `[trust] installation` is refused like a tampered one.
    pub fn load(config: &Config, trust: &TrustPolicy, today: NaiveDate) -> LicenseState {
        let Some(path) = &config.trust.license else {
            return LicenseState {
                license: None,
                problem: Some("no license configured ([trust] license)".into()),
                today,
            };
        };
        let result = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read license {}: {e}", path.display()))
            .and_then(|text| {
                License::verify(&text, &trust.store)
                    .and_then(|l| {
                        l.check_binding(
                            config.trust.customer.as_deref(),
                            config.trust.installation.as_deref(),
                        )?;
                        Ok(l)
                    })
                    .map_err(|e| format!("license {} refused: {e}", path.display()))
            });
        match result {
            Ok(license) => {
                let state = LicenseState {
                    license: Some(license),
                    problem: None,
                    today,
                };
                state.warn_if_needed();
                state
            }
            Err(problem) => {
                tracing::error!("{problem}; orderable modules will not run");
                LicenseState {
                    license: None,
                    problem: Some(problem),
                    today,
                }
            }
        }
    }

    /// The license's standing today, if there is one.
    pub fn standing(&self) -> Option<Standing> {
        self.license.as_ref().map(|l| l.standing(self.today))
    }

    /// The instant (UTC midnight) at which the license's standing or one
    /// entitlement's changes next, so the host re-decides then instead of
    /// running on a standing computed for a day that has passed.
    pub fn next_change(&self) -> Option<DateTime<Utc>> {
        let day = self.license.as_ref()?.next_change(self.today)?;
        Some(day.and_time(chrono::NaiveTime::MIN).and_utc())
    }

    fn warn_if_needed(&self) {
        match (self.standing(), &self.license) {
            (Some(Standing::Grace { days_left }), Some(l)) => tracing::warn!(
                license = %l.license_id,
                expired = %l.expires,
                days_left,
                "LICENSE EXPIRED: running in its grace period; orderable modules stop in {days_left} day(s)"
            ),
            (Some(Standing::Expired), Some(l)) => tracing::error!(
                license = %l.license_id,
                expired = %l.expires,
                "LICENSE EXPIRED and its grace period has ended: orderable modules are stopped"
            ),
            _ => {}
        }
    }

    /// Whether `tenant` may use orderable `module` today, or why not.
    pub fn entitlement(&self, tenant: &str, module: &str) -> Result<Standing, String> {
        match &self.license {
            Some(l) => l.entitles(tenant, module, self.today),
            None => Err(self.problem.clone().unwrap_or_else(|| "no license".into())),
        }
    }
}

/// The tier a plugin runs under: the vendor's word, never a partner's.
/// Vendor-signed (and, in development, unsigned) plugins run under their
/// manifest's tier. A partner-signed one runs under the tier the vendor's
/// license gives its id, and without one it is orderable, so it never
/// runs unentitled by stamping `tier = "default"` into its own manifest.
pub fn effective_tier(plugin: &LoadedPlugin, license: &LicenseState) -> Tier {
    if plugin.partner.is_none() {
        return plugin.manifest.tier;
    }
    license
        .license
        .as_ref()
        .and_then(|l| l.entitlement_tier(&plugin.manifest.id))
        .unwrap_or(Tier::Orderable)
}

/// Whether an instance runs, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// It runs; a warning when its entitlement is in grace.
    Run {
        /// Shown in logs and the admin API.
        warning: Option<String>,
    },
    /// It does not run, for this reason.
    Off(String),
}

/// The tier rule (P3): default modules run unless disabled; installable
/// ones when enabled; orderable ones when enabled and entitled.
pub fn decide(
    tier: Tier,
    enabled: Option<bool>,
    tenant: &str,
    module: &str,
    license: &LicenseState,
) -> Decision {
    match (tier, enabled) {
        (_, Some(false)) => Decision::Off("disabled by the operator (enabled = false)".into()),
        (Tier::Default, _) => Decision::Run { warning: None },
        (Tier::Installable, Some(true)) => Decision::Run { warning: None },
        (Tier::Installable, None) => {
            Decision::Off("installable module: set enabled = true to run it".into())
        }
        (Tier::Orderable, None) => Decision::Off(
            "orderable module: set enabled = true to run it (a license entitlement is needed too)"
                .into(),
        ),
        (Tier::Orderable, Some(true)) => match license.entitlement(tenant, module) {
            Ok(Standing::Grace { days_left }) => Decision::Run {
                warning: Some(format!(
                    "entitlement for `{module}` has expired; {days_left} day(s) of grace left"
                )),
            },
            Ok(_) => Decision::Run { warning: None },
            Err(why) => Decision::Off(why),
        },
    }
}
