//! Data-quality warnings (issue 14 §7, `crm_warnings`): what a ledger's
//! record broke that the CRM kept anyway, stored beside the record and
//! replaced with it. Parties and products carry them.

use super::error::{Result, corrupt};
use super::sql::{Arg, bind_args, insert_placeholders};
use super::{Db, Tx};
use crate::crm::kinds::EntityKind;
use crate::crm::{DataWarning, WarningRule};
use std::collections::HashMap;

/// Replaces the data-quality warnings of one record (issue 14 §7) in the
/// caller's transaction, so a record and its warnings change together.
pub(super) async fn put_warnings(
    tx: &mut Tx,
    tenant: &str,
    entity_kind: EntityKind,
    entity_id: i64,
    warnings: &[DataWarning],
) -> Result<()> {
    on_tx!(tx, c => sqlx::query(
        "DELETE FROM crm_warnings WHERE tenant = $1 AND entity_kind = $2 AND entity_id = $3",
    )
    .bind(tenant).bind(entity_kind).bind(entity_id).execute(&mut *c).await.map(|_| ()))?;
    if warnings.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO crm_warnings (tenant, entity_kind, entity_id, ordinal, field, rule, message) VALUES {}",
        insert_placeholders(tx, warnings.len(), 7)
    );
    let mut args = Vec::with_capacity(warnings.len() * 7);
    for (i, w) in warnings.iter().enumerate() {
        args.extend([
            Arg::Text(tenant.to_owned()),
            Arg::Text(entity_kind.as_str().to_owned()),
            Arg::I64(entity_id),
            Arg::I64(i64::try_from(i).unwrap_or(i64::MAX)),
            Arg::Text(w.field.clone()),
            Arg::Text(w.rule.as_str().to_owned()),
            Arg::Text(w.message.clone()),
        ]);
    }
    on_tx!(tx, c => bind_args!(sqlx::query(&sql), &args).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct WarningRow {
    entity_id: i64,
    field: String,
    rule: String,
    message: String,
}

fn group_warnings(rows: Vec<WarningRow>) -> Result<HashMap<i64, Vec<DataWarning>>> {
    let mut out: HashMap<i64, Vec<DataWarning>> = HashMap::new();
    for r in rows {
        let rule = WarningRule::parse(&r.rule)
            .ok_or_else(|| corrupt("crm_warnings.rule", format!("unknown rule {:?}", r.rule)))?;
        out.entry(r.entity_id).or_default().push(DataWarning {
            field: r.field,
            rule,
            message: r.message,
        });
    }
    Ok(out)
}

/// `SELECT` of the warnings of `ids` (at most one page of them).
fn warnings_sql(ids: usize) -> String {
    let list = (0..ids)
        .map(|i| format!("${}", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT entity_id, field, rule, message FROM crm_warnings \
         WHERE tenant = $1 AND entity_kind = $2 AND entity_id IN ({list}) \
         ORDER BY entity_id, ordinal"
    )
}

/// The warnings of these records, by id (records without any are absent).
pub(super) async fn warnings_of(
    db: &Db,
    tenant: &str,
    entity_kind: EntityKind,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<DataWarning>>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = warnings_sql(ids.len());
    let rows: Vec<WarningRow> = on_pool!(db, p => {
        let mut q = sqlx::query_as(&sql).bind(tenant).bind(entity_kind);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(p).await
    })?;
    group_warnings(rows)
}

/// [`warnings_of`] one record, in the caller's transaction.
pub(super) async fn warnings_in_op(
    tx: &mut Tx,
    tenant: &str,
    entity_kind: EntityKind,
    id: i64,
) -> Result<Vec<DataWarning>> {
    let sql = warnings_sql(1);
    let rows: Vec<WarningRow> = on_tx!(tx, c => sqlx::query_as(&sql)
        .bind(tenant).bind(entity_kind).bind(id).fetch_all(&mut *c).await)?;
    Ok(group_warnings(rows)?.remove(&id).unwrap_or_default())
}

/// The list filter on data-quality warnings (issue 14 §7): ` AND [NOT]
/// EXISTS (…)` over the rows of `table` (whose kind is `entity_kind`),
/// `rule` bound as the next argument.
pub(super) fn warning_filter(
    table: &str,
    entity_kind: EntityKind,
    has: Option<bool>,
    rule: Option<WarningRule>,
    args: &mut Vec<Arg>,
    sql: &mut String,
) {
    let exists = |extra: &str| {
        format!(
            "EXISTS (SELECT 1 FROM crm_warnings w WHERE w.tenant = {table}.tenant \
             AND w.entity_kind = '{kind}' AND w.entity_id = {table}.id{extra})",
            kind = entity_kind.as_str()
        )
    };
    match has {
        Some(true) => sql.push_str(&format!(" AND {}", exists(""))),
        Some(false) => sql.push_str(&format!(" AND NOT {}", exists(""))),
        None => {}
    }
    if let Some(rule) = rule {
        args.push(Arg::Text(rule.as_str().to_owned()));
        sql.push_str(&format!(
            " AND {}",
            exists(&format!(" AND w.rule = ${}", args.len()))
        ));
    }
}
