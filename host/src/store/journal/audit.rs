//! The audit trail (`crm_audit`): who changed which record when, with the
//! record before and after as the API shows it.

use super::Change;
use crate::crm::Actor;
use crate::crm::kinds::{EntityKind, Operation};
use crate::store::error::Result;
use crate::store::event::{self, NewEvent};
use crate::store::sql::{Arg, bind_args, insert_placeholders, json, now};
use crate::store::{Db, Tx};

/// The audit rows of one chunk of changes (one multi-row INSERT).
pub(super) async fn insert(tx: &mut Tx, actor: &Actor, chunk: &[Change], at: &str) -> Result<()> {
    let sql = format!(
        "INSERT INTO crm_audit (tenant, actor, entity_kind, entity_id, operation, before_json, after_json, at) VALUES {}",
        insert_placeholders(tx, chunk.len(), 8)
    );
    let mut args = Vec::with_capacity(chunk.len() * 8);
    for c in chunk {
        args.extend([
            Arg::Text(actor.tenant.clone()),
            Arg::Text(actor.who.clone()),
            Arg::Text(c.entity_kind.as_str().to_owned()),
            Arg::I64(c.entity_id),
            Arg::Text(c.operation.as_str().to_owned()),
            Arg::OptText(c.before.clone()),
            Arg::OptText(c.after.clone()),
            Arg::Text(at.to_owned()),
        ]);
    }
    on_tx!(tx, c => bind_args!(sqlx::query(&sql), &args).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// What an audit row says happened: a change of the record, or the
/// ledger's renumbering of its copy (S11), which only the audit keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) enum Audited {
    /// One of the operations the outbox carries too.
    Change(Operation),
    /// The ledger's copy has another number (stored as `ledger_number`).
    LedgerNumber,
}

impl Audited {
    /// The stored name (`crm_audit.operation`).
    fn as_str(self) -> &'static str {
        match self {
            Audited::Change(op) => op.as_str(),
            Audited::LedgerNumber => "ledger_number",
        }
    }
}

/// An audit row, for tests and the history view.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    /// Who.
    pub actor: String,
    /// Entity kind.
    pub entity_kind: String,
    /// Entity id.
    pub entity_id: i64,
    /// `create`, `update`, `delete`, `approve`, `reject`, `settle`, or
    /// `ledger_number` (the ledger's copy was renumbered, S11).
    pub operation: String,
    /// JSON before the change.
    pub before_json: Option<String>,
    /// JSON after the change.
    pub after_json: Option<String>,
    /// When (RFC 3339 UTC).
    pub at: String,
}

/// A tenant's audit trail of one entity, oldest first.
pub async fn audit_trail(
    db: &Db,
    tenant: &str,
    entity_kind: EntityKind,
    entity_id: i64,
) -> Result<Vec<AuditRow>> {
    let sql = "SELECT actor, entity_kind, entity_id, operation, before_json, after_json, at \
               FROM crm_audit WHERE tenant = $1 AND entity_kind = $2 AND entity_id = $3 ORDER BY id";
    Ok(on_pool!(db, p => sqlx::query_as(sql)
        .bind(tenant).bind(entity_kind).bind(entity_id).fetch_all(p).await)?)
}

/// S11: the ledger's copy of a CRM record now has another number (a
/// ledger that cannot edit a quotation replaces it, and numbers the new
/// one). Written to the audit and the event log (`<kind>.numbered`): the
/// CRM record itself did not change, so nothing travels.
pub async fn record_ledger_number_in_op(
    tx: &mut Tx,
    actor: &Actor,
    entity_kind: EntityKind,
    entity_id: i64,
    before: &str,
    after: &str,
) -> Result<()> {
    let side = |n: &str| json(&serde_json::json!({ "ledger_number": n }));
    let (before, after) = (side(before)?, side(after)?);
    audit_only(
        tx,
        actor,
        entity_kind,
        entity_id,
        Audited::LedgerNumber,
        &before,
        &after,
    )
    .await?;
    let numbered = NewEvent {
        tenant: actor.tenant.clone(),
        name: format!("{entity_kind}.numbered"),
        subject: event::subject(entity_kind, entity_id),
        actor: actor.who.clone(),
        payload: format!(
            r#"{{"kind":"{entity_kind}","id":{entity_id},"before":{before},"after":{after}}}"#
        ),
    };
    Ok(event::append_in_op(tx, &[numbered]).await?)
}

/// An audit row with no outbox row: for changes a ledger made that travel
/// nowhere.
pub(in crate::store) async fn audit_only(
    tx: &mut Tx,
    actor: &Actor,
    entity_kind: EntityKind,
    entity_id: i64,
    what: Audited,
    before: &str,
    after: &str,
) -> Result<()> {
    on_tx!(tx, c => sqlx::query("INSERT INTO crm_audit (tenant, actor, entity_kind, entity_id, operation, before_json, after_json, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&actor.tenant).bind(&actor.who).bind(entity_kind).bind(entity_id).bind(what.as_str())
        .bind(before).bind(after).bind(now())
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
