//! CRM repositories: parties, products, documents with lines, receipts and
//! payments, party statements.
//!
//! Rules every function keeps:
//! * **Tenant scope.** Every statement filters on the actor's or caller's
//!   tenant; a row of another tenant is "not found", never visible.
//! * **Audit and outbox with the change (C6).** Every write adds an audit row
//!   (who, when, before/after JSON) and an outbox row (entity, operation,
//!   payload, origin tag, status `pending`) in the *same* transaction, so a
//!   change the sync engine does not hear about cannot exist. The one
//!   exception is the actor's [`Outbox`](crate::crm::Outbox) rule: a
//!   connector's change with nowhere to go (it never travels back to its
//!   source) gets its audit row only.
//! * **Cala's shape.** `create(&db, …)` opens and commits its own
//!   transaction; `create_in_op(&mut tx, …)` joins the caller's.
//! * Amounts are [`Dec`]: `NUMERIC` on PostgreSQL, decimal text on SQLite.
//!   Sums (balances, statements) are computed in Rust with `Decimal`,
//!   because SQLite would add text columns as floats.

use super::numbering::{AllocateError, allocate_in_op};
use super::{Db, Dec, Tx};
use crate::crm::{
    Actor, Address, BalanceEffect, DataWarning, Document, DocumentKind, Line, NewDocument,
    NewParty, NewPayment, NewProduct, Party, PartyKind, Payment, PaymentKind, PaymentMethod,
    PhoneEntry, Product, Settlement, Statement, StatementEntry, Status, Totals, WarningRule,
    check_settlements,
};
use hamgam_domain::{
    CompanyCode, Currency, Decimal, JalaliDate, Money, NumberTemplate, Rule, ValidationError,
};
use std::collections::{BTreeMap, HashMap};

/// Why a repository call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such record in this tenant.
    #[error("{kind} {id} not found")]
    NotFound {
        /// Entity kind.
        kind: &'static str,
        /// Id asked for.
        id: i64,
    },
    /// The change collides with the record's state or another record.
    #[error("{message}")]
    Conflict {
        /// The field at fault, if one.
        field: Option<String>,
        /// What collided.
        message: String,
    },
    /// The input refers to something that does not exist or does not fit.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No number could be allocated.
    #[error(transparent)]
    Numbering(#[from] AllocateError),
    /// A stored value could not be read back.
    #[error("stored {what} is unreadable: {message}")]
    Corrupt {
        /// Which column.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Result of a repository call.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

fn corrupt(what: &'static str, message: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what,
        message: message.to_string(),
    }
}

fn conflict_on_unique(e: sqlx::Error, field: &str, message: String) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict {
            field: Some(field.to_owned()),
            message,
        },
        _ => StoreError::Db(e),
    }
}

/// The host clock as RFC 3339 UTC text (both backends store it as text).
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Rows of multi-row INSERTs per statement: SQLite allows 32 766 parameters,
/// PostgreSQL 65 535; 100 rows of ≤ 30 columns stays well inside both.
pub(super) const CHUNK: usize = 100;

/// `($1, $2, …), (…)` for `rows` rows of `cols` columns, numbered from `start`.
fn placeholders(rows: usize, cols: usize, start: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(start + r * cols + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// Placeholders for a multi-row INSERT of `rows` × `cols` values on `tx`'s
/// backend. SQLite gets anonymous `?`: sqlx looks up every numbered
/// parameter's name, and SQLite finds a name by scanning all of them, so a
/// statement with n `$N` parameters costs O(n²) to bind (2 400 parameters
/// made inserts several times slower than the SQL itself).
pub(super) fn insert_placeholders(tx: &Tx, rows: usize, cols: usize) -> String {
    if tx.is_postgres() {
        return placeholders(rows, cols, 0);
    }
    let row = format!("({})", vec!["?"; cols].join(", "));
    vec![row; rows].join(", ")
}

/// One bind value of a dynamically built statement.
#[derive(Debug, Clone)]
pub(super) enum Arg {
    I64(i64),
    OptI64(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Bool(bool),
    Dec(Decimal),
    OptDec(Option<Decimal>),
}

macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::I64(v) => q.bind(*v),
                Arg::OptI64(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.clone()),
                Arg::OptText(v) => q.bind(v.clone()),
                Arg::Bool(v) => q.bind(*v),
                Arg::Dec(v) => q.bind($crate::store::Dec(*v)),
                Arg::OptDec(v) => q.bind(v.map($crate::store::Dec)),
            };
        }
        q
    }};
}
pub(super) use bind_args;

/// ` FOR UPDATE` on PostgreSQL (row lock); SQLite's `BEGIN IMMEDIATE` has
/// already locked the database.
fn for_update(tx: &Tx) -> &'static str {
    if tx.is_postgres() { " FOR UPDATE" } else { "" }
}

// ------------------------------------------------------------ audit, outbox

/// One change to record in the audit trail and the outbox.
struct Change {
    entity_kind: &'static str,
    entity_id: i64,
    operation: &'static str,
    before: Option<String>,
    after: Option<String>,
}

/// Audit and outbox for one change of one record (`before` and `after`
/// as the API shows them; none for create's before and delete's after).
async fn record_one<T: serde::Serialize>(
    tx: &mut Tx,
    actor: &Actor,
    entity_kind: &'static str,
    entity_id: i64,
    operation: &'static str,
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

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| corrupt("json", e))
}

/// Writes the audit rows of `changes` and the outbox rows the actor's rule
/// admits (multi-row INSERTs).
async fn record(tx: &mut Tx, actor: &Actor, changes: &[Change]) -> Result<()> {
    let at = now();
    for chunk in changes.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO crm_audit (tenant, actor, entity_kind, entity_id, operation, before_json, after_json, at) VALUES {}",
            insert_placeholders(tx, chunk.len(), 8)
        );
        let mut args = Vec::with_capacity(chunk.len() * 8);
        for c in chunk {
            args.extend([
                Arg::Text(actor.tenant.clone()),
                Arg::Text(actor.who.clone()),
                Arg::Text(c.entity_kind.to_owned()),
                Arg::I64(c.entity_id),
                Arg::Text(c.operation.to_owned()),
                Arg::OptText(c.before.clone()),
                Arg::OptText(c.after.clone()),
                Arg::Text(at.clone()),
            ]);
        }
        on_tx!(tx, c => bind_args!(sqlx::query(&sql), &args).execute(&mut *c).await.map(|_| ()))?;

        let outgoing: Vec<&Change> = chunk
            .iter()
            .filter(|c| actor.writes_outbox(c.entity_kind, c.operation))
            .collect();
        if outgoing.is_empty() {
            continue;
        }
        let sql = format!(
            "INSERT INTO crm_outbox (tenant, entity_kind, entity_id, operation, payload, origin, status, created_at) VALUES {}",
            insert_placeholders(tx, outgoing.len(), 8)
        );
        let mut args = Vec::with_capacity(outgoing.len() * 8);
        for c in outgoing {
            args.extend([
                Arg::Text(actor.tenant.clone()),
                Arg::Text(c.entity_kind.to_owned()),
                Arg::I64(c.entity_id),
                Arg::Text(c.operation.to_owned()),
                Arg::Text(
                    c.after
                        .clone()
                        .or_else(|| c.before.clone())
                        .unwrap_or_else(|| "null".into()),
                ),
                Arg::Text(actor.origin.clone()),
                Arg::Text("pending".into()),
                Arg::Text(at.clone()),
            ]);
        }
        on_tx!(tx, c => bind_args!(sqlx::query(&sql), &args).execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
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

/// An outbox row: the sync engine's input.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxRow {
    /// Id (delivery order).
    pub id: i64,
    /// Entity kind.
    pub entity_kind: String,
    /// Entity id.
    pub entity_id: i64,
    /// Operation.
    pub operation: String,
    /// The record as JSON.
    pub payload: String,
    /// `api:<tenant>` or `connector:<instance>`.
    pub origin: String,
    /// `pending`, later `sent` / `failed`.
    pub status: String,
    /// When (RFC 3339 UTC).
    pub created_at: String,
}

/// A tenant's audit trail of one entity, oldest first.
pub async fn audit_trail(
    db: &Db,
    tenant: &str,
    entity_kind: &str,
    entity_id: i64,
) -> Result<Vec<AuditRow>> {
    let sql = "SELECT actor, entity_kind, entity_id, operation, before_json, after_json, at \
               FROM crm_audit WHERE tenant = $1 AND entity_kind = $2 AND entity_id = $3 ORDER BY id";
    Ok(on_pool!(db, p => sqlx::query_as(sql)
        .bind(tenant).bind(entity_kind).bind(entity_id).fetch_all(p).await)?)
}

/// S11: the ledger's copy of a CRM record now has another number (a
/// ledger that cannot edit a quotation replaces it, and numbers the new
/// one). Written to the audit only: the CRM record itself did not change,
/// so nothing travels.
pub async fn record_ledger_number_in_op(
    tx: &mut Tx,
    actor: &Actor,
    entity_kind: &str,
    entity_id: i64,
    before: &str,
    after: &str,
) -> Result<()> {
    let side = |n: &str| json(&serde_json::json!({ "ledger_number": n }));
    audit_only(
        tx,
        actor,
        entity_kind,
        entity_id,
        "ledger_number",
        &side(before)?,
        &side(after)?,
    )
    .await
}

/// An audit row with no outbox row: for changes a ledger made that travel
/// nowhere.
async fn audit_only(
    tx: &mut Tx,
    actor: &Actor,
    entity_kind: &str,
    entity_id: i64,
    operation: &str,
    before: &str,
    after: &str,
) -> Result<()> {
    on_tx!(tx, c => sqlx::query("INSERT INTO crm_audit (tenant, actor, entity_kind, entity_id, operation, before_json, after_json, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&actor.tenant).bind(&actor.who).bind(entity_kind).bind(entity_id).bind(operation)
        .bind(before).bind(after).bind(now())
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// A tenant's outbox, oldest first.
pub async fn outbox(db: &Db, tenant: &str) -> Result<Vec<OutboxRow>> {
    let sql = "SELECT id, entity_kind, entity_id, operation, payload, origin, status, created_at \
               FROM crm_outbox WHERE tenant = $1 ORDER BY id";
    Ok(on_pool!(db, p => sqlx::query_as(sql).bind(tenant).fetch_all(p).await)?)
}

/// Row counts of every CRM table (all tenants), for tests and metrics.
pub async fn row_counts(db: &Db) -> Result<BTreeMap<&'static str, i64>> {
    let mut out = BTreeMap::new();
    for table in [
        "crm_parties",
        "crm_products",
        "crm_documents",
        "crm_document_lines",
        "crm_payments",
        "crm_counters",
        "crm_audit",
        "crm_outbox",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let n: i64 = on_pool!(db, p => sqlx::query_scalar(&sql).fetch_one(p).await)?;
        out.insert(table, n);
    }
    Ok(out)
}

// ------------------------------------------------- data-quality warnings

/// Replaces the data-quality warnings of one record (issue 14 §7) in the
/// caller's transaction, so a record and its warnings change together.
async fn put_warnings(
    tx: &mut Tx,
    tenant: &str,
    entity_kind: &str,
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
            Arg::Text(entity_kind.to_owned()),
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
async fn warnings_of(
    db: &Db,
    tenant: &str,
    entity_kind: &str,
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
async fn warnings_in_op(
    tx: &mut Tx,
    tenant: &str,
    entity_kind: &str,
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
fn warning_filter(
    table: &str,
    entity_kind: &str,
    has: Option<bool>,
    rule: Option<WarningRule>,
    args: &mut Vec<Arg>,
    sql: &mut String,
) {
    let exists = |extra: &str| {
        format!(
            "EXISTS (SELECT 1 FROM crm_warnings w WHERE w.tenant = {table}.tenant \
             AND w.entity_kind = '{entity_kind}' AND w.entity_id = {table}.id{extra})"
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

// ------------------------------------------------------------------ parties

const PARTY_COLS: &str = "id, kind, first_name, last_name, name, customer_number, company_code, \
    national_id, registration_number, economic_code, birth_date, email, phones, addresses, \
    origin, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct PartyRow {
    id: i64,
    kind: String,
    first_name: Option<String>,
    last_name: Option<String>,
    name: Option<String>,
    customer_number: String,
    company_code: i32,
    national_id: Option<String>,
    registration_number: Option<String>,
    economic_code: Option<String>,
    birth_date: Option<String>,
    email: Option<String>,
    phones: String,
    addresses: String,
    origin: String,
    version: i64,
    created_at: String,
    updated_at: String,
}

fn jalali(what: &'static str, s: &str) -> Result<JalaliDate> {
    JalaliDate::parse(s).map_err(|e| corrupt(what, e))
}

impl TryFrom<PartyRow> for Party {
    type Error = StoreError;
    fn try_from(r: PartyRow) -> Result<Party> {
        Ok(Party {
            id: r.id,
            kind: PartyKind::parse(&r.kind).ok_or_else(|| corrupt("party kind", &r.kind))?,
            first_name: r.first_name,
            last_name: r.last_name,
            name: r.name,
            customer_number: r.customer_number,
            company_code: u16::try_from(r.company_code).map_err(|e| corrupt("company_code", e))?,
            national_id: r.national_id,
            registration_number: r.registration_number,
            economic_code: r.economic_code,
            birth_date: r.birth_date.map(|d| jalali("birth_date", &d)).transpose()?,
            email: r.email,
            phones: serde_json::from_str::<Vec<PhoneEntry>>(&r.phones)
                .map_err(|e| corrupt("phones", e))?,
            addresses: serde_json::from_str::<Vec<Address>>(&r.addresses)
                .map_err(|e| corrupt("addresses", e))?,
            origin: r.origin,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            // Read from `crm_warnings` by the caller.
            warnings: Vec::new(),
        })
    }
}

fn party_args(p: &NewParty) -> Result<Vec<Arg>> {
    Ok(vec![
        Arg::Text(p.kind.as_str().into()),
        Arg::OptText(p.first_name.clone()),
        Arg::OptText(p.last_name.clone()),
        Arg::OptText(p.name.clone()),
        Arg::Text(p.customer_number.clone()),
        Arg::I64(i64::from(p.company_code)),
        Arg::OptText(p.national_id.clone()),
        Arg::OptText(p.registration_number.clone()),
        Arg::OptText(p.economic_code.clone()),
        Arg::OptText(p.birth_date.map(|d| d.to_string())),
        Arg::OptText(p.email.clone()),
        Arg::Text(json(&p.phones)?),
        Arg::Text(json(&p.addresses)?),
    ])
}

fn duplicate_customer(e: sqlx::Error, p: &NewParty) -> StoreError {
    conflict_on_unique(
        e,
        "customer_number",
        format!("customer number {} is already in use", p.customer_number),
    )
}

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
    put_warnings(tx, &actor.tenant, "party", id, &new.warnings).await?;
    let party = party_from_new(id, new, &actor.origin, 1, at.clone(), at);
    let after = json(&party)?;
    record(
        tx,
        actor,
        &[Change {
            entity_kind: "party",
            entity_id: id,
            operation: "create",
            before: None,
            after: Some(after),
        }],
    )
    .await?;
    Ok(party)
}

fn party_from_new(
    id: i64,
    p: &NewParty,
    origin: &str,
    version: i64,
    created_at: String,
    updated_at: String,
) -> Party {
    Party {
        id,
        kind: p.kind,
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        name: p.name.clone(),
        customer_number: p.customer_number.clone(),
        company_code: p.company_code,
        national_id: p.national_id.clone(),
        registration_number: p.registration_number.clone(),
        economic_code: p.economic_code.clone(),
        birth_date: p.birth_date,
        email: p.email.clone(),
        phones: p.phones.clone(),
        addresses: p.addresses.clone(),
        origin: origin.to_owned(),
        version,
        created_at,
        updated_at,
        warnings: p.warnings.clone(),
    }
}

/// Create a party in its own transaction.
pub async fn create_party(db: &Db, actor: &Actor, new: &NewParty) -> Result<Party> {
    let mut tx = db.begin().await?;
    let party = create_party_in_op(&mut tx, actor, new).await?;
    tx.commit().await?;
    Ok(party)
}

async fn party_in_op(tx: &mut Tx, tenant: &str, id: i64) -> Result<Party> {
    let sql = format!(
        "SELECT {PARTY_COLS} FROM crm_parties WHERE tenant = $1 AND id = $2{}",
        for_update(tx)
    );
    let row: Option<PartyRow> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(tenant).bind(id).fetch_optional(&mut *c).await)?;
    let mut party: Party = row
        .ok_or(StoreError::NotFound { kind: "party", id })?
        .try_into()?;
    party.warnings = warnings_in_op(tx, tenant, "party", id).await?;
    Ok(party)
}

/// One party of the tenant.
pub async fn get_party(db: &Db, tenant: &str, id: i64) -> Result<Party> {
    let sql = format!("SELECT {PARTY_COLS} FROM crm_parties WHERE tenant = $1 AND id = $2");
    let row: Option<PartyRow> =
        on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(id).fetch_optional(p).await)?;
    let mut party: Party = row
        .ok_or(StoreError::NotFound { kind: "party", id })?
        .try_into()?;
    party.warnings = warnings_of(db, tenant, "party", &[id])
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
        "party",
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
    let mut warnings = warnings_of(db, tenant, "party", &ids).await?;
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
    put_warnings(tx, &actor.tenant, "party", id, &new.warnings).await?;
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
        "party",
        id,
        "update",
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
        "party",
        id,
        "update",
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
    put_warnings(&mut tx, &actor.tenant, "party", id, &[]).await?;
    record_one(&mut tx, actor, "party", id, "delete", Some(&before), None).await?;
    tx.commit().await?;
    Ok(())
}

// ----------------------------------------------------------------- products

const PRODUCT_COLS: &str = "id, code, name, unit, sales_price, currency, tax_percent, \
    toll_percent, tax_exempt, origin, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct ProductRow {
    id: i64,
    code: String,
    name: String,
    unit: String,
    sales_price: Dec,
    currency: String,
    tax_percent: Option<Dec>,
    toll_percent: Option<Dec>,
    tax_exempt: bool,
    origin: String,
    version: i64,
    created_at: String,
    updated_at: String,
}

fn currency(s: &str) -> Result<Currency> {
    Currency::new(s).map_err(|e| corrupt("currency", e))
}

impl TryFrom<ProductRow> for Product {
    type Error = StoreError;
    fn try_from(r: ProductRow) -> Result<Product> {
        Ok(Product {
            id: r.id,
            code: r.code,
            name: r.name,
            unit: r.unit,
            sales_price: r.sales_price.0,
            currency: currency(&r.currency)?,
            tax_percent: r.tax_percent.map(|d| d.0),
            toll_percent: r.toll_percent.map(|d| d.0),
            tax_exempt: r.tax_exempt,
            origin: r.origin,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            // Read from `crm_warnings` by the caller.
            warnings: Vec::new(),
        })
    }
}

fn product_args(p: &NewProduct) -> Vec<Arg> {
    vec![
        Arg::Text(p.code.clone()),
        Arg::Text(p.name.clone()),
        Arg::Text(p.unit.clone()),
        Arg::Dec(p.sales_price),
        Arg::Text(p.currency.code().into()),
        Arg::OptDec(p.tax_percent),
        Arg::OptDec(p.toll_percent),
        Arg::Bool(p.tax_exempt),
    ]
}

fn product_from_new(
    id: i64,
    p: &NewProduct,
    origin: &str,
    version: i64,
    created_at: String,
    updated_at: String,
) -> Product {
    Product {
        id,
        code: p.code.clone(),
        name: p.name.clone(),
        unit: p.unit.clone(),
        sales_price: p.sales_price,
        currency: p.currency,
        tax_percent: p.tax_percent,
        toll_percent: p.toll_percent,
        tax_exempt: p.tax_exempt,
        origin: origin.to_owned(),
        version,
        created_at,
        updated_at,
        warnings: p.warnings.clone(),
    }
}

fn duplicate_code(e: sqlx::Error, p: &NewProduct) -> StoreError {
    conflict_on_unique(
        e,
        "code",
        format!("product code {} is already in use", p.code),
    )
}

/// Create a product in the caller's transaction.
pub async fn create_product_in_op(tx: &mut Tx, actor: &Actor, new: &NewProduct) -> Result<Product> {
    let at = now();
    let sql = "INSERT INTO crm_products (code, name, unit, sales_price, currency, tax_percent, \
        toll_percent, tax_exempt, tenant, origin, version, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11) RETURNING id";
    let mut args = product_args(new);
    args.extend([
        Arg::Text(actor.tenant.clone()),
        Arg::Text(actor.origin.clone()),
        Arg::Text(at.clone()),
    ]);
    let id: i64 =
        on_tx!(tx, c => bind_args!(sqlx::query_scalar(sql), &args).fetch_one(&mut *c).await)
            .map_err(|e| duplicate_code(e, new))?;
    put_warnings(tx, &actor.tenant, "product", id, &new.warnings).await?;
    let product = product_from_new(id, new, &actor.origin, 1, at.clone(), at);
    record_one(tx, actor, "product", id, "create", None, Some(&product)).await?;
    Ok(product)
}

/// Create a product in its own transaction.
pub async fn create_product(db: &Db, actor: &Actor, new: &NewProduct) -> Result<Product> {
    let mut tx = db.begin().await?;
    let p = create_product_in_op(&mut tx, actor, new).await?;
    tx.commit().await?;
    Ok(p)
}

/// One product of the tenant.
pub async fn get_product(db: &Db, tenant: &str, id: i64) -> Result<Product> {
    let sql = format!("SELECT {PRODUCT_COLS} FROM crm_products WHERE tenant = $1 AND id = $2");
    let row: Option<ProductRow> =
        on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(id).fetch_optional(p).await)?;
    let mut product: Product = row
        .ok_or(StoreError::NotFound {
            kind: "product",
            id,
        })?
        .try_into()?;
    product.warnings = warnings_of(db, tenant, "product", &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(product)
}

/// The tenant's products among `ids` (missing ids are simply absent).
pub async fn products_by_id(db: &Db, tenant: &str, ids: &[i64]) -> Result<HashMap<i64, Product>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let list = placeholders(1, chunk.len(), 1);
        let sql =
            format!("SELECT {PRODUCT_COLS} FROM crm_products WHERE tenant = $1 AND id IN {list}");
        let mut args = vec![Arg::Text(tenant.into())];
        args.extend(chunk.iter().map(|i| Arg::I64(*i)));
        let rows: Vec<ProductRow> =
            on_pool!(db, p => bind_args!(sqlx::query_as(&sql), &args).fetch_all(p).await)?;
        for r in rows {
            let p = Product::try_from(r)?;
            out.insert(p.id, p);
        }
    }
    Ok(out)
}

/// List filters for products.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// Exact item code.
    pub code: Option<String>,
    /// With (`true`) or without (`false`) data-quality warnings.
    pub has_warnings: Option<bool>,
    /// With a warning of this rule.
    pub warning: Option<WarningRule>,
}

/// One page of products with `id > after` (`limit + 1` rows).
pub async fn list_products(
    db: &Db,
    tenant: &str,
    filter: &ProductFilter,
    after: i64,
    limit: u32,
) -> Result<Vec<Product>> {
    let mut sql = format!("SELECT {PRODUCT_COLS} FROM crm_products WHERE tenant = $1 AND id > $2");
    let mut args = vec![Arg::Text(tenant.into()), Arg::I64(after)];
    if let Some(c) = &filter.code {
        args.push(Arg::Text(c.clone()));
        sql.push_str(" AND code = $3");
    }
    warning_filter(
        "crm_products",
        "product",
        filter.has_warnings,
        filter.warning,
        &mut args,
        &mut sql,
    );
    sql.push_str(&format!(" ORDER BY id LIMIT {}", u64::from(limit) + 1));
    let rows: Vec<ProductRow> =
        on_pool!(db, p => bind_args!(sqlx::query_as(&sql), &args).fetch_all(p).await)?;
    let mut products = rows
        .into_iter()
        .map(Product::try_from)
        .collect::<Result<Vec<_>>>()?;
    let ids: Vec<i64> = products.iter().map(|p| p.id).collect();
    let mut warnings = warnings_of(db, tenant, "product", &ids).await?;
    for p in &mut products {
        p.warnings = warnings.remove(&p.id).unwrap_or_default();
    }
    Ok(products)
}

/// Replace a product's fields.
pub async fn update_product(db: &Db, actor: &Actor, id: i64, new: &NewProduct) -> Result<Product> {
    let mut tx = db.begin().await?;
    let after = update_product_in_op(&mut tx, actor, id, new).await?;
    tx.commit().await?;
    Ok(after)
}

/// A product, locked for the rest of the transaction (PostgreSQL).
async fn product_in_op(tx: &mut Tx, tenant: &str, id: i64) -> Result<Product> {
    let sql = format!(
        "SELECT {PRODUCT_COLS} FROM crm_products WHERE tenant = $1 AND id = $2{}",
        for_update(tx)
    );
    let row: Option<ProductRow> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(tenant).bind(id).fetch_optional(&mut *c).await)?;
    let mut product: Product = row
        .ok_or(StoreError::NotFound {
            kind: "product",
            id,
        })?
        .try_into()?;
    product.warnings = warnings_in_op(tx, tenant, "product", id).await?;
    Ok(product)
}

/// Replace a product in the caller's transaction.
pub async fn update_product_in_op(
    tx: &mut Tx,
    actor: &Actor,
    id: i64,
    new: &NewProduct,
) -> Result<Product> {
    let before = product_in_op(tx, &actor.tenant, id).await?;
    let at = now();
    let sql = "UPDATE crm_products SET code = $1, name = $2, unit = $3, sales_price = $4, \
        currency = $5, tax_percent = $6, toll_percent = $7, tax_exempt = $8, \
        version = version + 1, updated_at = $9 WHERE tenant = $10 AND id = $11";
    let mut args = product_args(new);
    args.extend([
        Arg::Text(at.clone()),
        Arg::Text(actor.tenant.clone()),
        Arg::I64(id),
    ]);
    on_tx!(tx, c => bind_args!(sqlx::query(sql), &args).execute(&mut *c).await.map(|_| ()))
        .map_err(|e| duplicate_code(e, new))?;
    put_warnings(tx, &actor.tenant, "product", id, &new.warnings).await?;
    let after = product_from_new(
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
        "product",
        id,
        "update",
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(after)
}

/// Delete a product (lines keep their amounts; the product id on them
/// remains as history).
pub async fn delete_product(db: &Db, actor: &Actor, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    delete_product_in_op(&mut tx, actor, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Delete a product in the caller's transaction.
pub async fn delete_product_in_op(tx: &mut Tx, actor: &Actor, id: i64) -> Result<()> {
    let before = product_in_op(tx, &actor.tenant, id).await?;
    on_tx!(tx, c => sqlx::query("DELETE FROM crm_products WHERE tenant = $1 AND id = $2")
        .bind(&actor.tenant).bind(id).execute(&mut *c).await.map(|_| ()))?;
    put_warnings(tx, &actor.tenant, "product", id, &[]).await?;
    record_one(tx, actor, "product", id, "delete", Some(&before), None).await
}

// ---------------------------------------------------------------- documents

const DOC_COLS: &str = "id, kind, party_id, doc_date, currency, status, number, related_id, \
    description, discount, additions, gross, discount_total, additions_total, net, tax_total, \
    toll_total, grand_total, paid_amount, paid, sync_status, origin, version, created_at, updated_at, \
    (SELECT MIN(l.remote_number) FROM sync_links l WHERE l.tenant = crm_documents.tenant \
    AND l.local_kind = crm_documents.kind AND l.local_id = crm_documents.id \
    AND l.status = 'synced') AS ledger_number";

#[derive(sqlx::FromRow)]
struct DocRow {
    id: i64,
    kind: String,
    party_id: i64,
    doc_date: String,
    currency: String,
    status: String,
    number: Option<String>,
    related_id: Option<i64>,
    description: Option<String>,
    discount: Dec,
    additions: Dec,
    gross: Dec,
    discount_total: Dec,
    additions_total: Dec,
    net: Dec,
    tax_total: Dec,
    toll_total: Dec,
    grand_total: Dec,
    paid_amount: Dec,
    paid: bool,
    sync_status: String,
    origin: String,
    version: i64,
    created_at: String,
    updated_at: String,
    /// The number the ledger gave the document (its link), S10/S11.
    ledger_number: Option<String>,
}

const LINE_COLS: &str = "document_id, line_no, product_id, description, quantity, unit_price, \
    discount, additions, tax_exempt, tax_percent, toll_percent, gross, net, tax, toll, total";

#[derive(sqlx::FromRow)]
struct LineRow {
    document_id: i64,
    #[allow(dead_code)]
    line_no: i32,
    product_id: Option<i64>,
    description: Option<String>,
    quantity: Dec,
    unit_price: Dec,
    discount: Dec,
    additions: Dec,
    tax_exempt: bool,
    tax_percent: Dec,
    toll_percent: Dec,
    gross: Dec,
    net: Dec,
    tax: Dec,
    toll: Dec,
    total: Dec,
}

impl From<LineRow> for Line {
    fn from(r: LineRow) -> Line {
        Line {
            product_id: r.product_id,
            description: r.description,
            quantity: r.quantity.0,
            unit_price: r.unit_price.0,
            discount: r.discount.0,
            additions: r.additions.0,
            tax_exempt: r.tax_exempt,
            tax_percent: r.tax_percent.0,
            toll_percent: r.toll_percent.0,
            gross: r.gross.0,
            net: r.net.0,
            tax: r.tax.0,
            toll: r.toll.0,
            total: r.total.0,
        }
    }
}

fn doc_from_row(r: DocRow, lines: Vec<Line>) -> Result<Document> {
    Ok(Document {
        id: r.id,
        kind: DocumentKind::parse(&r.kind).ok_or_else(|| corrupt("document kind", &r.kind))?,
        party_id: r.party_id,
        date: jalali("doc_date", &r.doc_date)?,
        currency: currency(&r.currency)?,
        status: Status::parse(&r.status).ok_or_else(|| corrupt("status", &r.status))?,
        number: r.number,
        related_id: r.related_id,
        description: r.description,
        discount: r.discount.0,
        additions: r.additions.0,
        lines,
        totals: Totals {
            gross: r.gross.0,
            discount: r.discount_total.0,
            additions: r.additions_total.0,
            net: r.net.0,
            tax_total: r.tax_total.0,
            toll_total: r.toll_total.0,
            grand_total: r.grand_total.0,
        },
        paid_amount: r.paid_amount.0,
        paid: r.paid,
        sync_status: r.sync_status,
        origin: r.origin,
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
        ledger_number: r.ledger_number,
    })
}

fn doc_from_new(id: i64, d: &NewDocument, origin: &str, at: &str) -> Document {
    Document {
        id,
        kind: d.kind,
        party_id: d.party_id,
        date: d.date,
        currency: d.currency,
        status: Status::Pending,
        number: None,
        related_id: d.related_id,
        description: d.description.clone(),
        discount: d.discount,
        additions: d.additions,
        lines: d.lines.clone(),
        totals: d.totals.clone(),
        paid_amount: Decimal::ZERO,
        paid: false,
        sync_status: "pending".into(),
        origin: origin.to_owned(),
        version: 1,
        created_at: at.to_owned(),
        updated_at: at.to_owned(),
        ledger_number: None,
    }
}

/// Checks that every id exists in the tenant's `table`; the error names
/// `field` and the first missing id.
async fn check_refs(
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
        Some(_) => (Status::Approved, "synced"),
        None => (Status::Pending, "pending"),
    };
    let mut parties: Vec<i64> = docs.iter().map(|d| d.party_id).collect();
    check_refs(
        tx,
        &actor.tenant,
        "crm_parties",
        "",
        &mut parties,
        "party_id",
        "party",
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
                Arg::Text(sync_status.into()),
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
                doc.sync_status = sync_status.into();
            }
            doc
        })
        .collect();
    let changes = stored
        .iter()
        .map(|d| {
            Ok(Change {
                entity_kind: d.kind.as_str(),
                entity_id: d.id,
                operation: "create",
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

async fn document_in_op(
    tx: &mut Tx,
    tenant: &str,
    kind: &str,
    id: i64,
    entity: &'static str,
) -> Result<Document> {
    let sql = format!(
        "SELECT {DOC_COLS} FROM crm_documents WHERE tenant = $1 AND kind = $2 AND id = $3{}",
        for_update(tx)
    );
    let row: Option<DocRow> = on_tx!(tx, c => sqlx::query_as(&sql).bind(tenant).bind(kind).bind(id).fetch_optional(&mut *c).await)?;
    let row = row.ok_or(StoreError::NotFound { kind: entity, id })?;
    let mut lines = lines_of(LinesSource::Tx(tx), tenant, &[id]).await?;
    doc_from_row(row, lines.remove(&id).unwrap_or_default())
}

/// One document of the tenant and kind.
pub async fn get_document(db: &Db, tenant: &str, kind: DocumentKind, id: i64) -> Result<Document> {
    let sql =
        format!("SELECT {DOC_COLS} FROM crm_documents WHERE tenant = $1 AND kind = $2 AND id = $3");
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

fn filter_sql(f: &DocFilter, sql: &mut String, args: &mut Vec<Arg>, with_paid: bool) {
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
    let mut sql =
        format!("SELECT {DOC_COLS} FROM crm_documents WHERE tenant = $1 AND kind = $2 AND id > $3");
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

fn must_be_pending(status: Status, entity: &str, id: i64, action: &str) -> Result<()> {
    if status != Status::Pending {
        return Err(StoreError::Conflict {
            field: Some("status".into()),
            message: format!(
                "{entity} {id} is {} and cannot be {action}",
                status.as_str()
            ),
        });
    }
    Ok(())
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
    must_be_editable(before.kind, before.status, id, "edited")?;
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
        "party",
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
        after.sync_status = "synced".into();
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
        new.kind.as_str(),
        id,
        "update",
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
    must_be_editable(kind, before.status, id, "deleted")?;
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
        before.kind.as_str(),
        id,
        "delete",
        Some(&before),
        None,
    )
    .await
}

/// Quotes and orders are not financial items (F1) and stay editable by
/// their origin side after approval; financial documents only while pending.
fn must_be_editable(kind: DocumentKind, status: Status, id: i64, action: &str) -> Result<()> {
    if kind.balance_effect() == BalanceEffect::None {
        return Ok(());
    }
    must_be_pending(status, kind.as_str(), id, action)
}

async fn party_company(tx: &mut Tx, tenant: &str, party_id: i64) -> Result<CompanyCode> {
    let code: Option<i32> = on_tx!(tx, c => sqlx::query_scalar("SELECT company_code FROM crm_parties WHERE tenant = $1 AND id = $2")
        .bind(tenant).bind(party_id).fetch_optional(&mut *c).await)?;
    let code = code.ok_or(StoreError::NotFound {
        kind: "party",
        id: party_id,
    })?;
    u16::try_from(code)
        .ok()
        .and_then(|c| CompanyCode::new(c).ok())
        .ok_or_else(|| corrupt("company_code", code))
}

/// The next number of `template` that no document of the kind has yet. A
/// number the ledger already used (a quote that came from Sepidar with the
/// same number) is skipped, never reused (S10).
async fn free_number(
    tx: &mut Tx,
    tenant: &str,
    table: Numbered,
    kind: &str,
    template: &NumberTemplate,
    date: JalaliDate,
    company: CompanyCode,
) -> Result<String> {
    let sql = match table {
        Numbered::Documents => {
            "SELECT id FROM crm_documents WHERE tenant = $1 AND kind = $2 AND number = $3"
        }
        Numbered::Payments => {
            "SELECT id FROM crm_payments WHERE tenant = $1 AND kind = $2 AND number = $3"
        }
    };
    for _ in 0..1000 {
        let number = allocate_in_op(tx, tenant, kind, template, date, company).await?;
        let taken: Option<i64> = on_tx!(tx, c => sqlx::query_scalar(sql)
            .bind(tenant).bind(kind).bind(&number).fetch_optional(&mut *c).await)?;
        if taken.is_none() {
            return Ok(number);
        }
    }
    Err(StoreError::Conflict {
        field: Some("number".into()),
        message: format!(
            "the next 1000 {kind} numbers of this template are all taken; change the numbering template"
        ),
    })
}

/// Which table a number must be free in. A template's year placeholder
/// shows two digits, so dates a century apart (1300 and 1400) render the
/// same numbers from their separate counters: a number is checked before
/// it is given.
#[derive(Clone, Copy)]
enum Numbered {
    Documents,
    Payments,
}

/// F1: approve a pending document and give it its number, allocated in the
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
    let action = if approve { "approved" } else { "rejected" };
    must_be_pending(before.status, kind.as_str(), id, action)?;
    let mut after = before.clone();
    if approve {
        let company = party_company(&mut tx, &actor.tenant, before.party_id).await?;
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
        kind.as_str(),
        id,
        if approve { "approve" } else { "reject" },
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

// ----------------------------------------------------------------- payments

const PAY_COLS: &str = "id, kind, party_id, doc_date, currency, amount, method, invoice_id, \
    cheque_number, cheque_due, reference, description, status, number, sync_status, origin, \
    version, created_at, updated_at, settlements";

#[derive(sqlx::FromRow)]
struct PayRow {
    id: i64,
    kind: String,
    party_id: i64,
    doc_date: String,
    currency: String,
    amount: Dec,
    method: String,
    invoice_id: Option<i64>,
    cheque_number: Option<String>,
    cheque_due: Option<String>,
    reference: Option<String>,
    description: Option<String>,
    status: String,
    number: Option<String>,
    sync_status: String,
    origin: String,
    version: i64,
    created_at: String,
    updated_at: String,
    /// JSON list; `NULL` on rows written before settlements were kept,
    /// which had exactly one: `method` with its cheque fields or reference.
    settlements: Option<String>,
}

impl TryFrom<PayRow> for Payment {
    type Error = StoreError;
    fn try_from(r: PayRow) -> Result<Payment> {
        let amount = r.amount.0;
        let method = PaymentMethod::parse(&r.method).ok_or_else(|| corrupt("method", &r.method))?;
        let cheque_due = r.cheque_due.map(|d| jalali("cheque_due", &d)).transpose()?;
        let settlements = match &r.settlements {
            Some(text) => {
                let list: Vec<Settlement> =
                    serde_json::from_str(text).map_err(|e| corrupt("settlements", e))?;
                // S16: a stored payment whose parts do not make its amount
                // is not shown as if it were whole.
                check_settlements("settlements", amount, &list)
                    .map_err(|e| corrupt("settlements", e.message))?;
                list
            }
            None => vec![Settlement {
                method,
                amount,
                reference: if method == PaymentMethod::Cheque {
                    r.cheque_number.clone()
                } else {
                    r.reference.clone()
                },
                due_date: cheque_due,
                bank: None,
            }],
        };
        Ok(Payment {
            id: r.id,
            kind: PaymentKind::parse(&r.kind).ok_or_else(|| corrupt("payment kind", &r.kind))?,
            party_id: r.party_id,
            date: jalali("doc_date", &r.doc_date)?,
            currency: currency(&r.currency)?,
            amount,
            method,
            invoice_id: r.invoice_id,
            cheque_number: r.cheque_number,
            cheque_due,
            reference: r.reference,
            settlements,
            description: r.description,
            status: Status::parse(&r.status).ok_or_else(|| corrupt("status", &r.status))?,
            number: r.number,
            sync_status: r.sync_status,
            origin: r.origin,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The invoice kind a receipt or payment may settle.
fn settles(kind: PaymentKind) -> DocumentKind {
    match kind {
        PaymentKind::Receipt => DocumentKind::SalesInvoice,
        PaymentKind::Payment => DocumentKind::PurchaseInvoice,
    }
}

async fn check_payment_refs(tx: &mut Tx, tenant: &str, p: &NewPayment) -> Result<()> {
    check_refs(
        tx,
        tenant,
        "crm_parties",
        "",
        &mut vec![p.party_id],
        "party_id",
        "party",
    )
    .await?;
    if let Some(inv) = p.invoice_id {
        let kind = settles(p.kind);
        let row: Option<(i64, String)> = on_tx!(tx, c => sqlx::query_as(
            "SELECT party_id, currency FROM crm_documents WHERE tenant = $1 AND kind = $2 AND id = $3")
            .bind(tenant).bind(kind.as_str()).bind(inv).fetch_optional(&mut *c).await)?;
        let (party, cur) = row.ok_or_else(|| {
            ValidationError::new(
                "invoice_id",
                Rule::Required,
                format!("{} {inv} does not exist", kind.as_str()),
            )
        })?;
        if party != p.party_id {
            return Err(ValidationError::new(
                "invoice_id",
                Rule::Mismatch,
                format!("{} {inv} belongs to another party", kind.as_str()),
            )
            .into());
        }
        if cur != p.currency.code() {
            return Err(ValidationError::new(
                "currency",
                Rule::Mismatch,
                format!("{} {inv} is in {cur}, not {}", kind.as_str(), p.currency),
            )
            .into());
        }
    }
    Ok(())
}

fn payment_args(p: &NewPayment) -> Result<Vec<Arg>> {
    Ok(vec![
        Arg::I64(p.party_id),
        Arg::Text(p.date.to_string()),
        Arg::Text(p.currency.code().into()),
        Arg::Dec(p.amount),
        Arg::Text(p.method.as_str().into()),
        Arg::OptI64(p.invoice_id),
        Arg::OptText(p.cheque_number.clone()),
        Arg::OptText(p.cheque_due.map(|d| d.to_string())),
        Arg::OptText(p.reference.clone()),
        Arg::OptText(p.description.clone()),
        Arg::Text(json(&p.settlements)?),
    ])
}

fn payment_from_new(id: i64, p: &NewPayment, origin: &str, at: &str) -> Payment {
    Payment {
        id,
        kind: p.kind,
        party_id: p.party_id,
        date: p.date,
        currency: p.currency,
        amount: p.amount,
        method: p.method,
        invoice_id: p.invoice_id,
        cheque_number: p.cheque_number.clone(),
        cheque_due: p.cheque_due,
        reference: p.reference.clone(),
        settlements: p.settlements.clone(),
        description: p.description.clone(),
        status: Status::Pending,
        number: None,
        sync_status: "pending".into(),
        origin: origin.to_owned(),
        version: 1,
        created_at: at.to_owned(),
        updated_at: at.to_owned(),
    }
}

/// Create a receipt or payment in the caller's transaction.
pub async fn create_payment_in_op(tx: &mut Tx, actor: &Actor, new: &NewPayment) -> Result<Payment> {
    check_payment_refs(tx, &actor.tenant, new).await?;
    check_settlements("settlements", new.amount, &new.settlements)?;
    let at = now();
    let sql = "INSERT INTO crm_payments (party_id, doc_date, currency, amount, method, invoice_id, \
        cheque_number, cheque_due, reference, description, settlements, tenant, kind, status, \
        sync_status, origin, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, \
        $8, $9, $10, $11, $12, $13, 'pending', 'pending', $14, 1, $15, $15) RETURNING id";
    let mut args = payment_args(new)?;
    args.extend([
        Arg::Text(actor.tenant.clone()),
        Arg::Text(new.kind.as_str().into()),
        Arg::Text(actor.origin.clone()),
        Arg::Text(at.clone()),
    ]);
    let id: i64 =
        on_tx!(tx, c => bind_args!(sqlx::query_scalar(sql), &args).fetch_one(&mut *c).await)?;
    let p = payment_from_new(id, new, &actor.origin, &at);
    record_one(tx, actor, new.kind.as_str(), id, "create", None, Some(&p)).await?;
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
    on_tx!(tx, c => sqlx::query("UPDATE crm_payments SET status = 'approved', number = $1, sync_status = 'synced' WHERE tenant = $2 AND id = $3")
        .bind(number).bind(&actor.tenant).bind(p.id).execute(&mut *c).await.map(|_| ()))?;
    p.status = Status::Approved;
    p.number = Some(number.to_owned());
    p.sync_status = "synced".into();
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
    on_tx!(tx, c => sqlx::query("UPDATE crm_payments SET status = 'approved', number = $1, sync_status = 'synced' WHERE tenant = $2 AND id = $3")
        .bind(number).bind(&actor.tenant).bind(id).execute(&mut *c).await.map(|_| ()))?;
    after.status = Status::Approved;
    after.number = Some(number.to_owned());
    after.sync_status = "synced".into();
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
    must_be_pending(before.status, new.kind.as_str(), id, "edited")?;
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
        new.kind.as_str(),
        id,
        "update",
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
    must_be_pending(before.status, kind.as_str(), id, "deleted")?;
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
        before.kind.as_str(),
        before.id,
        "delete",
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
    let action = if approve { "approved" } else { "rejected" };
    must_be_pending(before.status, kind.as_str(), id, action)?;
    let mut after = before.clone();
    let mut changes = Vec::new();
    if approve {
        let company = party_company(&mut tx, &actor.tenant, before.party_id).await?;
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
            let ik = settles(kind);
            let invoice =
                document_in_op(&mut tx, &actor.tenant, ik.as_str(), inv, ik.as_str()).await?;
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
                entity_kind: ik.as_str(),
                entity_id: inv,
                operation: "settle",
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
            entity_kind: kind.as_str(),
            entity_id: id,
            operation: if approve { "approve" } else { "reject" },
            before: Some(json(&before)?),
            after: Some(json(&after)?),
        },
    );
    record(&mut tx, actor, &changes).await?;
    tx.commit().await?;
    Ok(after)
}

// ---------------------------------------------------------------- statement

/// Amount in the statement currency: exact for the same currency, Toman ×10
/// into a Rial statement (C5); `None` for anything else.
fn in_currency(amount: Decimal, from: Currency, to: Currency) -> Option<Decimal> {
    if from == to {
        Some(amount)
    } else if to == Currency::IRR && from == Currency::IRT {
        Money::toman(amount).to_rial().ok().map(|m| m.amount)
    } else {
        None
    }
}

/// F1/C2: the party's approved financial items with debits, credits and a
/// running balance, in `currency` (an IRR statement includes Toman items
/// converted exactly; other currencies are kept apart).
pub async fn statement(
    db: &Db,
    tenant: &str,
    party_id: i64,
    target: Currency,
) -> Result<Statement> {
    get_party(db, tenant, party_id).await?;
    let sql = "SELECT id, kind, doc_date, currency, number, grand_total FROM crm_documents \
               WHERE tenant = $1 AND party_id = $2 AND status = 'approved' ORDER BY doc_date, id";
    let docs: Vec<(i64, String, String, String, Option<String>, Dec)> = on_pool!(db, p => sqlx::query_as(sql)
        .bind(tenant).bind(party_id).fetch_all(p).await)?;
    let sql = "SELECT id, kind, doc_date, currency, number, amount FROM crm_payments \
               WHERE tenant = $1 AND party_id = $2 AND status = 'approved' ORDER BY doc_date, id";
    let pays: Vec<(i64, String, String, String, Option<String>, Dec)> = on_pool!(db, p => sqlx::query_as(sql)
        .bind(tenant).bind(party_id).fetch_all(p).await)?;
    let mut entries = Vec::new();
    for (id, kind, date, cur, number, amount) in docs {
        let effect = DocumentKind::parse(&kind)
            .ok_or_else(|| corrupt("document kind", &kind))?
            .balance_effect();
        let Some(v) = in_currency(amount.0, currency(&cur)?, target) else {
            continue;
        };
        let (debit, credit) = match effect {
            BalanceEffect::Debit => (v, Decimal::ZERO),
            BalanceEffect::Credit => (Decimal::ZERO, v),
            BalanceEffect::None => continue,
        };
        entries.push((
            jalali("doc_date", &date)?,
            0u8,
            id,
            kind,
            number,
            debit,
            credit,
        ));
    }
    for (id, kind, date, cur, number, amount) in pays {
        let Some(v) = in_currency(amount.0, currency(&cur)?, target) else {
            continue;
        };
        let (debit, credit) = match PaymentKind::parse(&kind) {
            Some(PaymentKind::Receipt) => (Decimal::ZERO, v),
            Some(PaymentKind::Payment) => (v, Decimal::ZERO),
            None => return Err(corrupt("payment kind", kind)),
        };
        entries.push((
            jalali("doc_date", &date)?,
            1u8,
            id,
            kind,
            number,
            debit,
            credit,
        ));
    }
    // Same day: documents before the money that settles them, then by id.
    entries.sort_by_key(|e| (e.0, e.1, e.2));
    let overflow = || {
        StoreError::Invalid(ValidationError::new(
            "balance",
            Rule::Range,
            "statement total overflows",
        ))
    };
    let (mut balance, mut total_debit, mut total_credit) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let mut out = Vec::with_capacity(entries.len());
    for (date, _, id, kind, number, debit, credit) in entries {
        total_debit = total_debit.checked_add(debit).ok_or_else(overflow)?;
        total_credit = total_credit.checked_add(credit).ok_or_else(overflow)?;
        balance = balance
            .checked_add(debit)
            .and_then(|b| b.checked_sub(credit))
            .ok_or_else(overflow)?;
        out.push(StatementEntry {
            date,
            kind,
            id,
            number,
            debit,
            credit,
            balance,
        });
    }
    Ok(Statement {
        party_id,
        currency: target,
        entries: out,
        total_debit,
        total_credit,
        balance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_and_columns() {
        assert_eq!(placeholders(2, 2, 0), "($1, $2), ($3, $4)");
        assert_eq!(placeholders(1, 3, 1), "($2, $3, $4)");
    }

    #[test]
    fn c5_toman_joins_a_rial_statement_exactly() {
        assert_eq!(
            in_currency(Decimal::from(5), Currency::IRT, Currency::IRR),
            Some(Decimal::from(50))
        );
        assert_eq!(
            in_currency(Decimal::ONE, Currency::USD, Currency::IRR),
            None
        );
        assert_eq!(
            in_currency(Decimal::ONE, Currency::IRR, Currency::IRT),
            None
        );
    }
}
