//! The event log's rows: an event as written, as read back in delivery
//! order, and an event a subscriber has not taken yet.

use crate::crm::kinds::{EntityKind, EventHold, Operation};
use serde::Serialize;
use utoipa::ToSchema;

/// An event to append, in the transaction of the change it tells of.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Tenant.
    pub tenant: String,
    /// `party.created`, `module.petty-cash.bill_settled`…
    pub name: String,
    /// What it is about (`party:12`).
    pub subject: String,
    /// Who made the change (the audit trail's actor).
    pub actor: String,
    /// JSON.
    pub payload: String,
}

impl NewEvent {
    /// A CRM record's change: `<kind>.<past tense>`, about `<kind>:<id>`,
    /// carrying the record before and after as the API shows it (JSON text,
    /// spliced rather than parsed again: each side is already JSON).
    pub fn change(
        tenant: &str,
        actor: &str,
        kind: EntityKind,
        id: i64,
        operation: Operation,
        before: Option<&str>,
        after: Option<&str>,
    ) -> NewEvent {
        NewEvent {
            tenant: tenant.to_owned(),
            name: format!("{kind}.{}", operation.past()),
            subject: subject(kind, id),
            actor: actor.to_owned(),
            payload: format!(
                r#"{{"kind":"{kind}","id":{id},"before":{},"after":{}}}"#,
                before.unwrap_or("null"),
                after.unwrap_or("null")
            ),
        }
    }
}

/// The subject of a CRM record's events.
pub fn subject(kind: EntityKind, id: i64) -> String {
    format!("{kind}:{id}")
}

/// An event of the log in delivery order.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize, ToSchema)]
pub struct Event {
    /// The event's identity: the idempotency key a module is handed.
    pub id: i64,
    /// Delivery order (assigned once the event has committed).
    pub seq: i64,
    /// `party.created`…
    pub name: String,
    /// What it is about (`party:12`).
    pub subject: String,
    /// Who made the change.
    pub actor: String,
    /// JSON text.
    pub payload: String,
    /// When (RFC 3339 UTC).
    pub at: String,
}

/// An event a subscriber's cursor is past but that it has not taken.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize, ToSchema)]
pub struct Holdup {
    /// The module instance.
    pub subscriber: String,
    /// The event.
    pub event_id: i64,
    /// Its place in the log.
    pub seq: i64,
    /// Its name.
    pub name: String,
    /// Its subject.
    pub subject: String,
    /// Why it waits.
    pub status: EventHold,
    /// Deliveries tried.
    pub attempts: i32,
    /// The next try (retrying).
    pub next_attempt_at: Option<String>,
    /// The module's last answer.
    pub last_error: Option<String>,
    /// Last change of this row.
    pub updated_at: String,
}
