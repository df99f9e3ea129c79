//! Hamgam's integration tests, one module per area. Plugins must be built
//! first (`cargo xtask build-plugins`; `cargo xtask ci` does it).

mod api;
mod common;
mod egress;
mod sandbox;
mod store;
mod versioning;
