//! Inbound webhooks (issue #6, P2): `/hooks/{tenant}/{instance}` hands the
//! raw delivery to the connector's `accept-webhook` while the sender
//! waits — signature and shape only, no network — stores an accepted one
//! durably, and answers. The queue worker then calls `handle-webhook` and
//! applies the changes through the same inbound path as a pull, in one
//! transaction with marking the delivery done.
//!
//! Why two steps: WooCommerce waits at most a few seconds, never retries,
//! and disables a webhook after repeated failures; anything slow (re-reading
//! an order, a busy database) must happen after the 200. Deliveries are at
//! least once and may repeat: applying is idempotent because links carry a
//! content hash (order id + `date_modified_gmt` + content).

use super::guard::{self, Failure};
use super::{Ctx, RunReport, SyncEngine, SyncError, inbound, is_transient, now, render};
use crate::crm::kinds::{CompanyCode, DeliveryStatus};
use crate::plugins::manifest::PluginKind;
use crate::runtime::bindings::connector::exports::hamgam::ledger0_1_0::connector as ledger;
use crate::runtime::bindings::types as wit;
use crate::runtime::error::CallError;
use crate::store::webhooks::{self as queue, Delivery};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Deliveries taken from the queue per round.
const BATCH: u32 = 100;
/// How often the worker looks at the queue when nothing wakes it (retries
/// that came due, deliveries stored by another host process).
const TICK: Duration = Duration::from_millis(500);

/// What the intake said to a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intake {
    /// Authentic with changes: stored as queue row `id`.
    Queued(i64),
    /// Authentic, nothing to do (a ping, a draft).
    Ignored,
}

/// Why a delivery was turned away. Nothing is stored for any of these.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// No running connector instance by that name.
    #[error("tenant {tenant} has no connector instance {instance}")]
    NoInstance {
        /// Tenant.
        tenant: String,
        /// Instance.
        instance: String,
    },
    /// The connector takes no webhooks.
    #[error("connector {0} takes no webhooks")]
    Unsupported(String),
    /// Signature missing or wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// Malformed (not JSON, no topic…), naming the field.
    #[error("{field}: {message}")]
    Malformed {
        /// The part of the request to blame.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The connector could not look at it now (trap, limit, its own
    /// error); the sender should try again.
    #[error("connector {instance}: {message}")]
    Unavailable {
        /// Instance.
        instance: String,
        /// What happened.
        message: String,
    },
    /// The queue could not be written.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Whether a database failure on one delivery may pass if tried again (a
/// lost connection, a busy database) or belongs to the delivery's content
/// (PostgreSQL refusing a NUL byte in text, a constraint), which no retry
/// changes. Either way the attempt counts: a transient one waits with
/// backoff behind the other deliveries, a permanent one is parked.
fn is_transient_db(e: &SyncError) -> bool {
    let SyncError::Db(e) = e else {
        return false;
    };
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // SQLSTATE class 22 (data exception) and 23 (integrity
            // constraint violation) are the content's fault; SQLite's
            // constraint errors come back as a kind, not a class.
            !(code.starts_with("22")
                || code.starts_with("23")
                || !matches!(db.kind(), sqlx::error::ErrorKind::Other))
        }
        _ => false,
    }
}

/// The worker's handle: wake it after a delivery was queued.
#[derive(Debug, Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// Something was queued.
    pub fn now(&self) {
        self.0.notify_one();
    }
}

impl SyncEngine {
    /// First look at a delivery (see the module docs). On `Ok`, the
    /// delivery is either stored (and the worker woken) or needs nothing.
    pub async fn accept_webhook(
        &self,
        tenant: &str,
        instance: &str,
        request: wit::HttpRequest,
    ) -> Result<Intake, IntakeError> {
        let snapshot = self.state.snapshot();
        let plugin = snapshot
            .registry
            .get(tenant, instance)
            .filter(|p| p.plugin().manifest.kind == PluginKind::Connector)
            .cloned()
            .ok_or_else(|| IntakeError::NoInstance {
                tenant: tenant.to_owned(),
                instance: instance.to_owned(),
            })?;
        let unavailable = |message: String| IntakeError::Unavailable {
            instance: instance.to_owned(),
            message,
        };
        let verdict = plugin
            .accept_webhook(request.clone())
            .await
            .map_err(|e: CallError| unavailable(e.to_string()))?;
        match verdict {
            Ok(ledger::WebhookIntake::Ignore) => Ok(Intake::Ignored),
            Ok(ledger::WebhookIntake::Queue) => {
                let id = queue::enqueue(
                    self.state.db(),
                    tenant,
                    instance,
                    &request.headers,
                    &request.body,
                    &now(),
                )
                .await?;
                self.webhooks.now();
                Ok(Intake::Queued(id))
            }
            Err(wit::Error::Unauthorized(m) | wit::Error::Denied(m)) => {
                Err(IntakeError::Unauthorized(m))
            }
            Err(wit::Error::InvalidInput(f)) => Err(IntakeError::Malformed {
                field: f.field,
                message: f.message,
            }),
            Err(wit::Error::Unsupported(_)) => Err(IntakeError::Unsupported(instance.to_owned())),
            Err(other) => Err(unavailable(render(&other))),
        }
    }

    /// Start the queue worker: it processes due deliveries, oldest first,
    /// whenever one is queued and every [`TICK`]. Deliveries left pending
    /// by a previous process are picked up at once.
    pub fn spawn_webhook_worker(self: &Arc<Self>) {
        let engine = Arc::downgrade(self);
        let wake = self.webhooks.0.clone();
        tokio::spawn(async move {
            loop {
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                match engine.process_webhooks().await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(deliveries = n, "webhook deliveries processed"),
                    Err(e) => tracing::warn!("webhook queue: {e}"),
                }
                drop(engine);
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(TICK) => {}
                }
            }
        });
    }

    /// Process the due deliveries once; returns how many were taken.
    pub async fn process_webhooks(&self) -> Result<usize, SyncError> {
        let mut taken = 0;
        loop {
            let due = queue::due(self.state.db(), &now(), BATCH).await?;
            if due.is_empty() {
                return Ok(taken);
            }
            let n = due.len();
            // One delivery that fails in a way nobody foresaw (the database
            // refuses its content, the host panics on it) is parked with
            // its attempt counted; the deliveries after it, of every
            // tenant, still run (issue 13 §6).
            let attempts: std::collections::HashMap<i64, i32> =
                due.iter().map(|d| (d.id, d.attempts + 1)).collect();
            guard::each_contained(
                due,
                |d| d.id,
                |delivery| {
                    use tracing::Instrument;
                    let span = tracing::info_span!(
                        "sync_job",
                        tenant = %delivery.tenant,
                        instance = %delivery.instance,
                        job = "webhook",
                        delivery = delivery.id
                    );
                    self.process_delivery(delivery).instrument(span)
                },
                |id, failure| {
                    let attempts = attempts.get(&id).copied().unwrap_or(1);
                    let why = match failure {
                        Failure::Error(e) => (is_transient_db(&e), e.to_string()),
                        Failure::Panicked(p) => (false, p.to_string()),
                    };
                    self.settle_delivery(id, attempts, why)
                },
            )
            .await?;
            taken += n;
            if n < BATCH as usize {
                return Ok(taken);
            }
        }
    }

    /// One delivery, under its instance's run lock (a pull of the same
    /// instance must not apply the same record at the same time).
    async fn process_delivery(&self, delivery: Delivery) -> Result<(), SyncError> {
        let lock = self.lock_of(&delivery.tenant, &delivery.instance);
        let _one_at_a_time = lock.lock().await;
        let snapshot = self.state.snapshot();
        let attempts = delivery.attempts + 1;
        let Some(plugin) = snapshot
            .registry
            .get(&delivery.tenant, &delivery.instance)
            .cloned()
        else {
            // The instance is gone (config changed): keep the delivery for
            // when it is back, or for an operator to look at.
            return self
                .settle_delivery(
                    delivery.id,
                    attempts,
                    (
                        true,
                        format!("no connector instance {} now", delivery.instance),
                    ),
                )
                .await;
        };
        let settings = snapshot
            .sync
            .get(&(delivery.tenant.clone(), delivery.instance.clone()))
            .cloned()
            .unwrap_or_default();
        let info = match plugin.describe_connector().await {
            Ok(info) => info,
            Err(e) => {
                return self
                    .settle_delivery(delivery.id, attempts, (true, e.to_string()))
                    .await;
            }
        };
        let Some(company) = info.company_code.as_deref().and_then(CompanyCode::parse) else {
            let why = format!(
                "connector {} reports no company code; nothing applied (S17)",
                delivery.instance
            );
            return self
                .settle_delivery(delivery.id, attempts, (false, why))
                .await;
        };
        let request = wit::HttpRequest {
            method: "POST".into(),
            path: "/".into(),
            headers: delivery.header_pairs(),
            body: delivery.body.clone(),
        };
        let changes = match plugin.handle_webhook(request).await {
            Err(call) => Err((true, call.to_string())),
            Ok(Err(e)) => Err((is_transient(&e), render(&e))),
            Ok(Ok(changes)) => Ok(changes),
        };
        let changes = match changes {
            Ok(c) => c,
            Err(why) => return self.settle_delivery(delivery.id, attempts, why).await,
        };
        let ctx = Ctx {
            db: self.state.db(),
            tenant: &delivery.tenant,
            instance: &delivery.instance,
            plugin: plugin.as_ref(),
            company: Some(company),
            role: info.role,
            settings,
            onward: super::onward(info.role, self.has_channel(&delivery.tenant)).await,
        };
        let mut report = RunReport::default();
        let mut tx = ctx.db.begin().await?;
        // Another worker (a second host on the same database) may have
        // taken it meanwhile.
        if queue::pending(&mut tx, delivery.id).await?.is_none() {
            return Ok(());
        }
        let mut ordered = changes;
        ordered.sort_by_key(|c| super::map::order(c.kind));
        for change in ordered {
            let name = super::map::kind_name(change.kind);
            let scan = crate::store::sync::cursor(&mut tx, ctx.tenant, ctx.instance, name)
                .await?
                .scan;
            inbound::apply_change(
                &ctx,
                &mut tx,
                change.kind,
                company,
                change.change,
                scan,
                &mut report,
            )
            .await?;
        }
        let at = now();
        let summary = format!(
            "applied {}, unchanged {}, refused {}, deleted {}, older {}",
            report.applied, report.unchanged, report.refused, report.deleted, report.stale
        );
        queue::finish(
            &mut tx,
            delivery.id,
            queue::Outcome {
                status: DeliveryStatus::Done,
                attempts,
                next_attempt_at: None,
                outcome: &summary,
            },
            &at,
        )
        .await?;
        tx.commit().await?;
        if report.applied + report.deleted > 0
            && let Some(trigger) = self.trigger()
        {
            // The CRM changed: let the books' instances pick it up now
            // rather than on their next tick (S19).
            for (key, _) in snapshot.sync.iter() {
                if key.0 == delivery.tenant && key.1 != delivery.instance {
                    trigger.now(&key.0, &key.1);
                }
            }
        }
        Ok(())
    }

    /// Record a delivery that could not be processed: `(transient, why)`.
    /// Transient failures wait and are tried again, up to the instance's
    /// `max_attempts`; others are parked as `failed` for an operator.
    async fn settle_delivery(
        &self,
        id: i64,
        attempts: i32,
        (transient, why): (bool, String),
    ) -> Result<(), SyncError> {
        const MAX_ATTEMPTS: i32 = 10;
        let at = now();
        let (status, next) = if transient && attempts < MAX_ATTEMPTS {
            let wait = (500i64 << attempts.min(10)).min(60_000);
            let next = (chrono::Utc::now() + chrono::Duration::milliseconds(wait))
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            (DeliveryStatus::Pending, Some(next))
        } else {
            (DeliveryStatus::Failed, None)
        };
        tracing::warn!(
            delivery = id,
            attempts,
            status = status.as_str(),
            "webhook delivery not applied: {why}"
        );
        let mut tx = self.state.db().begin().await?;
        queue::finish(
            &mut tx,
            id,
            queue::Outcome {
                status,
                attempts,
                next_attempt_at: next.as_deref(),
                outcome: &why,
            },
            &at,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
