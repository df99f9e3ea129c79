//! The host side of `hamgam:crm/entities@0.1.1`: a module's calls on the
//! CRM's parties, products, documents, receipts and payments. Each call
//! checks the instance's grant for that kind (declared ∩ granted, deny by
//! default), reports to the call recorder, and hands the work to the
//! `EntityStore` (the same repositories and checks as the REST API).

use super::backends::{EntityCaller, EntityError};
use super::bindings::module::hamgam::crm0_1_1::entities::{self, Filter, Kind, Page};
use super::bindings::types;
use super::host::HostState;
use crate::crm::kinds::EntityKind;
use crate::store::error::StoreError;
use hamgam_trust::manifest::{CrmAccess, CrmEntity};
use wasmtime::Result;

/// The most records one `query` answers.
const MAX_PAGE: u32 = 500;

fn kinds(kind: Kind) -> (CrmEntity, EntityKind) {
    match kind {
        Kind::Party => (CrmEntity::Party, EntityKind::Party),
        Kind::Product => (CrmEntity::Product, EntityKind::Product),
        Kind::Quote => (CrmEntity::Quote, EntityKind::Quote),
        Kind::SalesOrder => (CrmEntity::SalesOrder, EntityKind::SalesOrder),
        Kind::SalesInvoice => (CrmEntity::SalesInvoice, EntityKind::SalesInvoice),
        Kind::SalesReturn => (CrmEntity::SalesReturn, EntityKind::SalesReturn),
        Kind::PurchaseInvoice => (CrmEntity::PurchaseInvoice, EntityKind::PurchaseInvoice),
        Kind::PurchaseReturn => (CrmEntity::PurchaseReturn, EntityKind::PurchaseReturn),
        Kind::CorrectionNote => (CrmEntity::CorrectionNote, EntityKind::CorrectionNote),
        Kind::Receipt => (CrmEntity::Receipt, EntityKind::Receipt),
        Kind::Payment => (CrmEntity::Payment, EntityKind::Payment),
    }
}

fn field_error(field: impl Into<String>, message: impl Into<String>) -> types::Error {
    types::Error::InvalidInput(types::FieldError {
        field: field.into(),
        message: message.into(),
    })
}

/// The module's answer for a refusal, in the variant the SDK maps to the
/// HTTP status the REST API would give (422, 404, 409, 503).
fn refusal(e: EntityError) -> types::Error {
    use crate::crm::json::JsonRefusal;
    match e {
        EntityError::Json(JsonRefusal::Invalid { field, message })
        | EntityError::Json(JsonRefusal::Malformed { field, message }) => {
            field_error(field.unwrap_or_else(|| "body".into()), message)
        }
        EntityError::Filter { field, message } => field_error(field, message),
        EntityError::Invalid(v) | EntityError::Store(StoreError::Invalid(v)) => {
            field_error(v.field, v.message)
        }
        EntityError::Store(e @ StoreError::NotFound { .. }) => {
            types::Error::NotFound(e.to_string())
        }
        EntityError::Store(StoreError::Conflict {
            field: Some(field),
            message,
        }) => types::Error::Conflict(format!("{field}: {message}")),
        EntityError::Store(StoreError::Conflict {
            field: None,
            message,
        }) => types::Error::Conflict(message),
        EntityError::Store(e @ StoreError::Numbering(_)) => types::Error::Conflict(e.to_string()),
        EntityError::Store(e @ StoreError::Db(_)) => {
            tracing::error!("module CRM call: {e}");
            types::Error::Unavailable("the CRM database is unavailable; try again".into())
        }
        EntityError::Store(e @ StoreError::Corrupt { .. }) => types::Error::Other(e.to_string()),
    }
}

impl HostState {
    /// The grant check of one call: `Err` is the refusal to hand back.
    fn entity_access(
        &self,
        call: &str,
        kind: Kind,
        detail: &str,
        needs: CrmAccess,
    ) -> std::result::Result<EntityKind, types::Error> {
        let (name, local) = kinds(kind);
        let has = self
            .ctx
            .effective
            .entities
            .get(&name)
            .copied()
            .unwrap_or_default();
        if has < needs {
            let what = if needs == CrmAccess::ReadWrite {
                "write"
            } else {
                "read"
            };
            return Err(self.denied(
                call,
                &format!("{name} {detail}"),
                format!("{what} access to {name} records is not granted"),
            ));
        }
        self.record(call, format!("{name} {detail}"), true);
        Ok(local)
    }

    fn caller(&self) -> EntityCaller<'_> {
        EntityCaller {
            tenant: &self.ctx.scope.tenant,
            instance: &self.ctx.scope.instance,
            settings: &self.ctx.crm,
        }
    }
}

fn text(v: serde_json::Value) -> String {
    v.to_string()
}

impl entities::Host for HostState {
    async fn get(
        &mut self,
        kind: Kind,
        id: i64,
    ) -> Result<std::result::Result<Option<String>, types::Error>> {
        let local = match self.entity_access("entities.get", kind, &id.to_string(), CrmAccess::Read)
        {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        };
        let store = self.ctx.services.entities.clone();
        Ok(store
            .get(&self.caller(), local, id)
            .await
            .map(|r| r.map(text))
            .map_err(refusal))
    }

    async fn create(
        &mut self,
        kind: Kind,
        body: String,
    ) -> Result<std::result::Result<String, types::Error>> {
        let local = match self.entity_access("entities.create", kind, "", CrmAccess::ReadWrite) {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        };
        let store = self.ctx.services.entities.clone();
        Ok(store
            .create(&self.caller(), local, body.as_bytes())
            .await
            .map(text)
            .map_err(refusal))
    }

    async fn update(
        &mut self,
        kind: Kind,
        id: i64,
        body: String,
    ) -> Result<std::result::Result<String, types::Error>> {
        let local = match self.entity_access(
            "entities.update",
            kind,
            &id.to_string(),
            CrmAccess::ReadWrite,
        ) {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        };
        let store = self.ctx.services.entities.clone();
        Ok(store
            .update(&self.caller(), local, id, body.as_bytes())
            .await
            .map(text)
            .map_err(refusal))
    }

    async fn decide(
        &mut self,
        kind: Kind,
        id: i64,
        approve: bool,
    ) -> Result<std::result::Result<String, types::Error>> {
        let verb = if approve { "approve" } else { "reject" };
        let local = match self.entity_access(
            "entities.decide",
            kind,
            &format!("{id} {verb}"),
            CrmAccess::ReadWrite,
        ) {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        };
        let store = self.ctx.services.entities.clone();
        Ok(store
            .decide(&self.caller(), local, id, approve)
            .await
            .map(text)
            .map_err(refusal))
    }

    async fn query(
        &mut self,
        kind: Kind,
        filters: Vec<Filter>,
        after: i64,
        limit: u32,
    ) -> Result<std::result::Result<Page, types::Error>> {
        let local = match self.entity_access("entities.query", kind, "", CrmAccess::Read) {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        };
        if limit == 0 || limit > MAX_PAGE {
            return Ok(Err(field_error("limit", format!("must be 1..={MAX_PAGE}"))));
        }
        let filters: Vec<(String, String)> =
            filters.into_iter().map(|f| (f.name, f.value)).collect();
        let store = self.ctx.services.entities.clone();
        let answer = store
            .query(&self.caller(), local, &filters, after, limit)
            .await;
        Ok(answer.map_err(refusal).map(|(rows, more)| {
            let next_after = if more {
                rows.last().and_then(|r| r["id"].as_i64())
            } else {
                None
            };
            Page {
                items: rows.into_iter().map(text).collect(),
                next_after,
            }
        }))
    }
}
