//! Event delivery (S20): every module instance that subscribes to event
//! names gets the tenant's events through its `on-event`, at least once,
//! in log order, from a cursor of its own that survives restarts.
//!
//! The log is written by the store in the transactions that make the
//! changes ([`crate::store::event`]); this floor only reads it. One pass
//! ([`Dispatcher::run_once`]):
//! 1. gives committed events their place in the log (`sequence`);
//! 2. per subscriber, tries again the events that failed and are due;
//! 3. hands it the events after its cursor that match its subscriptions.
//!
//! A failing event is tried again with a growing delay, then parked with
//! the module's message until someone retries it (`POST …/events/held/…`).
//! While one event of a subject (a record) waits, that subject's later
//! events wait behind it (`held`), so a module sees one record's changes
//! in their order; other records, and other subscribers, go on.
//!
//! The module receives the event id as the idempotency key: after a crash
//! between its `on-event` and the cursor's move, it is handed the same
//! event again.

pub mod catalogue;

use crate::crm::kinds::EventHold;
use crate::runtime::bindings::module::exports::hamgam::module0_1_0::module as modx;
use crate::runtime::error::render;
use crate::runtime::instance::{Clock, PluginInstance};
use crate::state::SharedState;
use crate::store::event::{self, Event, Hold};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// Events read per query.
const BATCH: u32 = 200;
/// Events handed to one subscriber per pass before the next one's turn.
const PER_PASS: usize = 1_000;

/// How often a failing event is tried and how long between tries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries in all (the first delivery included) before it is parked.
    pub attempts: i32,
    /// Delay before the second try; doubled for each one after.
    pub first_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            first_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// The delay after the `tried`-th failed try.
    fn delay(&self, tried: i32) -> Duration {
        let doublings = u32::try_from(tried.saturating_sub(1)).unwrap_or(0).min(20);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Events given their place in the log.
    pub sequenced: u64,
    /// Events a module took.
    pub delivered: usize,
    /// Tries that failed (and will be tried again).
    pub failed: usize,
    /// Events parked after their last try.
    pub parked: usize,
    /// Events held behind an earlier failing event of their subject.
    pub held: usize,
}

impl PassReport {
    fn worked(&self) -> bool {
        self.sequenced > 0 || self.delivered > 0 || self.failed > 0 || self.held > 0
    }
}

/// What stops a pass: only the database (a module's failure is the
/// event's, kept on it).
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The database refused.
    #[error("event log: {0}")]
    Db(#[from] sqlx::Error),
}

/// Hands the log's events to the subscribed module instances.
pub struct Dispatcher {
    state: SharedState,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    /// One pass at a time: two would hand a subscriber events out of order.
    pass: tokio::sync::Mutex<()>,
    wake: tokio::sync::Notify,
}

impl Dispatcher {
    /// A dispatcher over the shared state, timing retries by `clock`.
    pub fn new(state: SharedState, clock: Arc<dyn Clock>, policy: RetryPolicy) -> Arc<Self> {
        Arc::new(Dispatcher {
            state,
            clock,
            policy,
            pass: tokio::sync::Mutex::new(()),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Ask for a pass now (after a write), instead of at the next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Run passes in the background: after each one that did work at
    /// once, otherwise on `tick` or [`wake`](Self::wake). Stops when the
    /// dispatcher is dropped.
    pub fn spawn(self: &Arc<Self>, tick: Duration) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(dispatcher) = me.upgrade() else {
                    return;
                };
                let worked = match dispatcher.run_once().await {
                    Ok(report) => report.worked(),
                    Err(e) => {
                        tracing::warn!("{e}");
                        false
                    }
                };
                if !worked {
                    tokio::select! {
                        _ = dispatcher.wake.notified() => {}
                        _ = tokio::time::sleep(tick) => {}
                    }
                }
            }
        });
    }

    /// One pass over every subscriber of every tenant.
    pub async fn run_once(&self) -> Result<PassReport, EventError> {
        let _one = self.pass.lock().await;
        let snapshot = self.state.snapshot();
        let mut subscribers: Vec<(&dyn Subscriber, &[String])> = Vec::new();
        for instance in snapshot.registry.all() {
            let scope = &instance.context().scope;
            match instance.subscriptions().await {
                Ok([]) => {}
                Ok(subscriptions) => subscribers.push((&**instance, subscriptions)),
                Err(e) => {
                    tracing::warn!(tenant = %scope.tenant, instance = %scope.instance, "no events this pass: {e}");
                }
            }
        }
        self.pass_over(&subscribers).await
    }

    /// One pass for one subscriber that is not a module instance of the
    /// snapshot (a handler in the host: benchmarks, tests).
    pub async fn run_for(
        &self,
        subscriber: &dyn Subscriber,
        subscriptions: &[String],
    ) -> Result<PassReport, EventError> {
        let _one = self.pass.lock().await;
        self.pass_over(&[(subscriber, subscriptions)]).await
    }

    async fn pass_over(
        &self,
        subscribers: &[(&dyn Subscriber, &[String])],
    ) -> Result<PassReport, EventError> {
        let db = self.state.db();
        // A subscriber seen for the first time starts after what had its
        // place before this pass: it gets what was written while it was
        // starting, not the tenant's whole past.
        let head = event::head(db).await?;
        let mut positions = Vec::with_capacity(subscribers.len());
        for (subscriber, _) in subscribers {
            positions.push(event::cursor(db, subscriber.tenant(), subscriber.name(), head).await?);
        }
        let mut report = PassReport::default();
        loop {
            let placed = event::sequence(db, 5_000).await?;
            report.sequenced += placed;
            if placed < 5_000 {
                break;
            }
        }
        // Only `serve` moves a cursor, so each position read above holds.
        for ((subscriber, subscriptions), position) in subscribers.iter().zip(positions) {
            // One subscriber's database trouble is logged; the others
            // still get their events.
            if let Err(e) = self
                .serve(*subscriber, subscriptions, position, &mut report)
                .await
            {
                tracing::warn!(tenant = %subscriber.tenant(), instance = %subscriber.name(), "{e}");
            }
        }
        Ok(report)
    }

    async fn serve(
        &self,
        subscriber: &dyn Subscriber,
        subscriptions: &[String],
        mut position: i64,
        report: &mut PassReport,
    ) -> Result<(), EventError> {
        let db = self.state.db();
        let (tenant, name) = (subscriber.tenant(), subscriber.name());
        let now = self.clock.now();
        let at = stamp(now);

        // Earlier failures first: a retried event goes before the later
        // events of its subject, which wait behind it.
        for (event, attempts) in event::due(db, tenant, name, &at, BATCH).await? {
            match deliver(subscriber, &event).await {
                Ok(()) => {
                    event::delivered(db, tenant, name, &event, &at).await?;
                    report.delivered += 1;
                }
                Err(message) => {
                    let hold = self.after_failure(attempts + 1, now, &message, report);
                    event::failed_again(db, tenant, name, event.id, hold.as_hold()).await?;
                }
            }
        }

        let mut waiting = event::waiting_subjects(db, tenant, name).await?;
        let mut handed = 0;
        while handed < PER_PASS {
            let events = event::after(db, tenant, position, BATCH).await?;
            let Some(last) = events.last().map(|e| e.seq) else {
                break;
            };
            for event in &events {
                handed += 1;
                if !subscriptions.iter().any(|p| matches(p, &event.name)) {
                    continue;
                }
                if waiting.contains(&event.subject) {
                    let hold = Hold {
                        status: EventHold::Held,
                        attempts: 0,
                        next_attempt_at: None,
                        error: None,
                    };
                    event::hold(db, tenant, name, event, hold).await?;
                    report.held += 1;
                    continue;
                }
                match deliver(subscriber, event).await {
                    Ok(()) => report.delivered += 1,
                    Err(message) => {
                        let hold = self.after_failure(1, now, &message, report);
                        event::hold(db, tenant, name, event, hold.as_hold()).await?;
                        waiting.insert(event.subject.clone());
                    }
                }
            }
            // Delivered events are confirmed a batch at a time: a crash
            // before this hands them again (at least once).
            event::advance(db, tenant, name, last).await?;
            position = last;
        }
        Ok(())
    }

    /// The event's next state after its `tried`-th failed try.
    fn after_failure(
        &self,
        tried: i32,
        now: DateTime<Utc>,
        message: &str,
        report: &mut PassReport,
    ) -> NextTry {
        if tried >= self.policy.attempts {
            report.parked += 1;
            NextTry {
                status: EventHold::Parked,
                attempts: tried,
                at: None,
                message: message.to_owned(),
            }
        } else {
            report.failed += 1;
            let delay = chrono::Duration::from_std(self.policy.delay(tried))
                .unwrap_or(chrono::Duration::MAX);
            NextTry {
                status: EventHold::Retrying,
                attempts: tried,
                at: Some(stamp(now + delay)),
                message: message.to_owned(),
            }
        }
    }
}

/// [`Hold`] with its text owned.
struct NextTry {
    status: EventHold,
    attempts: i32,
    at: Option<String>,
    message: String,
}

impl NextTry {
    fn as_hold(&self) -> Hold<'_> {
        Hold {
            status: self.status,
            attempts: self.attempts,
            next_attempt_at: self.at.as_deref(),
            error: Some(&self.message),
        }
    }
}

/// Who takes a tenant's events: a module instance (its `on-event`), or a
/// handler in the host.
#[async_trait::async_trait]
pub trait Subscriber: Send + Sync {
    /// The tenant whose events it takes.
    fn tenant(&self) -> &str;
    /// Its name (the module instance's), the key of its cursor.
    fn name(&self) -> &str;
    /// Take one event (its name and [`envelope`]); a refusal or fault as
    /// one line, kept on the event.
    async fn take(&self, name: &str, envelope: String) -> Result<(), String>;
}

#[async_trait::async_trait]
impl Subscriber for PluginInstance {
    fn tenant(&self) -> &str {
        &self.context().scope.tenant
    }

    fn name(&self) -> &str {
        &self.context().scope.instance
    }

    async fn take(&self, name: &str, envelope: String) -> Result<(), String> {
        let call = modx::Event {
            name: name.to_owned(),
            payload: envelope,
        };
        match self.on_event(call).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(render(&e)),
            Err(e) => Err(e.to_string()),
        }
    }
}

async fn deliver(subscriber: &dyn Subscriber, event: &Event) -> Result<(), String> {
    subscriber.take(&event.name, envelope(event)).await
}

/// The `on-event` call that hands a module `event`: its name and
/// [`envelope`].
pub fn module_event(event: &Event) -> modx::Event {
    modx::Event {
        name: event.name.clone(),
        payload: envelope(event),
    }
}

/// What `on-event` receives as its payload: the event's identity (the
/// idempotency key), place, subject, actor and time around its data.
pub fn envelope(event: &Event) -> String {
    // The data is JSON as written (the store splices record JSON; a module
    // payload is checked at `emit`); rows from before the log was checked
    // are handed over as a string rather than broken.
    let data = serde_json::from_str::<serde_json::Value>(&event.payload)
        .unwrap_or_else(|_| serde_json::Value::String(event.payload.clone()));
    serde_json::json!({
        "id": event.id,
        "seq": event.seq,
        "name": event.name,
        "subject": event.subject,
        "actor": event.actor,
        "at": event.at,
        "data": data,
    })
    .to_string()
}

/// Whether subscription `pattern` takes event `name`: `*` stands for any
/// run of characters (`party.*`, `*.approved`, `module.petty-cash.*`, `*`).
pub fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: the whole name.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_by_star() {
        let yes = [
            ("party.created", "party.created"),
            ("party.*", "party.created"),
            ("*", "sales_invoice.approved"),
            ("*.approved", "sales_invoice.approved"),
            ("module.*.bill_settled", "module.petty.bill_settled"),
        ];
        for (p, n) in yes {
            assert!(matches(p, n), "{p} takes {n}");
        }
        let no = [
            ("party.created", "party.created2"),
            ("party.*", "product.created"),
            ("*.approved", "sales_invoice.approved_late"),
            ("a*a", "a"),
        ];
        for (p, n) in no {
            assert!(!matches(p, n), "{p} does not take {n}");
        }
    }

    #[test]
    fn the_delay_doubles_up_to_its_cap() {
        let p = RetryPolicy {
            attempts: 5,
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(10),
        };
        let delays: Vec<u64> = (1..=5).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 10, 10]);
    }
}
