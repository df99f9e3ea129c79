//! This instance's settings and secrets, from the operator's config.

use crate::{Error, Result};

/// A setting, or `None` when the operator did not set it.
pub fn get(key: &str) -> Option<String> {
    crate::platform::config::get(key)
}

/// A setting the plugin cannot work without: `invalid-input` naming the key
/// when it is missing, so the operator sees which setting to add.
pub fn require(key: &str) -> Result<String> {
    get(key).ok_or_else(|| Error::invalid(key, format!("setting `{key}` is not set")))
}

/// Every setting as `(key, value)` pairs.
pub fn all() -> Vec<(String, String)> {
    crate::platform::config::all()
}

/// A secret by its name in the operator config. `denied` when the operator
/// did not give it to this instance. Never log the value.
pub fn secret(name: &str) -> Result<String> {
    crate::platform::config::secret(name)
}
