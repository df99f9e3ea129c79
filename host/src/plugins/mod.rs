//! Plugin manifests, trust and licensing, and the registry of installed
//! plugins and per-tenant instances.
pub mod licensing;
pub mod manifest;
pub mod registry;
