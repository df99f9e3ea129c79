//! `hamgam:crm/entities` over the host's database: a module's read or
//! write of a party, product, document, receipt or payment runs the same
//! steps as the REST handler of that resource — the body read by
//! `crm::json` (field-named errors), the input checks of `crm::input`,
//! the repository in `store` (numbering, audit and outbox in the write's
//! transaction) — with the module instance as the actor.

use super::backends::{EntityCaller, EntityError, EntityStore};
use crate::crm::kinds::{Aggregate, EntityKind, SyncStatus};
use crate::crm::{
    Actor, DocumentRequest, PartyInput, PartyKind, PaymentRequest, ProductInput, Status,
    WarningRule,
};
use crate::store::Db;
use crate::store::document::{self, DocFilter};
use crate::store::error::StoreError;
use crate::store::party::{self, PartyFilter};
use crate::store::payment;
use crate::store::product::{self, ProductFilter};
use async_trait::async_trait;
use hamgam_domain::JalaliDate;
use serde::Serialize;
use serde_json::Value;

fn json<T: Serialize>(record: &T) -> Result<Value, EntityError> {
    serde_json::to_value(record).map_err(|e| {
        EntityError::Store(StoreError::Corrupt {
            what: "record",
            message: e.to_string(),
        })
    })
}

fn actor(caller: &EntityCaller<'_>) -> Actor {
    Actor::module(caller.tenant, caller.instance)
}

fn filter_error(field: &str, message: impl Into<String>) -> EntityError {
    EntityError::Filter {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// A filter's value read by `parse`, or an error naming the filter.
fn value<T>(name: &str, raw: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, EntityError> {
    parse(raw).ok_or_else(|| filter_error(name, format!("{raw:?} is not a valid {name}")))
}

fn party_filter(filters: &[(String, String)]) -> Result<PartyFilter, EntityError> {
    let mut f = PartyFilter::default();
    for (name, raw) in filters {
        match name.as_str() {
            "kind" => f.kind = Some(value(name, raw, PartyKind::parse)?),
            "customer_number" => f.customer_number = Some(raw.clone()),
            "company_code" => f.company_code = Some(value(name, raw, |v| v.parse().ok())?),
            "has_warnings" => f.has_warnings = Some(value(name, raw, |v| v.parse().ok())?),
            "warning" => f.warning = Some(value(name, raw, WarningRule::parse)?),
            _ => return Err(unknown(name, PARTY_FILTERS)),
        }
    }
    Ok(f)
}

fn product_filter(filters: &[(String, String)]) -> Result<ProductFilter, EntityError> {
    let mut f = ProductFilter::default();
    for (name, raw) in filters {
        match name.as_str() {
            "code" => f.code = Some(raw.clone()),
            "has_warnings" => f.has_warnings = Some(value(name, raw, |v| v.parse().ok())?),
            "warning" => f.warning = Some(value(name, raw, WarningRule::parse)?),
            _ => return Err(unknown(name, PRODUCT_FILTERS)),
        }
    }
    Ok(f)
}

/// Documents and payments share their filters; `paid` is a document's.
fn doc_filter(filters: &[(String, String)], with_paid: bool) -> Result<DocFilter, EntityError> {
    let mut f = DocFilter::default();
    for (name, raw) in filters {
        match name.as_str() {
            "party_id" => f.party_id = Some(value(name, raw, |v| v.parse().ok())?),
            "date_from" => f.date_from = Some(value(name, raw, |v| JalaliDate::parse(v).ok())?),
            "date_to" => f.date_to = Some(value(name, raw, |v| JalaliDate::parse(v).ok())?),
            "status" => f.status = Some(value(name, raw, Status::parse)?),
            "paid" if with_paid => f.paid = Some(value(name, raw, |v| v.parse().ok())?),
            "sync_status" => {
                f.sync_status = Some(value(name, raw, |v| {
                    SyncStatus::parse(v).ok().map(|s| s.as_str().to_owned())
                })?)
            }
            _ if with_paid => return Err(unknown(name, DOCUMENT_FILTERS)),
            _ => return Err(unknown(name, PAYMENT_FILTERS)),
        }
    }
    Ok(f)
}

const PARTY_FILTERS: &str = "kind, customer_number, company_code, has_warnings, warning";
const PRODUCT_FILTERS: &str = "code, has_warnings, warning";
const DOCUMENT_FILTERS: &str = "party_id, date_from, date_to, status, paid, sync_status";
const PAYMENT_FILTERS: &str = "party_id, date_from, date_to, status, sync_status";

fn unknown(name: &str, known: &str) -> EntityError {
    filter_error(name, format!("unknown filter; this kind has: {known}"))
}

/// `NotFound` as "none", for a get.
fn found<T>(r: Result<T, StoreError>) -> Result<Option<T>, EntityError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn not_decided(kind: EntityKind) -> EntityError {
    EntityError::Store(StoreError::Conflict {
        field: None,
        message: format!(
            "a {kind} is not approved or rejected; only documents, receipts and payments are"
        ),
    })
}

fn no_template(kind: EntityKind) -> EntityError {
    EntityError::Store(StoreError::Conflict {
        field: None,
        message: format!("the tenant has no numbering template for {kind}"),
    })
}

#[async_trait]
impl EntityStore for Db {
    async fn get(
        &self,
        caller: &EntityCaller<'_>,
        kind: EntityKind,
        id: i64,
    ) -> Result<Option<Value>, EntityError> {
        let t = caller.tenant;
        let record = match kind.aggregate() {
            Aggregate::Party => found(party::get_party(self, t, id).await)?.map(|r| json(&r)),
            Aggregate::Product => found(product::get_product(self, t, id).await)?.map(|r| json(&r)),
            Aggregate::Document(k) => {
                found(document::get_document(self, t, k, id).await)?.map(|r| json(&r))
            }
            Aggregate::Payment(k) => {
                found(payment::get_payment(self, t, k, id).await)?.map(|r| json(&r))
            }
        };
        record.transpose()
    }

    async fn create(
        &self,
        caller: &EntityCaller<'_>,
        kind: EntityKind,
        body: &[u8],
    ) -> Result<Value, EntityError> {
        let actor = actor(caller);
        match kind.aggregate() {
            Aggregate::Party => {
                let new = crate::crm::json::parse::<PartyInput>(body)?.validate()?;
                json(&party::create_party(self, &actor, &new).await?)
            }
            Aggregate::Product => {
                let new = crate::crm::json::parse::<ProductInput>(body)?.validate()?;
                json(&product::create_product(self, &actor, &new).await?)
            }
            Aggregate::Document(k) => {
                let input = crate::crm::json::parse::<DocumentRequest>(body)?;
                let products =
                    product::products_by_id(self, caller.tenant, &input.product_ids()).await?;
                let new = input.prepare(k, &products, &caller.settings.rates)?;
                json(&document::create_document(self, &actor, &new).await?)
            }
            Aggregate::Payment(k) => {
                let new = crate::crm::json::parse::<PaymentRequest>(body)?.validate(k)?;
                json(&payment::create_payment(self, &actor, &new).await?)
            }
        }
    }

    async fn update(
        &self,
        caller: &EntityCaller<'_>,
        kind: EntityKind,
        id: i64,
        body: &[u8],
    ) -> Result<Value, EntityError> {
        let actor = actor(caller);
        let t = caller.tenant;
        match kind.aggregate() {
            Aggregate::Party => {
                let new = crate::crm::json::parse::<PartyInput>(body)?.validate()?;
                json(&party::update_party(self, &actor, id, &new).await?)
            }
            Aggregate::Product => {
                let new = crate::crm::json::parse::<ProductInput>(body)?.validate()?;
                json(&product::update_product(self, &actor, id, &new).await?)
            }
            Aggregate::Document(k) => {
                // Existence first, as the API: another tenant's id is "not
                // found" whatever the body.
                document::get_document(self, t, k, id).await?;
                let input = crate::crm::json::parse::<DocumentRequest>(body)?;
                let products = product::products_by_id(self, t, &input.product_ids()).await?;
                let new = input.prepare(k, &products, &caller.settings.rates)?;
                json(&document::update_document(self, &actor, id, &new).await?)
            }
            Aggregate::Payment(k) => {
                payment::get_payment(self, t, k, id).await?;
                let new = crate::crm::json::parse::<PaymentRequest>(body)?.validate(k)?;
                json(&payment::update_payment(self, &actor, id, &new).await?)
            }
        }
    }

    async fn decide(
        &self,
        caller: &EntityCaller<'_>,
        kind: EntityKind,
        id: i64,
        approve: bool,
    ) -> Result<Value, EntityError> {
        let actor = actor(caller);
        let template = || {
            caller
                .settings
                .template(kind.as_str())
                .ok_or_else(|| no_template(kind))
        };
        match kind.aggregate() {
            Aggregate::Party | Aggregate::Product => Err(not_decided(kind)),
            Aggregate::Document(k) => {
                json(&document::decide_document(self, &actor, k, id, approve, template()?).await?)
            }
            Aggregate::Payment(k) => {
                json(&payment::decide_payment(self, &actor, k, id, approve, template()?).await?)
            }
        }
    }

    async fn query(
        &self,
        caller: &EntityCaller<'_>,
        kind: EntityKind,
        filters: &[(String, String)],
        after: i64,
        limit: u32,
    ) -> Result<(Vec<Value>, bool), EntityError> {
        let t = caller.tenant;
        // The repositories read `limit + 1` rows to tell whether more follow.
        let rows: Vec<Value> = match kind.aggregate() {
            Aggregate::Party => {
                let f = party_filter(filters)?;
                let rows = party::list_parties(self, t, &f, after, limit).await?;
                rows.iter().map(json).collect::<Result<_, _>>()?
            }
            Aggregate::Product => {
                let f = product_filter(filters)?;
                let rows = product::list_products(self, t, &f, after, limit).await?;
                rows.iter().map(json).collect::<Result<_, _>>()?
            }
            Aggregate::Document(k) => {
                let f = doc_filter(filters, true)?;
                let rows = document::list_documents(self, t, k, &f, after, limit).await?;
                rows.iter().map(json).collect::<Result<_, _>>()?
            }
            Aggregate::Payment(k) => {
                let f = doc_filter(filters, false)?;
                let rows = payment::list_payments(self, t, k, &f, after, limit).await?;
                rows.iter().map(json).collect::<Result<_, _>>()?
            }
        };
        let mut rows = rows;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok((rows, more))
    }
}

/// A CRM database of its own, in memory, opened (and migrated) at its
/// first use: the test harness's and the in-memory services'. The same
/// repositories and checks run on it as on the host's database, so a
/// module tested against it meets the rules it will meet in production.
#[derive(Debug, Default)]
pub struct ScratchEntities {
    db: tokio::sync::OnceCell<Db>,
}

impl ScratchEntities {
    /// The database, opened on first use.
    pub async fn db(&self) -> Result<&Db, StoreError> {
        self.db
            .get_or_try_init(|| async { Db::connect("sqlite::memory:").await })
            .await
            .map_err(StoreError::Db)
    }
}

#[async_trait]
impl EntityStore for ScratchEntities {
    async fn get(
        &self,
        caller: &EntityCaller<'_>,
        kind: EntityKind,
        id: i64,
    ) -> Result<Option<Value>, EntityError> {
        self.db().await?.get(caller, kind, id).await
    }

    async fn create(
        &self,
        caller: &EntityCaller<'_>,
        kind: EntityKind,
        body: &[u8],
    ) -> Result<Value, EntityError> {
        self.db().await?.create(caller, kind, body).await
    }

    async fn update(
        &self,
        caller: &EntityCaller<'_>,
        kind: EntityKind,
        id: i64,
        body: &[u8],
    ) -> Result<Value, EntityError> {
        self.db().await?.update(caller, kind, id, body).await
    }

    async fn decide(
        &self,
        caller: &EntityCaller<'_>,
        kind: EntityKind,
        id: i64,
        approve: bool,
    ) -> Result<Value, EntityError> {
        self.db().await?.decide(caller, kind, id, approve).await
    }

    async fn query(
        &self,
        caller: &EntityCaller<'_>,
        kind: EntityKind,
        filters: &[(String, String)],
        after: i64,
        limit: u32,
    ) -> Result<(Vec<Value>, bool), EntityError> {
        self.db()
            .await?
            .query(caller, kind, filters, after, limit)
            .await
    }
}
