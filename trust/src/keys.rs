//! Ed25519 keys as text: `ed25519:<hex>` for public keys (safe to paste in
//! a config file), `ed25519-secret:<hex>` for secret keys (kept in a file
//! only the vendor can read). A key's id is the first 16 hex digits of the
//! SHA-256 of its public bytes: short enough to print, long enough that two
//! keys of one vendor never share it.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// Why a key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not `ed25519:<64 hex digits>` (or the secret form).
    #[error("malformed key: {0}")]
    Malformed(String),
    /// The system's random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
}

/// A public key that verifies signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

/// A secret key that signs.
pub struct SecretKey(SigningKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public().id())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{}", hex::encode(self.0.as_bytes()))
    }
}

impl PublicKey {
    /// Parse `ed25519:<hex>`.
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let hex_part = text
            .trim()
            .strip_prefix("ed25519:")
            .ok_or_else(|| KeyError::Malformed("a public key starts with `ed25519:`".into()))?;
        let bytes: [u8; 32] = hex::decode(hex_part)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| KeyError::Malformed("expected 64 hex digits after `ed25519:`".into()))?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| KeyError::Malformed("not a valid Ed25519 point".into()))
    }

    /// Short id: 16 hex digits of the SHA-256 of the key.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes())[..8])
    }

    /// Whether `signature` is this key's signature over `message`.
    /// Strict verification: no malleable signatures.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(signature) else {
            return false;
        };
        self.0.verify_strict(message, &sig).is_ok()
    }

    /// Raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }
}

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<SecretKey, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    /// Parse `ed25519-secret:<hex>`.
    pub fn parse(text: &str) -> Result<SecretKey, KeyError> {
        let hex_part = text.trim().strip_prefix("ed25519-secret:").ok_or_else(|| {
            KeyError::Malformed("a secret key starts with `ed25519-secret:`".into())
        })?;
        let bytes: [u8; 32] = hex::decode(hex_part)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                KeyError::Malformed("expected 64 hex digits after `ed25519-secret:`".into())
            })?;
        Ok(SecretKey(SigningKey::from_bytes(&bytes)))
    }

    /// The text form, for the key file.
    pub fn to_text(&self) -> String {
        format!("ed25519-secret:{}", hex::encode(self.0.to_bytes()))
    }

    /// Its public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Sign a message.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message).to_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_verify() {
        let k = SecretKey::generate().unwrap();
        let again = SecretKey::parse(&k.to_text()).unwrap();
        assert_eq!(k.public(), again.public());
        let p = PublicKey::parse(&k.public().to_string()).unwrap();
        let sig = k.sign(b"hello");
        assert!(p.verify(b"hello", &sig));
        assert!(!p.verify(b"hellO", &sig));
        let other = SecretKey::generate().unwrap().public();
        assert!(!other.verify(b"hello", &sig));
        assert_eq!(p.id().len(), 16);
        assert!(!format!("{k:?}").contains(&k.to_text()[15..]));
    }

    #[test]
    fn malformed_keys_are_named() {
        for bad in ["", "ed25519:", "ed25519:zz", "rsa:00", "ed25519:00"] {
            assert!(PublicKey::parse(bad).is_err(), "{bad}");
        }
        assert!(SecretKey::parse("ed25519:00").is_err());
    }
}
