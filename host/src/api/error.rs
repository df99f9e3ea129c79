//! The API's one error type: rendered as `{"error": {"code", "message",
//! "field"?}}`, 4xx for the caller's mistakes, 5xx only for ours, with the
//! details of ours logged and not returned.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or wrong bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// The tenant or instance does not exist for this caller.
    #[error("{0} not found")]
    NotFound(String),
    /// The input broke a rule.
    #[error("{message}")]
    Invalid {
        /// Field path.
        field: Option<String>,
        /// The rule.
        message: String,
    },
    /// The request conflicts with existing data.
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A system behind us is down; try later.
    #[error("{0}")]
    Unavailable(String),
    /// A system behind us failed with this message.
    #[error("{0}")]
    Upstream(String),
    /// A plugin failed (trap, limit); the message is safe to show.
    #[error("plugin failed: {0}")]
    Plugin(#[from] crate::runtime::error::CallError),
    /// Anything else; logged, not shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", None),
            ApiError::Invalid { field, .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid", field.clone())
            }
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", None),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", None),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
            ApiError::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream", None),
            ApiError::Plugin(e) => (StatusCode::BAD_GATEWAY, e.code(), None),
            ApiError::Internal(e) => {
                tracing::error!("internal error: {e:#}");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", None)
            }
        };
        let message = match &self {
            ApiError::Internal(_) => "internal error; see the host log".to_string(),
            other => other.to_string(),
        };
        let mut error = json!({ "code": code, "message": message });
        if let Some(field) = field {
            error["field"] = json!(field);
        }
        (status, Json(json!({ "error": error }))).into_response()
    }
}
