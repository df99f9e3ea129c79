//! Customer licenses: which tenants and modules a customer may run, with
//! limits, expiry and a grace period, signed by the vendor.
//!
//! File layout (JSON): `{"format": 1, "signer": "<key id>", "payload":
//! "<base64 of the license JSON>", "signature": "<base64>"}`. The signature
//! covers `hamgam-license-v1\n` followed by the payload bytes exactly as
//! encoded, so no canonical JSON is needed and any edit breaks it.
//!
//! A license is bound to its customer and to one installation (the id the
//! operator's config holds as `[trust] installation`), so copying it to
//! another host with the same tenant names does not make it work there.

use crate::bundle::TrustStore;
use crate::keys::SecretKey;
use crate::manifest::Tier;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Why a license was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    /// Not a license file, or a field is malformed.
    #[error("not a valid license file: {0}")]
    Format(String),
    /// Signed by a key that is not a vendor key.
    #[error("license is signed by unknown key {0}")]
    UnknownSigner(String),
    /// The signature does not verify: the license was edited.
    #[error("license signature does not verify with key {0} (the license was modified)")]
    BadSignature(String),
    /// The host's config does not say which customer or installation it is.
    #[error(
        "license {license_id} is bound to {field} `{issued_for}`, but the config sets no `[trust] {field}`: set it to this host's {field} id"
    )]
    Unbound {
        /// License serial.
        license_id: String,
        /// `customer` or `installation`.
        field: &'static str,
        /// What the license names.
        issued_for: String,
    },
    /// Issued for another customer or installation.
    #[error(
        "license {license_id} was issued for {field} `{issued_for}`, but this host is {field} `{this_host}` (`[trust] {field}`): a license runs only where it was issued for"
    )]
    WrongBinding {
        /// License serial.
        license_id: String,
        /// `customer` or `installation`.
        field: &'static str,
        /// What the license names.
        issued_for: String,
        /// What the config names.
        this_host: String,
    },
}

/// One module the customer is entitled to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entitlement {
    /// Plugin id.
    pub module: String,
    /// The tier it was sold as.
    pub tier: Tier,
    /// Last day of the entitlement; the license's own expiry when absent.
    #[serde(default)]
    pub expires: Option<NaiveDate>,
}

/// Limits the customer bought.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseLimits {
    /// Most ledger companies per tenant: distinct `company_code`s of its
    /// connector instances (an instance without one counts alone).
    pub companies: Option<u32>,
    /// Most tenants.
    pub tenants: Option<u32>,
}

/// The signed content of a license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct License {
    /// License serial.
    pub license_id: String,
    /// Customer id.
    pub customer: String,
    /// The installation (one host or cluster of the customer) the license
    /// is for; the operator config names it as `[trust] installation`.
    pub installation: String,
    /// Tenant ids the license covers.
    pub tenants: Vec<String>,
    /// Entitled modules.
    pub modules: Vec<Entitlement>,
    /// Limits.
    #[serde(default)]
    pub limits: LicenseLimits,
    /// Day of issue.
    pub issued: NaiveDate,
    /// Last valid day.
    pub expires: NaiveDate,
    /// Days after `expires` during which everything keeps running, loudly.
    pub grace_days: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    format: u32,
    signer: String,
    payload: String,
    signature: String,
}

/// Where a license (or one entitlement) stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Standing {
    /// Valid; `days_left` until expiry.
    Valid {
        /// Days until the last valid day.
        days_left: i64,
    },
    /// Past expiry, inside the grace period.
    Grace {
        /// Days of grace left.
        days_left: i64,
    },
    /// Past the grace period.
    Expired,
}

impl Standing {
    /// Whether orderable modules may run.
    pub fn usable(self) -> bool {
        !matches!(self, Standing::Expired)
    }
}

impl License {
    fn standing_for(&self, expires: NaiveDate, today: NaiveDate) -> Standing {
        let left = (expires - today).num_days();
        if left >= 0 {
            Standing::Valid { days_left: left }
        } else if -left <= i64::from(self.grace_days) {
            Standing::Grace {
                days_left: i64::from(self.grace_days) + left,
            }
        } else {
            Standing::Expired
        }
    }

    /// Refuse the license unless it was issued for this host's customer and
    /// installation (`[trust] customer`, `[trust] installation`).
    pub fn check_binding(
        &self,
        customer: Option<&str>,
        installation: Option<&str>,
    ) -> Result<(), LicenseError> {
        for (field, issued_for, this_host) in [
            ("customer", &self.customer, customer),
            ("installation", &self.installation, installation),
        ] {
            match this_host {
                None => {
                    return Err(LicenseError::Unbound {
                        license_id: self.license_id.clone(),
                        field,
                        issued_for: issued_for.clone(),
                    });
                }
                Some(h) if h != issued_for => {
                    return Err(LicenseError::WrongBinding {
                        license_id: self.license_id.clone(),
                        field,
                        issued_for: issued_for.clone(),
                        this_host: h.to_string(),
                    });
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The tier the vendor sold `module` as in this license, if any.
    pub fn entitlement_tier(&self, module: &str) -> Option<Tier> {
        self.modules
            .iter()
            .find(|m| m.module == module)
            .map(|m| m.tier)
    }

    /// The first day after `today` on which a standing (of the license or
    /// of one entitlement) changes: the day after an expiry, the day after
    /// a grace period ends, and, while anything is in grace, tomorrow (the
    /// countdown operators see). `None` once nothing will change.
    pub fn next_change(&self, today: NaiveDate) -> Option<NaiveDate> {
        let grace = chrono::Days::new(u64::from(self.grace_days));
        let one = chrono::Days::new(1);
        let mut ends = vec![self.expires];
        ends.extend(
            self.modules
                .iter()
                .filter_map(|m| m.expires)
                .map(|e| e.min(self.expires)),
        );
        let mut days = Vec::new();
        for end in ends {
            let after_expiry = end.checked_add_days(one);
            let after_grace = end
                .checked_add_days(grace)
                .and_then(|d| d.checked_add_days(one));
            days.extend(after_expiry);
            days.extend(after_grace);
            if matches!(self.standing_for(end, today), Standing::Grace { .. }) {
                days.extend(today.checked_add_days(one));
            }
        }
        days.into_iter().filter(|d| *d > today).min()
    }

    /// The license as a whole on `today`.
    pub fn standing(&self, today: NaiveDate) -> Standing {
        self.standing_for(self.expires, today)
    }

    /// Whether `tenant` may run orderable `module` on `today`, or which
    /// entitlement is missing.
    pub fn entitles(
        &self,
        tenant: &str,
        module: &str,
        today: NaiveDate,
    ) -> Result<Standing, String> {
        if !self.tenants.iter().any(|t| t == tenant) {
            return Err(format!(
                "license {} does not cover tenant `{tenant}`",
                self.license_id
            ));
        }
        let Some(e) = self.modules.iter().find(|m| m.module == module) else {
            return Err(format!(
                "license {} has no entitlement for module `{module}`",
                self.license_id
            ));
        };
        let expires = e.expires.unwrap_or(self.expires).min(self.expires);
        match self.standing_for(expires, today) {
            Standing::Expired => Err(format!(
                "entitlement for module `{module}` in license {} expired on {expires} and its grace period has ended",
                self.license_id
            )),
            s => Ok(s),
        }
    }

    /// Sign this license with a vendor key into the file format.
    pub fn sign(&self, key: &SecretKey) -> Result<String, LicenseError> {
        let payload = serde_json::to_vec(self).map_err(|e| LicenseError::Format(e.to_string()))?;
        let mut message = b"hamgam-license-v1\n".to_vec();
        message.extend_from_slice(&payload);
        let env = Envelope {
            format: 1,
            signer: key.public().id(),
            payload: B64.encode(&payload),
            signature: B64.encode(key.sign(&message)),
        };
        serde_json::to_string_pretty(&env).map_err(|e| LicenseError::Format(e.to_string()))
    }

    /// Verify a license file against the vendor keys.
    pub fn verify(text: &str, trust: &TrustStore) -> Result<License, LicenseError> {
        let env: Envelope =
            serde_json::from_str(text).map_err(|e| LicenseError::Format(e.to_string()))?;
        if env.format != 1 {
            return Err(LicenseError::Format(format!(
                "unsupported license format {}",
                env.format
            )));
        }
        let key = trust
            .vendor_keys()
            .iter()
            .find(|k| k.id() == env.signer)
            .ok_or_else(|| LicenseError::UnknownSigner(env.signer.clone()))?;
        let payload = B64
            .decode(&env.payload)
            .map_err(|_| LicenseError::Format("payload is not base64".into()))?;
        let signature = B64
            .decode(&env.signature)
            .map_err(|_| LicenseError::BadSignature(env.signer.clone()))?;
        let mut message = b"hamgam-license-v1\n".to_vec();
        message.extend_from_slice(&payload);
        if !key.verify(&message, &signature) {
            return Err(LicenseError::BadSignature(env.signer));
        }
        serde_json::from_slice(&payload).map_err(|e| LicenseError::Format(format!("payload: {e}")))
    }

    /// Read the payload without verifying (for `license inspect` to show
    /// what a refused license claims).
    pub fn peek(text: &str) -> Result<License, LicenseError> {
        let env: Envelope =
            serde_json::from_str(text).map_err(|e| LicenseError::Format(e.to_string()))?;
        let payload = B64
            .decode(&env.payload)
            .map_err(|_| LicenseError::Format("payload is not base64".into()))?;
        serde_json::from_slice(&payload).map_err(|e| LicenseError::Format(format!("payload: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn sample() -> License {
        License {
            license_id: "L-1".into(),
            customer: "acme".into(),
            installation: "acme-prod".into(),
            tenants: vec!["acme".into()],
            modules: vec![
                Entitlement {
                    module: "warranty".into(),
                    tier: Tier::Orderable,
                    expires: None,
                },
                Entitlement {
                    module: "woocommerce".into(),
                    tier: Tier::Orderable,
                    expires: Some(day("2026-06-30")),
                },
            ],
            limits: LicenseLimits {
                companies: Some(2),
                tenants: Some(1),
            },
            issued: day("2026-01-01"),
            expires: day("2026-12-31"),
            grace_days: 14,
        }
    }

    #[test]
    fn p4_signed_license_verifies_and_edits_break_it() {
        let vendor = SecretKey::generate().unwrap();
        let trust = TrustStore::new(vec![vendor.public()], vec![]).unwrap();
        let text = sample().sign(&vendor).unwrap();
        assert_eq!(License::verify(&text, &trust).unwrap(), sample());
        // Change the module list inside the payload, keep the signature.
        let mut env: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut changed = sample();
        changed.modules.push(Entitlement {
            module: "production".into(),
            tier: Tier::Orderable,
            expires: None,
        });
        env["payload"] = B64.encode(serde_json::to_vec(&changed).unwrap()).into();
        let err = License::verify(&env.to_string(), &trust).unwrap_err();
        assert!(matches!(err, LicenseError::BadSignature(_)), "{err}");
        assert!(err.to_string().contains("modified"));
        // Signed by someone else.
        let other = SecretKey::generate().unwrap();
        let err = License::verify(&sample().sign(&other).unwrap(), &trust).unwrap_err();
        assert!(matches!(err, LicenseError::UnknownSigner(_)), "{err}");
    }

    #[test]
    fn p4_standing_follows_expiry_and_grace() {
        let l = sample();
        assert_eq!(
            l.standing(day("2026-12-31")),
            Standing::Valid { days_left: 0 }
        );
        assert_eq!(
            l.standing(day("2027-01-01")),
            Standing::Grace { days_left: 13 }
        );
        assert_eq!(
            l.standing(day("2027-01-14")),
            Standing::Grace { days_left: 0 }
        );
        assert_eq!(l.standing(day("2027-01-15")), Standing::Expired);
    }

    #[test]
    fn p4_entitlements_name_what_is_missing() {
        let l = sample();
        assert!(l.entitles("acme", "warranty", day("2026-05-01")).is_ok());
        let err = l
            .entitles("acme", "production", day("2026-05-01"))
            .unwrap_err();
        assert!(err.contains("`production`"), "{err}");
        let err = l
            .entitles("globex", "warranty", day("2026-05-01"))
            .unwrap_err();
        assert!(err.contains("`globex`"), "{err}");
        // A module entitlement can end before the license does.
        assert!(
            l.entitles("acme", "woocommerce", day("2026-07-10")).is_ok(),
            "within grace"
        );
        let err = l
            .entitles("acme", "woocommerce", day("2026-07-20"))
            .unwrap_err();
        assert!(err.contains("2026-06-30"), "{err}");
    }

    #[test]
    fn p4_license_for_another_installation_or_customer_is_refused() {
        let l = sample();
        assert_eq!(l.check_binding(Some("acme"), Some("acme-prod")), Ok(()));
        let err = l
            .check_binding(Some("acme"), Some("globex-prod"))
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("installation `acme-prod`")
                && msg.contains("`globex-prod`")
                && msg.contains("[trust] installation"),
            "{msg}"
        );
        let err = l
            .check_binding(Some("globex"), Some("acme-prod"))
            .unwrap_err();
        assert!(
            matches!(
                &err,
                LicenseError::WrongBinding {
                    field: "customer",
                    ..
                }
            ),
            "{err}"
        );
        let err = l.check_binding(Some("acme"), None).unwrap_err();
        assert!(
            err.to_string().contains("sets no `[trust] installation`"),
            "{err}"
        );
    }

    #[test]
    fn p4_next_change_is_the_day_after_each_expiry_and_grace_end() {
        let l = sample();
        // woocommerce's entitlement ends 2026-06-30, grace 14 days; the
        // license ends 2026-12-31.
        assert_eq!(l.next_change(day("2026-05-01")), Some(day("2026-07-01")));
        // In grace: every day (the countdown), up to the end of grace.
        assert_eq!(l.next_change(day("2026-07-01")), Some(day("2026-07-02")));
        assert_eq!(l.next_change(day("2026-07-14")), Some(day("2026-07-15")));
        assert_eq!(l.next_change(day("2026-07-15")), Some(day("2027-01-01")));
        assert_eq!(l.next_change(day("2027-01-14")), Some(day("2027-01-15")));
        assert_eq!(l.next_change(day("2027-01-15")), None);
    }
}
