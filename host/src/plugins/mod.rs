//! Plugin manifests and the registry of installed plugins and instances.
pub mod manifest;
pub mod registry;
