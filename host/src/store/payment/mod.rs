//! Receipts and payments (S16): the repository. Approving one numbers it
//! and, when it settles an invoice, grows the invoice's paid amount in the
//! same transaction (H5). Every write records its change in the
//! [journal](super::journal) in the same transaction.

mod checks;
mod entity;

use super::document::checks::must_be_pending;
use super::document::{self, DocFilter, filter_sql};
use super::error::{Result, StoreError};
use super::journal::{Change, record, record_one};
use super::numbering::{Numbered, free_number};
use super::sql::{Arg, bind_args, for_update, json, now};
use super::{Db, Dec, Tx, party};
use crate::crm::kinds::{Operation, SyncStatus};
use crate::crm::{Actor, NewPayment, Payment, PaymentKind, Status, check_settlements};
use checks::check_payment_refs;
use entity::{PAY_COLS, PayRow, payment_args, payment_from_new};
use hamgam_domain::{NumberTemplate, Rule, ValidationError};

/// Create a receipt or payment in the caller's transaction.
pub async fn create_payment_in_op(tx: &mut Tx, actor: &Actor, new: &NewPayment) -> Result<Payment> {
    check_payment_refs(tx, &actor.tenant, new).await?;
    check_settlements("settlements", new.amount, &new.settlements)?;
    let at = now();
    let sql = "INSERT INTO crm_payments (party_id, doc_date, currency, amount, method, invoice_id, \
        cheque_number, cheque_due, reference, description, settlements, tenant, kind, status, \
        sync_status, origin, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, \
        $8, $9, $10, $11, $12, $13, $14, $15, $16, 1, $17, $17) RETURNING id";
    let mut args = payment_args(new)?;
    args.extend([
        Arg::Text(actor.tenant.clone()),
        Arg::Text(new.kind.as_str().into()),
        Arg::Text(Status::Pending.as_str().into()),
        Arg::Text(SyncStatus::Pending.as_str().into()),
        Arg::Text(actor.origin.clone()),
        Arg::Text(at.clone()),
    ]);
    let id: i64 =
        on_tx!(tx, c => bind_args!(sqlx::query_scalar(sql), &args).fetch_one(&mut *c).await)?;
    let p = payment_from_new(id, new, &actor.origin, &at);
    record_one(
        tx,
        actor,
        new.kind.into(),
        id,
        Operation::Create,
        None,
        Some(&p),
    )
    .await?;
    Ok(p)
}

/// Create a receipt or payment the ledger already booked (sync engine):
/// approved, with the ledger's number, in sync.
pub async fn create_ledger_payment_in_op(
    tx: &mut Tx,
    actor: &Actor,
    new: &NewPayment,
    number: &str,
) -> Result<Payment> {
    let mut p = create_payment_in_op(tx, actor, new).await?;
    // Stamped in the same transaction before anyone can see the row; the
    // audit row above keeps the record as received.
    on_tx!(tx, c => sqlx::query("UPDATE crm_payments SET status = $1, number = $2, sync_status = $3 WHERE tenant = $4 AND id = $5")
        .bind(Status::Approved.as_str()).bind(number).bind(SyncStatus::Synced).bind(&actor.tenant).bind(p.id)
        .execute(&mut *c).await.map(|_| ()))?;
    p.status = Status::Approved;
    p.number = Some(number.to_owned());
    p.sync_status = SyncStatus::Synced.as_str().into();
    Ok(p)
}

/// Replace a receipt or payment with the ledger's version (sync engine).
pub async fn replace_ledger_payment_in_op(
    tx: &mut Tx,
    actor: &Actor,
    id: i64,
    new: &NewPayment,
    number: &str,
) -> Result<Payment> {
    let before = payment_in_op(tx, &actor.tenant, new.kind, id).await?;
    let mut after = replace_payment_in_op(tx, actor, &before, new).await?;
    on_tx!(tx, c => sqlx::query("UPDATE crm_payments SET status = $1, number = $2, sync_status = $3 WHERE tenant = $4 AND id = $5")
        .bind(Status::Approved.as_str()).bind(number).bind(SyncStatus::Synced).bind(&actor.tenant).bind(id)
        .execute(&mut *c).await.map(|_| ()))?;
    after.status = Status::Approved;
    after.number = Some(number.to_owned());
    after.sync_status = SyncStatus::Synced.as_str().into();
    Ok(after)
}

/// Delete a receipt or payment because the ledger deleted it (S16).
pub async fn remove_ledger_payment_in_op(
    tx: &mut Tx,
    actor: &Actor,
    kind: PaymentKind,
    id: i64,
) -> Result<()> {
    let before = payment_in_op(tx, &actor.tenant, kind, id).await?;
    remove_payment(tx, actor, before).await
}

/// Create a receipt or payment in its own transaction.
pub async fn create_payment(db: &Db, actor: &Actor, new: &NewPayment) -> Result<Payment> {
    let mut tx = db.begin().await?;
    let p = create_payment_in_op(&mut tx, actor, new).await?;
    tx.commit().await?;
    Ok(p)
}

async fn payment_in_op(tx: &mut Tx, tenant: &str, kind: PaymentKind, id: i64) -> Result<Payment> {
    let sql = format!(
        "SELECT {PAY_COLS} FROM crm_payments WHERE tenant = $1 AND kind = $2 AND id = $3{}",
        for_update(tx)
    );
    let row: Option<PayRow> = on_tx!(tx, c => sqlx::query_as(&sql).bind(tenant).bind(kind.as_str()).bind(id).fetch_optional(&mut *c).await)?;
    row.ok_or(StoreError::NotFound {
        kind: kind.as_str(),
        id,
    })?
    .try_into()
}

/// One receipt or payment of the tenant.
pub async fn get_payment(db: &Db, tenant: &str, kind: PaymentKind, id: i64) -> Result<Payment> {
    let sql =
        format!("SELECT {PAY_COLS} FROM crm_payments WHERE tenant = $1 AND kind = $2 AND id = $3");
    let row: Option<PayRow> = on_pool!(db, p => sqlx::query_as(&sql)
        .bind(tenant).bind(kind.as_str()).bind(id).fetch_optional(p).await)?;
    row.ok_or(StoreError::NotFound {
        kind: kind.as_str(),
        id,
    })?
    .try_into()
}

/// One page of receipts or payments with `id > after` (`limit + 1` rows).
pub async fn list_payments(
    db: &Db,
    tenant: &str,
    kind: PaymentKind,
    filter: &DocFilter,
    after: i64,
    limit: u32,
) -> Result<Vec<Payment>> {
    let mut sql =
        format!("SELECT {PAY_COLS} FROM crm_payments WHERE tenant = $1 AND kind = $2 AND id > $3");
    let mut args = vec![
        Arg::Text(tenant.into()),
        Arg::Text(kind.as_str().into()),
        Arg::I64(after),
    ];
    filter_sql(filter, &mut sql, &mut args, false);
    sql.push_str(&format!(" ORDER BY id LIMIT {}", u64::from(limit) + 1));
    let rows: Vec<PayRow> =
        on_pool!(db, p => bind_args!(sqlx::query_as(&sql), &args).fetch_all(p).await)?;
    rows.into_iter().map(Payment::try_from).collect()
}

/// Replace a pending receipt or payment.
pub async fn update_payment(db: &Db, actor: &Actor, id: i64, new: &NewPayment) -> Result<Payment> {
    let mut tx = db.begin().await?;
    let before = payment_in_op(&mut tx, &actor.tenant, new.kind, id).await?;
    must_be_pending(before.status, new.kind.as_str(), id, Operation::Update)?;
    let after = replace_payment_in_op(&mut tx, actor, &before, new).await?;
    tx.commit().await?;
    Ok(after)
}

async fn replace_payment_in_op(
    tx: &mut Tx,
    actor: &Actor,
    before: &Payment,
    new: &NewPayment,
) -> Result<Payment> {
    let id = before.id;
    check_payment_refs(tx, &actor.tenant, new).await?;
    check_settlements("settlements", new.amount, &new.settlements)?;
    let at = now();
    let sql = "UPDATE crm_payments SET party_id = $1, doc_date = $2, currency = $3, amount = $4, \
        method = $5, invoice_id = $6, cheque_number = $7, cheque_due = $8, reference = $9, \
        description = $10, settlements = $11, version = version + 1, updated_at = $12 \
        WHERE tenant = $13 AND id = $14";
    let mut args = payment_args(new)?;
    args.extend([
        Arg::Text(at.clone()),
        Arg::Text(actor.tenant.clone()),
        Arg::I64(id),
    ]);
    on_tx!(tx, c => bind_args!(sqlx::query(sql), &args).execute(&mut *c).await.map(|_| ()))?;
    let mut after = payment_from_new(id, new, &before.origin, &before.created_at);
    after.version = before.version + 1;
    after.updated_at = at;
    after.status = before.status;
    after.number = before.number.clone();
    after.sync_status = before.sync_status.clone();
    record_one(
        tx,
        actor,
        new.kind.into(),
        id,
        Operation::Update,
        Some(before),
        Some(&after),
    )
    .await?;
    Ok(after)
}

/// Delete a pending receipt or payment.
pub async fn delete_payment(db: &Db, actor: &Actor, kind: PaymentKind, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let before = payment_in_op(&mut tx, &actor.tenant, kind, id).await?;
    must_be_pending(before.status, kind.as_str(), id, Operation::Delete)?;
    remove_payment(&mut tx, actor, before).await?;
    tx.commit().await?;
    Ok(())
}

async fn remove_payment(tx: &mut Tx, actor: &Actor, before: Payment) -> Result<()> {
    on_tx!(tx, c => sqlx::query("DELETE FROM crm_payments WHERE tenant = $1 AND id = $2")
        .bind(&actor.tenant).bind(before.id).execute(&mut *c).await.map(|_| ()))?;
    record_one(
        tx,
        actor,
        before.kind.into(),
        before.id,
        Operation::Delete,
        Some(&before),
        None,
    )
    .await
}

/// F1 for receipts and payments: approve (number it; a linked invoice's
/// paid amount grows in the same transaction) or reject.
pub async fn decide_payment(
    db: &Db,
    actor: &Actor,
    kind: PaymentKind,
    id: i64,
    approve: bool,
    template: &NumberTemplate,
) -> Result<Payment> {
    let mut tx = db.begin().await?;
    let before = payment_in_op(&mut tx, &actor.tenant, kind, id).await?;
    let action = if approve {
        Operation::Approve
    } else {
        Operation::Reject
    };
    must_be_pending(before.status, kind.as_str(), id, action)?;
    let mut after = before.clone();
    let mut changes = Vec::new();
    if approve {
        let company = party::company_in_op(&mut tx, &actor.tenant, before.party_id).await?;
        after.number = Some(
            free_number(
                &mut tx,
                &actor.tenant,
                Numbered::Payments,
                kind.as_str(),
                template,
                before.date,
                company,
            )
            .await?,
        );
        after.status = Status::Approved;
        if let Some(inv) = before.invoice_id {
            let ik = kind.settles();
            let invoice =
                document::document_in_op(&mut tx, &actor.tenant, ik.as_str(), inv, ik.as_str())
                    .await?;
            let mut settled = invoice.clone();
            settled.paid_amount =
                invoice
                    .paid_amount
                    .checked_add(before.amount)
                    .ok_or_else(|| {
                        ValidationError::new("amount", Rule::Range, "paid amount overflows")
                    })?;
            settled.paid = settled.paid_amount >= invoice.totals.grand_total;
            settled.version += 1;
            settled.updated_at = now();
            on_tx!(&mut tx, c => sqlx::query("UPDATE crm_documents SET paid_amount = $1, paid = $2, version = $3, updated_at = $4 WHERE tenant = $5 AND id = $6")
                .bind(Dec(settled.paid_amount)).bind(settled.paid).bind(settled.version).bind(&settled.updated_at)
                .bind(&actor.tenant).bind(inv).execute(&mut *c).await.map(|_| ()))?;
            changes.push(Change {
                entity_kind: ik.into(),
                entity_id: inv,
                operation: Operation::Settle,
                before: Some(json(&invoice)?),
                after: Some(json(&settled)?),
            });
        }
    } else {
        after.status = Status::Rejected;
    }
    after.version += 1;
    after.updated_at = now();
    on_tx!(&mut tx, c => sqlx::query("UPDATE crm_payments SET status = $1, number = $2, version = $3, updated_at = $4 WHERE tenant = $5 AND id = $6")
        .bind(after.status.as_str()).bind(&after.number).bind(after.version).bind(&after.updated_at)
        .bind(&actor.tenant).bind(id).execute(&mut *c).await.map(|_| ()))?;
    changes.insert(
        0,
        Change {
            entity_kind: kind.into(),
            entity_id: id,
            operation: action,
            before: Some(json(&before)?),
            after: Some(json(&after)?),
        },
    );
    record(&mut tx, actor, &changes).await?;
    tx.commit().await?;
    Ok(after)
}
