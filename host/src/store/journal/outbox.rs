//! The outbox (`crm_outbox`): one row per change that may travel to a
//! ledger, written with the change ([`super::record`]), then routed,
//! delivered and settled by the sync engine (`sync::outbound`). One row
//! type, [`OutboxItem`], serves both sides.

use super::Change;
use crate::crm::Actor;
use crate::crm::kinds::{EntityKind, Operation, Origin, OutboxStatus};
use crate::store::sql::{Arg, IN_CHUNK, bind_args, insert_placeholders, param, params};
use crate::store::{Db, Tx};
use std::collections::HashMap;

/// Result of an outbox call.
pub type Result<T> = std::result::Result<T, sqlx::Error>;

/// The outbox rows of changes the actor's rule admits (one multi-row
/// INSERT), status `pending`.
pub(super) async fn insert(
    tx: &mut Tx,
    actor: &Actor,
    outgoing: &[&Change],
    at: &str,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO crm_outbox (tenant, entity_kind, entity_id, operation, payload, origin, status, created_at) VALUES {}",
        insert_placeholders(tx, outgoing.len(), 8)
    );
    let mut args = Vec::with_capacity(outgoing.len() * 8);
    for c in outgoing {
        args.extend([
            Arg::Text(actor.tenant.clone()),
            Arg::Text(c.entity_kind.as_str().to_owned()),
            Arg::I64(c.entity_id),
            Arg::Text(c.operation.as_str().to_owned()),
            Arg::Text(
                c.after
                    .clone()
                    .or_else(|| c.before.clone())
                    .unwrap_or_else(|| "null".into()),
            ),
            Arg::Text(actor.origin.clone()),
            Arg::Text(OutboxStatus::Pending.as_str().to_owned()),
            Arg::Text(at.to_owned()),
        ]);
    }
    on_tx!(tx, c => bind_args!(sqlx::query(&sql), &args).execute(&mut *c).await.map(|_| ()))
}

/// An outbox row as the delivery worker sees it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct OutboxItem {
    /// Row id (also the change's sequence number).
    pub id: i64,
    /// CRM entity kind.
    pub entity_kind: EntityKind,
    /// CRM id.
    pub entity_id: i64,
    /// What the change did.
    pub operation: Operation,
    /// Origin tag of the change (`api:<tenant>`, `connector:<instance>`).
    #[schema(value_type = String)]
    pub origin: Origin,
    /// Where the row stands.
    pub status: OutboxStatus,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// The connector instance it was routed to.
    pub target: Option<String>,
    /// Not before (RFC 3339 UTC).
    pub next_attempt_at: Option<String>,
    /// Why it was skipped or failed, or the last transient error.
    pub last_error: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
}

const OUTBOX_COLS: &str = "id, entity_kind, entity_id, operation, origin, status, attempts, target, \
    next_attempt_at, last_error, created_at";

/// A tenant's outbox, oldest first.
pub async fn outbox(db: &Db, tenant: &str) -> Result<Vec<OutboxItem>> {
    let sql = format!("SELECT {OUTBOX_COLS} FROM crm_outbox WHERE tenant = $1 ORDER BY id");
    on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).fetch_all(p).await)
}

/// Pending rows not yet routed to an instance, oldest first.
pub async fn unrouted(db: &Db, tenant: &str, limit: u32) -> Result<Vec<OutboxItem>> {
    let sql = format!(
        "SELECT {OUTBOX_COLS} FROM crm_outbox WHERE tenant = $1 AND status = $2 AND target IS NULL ORDER BY id LIMIT {limit}"
    );
    on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(OutboxStatus::Pending).fetch_all(p).await)
}

/// Rows routed to `target` that are due now, oldest first.
pub async fn due(
    db: &Db,
    tenant: &str,
    target: &str,
    now: &str,
    limit: u32,
) -> Result<Vec<OutboxItem>> {
    let sql = format!(
        "SELECT {OUTBOX_COLS} FROM crm_outbox WHERE tenant = $1 AND status = $4 AND target = $2 \
         AND (next_attempt_at IS NULL OR next_attempt_at <= $3) ORDER BY id LIMIT {limit}"
    );
    on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(target).bind(now).bind(OutboxStatus::Pending).fetch_all(p).await)
}

/// The pending rows routed to `target` (due or backing off): how many,
/// and when the oldest was written.
pub async fn backlog(db: &Db, tenant: &str, target: &str) -> Result<(i64, Option<String>)> {
    on_pool!(db, p => sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM crm_outbox WHERE tenant = $1 AND status = $3 AND target = $2")
        .bind(tenant).bind(target).bind(OutboxStatus::Pending).fetch_one(p).await)
}

/// One outbox row.
pub async fn outbox_item(db: &Db, tenant: &str, id: i64) -> Result<Option<OutboxItem>> {
    let sql = format!("SELECT {OUTBOX_COLS} FROM crm_outbox WHERE tenant = $1 AND id = $2");
    on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(id).fetch_optional(p).await)
}

/// Outbox rows of one CRM record, oldest first.
pub async fn outbox_of(
    db: &Db,
    tenant: &str,
    entity_kind: EntityKind,
    entity_id: i64,
) -> Result<Vec<OutboxItem>> {
    let sql = format!(
        "SELECT {OUTBOX_COLS} FROM crm_outbox WHERE tenant = $1 AND entity_kind = $2 AND entity_id = $3 ORDER BY id"
    );
    on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(entity_kind).bind(entity_id).fetch_all(p).await)
}

/// Outbox rows in one state, newest first.
pub async fn outbox_with_status(
    db: &Db,
    tenant: &str,
    status: OutboxStatus,
    limit: u32,
) -> Result<Vec<OutboxItem>> {
    let sql = format!(
        "SELECT {OUTBOX_COLS} FROM crm_outbox WHERE tenant = $1 AND status = $2 ORDER BY id DESC LIMIT {limit}"
    );
    on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(status).fetch_all(p).await)
}

/// Where a row goes: to an instance with its idempotency key, or nowhere
/// (settled as skipped with the reason).
#[derive(Debug, Clone, Copy)]
pub enum Route<'a> {
    /// Deliver to this instance with this key.
    To {
        /// Connector instance.
        target: &'a str,
        /// Idempotency key of the push.
        key: &'a str,
    },
    /// Do not deliver, because.
    Skip(&'a str),
}

/// Route a pending row.
pub async fn route(db: &Db, tenant: &str, id: i64, route: Route<'_>, at: &str) -> Result<()> {
    let (target, key, status, why) = match route {
        Route::To { target, key } => (target, Some(key), OutboxStatus::Pending, None),
        Route::Skip(why) => ("-", None, OutboxStatus::Skipped, Some(why)),
    };
    on_pool!(db, p => sqlx::query("UPDATE crm_outbox SET target = $1, idem_key = $2, status = $3, last_error = $4, updated_at = $5 WHERE tenant = $6 AND id = $7 AND status = $8")
        .bind(target).bind(key).bind(status).bind(why).bind(at).bind(tenant).bind(id).bind(OutboxStatus::Pending)
        .execute(p).await.map(|_| ()))
}

/// The CRM record whose change was pushed with idempotency key `key`.
pub async fn change_by_key(
    tx: &mut Tx,
    tenant: &str,
    key: &str,
) -> Result<Option<(EntityKind, i64)>> {
    on_tx!(tx, c => sqlx::query_as("SELECT entity_kind, entity_id FROM crm_outbox WHERE tenant = $1 AND idem_key = $2")
        .bind(tenant).bind(key.to_ascii_lowercase()).fetch_optional(&mut *c).await)
}

/// The CRM records whose changes were pushed with these idempotency keys
/// (lower-cased), by key.
pub async fn changes_by_keys(
    tx: &mut Tx,
    tenant: &str,
    keys: &[String],
) -> Result<HashMap<String, (EntityKind, i64)>> {
    let keys: Vec<String> = keys.iter().map(|k| k.to_ascii_lowercase()).collect();
    let mut out = HashMap::new();
    for chunk in keys.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT idem_key, entity_kind, entity_id FROM crm_outbox WHERE tenant = {} AND idem_key IN ({})",
            param(tx, 1),
            params(tx, 1, chunk.len())
        );
        let rows: Vec<(String, EntityKind, i64)> = on_tx!(tx, c => {
            let mut q = sqlx::query_as(&sql).bind(tenant);
            for k in chunk {
                q = q.bind(k);
            }
            q.fetch_all(&mut *c).await
        })?;
        out.extend(rows.into_iter().map(|(k, kind, id)| (k, (kind, id))));
    }
    Ok(out)
}

/// The outcome of a delivery attempt, as stored on its outbox row.
#[derive(Debug, Clone, Copy)]
pub struct Settlement<'a> {
    /// Pending (again later), delivered, skipped or failed.
    pub status: OutboxStatus,
    /// Attempts so far.
    pub attempts: i32,
    /// Not before (pending rows).
    pub next_attempt_at: Option<&'a str>,
    /// Why.
    pub error: Option<&'a str>,
}

/// Record the outcome of a delivery attempt for rows `ids` (in the
/// transaction that also wrote the link, on success).
pub async fn settle(
    tx: &mut Tx,
    tenant: &str,
    ids: &[i64],
    outcome: Settlement<'_>,
    at: &str,
) -> Result<()> {
    for id in ids {
        on_tx!(tx, c => sqlx::query("UPDATE crm_outbox SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4, updated_at = $5 WHERE tenant = $6 AND id = $7")
            .bind(outcome.status).bind(outcome.attempts).bind(outcome.next_attempt_at).bind(outcome.error).bind(at).bind(tenant).bind(id)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// The newest outbox row of a CRM record (0 when it has none).
pub async fn last_change(
    db: &Db,
    tenant: &str,
    entity_kind: EntityKind,
    entity_id: i64,
) -> Result<i64> {
    let id: Option<i64> = on_pool!(db, p => sqlx::query_scalar("SELECT MAX(id) FROM crm_outbox WHERE tenant = $1 AND entity_kind = $2 AND entity_id = $3")
        .bind(tenant).bind(entity_kind).bind(entity_id).fetch_one(p).await)?;
    Ok(id.unwrap_or(0))
}

/// Mark delivered every pending row of a record routed to `target` up to
/// row `upto`: one push of the record's current state covers all the
/// changes made before it was read (coalescing).
pub async fn settle_covered(
    tx: &mut Tx,
    tenant: &str,
    entity_kind: EntityKind,
    entity_id: i64,
    target: &str,
    upto: i64,
    at: &str,
) -> Result<()> {
    on_tx!(tx, c => sqlx::query("UPDATE crm_outbox SET status = $7, updated_at = $1 WHERE tenant = $2 AND entity_kind = $3 AND entity_id = $4 AND target = $5 AND id <= $6 AND status = $8")
        .bind(at).bind(tenant).bind(entity_kind).bind(entity_id).bind(target).bind(upto)
        .bind(OutboxStatus::Delivered).bind(OutboxStatus::Pending)
        .execute(&mut *c).await.map(|_| ()))
}

/// Remember that an attempt of row `id` pushed the record's content up to
/// change `upto` and its answer was lost, so the ledger may hold that
/// content. The first such attempt is kept: every later attempt pushed at
/// least that much, so whichever of them landed delivered it.
pub async fn mark_unsure(tx: &mut Tx, tenant: &str, id: i64, upto: i64) -> Result<()> {
    on_tx!(tx, c => sqlx::query("UPDATE crm_outbox SET unsure_upto = COALESCE(unsure_upto, $1) WHERE tenant = $2 AND id = $3")
        .bind(upto).bind(tenant).bind(id)
        .execute(&mut *c).await.map(|_| ()))
}

/// What [`mark_unsure`] recorded for row `id`, if an attempt's answer was
/// lost.
pub async fn unsure_upto(db: &Db, tenant: &str, id: i64) -> Result<Option<i64>> {
    on_pool!(db, p => sqlx::query_scalar("SELECT unsure_upto FROM crm_outbox WHERE tenant = $1 AND id = $2")
        .bind(tenant).bind(id).fetch_optional(p).await.map(Option::flatten))
}

/// Put a failed (or skipped) row back in the queue, due now (F2 retry).
/// Returns whether a row was reset.
pub async fn retry(db: &Db, tenant: &str, id: i64, at: &str) -> Result<bool> {
    let done = on_pool!(db, p => sqlx::query("UPDATE crm_outbox SET status = $4, attempts = 0, next_attempt_at = NULL, updated_at = $1 WHERE tenant = $2 AND id = $3 AND status IN ($5, $6)")
        .bind(at).bind(tenant).bind(id)
        .bind(OutboxStatus::Pending).bind(OutboxStatus::Failed).bind(OutboxStatus::Skipped)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}
