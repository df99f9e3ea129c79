//! The operators' admin API (`/admin/v1`, its own bearer token): tenants,
//! their modules and why each runs or not, the license, and switching an
//! installable module on or off for one tenant without a restart.

use super::{ApiError, AppState};
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use hamgam_trust::manifest::Tier;
use serde_json::{Value, json};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/tenants", get(tenants))
        .route(
            "/admin/v1/tenants/{tenant}/instances/{instance}/enable",
            post(enable),
        )
        .route(
            "/admin/v1/tenants/{tenant}/instances/{instance}/disable",
            post(disable),
        )
}

fn auth(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    state.authorize_admin(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
}

async fn tenants(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    auth(&state, &headers)?;
    let snapshot = state.snapshot();
    let license = match &snapshot.license.license {
        Some(l) => json!({
            "license_id": l.license_id,
            "customer": l.customer,
            "expires": l.expires,
            "grace_days": l.grace_days,
            "standing": snapshot.license.standing(),
            "modules": l.modules,
            "limits": l.limits,
        }),
        None => json!({ "problem": snapshot.license.problem }),
    };
    let mut tenants = serde_json::Map::new();
    for status in snapshot.registry.statuses() {
        let entry = tenants
            .entry(status.tenant.clone())
            .or_insert_with(|| json!({ "instances": [] }));
        if let Some(list) = entry["instances"].as_array_mut() {
            list.push(json!(status));
        }
    }
    let rejected: Vec<Value> = snapshot
        .rejected
        .iter()
        .map(|(path, why)| json!({ "file": path.display().to_string(), "reason": why }))
        .collect();
    Ok(Json(
        json!({ "license": license, "tenants": tenants, "rejected_plugins": rejected }),
    ))
}

async fn enable(
    state: State<AppState>,
    headers: HeaderMap,
    path: Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    set(state, headers, path, true).await
}

async fn disable(
    state: State<AppState>,
    headers: HeaderMap,
    path: Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    set(state, headers, path, false).await
}

async fn set(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, instance)): Path<(String, String)>,
    enabled: bool,
) -> Result<Json<Value>, ApiError> {
    auth(&state, &headers)?;
    let snapshot = state.snapshot();
    let status = snapshot
        .registry
        .statuses()
        .iter()
        .find(|s| s.tenant == tenant && s.instance == instance)
        .ok_or_else(|| ApiError::NotFound(format!("instance `{instance}` of tenant `{tenant}`")))?;
    if status.tier != Some(Tier::Installable) {
        return Err(ApiError::Invalid {
            field: Some("instance".into()),
            message: format!(
                "only installable modules are switched here; `{instance}` is {}",
                match status.tier {
                    Some(Tier::Default) => "a default module (disable it in the config)",
                    Some(Tier::Orderable) =>
                        "an orderable module (it follows the config and the license)",
                    _ => "not installed",
                }
            ),
        });
    }
    crate::store::set_instance_override(state.db(), &tenant, &instance, enabled)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let reloader = state
        .reloader()
        .ok_or_else(|| ApiError::Unavailable("reload is not available in this host".into()))?;
    reloader.reload().await.map_err(ApiError::Internal)?;
    let now = state.snapshot();
    let status = now
        .registry
        .statuses()
        .iter()
        .find(|s| s.tenant == tenant && s.instance == instance)
        .cloned();
    Ok(Json(
        json!({ "tenant": tenant, "instance": instance, "enabled": enabled, "status": status }),
    ))
}
