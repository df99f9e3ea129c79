//! `/healthz` and Prometheus `/metrics`.
//!
//! Both are reachable without a token (load balancers and scrapers), so
//! without one they say only what reveals nothing about the installation:
//! up or not, and label-free totals. The details — the license and its
//! problem (which may carry a file path), the database backend, and every
//! tenant, instance and plugin as metric labels — need the admin token.
//! A wrong token is a 401, not a quiet downgrade to the public answer.

use super::{ApiError, AppState};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::fmt::Write;
use std::sync::atomic::Ordering;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

/// Whether the caller asked for details with the admin token: `Ok(false)`
/// without an `Authorization` header, an error with a wrong one.
fn wants_details(state: &AppState, headers: &HeaderMap) -> Result<bool, ApiError> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(false),
        Some(v) => state.authorize_admin(v.to_str().ok()).map(|()| true),
    }
}

async fn healthz(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let details = match wants_details(&state, &headers) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let db = state.db().ping().await;
    let status = if db.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = serde_json::json!({
        "status": if db.is_ok() { "ok" } else { "degraded" },
    });
    if details {
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
        body["license"] = license.into();
        body["database"] = state.db().backend().into();
        body["database_ok"] = db.is_ok().into();
        body["instances"] = snapshot.registry.all().count().into();
    }
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let details = match wants_details(&state, &headers) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
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
        let value = |inst: &crate::runtime::instance::PluginInstance| {
            let s = &inst.stats;
            [&s.calls, &s.faults, &s.instantiations][which].load(Ordering::Relaxed)
        };
        if details {
            for inst in registry.all() {
                let ctx = inst.context();
                let _ = writeln!(
                    out,
                    "{name}{{tenant=\"{}\",instance=\"{}\",plugin=\"{}\"}} {}",
                    ctx.scope.tenant,
                    ctx.scope.instance,
                    ctx.plugin_id,
                    value(inst.as_ref())
                );
            }
        } else {
            let total: u64 = registry.all().map(|i| value(i.as_ref())).sum();
            let _ = writeln!(out, "{name} {total}");
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
    // The sync engine's families (backlog, lag, runs, failures per
    // instance), labelled only for the admin token.
    out.push_str(&crate::sync::metrics::render(details));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
