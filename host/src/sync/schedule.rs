//! Runs every connector instance on its interval, and at once on demand.

use super::SyncEngine;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The scheduler's handle: ask for a run now.
#[derive(Debug, Clone, Default)]
pub struct Trigger {
    wake: Arc<Notify>,
    asked: Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl Trigger {
    /// Run this instance as soon as possible (after a CRM change, from the
    /// API, from a webhook).
    pub fn now(&self, tenant: &str, instance: &str) {
        self.asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((tenant.to_owned(), instance.to_owned()));
        self.wake.notify_one();
    }
}

/// How often the scheduler looks at the clock when nothing wakes it.
const TICK: Duration = Duration::from_millis(100);

impl SyncEngine {
    /// Start the scheduler: each connector instance of the current
    /// snapshot runs every `sync.interval_s` (one run at a time per
    /// instance; a slow run delays only its own next run).
    pub fn spawn_scheduler(self: &Arc<Self>) -> Trigger {
        let trigger = self.trigger.get_or_init(Trigger::default).clone();
        let engine = self.clone();
        let handle = trigger.clone();
        tokio::spawn(async move {
            let mut due: HashMap<(String, String), Instant> = HashMap::new();
            let mut busy: HashMap<(String, String), tokio::task::JoinHandle<()>> = HashMap::new();
            loop {
                tokio::select! {
                    _ = handle.wake.notified() => {}
                    _ = tokio::time::sleep(TICK) => {}
                }
                let asked: Vec<_> =
                    std::mem::take(&mut *handle.asked.lock().unwrap_or_else(|e| e.into_inner()));
                let now = Instant::now();
                for key in asked {
                    due.insert(key, now);
                }
                busy.retain(|_, task| !task.is_finished());
                let snapshot = engine.state.snapshot();
                for (key, settings) in snapshot.sync.iter() {
                    if !settings.enabled || busy.contains_key(key) {
                        continue;
                    }
                    let next = *due.entry(key.clone()).or_insert(now);
                    if next > now {
                        continue;
                    }
                    due.insert(
                        key.clone(),
                        now + Duration::from_millis(settings.interval_ms()),
                    );
                    let engine = engine.clone();
                    let (tenant, instance) = key.clone();
                    busy.insert(
                        key.clone(),
                        tokio::spawn(async move {
                            match engine.run_once(&tenant, &instance).await {
                                Ok(report) => {
                                    if report.applied
                                        + report.delivered
                                        + report.deleted
                                        + report.failed
                                        > 0
                                        || !report.errors.is_empty()
                                    {
                                        tracing::info!(tenant, instance, ?report, "sync run");
                                    }
                                }
                                Err(e) => tracing::warn!(tenant, instance, "sync run failed: {e}"),
                            }
                        }),
                    );
                }
            }
        });
        trigger
    }
}
