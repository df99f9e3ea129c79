//! Storage (sqlx): SQLite as the embedded default, PostgreSQL for scale.
//! The same SQL serves both where the dialects agree (`$n` parameters,
//! `ON CONFLICT … DO UPDATE`, `RETURNING`); each backend has its own
//! migrations.
//!
//! The CRM repositories, one module per aggregate, each with its row
//! type, columns and conversions (`entity.rs`), the checks a write must
//! pass against stored data (`checks.rs`) and the repository functions:
//! * [`party`], [`product`], [`document`] (documents with lines),
//!   [`payment`] (receipts and payments);
//! * [`statement`] — a party's statement, read across documents and
//!   payments;
//! * [`journal`] — the audit trail and the outbox every write records its
//!   change in, and the change's event in [`event`]'s log;
//! * `warnings` — data-quality warnings kept beside parties and products;
//! * [`error`] — [`StoreError`](error::StoreError), the error of every
//!   repository call; `sql` — the SQL helpers they share.
//!
//! Rules every repository function keeps:
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
//!
//! Beside them:
//! * [`history`] — one-shot import jobs (a past period read once).
//! * [`numbering`] — the number allocator (gap-free, never reused).
//! * [`decimal`] — [`Dec`], one decimal column type for both backends.
//! * [`modules`] — plugins' key-value state and module records (the
//!   runtime's backends over this database are `runtime::backends_db`).

use sqlx::{PgPool, SqlitePool};
use std::collections::BTreeMap;
use std::str::FromStr;

/// A connection pool to one of the supported databases.
#[derive(Debug, Clone)]
pub enum Db {
    /// SQLite (embedded default).
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Run the same sqlx expression against whichever pool is in use.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// Run the same sqlx expression on a transaction's connection
/// (`$conn: &mut SqliteConnection` or `&mut PgConnection`).
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $conn: &mut sqlx::SqliteConnection = &mut *t;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $conn: &mut sqlx::PgConnection = &mut *t;
                $body
            }
        }
    };
}

pub mod decimal;
pub mod document;
pub mod error;
pub mod event;
pub mod history;
pub mod journal;
pub mod modules;
pub mod numbering;
pub mod party;
pub mod payment;
pub mod product;
mod sql;
pub mod statement;
pub mod sync;
mod warnings;
pub mod webhooks;

pub use decimal::Dec;

/// An open transaction on either backend. Repositories' `*_in_op`
/// functions take one so a caller can join several writes (Cala's style).
pub enum Tx {
    /// SQLite, begun `IMMEDIATE`.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// PostgreSQL.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tx::Sqlite(_) => "Tx(sqlite)",
            Tx::Postgres(_) => "Tx(postgres)",
        })
    }
}

impl Tx {
    /// Make every write of the transaction permanent.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }

    /// Which backend.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Tx::Postgres(_))
    }
}

impl Db {
    /// Connect by URL (`sqlite://path`, `sqlite::memory:`, `postgres://…`)
    /// and bring the schema up to date.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(16)
                .connect(url)
                .await?;
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
            Db::Postgres(pool)
        } else {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(std::time::Duration::from_secs(10));
            // One in-memory database must be one connection, or every
            // connection would see its own empty database.
            // Nor may that connection be closed for idling or age.
            let memory = url.contains(":memory:");
            let mut pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(8);
            if memory {
                pool = pool
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
            }
            let pool = pool.connect_with(options).await?;
            sqlx::migrate!("migrations/sqlite").run(&pool).await?;
            Db::Sqlite(pool)
        };
        Ok(db)
    }

    /// Begin a write transaction. On SQLite it is `BEGIN IMMEDIATE`: the
    /// write lock is taken up front, so a transaction that reads before it
    /// writes cannot fail to upgrade its lock under concurrency (the busy
    /// timeout queues writers instead).
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Which backend, for logs and metrics.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Run one statement without parameters (administration, tests).
    pub async fn execute_raw(&self, sql: &str) -> Result<(), sqlx::Error> {
        on_pool!(self, p => sqlx::raw_sql(sql).execute(p).await.map(|_| ()))
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))
    }
}

/// Record an operator's on/off switch for one instance.
pub async fn set_instance_override(
    db: &Db,
    tenant: &str,
    instance: &str,
    enabled: bool,
) -> Result<(), sqlx::Error> {
    let sql = "INSERT INTO instance_overrides (tenant, instance, enabled) VALUES ($1, $2, $3) \
               ON CONFLICT (tenant, instance) DO UPDATE SET enabled = excluded.enabled";
    on_pool!(db, p => sqlx::query(sql).bind(tenant).bind(instance).bind(enabled).execute(p).await.map(|_| ()))
}

/// Every operator switch, as ((tenant, instance), enabled).
pub async fn instance_overrides(db: &Db) -> Result<Vec<((String, String), bool)>, sqlx::Error> {
    let sql = "SELECT tenant, instance, enabled FROM instance_overrides";
    let rows: Vec<(String, String, bool)> =
        on_pool!(db, p => sqlx::query_as(sql).fetch_all(p).await?);
    Ok(rows.into_iter().map(|(t, i, e)| ((t, i), e)).collect())
}

/// Row counts of every CRM table (all tenants), for tests and metrics.
pub async fn row_counts(db: &Db) -> error::Result<BTreeMap<&'static str, i64>> {
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
