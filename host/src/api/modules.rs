//! Module routes: `/api/v1/tenants/{tenant}/modules/{instance}/{*path}` is
//! handed to the module's `handle-request` with the path below the mount.

use super::{ApiError, AppState};
use crate::runtime::bindings::types;
use crate::runtime::declared::RouteMatch;
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
    // Only what the module declared in `describe` reaches it (issue 15
    // §6): anything else is the host's 404 or 405, not the module's.
    if let Some(declared) = plugin.declared().await? {
        match declared.route(method.as_str(), &path) {
            RouteMatch::Found(_) => {}
            RouteMatch::OtherMethods(methods) => {
                return Err(ApiError::MethodNotAllowed {
                    allow: methods.join(", "),
                    message: format!(
                        "module instance `{instance}` takes {path} only with {}",
                        methods.join(", ")
                    ),
                });
            }
            RouteMatch::Undeclared => {
                return Err(ApiError::NotFound(format!(
                    "route {} {path} of module instance `{instance}` (not among the routes its describe declares)",
                    method.as_str()
                )));
            }
        }
    }
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
        Err(e) => Err(module_error(e)),
    }
}

/// A module's business error as the API answers it: one shape for every
/// refusal (`{"error": {"code", "message", "field"?}}`), the status and
/// code by the SDK's variant. `sdk/README.md` ("Errors") carries this
/// table; `p6_every_module_error_variant_has_one_status_and_code` keeps
/// the two together.
pub(crate) fn module_error(e: types::Error) -> ApiError {
    use axum::http::StatusCode as S;
    use types::Error as E;
    let (status, code, field, message) = match e {
        E::InvalidInput(f) => (
            S::UNPROCESSABLE_ENTITY,
            "invalid-input",
            Some(f.field),
            f.message,
        ),
        E::NotFound(m) => (S::NOT_FOUND, "not-found", None, m),
        E::Conflict(m) => (S::CONFLICT, "conflict", None, m),
        E::VersionMismatch(m) => (S::CONFLICT, "version-mismatch", None, m),
        E::Unauthorized(m) => (S::FORBIDDEN, "unauthorized", None, m),
        E::Denied(m) => (S::FORBIDDEN, "denied", None, m),
        E::Unavailable(m) => (S::SERVICE_UNAVAILABLE, "unavailable", None, m),
        E::Unsupported(m) => (S::NOT_IMPLEMENTED, "unsupported", None, m),
        E::Other(m) => (S::BAD_GATEWAY, "other", None, m),
    };
    ApiError::Module {
        status,
        code,
        field,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    /// The table in `sdk/README.md`, row by row.
    const README_TABLE: &[(&str, u16)] = &[
        ("invalid-input", 422),
        ("not-found", 404),
        ("conflict", 409),
        ("version-mismatch", 409),
        ("unauthorized", 403),
        ("denied", 403),
        ("unavailable", 503),
        ("unsupported", 501),
        ("other", 502),
    ];

    #[tokio::test]
    async fn p6_every_module_error_variant_has_one_status_and_code() {
        use types::Error as E;
        let variants = [
            E::InvalidInput(types::FieldError {
                field: "amount".into(),
                message: "must be positive".into(),
            }),
            E::NotFound("bill 7".into()),
            E::Conflict("settled".into()),
            E::VersionMismatch("stale".into()),
            E::Unauthorized("key".into()),
            E::Denied("grant".into()),
            E::Unavailable("later".into()),
            E::Unsupported("not yet".into()),
            E::Other("bug".into()),
        ];
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk/README.md"))
                .expect("sdk/README.md");
        for (e, (code, status)) in variants.into_iter().zip(README_TABLE) {
            let response = module_error(e).into_response();
            assert_eq!(response.status().as_u16(), *status, "{code}");
            let body = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["error"]["code"], *code);
            let row = format!("| `{code}` | {status} |");
            assert!(readme.contains(&row), "sdk/README.md lacks the row `{row}`");
        }
        let response = module_error(types::Error::InvalidInput(types::FieldError {
            field: "items.0.amount".into(),
            message: "must be positive".into(),
        }))
        .into_response();
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["field"], "items.0.amount");
    }
}
