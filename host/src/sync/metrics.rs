//! The sync engine's metrics (issue 14 §9): backlog, lag, runs and
//! failures per connector instance, recorded through the `metrics` facade
//! and rendered by `metrics-exporter-prometheus` for `/metrics`.
//!
//! The recorder is process-wide (the facade has one global recorder), so
//! several hosts in one process (the tests) share it; their series differ
//! by tenant and instance labels. Labels name tenants and instances, so
//! `/metrics` shows them only to the admin token; everyone else gets each
//! family's label-free total ([`render`]).

use super::RunReport;
use crate::store::Db;
use crate::store::journal::outbox;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::fmt::Write;
use std::sync::OnceLock;

/// Pending outbox rows routed to an instance (waiting or backing off).
const BACKLOG: &str = "hamgam_sync_backlog";
/// Age of the oldest of them, in seconds (0 when there is none).
const LAG: &str = "hamgam_sync_lag_seconds";
/// Sync runs of an instance.
const RUNS: &str = "hamgam_sync_runs_total";
/// Failures by what failed: `run` (stopped with an error), `kind` (a
/// kind's pull stopped), `record` (a ledger record refused), `delivery`
/// (an outbox row parked as failed).
const FAILURES: &str = "hamgam_sync_failures_total";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the recorder once per process. `None` when the embedding
/// program installed another recorder first: the sync metrics then go to
/// that one, and `/metrics` shows none of them.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            metrics::describe_gauge!(
                BACKLOG,
                "Pending outbox rows routed to a connector instance."
            );
            metrics::describe_gauge!(
                LAG,
                "Age in seconds of the oldest pending outbox row routed to a connector instance."
            );
            metrics::describe_counter!(RUNS, "Sync runs of a connector instance.");
            metrics::describe_counter!(
                FAILURES,
                "Sync failures: runs stopped, kinds stopped, records refused, deliveries parked."
            );
            Some(handle)
        })
        .as_ref()
}

/// Count a finished run: its failures from the report, or the error that
/// stopped it.
pub(crate) fn record_run(tenant: &str, instance: &str, report: Option<&RunReport>) {
    let labels = [
        ("tenant", tenant.to_owned()),
        ("instance", instance.to_owned()),
    ];
    metrics::counter!(RUNS, &labels).increment(1);
    let failure = |what: &'static str, n: usize| {
        if n > 0 {
            let labels = [
                ("tenant", tenant.to_owned()),
                ("instance", instance.to_owned()),
                ("what", what.to_owned()),
            ];
            metrics::counter!(FAILURES, &labels).increment(n as u64);
        }
    };
    match report {
        None => failure("run", 1),
        Some(r) => {
            failure("kind", r.errors.len());
            failure("record", r.refused);
            failure("delivery", r.failed);
        }
    }
}

/// Set the backlog and lag gauges of an instance from the outbox.
pub(crate) async fn record_backlog(
    db: &Db,
    tenant: &str,
    instance: &str,
) -> Result<(), sqlx::Error> {
    let (count, oldest) = outbox::backlog(db, tenant, instance).await?;
    let lag = oldest
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                .num_milliseconds()
                .max(0) as f64
                / 1000.0
        })
        .unwrap_or(0.0);
    let labels = [
        ("tenant", tenant.to_owned()),
        ("instance", instance.to_owned()),
    ];
    metrics::gauge!(BACKLOG, &labels).set(count as f64);
    metrics::gauge!(LAG, &labels).set(lag);
    Ok(())
}

/// The sync families in Prometheus text: every series with its labels
/// (`details`), or one label-free total per family (the lag: the largest).
pub fn render(details: bool) -> String {
    let Some(handle) = install() else {
        return String::new();
    };
    let text = handle.render();
    if details {
        return text;
    }
    // One group per family, as the text format wants: its HELP and TYPE
    // lines, then its total.
    let mut families: Vec<(String, Vec<&str>, f64)> = Vec::new();
    fn family<'a, 'b>(
        families: &'a mut Vec<(String, Vec<&'b str>, f64)>,
        name: &str,
    ) -> &'a mut (String, Vec<&'b str>, f64) {
        let at = match families.iter().position(|f| f.0 == name) {
            Some(at) => at,
            None => {
                families.push((name.to_owned(), Vec::new(), 0.0));
                families.len() - 1
            }
        };
        &mut families[at]
    }
    for line in text.lines() {
        if let Some(rest) = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
        {
            let name = rest.split(' ').next().unwrap_or_default();
            family(&mut families, name).1.push(line);
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let name = series.split('{').next().unwrap_or(series);
        let f = family(&mut families, name);
        f.2 = if name == LAG {
            f.2.max(value)
        } else {
            f.2 + value
        };
    }
    let mut out = String::new();
    for (name, headers, total) in families {
        for h in headers {
            let _ = writeln!(out, "{h}");
        }
        let _ = writeln!(out, "{name} {total}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_view_sums_each_family_without_labels() {
        install().expect("the test process has no other recorder");
        let report = RunReport {
            refused: 2,
            failed: 1,
            ..RunReport::default()
        };
        record_run("acme-metrics", "sepidar-300", Some(&report));
        record_run("globex-metrics", "sepidar-400", None);
        let public = render(false);
        assert!(!public.contains("acme-metrics"), "{public}");
        assert!(!public.contains('{'), "{public}");
        let total = |name: &str| {
            public
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or_else(|| panic!("{name} missing in {public}"))
        };
        assert!(total(RUNS) >= 2.0, "{public}");
        assert!(total(FAILURES) >= 4.0, "{public}");
        let labelled = render(true);
        assert!(labelled.contains("tenant=\"acme-metrics\""), "{labelled}");
    }
}
