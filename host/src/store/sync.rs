//! The sync engine's tables: links between CRM records and ledger records,
//! pull cursors, and the CRM lookups a sync run needs (natural keys,
//! company codes, sync status). The outbox rows it delivers are the
//! journal's ([`super::journal::outbox`]).
//!
//! Every write here is meant to join the transaction that applies the CRM
//! change it describes, so a link, a cursor and the records they point at
//! are always committed together (crash safety: no gap, no duplicate).

use super::event::NewEvent;
use super::sql::{Arg, CHUNK, IN_CHUNK, bind_args, insert_placeholders, param, params};
use super::{Db, Tx};
use crate::crm::kinds::{EntityKind, LinkStatus, SyncStatus};
use std::collections::HashMap;

/// Result of a sync-table call.
pub type Result<T> = std::result::Result<T, sqlx::Error>;

pub use crate::crm::kinds::LinkOrigin;

/// One link: a ledger record of one connector instance and the CRM record
/// it corresponds to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Link {
    /// Tenant.
    pub tenant: String,
    /// Connector instance.
    pub instance: String,
    /// The ledger's entity kind (`party`, `sales_invoice`, `warehouse_receipt`…).
    pub kind: String,
    /// The ledger's id.
    pub remote_id: String,
    /// The CRM entity kind the record maps to.
    pub local_kind: String,
    /// The CRM id; none while the record could not be applied.
    pub local_id: Option<i64>,
    /// The ledger's version of the record, passed back on edits.
    pub remote_version: Option<String>,
    /// The ledger's own number or code for the record.
    pub remote_number: Option<String>,
    /// Hash of the ledger record as last seen, to skip unchanged records.
    pub content_hash: Option<String>,
    /// Which side created it.
    pub origin: LinkOrigin,
    /// `synced`, `failed` (with `error`) or `deleted`.
    pub status: String,
    /// Why the record could not be applied, or a warning.
    pub error: Option<String>,
    /// The last full scan that saw the record.
    #[serde(skip)]
    pub seen_scan: i64,
    /// RFC 3339 UTC.
    pub last_synced: String,
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    tenant: String,
    instance: String,
    kind: String,
    remote_id: String,
    local_kind: String,
    local_id: Option<i64>,
    remote_version: Option<String>,
    remote_number: Option<String>,
    content_hash: Option<String>,
    origin: LinkOrigin,
    status: String,
    error: Option<String>,
    seen_scan: i64,
    last_synced: String,
}

impl From<LinkRow> for Link {
    fn from(r: LinkRow) -> Link {
        Link {
            tenant: r.tenant,
            instance: r.instance,
            kind: r.kind,
            remote_id: r.remote_id,
            local_kind: r.local_kind,
            local_id: r.local_id,
            remote_version: r.remote_version,
            remote_number: r.remote_number,
            content_hash: r.content_hash,
            origin: r.origin,
            status: r.status,
            error: r.error,
            seen_scan: r.seen_scan,
            last_synced: r.last_synced,
        }
    }
}

const LINK_COLS: &str = "tenant, instance, kind, remote_id, local_kind, local_id, remote_version, \
    remote_number, content_hash, origin, status, error, seen_scan, last_synced";

/// The link of a ledger record.
pub async fn link_by_remote(
    tx: &mut Tx,
    tenant: &str,
    instance: &str,
    kind: &str,
    remote_id: &str,
) -> Result<Option<Link>> {
    let sql = format!(
        "SELECT {LINK_COLS} FROM sync_links WHERE tenant = $1 AND instance = $2 AND kind = $3 AND remote_id = $4"
    );
    let row: Option<LinkRow> = on_tx!(tx, c => sqlx::query_as(&sql).bind(tenant).bind(instance).bind(kind).bind(remote_id).fetch_optional(&mut *c).await)?;
    Ok(row.map(Link::from))
}

/// The links of many ledger records of one kind (a pulled page), by remote
/// id: one query per 500 ids.
pub async fn links_by_remote(
    tx: &mut Tx,
    tenant: &str,
    instance: &str,
    kind: &str,
    remote_ids: &[String],
) -> Result<HashMap<String, Link>> {
    let mut out = HashMap::with_capacity(remote_ids.len());
    for chunk in remote_ids.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT {LINK_COLS} FROM sync_links WHERE tenant = {} AND instance = {} AND kind = {} AND remote_id IN ({})",
            param(tx, 1),
            param(tx, 2),
            param(tx, 3),
            params(tx, 3, chunk.len())
        );
        let rows: Vec<LinkRow> = on_tx!(tx, c => {
            let mut q = sqlx::query_as(&sql).bind(tenant).bind(instance).bind(kind);
            for r in chunk {
                q = q.bind(r);
            }
            q.fetch_all(&mut *c).await
        })?;
        out.extend(
            rows.into_iter()
                .map(|r| (r.remote_id.clone(), Link::from(r))),
        );
    }
    Ok(out)
}

/// Insert or replace links whose CRM record was created in this
/// transaction, or that have none (multi-row). [`put_link`]'s clean-up of
/// an older link to the same CRM record is not needed for them: no other
/// link can point at a record that did not exist before.
pub async fn put_new_links(tx: &mut Tx, links: &[Link]) -> Result<()> {
    for chunk in links.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO sync_links ({LINK_COLS}) VALUES {} \
             ON CONFLICT (tenant, instance, kind, remote_id) DO UPDATE SET local_kind = excluded.local_kind, \
             local_id = excluded.local_id, remote_version = excluded.remote_version, \
             remote_number = excluded.remote_number, content_hash = excluded.content_hash, \
             origin = excluded.origin, status = excluded.status, error = excluded.error, \
             seen_scan = excluded.seen_scan, last_synced = excluded.last_synced",
            insert_placeholders(tx, chunk.len(), 14)
        );
        let mut args = Vec::with_capacity(chunk.len() * 14);
        for l in chunk {
            args.extend([
                Arg::Text(l.tenant.clone()),
                Arg::Text(l.instance.clone()),
                Arg::Text(l.kind.clone()),
                Arg::Text(l.remote_id.clone()),
                Arg::Text(l.local_kind.clone()),
                Arg::OptI64(l.local_id),
                Arg::OptText(l.remote_version.clone()),
                Arg::OptText(l.remote_number.clone()),
                Arg::OptText(l.content_hash.clone()),
                Arg::Text(l.origin.as_str().into()),
                Arg::Text(l.status.clone()),
                Arg::OptText(l.error.clone()),
                Arg::I64(l.seen_scan),
                Arg::Text(l.last_synced.clone()),
            ]);
        }
        on_tx!(tx, c => bind_args!(sqlx::query(&sql), &args).execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// Record that full scan `scan` saw these ledger records (unchanged ones,
/// whose links need nothing else).
pub async fn mark_seen(
    tx: &mut Tx,
    tenant: &str,
    instance: &str,
    kind: &str,
    remote_ids: &[String],
    scan: i64,
) -> Result<()> {
    for chunk in remote_ids.chunks(IN_CHUNK) {
        let sql = format!(
            "UPDATE sync_links SET seen_scan = {} WHERE tenant = {} AND instance = {} AND kind = {} AND remote_id IN ({})",
            param(tx, 1),
            param(tx, 2),
            param(tx, 3),
            param(tx, 4),
            params(tx, 4, chunk.len())
        );
        on_tx!(tx, c => {
            let mut q = sqlx::query(&sql).bind(scan).bind(tenant).bind(instance).bind(kind);
            for r in chunk {
                q = q.bind(r);
            }
            q.execute(&mut *c).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// The link of a CRM record in one connector instance.
pub async fn link_by_local(
    db: &Db,
    tenant: &str,
    instance: &str,
    local_kind: &str,
    local_id: i64,
) -> Result<Option<Link>> {
    let sql = format!(
        "SELECT {LINK_COLS} FROM sync_links WHERE tenant = $1 AND instance = $2 AND local_kind = $3 AND local_id = $4"
    );
    let row: Option<LinkRow> = on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(instance).bind(local_kind).bind(local_id).fetch_optional(p).await)?;
    Ok(row.map(Link::from))
}

/// Every link of a CRM record, across instances.
pub async fn links_of_local(
    db: &Db,
    tenant: &str,
    local_kind: &str,
    local_id: i64,
) -> Result<Vec<Link>> {
    let sql = format!(
        "SELECT {LINK_COLS} FROM sync_links WHERE tenant = $1 AND local_kind = $2 AND local_id = $3 ORDER BY instance"
    );
    let rows: Vec<LinkRow> = on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(local_kind).bind(local_id).fetch_all(p).await)?;
    Ok(rows.into_iter().map(Link::from).collect())
}

/// Links of one instance and state (`failed`, `synced`), newest first.
pub async fn links_with_status(
    db: &Db,
    tenant: &str,
    instance: Option<&str>,
    status: LinkStatus,
    limit: u32,
) -> Result<Vec<Link>> {
    let sql = format!(
        "SELECT {LINK_COLS} FROM sync_links WHERE tenant = $1 AND status = $2 \
         AND ($3 = '' OR instance = $3) ORDER BY last_synced DESC LIMIT {limit}"
    );
    let rows: Vec<LinkRow> = on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(status).bind(instance.unwrap_or("")).fetch_all(p).await)?;
    Ok(rows.into_iter().map(Link::from).collect())
}

/// Insert or replace a link (keyed by tenant, instance, kind, remote id).
pub async fn put_link(tx: &mut Tx, link: &Link) -> Result<()> {
    // A CRM record links to one ledger record per instance: a stale link
    // from an earlier remote id (a quote re-created in the ledger) goes.
    if let Some(local) = link.local_id {
        on_tx!(tx, c => sqlx::query("DELETE FROM sync_links WHERE tenant = $1 AND instance = $2 AND local_kind = $3 AND local_id = $4 AND NOT (kind = $5 AND remote_id = $6)")
            .bind(&link.tenant).bind(&link.instance).bind(&link.local_kind).bind(local).bind(&link.kind).bind(&link.remote_id)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    let sql = format!(
        "INSERT INTO sync_links ({LINK_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (tenant, instance, kind, remote_id) DO UPDATE SET local_kind = excluded.local_kind, \
         local_id = excluded.local_id, remote_version = excluded.remote_version, \
         remote_number = excluded.remote_number, content_hash = excluded.content_hash, \
         origin = excluded.origin, status = excluded.status, error = excluded.error, \
         seen_scan = excluded.seen_scan, last_synced = excluded.last_synced"
    );
    on_tx!(tx, c => sqlx::query(&sql)
        .bind(&link.tenant).bind(&link.instance).bind(&link.kind).bind(&link.remote_id)
        .bind(&link.local_kind).bind(link.local_id).bind(&link.remote_version).bind(&link.remote_number)
        .bind(&link.content_hash).bind(link.origin.as_str()).bind(&link.status).bind(&link.error)
        .bind(link.seen_scan).bind(&link.last_synced)
        .execute(&mut *c).await.map(|_| ()))
}

/// Remote ids of CRM records in one instance (for translating references
/// of a document sent to the ledger).
pub async fn remote_ids(
    db: &Db,
    tenant: &str,
    instance: &str,
    local_kind: &str,
    local_ids: &[i64],
) -> Result<HashMap<i64, String>> {
    let mut out = HashMap::new();
    for id in local_ids {
        if out.contains_key(id) {
            continue;
        }
        if let Some(link) = link_by_local(db, tenant, instance, local_kind, *id).await?
            && link.status == LinkStatus::Synced.as_str()
        {
            out.insert(*id, link.remote_id);
        }
    }
    Ok(out)
}

/// Local ids of ledger records of `kind`, for those already linked (one
/// query per 500 distinct ids).
pub async fn local_ids(
    tx: &mut Tx,
    tenant: &str,
    instance: &str,
    kind: &str,
    remote_ids: &[String],
) -> Result<HashMap<String, i64>> {
    let mut wanted: Vec<String> = remote_ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    Ok(links_by_remote(tx, tenant, instance, kind, &wanted)
        .await?
        .into_iter()
        .filter_map(|(remote, link)| link.local_id.map(|local| (remote, local)))
        .collect())
}

/// Links of `kind` a finished full scan `scan` did not see: candidates for
/// deletion, to be confirmed with the connector.
pub async fn unseen(
    db: &Db,
    tenant: &str,
    instance: &str,
    kind: &str,
    scan: i64,
) -> Result<Vec<Link>> {
    let sql = format!(
        "SELECT {LINK_COLS} FROM sync_links WHERE tenant = $1 AND instance = $2 AND kind = $3 \
         AND seen_scan < $4 AND status <> $5 ORDER BY remote_id"
    );
    let rows: Vec<LinkRow> = on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(instance).bind(kind).bind(scan).bind(LinkStatus::Deleted).fetch_all(p).await)?;
    Ok(rows.into_iter().map(Link::from).collect())
}

// ------------------------------------------------------------------ cursors

/// Where one (instance, kind) pull stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The connector's opaque cursor; none = from the beginning.
    pub cursor: Option<String>,
    /// Number of the current or last full scan.
    pub scan: i64,
    /// A full scan is under way.
    pub scanning: bool,
}

/// The stored cursor (default: from the beginning).
pub async fn cursor(tx: &mut Tx, tenant: &str, instance: &str, kind: &str) -> Result<Cursor> {
    let row: Option<(Option<String>, i64, bool)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT cursor, scan, scanning FROM sync_cursors WHERE tenant = $1 AND instance = $2 AND kind = $3")
        .bind(tenant).bind(instance).bind(kind).fetch_optional(&mut *c).await)?;
    Ok(row
        .map(|(cursor, scan, scanning)| Cursor {
            cursor,
            scan,
            scanning,
        })
        .unwrap_or_default())
}

/// The stored cursor, read outside a transaction.
pub async fn read_cursor(db: &Db, tenant: &str, instance: &str, kind: &str) -> Result<Cursor> {
    let row: Option<(Option<String>, i64, bool)> = on_pool!(db, p => sqlx::query_as(
        "SELECT cursor, scan, scanning FROM sync_cursors WHERE tenant = $1 AND instance = $2 AND kind = $3")
        .bind(tenant).bind(instance).bind(kind).fetch_optional(p).await)?;
    Ok(row
        .map(|(cursor, scan, scanning)| Cursor {
            cursor,
            scan,
            scanning,
        })
        .unwrap_or_default())
}

/// Store the cursor in the caller's transaction (with the page it follows).
pub async fn save_cursor(
    tx: &mut Tx,
    tenant: &str,
    instance: &str,
    kind: &str,
    cursor: &Cursor,
    at: &str,
) -> Result<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO sync_cursors (tenant, instance, kind, cursor, scan, scanning, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant, instance, kind) DO UPDATE SET \
         cursor = excluded.cursor, scan = excluded.scan, scanning = excluded.scanning, updated_at = excluded.updated_at")
        .bind(tenant).bind(instance).bind(kind).bind(&cursor.cursor).bind(cursor.scan).bind(cursor.scanning).bind(at)
        .execute(&mut *c).await.map(|_| ()))
}

/// This installation's random id (part of every idempotency key).
pub async fn installation_id(db: &Db) -> Result<String> {
    on_pool!(db, p => sqlx::query_scalar("SELECT id FROM sync_installation").fetch_one(p).await)
}

/// Forget a failed link's hash so the next pull applies the record again.
pub async fn retry_link(
    db: &Db,
    tenant: &str,
    instance: &str,
    kind: &str,
    remote_id: &str,
) -> Result<bool> {
    let done = on_pool!(db, p => sqlx::query("UPDATE sync_links SET content_hash = NULL WHERE tenant = $1 AND instance = $2 AND kind = $3 AND remote_id = $4 AND status = $5")
        .bind(tenant).bind(instance).bind(kind).bind(remote_id).bind(LinkStatus::Failed)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// Set a document's or payment's sync status (F2) in the caller's
/// transaction (parties and products have none), and tell the event log
/// (S20): `<kind>.synced` or `<kind>.sync_failed`, naming the connector
/// instance and, for a failure, why.
pub async fn set_sync_status(
    tx: &mut Tx,
    tenant: &str,
    local_kind: EntityKind,
    id: i64,
    outcome: SyncOutcome<'_>,
) -> Result<()> {
    let status = outcome.status;
    if let Some(verb) = status.event_verb() {
        let payload = serde_json::json!({
            "kind": local_kind,
            "id": id,
            "connector": outcome.via,
            "error": outcome.why,
        });
        let event = NewEvent {
            tenant: tenant.to_owned(),
            name: format!("{local_kind}.{verb}"),
            subject: super::event::subject(local_kind, id),
            actor: format!("connector:{}", outcome.via),
            payload: payload.to_string(),
        };
        super::event::append_in_op(tx, &[event]).await?;
    }
    let table = match local_kind {
        EntityKind::Receipt | EntityKind::Payment => "crm_payments",
        EntityKind::Party | EntityKind::Product => return Ok(()),
        EntityKind::Quote
        | EntityKind::SalesOrder
        | EntityKind::SalesInvoice
        | EntityKind::SalesReturn
        | EntityKind::PurchaseInvoice
        | EntityKind::PurchaseReturn
        | EntityKind::CorrectionNote => "crm_documents",
    };
    let sql = format!("UPDATE {table} SET sync_status = $1 WHERE tenant = $2 AND id = $3");
    on_tx!(tx, c => sqlx::query(&sql).bind(status).bind(tenant).bind(id).execute(&mut *c).await.map(|_| ()))
}

/// A record's sync outcome at one connector instance.
#[derive(Debug, Clone, Copy)]
pub struct SyncOutcome<'a> {
    /// The record's new sync status.
    pub status: SyncStatus,
    /// The connector instance.
    pub via: &'a str,
    /// Why it failed.
    pub why: Option<&'a str>,
}

/// A CRM record found by its natural key (S17 matching: customer number,
/// product code, document number), with its origin tag, looked up in the
/// kind's own table.
pub async fn find_by_key(
    tx: &mut Tx,
    tenant: &str,
    kind: EntityKind,
    key: &str,
) -> Result<Option<(i64, String)>> {
    let (sql, with_kind) = match kind {
        EntityKind::Party => (
            "SELECT id, origin FROM crm_parties WHERE tenant = $1 AND customer_number = $2",
            false,
        ),
        EntityKind::Product => (
            "SELECT id, origin FROM crm_products WHERE tenant = $1 AND code = $2",
            false,
        ),
        EntityKind::Receipt | EntityKind::Payment => (
            "SELECT id, origin FROM crm_payments WHERE tenant = $1 AND number = $2 AND kind = $3",
            true,
        ),
        EntityKind::Quote
        | EntityKind::SalesOrder
        | EntityKind::SalesInvoice
        | EntityKind::SalesReturn
        | EntityKind::PurchaseInvoice
        | EntityKind::PurchaseReturn
        | EntityKind::CorrectionNote => (
            "SELECT id, origin FROM crm_documents WHERE tenant = $1 AND number = $2 AND kind = $3",
            true,
        ),
    };
    on_tx!(tx, c => {
        let q = sqlx::query_as(sql).bind(tenant).bind(key);
        let q = if with_kind { q.bind(kind) } else { q };
        q.fetch_optional(&mut *c).await
    })
}

/// CRM records of one kind found by many natural keys at once (see
/// [`find_by_key`]), by key.
pub async fn find_by_keys(
    tx: &mut Tx,
    tenant: &str,
    kind: EntityKind,
    keys: &[String],
) -> Result<HashMap<String, (i64, String)>> {
    let (table, column, with_kind) = match kind {
        EntityKind::Party => ("crm_parties", "customer_number", false),
        EntityKind::Product => ("crm_products", "code", false),
        EntityKind::Receipt | EntityKind::Payment => ("crm_payments", "number", true),
        EntityKind::Quote
        | EntityKind::SalesOrder
        | EntityKind::SalesInvoice
        | EntityKind::SalesReturn
        | EntityKind::PurchaseInvoice
        | EntityKind::PurchaseReturn
        | EntityKind::CorrectionNote => ("crm_documents", "number", true),
    };
    let mut out = HashMap::new();
    for chunk in keys.chunks(IN_CHUNK) {
        let (kind_filter, from) = if with_kind {
            (format!(" AND kind = {}", param(tx, 2)), 2)
        } else {
            (String::new(), 1)
        };
        let sql = format!(
            "SELECT {column}, id, origin FROM {table} WHERE tenant = {}{kind_filter} AND {column} IN ({})",
            param(tx, 1),
            params(tx, from, chunk.len())
        );
        let rows: Vec<(String, i64, String)> = on_tx!(tx, c => {
            let mut q = sqlx::query_as(&sql).bind(tenant);
            if with_kind {
                q = q.bind(kind);
            }
            for k in chunk {
                q = q.bind(k);
            }
            q.fetch_all(&mut *c).await
        })?;
        out.extend(rows.into_iter().map(|(k, id, origin)| (k, (id, origin))));
    }
    Ok(out)
}

/// Company code of a CRM record, for routing it (S17): a party's own, a
/// document's or payment's party's, a product's from its code.
pub async fn company_of(
    db: &Db,
    tenant: &str,
    local_kind: EntityKind,
    id: i64,
) -> Result<Option<i64>> {
    let sql = match local_kind {
        EntityKind::Party => {
            "SELECT CAST(company_code AS BIGINT) FROM crm_parties WHERE tenant = $1 AND id = $2"
        }
        EntityKind::Product => {
            // Products carry the company in their code (`A1-300`, S17).
            let code: Option<String> = on_pool!(db, p => sqlx::query_scalar::<_, String>(
                "SELECT code FROM crm_products WHERE tenant = $1 AND id = $2")
                .bind(tenant).bind(id).fetch_optional(p).await)?;
            return Ok(code.and_then(|c| {
                c.rsplit_once('-')
                    .and_then(|(_, company)| company.parse::<i64>().ok())
            }));
        }
        EntityKind::Receipt | EntityKind::Payment => {
            "SELECT CAST(p.company_code AS BIGINT) FROM crm_payments d JOIN crm_parties p ON p.tenant = d.tenant AND p.id = d.party_id WHERE d.tenant = $1 AND d.id = $2"
        }
        EntityKind::Quote
        | EntityKind::SalesOrder
        | EntityKind::SalesInvoice
        | EntityKind::SalesReturn
        | EntityKind::PurchaseInvoice
        | EntityKind::PurchaseReturn
        | EntityKind::CorrectionNote => {
            "SELECT CAST(p.company_code AS BIGINT) FROM crm_documents d JOIN crm_parties p ON p.tenant = d.tenant AND p.id = d.party_id WHERE d.tenant = $1 AND d.id = $2"
        }
    };
    let code: Option<i64> = on_pool!(db, p => sqlx::query_scalar::<_, i64>(sql).bind(tenant).bind(id).fetch_optional(p).await)?;
    Ok(code)
}

/// Whether a CRM record of `local_kind` exists in the tenant.
pub async fn record_exists(db: &Db, tenant: &str, local_kind: EntityKind, id: i64) -> Result<bool> {
    let (table, with_kind) = match local_kind {
        EntityKind::Party => ("crm_parties", false),
        EntityKind::Product => ("crm_products", false),
        EntityKind::Receipt | EntityKind::Payment => ("crm_payments", true),
        EntityKind::Quote
        | EntityKind::SalesOrder
        | EntityKind::SalesInvoice
        | EntityKind::SalesReturn
        | EntityKind::PurchaseInvoice
        | EntityKind::PurchaseReturn
        | EntityKind::CorrectionNote => ("crm_documents", true),
    };
    let sql = if with_kind {
        format!("SELECT COUNT(*) FROM {table} WHERE tenant = $1 AND id = $2 AND kind = $3")
    } else {
        format!("SELECT COUNT(*) FROM {table} WHERE tenant = $1 AND id = $2 AND $3 = $3")
    };
    let n: i64 = on_pool!(db, p => sqlx::query_scalar(&sql).bind(tenant).bind(id).bind(local_kind).fetch_one(p).await)?;
    Ok(n > 0)
}
