//! The sync vocabulary as types: which CRM record a change is about, what
//! happened to it, where it came from, and the states of outbox rows and
//! links. They are the only place the stored names are spelled (issue
//! 14): `cargo xtask vocabulary` lists every kind or status literal
//! elsewhere in `host/src`, and finds none. The database keeps the same
//! text as before, so no data migrates. A stored value no variant names is
//! corrupt data and reads as [`UnknownValue`], never as some default kind.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// A stored value that names no variant: corrupt or foreign data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt data: {value:?} is not a known {what}")]
pub struct UnknownValue {
    /// What was being read (`entity kind`, `outbox status`…).
    pub what: &'static str,
    /// The text found.
    pub value: String,
}

/// Implements the stored-name plumbing of a field-less enum: `as_str`,
/// `parse`, `ALL`, `Display`, comparison with text, and the sqlx column
/// type (the stored name, on SQLite and PostgreSQL alike).
macro_rules! vocabulary {
    ($ty:ident, $what:literal, [$($variant:ident => $name:literal),+ $(,)?]) => {
        impl $ty {
            /// Every value.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];
            /// Every stored name, in [`Self::ALL`]'s order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            /// Parses a stored name.
            pub fn parse(s: &str) -> Result<$ty, UnknownValue> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    other => Err(UnknownValue { what: $what, value: other.to_owned() }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl std::str::FromStr for $ty {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<$ty, UnknownValue> {
                $ty::parse(s)
            }
        }

        text_column!($ty, |v: &$ty| v.as_str().to_owned(), |s: &str| $ty::parse(s));
    };
}

/// The sqlx column type of a value stored as text: encoded as its text,
/// decoded through `parse`, whose [`UnknownValue`] becomes the decode error.
macro_rules! text_column {
    ($ty:ty, $render:expr, $parse:expr) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $ty
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $ty
        where
            String: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                let render = $render;
                <String as sqlx::Encode<'q, DB>>::encode(render(self), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $ty
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<$ty, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                let parse = $parse;
                Ok(parse(text)?)
            }
        }
    };
}

/// The kind of CRM record a change, a link or a lookup is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// طرف حساب (S1).
    Party,
    /// کالا (S13).
    Product,
    /// پیش‌فاکتور (S10).
    Quote,
    /// Sales order.
    SalesOrder,
    /// فاکتور فروش (S14).
    SalesInvoice,
    /// برگشت از فروش (S14).
    SalesReturn,
    /// فاکتور خرید (S15).
    PurchaseInvoice,
    /// برگشت از خرید (S15).
    PurchaseReturn,
    /// Correction note (C2, C3).
    CorrectionNote,
    /// دریافت (S16).
    Receipt,
    /// پرداخت (S16).
    Payment,
}

vocabulary!(EntityKind, "entity kind", [
    Party => "party",
    Product => "product",
    Quote => "quote",
    SalesOrder => "sales_order",
    SalesInvoice => "sales_invoice",
    SalesReturn => "sales_return",
    PurchaseInvoice => "purchase_invoice",
    PurchaseReturn => "purchase_return",
    CorrectionNote => "correction_note",
    Receipt => "receipt",
    Payment => "payment",
]);

impl From<hamgam_trust::manifest::CrmEntity> for EntityKind {
    /// The kind a manifest's or a grant's entity name stands for.
    fn from(kind: hamgam_trust::manifest::CrmEntity) -> Self {
        use hamgam_trust::manifest::CrmEntity as C;
        match kind {
            C::Party => EntityKind::Party,
            C::Product => EntityKind::Product,
            C::Quote => EntityKind::Quote,
            C::SalesOrder => EntityKind::SalesOrder,
            C::SalesInvoice => EntityKind::SalesInvoice,
            C::SalesReturn => EntityKind::SalesReturn,
            C::PurchaseInvoice => EntityKind::PurchaseInvoice,
            C::PurchaseReturn => EntityKind::PurchaseReturn,
            C::CorrectionNote => EntityKind::CorrectionNote,
            C::Receipt => EntityKind::Receipt,
            C::Payment => EntityKind::Payment,
        }
    }
}

impl EntityKind {
    /// The document kind, for the kinds kept in `crm_documents`.
    pub fn document(self) -> Option<super::DocumentKind> {
        use super::DocumentKind as D;
        Some(match self {
            EntityKind::Quote => D::Quote,
            EntityKind::SalesOrder => D::SalesOrder,
            EntityKind::SalesInvoice => D::SalesInvoice,
            EntityKind::SalesReturn => D::SalesReturn,
            EntityKind::PurchaseInvoice => D::PurchaseInvoice,
            EntityKind::PurchaseReturn => D::PurchaseReturn,
            EntityKind::CorrectionNote => D::CorrectionNote,
            EntityKind::Party | EntityKind::Product | EntityKind::Receipt | EntityKind::Payment => {
                return None;
            }
        })
    }

    /// The payment kind, for the kinds kept in `crm_payments`.
    pub fn payment(self) -> Option<super::PaymentKind> {
        match self {
            EntityKind::Receipt => Some(super::PaymentKind::Receipt),
            EntityKind::Payment => Some(super::PaymentKind::Payment),
            _ => None,
        }
    }

    /// The aggregate that keeps records of this kind, with the kind that
    /// aggregate knows them by.
    pub fn aggregate(self) -> Aggregate {
        use super::DocumentKind as D;
        use super::PaymentKind as P;
        match self {
            EntityKind::Party => Aggregate::Party,
            EntityKind::Product => Aggregate::Product,
            EntityKind::Quote => Aggregate::Document(D::Quote),
            EntityKind::SalesOrder => Aggregate::Document(D::SalesOrder),
            EntityKind::SalesInvoice => Aggregate::Document(D::SalesInvoice),
            EntityKind::SalesReturn => Aggregate::Document(D::SalesReturn),
            EntityKind::PurchaseInvoice => Aggregate::Document(D::PurchaseInvoice),
            EntityKind::PurchaseReturn => Aggregate::Document(D::PurchaseReturn),
            EntityKind::CorrectionNote => Aggregate::Document(D::CorrectionNote),
            EntityKind::Receipt => Aggregate::Payment(P::Receipt),
            EntityKind::Payment => Aggregate::Payment(P::Payment),
        }
    }
}

/// Which CRM aggregate (`store::party`, `product`, `document`, `payment`)
/// keeps the records of an [`EntityKind`]: a match on it names every
/// aggregate, where a match on the kind's text could fall through to a
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// `crm_parties`.
    Party,
    /// `crm_products`.
    Product,
    /// `crm_documents`, of this kind.
    Document(super::DocumentKind),
    /// `crm_payments`, of this kind.
    Payment(super::PaymentKind),
}

impl From<super::DocumentKind> for EntityKind {
    fn from(kind: super::DocumentKind) -> EntityKind {
        use super::DocumentKind as D;
        match kind {
            D::Quote => EntityKind::Quote,
            D::SalesOrder => EntityKind::SalesOrder,
            D::SalesInvoice => EntityKind::SalesInvoice,
            D::SalesReturn => EntityKind::SalesReturn,
            D::PurchaseInvoice => EntityKind::PurchaseInvoice,
            D::PurchaseReturn => EntityKind::PurchaseReturn,
            D::CorrectionNote => EntityKind::CorrectionNote,
        }
    }
}

impl From<super::PaymentKind> for EntityKind {
    fn from(kind: super::PaymentKind) -> EntityKind {
        match kind {
            super::PaymentKind::Receipt => EntityKind::Receipt,
            super::PaymentKind::Payment => EntityKind::Payment,
        }
    }
}

/// What a change did to its record (the outbox row's `operation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Created.
    Create,
    /// Edited.
    Update,
    /// Deleted.
    Delete,
    /// Approved (and numbered, F1).
    Approve,
    /// Rejected (F1).
    Reject,
    /// An invoice's paid amount moved: an approved receipt or payment
    /// settled it (H5).
    Settle,
}

vocabulary!(Operation, "operation", [
    Create => "create",
    Update => "update",
    Delete => "delete",
    Approve => "approve",
    Reject => "reject",
    Settle => "settle",
]);

impl Operation {
    /// The event name's verb (`party.created`, `sales_invoice.approved`).
    pub fn past(self) -> &'static str {
        match self {
            Operation::Create => "created",
            Operation::Update => "updated",
            Operation::Delete => "deleted",
            Operation::Approve => "approved",
            Operation::Reject => "rejected",
            Operation::Settle => "settled",
        }
    }
}

/// Where an outbox row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting to be routed or delivered (again).
    Pending,
    /// In the ledger.
    Delivered,
    /// Does not travel, with the rule that says so.
    Skipped,
    /// Parked until someone retries it (F2).
    Failed,
}

vocabulary!(OutboxStatus, "outbox status", [
    Pending => "pending",
    Delivered => "delivered",
    Skipped => "skipped",
    Failed => "failed",
]);

/// Where a link (or a record's sync status, F2) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    /// Both sides agree.
    Synced,
    /// Could not be applied or delivered (with why).
    Failed,
    /// Deleted on the ledger's side.
    Deleted,
}

vocabulary!(LinkStatus, "link status", [
    Synced => "synced",
    Failed => "failed",
    Deleted => "deleted",
]);

/// A document's or payment's sync state (F2), as the record shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// Not in every ledger yet.
    Pending,
    /// Delivered and linked.
    Synced,
    /// A change or a link failed (with why, on the outbox row or link).
    Failed,
}

vocabulary!(SyncStatus, "sync status", [
    Pending => "pending",
    Synced => "synced",
    Failed => "failed",
]);

impl SyncStatus {
    /// The verb of the event a record's new sync status makes
    /// (`sales_invoice.synced`, `receipt.sync_failed`); none for pending.
    pub fn event_verb(self) -> Option<&'static str> {
        match self {
            SyncStatus::Pending => None,
            SyncStatus::Synced => Some("synced"),
            SyncStatus::Failed => Some("sync_failed"),
        }
    }
}

/// Where a stored webhook delivery stands (invariant 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Stored, not processed yet (or to be tried again).
    Pending,
    /// Processed.
    Done,
    /// Parked with the reason.
    Failed,
}

vocabulary!(DeliveryStatus, "delivery status", [
    Pending => "pending",
    Done => "done",
    Failed => "failed",
]);

/// Why a subscriber has not taken an event its cursor is past (S20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventHold {
    /// The module failed it; tried again at `next_attempt_at`.
    Retrying,
    /// Failed too often: waits for someone to retry it through the API.
    Parked,
    /// Behind an earlier failing event of the same subject, so a record's
    /// events reach the module in their order.
    Held,
}

vocabulary!(EventHold, "event hold", [
    Retrying => "retrying",
    Parked => "parked",
    Held => "held",
]);

/// Which side first created a linked record (S8, S11, S12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkOrigin {
    /// Created in the ledger, copied to the CRM.
    Ledger,
    /// Created in the CRM, sent to the ledger.
    Crm,
}

vocabulary!(LinkOrigin, "link origin", [
    Ledger => "ledger",
    Crm => "crm",
]);

/// Where a one-shot import of a past period stands (H10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportState {
    /// Under way, or waiting to be resumed (after a crash, a restart or a
    /// ledger that was away).
    Running,
    /// Every page of every kind was applied.
    Done,
    /// Stopped by an error no retry mends (the reason is kept).
    Failed,
    /// Stopped by an operator; what was applied stays.
    Cancelled,
}

vocabulary!(ImportState, "import state", [
    Running => "running",
    Done => "done",
    Failed => "failed",
    Cancelled => "cancelled",
]);

/// Where a change came from: the tenant's REST API, a business module
/// instance, or a connector instance the sync engine applied it for.
/// Stored as `api:<tenant>` / `module:<instance>` / `connector:<instance>`;
/// the engine never sends a change back to the instance it came from (S8,
/// echo suppression). A module's change is the CRM's own, as an API
/// change is: it travels to the ledgers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Through the REST API with the tenant's token.
    Api(String),
    /// Applied by the sync engine for this connector instance.
    Connector(String),
    /// Written by this module instance through `hamgam:crm/entities`.
    Module(String),
}

impl Origin {
    /// Parses `api:<tenant>` or `connector:<instance>`.
    pub fn parse(s: &str) -> Result<Origin, UnknownValue> {
        if let Some(tenant) = s.strip_prefix("api:") {
            return Ok(Origin::Api(tenant.to_owned()));
        }
        if let Some(instance) = s.strip_prefix("connector:") {
            return Ok(Origin::Connector(instance.to_owned()));
        }
        if let Some(instance) = s.strip_prefix("module:") {
            return Ok(Origin::Module(instance.to_owned()));
        }
        Err(UnknownValue {
            what: "origin",
            value: s.to_owned(),
        })
    }

    /// The connector instance a change came from, if it came from one.
    pub fn connector(&self) -> Option<&str> {
        match self {
            Origin::Connector(instance) => Some(instance),
            Origin::Api(_) | Origin::Module(_) => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Api(tenant) => write!(f, "api:{tenant}"),
            Origin::Connector(instance) => write!(f, "connector:{instance}"),
            Origin::Module(instance) => write!(f, "module:{instance}"),
        }
    }
}

impl Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Origin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Origin, D::Error> {
        let text = String::deserialize(d)?;
        Origin::parse(&text).map_err(serde::de::Error::custom)
    }
}

text_column!(Origin, |o: &Origin| o.to_string(), |s: &str| Origin::parse(
    s
));

/// A company's code (S17: `300`, the suffix of its customer numbers and
/// product codes). One type wherever a code travels: a connector's
/// `describe`, a party's column, a routing decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CompanyCode(pub u16);

impl CompanyCode {
    /// Parses a code as a connector or a record spells it (`" 300 "`);
    /// none for text that is no code.
    pub fn parse(text: &str) -> Option<CompanyCode> {
        text.trim().parse().ok().map(CompanyCode)
    }
}

impl fmt::Display for CompanyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_and_an_unknown_one_is_corrupt_data() {
        for k in EntityKind::ALL {
            assert_eq!(EntityKind::parse(k.as_str()), Ok(*k));
        }
        for s in OutboxStatus::ALL {
            assert_eq!(OutboxStatus::parse(s.as_str()), Ok(*s));
        }
        for s in LinkStatus::ALL {
            assert_eq!(LinkStatus::parse(s.as_str()), Ok(*s));
        }
        for o in Operation::ALL {
            assert_eq!(Operation::parse(o.as_str()), Ok(*o));
        }
        let err = EntityKind::parse("warehouse_issue").unwrap_err();
        assert_eq!(err.what, "entity kind");
        assert!(err.to_string().contains("corrupt data"), "{err}");
        for o in [
            Origin::Api("acme".into()),
            Origin::Connector("sepidar-300".into()),
            Origin::Module("petty-cash".into()),
        ] {
            assert_eq!(Origin::parse(&o.to_string()), Ok(o));
        }
        assert!(Origin::parse("sepidar-300").is_err());
        assert_eq!(CompanyCode::parse(" 300 "), Some(CompanyCode(300)));
        assert_eq!(CompanyCode::parse("A1"), None);
    }

    #[test]
    fn document_and_payment_kinds_map_both_ways() {
        for d in super::super::DocumentKind::ALL {
            assert_eq!(EntityKind::from(d).document(), Some(d));
            assert_eq!(EntityKind::from(d).aggregate(), Aggregate::Document(d));
        }
        for p in super::super::PaymentKind::ALL {
            assert_eq!(EntityKind::from(p).payment(), Some(p));
            assert_eq!(EntityKind::from(p).aggregate(), Aggregate::Payment(p));
        }
        assert_eq!(EntityKind::Party.aggregate(), Aggregate::Party);
        assert_eq!(EntityKind::Product.aggregate(), Aggregate::Product);
    }
}
