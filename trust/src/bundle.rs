//! Signed plugin bundles: one file per plugin version, the component (which
//! carries its manifest) plus who signed it.
//!
//! Layout (`.hgb`):
//!
//! ```text
//! "HGBNDL01"            8 bytes, magic and format version
//! header length         u32, little endian, at most 64 KiB
//! header                JSON: format, id, version, digest, signer, signature
//! component             the rest: the wasm component, manifest section inside
//! ```
//!
//! The signature covers `hamgam-bundle-v1\n{id}\n{version}\n{digest}` where
//! `digest` is the SHA-256 of the component bytes. Since the manifest sits
//! inside the component, one signature covers code and declared
//! capabilities alike. Verification happens before anything is compiled.
//!
//! A partner key signs only inside the namespace the vendor endorsed for it
//! ([`IdScope`]): the vendor's signature over the endorsement covers the
//! partner's name, key and scope, so a partner can neither widen its scope
//! nor publish a vendor plugin id (`sepidar@99.0.0`) to take over unpinned
//! instances.

use crate::keys::{PublicKey, SecretKey};
use crate::manifest::{Manifest, ManifestError};
use crate::scope::{IdScope, ScopeError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"HGBNDL01";
const MAX_HEADER: usize = 64 * 1024;

/// Why a bundle was refused. Each message names the reason.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Not a bundle at all, or truncated.
    #[error("not a Hamgam bundle: {0}")]
    Format(String),
    /// The component's bytes do not hash to the signed digest.
    #[error("bundle content does not match its signed digest (the file was modified)")]
    DigestMismatch,
    /// Signed by a key the host does not trust.
    #[error("bundle is signed by unknown key {0}")]
    UnknownSigner(String),
    /// The signature does not verify with the named key.
    #[error("bundle signature does not verify with key {0} (altered or re-signed)")]
    BadSignature(String),
    /// The component's manifest disagrees with the bundle header.
    #[error("bundle header says {header} but the component's manifest says {manifest}")]
    Mismatch {
        /// id@version in the header.
        header: String,
        /// id@version in the manifest.
        manifest: String,
    },
    /// The manifest inside is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A partner key's endorsement does not verify.
    #[error(
        "partner key {0} is not endorsed by a vendor key (the endorsement covers partner name, key and scope; re-issue it with `cargo xtask endorse`)"
    )]
    NotEndorsed(String),
    /// An endorsement's scope is malformed.
    #[error("partner key {key}: {source}")]
    Scope {
        /// Key id.
        key: String,
        /// What is wrong with the scope.
        source: ScopeError,
    },
    /// A partner signed a plugin id outside the namespace the vendor
    /// endorsed for it.
    #[error(
        "plugin `{id}` is signed by partner {partner} (key {key}), whose endorsement allows only {scope}: a partner key may sign only plugin ids inside its endorsed scope"
    )]
    OutsideScope {
        /// Plugin id of the bundle.
        id: String,
        /// Partner name.
        partner: String,
        /// Key id.
        key: String,
        /// The endorsed patterns.
        scope: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: u32,
    id: String,
    version: String,
    digest: String,
    signer: String,
    signature: String,
}

/// A key the vendor has endorsed for a partner, as the operator lists it.
#[derive(Debug, Clone)]
pub struct Endorsement {
    /// The partner's public key.
    pub key: PublicKey,
    /// The partner's name, part of what the vendor signed.
    pub partner: String,
    /// Plugin ids the partner may sign (`acme-*`, `acme-notes`), part of
    /// what the vendor signed.
    pub scope: Vec<String>,
    /// The vendor's signature over [`endorsement_message`].
    pub signature: Vec<u8>,
}

/// What a vendor signs to endorse a partner key: name, key and scope, so
/// none of them can be changed without the vendor. Scope patterns hold no
/// newline or comma (see [`IdScope`]), so the joined form is unambiguous.
pub fn endorsement_message(partner: &str, key: &PublicKey, scope: &[String]) -> Vec<u8> {
    format!("hamgam-partner-v2\n{partner}\n{key}\n{}", scope.join(",")).into_bytes()
}

#[derive(Debug, Clone)]
struct Partner {
    key: PublicKey,
    name: String,
    scope: IdScope,
}

/// The keys a host trusts.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    vendor: Vec<PublicKey>,
    partners: Vec<Partner>,
}

/// Who signed a verified bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// A vendor key.
    Vendor(String),
    /// An endorsed partner key.
    Partner {
        /// Key id.
        key: String,
        /// Partner name.
        partner: String,
        /// The endorsed scope, as written (`acme-*, acme-notes`).
        scope: String,
    },
}

impl TrustStore {
    /// Trust these vendor keys and the partner keys they endorsed. An
    /// endorsement that no vendor key verifies is an error, so a forged
    /// partner entry in the config is caught at start, not ignored.
    pub fn new(
        vendor: Vec<PublicKey>,
        endorsements: Vec<Endorsement>,
    ) -> Result<TrustStore, BundleError> {
        let mut partners = Vec::new();
        for e in endorsements {
            let scope = IdScope::parse(&e.scope).map_err(|source| BundleError::Scope {
                key: e.key.id(),
                source,
            })?;
            let msg = endorsement_message(&e.partner, &e.key, &e.scope);
            if !vendor.iter().any(|v| v.verify(&msg, &e.signature)) {
                return Err(BundleError::NotEndorsed(e.key.id()));
            }
            partners.push(Partner {
                key: e.key,
                name: e.partner,
                scope,
            });
        }
        Ok(TrustStore { vendor, partners })
    }

    /// The vendor keys (licenses are verified against these only).
    pub fn vendor_keys(&self) -> &[PublicKey] {
        &self.vendor
    }

    fn find(&self, id: &str) -> Option<(&PublicKey, Signer, Option<&IdScope>)> {
        if let Some(k) = self.vendor.iter().find(|k| k.id() == id) {
            return Some((k, Signer::Vendor(k.id()), None));
        }
        self.partners.iter().find(|p| p.key.id() == id).map(|p| {
            (
                &p.key,
                Signer::Partner {
                    key: p.key.id(),
                    partner: p.name.clone(),
                    scope: p.scope.to_string(),
                },
                Some(&p.scope),
            )
        })
    }
}

/// A bundle whose signature, digest and manifest all check out.
#[derive(Debug)]
pub struct VerifiedBundle {
    /// The manifest from inside the component.
    pub manifest: Manifest,
    /// SHA-256 of the component, hex.
    pub digest: String,
    /// Who signed it.
    pub signer: Signer,
    /// The component bytes, ready to compile.
    pub component: Vec<u8>,
}

fn signed_message(id: &str, version: &str, digest: &str) -> Vec<u8> {
    format!("hamgam-bundle-v1\n{id}\n{version}\n{digest}").into_bytes()
}

/// Wrap a component (with its manifest section) into a signed bundle.
pub fn sign(component: &[u8], key: &SecretKey) -> Result<Vec<u8>, BundleError> {
    let manifest = Manifest::from_component(component)?;
    let digest = hex::encode(Sha256::digest(component));
    let version = manifest.version.to_string();
    let signature = key.sign(&signed_message(&manifest.id, &version, &digest));
    let header = Header {
        format: 1,
        id: manifest.id,
        version,
        digest,
        signer: key.public().id(),
        signature: B64.encode(signature),
    };
    let header = serde_json::to_vec(&header).map_err(|e| BundleError::Format(e.to_string()))?;
    let mut out = Vec::with_capacity(12 + header.len() + component.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(component);
    Ok(out)
}

struct Parsed<'a> {
    header: Header,
    component: &'a [u8],
}

fn parse(bytes: &[u8]) -> Result<Parsed<'_>, BundleError> {
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        return Err(BundleError::Format("missing `HGBNDL01` magic".into()));
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(&bytes[8..12]);
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_HEADER || 12 + len > bytes.len() {
        return Err(BundleError::Format(format!(
            "header length {len} is out of bounds"
        )));
    }
    let header: Header = serde_json::from_slice(&bytes[12..12 + len])
        .map_err(|e| BundleError::Format(format!("bad header: {e}")))?;
    if header.format != 1 {
        return Err(BundleError::Format(format!(
            "unsupported bundle format {}",
            header.format
        )));
    }
    Ok(Parsed {
        header,
        component: &bytes[12 + len..],
    })
}

/// Check a bundle against the trusted keys. Nothing of it should be
/// compiled or run unless this returns `Ok`.
pub fn verify(bytes: &[u8], trust: &TrustStore) -> Result<VerifiedBundle, BundleError> {
    let Parsed { header, component } = parse(bytes)?;
    let digest = hex::encode(Sha256::digest(component));
    if digest != header.digest {
        return Err(BundleError::DigestMismatch);
    }
    let (key, signer, scope) = trust
        .find(&header.signer)
        .ok_or_else(|| BundleError::UnknownSigner(header.signer.clone()))?;
    let signature = B64
        .decode(&header.signature)
        .map_err(|_| BundleError::BadSignature(header.signer.clone()))?;
    if !key.verify(
        &signed_message(&header.id, &header.version, &header.digest),
        &signature,
    ) {
        return Err(BundleError::BadSignature(header.signer.clone()));
    }
    // The header id is signed and must equal the manifest's (checked
    // below), so checking it here refuses before the manifest is parsed.
    if let (Some(scope), Signer::Partner { key, partner, .. }) = (scope, &signer)
        && !scope.allows(&header.id)
    {
        return Err(BundleError::OutsideScope {
            id: header.id.clone(),
            partner: partner.clone(),
            key: key.clone(),
            scope: scope.to_string(),
        });
    }
    let manifest = Manifest::from_component(component)?;
    if manifest.id != header.id || manifest.version.to_string() != header.version {
        return Err(BundleError::Mismatch {
            header: format!("{}@{}", header.id, header.version),
            manifest: format!("{}@{}", manifest.id, manifest.version),
        });
    }
    Ok(VerifiedBundle {
        manifest,
        digest,
        signer,
        component: component.to_vec(),
    })
}

/// What a bundle claims, without verifying it (for `inspect`).
#[derive(Debug)]
pub struct Unverified<'a> {
    /// Plugin id from the header.
    pub id: String,
    /// Version from the header.
    pub version: String,
    /// Key id of the claimed signer.
    pub signer: String,
    /// The component bytes.
    pub component: &'a [u8],
}

/// Read a bundle's header and component without verifying anything.
pub fn peek(bytes: &[u8]) -> Result<Unverified<'_>, BundleError> {
    let p = parse(bytes)?;
    Ok(Unverified {
        id: p.header.id,
        version: p.header.version,
        signer: p.header.signer,
        component: p.component,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{MANIFEST_SECTION, append_custom_section};

    fn component(id: &str, version: &str) -> Vec<u8> {
        let mut wasm = b"\0asm\x0d\0\x01\0".to_vec();
        let m = format!(
            "id = \"{id}\"\nversion = \"{version}\"\nkind = \"module\"\ntier = \"orderable\"\napi = \"0.1\"\n"
        );
        append_custom_section(&mut wasm, MANIFEST_SECTION, m.as_bytes());
        wasm
    }

    fn trust(vendor: &SecretKey) -> TrustStore {
        TrustStore::new(vec![vendor.public()], vec![]).unwrap()
    }

    #[test]
    fn p4_signed_bundle_verifies() {
        let vendor = SecretKey::generate().unwrap();
        let b = sign(&component("warranty", "1.2.0"), &vendor).unwrap();
        let v = verify(&b, &trust(&vendor)).unwrap();
        assert_eq!(
            (v.manifest.id.as_str(), v.signer.clone()),
            ("warranty", Signer::Vendor(vendor.public().id()))
        );
    }

    #[test]
    fn p4_every_flipped_byte_is_refused() {
        let vendor = SecretKey::generate().unwrap();
        let b = sign(&component("warranty", "1.2.0"), &vendor).unwrap();
        let t = trust(&vendor);
        for i in 0..b.len() {
            let mut bad = b.clone();
            bad[i] ^= 0x01;
            assert!(verify(&bad, &t).is_err(), "flip at byte {i} went unnoticed");
        }
    }

    #[test]
    fn p4_unknown_key_and_resigned_bundles_are_refused() {
        let vendor = SecretKey::generate().unwrap();
        let mallory = SecretKey::generate().unwrap();
        let b = sign(&component("warranty", "1.2.0"), &mallory).unwrap();
        let err = verify(&b, &trust(&vendor)).unwrap_err();
        assert!(matches!(err, BundleError::UnknownSigner(_)), "{err}");
        assert!(err.to_string().contains(&mallory.public().id()));
        // Re-signed with a foreign key but claiming the vendor's key id.
        let mut parsed = parse(&b).unwrap().header;
        parsed.signer = vendor.public().id();
        let header = serde_json::to_vec(&parsed).unwrap();
        let mut forged = MAGIC.to_vec();
        forged.extend_from_slice(&(header.len() as u32).to_le_bytes());
        forged.extend_from_slice(&header);
        forged.extend_from_slice(&component("warranty", "1.2.0"));
        assert!(matches!(
            verify(&forged, &trust(&vendor)),
            Err(BundleError::BadSignature(_))
        ));
    }

    fn endorse(vendor: &SecretKey, partner: &SecretKey, name: &str, scope: &[&str]) -> Endorsement {
        let scope: Vec<String> = scope.iter().map(|s| s.to_string()).collect();
        Endorsement {
            key: partner.public(),
            partner: name.into(),
            signature: vendor.sign(&endorsement_message(name, &partner.public(), &scope)),
            scope,
        }
    }

    #[test]
    fn p4_partner_keys_need_a_vendor_endorsement() {
        let vendor = SecretKey::generate().unwrap();
        let partner = SecretKey::generate().unwrap();
        let endorsement = endorse(&vendor, &partner, "Acme Soft", &["shop-*"]);
        let t = TrustStore::new(vec![vendor.public()], vec![endorsement.clone()]).unwrap();
        let b = sign(&component("shop-notes", "0.1.0"), &partner).unwrap();
        assert!(matches!(
            verify(&b, &t).unwrap().signer,
            Signer::Partner { .. }
        ));
        // The partner cannot endorse itself, nor rename itself.
        let selfmade = Endorsement {
            signature: partner.sign(&endorsement_message(
                "Acme Soft",
                &partner.public(),
                &endorsement.scope,
            )),
            ..endorsement.clone()
        };
        assert!(TrustStore::new(vec![vendor.public()], vec![selfmade]).is_err());
        let renamed = Endorsement {
            partner: "Vendor Inc".into(),
            ..endorsement
        };
        assert!(TrustStore::new(vec![vendor.public()], vec![renamed]).is_err());
    }

    #[test]
    fn p4_a_partner_bundle_outside_its_namespace_is_refused() {
        let vendor = SecretKey::generate().unwrap();
        let partner = SecretKey::generate().unwrap();
        let t = TrustStore::new(
            vec![vendor.public()],
            vec![endorse(
                &vendor,
                &partner,
                "Acme Soft",
                &["acme-*", "shop-notes"],
            )],
        )
        .unwrap();
        for inside in ["acme-notes", "shop-notes"] {
            let b = sign(&component(inside, "0.1.0"), &partner).unwrap();
            assert!(verify(&b, &t).is_ok(), "{inside}");
        }
        // A vendor id (a connector every unpinned instance would pick up at
        // a higher version) and a neighbour's id are both outside.
        for outside in ["sepidar", "shop-notes-pro", "acmex"] {
            let b = sign(&component(outside, "99.0.0"), &partner).unwrap();
            let err = verify(&b, &t).unwrap_err();
            assert!(matches!(err, BundleError::OutsideScope { .. }), "{err}");
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("`{outside}`"))
                    && msg.contains("Acme Soft")
                    && msg.contains("acme-*, shop-notes"),
                "{msg}"
            );
        }
        // The vendor's own key signs any id.
        let b = sign(&component("sepidar", "99.0.0"), &vendor).unwrap();
        assert!(verify(&b, &t).is_ok());
    }

    #[test]
    fn p4_a_partner_cannot_widen_its_endorsed_scope() {
        let vendor = SecretKey::generate().unwrap();
        let partner = SecretKey::generate().unwrap();
        let endorsed = endorse(&vendor, &partner, "Acme Soft", &["acme-*"]);
        let widened = Endorsement {
            scope: vec!["acme-*".into(), "sepidar".into()],
            ..endorsed.clone()
        };
        let err = TrustStore::new(vec![vendor.public()], vec![widened]).unwrap_err();
        assert!(matches!(err, BundleError::NotEndorsed(_)), "{err}");
        // A scope broader than a namespace is refused even if the vendor signed it.
        let star = endorse(&vendor, &partner, "Acme Soft", &["*"]);
        let err = TrustStore::new(vec![vendor.public()], vec![star]).unwrap_err();
        assert!(err.to_string().contains("scope pattern `*`"), "{err}");
        let empty = endorse(&vendor, &partner, "Acme Soft", &[]);
        let err = TrustStore::new(vec![vendor.public()], vec![empty]).unwrap_err();
        assert!(err.to_string().contains("scope is empty"), "{err}");
    }

    #[test]
    fn garbage_is_a_format_error_not_a_panic() {
        let t = TrustStore::default();
        for bad in [
            &b""[..],
            b"HGBNDL01",
            b"HGBNDL01\xff\xff\xff\xff",
            b"HGBNDL01\x02\0\0\0{}",
            b"\0asm\x0d\0\x01\0",
        ] {
            assert!(matches!(verify(bad, &t), Err(BundleError::Format(_))));
        }
    }
}
