//! What a Hamgam plugin is and whether to trust it: the plugin manifest,
//! signed plugin bundles, vendor keys with partner endorsements, and
//! customer licenses.
//!
//! Pure Rust with no wasmtime, so the vendor's tools (`cargo xtask sign`,
//! `license issue`) and the fuzz targets build it in seconds, and the host
//! verifies with exactly the code that signed.

pub mod bundle;
pub mod keys;
pub mod license;
pub mod manifest;
pub mod scope;
pub mod sql_statements;
pub mod url_pattern;
