//! `/healthz` and Prometheus `/metrics`.

use super::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::fmt::Write;
use std::sync::atomic::Ordering;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.db().ping().await;
    let instances = state.snapshot().registry.all().count();
    let snapshot = state.snapshot();
    let license = match snapshot.license.standing() {
        Some(hamgam_trust::license::Standing::Grace { days_left }) => {
            format!("EXPIRED: in grace period, {days_left} day(s) left")
        }
        Some(hamgam_trust::license::Standing::Expired) => {
            "EXPIRED: orderable modules stopped".to_string()
        }
        Some(hamgam_trust::license::Standing::Valid { days_left }) => {
            format!("valid, {days_left} day(s) left")
        }
        None => snapshot.license.problem.clone().unwrap_or_default(),
    };
    let body = serde_json::json!({
        "license": license,
        "status": if db.is_ok() { "ok" } else { "degraded" },
        "database": state.db().backend(),
        "database_ok": db.is_ok(),
        "instances": instances,
    });
    let status = if db.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let snapshot = state.snapshot();
    let registry = &snapshot.registry;
    let mut out = String::new();
    let families = [
        (
            "hamgam_plugin_calls_total",
            "Calls into plugin instances that completed.",
            0,
        ),
        (
            "hamgam_plugin_faults_total",
            "Calls that trapped, hit a limit or timed out.",
            1,
        ),
        (
            "hamgam_plugin_instantiations_total",
            "Stores created (first use and recoveries).",
            2,
        ),
    ];
    for (name, help, which) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for inst in registry.all() {
            let ctx = inst.context();
            let s = &inst.stats;
            let v = [&s.calls, &s.faults, &s.instantiations][which].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}{{tenant=\"{}\",instance=\"{}\",plugin=\"{}\"}} {v}",
                ctx.scope.tenant, ctx.scope.instance, ctx.plugin_id
            );
        }
    }
    match snapshot.license.standing() {
        Some(standing) => {
            use hamgam_trust::license::Standing;
            let (days, grace, expired) = match standing {
                Standing::Valid { days_left } => (days_left, 0, 0),
                Standing::Grace { days_left } => (days_left, 1, 0),
                Standing::Expired => (0, 0, 1),
            };
            let _ = writeln!(
                out,
                "# HELP hamgam_license_days_left Days until the license (or its grace period) ends.\n# TYPE hamgam_license_days_left gauge\nhamgam_license_days_left {days}\n# HELP hamgam_license_in_grace 1 while the license is expired but in its grace period.\n# TYPE hamgam_license_in_grace gauge\nhamgam_license_in_grace {grace}\n# HELP hamgam_license_expired 1 once the grace period has ended.\n# TYPE hamgam_license_expired gauge\nhamgam_license_expired {expired}"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "# HELP hamgam_license_present 0 when no valid license is in force.\n# TYPE hamgam_license_present gauge\nhamgam_license_present 0"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP hamgam_instances_not_running Configured instances that do not run (disabled, not entitled, failed health check).\n# TYPE hamgam_instances_not_running gauge\nhamgam_instances_not_running {}",
        registry.statuses().iter().filter(|s| !s.running).count()
    );
    let _ = writeln!(
        out,
        "# HELP hamgam_instances Plugin instances configured.\n# TYPE hamgam_instances gauge\nhamgam_instances {}",
        registry.all().count()
    );
    let m = state.metrics();
    let _ = writeln!(
        out,
        "# HELP hamgam_crm_writes_total CRM writes that committed.\n# TYPE hamgam_crm_writes_total counter\nhamgam_crm_writes_total {}",
        m.writes.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP hamgam_crm_invalid_total CRM inputs refused for breaking a rule.\n# TYPE hamgam_crm_invalid_total counter\nhamgam_crm_invalid_total {}",
        m.invalid.load(Ordering::Relaxed)
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
