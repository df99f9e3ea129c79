//! Hamgam's integration tests, one module per area. Plugins must be built
//! first (`cargo xtask build-plugins`; `cargo xtask ci` does it).

mod api;
mod common;
mod crm_api;
mod crm_store;
mod egress;
mod events_crash;
mod examples;
mod licensing;
mod module_crm;
mod module_events;
mod module_records;
mod petty_cash;
mod sandbox;
mod sql_gate;
mod sql_server;
mod store;
mod sync_crash;
mod sync_history;
mod sync_quality;
mod sync_sepidar;
mod sync_sepidar_sql;
mod sync_store;
mod sync_versions;
mod sync_woo;
mod versioning;
mod webhook_limits;
