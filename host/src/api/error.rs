//! The API's one error type: rendered as `{"error": {"code", "message",
//! "field"?}}`, 4xx for the caller's mistakes, 5xx only for ours, with the
//! details of ours logged and not returned.

use crate::store::error::StoreError;
use crate::store::numbering::AllocateError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hamgam_domain::ValidationError;
use serde_json::json;

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or wrong bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// A webhook whose signature is missing or wrong (the connector's
    /// reason).
    #[error("{0}")]
    BadSignature(String),
    /// A valid token of another tenant.
    #[error("this token may not access tenant `{0}`")]
    Forbidden(String),
    /// The license does not cover an orderable module the request needs.
    #[error("{0}")]
    NotLicensed(String),
    /// The tenant or instance does not exist for this caller.
    #[error("{0} not found")]
    NotFound(String),
    /// The request is malformed (syntax, query string, cursor).
    #[error("{message}")]
    BadRequest {
        /// Field path, when one is to blame.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The input broke a rule.
    #[error("{message}")]
    Invalid {
        /// Field path.
        field: Option<String>,
        /// The rule.
        message: String,
    },
    /// The change collides with the record's state or another record.
    #[error("{message}")]
    Conflict {
        /// Field path.
        field: Option<String>,
        /// What collided.
        message: String,
    },
    /// The body is larger than the API accepts.
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not JSON.
    #[error("content-type must be application/json")]
    UnsupportedMediaType,
    /// A system behind us is down; try later.
    #[error("{0}")]
    Unavailable(String),
    /// This host is at a limit it sets itself (concurrent deliveries); try
    /// again in a second. Answered with `Retry-After`.
    #[error("{0}")]
    Busy(String),
    /// The client did not finish its request in time.
    #[error("{0}")]
    TimedOut(String),
    /// A system behind us failed with this message.
    #[error("{0}")]
    Upstream(String),
    /// The path exists, the method does not: `Allow` lists those that do.
    #[error("{message}")]
    MethodNotAllowed {
        /// The methods the path takes, comma-separated.
        allow: String,
        /// What was asked.
        message: String,
    },
    /// A module answered its route with a business error: the status and
    /// code follow the SDK's error variant (`api/modules.rs`,
    /// `module_error`), the same shape as every other refusal.
    #[error("{message}")]
    Module {
        /// From the variant.
        status: StatusCode,
        /// The variant's WIT name (`invalid-input`, `not-found`…).
        code: &'static str,
        /// The field, for `invalid-input`.
        field: Option<String>,
        /// The module's message.
        message: String,
    },
    /// A plugin failed (trap, limit); the message is safe to show.
    #[error("plugin failed: {0}")]
    Plugin(#[from] crate::runtime::error::CallError),
    /// Anything else; logged, not shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::Invalid {
            field: Some(e.field.clone()),
            message: e.to_string(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, id } => ApiError::NotFound(format!("{kind} {id}")),
            StoreError::Conflict { field, message } => ApiError::Conflict { field, message },
            StoreError::Invalid(v) => v.into(),
            StoreError::Numbering(AllocateError::Template { sequence, source }) => {
                ApiError::Conflict {
                    field: Some("number".into()),
                    message: format!("numbering sequence {sequence}: {source}"),
                }
            }
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            ApiError::BadSignature(_) => (StatusCode::UNAUTHORIZED, "bad-signature", None),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", None),
            ApiError::NotLicensed(_) => (StatusCode::FORBIDDEN, "not-licensed", None),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", None),
            ApiError::BadRequest { field, .. } => {
                (StatusCode::BAD_REQUEST, "bad-request", field.clone())
            }
            ApiError::Invalid { field, .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid", field.clone())
            }
            ApiError::Conflict { field, .. } => (StatusCode::CONFLICT, "conflict", field.clone()),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too-large", None),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                None,
            ),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
            ApiError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy", None),
            ApiError::TimedOut(_) => (StatusCode::REQUEST_TIMEOUT, "timeout", None),
            ApiError::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream", None),
            ApiError::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", None)
            }
            ApiError::Module {
                status,
                code,
                field,
                ..
            } => (*status, *code, field.clone()),
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
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if let ApiError::MethodNotAllowed { allow, .. } = &self
            && let Ok(v) = axum::http::HeaderValue::try_from(allow.as_str())
        {
            response.headers_mut().insert(axum::http::header::ALLOW, v);
        }
        if matches!(self, ApiError::Busy(_)) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}
