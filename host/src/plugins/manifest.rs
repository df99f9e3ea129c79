//! The plugin manifest lives in `hamgam-trust` (the vendor tools and the
//! fuzz targets parse it too); re-exported here where the host uses it.

pub use hamgam_trust::manifest::*;
