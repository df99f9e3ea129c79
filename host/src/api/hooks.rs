//! `POST /hooks/{tenant}/{instance}`: webhook deliveries from the systems
//! behind connectors (a shop's `order.created`…). No bearer token: the
//! sender proves itself with the signature the connector checks. The body
//! is read raw, up to `server.webhook_body_kib`, because signatures are
//! over the exact bytes.
//!
//! Anyone can reach this route, and a signature can only be checked once
//! the whole body is in memory, so the route bounds itself
//! ([`WebhookGate`]): how many deliveries are read at once (and so how
//! much body memory they hold), how many more may wait for a turn, and how
//! long a sender may take. A sender past a bound is answered at once; its
//! delivery is not stored, and the shop's retry or the next poll brings it.

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
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/hooks/{tenant}/{instance}", post(deliver))
}

async fn deliver(
    State(state): State<AppState>,
    Path((tenant, instance)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let gate = state.webhook_gate();
    let limit = gate.body_bytes;
    // Refuse a declared oversize body before reading any of it, or waiting.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(state.refuse(ApiError::TooLarge(limit)));
    }
    let (body, _turn) = gate.read(body).await.map_err(|e| state.refuse(e))?;
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

/// The bounds `/hooks` works under (`server.webhook_*`). Memory held by
/// bodies is at most `concurrency × body_bytes`: only a delivery with a
/// turn reads its body.
#[derive(Debug)]
pub(crate) struct WebhookGate {
    body_bytes: usize,
    timeout: Duration,
    concurrency: usize,
    /// Turns: deliveries reading their body or being handed to the connector.
    turns: Arc<Semaphore>,
    /// Deliveries in the building, with a turn or waiting for one. Bounding
    /// the waiting too means a flood costs a 503 each, not a task each.
    admitted: Arc<Semaphore>,
}

/// How many deliveries may wait for a turn, per turn.
const WAITING_PER_TURN: usize = 4;

impl WebhookGate {
    pub(crate) fn new(server: &crate::config::ServerConfig) -> WebhookGate {
        let concurrency = server.webhook_concurrency.max(1) as usize;
        WebhookGate {
            body_bytes: server.webhook_body_kib as usize * 1024,
            timeout: Duration::from_millis(server.webhook_timeout_ms),
            concurrency,
            turns: Arc::new(Semaphore::new(concurrency)),
            admitted: Arc::new(Semaphore::new(concurrency * (1 + WAITING_PER_TURN))),
        }
    }

    pub(crate) fn same_bounds(&self, other: &WebhookGate) -> bool {
        (self.body_bytes, self.timeout, self.concurrency)
            == (other.body_bytes, other.timeout, other.concurrency)
    }

    /// Wait for a turn and read the body, both within the timeout. The
    /// returned permits hold the turn until the delivery has been handed
    /// to the connector and answered.
    async fn read(
        &self,
        body: Body,
    ) -> Result<(bytes::Bytes, (OwnedSemaphorePermit, OwnedSemaphorePermit)), ApiError> {
        let busy = || {
            ApiError::Busy(format!(
                "too many webhook deliveries at once (server.webhook_concurrency = {}); retry shortly",
                self.concurrency
            ))
        };
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy())?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        let turn = match tokio::time::timeout_at(deadline, self.turns.clone().acquire_owned()).await
        {
            Ok(Ok(turn)) => turn,
            // Closed never happens (the gate owns the semaphore); a wait
            // past the deadline is the same answer as a full house.
            _ => return Err(busy()),
        };
        let read = axum::body::to_bytes(body, self.body_bytes);
        match tokio::time::timeout_at(deadline, read).await {
            Ok(Ok(bytes)) => Ok((bytes, (turn, admitted))),
            Ok(Err(e)) if is_length_limit(&e) => Err(ApiError::TooLarge(self.body_bytes)),
            Ok(Err(e)) => Err(ApiError::BadRequest {
                field: None,
                message: format!("the request body could not be read: {e}"),
            }),
            Err(_) => Err(ApiError::TimedOut(format!(
                "the webhook body did not arrive within {} ms (server.webhook_timeout_ms)",
                self.timeout.as_millis()
            ))),
        }
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}
