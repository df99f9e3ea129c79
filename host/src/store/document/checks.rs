//! What a document must satisfy to be stored or changed beyond its own
//! input checks (`crm::DocumentRequest::prepare`): the records it names
//! exist in the tenant, and F1's approval rules. Receipts and payments
//! share both.

use crate::crm::kinds::Operation;
use crate::crm::{BalanceEffect, DocumentKind, Status};
use crate::store::Tx;
use crate::store::error::{Result, StoreError};
use crate::store::sql::{Arg, CHUNK, bind_args, placeholders};
use hamgam_domain::{Rule, ValidationError};

/// Checks that every id exists in the tenant's `table`; the error names
/// `field` and the first missing id.
pub(in crate::store) async fn check_refs(
    tx: &mut Tx,
    tenant: &str,
    table: &str,
    extra: &str,
    ids: &mut Vec<i64>,
    field: &str,
    what: &str,
) -> Result<()> {
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(CHUNK) {
        let list = placeholders(1, chunk.len(), 1);
        let sql = format!("SELECT id FROM {table} WHERE tenant = $1{extra} AND id IN {list}");
        let mut args = vec![Arg::Text(tenant.into())];
        args.extend(chunk.iter().map(|i| Arg::I64(*i)));
        let found: Vec<i64> =
            on_tx!(tx, c => bind_args!(sqlx::query_scalar(&sql), &args).fetch_all(&mut *c).await)?;
        if let Some(missing) = chunk.iter().find(|i| !found.contains(i)) {
            return Err(ValidationError::new(
                field,
                Rule::Required,
                format!("{what} {missing} does not exist"),
            )
            .into());
        }
    }
    Ok(())
}

/// F1: only a pending item may be edited, deleted, approved or rejected;
/// the conflict names its state and what it refused.
pub(in crate::store) fn must_be_pending(
    status: Status,
    entity: &str,
    id: i64,
    action: Operation,
) -> Result<()> {
    if status != Status::Pending {
        return Err(StoreError::Conflict {
            field: Some("status".into()),
            message: format!(
                "{entity} {id} is {} and {}",
                status.as_str(),
                refused(action)
            ),
        });
    }
    Ok(())
}

/// The end of [`must_be_pending`]'s message: what the item cannot undergo.
fn refused(action: Operation) -> &'static str {
    match action {
        Operation::Create => "cannot be created",
        Operation::Update => "cannot be edited",
        Operation::Delete => "cannot be deleted",
        Operation::Approve => "cannot be approved",
        Operation::Reject => "cannot be rejected",
        Operation::Settle => "cannot be settled",
    }
}

/// Quotes and orders are not financial items (F1) and stay editable by
/// their origin side after approval; financial documents only while pending.
pub(super) fn must_be_editable(
    kind: DocumentKind,
    status: Status,
    id: i64,
    action: Operation,
) -> Result<()> {
    if kind.balance_effect() == BalanceEffect::None {
        return Ok(());
    }
    must_be_pending(status, kind.as_str(), id, action)
}
