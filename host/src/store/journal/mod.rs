//! The journal of CRM changes: the audit trail ([`audit`], table
//! `crm_audit`), the outbox ([`outbox`], `crm_outbox`), the sync
//! engine's input, and the change's event in the event log
//! ([`crate::store::event`], what modules subscribe to). Every repository
//! write records its change here in the transaction that makes it (C6,
//! S20), so a change the sync engine or a module does not hear about
//! cannot exist; the actor's [`Outbox`](crate::crm::Outbox) rule decides
//! which changes also get an outbox row.

pub mod audit;
pub mod outbox;

use super::Tx;
use super::error::Result;
use super::event::NewEvent;
use super::sql::{CHUNK, json, now};
use crate::crm::Actor;
use crate::crm::kinds::{EntityKind, Operation};

/// One change to record in the audit trail and the outbox.
pub(in crate::store) struct Change {
    pub(in crate::store) entity_kind: EntityKind,
    pub(in crate::store) entity_id: i64,
    pub(in crate::store) operation: Operation,
    pub(in crate::store) before: Option<String>,
    pub(in crate::store) after: Option<String>,
}

/// Audit and outbox for one change of one record (`before` and `after`
/// as the API shows them; none for create's before and delete's after).
pub(in crate::store) async fn record_one<T: serde::Serialize>(
    tx: &mut Tx,
    actor: &Actor,
    entity_kind: EntityKind,
    entity_id: i64,
    operation: Operation,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<()> {
    let change = Change {
        entity_kind,
        entity_id,
        operation,
        before: before.map(json).transpose()?,
        after: after.map(json).transpose()?,
    };
    record(tx, actor, &[change]).await
}

/// Writes the audit rows and events of `changes` and the outbox rows the
/// actor's rule admits (multi-row INSERTs).
pub(in crate::store) async fn record(tx: &mut Tx, actor: &Actor, changes: &[Change]) -> Result<()> {
    let at = now();
    for chunk in changes.chunks(CHUNK) {
        audit::insert(tx, actor, chunk, &at).await?;
        let events: Vec<NewEvent> = chunk
            .iter()
            .map(|c| {
                NewEvent::change(
                    &actor.tenant,
                    &actor.who,
                    c.entity_kind,
                    c.entity_id,
                    c.operation,
                    c.before.as_deref(),
                    c.after.as_deref(),
                )
            })
            .collect();
        super::event::append_in_op(tx, &events).await?;
        let outgoing: Vec<&Change> = chunk
            .iter()
            .filter(|c| actor.writes_outbox(c.entity_kind, c.operation))
            .collect();
        if outgoing.is_empty() {
            continue;
        }
        outbox::insert(tx, actor, &outgoing, &at).await?;
    }
    Ok(())
}
