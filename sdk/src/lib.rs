//! The guest-side SDK for Hamgam plugins.
//!
//! A plugin is a tiny `cdylib` crate that depends on this crate with exactly
//! one world feature enabled (`connector`, `module`, `notifier` or
//! `device-driver`), implements that world's trait and calls its export macro:
//!
//! ```ignore
//! use hamgam_sdk::{Notifier, Channel, Message, Delivery, Result};
//!
//! struct Pager;
//!
//! impl Notifier for Pager {
//!     fn channels() -> Vec<Channel> { vec![Channel::Sms] }
//!     fn send(message: Message) -> Result<Delivery> { /* … */ }
//! }
//!
//! hamgam_sdk::export_notifier!(Pager);
//! ```
//!
//! Around the raw WIT bindings the SDK offers small helpers for every
//! platform import ([`log`], [`config`], [`state`], [`clock`], [`sql`],
//! [`http`], and per world `crm` or `port`), exact conversions between the WIT
//! [`Decimal`] and [`rust_decimal::Decimal`], and the shared business rules as
//! [`domain`]. See `sdk/README.md` for a tutorial.
//!
//! Why one feature per world: a component must export exactly its world, and
//! generating a second world's bindings would make the component linker
//! demand that world's exports as well. Cargo unifies features across every
//! package in one build, so plugins are built one cargo invocation each
//! (`cargo xtask build-plugins` does that); `cargo build --workspace` over all
//! plugins at once cannot work.

#![deny(missing_docs)]

#[cfg(any(
    all(feature = "connector", feature = "module"),
    all(feature = "connector", feature = "notifier"),
    all(feature = "connector", feature = "device-driver"),
    all(feature = "module", feature = "notifier"),
    all(feature = "module", feature = "device-driver"),
    all(feature = "notifier", feature = "device-driver"),
))]
compile_error!(
    "hamgam-sdk: enable exactly one world feature (connector, module, notifier, device-driver); \
     cargo unifies features across packages built together, so build each plugin in its own \
     cargo invocation (`cargo xtask build-plugins`), not with `--workspace`"
);

/// Shared business rules (money, Jalali dates, numbering, validation,
/// totals), the same crate the host uses, so a plugin and the host never
/// disagree on a rounding or a leap year.
pub use hamgam_domain as domain;

/// The exact decimal type money and quantities use on the Rust side;
/// re-exported so plugins need no version of their own.
pub use rust_decimal;

/// Items that exist only when a world feature is enabled: without one there
/// are no WIT bindings to build on (the SDK still compiles so that
/// `cargo check` on the host target works).
macro_rules! with_world {
    ($($item:item)*) => {
        $(
            #[cfg(any(
                feature = "connector",
                feature = "module",
                feature = "notifier",
                feature = "device-driver"
            ))]
            $item
        )*
    };
}

// The raw bindings. Every world lives under the same module name so the
// re-exports below read the same whatever world is enabled. `generate_all`
// because the worlds pull interfaces from other packages;
// `generate_unused_types` so every shared type exists in every world (the
// notifier world would otherwise have no `Party`).
#[cfg(feature = "connector")]
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod wit {
    wit_bindgen::generate!({
        path: "../wit",
        world: "hamgam:plugins/connector@0.1.0",
        pub_export_macro: true,
        generate_all,
        generate_unused_types: true,
        additional_derives: [PartialEq],
    });
}

#[cfg(feature = "module")]
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod wit {
    wit_bindgen::generate!({
        path: "../wit",
        world: "hamgam:plugins/module@0.1.0",
        pub_export_macro: true,
        generate_all,
        generate_unused_types: true,
        additional_derives: [PartialEq],
    });
}

#[cfg(feature = "notifier")]
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod wit {
    wit_bindgen::generate!({
        path: "../wit",
        world: "hamgam:plugins/notifier@0.1.0",
        pub_export_macro: true,
        generate_all,
        generate_unused_types: true,
        additional_derives: [PartialEq],
    });
}

#[cfg(feature = "device-driver")]
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod wit {
    wit_bindgen::generate!({
        path: "../wit",
        world: "hamgam:plugins/device-driver@0.1.0",
        pub_export_macro: true,
        generate_all,
        generate_unused_types: true,
        additional_derives: [PartialEq],
    });
}

with_world! {
    // Listed one by one rather than `pub use wit::*`, so the public surface
    // is a decision and not whatever wit-bindgen happens to generate.
    pub use wit::hamgam::types::types::{
        Address, Date, Decimal, Document, DocumentKind, DocumentLine, Entity, EntityKind, Error,
        FieldError, HttpRequest, HttpResponse, Money, Party, PartyKind, Phone, PhoneKind, Product,
        Settlement, SettlementMethod, Timestamp,
    };

    /// The result every fallible SDK call and trait method returns.
    pub type Result<T, E = Error> = core::result::Result<T, E>;

    // `wit/deps` holds every released `hamgam:platform` (0.1.0 frozen, 0.1.1
    // current), so wit-bindgen puts the version in the module name; the
    // helpers reach the current one through this alias.
    pub(crate) use wit::hamgam::platform0_1_1 as platform;

    mod convert;
    pub mod clock;
    pub mod config;
    pub mod http;
    pub mod log;
    pub mod sql;
    pub mod state;
    pub mod web;
}

#[cfg(feature = "connector")]
mod connector;
#[cfg(feature = "connector")]
pub use connector::*;

#[cfg(feature = "module")]
mod module;
#[cfg(feature = "module")]
pub use module::*;

#[cfg(feature = "notifier")]
mod notifier;
#[cfg(feature = "notifier")]
pub use notifier::*;

#[cfg(feature = "device-driver")]
mod device_driver;
#[cfg(feature = "device-driver")]
pub use device_driver::*;

/// Glue the export macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "connector")]
    pub use crate::connector::ConnectorExport;
    #[cfg(feature = "device-driver")]
    pub use crate::device_driver::DeviceDriverExport;
    #[cfg(feature = "module")]
    pub use crate::module::ModuleExport;
    #[cfg(feature = "notifier")]
    pub use crate::notifier::NotifierExport;
}

with_world! {
    impl Error {
        /// The error a trait method returns when the plugin did not
        /// implement it: ``unsupported("`name` not implemented")``.
        pub fn not_implemented(name: &str) -> Self {
            Error::Unsupported(format!("`{name}` not implemented"))
        }

        /// An `invalid-input` error for `field` (a dotted path into the
        /// record, e.g. `phones.0.number`).
        pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
            Error::InvalidInput(FieldError {
                field: field.into(),
                message: message.into(),
            })
        }

        /// The WIT case name, e.g. `not-found`; stable, unlike `Debug`.
        pub fn code(&self) -> &'static str {
            match self {
                Error::NotFound(_) => "not-found",
                Error::InvalidInput(_) => "invalid-input",
                Error::Unauthorized(_) => "unauthorized",
                Error::Denied(_) => "denied",
                Error::Conflict(_) => "conflict",
                Error::VersionMismatch(_) => "version-mismatch",
                Error::Unavailable(_) => "unavailable",
                Error::Unsupported(_) => "unsupported",
                Error::Other(_) => "other",
            }
        }

        /// A one-line human message: `code: detail` (`invalid-input:
        /// amount: must be positive`). The generated `Display` prints the
        /// `Debug` form, which is awkward in logs and JSON.
        pub fn message(&self) -> String {
            let detail = match self {
                Error::InvalidInput(f) => format!("{}: {}", f.field, f.message),
                Error::NotFound(m)
                | Error::Unauthorized(m)
                | Error::Denied(m)
                | Error::Conflict(m)
                | Error::VersionMismatch(m)
                | Error::Unavailable(m)
                | Error::Unsupported(m)
                | Error::Other(m) => m.clone(),
            };
            format!("{}: {detail}", self.code())
        }
    }
}

/// The in-memory test host: run a built component with chosen settings,
/// grants and limits, call it, and assert on every host call it made.
/// Native builds only, behind the `harness` feature; see `sdk/README.md`.
#[cfg(all(feature = "harness", not(target_arch = "wasm32")))]
pub mod harness {
    pub use hamgam::config::{Limits, PortGrant, SqlBackendKind, SqlGrant};
    pub use hamgam::plugins::manifest::{CrmAccess, CrmEntity};
    pub use hamgam::runtime::backends::HostCall;
    pub use hamgam::runtime::error::CallError;
    pub use hamgam::runtime::instance::PluginInstance;
    pub use hamgam::testing::{Delivered, PluginBuilder, TestHost, plugin_dir, plugin_path};

    /// What a module's `on-event` is handed (name and envelope payload):
    /// build one by hand to send an event the harness's log would not
    /// hold (another module's, say) with `PluginInstance::on_event`.
    pub use hamgam::runtime::bindings::module::exports::hamgam::module0_1_0::module::Event;

    /// The envelope of an event, as a real host writes it around `data`:
    /// the [`Event`] to hand `on-event` for a module's own test.
    pub fn event(id: i64, name: &str, subject: &str, data: &serde_json::Value) -> Event {
        let logged = hamgam::store::event::Event {
            id,
            seq: id,
            name: name.to_owned(),
            subject: subject.to_owned(),
            actor: "module:harness".to_owned(),
            payload: data.to_string(),
            at: "2026-01-01T00:00:00Z".to_owned(),
        };
        hamgam::events::module_event(&logged)
    }

    /// The host-side WIT types the harness's calls take and return.
    pub mod types {
        pub use hamgam::runtime::bindings::types::*;
    }

    /// The host-side types of the `connector` world's own records.
    pub mod ledger {
        pub use hamgam::runtime::bindings::connector::exports::hamgam::ledger0_1_0::connector::*;
    }
}
