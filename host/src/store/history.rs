//! One-shot imports of a past period (`sync_history_imports`): the job,
//! its progress and where it stands, written in the same transaction as
//! the page of records it follows (see the migration for why).

use super::{Db, Tx};
use crate::crm::kinds::{EntityKind, ImportState};
use chrono::{DateTime, NaiveDate, Utc};

/// Why a job could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum ImportStoreError {
    /// The instance already has an import under way.
    #[error("connector instance {instance} already has import {id} running")]
    AlreadyRunning {
        /// The instance.
        instance: String,
        /// The running job.
        id: i64,
    },
    /// No such job for the tenant.
    #[error("import {0} not found")]
    NotFound(i64),
    /// A stored row this code cannot read.
    #[error("import {id} is stored in a form this host cannot read: {message}")]
    Corrupt {
        /// The job.
        id: i64,
        /// What is wrong.
        message: String,
    },
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

type Result<T> = std::result::Result<T, ImportStoreError>;

/// One import job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJob {
    /// Job id.
    pub id: i64,
    /// Tenant.
    pub tenant: String,
    /// The connector instance it reads from.
    pub instance: String,
    /// First day of the period.
    pub from: NaiveDate,
    /// Last day of the period (included).
    pub to: NaiveDate,
    /// The kinds it reads, in order.
    pub kinds: Vec<EntityKind>,
    /// The ledger's count per kind, where it can say.
    pub totals: Vec<Option<u64>>,
    /// Index into `kinds` of the kind being read.
    pub step: usize,
    /// The connector's cursor within that kind.
    pub cursor: Option<String>,
    /// Where it stands.
    pub state: ImportState,
    /// Records read and stored, or found already stored.
    pub done: u64,
    /// Records the CRM refused (see the sync links for why).
    pub refused: u64,
    /// Start of the current stretch of work (start or last resume).
    pub resumed_at: DateTime<Utc>,
    /// `done` when that stretch began.
    pub done_at_resume: u64,
    /// The last error met (a transient one while running, the final one
    /// when failed).
    pub last_error: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// RFC 3339 UTC, once it stopped.
    pub finished_at: Option<String>,
}

impl ImportJob {
    /// The sum of the counts, when the ledger gave every one.
    pub fn total(&self) -> Option<u64> {
        self.totals.iter().copied().sum()
    }

    /// The kind being read, none once every kind is read.
    pub fn current_kind(&self) -> Option<EntityKind> {
        self.kinds.get(self.step).copied()
    }
}

/// A job to create.
#[derive(Debug, Clone)]
pub struct NewImport<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Instance.
    pub instance: &'a str,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Kinds in reading order.
    pub kinds: &'a [EntityKind],
    /// The ledger's count per kind.
    pub totals: &'a [Option<u64>],
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    tenant: String,
    instance: String,
    period_from: String,
    period_to: String,
    kinds: String,
    totals: String,
    step: i64,
    cursor: Option<String>,
    state: ImportState,
    done: i64,
    refused: i64,
    resumed_at: String,
    done_at_resume: i64,
    last_error: Option<String>,
    created_at: String,
    updated_at: String,
    finished_at: Option<String>,
}

const COLS: &str = "id, tenant, instance, period_from, period_to, kinds, totals, step, cursor, \
    state, done, refused, resumed_at, done_at_resume, last_error, created_at, updated_at, finished_at";

impl TryFrom<Row> for ImportJob {
    type Error = ImportStoreError;

    fn try_from(r: Row) -> Result<ImportJob> {
        let id = r.id;
        let corrupt = |message: String| ImportStoreError::Corrupt { id, message };
        let date = |s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| corrupt(format!("date {s}: {e}")))
        };
        let names: Vec<String> =
            serde_json::from_str(&r.kinds).map_err(|e| corrupt(format!("kinds: {e}")))?;
        let kinds = names
            .iter()
            .map(|n| EntityKind::parse(n).map_err(|e| corrupt(e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let totals: Vec<Option<u64>> =
            serde_json::from_str(&r.totals).map_err(|e| corrupt(format!("totals: {e}")))?;
        let count = |v: i64, what: &str| {
            u64::try_from(v).map_err(|_| corrupt(format!("{what} is negative ({v})")))
        };
        Ok(ImportJob {
            id,
            from: date(&r.period_from)?,
            to: date(&r.period_to)?,
            kinds,
            totals,
            step: usize::try_from(r.step).map_err(|_| corrupt(format!("step {}", r.step)))?,
            cursor: r.cursor,
            state: r.state,
            done: count(r.done, "the count of records done")?,
            refused: count(r.refused, "refused")?,
            resumed_at: DateTime::parse_from_rfc3339(&r.resumed_at)
                .map_err(|e| corrupt(format!("resumed_at: {e}")))?
                .with_timezone(&Utc),
            done_at_resume: count(r.done_at_resume, "done_at_resume")?,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
            finished_at: r.finished_at,
            tenant: r.tenant,
            instance: r.instance,
        })
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Store a new running job. Refused while the instance has one running.
pub async fn create(db: &Db, new: &NewImport<'_>, at: DateTime<Utc>) -> Result<ImportJob> {
    let kinds: Vec<&str> = new.kinds.iter().map(|k| k.as_str()).collect();
    let kinds = serde_json::to_string(&kinds).unwrap_or_else(|_| "[]".into());
    let totals = serde_json::to_string(new.totals).unwrap_or_else(|_| "[]".into());
    let now = rfc3339(at);
    let sql = format!(
        "INSERT INTO sync_history_imports (tenant, instance, period_from, period_to, kinds, \
         totals, state, resumed_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8) RETURNING {COLS}"
    );
    let inserted: std::result::Result<Row, sqlx::Error> = on_pool!(db, p => sqlx::query_as(&sql)
        .bind(new.tenant).bind(new.instance)
        .bind(new.from.format("%Y-%m-%d").to_string()).bind(new.to.format("%Y-%m-%d").to_string())
        .bind(&kinds).bind(&totals).bind(ImportState::Running).bind(&now)
        .fetch_one(p).await);
    match inserted {
        Ok(row) => row.try_into(),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            let running = running_for(db, new.tenant, new.instance).await?;
            Err(ImportStoreError::AlreadyRunning {
                instance: new.instance.to_owned(),
                id: running.map_or(0, |j| j.id),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// One job of the tenant.
pub async fn get(db: &Db, tenant: &str, id: i64) -> Result<ImportJob> {
    let sql = format!("SELECT {COLS} FROM sync_history_imports WHERE tenant = $1 AND id = $2");
    let row: Option<Row> =
        on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(id).fetch_optional(p).await)?;
    row.ok_or(ImportStoreError::NotFound(id))?.try_into()
}

/// The tenant's jobs, newest first.
pub async fn list(db: &Db, tenant: &str, limit: u32) -> Result<Vec<ImportJob>> {
    let sql = format!(
        "SELECT {COLS} FROM sync_history_imports WHERE tenant = $1 ORDER BY id DESC LIMIT $2"
    );
    let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(i64::from(limit)).fetch_all(p).await)?;
    rows.into_iter().map(ImportJob::try_from).collect()
}

/// Every running job of every tenant (resumed when the host starts).
pub async fn running(db: &Db) -> Result<Vec<ImportJob>> {
    let sql = format!("SELECT {COLS} FROM sync_history_imports WHERE state = $1 ORDER BY id");
    let rows: Vec<Row> =
        on_pool!(db, p => sqlx::query_as(&sql).bind(ImportState::Running).fetch_all(p).await)?;
    rows.into_iter().map(ImportJob::try_from).collect()
}

/// The instance's running job, if any.
pub async fn running_for(db: &Db, tenant: &str, instance: &str) -> Result<Option<ImportJob>> {
    let sql = format!(
        "SELECT {COLS} FROM sync_history_imports WHERE tenant = $1 AND instance = $2 AND state = $3"
    );
    let row: Option<Row> = on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(instance).bind(ImportState::Running).fetch_optional(p).await)?;
    row.map(ImportJob::try_from).transpose()
}

/// The job's state as the page's transaction leaves it, if the job still
/// stands where this runner read it (`step`, `cursor`): a cancel that
/// committed first, or another process running the same job (the CLI
/// beside a server), makes it `false`, and the caller drops the page and
/// reads the job again, so no page is counted twice.
pub async fn save_progress_in_op(
    tx: &mut Tx,
    job: &ImportJob,
    read_at: (usize, Option<&str>),
    at: DateTime<Utc>,
) -> Result<bool> {
    let sql = "UPDATE sync_history_imports SET step = $1, cursor = $2, done = $3, refused = $4, \
               last_error = NULL, updated_at = $5 WHERE id = $6 AND state = $7 \
               AND step = $8 AND cursor IS NOT DISTINCT FROM $9";
    let step = i64::try_from(job.step).unwrap_or(i64::MAX);
    let read_step = i64::try_from(read_at.0).unwrap_or(i64::MAX);
    let result = on_tx!(tx, c => sqlx::query(sql)
        .bind(step).bind(&job.cursor).bind(as_i64(job.done)).bind(as_i64(job.refused))
        .bind(rfc3339(at)).bind(job.id).bind(ImportState::Running)
        .bind(read_step).bind(read_at.1)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(result == 1)
}

/// A new stretch of work begins: the rate is measured from here.
pub async fn resume(db: &Db, job: &mut ImportJob, at: DateTime<Utc>) -> Result<()> {
    let sql = "UPDATE sync_history_imports SET resumed_at = $1, done_at_resume = done, \
               updated_at = $1 WHERE id = $2";
    on_pool!(db, p => sqlx::query(sql).bind(rfc3339(at)).bind(job.id).execute(p).await.map(drop))?;
    job.resumed_at = at;
    job.done_at_resume = job.done;
    Ok(())
}

/// A transient error: the job stays running and is tried again.
pub async fn note_error(db: &Db, id: i64, error: &str, at: DateTime<Utc>) -> Result<()> {
    let sql = "UPDATE sync_history_imports SET last_error = $1, updated_at = $2 WHERE id = $3";
    on_pool!(db, p => sqlx::query(sql).bind(error).bind(rfc3339(at)).bind(id).execute(p).await.map(drop))?;
    Ok(())
}

/// Stop a running job as `state` (done, failed, cancelled). Returns
/// whether it was running.
pub async fn finish(
    db: &Db,
    tenant: &str,
    id: i64,
    state: ImportState,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> Result<bool> {
    let sql = "UPDATE sync_history_imports SET state = $1, last_error = COALESCE($2, last_error), \
               finished_at = $3, updated_at = $3 WHERE tenant = $4 AND id = $5 AND state = $6";
    let result = on_pool!(db, p => sqlx::query(sql)
        .bind(state).bind(error).bind(rfc3339(at)).bind(tenant).bind(id).bind(ImportState::Running)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(result == 1)
}
