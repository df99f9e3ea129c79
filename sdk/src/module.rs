//! The `module` world: a business module with its own record types, REST
//! routes and event handlers.

use core::marker::PhantomData;

use crate::wit::exports::hamgam::module::module as wit_module;
pub use wit_module::{Event, ModuleInfo, Route};

use crate::{Error, HttpRequest, HttpResponse, Result};

/// A business module. [`describe`](Module::describe) is required; the other
/// methods answer `unsupported` until implemented.
pub trait Module {
    /// Record types, routes and event subscriptions.
    fn describe() -> ModuleInfo;

    /// An event the module subscribed to in `describe`.
    fn on_event(event: Event) -> Result<()> {
        let _ = event;
        Err(Error::not_implemented("on_event"))
    }

    /// A request to one of the module's routes. `request.path` is below the
    /// module's mount point and includes the query string.
    fn handle_request(request: HttpRequest) -> Result<HttpResponse> {
        let _ = request;
        Err(Error::not_implemented("handle_request"))
    }
}

/// Adapts a [`Module`] to the generated `Guest` trait.
#[doc(hidden)]
pub struct ModuleExport<T>(PhantomData<T>);

impl<T: Module> wit_module::Guest for ModuleExport<T> {
    fn describe() -> ModuleInfo {
        T::describe()
    }

    fn on_event(event: Event) -> Result<()> {
        T::on_event(event)
    }

    fn handle_request(request: HttpRequest) -> Result<HttpResponse> {
        T::handle_request(request)
    }
}

/// Export a [`Module`] implementation as this component's `module` world.
/// Call it once, at the crate root of the plugin.
#[macro_export]
macro_rules! export_module {
    ($ty:ty) => {
        const _: () = {
            type __HamgamExport = $crate::__private::ModuleExport<$ty>;
    $crate::wit::export!(__HamgamExport with_types_in $crate::wit);
        };
    };
}

impl Route {
    /// A route: `method` (upper-cased) and `path` with `{name}` segments.
    pub fn new(method: &str, path: &str) -> Self {
        Route {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
        }
    }
}

/// The host's CRM store, scoped by the host to the calling instance's
/// tenant.
pub mod crm {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    pub use crate::wit::hamgam::crm::store::{ModuleRecord, StoredEntity};

    use crate::wit::hamgam::crm::store;
    use crate::{Entity, EntityKind, Error, Result};

    /// An entity by kind and id.
    pub fn get(kind: EntityKind, id: &str) -> Result<Option<StoredEntity>> {
        store::get(kind, id)
    }

    /// Create (`id` `None`) or replace an entity; returns its id.
    pub fn put(kind: EntityKind, id: Option<&str>, entity: &Entity) -> Result<String> {
        store::put(kind, id, entity)
    }

    /// A record of one of the module's own types.
    pub fn get_record(record_type: &str, id: &str) -> Result<Option<ModuleRecord>> {
        store::get_record(record_type, id)
    }

    /// Create or replace a record of one of the module's own types.
    pub fn put_record(record: &ModuleRecord) -> Result<()> {
        store::put_record(record)
    }

    /// Records of `record_type` whose id starts with `prefix`, at most `limit`.
    pub fn list_records(record_type: &str, prefix: &str, limit: u32) -> Result<Vec<ModuleRecord>> {
        store::list_records(record_type, prefix, limit)
    }

    /// Publish an event (JSON payload) other modules may subscribe to.
    pub fn emit(name: &str, payload: &str) -> Result<()> {
        store::emit(name, payload)
    }

    /// Publish an event whose payload is `payload` as JSON.
    pub fn emit_json<T: Serialize + ?Sized>(name: &str, payload: &T) -> Result<()> {
        let payload = serde_json::to_string(payload)
            .map_err(|e| Error::Other(format!("cannot serialise event `{name}`: {e}")))?;
        emit(name, &payload)
    }

    /// A record's body deserialised from JSON.
    pub fn get_record_json<T: DeserializeOwned>(record_type: &str, id: &str) -> Result<Option<T>> {
        get_record(record_type, id)?.map(|r| decode(&r)).transpose()
    }

    /// Store `body` as JSON under `record_type`/`id`.
    pub fn put_record_json<T: Serialize + ?Sized>(
        record_type: &str,
        id: &str,
        body: &T,
    ) -> Result<()> {
        let body = serde_json::to_string(body)
            .map_err(|e| Error::Other(format!("cannot serialise {record_type} `{id}`: {e}")))?;
        put_record(&ModuleRecord {
            record_type: record_type.to_owned(),
            id: id.to_owned(),
            body,
        })
    }

    /// A record's JSON body as `T`; `other` naming the record when it is not
    /// that shape (a module's own data out of shape is a bug, not input).
    pub fn decode<T: DeserializeOwned>(record: &ModuleRecord) -> Result<T> {
        serde_json::from_str(&record.body).map_err(|e| {
            Error::Other(format!(
                "{} `{}` is not the expected JSON: {e}",
                record.record_type, record.id
            ))
        })
    }
}
