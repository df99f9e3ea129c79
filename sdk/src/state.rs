//! A small key-value store private to this plugin instance within its
//! tenant. Good for cursors, counters and caches; not for business records
//! (modules keep those in the CRM store).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// The raw bytes under `key`, if any.
pub fn get(key: &str) -> Option<Vec<u8>> {
    crate::platform::state::get(key)
}

/// Store `value` under `key`. `invalid-input` when the key or value exceeds
/// the host's limits, `denied` when state was not granted.
pub fn set(key: &str, value: &[u8]) -> Result<()> {
    crate::platform::state::set(key, value)
}

/// Remove `key` (no error when it was absent).
pub fn delete(key: &str) -> Result<()> {
    crate::platform::state::delete(key)
}

/// The UTF-8 string under `key`, if any; bytes that are not UTF-8 are an
/// `other` error rather than silently replaced.
pub fn get_string(key: &str) -> Result<Option<String>> {
    get(key)
        .map(|bytes| {
            String::from_utf8(bytes).map_err(|_| Error::Other(format!("state `{key}` is not UTF-8")))
        })
        .transpose()
}

/// The JSON value under `key`, deserialised.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
    get(key)
        .map(|bytes| {
            serde_json::from_slice(&bytes)
                .map_err(|e| Error::Other(format!("state `{key}` is not the expected JSON: {e}")))
        })
        .transpose()
}

/// Store `value` under `key` as JSON.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| Error::Other(format!("cannot serialise state `{key}`: {e}")))?;
    set(key, &bytes)
}
