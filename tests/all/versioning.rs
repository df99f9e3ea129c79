//! P1: a plugin built against the current `hamgam:platform` keeps loading
//! when a compatible 0.1.x addition lands.
//!
//! `fixtures/wit-next` is the WIT as the next minor release would have it:
//! `hamgam:platform@0.1.2`, today's 0.1.1 with one function added to `log`.
//! This test builds a host from that WIT and loads the real, unchanged
//! plugins that `cargo xtask build-plugins` built against today's WIT.
//! (0.1.1 itself was such an addition over the frozen 0.1.0: `sql.read`
//! and `sql.write`; plugins still built against 0.1.0 load the same way.)

use crate::common::plugin;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

mod next {
    wasmtime::component::bindgen!({
        path: "fixtures/wit-next",
        world: "hamgam:plugins/connector",
        imports: { default: async | trappable },
        exports: { default: async },
        require_store_data_send: true,
    });
}

use next::hamgam::platform::{clock, config, log, sql, state};
use next::hamgam::types::types;

struct NextHost {
    wasi: WasiCtx,
    table: ResourceTable,
    logged: Vec<String>,
}

impl WasiView for NextHost {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_http::WasiHttpView for NextHost {
    fn ctx(&mut self) -> &mut wasmtime_wasi_http::WasiHttpCtx {
        unreachable!("the test never makes HTTP calls")
    }
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl types::Host for NextHost {}
impl log::Host for NextHost {
    async fn log(&mut self, _level: log::Level, message: String) -> wasmtime::Result<()> {
        self.logged.push(message);
        Ok(())
    }
    async fn enabled(&mut self, _level: log::Level) -> wasmtime::Result<bool> {
        Ok(true)
    }
}
impl config::Host for NextHost {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok((key == "company_code").then(|| "300".to_string()))
    }
    async fn all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(vec![("company_code".into(), "300".into())])
    }
    async fn secret(&mut self, name: String) -> wasmtime::Result<Result<String, types::Error>> {
        Ok(Err(types::Error::Denied(name)))
    }
}
impl state::Host for NextHost {
    async fn get(&mut self, _key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(None)
    }
    async fn set(
        &mut self,
        _key: String,
        _value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), types::Error>> {
        Ok(Ok(()))
    }
    async fn delete(&mut self, _key: String) -> wasmtime::Result<Result<(), types::Error>> {
        Ok(Ok(()))
    }
}
impl clock::Host for NextHost {
    async fn now(&mut self) -> wasmtime::Result<types::Timestamp> {
        Ok(types::Timestamp {
            seconds: 0,
            nanoseconds: 0,
        })
    }
}
impl sql::Host for NextHost {
    async fn query(
        &mut self,
        _d: String,
        _s: String,
        _p: Vec<sql::Value>,
    ) -> wasmtime::Result<Result<sql::Rows, types::Error>> {
        Ok(Err(types::Error::Unsupported("no sql here".into())))
    }
    async fn read(
        &mut self,
        _d: String,
        _n: String,
        _p: Vec<sql::Value>,
    ) -> wasmtime::Result<Result<sql::Rows, types::Error>> {
        Ok(Err(types::Error::Unsupported("no sql here".into())))
    }
    async fn write(
        &mut self,
        _d: String,
        _n: String,
        _p: Vec<sql::Value>,
    ) -> wasmtime::Result<Result<u64, types::Error>> {
        Ok(Err(types::Error::Unsupported("no sql here".into())))
    }
}

#[tokio::test]
async fn p1_plugin_built_against_today_loads_in_the_next_minor_host() {
    let mut config = Config::new();
    config.async_support(true);
    let engine = Engine::new(&config).unwrap();
    let mut linker: Linker<NextHost> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    wasmtime_wasi_http::add_only_http_to_linker_async(&mut linker).unwrap();
    next::Connector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).unwrap();

    let bytes = std::fs::read(plugin("hello-connector")).unwrap();
    // The plugin really was built against an older 0.1.x (0.1.1 today; a
    // build left from before 0.1.1 imports 0.1.0)…
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("hamgam:platform/log@0.1.1") || text.contains("hamgam:platform/log@0.1.0"),
        "fixture plugin is not a 0.1.0 or 0.1.1 build"
    );
    assert!(!text.contains("hamgam:platform/log@0.1.2"));
    // …and the host really is 0.1.2.
    let world = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/wit-next/worlds.wit"
    ))
    .unwrap();
    assert!(world.contains("hamgam:platform/imports@0.1.2"));

    let component = Component::new(&engine, &bytes).unwrap();
    let pre = next::ConnectorPre::new(linker.instantiate_pre(&component).unwrap()).unwrap();
    let mut store = Store::new(
        &engine,
        NextHost {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            logged: Vec::new(),
        },
    );
    let connector = pre.instantiate_async(&mut store).await.unwrap();
    let info = connector
        .hamgam_ledger_connector()
        .call_describe(&mut store)
        .await
        .unwrap();
    assert_eq!(info.company_code.as_deref(), Some("300"));
    assert!(!info.entities.is_empty());
}

#[test]
fn p1_an_incompatible_major_version_is_refused() {
    // The host refuses a manifest that names an API it does not speak,
    // before compiling anything.
    let mut wasm = b"\0asm\x0d\0\x01\0".to_vec();
    let manifest = "id = \"future\"\nversion = \"1.0.0\"\nkind = \"module\"\ntier = \"default\"\napi = \"1.0\"\n";
    hamgam::plugins::manifest::append_custom_section(
        &mut wasm,
        hamgam::plugins::manifest::MANIFEST_SECTION,
        manifest.as_bytes(),
    );
    let host = hamgam::testing::TestHost::new();
    let err = host.runtime().load(&wasm).unwrap_err().to_string();
    assert!(err.contains("`api`") && err.contains("1.0"), "{err}");
}
