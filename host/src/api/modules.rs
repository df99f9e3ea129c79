//! Module routes: `/api/v1/tenants/{tenant}/modules/{instance}/{*path}` is
//! handed to the module's `handle-request` with the path below the mount.

use super::{ApiError, AppState};
use crate::runtime::bindings::types;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/tenants/{tenant}/modules/{instance}",
            any(handle_root),
        )
        .route(
            "/api/v1/tenants/{tenant}/modules/{instance}/{*path}",
            any(handle),
        )
}

async fn handle_root(
    state: State<AppState>,
    Path((tenant, instance)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    handle(
        state,
        Path((tenant, instance, String::new())),
        method,
        uri,
        headers,
        body,
    )
    .await
}

async fn handle(
    State(state): State<AppState>,
    Path((tenant, instance, path)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    state.authorize_tenant(
        &tenant,
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )?;
    let snapshot = state.snapshot();
    let registry = &snapshot.registry;
    let plugin = registry
        .get(&tenant, &instance)
        .ok_or_else(|| ApiError::NotFound(format!("module instance `{instance}`")))?
        .clone();
    let mut path = format!("/{path}");
    if let Some(q) = uri.query() {
        path.push('?');
        path.push_str(q);
    }
    let request = types::HttpRequest {
        method: method.as_str().to_string(),
        path,
        // The caller's credentials are the host's business, not the module's.
        headers: headers
            .iter()
            .filter(|(k, _)| *k != header::AUTHORIZATION && *k != header::COOKIE)
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body: body.to_vec(),
    };
    let served_by = format!(
        "{}@{}",
        plugin.plugin().manifest.id,
        plugin.plugin().manifest.version
    );
    match plugin.handle_request(request).await? {
        Ok(resp) => {
            // Only a status a module may answer, and none of the host's
            // headers (module_response.rs).
            let filtered = super::module_response::filter_module_response(
                resp.status,
                &resp.headers,
            )
            .map_err(|refused| {
                tracing::warn!(%tenant, %instance, plugin = %served_by, %refused, "module response refused");
                ApiError::Upstream(format!("module instance `{instance}`: {refused}"))
            })?;
            if !filtered.dropped.is_empty() {
                tracing::warn!(%tenant, %instance, plugin = %served_by, dropped = ?filtered.dropped, "module response headers dropped");
            }
            let mut out = (filtered.status, resp.body).into_response();
            out.headers_mut().extend(filtered.headers);
            // Which plugin version answered: operators see upgrades and
            // rollbacks take effect, and support can match a response to
            // a build. Set last, so it is always the host's word.
            if let Ok(v) = axum::http::HeaderValue::try_from(served_by) {
                out.headers_mut().insert("hamgam-plugin", v);
            }
            Ok(out)
        }
        Err(e) => Err(business_error(e)),
    }
}

fn business_error(e: types::Error) -> ApiError {
    use types::Error as E;
    match e {
        E::InvalidInput(f) => ApiError::Invalid {
            field: Some(f.field),
            message: f.message,
        },
        E::NotFound(m) => ApiError::NotFound(m),
        E::Conflict(m) | E::VersionMismatch(m) => ApiError::Conflict {
            field: None,
            message: m,
        },
        E::Unauthorized(m) | E::Denied(m) => ApiError::Forbidden(m),
        E::Unavailable(m) => ApiError::Unavailable(m),
        E::Unsupported(m) => ApiError::Invalid {
            field: None,
            message: m,
        },
        E::Other(m) => ApiError::Upstream(m),
    }
}
