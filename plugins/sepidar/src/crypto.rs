//! Sepidar's device protocol (integrations.md §1.3), as pure functions.
//!
//! - Registration: AES-128-CBC with PKCS7, key = the first 16 bytes of
//!   ASCII(serial + serial), a random IV; the plaintext is the IntegrationID
//!   (the serial's first four characters) as decimal text. The answer is
//!   encrypted the same way and holds the server's RSA public key as .NET
//!   `<RSAKeyValue>` XML.
//! - Every later request: `EncArbitraryCode` = Base64(RSA PKCS#1 v1.5 of the
//!   16 RFC-4122 (big-endian) bytes of a fresh UUID).
//! - Login: the password's MD5 as hex.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hamgam_sdk::Error;
use md5::{Digest, Md5};
use rand_core::{CryptoRng, RngCore};
use rsa::{BigUint, Pkcs1v15Encrypt, RsaPublicKey};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

type Result<T> = core::result::Result<T, Error>;
type AesCbcEnc = cbc::Encryptor<aes::Aes128>;
type AesCbcDec = cbc::Decryptor<aes::Aes128>;

/// A device serial as Sepidar shows it ("Device definition"): 8 ASCII
/// characters whose first four are the IntegrationID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serial(String);

impl Serial {
    /// Checks the shape early so a typo in the settings is reported as a
    /// setting error, not as a confusing 400 from Sepidar.
    pub fn parse(serial: &str) -> Result<Self> {
        let serial = serial.trim();
        if serial.len() != 8 || !serial.is_ascii() {
            return Err(Error::invalid(
                "serial",
                format!("a Sepidar device serial is 8 ASCII characters, got `{serial}`"),
            ));
        }
        let id = &serial[..4];
        if !id.bytes().all(|b| b.is_ascii_digit()) || id.starts_with('0') {
            return Err(Error::invalid(
                "serial",
                format!(
                    "the serial's first four characters must be the IntegrationID (1000–9999), got `{id}`"
                ),
            ));
        }
        Ok(Serial(serial.to_owned()))
    }

    /// The IntegrationID: the serial's first four characters as a number.
    pub fn integration_id(&self) -> u32 {
        // Checked in `parse`: four ASCII digits.
        self.0[..4].parse().unwrap_or_default()
    }

    /// The AES-128 key: the first 16 bytes of ASCII(serial + serial).
    fn aes_key(&self) -> [u8; 16] {
        let doubled = format!("{0}{0}", self.0);
        let mut key = [0u8; 16];
        key.copy_from_slice(&doubled.as_bytes()[..16]);
        key
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The body of `POST /api/Devices/Register`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterRequest {
    pub cypher: String,
    #[serde(rename = "IV")]
    pub iv: String,
    #[serde(rename = "IntegrationID")]
    pub integration_id: u32,
}

/// Builds the registration body with the given IV (random in production).
pub fn register_request(serial: &Serial, iv: [u8; 16]) -> RegisterRequest {
    let plaintext = serial.integration_id().to_string();
    let cypher = AesCbcEnc::new(&serial.aes_key().into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes());
    RegisterRequest {
        cypher: B64.encode(cypher),
        iv: B64.encode(iv),
        integration_id: serial.integration_id(),
    }
}

/// Decrypts the registration answer's `Cypher` with the returned `IV`: the
/// server's public key as `<RSAKeyValue>` XML.
pub fn decrypt_register_response(serial: &Serial, cypher: &str, iv: &str) -> Result<String> {
    let bad = |what: &str| Error::Other(format!("Sepidar's registration answer: {what}"));
    let cypher = B64
        .decode(cypher.trim())
        .map_err(|_| bad("Cypher is not Base64"))?;
    let iv: [u8; 16] = B64
        .decode(iv.trim())
        .map_err(|_| bad("IV is not Base64"))?
        .try_into()
        .map_err(|_| bad("IV is not 16 bytes"))?;
    let plain = AesCbcDec::new(&serial.aes_key().into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&cypher)
        .map_err(|_| bad("Cypher does not decrypt with this serial (wrong serial?)"))?;
    String::from_utf8(plain).map_err(|_| bad("the decrypted key is not UTF-8 text"))
}

/// The server's RSA public key, kept in plugin state as Base64 so every
/// later call, even in a fresh instance, reuses it without re-registering.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceKey {
    pub modulus: String,
    pub exponent: String,
}

impl DeviceKey {
    /// Reads `<RSAKeyValue><Modulus>…</Modulus><Exponent>…</Exponent>`.
    pub fn from_xml(xml: &str) -> Result<Self> {
        let field = |tag: &str| -> Result<String> {
            let open = format!("<{tag}>");
            let close = format!("</{tag}>");
            let start = xml.find(&open).map(|i| i + open.len());
            let end = xml.find(&close);
            match (start, end) {
                (Some(s), Some(e)) if s <= e => Ok(xml[s..e].trim().to_owned()),
                _ => Err(Error::Other(format!(
                    "Sepidar's device key has no <{tag}> (got `{}`)",
                    xml.chars().take(80).collect::<String>()
                ))),
            }
        };
        let key = DeviceKey {
            modulus: field("Modulus")?,
            exponent: field("Exponent")?,
        };
        key.public_key()?;
        Ok(key)
    }

    fn public_key(&self) -> Result<RsaPublicKey> {
        let bytes = |b64: &str| {
            B64.decode(b64)
                .map_err(|_| Error::Other("Sepidar's device key is not Base64".into()))
        };
        let n = BigUint::from_bytes_be(&bytes(&self.modulus)?);
        let e = BigUint::from_bytes_be(&bytes(&self.exponent)?);
        RsaPublicKey::new(n, e)
            .map_err(|e| Error::Other(format!("Sepidar's device key is not a usable RSA key: {e}")))
    }

    /// `EncArbitraryCode` for `code`: Base64(RSA PKCS#1 v1.5 of its 16
    /// big-endian bytes). `Uuid::as_bytes` is already RFC-4122 order, which
    /// is what the C# client's byte swapping produces.
    pub fn encrypt_code<R: RngCore + CryptoRng>(&self, rng: &mut R, code: &Uuid) -> Result<String> {
        let cipher = self
            .public_key()?
            .encrypt(rng, Pkcs1v15Encrypt, code.as_bytes())
            .map_err(|e| Error::Other(format!("cannot encrypt ArbitraryCode: {e}")))?;
        Ok(B64.encode(cipher))
    }
}

/// A random (version 4) UUID from `rng`.
pub fn new_uuid<R: RngCore>(rng: &mut R) -> Uuid {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// `PasswordHash` for login: lower-case hex MD5 (Sepidar accepts either case).
pub fn md5_hex(password: &str) -> String {
    Md5::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
    use rand_core::OsRng;
    use rsa::traits::PublicKeyParts;
    use rsa::{Pkcs1v15Encrypt, RsaPrivateKey};

    /// AES-128-CBC + PKCS7 written out by hand over the raw block cipher, so
    /// the test does not share the plugin's `cbc` code path.
    fn independent_cbc_encrypt(key: &[u8; 16], iv: &[u8; 16], plain: &[u8]) -> Vec<u8> {
        let cipher = aes::Aes128::new(GenericArray::from_slice(key));
        let pad = 16 - plain.len() % 16;
        let mut data = plain.to_vec();
        data.extend(std::iter::repeat_n(pad as u8, pad));
        let mut prev = *iv;
        let mut out = Vec::new();
        for chunk in data.chunks(16) {
            let mut block = [0u8; 16];
            for i in 0..16 {
                block[i] = chunk[i] ^ prev[i];
            }
            let mut ga = GenericArray::clone_from_slice(&block);
            cipher.encrypt_block(&mut ga);
            prev.copy_from_slice(&ga);
            out.extend_from_slice(&ga);
        }
        out
    }

    #[test]
    fn serial_gives_integration_id_and_key() {
        let serial = Serial::parse("10017ff3").unwrap();
        assert_eq!(serial.integration_id(), 1001);
        assert_eq!(&serial.aes_key(), b"10017ff310017ff3");
        assert!(Serial::parse("1001").is_err());
        assert!(Serial::parse("abcd7ff3").is_err());
    }

    #[test]
    fn register_request_matches_an_independent_encryption() {
        let serial = Serial::parse("10017ff3").unwrap();
        let iv = [7u8; 16];
        let req = register_request(&serial, iv);
        let expected = independent_cbc_encrypt(b"10017ff310017ff3", &iv, b"1001");
        assert_eq!(req.cypher, B64.encode(expected));
        assert_eq!(req.iv, B64.encode(iv));
        assert_eq!(req.integration_id, 1001);
        let json = serde_json::to_value(&req).unwrap();
        assert!(json.get("Cypher").is_some() && json.get("IV").is_some());
        assert_eq!(json["IntegrationID"], 1001);
    }

    #[test]
    fn registration_round_trip_then_arbitrary_code_decrypts_with_the_private_key() {
        // What the server does: an RSA-512 key pair, its public half as XML,
        // AES-encrypted with the serial's key and a fresh IV.
        let private = RsaPrivateKey::new(&mut OsRng, 512).unwrap();
        let xml = format!(
            "<RSAKeyValue><Modulus>{}</Modulus><Exponent>{}</Exponent></RSAKeyValue>",
            B64.encode(private.n().to_bytes_be()),
            B64.encode(private.e().to_bytes_be())
        );
        let iv = [0x42u8; 16];
        let cypher = independent_cbc_encrypt(b"10017ff310017ff3", &iv, xml.as_bytes());

        let serial = Serial::parse("10017ff3").unwrap();
        let decrypted =
            decrypt_register_response(&serial, &B64.encode(cypher), &B64.encode(iv)).unwrap();
        assert_eq!(decrypted, xml);
        let key = DeviceKey::from_xml(&decrypted).unwrap();
        assert_eq!(key.exponent, "AQAB");

        let code = new_uuid(&mut OsRng);
        assert_eq!(code.get_version_num(), 4);
        let enc = key.encrypt_code(&mut OsRng, &code).unwrap();
        let raw = B64.decode(enc).unwrap();
        assert_eq!(raw.len(), 64, "RSA-512 gives 64-byte ciphertexts");
        let plain = private.decrypt(Pkcs1v15Encrypt, &raw).unwrap();
        assert_eq!(plain, code.as_bytes());
        // Big-endian RFC-4122 order: the text's first hex pair is byte 0.
        assert_eq!(format!("{:02x}", plain[0]), code.to_string()[..2]);
    }

    #[test]
    fn wrong_serial_cannot_read_the_answer() {
        let iv = [1u8; 16];
        let cypher = independent_cbc_encrypt(b"10017ff310017ff3", &iv, b"<RSAKeyValue/>");
        let other = Serial::parse("20017ff3").unwrap();
        assert!(decrypt_register_response(&other, &B64.encode(cypher), &B64.encode(iv)).is_err());
    }

    #[test]
    fn fresh_uuids_differ() {
        let a = new_uuid(&mut OsRng);
        let b = new_uuid(&mut OsRng);
        assert_ne!(a, b);
    }

    #[test]
    fn md5_is_hex() {
        assert_eq!(md5_hex("1234"), "81dc9bdb52d04dc20036dbd8313ed055");
    }
}
