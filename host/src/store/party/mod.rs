//! Parties (S1, S9): the repository. Every write records its change in
//! the [journal](super::journal) in the same transaction.

mod checks;
mod entity;

use super::error::{Result, StoreError, corrupt};
use super::journal::audit::{Audited, audit_only};
use super::journal::{Change, record, record_one};
use super::sql::{Arg, bind_args, for_update, json, now};
use super::warnings::{put_warnings, warning_filter, warnings_in_op, warnings_of};
use super::{Db, Tx};
use crate::crm::kinds::{EntityKind, Operation};
use crate::crm::{Actor, NewParty, Party, PartyKind, WarningRule};
use checks::duplicate_customer;
use entity::{PARTY_COLS, PartyRow, party_args, party_from_new};
use hamgam_domain::CompanyCode;

/// Create a party in the caller's transaction.
pub async fn create_party_in_op(tx: &mut Tx, actor: &Actor, new: &NewParty) -> Result<Party> {
    let at = now();
    let sql = "INSERT INTO crm_parties (kind, first_name, last_name, name, customer_number, \
        company_code, national_id, registration_number, economic_code, birth_date, email, phones, \
        addresses, tenant, origin, version, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, $16, $16) RETURNING id";
    let mut args = party_args(new)?;
    args.extend([
        Arg::Text(actor.tenant.clone()),
        Arg::Text(actor.origin.clone()),
        Arg::Text(at.clone()),
    ]);
    let id: i64 =
        on_tx!(tx, c => bind_args!(sqlx::query_scalar(sql), &args).fetch_one(&mut *c).await)
            .map_err(|e| duplicate_customer(e, new))?;
    put_warnings(tx, &actor.tenant, EntityKind::Party, id, &new.warnings).await?;
    let party = party_from_new(id, new, &actor.origin, 1, at.clone(), at);
    let after = json(&party)?;
    record(
        tx,
        actor,
        &[Change {
            entity_kind: EntityKind::Party,
            entity_id: id,
            operation: Operation::Create,
            before: None,
            after: Some(after),
        }],
    )
    .await?;
    Ok(party)
}

/// Create a party in its own transaction.
pub async fn create_party(db: &Db, actor: &Actor, new: &NewParty) -> Result<Party> {
    let mut tx = db.begin().await?;
    let party = create_party_in_op(&mut tx, actor, new).await?;
    tx.commit().await?;
    Ok(party)
}

pub(super) async fn party_in_op(tx: &mut Tx, tenant: &str, id: i64) -> Result<Party> {
    let sql = format!(
        "SELECT {PARTY_COLS} FROM crm_parties WHERE tenant = $1 AND id = $2{}",
        for_update(tx)
    );
    let row: Option<PartyRow> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(tenant).bind(id).fetch_optional(&mut *c).await)?;
    let mut party: Party = row
        .ok_or(StoreError::NotFound {
            kind: EntityKind::Party.as_str(),
            id,
        })?
        .try_into()?;
    party.warnings = warnings_in_op(tx, tenant, EntityKind::Party, id).await?;
    Ok(party)
}

/// One party of the tenant.
pub async fn get_party(db: &Db, tenant: &str, id: i64) -> Result<Party> {
    let sql = format!("SELECT {PARTY_COLS} FROM crm_parties WHERE tenant = $1 AND id = $2");
    let row: Option<PartyRow> =
        on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(id).fetch_optional(p).await)?;
    let mut party: Party = row
        .ok_or(StoreError::NotFound {
            kind: EntityKind::Party.as_str(),
            id,
        })?
        .try_into()?;
    party.warnings = warnings_of(db, tenant, EntityKind::Party, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(party)
}

/// List filters for parties.
#[derive(Debug, Clone, Default)]
pub struct PartyFilter {
    /// Person or organisation.
    pub kind: Option<PartyKind>,
    /// Exact customer number.
    pub customer_number: Option<String>,
    /// Company code (S17).
    pub company_code: Option<u16>,
    /// With (`true`) or without (`false`) data-quality warnings.
    pub has_warnings: Option<bool>,
    /// With a warning of this rule.
    pub warning: Option<WarningRule>,
}

/// One page of parties with `id > after`, by id; `limit + 1` rows are read
/// so the caller knows whether there is a next page.
pub async fn list_parties(
    db: &Db,
    tenant: &str,
    filter: &PartyFilter,
    after: i64,
    limit: u32,
) -> Result<Vec<Party>> {
    let mut sql = format!("SELECT {PARTY_COLS} FROM crm_parties WHERE tenant = $1 AND id > $2");
    let mut args = vec![Arg::Text(tenant.into()), Arg::I64(after)];
    let mut push = |cond: &str, a: Arg, sql: &mut String| {
        args.push(a);
        sql.push_str(&format!(" AND {cond} ${}", args.len()));
    };
    if let Some(k) = filter.kind {
        push("kind =", Arg::Text(k.as_str().into()), &mut sql);
    }
    if let Some(n) = &filter.customer_number {
        push("customer_number =", Arg::Text(n.clone()), &mut sql);
    }
    if let Some(c) = filter.company_code {
        push("company_code =", Arg::I64(i64::from(c)), &mut sql);
    }
    warning_filter(
        "crm_parties",
        EntityKind::Party,
        filter.has_warnings,
        filter.warning,
        &mut args,
        &mut sql,
    );
    sql.push_str(&format!(" ORDER BY id LIMIT {}", u64::from(limit) + 1));
    let rows: Vec<PartyRow> =
        on_pool!(db, p => bind_args!(sqlx::query_as(&sql), &args).fetch_all(p).await)?;
    let mut parties = rows
        .into_iter()
        .map(Party::try_from)
        .collect::<Result<Vec<_>>>()?;
    let ids: Vec<i64> = parties.iter().map(|p| p.id).collect();
    let mut warnings = warnings_of(db, tenant, EntityKind::Party, &ids).await?;
    for p in &mut parties {
        p.warnings = warnings.remove(&p.id).unwrap_or_default();
    }
    Ok(parties)
}

/// Replace a party's fields (S9: a kind change is allowed).
pub async fn update_party_in_op(
    tx: &mut Tx,
    actor: &Actor,
    id: i64,
    new: &NewParty,
) -> Result<Party> {
    let before = party_in_op(tx, &actor.tenant, id).await?;
    let at = now();
    let sql = "UPDATE crm_parties SET kind = $1, first_name = $2, last_name = $3, name = $4, \
        customer_number = $5, company_code = $6, national_id = $7, registration_number = $8, \
        economic_code = $9, birth_date = $10, email = $11, phones = $12, addresses = $13, \
        version = version + 1, updated_at = $14 WHERE tenant = $15 AND id = $16";
    let mut args = party_args(new)?;
    args.extend([
        Arg::Text(at.clone()),
        Arg::Text(actor.tenant.clone()),
        Arg::I64(id),
    ]);
    on_tx!(tx, c => bind_args!(sqlx::query(sql), &args).execute(&mut *c).await.map(|_| ()))
        .map_err(|e| duplicate_customer(e, new))?;
    put_warnings(tx, &actor.tenant, EntityKind::Party, id, &new.warnings).await?;
    let after = party_from_new(
        id,
        new,
        &before.origin,
        before.version + 1,
        before.created_at.clone(),
        at,
    );
    record_one(
        tx,
        actor,
        EntityKind::Party,
        id,
        Operation::Update,
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(after)
}

/// Replace a party in its own transaction.
pub async fn update_party(db: &Db, actor: &Actor, id: i64, new: &NewParty) -> Result<Party> {
    let mut tx = db.begin().await?;
    let party = update_party_in_op(&mut tx, actor, id, new).await?;
    tx.commit().await?;
    Ok(party)
}

/// S1: a party the CRM created takes the customer number its ledger gave
/// it (the ledger's detail-account code, with the company code). Only the
/// number changes; the audit row (actor: the connector instance) keeps the
/// number the CRM asked for. `None`: the party already has that number.
/// Another party holding the number is a conflict, found before writing so
/// that PostgreSQL never sees a unique violation inside the caller's
/// transaction.
pub async fn adopt_ledger_customer_number_in_op(
    tx: &mut Tx,
    actor: &Actor,
    id: i64,
    number: &str,
) -> Result<Option<Party>> {
    let before = party_in_op(tx, &actor.tenant, id).await?;
    if before.customer_number == number {
        return Ok(None);
    }
    let holder: Option<i64> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT id FROM crm_parties WHERE tenant = $1 AND customer_number = $2 AND id <> $3")
        .bind(&actor.tenant).bind(number).bind(id).fetch_optional(&mut *c).await)?;
    if let Some(other) = holder {
        return Err(StoreError::Conflict {
            field: Some("customer_number".into()),
            message: format!(
                "the ledger numbered party {id} {number}, which party {other} already has"
            ),
        });
    }
    let at = now();
    on_tx!(tx, c => sqlx::query("UPDATE crm_parties SET customer_number = $1, version = version + 1, updated_at = $2 WHERE tenant = $3 AND id = $4")
        .bind(number).bind(&at).bind(&actor.tenant).bind(id).execute(&mut *c).await.map(|_| ()))?;
    let mut after = before.clone();
    after.customer_number = number.to_owned();
    after.version = before.version + 1;
    after.updated_at = at;
    // Audited, but no outbox row: the number came from the ledger and has
    // nowhere to travel (never back to its source, and no channel takes
    // parties).
    audit_only(
        tx,
        actor,
        EntityKind::Party,
        id,
        Audited::Change(Operation::Update),
        &json(&before)?,
        &json(&after)?,
    )
    .await?;
    Ok(Some(after))
}

/// Delete a party that no document or payment refers to.
pub async fn delete_party(db: &Db, actor: &Actor, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let before = party_in_op(&mut tx, &actor.tenant, id).await?;
    let sql = "SELECT (SELECT COUNT(*) FROM crm_documents WHERE tenant = $1 AND party_id = $2) \
               + (SELECT COUNT(*) FROM crm_payments WHERE tenant = $1 AND party_id = $2)";
    let refs: i64 = on_tx!(&mut tx, c => sqlx::query_scalar(sql).bind(&actor.tenant).bind(id).fetch_one(&mut *c).await)?;
    if refs > 0 {
        return Err(StoreError::Conflict {
            field: None,
            message: format!(
                "party {id} has {refs} document(s) or payment(s) and cannot be deleted"
            ),
        });
    }
    on_tx!(&mut tx, c => sqlx::query("DELETE FROM crm_parties WHERE tenant = $1 AND id = $2")
        .bind(&actor.tenant).bind(id).execute(&mut *c).await.map(|_| ()))?;
    put_warnings(&mut tx, &actor.tenant, EntityKind::Party, id, &[]).await?;
    record_one(
        &mut tx,
        actor,
        EntityKind::Party,
        id,
        Operation::Delete,
        Some(&before),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The company code of a party (S17), read in the caller's transaction:
/// the number a document or payment of the party gets carries it.
pub(super) async fn company_in_op(tx: &mut Tx, tenant: &str, party_id: i64) -> Result<CompanyCode> {
    let code: Option<i32> = on_tx!(tx, c => sqlx::query_scalar("SELECT company_code FROM crm_parties WHERE tenant = $1 AND id = $2")
        .bind(tenant).bind(party_id).fetch_optional(&mut *c).await)?;
    let code = code.ok_or(StoreError::NotFound {
        kind: EntityKind::Party.as_str(),
        id: party_id,
    })?;
    u16::try_from(code)
        .ok()
        .and_then(|c| CompanyCode::new(c).ok())
        .ok_or_else(|| corrupt("company_code", code))
}
