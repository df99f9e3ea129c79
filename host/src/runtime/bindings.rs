//! Host bindings, one `bindgen!` per world. The `module` world's bindings
//! are generated first and own the shared packages (`hamgam:types`,
//! `hamgam:platform`); the other worlds reuse them through `with:` so one
//! Rust type stands for each WIT type across every world.

/// `hamgam:plugins/module` — owns the shared types and platform imports.
pub mod module {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "hamgam:plugins/module",
        // `config`, `log` and `clock` answer from memory: as plain (not
        // async) host functions they skip boxing a future and polling it
        // on the fiber at every call. Everything that may wait stays async.
        imports: {
            "hamgam:platform/config": trappable,
            "hamgam:platform/log": trappable,
            "hamgam:platform/clock": trappable,
            default: async | trappable,
        },
        exports: { default: async },
        require_store_data_send: true,
    });
}

/// `hamgam:plugins/connector`.
pub mod connector {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "hamgam:plugins/connector",
        imports: { default: async | trappable },
        exports: { default: async },
        require_store_data_send: true,
        with: {
            "hamgam:types": super::module::hamgam::types,
            "hamgam:platform": super::module::hamgam::platform0_1_1,
        },
    });
}

/// `hamgam:plugins/notifier`.
pub mod notifier {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "hamgam:plugins/notifier",
        imports: { default: async | trappable },
        exports: { default: async },
        require_store_data_send: true,
        with: {
            "hamgam:types": super::module::hamgam::types,
            "hamgam:platform": super::module::hamgam::platform0_1_1,
        },
    });
}

/// `hamgam:plugins/device-driver`.
pub mod device_driver {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "hamgam:plugins/device-driver",
        imports: { default: async | trappable },
        exports: { default: async },
        require_store_data_send: true,
        with: {
            "hamgam:types": super::module::hamgam::types,
            "hamgam:platform": super::module::hamgam::platform0_1_1,
        },
    });
}

// Two versions of `hamgam:platform` sit in `wit/deps` (0.1.0 frozen, 0.1.1
// current), so bindgen puts the version in the module name. The host binds
// the newest; wasmtime's semver-aware linker gives plugins built against
// 0.1.0 the same definitions.
pub use module::hamgam::platform0_1_1 as platform;
pub use module::hamgam::types::types;
