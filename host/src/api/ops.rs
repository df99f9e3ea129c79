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
    let db = state.inner.db.ping().await;
    let instances = state.registry().all().count();
    let body = serde_json::json!({
        "status": if db.is_ok() { "ok" } else { "degraded" },
        "database": state.inner.db.backend(),
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
    let registry = state.registry();
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
