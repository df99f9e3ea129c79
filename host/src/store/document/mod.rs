//! Documents with lines (S10, S14, S15; C2, C3): the repository. Every
//! write records its change in the [journal](super::journal) in the same
//! transaction.

pub(super) mod checks;
mod entity;

use super::error::{Result, StoreError, corrupt};
use super::journal::{Change, record, record_one};
use super::numbering::{Numbered, free_number};
use super::sql::{Arg, CHUNK, bind_args, for_update, insert_placeholders, json, now, placeholders};
use super::{Db, Tx, party};
use crate::crm::kinds::{EntityKind, Operation, SyncStatus};
use crate::crm::{Actor, Document, DocumentKind, Line, NewDocument, Status};
use checks::{check_refs, must_be_editable, must_be_pending};
use entity::{DocRow, LINE_COLS, LineRow, doc_cols, doc_from_new, doc_from_row};
use hamgam_domain::{Decimal, JalaliDate, NumberTemplate};
use std::collections::HashMap;

async fn insert_lines(tx: &mut Tx, tenant: &str, rows: &[(i64, usize, &Line)]) -> Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO crm_document_lines (tenant, {LINE_COLS}) VALUES {}",
            insert_placeholders(tx, chunk.len(), 17)
        );
        let mut args = Vec::with_capacity(chunk.len() * 17);
        for (doc, no, l) in chunk {
            args.extend([
                Arg::Text(tenant.to_owned()),
                Arg::I64(*doc),
                Arg::I64(i64::try_from(*no).unwrap_or(i64::MAX)),
                Arg::OptI64(l.product_id),
                Arg::OptText(l.description.clone()),
                Arg::Dec(l.quantity),
                Arg::Dec(l.unit_price),
                Arg::Dec(l.discount),
                Arg::Dec(l.additions),
                Arg::Bool(l.tax_exempt),
                Arg::Dec(l.tax_percent),
                Arg::Dec(l.toll_percent),
                Arg::Dec(l.gross),
                Arg::Dec(l.net),
                Arg::Dec(l.tax),
                Arg::Dec(l.toll),
                Arg::Dec(l.total),
            ]);
        }
        on_tx!(tx, c => bind_args!(sqlx::query(&sql), &args).execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// Create documents in the caller's transaction with multi-row INSERTs
/// (headers, lines, audit, outbox: a handful of statements per 100
/// documents). Returns the stored documents in input order.
pub async fn create_documents_in_op(
    tx: &mut Tx,
    actor: &Actor,
    docs: &[NewDocument],
) -> Result<Vec<Document>> {
    insert_documents(tx, actor, docs, None).await
}

/// Create a document the ledger already booked (sync engine, ledger →
/// CRM): it arrives approved, with the ledger's number, and in sync.
pub async fn create_ledger_document_in_op(
    tx: &mut Tx,
    actor: &Actor,
    new: &NewDocument,
    number: &str,
) -> Result<Document> {
    let numbers = [number.to_owned()];
    let mut docs = insert_documents(tx, actor, std::slice::from_ref(new), Some(&numbers)).await?;
    docs.pop()
        .ok_or_else(|| corrupt("document", "insert returned no row"))
}

/// Create documents the ledger already booked, one number each, with
/// multi-row INSERTs (a pulled page). Nothing is written when a party or
/// related document does not exist: the error names the first missing.
pub async fn create_ledger_documents_in_op(
    tx: &mut Tx,
    actor: &Actor,
    docs: &[NewDocument],
    numbers: &[String],
) -> Result<Vec<Document>> {
    if docs.len() != numbers.len() {
        return Err(corrupt(
            "document numbers",
            format!("{} documents, {} numbers", docs.len(), numbers.len()),
        ));
    }
    insert_documents(tx, actor, docs, Some(numbers)).await
}

/// Inserts documents: pending and unnumbered, or (`numbers` given, one
/// per document) approved with those numbers and already in sync.
async fn insert_documents(
    tx: &mut Tx,
    actor: &Actor,
    docs: &[NewDocument],
    numbers: Option<&[String]>,
) -> Result<Vec<Document>> {
    let (status, sync_status) = match numbers {
        Some(_) => (Status::Approved, SyncStatus::Synced),
        None => (Status::Pending, SyncStatus::Pending),
    };
    let mut parties: Vec<i64> = docs.iter().map(|d| d.party_id).collect();
    check_refs(
        tx,
        &actor.tenant,
        "crm_parties",
        "",
        &mut parties,
        "party_id",
        EntityKind::Party.as_str(),
    )
    .await?;
    let mut related: Vec<i64> = docs.iter().filter_map(|d| d.related_id).collect();
    if !related.is_empty() {
        check_refs(
            tx,
            &actor.tenant,
            "crm_documents",
            "",
            &mut related,
            "related_id",
            "document",
        )
        .await?;
    }
    let at = now();
    let mut ids = Vec::with_capacity(docs.len());
    for chunk in docs.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO crm_documents (tenant, kind, party_id, doc_date, currency, status, \
             related_id, description, discount, additions, gross, discount_total, additions_total, \
             net, tax_total, toll_total, grand_total, paid_amount, paid, sync_status, origin, \
             version, created_at, updated_at, number) VALUES {} RETURNING id",
            insert_placeholders(tx, chunk.len(), 25)
        );
        let mut args = Vec::with_capacity(chunk.len() * 25);
        for (n, d) in chunk.iter().enumerate() {
            let number = numbers.and_then(|all| all.get(ids.len() + n)).cloned();
            args.extend([
                Arg::Text(actor.tenant.clone()),
                Arg::Text(d.kind.as_str().into()),
                Arg::I64(d.party_id),
                Arg::Text(d.date.to_string()),
                Arg::Text(d.currency.code().into()),
                Arg::Text(status.as_str().into()),
                Arg::OptI64(d.related_id),
                Arg::OptText(d.description.clone()),
                Arg::Dec(d.discount),
                Arg::Dec(d.additions),
                Arg::Dec(d.totals.gross),
                Arg::Dec(d.totals.discount),
                Arg::Dec(d.totals.additions),
                Arg::Dec(d.totals.net),
                Arg::Dec(d.totals.tax_total),
                Arg::Dec(d.totals.toll_total),
                Arg::Dec(d.totals.grand_total),
                Arg::Dec(Decimal::ZERO),
                Arg::Bool(false),
                Arg::Text(sync_status.as_str().into()),
                Arg::Text(actor.origin.clone()),
                Arg::I64(1),
                Arg::Text(at.clone()),
                Arg::Text(at.clone()),
                Arg::OptText(number),
            ]);
        }
        let mut got: Vec<i64> =
            on_tx!(tx, c => bind_args!(sqlx::query_scalar(&sql), &args).fetch_all(&mut *c).await)?;
        // Identity values are drawn in VALUES order within one statement;
        // RETURNING's row order is not promised, so sort to pair them up.
        got.sort_unstable();
        ids.extend(got);
    }
    let rows: Vec<(i64, usize, &Line)> = ids
        .iter()
        .zip(docs)
        .flat_map(|(id, d)| d.lines.iter().enumerate().map(move |(n, l)| (*id, n, l)))
        .collect();
    insert_lines(tx, &actor.tenant, &rows).await?;
    let stored: Vec<Document> = ids
        .iter()
        .zip(docs)
        .enumerate()
        .map(|(n, (id, d))| {
            let mut doc = doc_from_new(*id, d, &actor.origin, &at);
            if let Some(all) = numbers {
                doc.status = status;
                doc.number = all.get(n).cloned();
                doc.sync_status = sync_status.as_str().into();
            }
            doc
        })
        .collect();
    let changes = stored
        .iter()
        .map(|d| {
            Ok(Change {
                entity_kind: d.kind.into(),
                entity_id: d.id,
                operation: Operation::Create,
                before: None,
                after: Some(json(d)?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    record(tx, actor, &changes).await?;
    Ok(stored)
}

/// Create one document in its own transaction.
pub async fn create_document(db: &Db, actor: &Actor, new: &NewDocument) -> Result<Document> {
    let mut tx = db.begin().await?;
    let mut docs = create_documents_in_op(&mut tx, actor, std::slice::from_ref(new)).await?;
    tx.commit().await?;
    docs.pop()
        .ok_or_else(|| corrupt("document", "insert returned no row"))
}

/// Create many documents in one transaction (sync pages, imports, bench).
pub async fn create_documents(db: &Db, actor: &Actor, docs: &[NewDocument]) -> Result<Vec<i64>> {
    let mut tx = db.begin().await?;
    let stored = create_documents_in_op(&mut tx, actor, docs).await?;
    tx.commit().await?;
    Ok(stored.into_iter().map(|d| d.id).collect())
}

async fn lines_of(
    mut db_or_tx: LinesSource<'_>,
    tenant: &str,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<Line>>> {
    let mut out: HashMap<i64, Vec<Line>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let list = placeholders(1, chunk.len(), 1);
        let sql = format!(
            "SELECT {LINE_COLS} FROM crm_document_lines WHERE tenant = $1 AND document_id IN {list} \
             ORDER BY document_id, line_no"
        );
        let mut args = vec![Arg::Text(tenant.into())];
        args.extend(chunk.iter().map(|i| Arg::I64(*i)));
        let rows: Vec<LineRow> = match db_or_tx {
            LinesSource::Db(db) => {
                on_pool!(db, p => bind_args!(sqlx::query_as(&sql), &args).fetch_all(p).await)?
            }
            LinesSource::Tx(ref mut tx) => {
                on_tx!(&mut **tx, c => bind_args!(sqlx::query_as(&sql), &args).fetch_all(&mut *c).await)?
            }
        };
        for r in rows {
            out.entry(r.document_id).or_default().push(Line::from(r));
        }
    }
    Ok(out)
}

enum LinesSource<'a> {
    Db(&'a Db),
    Tx(&'a mut Tx),
}

pub(super) async fn document_in_op(
    tx: &mut Tx,
    tenant: &str,
    kind: &str,
    id: i64,
    entity: &'static str,
) -> Result<Document> {
    let sql = format!(
        "SELECT {} FROM crm_documents WHERE tenant = $1 AND kind = $2 AND id = $3{}",
        doc_cols(),
        for_update(tx)
    );
    let row: Option<DocRow> = on_tx!(tx, c => sqlx::query_as(&sql).bind(tenant).bind(kind).bind(id).fetch_optional(&mut *c).await)?;
    let row = row.ok_or(StoreError::NotFound { kind: entity, id })?;
    let mut lines = lines_of(LinesSource::Tx(tx), tenant, &[id]).await?;
    doc_from_row(row, lines.remove(&id).unwrap_or_default())
}

/// One document of the tenant and kind.
pub async fn get_document(db: &Db, tenant: &str, kind: DocumentKind, id: i64) -> Result<Document> {
    let sql = format!(
        "SELECT {} FROM crm_documents WHERE tenant = $1 AND kind = $2 AND id = $3",
        doc_cols()
    );
    let row: Option<DocRow> = on_pool!(db, p => sqlx::query_as(&sql)
        .bind(tenant).bind(kind.as_str()).bind(id).fetch_optional(p).await)?;
    let row = row.ok_or(StoreError::NotFound {
        kind: kind.as_str(),
        id,
    })?;
    let mut lines = lines_of(LinesSource::Db(db), tenant, &[id]).await?;
    doc_from_row(row, lines.remove(&id).unwrap_or_default())
}

/// List filters shared by documents and payments.
#[derive(Debug, Clone, Default)]
pub struct DocFilter {
    /// Customer / supplier.
    pub party_id: Option<i64>,
    /// From this date on (inclusive).
    pub date_from: Option<JalaliDate>,
    /// Up to this date (inclusive).
    pub date_to: Option<JalaliDate>,
    /// F1 state.
    pub status: Option<Status>,
    /// Paid / unpaid (C2); documents only.
    pub paid: Option<bool>,
    /// Sync state (F2).
    pub sync_status: Option<String>,
}

pub(super) fn filter_sql(f: &DocFilter, sql: &mut String, args: &mut Vec<Arg>, with_paid: bool) {
    let mut push = |cond: &str, a: Arg| {
        args.push(a);
        sql.push_str(&format!(" AND {cond} ${}", args.len()));
    };
    if let Some(p) = f.party_id {
        push("party_id =", Arg::I64(p));
    }
    if let Some(d) = f.date_from {
        push("doc_date >=", Arg::Text(d.to_string()));
    }
    if let Some(d) = f.date_to {
        push("doc_date <=", Arg::Text(d.to_string()));
    }
    if let Some(s) = f.status {
        push("status =", Arg::Text(s.as_str().into()));
    }
    if with_paid && let Some(p) = f.paid {
        push("paid =", Arg::Bool(p));
    }
    if let Some(s) = &f.sync_status {
        push("sync_status =", Arg::Text(s.clone()));
    }
}

/// One page of documents of a kind with `id > after` (`limit + 1` rows).
pub async fn list_documents(
    db: &Db,
    tenant: &str,
    kind: DocumentKind,
    filter: &DocFilter,
    after: i64,
    limit: u32,
) -> Result<Vec<Document>> {
    let mut sql = format!(
        "SELECT {} FROM crm_documents WHERE tenant = $1 AND kind = $2 AND id > $3",
        doc_cols()
    );
    let mut args = vec![
        Arg::Text(tenant.into()),
        Arg::Text(kind.as_str().into()),
        Arg::I64(after),
    ];
    filter_sql(filter, &mut sql, &mut args, true);
    sql.push_str(&format!(" ORDER BY id LIMIT {}", u64::from(limit) + 1));
    let rows: Vec<DocRow> =
        on_pool!(db, p => bind_args!(sqlx::query_as(&sql), &args).fetch_all(p).await)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut lines = lines_of(LinesSource::Db(db), tenant, &ids).await?;
    rows.into_iter()
        .map(|r| {
            let l = lines.remove(&r.id).unwrap_or_default();
            doc_from_row(r, l)
        })
        .collect()
}
/// Replace a document (S11: its number, if any, never changes). Financial
/// documents are immutable once approved (F1); an approved quote or order
/// may still be edited by its origin side.
pub async fn update_document(
    db: &Db,
    actor: &Actor,
    id: i64,
    new: &NewDocument,
) -> Result<Document> {
    let mut tx = db.begin().await?;
    let kind = new.kind.as_str();
    let before = document_in_op(&mut tx, &actor.tenant, kind, id, kind).await?;
    must_be_editable(before.kind, before.status, id, Operation::Update)?;
    let after = replace_document_in_op(&mut tx, actor, before, new, None).await?;
    tx.commit().await?;
    Ok(after)
}

/// Replace a document with the ledger's version of it (sync engine): it
/// stays approved, with the ledger's number, and in sync.
pub async fn replace_ledger_document_in_op(
    tx: &mut Tx,
    actor: &Actor,
    id: i64,
    new: &NewDocument,
    number: &str,
) -> Result<Document> {
    let kind = new.kind.as_str();
    let before = document_in_op(tx, &actor.tenant, kind, id, kind).await?;
    replace_document_in_op(tx, actor, before, new, Some(number)).await
}

async fn replace_document_in_op(
    tx: &mut Tx,
    actor: &Actor,
    before: Document,
    new: &NewDocument,
    ledger_number: Option<&str>,
) -> Result<Document> {
    let id = before.id;
    check_refs(
        tx,
        &actor.tenant,
        "crm_parties",
        "",
        &mut vec![new.party_id],
        "party_id",
        EntityKind::Party.as_str(),
    )
    .await?;
    if let Some(r) = new.related_id {
        check_refs(
            tx,
            &actor.tenant,
            "crm_documents",
            "",
            &mut vec![r],
            "related_id",
            "document",
        )
        .await?;
    }
    let mut after = doc_from_new(id, new, &before.origin, &before.created_at);
    after.version = before.version + 1;
    after.updated_at = now();
    after.status = before.status;
    after.number = before.number.clone();
    after.sync_status = before.sync_status.clone();
    after.ledger_number = before.ledger_number.clone();
    if let Some(number) = ledger_number {
        after.status = Status::Approved;
        after.number = Some(number.to_owned());
        after.sync_status = SyncStatus::Synced.as_str().into();
    }
    let sql = "UPDATE crm_documents SET party_id = $1, doc_date = $2, currency = $3, related_id = $4, \
        description = $5, discount = $6, additions = $7, gross = $8, discount_total = $9, \
        additions_total = $10, net = $11, tax_total = $12, toll_total = $13, grand_total = $14, \
        version = version + 1, updated_at = $15, status = $16, number = $17, sync_status = $18 \
        WHERE tenant = $19 AND id = $20";
    let args = vec![
        Arg::I64(new.party_id),
        Arg::Text(new.date.to_string()),
        Arg::Text(new.currency.code().into()),
        Arg::OptI64(new.related_id),
        Arg::OptText(new.description.clone()),
        Arg::Dec(new.discount),
        Arg::Dec(new.additions),
        Arg::Dec(new.totals.gross),
        Arg::Dec(new.totals.discount),
        Arg::Dec(new.totals.additions),
        Arg::Dec(new.totals.net),
        Arg::Dec(new.totals.tax_total),
        Arg::Dec(new.totals.toll_total),
        Arg::Dec(new.totals.grand_total),
        Arg::Text(after.updated_at.clone()),
        Arg::Text(after.status.as_str().into()),
        Arg::OptText(after.number.clone()),
        Arg::Text(after.sync_status.clone()),
        Arg::Text(actor.tenant.clone()),
        Arg::I64(id),
    ];
    on_tx!(tx, c => bind_args!(sqlx::query(sql), &args).execute(&mut *c).await.map(|_| ()))?;
    on_tx!(tx, c => sqlx::query("DELETE FROM crm_document_lines WHERE tenant = $1 AND document_id = $2")
        .bind(&actor.tenant).bind(id).execute(&mut *c).await.map(|_| ()))?;
    let rows: Vec<(i64, usize, &Line)> = new
        .lines
        .iter()
        .enumerate()
        .map(|(n, l)| (id, n, l))
        .collect();
    insert_lines(tx, &actor.tenant, &rows).await?;
    record_one(
        tx,
        actor,
        new.kind.into(),
        id,
        Operation::Update,
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(after)
}

/// Delete a document and its lines: pending financial documents, and
/// quotes and orders in any state (S12).
pub async fn delete_document(db: &Db, actor: &Actor, kind: DocumentKind, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let before = document_in_op(&mut tx, &actor.tenant, kind.as_str(), id, kind.as_str()).await?;
    must_be_editable(kind, before.status, id, Operation::Delete)?;
    remove_document(&mut tx, actor, before).await?;
    tx.commit().await?;
    Ok(())
}

/// Delete a document because the ledger deleted it (S12, S14–S16),
/// whatever its state.
pub async fn remove_ledger_document_in_op(
    tx: &mut Tx,
    actor: &Actor,
    kind: DocumentKind,
    id: i64,
) -> Result<()> {
    let before = document_in_op(tx, &actor.tenant, kind.as_str(), id, kind.as_str()).await?;
    remove_document(tx, actor, before).await
}

async fn remove_document(tx: &mut Tx, actor: &Actor, before: Document) -> Result<()> {
    let id = before.id;
    on_tx!(tx, c => sqlx::query("DELETE FROM crm_document_lines WHERE tenant = $1 AND document_id = $2")
        .bind(&actor.tenant).bind(id).execute(&mut *c).await.map(|_| ()))?;
    on_tx!(tx, c => sqlx::query("DELETE FROM crm_documents WHERE tenant = $1 AND id = $2")
        .bind(&actor.tenant).bind(id).execute(&mut *c).await.map(|_| ()))?;
    record_one(
        tx,
        actor,
        before.kind.into(),
        id,
        Operation::Delete,
        Some(&before),
        None,
    )
    .await
}

/// same transaction from `template` with the party's company code (S17).
/// `approve = false` rejects it instead (no number is used).
pub async fn decide_document(
    db: &Db,
    actor: &Actor,
    kind: DocumentKind,
    id: i64,
    approve: bool,
    template: &NumberTemplate,
) -> Result<Document> {
    let mut tx = db.begin().await?;
    let before = document_in_op(&mut tx, &actor.tenant, kind.as_str(), id, kind.as_str()).await?;
    let action = if approve {
        Operation::Approve
    } else {
        Operation::Reject
    };
    must_be_pending(before.status, kind.as_str(), id, action)?;
    let mut after = before.clone();
    if approve {
        let company = party::company_in_op(&mut tx, &actor.tenant, before.party_id).await?;
        let number = free_number(
            &mut tx,
            &actor.tenant,
            Numbered::Documents,
            kind.as_str(),
            template,
            before.date,
            company,
        )
        .await?;
        after.number = Some(number);
        after.status = Status::Approved;
    } else {
        after.status = Status::Rejected;
    }
    after.version += 1;
    after.updated_at = now();
    on_tx!(&mut tx, c => sqlx::query("UPDATE crm_documents SET status = $1, number = $2, version = $3, updated_at = $4 WHERE tenant = $5 AND id = $6")
        .bind(after.status.as_str()).bind(&after.number).bind(after.version).bind(&after.updated_at)
        .bind(&actor.tenant).bind(id).execute(&mut *c).await.map(|_| ()))?;
    record_one(
        &mut tx,
        actor,
        kind.into(),
        id,
        action,
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
