//! Storage (sqlx): SQLite as the embedded default, PostgreSQL for scale.
//! The same SQL serves both where the dialects agree (`$n` parameters,
//! `ON CONFLICT … DO UPDATE`, `RETURNING`); each backend has its own
//! migrations.
//!
//! * [`crm`] — the CRM repositories (parties, products, documents,
//!   receipts/payments, statements); every write also writes its audit and
//!   outbox rows in the same transaction.
//! * [`numbering`] — the number allocator (gap-free, never reused).
//! * [`decimal`] — [`Dec`], one decimal column type for both backends.

use crate::runtime::backends::{CrmStore, ModuleRecord, RecordScope, Scope, StateStore};
use async_trait::async_trait;
use sqlx::{PgPool, SqlitePool};
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

pub mod crm;
pub mod decimal;
pub mod numbering;
pub mod sync;
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
            let max = if url.contains(":memory:") { 1 } else { 8 };
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(max)
                .connect_with(options)
                .await?;
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

#[async_trait]
impl StateStore for Db {
    async fn get(&self, scope: &Scope, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let sql = "SELECT value FROM plugin_state WHERE tenant = $1 AND instance = $2 AND key = $3";
        Ok(on_pool!(self, p => sqlx::query_scalar(sql)
            .bind(&scope.tenant).bind(&scope.instance).bind(key)
            .fetch_optional(p).await?))
    }

    async fn set(&self, scope: &Scope, key: &str, value: &[u8]) -> anyhow::Result<()> {
        let sql = "INSERT INTO plugin_state (tenant, instance, key, value) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (tenant, instance, key) DO UPDATE SET value = excluded.value";
        on_pool!(self, p => sqlx::query(sql)
            .bind(&scope.tenant).bind(&scope.instance).bind(key).bind(value)
            .execute(p).await.map(|_| ())?);
        Ok(())
    }

    async fn delete(&self, scope: &Scope, key: &str) -> anyhow::Result<()> {
        let sql = "DELETE FROM plugin_state WHERE tenant = $1 AND instance = $2 AND key = $3";
        on_pool!(self, p => sqlx::query(sql)
            .bind(&scope.tenant).bind(&scope.instance).bind(key)
            .execute(p).await.map(|_| ())?);
        Ok(())
    }
}

#[async_trait]
impl CrmStore for Db {
    async fn get_record(
        &self,
        scope: &RecordScope,
        record_type: &str,
        id: &str,
    ) -> anyhow::Result<Option<ModuleRecord>> {
        let sql = "SELECT body FROM module_records WHERE tenant = $1 AND plugin = $2 \
                   AND instance = $3 AND record_type = $4 AND id = $5";
        let body: Option<String> = on_pool!(self, p => sqlx::query_scalar(sql)
            .bind(&scope.tenant).bind(&scope.plugin).bind(&scope.instance)
            .bind(record_type).bind(id)
            .fetch_optional(p).await?);
        Ok(body.map(|body| ModuleRecord {
            record_type: record_type.into(),
            id: id.into(),
            body,
        }))
    }

    async fn put_record(&self, scope: &RecordScope, r: ModuleRecord) -> anyhow::Result<()> {
        let sql = "INSERT INTO module_records (tenant, plugin, instance, record_type, id, body) \
                   VALUES ($1, $2, $3, $4, $5, $6) \
                   ON CONFLICT (tenant, plugin, instance, record_type, id) \
                   DO UPDATE SET body = excluded.body";
        on_pool!(self, p => sqlx::query(sql)
            .bind(&scope.tenant).bind(&scope.plugin).bind(&scope.instance)
            .bind(&r.record_type).bind(&r.id).bind(&r.body)
            .execute(p).await.map(|_| ())?);
        Ok(())
    }

    async fn list_records(
        &self,
        scope: &RecordScope,
        record_type: &str,
        prefix: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<ModuleRecord>> {
        // Prefix match by range, not LIKE: ids may contain `%` or `_`.
        let sql = "SELECT id, body FROM module_records WHERE tenant = $1 AND plugin = $2 \
                   AND instance = $3 AND record_type = $4 AND id >= $5 ORDER BY id LIMIT $6";
        let rows: Vec<(String, String)> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(&scope.tenant).bind(&scope.plugin).bind(&scope.instance)
            .bind(record_type).bind(prefix).bind(i64::from(limit))
            .fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .take_while(|(id, _)| id.starts_with(prefix))
            .map(|(id, body)| ModuleRecord {
                record_type: record_type.into(),
                id,
                body,
            })
            .collect())
    }

    async fn adopt_unscoped(
        &self,
        scope: &RecordScope,
        record_types: &[String],
    ) -> anyhow::Result<u64> {
        // Rows from before the scope columns carry plugin = instance = ''
        // (migration 20261203000420). Every instance whose module declares
        // their type gets its own copy, so each keeps seeing what it saw
        // before the upgrade and from then on only its own writes; a copy
        // never overwrites a record the instance already has.
        let sql = "INSERT INTO module_records (tenant, plugin, instance, record_type, id, body, updated_at) \
                   SELECT tenant, $2, $3, record_type, id, body, updated_at FROM module_records \
                   WHERE tenant = $1 AND plugin = '' AND instance = '' AND record_type = $4 \
                   ON CONFLICT (tenant, plugin, instance, record_type, id) DO NOTHING";
        let mut copied = 0;
        for record_type in record_types {
            copied += on_pool!(self, p => sqlx::query(sql)
                .bind(&scope.tenant).bind(&scope.plugin).bind(&scope.instance).bind(record_type)
                .execute(p).await?.rows_affected());
        }
        Ok(copied)
    }

    async fn emit(
        &self,
        tenant: &str,
        source: &str,
        name: &str,
        payload: &str,
    ) -> anyhow::Result<()> {
        let sql =
            "INSERT INTO module_events (tenant, source, name, payload) VALUES ($1, $2, $3, $4)";
        on_pool!(self, p => sqlx::query(sql)
            .bind(tenant).bind(source).bind(name).bind(payload)
            .execute(p).await.map(|_| ())?);
        Ok(())
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
