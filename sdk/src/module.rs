//! The `module` world: a business module with its own record types, REST
//! routes and event handlers.

use core::marker::PhantomData;

use crate::wit::exports::hamgam::module0_1_0::module as wit_module;
use crate::wit::exports::hamgam::module0_1_1::migrate as wit_migrate;
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

    /// A stored record of `record_type` written under schema version
    /// `from_version` (0: before the type had a schema), as the manifest's
    /// current version wants it (JSON). The host calls it at the health
    /// check after an upgrade raised the type's `version`; the answer must
    /// meet the new schema. Left unimplemented, the host checks the body as
    /// it is.
    fn migrate_record(record_type: String, from_version: u32, body: String) -> Result<String> {
        let _ = (record_type, from_version, body);
        Err(Error::Unsupported(
            "no migration: the record is kept as it is".into(),
        ))
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

impl<T: Module> wit_migrate::Guest for ModuleExport<T> {
    fn migrate_record(record_type: String, from_version: u32, body: String) -> Result<String> {
        T::migrate_record(record_type, from_version, body)
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

/// An event as the host hands it to `on-event` ([`Event::envelope`]):
/// what the event log keeps around the data. `T` is the data's shape
/// (`serde_json::Value` for any).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct EventEnvelope<T> {
    /// The event's identity. The host delivers at least once: a module
    /// that must act once keys what it does by this id.
    pub id: i64,
    /// Its place in the tenant's log.
    pub seq: i64,
    /// `party.created`, `sales_invoice.approved`, `module.<instance>.<name>`…
    pub name: String,
    /// What it is about (`party:12`): one subject's events arrive in order.
    pub subject: String,
    /// Who made the change (`api:<tenant>`, `connector:<instance>`,
    /// `module:<instance>`).
    pub actor: String,
    /// When it was written (RFC 3339 UTC).
    pub at: String,
    /// For a CRM change: `{"kind", "id", "before", "after"}`, the record as
    /// the REST API shows it; for a module's event, what it emitted.
    pub data: T,
}

impl Event {
    /// The event with its envelope read: id, subject, actor, data as `T`.
    pub fn envelope<T: serde::de::DeserializeOwned>(&self) -> Result<EventEnvelope<T>> {
        serde_json::from_str(&self.payload).map_err(|e| {
            Error::Other(format!(
                "event `{}` is not the expected shape: {e}",
                self.name
            ))
        })
    }
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

/// The host's CRM, scoped by the host to the calling instance's tenant:
/// the CRM's own records ([`get`](crm::get), [`create`](crm::create),
/// [`query`](crm::query)…, `hamgam:crm/entities`), the module's own record
/// types and events (`hamgam:crm/store`).
pub mod crm {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    pub use crate::wit::hamgam::crm0_1_0::store::ModuleRecord;
    pub use crate::wit::hamgam::crm0_1_1::entities::Kind;

    use crate::wit::hamgam::crm0_1_0::store;
    use crate::wit::hamgam::crm0_1_1::{entities, records};
    use crate::{Error, Result};

    fn to_json<B: Serialize + ?Sized>(what: &str, body: &B) -> Result<String> {
        serde_json::to_string(body)
            .map_err(|e| Error::Other(format!("cannot serialise {what}: {e}")))
    }

    fn from_json<T: DeserializeOwned>(kind: Kind, text: &str) -> Result<T> {
        serde_json::from_str(text).map_err(|e| {
            Error::Other(format!(
                "the host's {kind:?} is not the expected shape: {e}"
            ))
        })
    }

    /// One CRM record (party, product, document, receipt, payment) as the
    /// REST API shows it, or `None` in this tenant. `T` is any serde shape
    /// of it (`serde_json::Value` for all of it). Needs read access to the
    /// kind (`capabilities.entities`).
    pub fn get<T: DeserializeOwned>(kind: Kind, id: i64) -> Result<Option<T>> {
        entities::get(kind, id)?
            .map(|text| from_json(kind, &text))
            .transpose()
    }

    /// Create a CRM record from its REST request body (a `PartyInput`, a
    /// `DocumentRequest`…); the answer is the stored record. A value the
    /// API would refuse comes back as `Error::InvalidInput` naming the
    /// field. The audit trail shows the module instance as the actor, and
    /// the sync engine takes the record to the ledgers.
    pub fn create<B: Serialize + ?Sized, T: DeserializeOwned>(kind: Kind, body: &B) -> Result<T> {
        from_json(kind, &entities::create(kind, &to_json("the body", body)?)?)
    }

    /// Replace a CRM record (REST `PUT`).
    pub fn update<B: Serialize + ?Sized, T: DeserializeOwned>(
        kind: Kind,
        id: i64,
        body: &B,
    ) -> Result<T> {
        from_json(
            kind,
            &entities::update(kind, id, &to_json("the body", body)?)?,
        )
    }

    /// Approve (`true`: numbered, F1) or reject a document, receipt or
    /// payment.
    pub fn decide<T: DeserializeOwned>(kind: Kind, id: i64, approve: bool) -> Result<T> {
        from_json(kind, &entities::decide(kind, id, approve)?)
    }

    /// One page of records with `id > after` (at most `limit`, 1..=500),
    /// filtered as the REST list is (`("party_id", "7")`,
    /// `("status", "approved")`…), and the `after` of the next page.
    pub fn query<T: DeserializeOwned>(
        kind: Kind,
        filters: &[(&str, &str)],
        after: i64,
        limit: u32,
    ) -> Result<(Vec<T>, Option<i64>)> {
        let filters: Vec<entities::Filter> = filters
            .iter()
            .map(|(name, value)| entities::Filter {
                name: (*name).to_owned(),
                value: (*value).to_owned(),
            })
            .collect();
        let page = entities::query(kind, &filters, after, limit)?;
        let items = page
            .items
            .iter()
            .map(|text| from_json(kind, text))
            .collect::<Result<Vec<T>>>()?;
        Ok((items, page.next_after))
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

    /// A page of typed records: (id, body) by id, and the `after` of the
    /// next page (none at the end).
    pub type RecordPage<T> = (Vec<(String, T)>, Option<String>);

    /// Records of a typed `record_type` (declared in the manifest's
    /// `[records]`) whose indexed fields equal every filter, with ids after
    /// `after`, at most `limit` (1..=500), each as (id, body as `T`); and
    /// the `after` of the next page. A filter on an unindexed field is
    /// `Error::InvalidInput` naming it.
    pub fn query_records<T: DeserializeOwned>(
        record_type: &str,
        filters: &[(&str, &str)],
        after: Option<&str>,
        limit: u32,
    ) -> Result<RecordPage<T>> {
        let filters: Vec<records::FieldFilter> = filters
            .iter()
            .map(|(field, value)| records::FieldFilter {
                field: (*field).to_owned(),
                value: (*value).to_owned(),
            })
            .collect();
        let page = records::query(record_type, &filters, after, limit)?;
        let items = page
            .items
            .into_iter()
            .map(|r| {
                let body = serde_json::from_str(&r.body).map_err(|e| {
                    Error::Other(format!(
                        "stored {record_type} `{}` is not the expected shape: {e}",
                        r.id
                    ))
                })?;
                Ok((r.id, body))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((items, page.next_after))
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
