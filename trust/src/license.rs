//! Customer licenses: which tenants and modules a customer may run, with
//! limits, expiry and a grace period, signed by the vendor.
//!
//! File layout (JSON): `{"format": 1, "signer": "<key id>", "payload":
//! "<base64 of the license JSON>", "signature": "<base64>"}`. The signature
//! covers `hamgam-license-v1\n` followed by the payload bytes exactly as
//! encoded, so no canonical JSON is needed and any edit breaks it.

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
}
