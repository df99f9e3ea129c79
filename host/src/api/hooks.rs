//! `POST /hooks/{tenant}/{instance}`: webhook deliveries from the systems
//! behind connectors (a shop's `order.created`…). No bearer token: the
//! sender proves itself with the signature the connector checks. The body
//! is read raw, up to `server.webhook_body_kib`, because signatures are
//! over the exact bytes.

use super::{ApiError, AppState};
use crate::runtime::bindings::types;
use crate::sync::webhook::{Intake, IntakeError};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/hooks/{tenant}/{instance}", post(deliver))
}

async fn deliver(
    State(state): State<AppState>,
    Path((tenant, instance)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let limit = state.webhook_body_limit();
    // Refuse a declared oversize body before reading any of it.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(state.refuse(ApiError::TooLarge(limit)));
    }
    let body = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| state.refuse(ApiError::TooLarge(limit)))?;
    let Some((engine, _)) = state.sync() else {
        return Err(ApiError::Unavailable(
            "the sync engine is not running on this host".into(),
        ));
    };
    let request = types::HttpRequest {
        method: "POST".into(),
        path: "/".into(),
        headers: headers
            .iter()
            .filter(|(k, _)| *k != header::AUTHORIZATION && *k != header::COOKIE)
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
    };
    match engine.accept_webhook(&tenant, &instance, request).await {
        Ok(Intake::Queued(id)) => {
            Ok((StatusCode::OK, axum::Json(json!({ "queued": id }))).into_response())
        }
        Ok(Intake::Ignored) => {
            Ok((StatusCode::OK, axum::Json(json!({ "queued": null }))).into_response())
        }
        Err(e) => Err(match e {
            IntakeError::NoInstance { instance, .. } => {
                ApiError::NotFound(format!("connector instance `{instance}`"))
            }
            IntakeError::Unsupported(instance) => {
                ApiError::NotFound(format!("webhooks of connector instance `{instance}`"))
            }
            IntakeError::Unauthorized(m) => {
                tracing::warn!(tenant, instance, "webhook refused: {m}");
                state.refuse(ApiError::BadSignature(m))
            }
            IntakeError::Malformed { field, message } => state.refuse(ApiError::BadRequest {
                field: Some(field),
                message,
            }),
            IntakeError::Unavailable { instance, message } => {
                ApiError::Unavailable(format!("connector {instance}: {message}"))
            }
            IntakeError::Db(e) => ApiError::Internal(e.into()),
        }),
    }
}
