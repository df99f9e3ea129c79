//! The Hamgam host: runs sandboxed WebAssembly plugins (ledger connectors,
//! business modules, notifiers, device drivers) for many tenants.
//!
//! Floors, each using only those below it: `api` → `plugins` (manifests,
//! registry) → `runtime` (engine, limits, capabilities, worlds) → `store`
//! → `crm` (entity types and input checks) → `hamgam-domain`.
//! See ARCHITECTURE.md at the repository root for the map.

pub mod api;
pub mod config;
pub mod crm;
pub mod events;
pub mod plugins;
pub mod runtime;
pub mod server;
pub mod state;
pub mod store;
pub mod sync;
pub mod testing;
