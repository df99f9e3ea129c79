//! The one-shot import of a past period's sales invoices and returns (H10,
//! issue 14 §8): orderable in the price list as two modules, one per kind.
//!
//! An operator asks for a period (a fiscal year) of one connector
//! instance. The engine checks the license, asks the connector how many
//! records the period holds (`history.count-period`), stores a job, and
//! reads the period page by page (`history.pull-period`). Each page is
//! applied by the same batched path as a routine pull ([`inbound`]), and
//! the job's cursor and counts are written in the page's transaction: a
//! process killed at any instant resumes from the last committed page,
//! which it may apply again as a no-op. Running jobs are resumed when the
//! host starts; a ledger that is away, or an entitlement that lapsed, holds
//! the job (with the reason) until it can go on.
//!
//! Imported records are not followed by the routine pull's full scans:
//! the connector refuses a period its routine pull also reads, and the
//! links carry [`HISTORY_SCAN`], so a scan never asks the ledger about
//! each of a closed year's records.

use super::inbound;
use super::{Ctx, Ledger, RunReport, SyncEngine, onward};
use crate::config::SyncSettings;
use crate::crm::Outbox;
use crate::crm::kinds::{CompanyCode, EntityKind, ImportState};
use crate::plugins::manifest::PluginKind;
use crate::runtime::bindings::connector::exports::hamgam::ledger0_1_0::connector as ledger;
use crate::runtime::bindings::types as wit;
use crate::runtime::error::CallError;
use crate::runtime::instance::PluginInstance;
use crate::store::Db;
use crate::store::history::{self as jobs, ImportJob, ImportStoreError, NewImport};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// The `seen_scan` of links an import writes: above every routine scan,
/// so a finished routine scan never counts them as unseen.
pub const HISTORY_SCAN: i64 = i64::MAX;

/// The license module that sells the import of a kind (price list items
/// 21 and 22: one-shot import of sales invoices, of sales returns).
pub fn module_of(kind: EntityKind) -> Option<&'static str> {
    match kind {
        EntityKind::SalesInvoice => Some("sales-invoice-history-import"),
        EntityKind::SalesReturn => Some("sales-return-history-import"),
        _ => None,
    }
}

/// Why an import cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The request breaks a rule (the field and the rule).
    #[error("{field}: {message}")]
    Invalid {
        /// The request field.
        field: &'static str,
        /// The rule it breaks.
        message: String,
    },
    /// No running connector instance by that name.
    #[error("tenant {tenant} has no running connector instance {instance}")]
    NoInstance {
        /// Tenant.
        tenant: String,
        /// Instance.
        instance: String,
    },
    /// The license does not cover the import of a kind.
    #[error("{0}")]
    NotEntitled(String),
    /// The connector does not read past periods (of this kind).
    #[error("connector {instance} offers no one-shot import: {why}")]
    NotOffered {
        /// Instance.
        instance: String,
        /// What it said.
        why: String,
    },
    /// The connector refused the period (its field and rule).
    #[error("connector {instance} refuses the period: {field}: {message}")]
    Refused {
        /// Instance.
        instance: String,
        /// The field it names (`from`, `to`, `kind`).
        field: String,
        /// Its rule.
        message: String,
    },
    /// The instance already imports; one import at a time.
    #[error("connector instance {instance} already has import {id} running")]
    AlreadyRunning {
        /// Instance.
        instance: String,
        /// The running job.
        id: i64,
    },
    /// No such job.
    #[error("import {0} not found")]
    NotFound(i64),
    /// The ledger or the plugin failed; `transient` when a later attempt
    /// may succeed.
    #[error("connector {instance}: {message}")]
    Ledger {
        /// Instance.
        instance: String,
        /// What happened.
        message: String,
        /// Whether to try again.
        transient: bool,
    },
    /// The database failed, or a stored job cannot be read.
    #[error("{0}")]
    Store(String),
}

impl From<ImportStoreError> for HistoryError {
    fn from(e: ImportStoreError) -> Self {
        match e {
            ImportStoreError::AlreadyRunning { instance, id } => {
                HistoryError::AlreadyRunning { instance, id }
            }
            ImportStoreError::NotFound(id) => HistoryError::NotFound(id),
            other => HistoryError::Store(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for HistoryError {
    fn from(e: sqlx::Error) -> Self {
        HistoryError::Store(format!("database: {e}"))
    }
}

impl From<super::SyncError> for HistoryError {
    fn from(e: super::SyncError) -> Self {
        match e {
            super::SyncError::NoInstance { tenant, instance } => {
                HistoryError::NoInstance { tenant, instance }
            }
            super::SyncError::Call { instance, source } => HistoryError::Ledger {
                instance,
                message: source.to_string(),
                transient: true,
            },
            super::SyncError::Connector {
                instance,
                message,
                transient,
            } => HistoryError::Ledger {
                instance,
                message,
                transient,
            },
            super::SyncError::Db(e) => e.into(),
        }
    }
}

/// What an operator asks for.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// First day.
    pub from: NaiveDate,
    /// Last day (included).
    pub to: NaiveDate,
    /// Sales invoices, sales returns, or both (in this order).
    pub kinds: Vec<EntityKind>,
}

impl ImportRequest {
    /// A Jalali fiscal year (`1402` → 1402-01-01 … 1402-12-29/30), both
    /// kinds: Iranian companies' fiscal year is the solar year.
    pub fn fiscal_year(year: i32, kinds: Vec<EntityKind>) -> Result<ImportRequest, HistoryError> {
        let invalid = |message: String| HistoryError::Invalid {
            field: "fiscal_year",
            message,
        };
        if !(1300..=1500).contains(&year) {
            return Err(invalid(format!(
                "{year} is not a Jalali year between 1300 and 1500"
            )));
        }
        let first_day = |y: i32| {
            let g = hamgam_domain::JalaliDate::new(y, 1, 1)
                .map_err(|e| invalid(e.to_string()))?
                .to_gregorian();
            NaiveDate::from_ymd_opt(g.year(), u32::from(g.month()), u32::from(g.day()))
                .ok_or_else(|| invalid(format!("{g} is no day")))
        };
        let first = first_day(year)?;
        let last = first_day(year + 1)?
            .pred_opt()
            .ok_or_else(|| invalid("no last day".into()))?;
        Ok(ImportRequest {
            from: first,
            to: last,
            kinds,
        })
    }

    /// The rules a request must meet before anything is asked of the
    /// ledger: a past period, kinds the import reads, each once.
    fn check(&self, today: NaiveDate) -> Result<(), HistoryError> {
        if self.from > self.to {
            return Err(HistoryError::Invalid {
                field: "from",
                message: format!(
                    "the period starts ({}) after it ends ({})",
                    self.from, self.to
                ),
            });
        }
        if self.to >= today {
            return Err(HistoryError::Invalid {
                field: "to",
                message: format!(
                    "a one-shot import reads a closed period; {} is not before today ({today})",
                    self.to
                ),
            });
        }
        if self.kinds.is_empty() {
            return Err(HistoryError::Invalid {
                field: "kinds",
                message: "name at least one of sales_invoice, sales_return".into(),
            });
        }
        let mut seen = HashSet::new();
        for kind in &self.kinds {
            if module_of(*kind).is_none() {
                return Err(HistoryError::Invalid {
                    field: "kinds",
                    message: format!(
                        "{kind} has no one-shot import; the import reads sales_invoice and sales_return"
                    ),
                });
            }
            if !seen.insert(*kind) {
                return Err(HistoryError::Invalid {
                    field: "kinds",
                    message: format!("{kind} is named twice"),
                });
            }
        }
        Ok(())
    }
}

/// A job as people read it: counts, rate and ETA.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ImportProgress {
    /// Job id.
    pub id: i64,
    /// Connector instance.
    pub instance: String,
    /// First day of the period, Jalali `YYYY/MM/DD`.
    pub from: String,
    /// Last day of the period (included), Jalali `YYYY/MM/DD`.
    pub to: String,
    /// The kinds read, in order.
    pub kinds: Vec<EntityKind>,
    /// Where it stands.
    pub state: ImportState,
    /// The kind being read (none once all are read).
    pub current_kind: Option<EntityKind>,
    /// Records read and stored (or found already stored).
    pub done: u64,
    /// Records the CRM refused; the sync links say why.
    pub refused: u64,
    /// Records the period holds, as the ledger counts them.
    pub total: Option<u64>,
    /// `(done + refused) / total`, in percent (one decimal).
    pub percent: Option<f64>,
    /// Records per second since the import started or last resumed.
    pub rate_per_second: Option<f64>,
    /// Seconds left at that rate.
    pub eta_seconds: Option<u64>,
    /// The last error met: while running, what it waits on.
    pub last_error: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// RFC 3339 UTC, once stopped.
    pub finished_at: Option<String>,
}

impl ImportProgress {
    /// The view of `job` at `now`.
    pub fn of(job: &ImportJob, now: DateTime<Utc>) -> ImportProgress {
        let handled = job.done + job.refused;
        let total = job.total();
        let elapsed = (now - job.resumed_at).num_milliseconds() as f64 / 1000.0;
        let stretch = job.done.saturating_sub(job.done_at_resume) as f64;
        let rate = (job.state == ImportState::Running && elapsed > 0.0 && stretch > 0.0)
            .then(|| stretch / elapsed);
        let eta = match (rate, total) {
            (Some(r), Some(t)) => Some((t.saturating_sub(handled) as f64 / r).ceil() as u64),
            _ => None,
        };
        ImportProgress {
            id: job.id,
            instance: job.instance.clone(),
            from: jalali(job.from),
            to: jalali(job.to),
            kinds: job.kinds.clone(),
            state: job.state,
            current_kind: job.current_kind(),
            done: job.done,
            refused: job.refused,
            total,
            percent: total.map(|t| {
                if t == 0 {
                    100.0
                } else {
                    (handled as f64 * 1000.0 / t as f64).round() / 10.0
                }
            }),
            rate_per_second: rate.map(|r| (r * 10.0).round() / 10.0),
            eta_seconds: eta,
            last_error: job.last_error.clone(),
            created_at: job.created_at.clone(),
            updated_at: job.updated_at.clone(),
            finished_at: job.finished_at.clone(),
        }
    }
}

/// A day as the API shows dates (Jalali), ISO where it has no Jalali form.
pub fn jalali(d: NaiveDate) -> String {
    hamgam_domain::JalaliDate::from_gregorian(d.year(), d.month() as u8, d.day() as u8)
        .map_or_else(|_| d.to_string(), |j| j.to_string())
}

fn wit_date(d: NaiveDate) -> wit::Date {
    wit::Date {
        year: d.year(),
        month: d.month() as u8,
        day: d.day() as u8,
    }
}

fn wit_kind(kind: EntityKind) -> Option<wit::EntityKind> {
    match kind {
        EntityKind::SalesInvoice => Some(wit::EntityKind::SalesInvoice),
        EntityKind::SalesReturn => Some(wit::EntityKind::SalesReturn),
        _ => None,
    }
}

/// How a connector's answer reads for an import.
fn connector_error(instance: &str, e: wit::Error) -> HistoryError {
    match e {
        wit::Error::Unsupported(why) => HistoryError::NotOffered {
            instance: instance.to_owned(),
            why,
        },
        wit::Error::InvalidInput(f) => HistoryError::Refused {
            instance: instance.to_owned(),
            field: f.field,
            message: f.message,
        },
        other => HistoryError::Ledger {
            instance: instance.to_owned(),
            transient: super::is_transient(&other),
            message: super::render(&other),
        },
    }
}

fn call_error(instance: &str, e: CallError) -> HistoryError {
    match e {
        CallError::NotExported { .. } => HistoryError::NotOffered {
            instance: instance.to_owned(),
            why: e.to_string(),
        },
        other => HistoryError::Ledger {
            instance: instance.to_owned(),
            message: other.to_string(),
            // A trap or a timeout may pass (a ledger that was slow); the
            // job keeps its place and the worker tries again later.
            transient: true,
        },
    }
}

/// What a page of a job is applied with: the instance as it runs now.
struct Prepared {
    plugin: Arc<PluginInstance>,
    info: ledger::ConnectorInfo,
    company: CompanyCode,
    settings: SyncSettings,
    onward: Outbox,
}

impl Prepared {
    fn ctx<'a>(&'a self, db: &'a Db, job: &'a ImportJob) -> Ctx<'a> {
        Ctx {
            db,
            tenant: &job.tenant,
            instance: &job.instance,
            plugin: self.plugin.as_ref(),
            company: Some(self.company),
            role: self.info.role,
            settings: self.settings.clone(),
            onward: self.onward,
        }
    }
}

/// Stop a running job after the page it is applying; what was applied
/// stays. A database operation: it needs no running engine (the engine's
/// runner sees the state before its next page and stops).
pub async fn cancel(db: &Db, tenant: &str, id: i64) -> Result<ImportJob, HistoryError> {
    let job = jobs::get(db, tenant, id).await?;
    if job.state != ImportState::Running {
        return Err(HistoryError::Invalid {
            field: "id",
            message: format!("import {id} is {} and cannot be cancelled", job.state),
        });
    }
    jobs::finish(db, tenant, id, ImportState::Cancelled, None, Utc::now()).await?;
    Ok(jobs::get(db, tenant, id).await?)
}

/// What one step of a job came to.
#[derive(Debug)]
enum Step {
    /// A page was applied; more to read.
    Page,
    /// The job stopped (done, or cancelled under it).
    Stopped,
}

impl SyncEngine {
    /// The license's word on every kind of a request.
    fn check_entitled(&self, tenant: &str, kinds: &[EntityKind]) -> Result<(), HistoryError> {
        let snapshot = self.state.snapshot();
        for kind in kinds {
            let Some(module) = module_of(*kind) else {
                continue;
            };
            snapshot
                .license
                .entitlement(tenant, module)
                .map_err(|why| {
                    HistoryError::NotEntitled(format!(
                        "the one-shot import of {kind} is the orderable module `{module}`: {why}"
                    ))
                })?;
        }
        Ok(())
    }

    /// Start an import: checks, the ledger's counts, a stored job. The
    /// caller runs it ([`Self::run_history_import`]) or leaves it to the
    /// worker ([`Self::spawn_history_worker`]).
    pub async fn start_history_import(
        &self,
        tenant: &str,
        instance: &str,
        request: &ImportRequest,
    ) -> Result<ImportJob, HistoryError> {
        // The license first: whoever may not buy the import learns that,
        // not the rules of a request they cannot make.
        self.check_entitled(tenant, &request.kinds)?;
        request.check(Utc::now().date_naive())?;
        let plugin = self.connector_of(tenant, instance)?;
        if let Some(running) = jobs::running_for(self.state.db(), tenant, instance).await? {
            return Err(HistoryError::AlreadyRunning {
                instance: instance.to_owned(),
                id: running.id,
            });
        }
        let mut totals = Vec::with_capacity(request.kinds.len());
        for kind in &request.kinds {
            let Some(wk) = wit_kind(*kind) else {
                continue;
            };
            let count = Ledger::count_period(
                plugin.as_ref(),
                wk,
                wit_date(request.from),
                wit_date(request.to),
            )
            .await
            .map_err(|e| call_error(instance, e))?
            .map_err(|e| connector_error(instance, e))?;
            totals.push(count);
        }
        let job = jobs::create(
            self.state.db(),
            &NewImport {
                tenant,
                instance,
                from: request.from,
                to: request.to,
                kinds: &request.kinds,
                totals: &totals,
            },
            Utc::now(),
        )
        .await?;
        tracing::info!(
            tenant,
            instance,
            job = job.id,
            from = %job.from,
            to = %job.to,
            total = ?job.total(),
            "one-shot import started"
        );
        if let Some(wake) = self.history_wake.get() {
            wake.notify_one();
        }
        Ok(job)
    }

    /// A job of the tenant with its progress now.
    pub async fn history_import(&self, tenant: &str, id: i64) -> Result<ImportJob, HistoryError> {
        Ok(jobs::get(self.state.db(), tenant, id).await?)
    }

    fn connector_of(
        &self,
        tenant: &str,
        instance: &str,
    ) -> Result<Arc<crate::runtime::instance::PluginInstance>, HistoryError> {
        let snapshot = self.state.snapshot();
        let no_instance = || HistoryError::NoInstance {
            tenant: tenant.to_owned(),
            instance: instance.to_owned(),
        };
        let plugin = snapshot
            .registry
            .get(tenant, instance)
            .ok_or_else(no_instance)?
            .clone();
        if plugin.plugin().manifest.kind != PluginKind::Connector {
            return Err(no_instance());
        }
        Ok(plugin)
    }

    /// Run a job until it stops (done, failed, cancelled) or meets an
    /// error a later attempt may mend, which is noted on the job and
    /// returned; the job then stays running for the next attempt.
    /// `progress` sees the job after every page.
    pub async fn run_history_import(
        &self,
        tenant: &str,
        id: i64,
        mut progress: impl FnMut(&ImportJob),
    ) -> Result<ImportJob, HistoryError> {
        let db = self.state.db();
        let mut job = jobs::get(db, tenant, id).await?;
        if job.state != ImportState::Running {
            return Ok(job);
        }
        jobs::resume(db, &mut job, Utc::now()).await?;
        let span =
            tracing::info_span!("sync_job", tenant, instance = %job.instance, job = "history", id);
        use tracing::Instrument;
        // Parties and products first; then page after page.
        let mut step = self
            .pull_dependencies(&job)
            .instrument(span.clone())
            .await
            .map(|()| Step::Page);
        loop {
            match step {
                Ok(Step::Page) => progress(&job),
                Ok(Step::Stopped) => {
                    let job = jobs::get(db, tenant, id).await?;
                    progress(&job);
                    return Ok(job);
                }
                Err(e) => {
                    let transient = matches!(
                        &e,
                        HistoryError::Ledger {
                            transient: true,
                            ..
                        } | HistoryError::NoInstance { .. }
                            | HistoryError::NotEntitled(_)
                            | HistoryError::Store(_)
                    );
                    if transient {
                        jobs::note_error(db, id, &e.to_string(), Utc::now()).await?;
                    } else {
                        jobs::finish(
                            db,
                            tenant,
                            id,
                            ImportState::Failed,
                            Some(&e.to_string()),
                            Utc::now(),
                        )
                        .await?;
                    }
                    tracing::warn!(tenant, id, transient, "one-shot import: {e}");
                    return Err(e);
                }
            }
            step = self.history_step(&mut job).instrument(span.clone()).await;
        }
    }

    /// The instance of a job, described, with its settings.
    async fn prepared(&self, job: &ImportJob) -> Result<Prepared, HistoryError> {
        let plugin = self.connector_of(&job.tenant, &job.instance)?;
        let info = Ledger::describe(plugin.as_ref())
            .await
            .map_err(|e| call_error(&job.instance, e))?;
        let Some(company) = info.company_code.as_deref().and_then(CompanyCode::parse) else {
            return Err(HistoryError::Ledger {
                instance: job.instance.clone(),
                message: "the connector reports no company code (S17 needs one per ledger company)"
                    .into(),
                transient: false,
            });
        };
        let settings = self
            .state
            .snapshot()
            .sync
            .get(&(job.tenant.clone(), job.instance.clone()))
            .cloned()
            .unwrap_or_default();
        let onward = onward(info.role, self.has_channel(&job.tenant)).await;
        Ok(Prepared {
            plugin,
            info,
            company,
            settings,
            onward,
        })
    }

    /// Bring the instance's parties and products up to date, to the last
    /// page: a past year's invoices name customers and goods, and a record
    /// is refused for an unknown reference only after those were pulled.
    async fn pull_dependencies(&self, job: &ImportJob) -> Result<(), HistoryError> {
        let lock = self.lock_of(&job.tenant, &job.instance);
        let _turn = lock.lock().await;
        let prepared = self.prepared(job).await?;
        let mut ctx = prepared.ctx(self.state.db(), job);
        ctx.settings.max_pages_per_run = u32::MAX;
        let mut report = RunReport::default();
        for kind in [wit::EntityKind::Party, wit::EntityKind::Product] {
            let read = prepared.info.entities.iter().any(|e| {
                e.kind == kind
                    && matches!(
                        e.direction,
                        ledger::Direction::LedgerToCrm | ledger::Direction::Both
                    )
            });
            if read {
                inbound::pull_kind(&ctx, kind, prepared.company, &mut report).await?;
            }
        }
        Ok(())
    }

    /// Read and apply one page of a running job.
    async fn history_step(&self, job: &mut ImportJob) -> Result<Step, HistoryError> {
        let db = self.state.db();
        // Routine runs of the instance and the import's pages take turns,
        // so the two never apply the same links at once.
        let lock = self.lock_of(&job.tenant, &job.instance);
        let _turn = lock.lock().await;
        // Where the job stands now: a cancel, or another runner of the
        // same job (the CLI beside a server), may have moved it.
        let stored = jobs::get(db, &job.tenant, job.id).await?;
        let stretch = (job.resumed_at, job.done_at_resume);
        *job = stored;
        (job.resumed_at, job.done_at_resume) = stretch;
        if job.state != ImportState::Running {
            return Ok(Step::Stopped);
        }
        let Some(kind) = job.current_kind() else {
            jobs::finish(db, &job.tenant, job.id, ImportState::Done, None, Utc::now()).await?;
            tracing::info!(
                job = job.id,
                done = job.done,
                refused = job.refused,
                "one-shot import done"
            );
            return Ok(Step::Stopped);
        };
        self.check_entitled(&job.tenant, &[kind])?;
        let Some(wk) = wit_kind(kind) else {
            return Err(HistoryError::Invalid {
                field: "kinds",
                message: format!("{kind} has no one-shot import"),
            });
        };
        let prepared = self.prepared(job).await?;
        let page = Ledger::pull_period(
            prepared.plugin.as_ref(),
            wk,
            wit_date(job.from),
            wit_date(job.to),
            job.cursor.clone(),
            prepared.settings.page_size,
        )
        .await
        .map_err(|e| call_error(&job.instance, e))?
        .map_err(|e| connector_error(&job.instance, e))?;
        let company = prepared.company;
        let read_at = (job.step, job.cursor.clone());
        let ctx = prepared.ctx(db, job);
        let mut report = RunReport::default();
        let mut tx = db.begin().await?;
        inbound::apply_page(
            &ctx,
            &mut tx,
            wk,
            company,
            page.changes,
            HISTORY_SCAN,
            &mut report,
        )
        .await?;
        let refused = report.refused as u64;
        job.done += (report.pulled as u64).saturating_sub(refused);
        job.refused += refused;
        if page.has_more {
            job.cursor = page.next_cursor;
        } else {
            job.step += 1;
            job.cursor = None;
        }
        let read_at = (read_at.0, read_at.1.as_deref());
        if !jobs::save_progress_in_op(&mut tx, job, read_at, Utc::now()).await? {
            // Cancelled, or moved on by another process running the same
            // job: this page is not kept; go on from where the job stands.
            drop(tx);
            return Ok(Step::Page);
        }
        tx.commit().await?;
        Ok(Step::Page)
    }

    /// Resume every running job, and each new one as it starts: one task
    /// per job; a job that waits on a transient error is tried again with
    /// a growing pause (5 s up to 5 min).
    pub fn spawn_history_worker(self: &Arc<Self>) {
        let wake = self.history_wake.get_or_init(Default::default).clone();
        let engine = self.clone();
        tokio::spawn(async move {
            let active: Arc<std::sync::Mutex<HashSet<i64>>> = Default::default();
            loop {
                match jobs::running(engine.state.db()).await {
                    Ok(running) => {
                        for job in running {
                            let fresh = active
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .insert(job.id);
                            if fresh {
                                let engine = engine.clone();
                                let active = active.clone();
                                tokio::spawn(async move {
                                    engine.drive(&job.tenant, job.id).await;
                                    active
                                        .lock()
                                        .unwrap_or_else(|e| e.into_inner())
                                        .remove(&job.id);
                                });
                            }
                        }
                    }
                    Err(e) => tracing::warn!("one-shot imports not read: {e}"),
                }
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(30)) => {}
                }
            }
        });
    }

    /// Run one job to its end, pausing between transient failures.
    async fn drive(&self, tenant: &str, id: i64) {
        let mut pause = Duration::from_secs(5);
        loop {
            match self.run_history_import(tenant, id, |_| {}).await {
                Ok(_) => return,
                Err(HistoryError::Ledger {
                    transient: true, ..
                })
                | Err(HistoryError::NoInstance { .. })
                | Err(HistoryError::NotEntitled(_))
                | Err(HistoryError::Store(_)) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(300));
                }
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn h10_a_fiscal_year_is_the_jalali_year_in_gregorian_days() {
        let r = ImportRequest::fiscal_year(1402, vec![EntityKind::SalesInvoice]).unwrap();
        assert_eq!((r.from, r.to), (day(2023, 3, 21), day(2024, 3, 19)));
        // 1403 is a leap year: its Esfand has 30 days.
        let r = ImportRequest::fiscal_year(1403, vec![EntityKind::SalesInvoice]).unwrap();
        assert_eq!((r.from, r.to), (day(2024, 3, 20), day(2025, 3, 20)));
        assert!(matches!(
            ImportRequest::fiscal_year(2024, vec![]),
            Err(HistoryError::Invalid {
                field: "fiscal_year",
                ..
            })
        ));
    }

    #[test]
    fn h10_a_request_names_a_closed_period_and_the_kinds_the_import_reads() {
        let today = day(2026, 12, 7);
        let ok = ImportRequest {
            from: day(2023, 3, 21),
            to: day(2024, 3, 19),
            kinds: vec![EntityKind::SalesInvoice, EntityKind::SalesReturn],
        };
        assert!(ok.check(today).is_ok());
        let field = |r: ImportRequest| match r.check(today) {
            Err(HistoryError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(
            field(ImportRequest {
                from: day(2024, 3, 20),
                ..ok.clone()
            }),
            "from"
        );
        assert_eq!(
            field(ImportRequest {
                to: today,
                ..ok.clone()
            }),
            "to"
        );
        assert_eq!(
            field(ImportRequest {
                kinds: vec![],
                ..ok.clone()
            }),
            "kinds"
        );
        assert_eq!(
            field(ImportRequest {
                kinds: vec![EntityKind::Receipt],
                ..ok.clone()
            }),
            "kinds"
        );
        assert_eq!(
            field(ImportRequest {
                kinds: vec![EntityKind::SalesInvoice, EntityKind::SalesInvoice],
                ..ok
            }),
            "kinds"
        );
    }

    #[test]
    fn h10_progress_shows_the_rate_and_eta_of_the_current_stretch() {
        let start = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let job = ImportJob {
            id: 1,
            tenant: "t".into(),
            instance: "sepidar".into(),
            from: day(2023, 3, 21),
            to: day(2024, 3, 19),
            kinds: vec![EntityKind::SalesInvoice, EntityKind::SalesReturn],
            totals: vec![Some(900), Some(100)],
            step: 0,
            cursor: Some("600".into()),
            state: ImportState::Running,
            done: 590,
            refused: 10,
            resumed_at: start,
            // Resumed after a crash at 390: the rate counts only since.
            done_at_resume: 390,
            last_error: None,
            created_at: String::new(),
            updated_at: String::new(),
            finished_at: None,
        };
        let p = ImportProgress::of(&job, start + chrono::Duration::seconds(10));
        assert_eq!(p.total, Some(1000));
        assert_eq!(p.percent, Some(60.0));
        assert_eq!(p.rate_per_second, Some(20.0));
        assert_eq!(p.eta_seconds, Some(20));
        assert_eq!(p.current_kind, Some(EntityKind::SalesInvoice));
        assert_eq!(
            (p.from.as_str(), p.to.as_str()),
            ("1402/01/01", "1402/12/29")
        );
        let unknown = ImportJob {
            totals: vec![Some(900), None],
            state: ImportState::Done,
            ..job
        };
        let p = ImportProgress::of(&unknown, start + chrono::Duration::seconds(10));
        assert_eq!((p.total, p.percent, p.eta_seconds), (None, None, None));
        assert_eq!(p.rate_per_second, None, "a stopped job has no rate");
    }
}
