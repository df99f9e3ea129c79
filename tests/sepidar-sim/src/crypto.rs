//! The server half of Sepidar's device handshake (contract "Auth").

use aes::Aes128;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest, Md5};
use rand::RngCore;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey};

type Enc = cbc::Encryptor<Aes128>;
type Dec = cbc::Decryptor<Aes128>;

/// AES key of a device: the first 16 ASCII bytes of `serial + serial`.
pub fn device_key(serial: &str) -> [u8; 16] {
    let doubled = format!("{serial}{serial}");
    let mut key = [0u8; 16];
    for (k, b) in key.iter_mut().zip(doubled.bytes()) {
        *k = b;
    }
    key
}

/// AES-128-CBC/PKCS7 decryption; `None` on bad length or padding.
pub fn aes_decrypt(key: &[u8; 16], iv: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let iv: [u8; 16] = iv.try_into().ok()?;
    Dec::new(key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(data)
        .ok()
}

/// AES-128-CBC/PKCS7 encryption.
pub fn aes_encrypt(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    Enc::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(data)
}

/// A fresh random 16-byte IV.
pub fn random_iv() -> [u8; 16] {
    let mut iv = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut iv);
    iv
}

/// Generates the RSA-512 key pair a Sepidar server hands to devices.
pub fn generate_rsa() -> RsaPrivateKey {
    RsaPrivateKey::new(&mut rand::thread_rng(), 512).expect("RSA-512 key generation")
}

/// The .NET `RSAKeyValue` XML of the public key (what Devices/Register returns).
pub fn public_key_xml(key: &RsaPrivateKey) -> String {
    let modulus = B64.encode(key.n().to_bytes_be());
    let exponent = B64.encode(key.e().to_bytes_be());
    format!(
        "<RSAKeyValue><Modulus>{modulus}</Modulus><Exponent>{exponent}</Exponent></RSAKeyValue>"
    )
}

/// Decrypts a Base64 PKCS#1 v1.5 ciphertext; `None` when anything is off.
pub fn rsa_decrypt_b64(key: &RsaPrivateKey, b64: &str) -> Option<Vec<u8>> {
    let data = B64.decode(b64.trim()).ok()?;
    key.decrypt(Pkcs1v15Encrypt, &data).ok()
}

/// Lower-case hex MD5 of a password (Sepidar's `PasswordHash`).
pub fn md5_hex(password: &str) -> String {
    hex::encode(Md5::digest(password.as_bytes()))
}

/// Base64 helpers (standard alphabet with padding, like .NET's `Convert`).
pub fn b64_encode(data: &[u8]) -> String {
    B64.encode(data)
}

/// Base64 decoding; `None` on malformed text.
pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    B64.decode(text.trim()).ok()
}
