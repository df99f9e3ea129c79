//! Extractors that fail in the API's own error shape, so no caller mistake
//! ever surfaces as axum's plain-text rejection or a 500:
//!
//! * [`Tenant`] — the `{tenant}` path segment, authorised by bearer token
//!   (401 without a valid token, 403 with another tenant's token);
//! * [`Id`] — the `{id}` path segment; a non-numeric id is simply not found;
//! * [`ApiJson`] — the body: 415 if not JSON, 413 over the limit, 400 for
//!   broken syntax, 422 for a wrong type, missing or unknown field, always
//!   naming the field as a path (`lines.0.quantity`);
//! * [`ApiQuery`] — the query string; an unknown parameter is a 400 naming it.

use super::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, RawPathParams, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// The authorised tenant of the request.
#[derive(Debug, Clone)]
pub struct Tenant(pub String);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("route".into()))?;
        let tenant = params
            .iter()
            .find(|(k, _)| *k == "tenant")
            .map(|(_, v)| v.to_owned())
            .ok_or_else(|| ApiError::NotFound("tenant".into()))?;
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        state.authorize_tenant(&tenant, header)?;
        Ok(Tenant(tenant))
    }
}

/// The `{id}` path segment.
#[derive(Debug, Clone, Copy)]
pub struct Id(pub i64);

impl FromRequestParts<AppState> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("route".into()))?;
        let raw = params
            .iter()
            .find(|(k, _)| *k == "id")
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default();
        // Any id that is not one of ours is "not found", whatever its shape.
        raw.parse::<i64>()
            .map(Id)
            .map_err(|_| ApiError::NotFound(format!("record {raw:?}")))
    }
}

/// Deserialises `bytes` as `T`, mapping failures to field-named errors
/// (the rules are `crm::json`'s, shared with the module bridge).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    crate::crm::json::parse(bytes).map_err(|e| match e {
        crate::crm::json::JsonRefusal::Malformed { field, message } => {
            ApiError::BadRequest { field, message }
        }
        crate::crm::json::JsonRefusal::Invalid { field, message } => {
            ApiError::Invalid { field, message }
        }
    })
}

/// A JSON body.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(super::MAX_BODY_BYTES)
            } else {
                ApiError::BadRequest {
                    field: None,
                    message: format!("cannot read the body: {e}"),
                }
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A query string.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| {
                let message = e.body_text();
                let field = message.split('`').nth(1).map(str::to_owned);
                ApiError::BadRequest { field, message }
            })
    }
}

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size.
pub const MAX_LIMIT: u32 = 500;

/// The opaque cursor for "after this id": versioned so its shape can change.
pub fn encode_cursor(id: i64) -> String {
    hex::encode(format!("v1:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = hex::decode(cursor).ok()?;
    std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix("v1:")?
        .parse()
        .ok()
}

/// `cursor` and `limit` from a query: the id to start after and the size.
pub fn paging(cursor: Option<&str>, limit: Option<&str>) -> Result<(i64, u32), ApiError> {
    let after = match cursor {
        None | Some("") => 0,
        Some(c) => decode_cursor(c).ok_or_else(|| ApiError::BadRequest {
            field: Some("cursor".into()),
            message: "cursor is not one this API issued".into(),
        })?,
    };
    let limit = match limit {
        None | Some("") => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| ApiError::BadRequest {
                field: Some("limit".into()),
                message: format!("limit must be 1..={MAX_LIMIT}"),
            })?,
    };
    Ok((after, limit))
}

/// A page from `limit + 1` rows: the extra row only says there is more.
pub fn page<T>(mut items: Vec<T>, limit: u32, id: impl Fn(&T) -> i64) -> crate::crm::Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = if more {
        items.last().map(|t| encode_cursor(id(t)))
    } else {
        None
    };
    crate::crm::Page { items, next_cursor }
}

/// Parses an optional query value, naming the parameter on failure.
pub fn query_value<T>(
    name: &str,
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => parse(v).map(Some).ok_or_else(|| ApiError::BadRequest {
            field: Some(name.to_owned()),
            message: format!("query parameter {name} has an invalid value {v:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        a: Vec<U>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct U {
        b: i64,
    }

    fn field(body: &str) -> Option<String> {
        match parse_json::<T>(body.as_bytes()) {
            Err(ApiError::Invalid { field, .. } | ApiError::BadRequest { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field_as_a_dotted_path() {
        assert_eq!(
            field(r#"{"a":[{"b":1},{"b":"x"}]}"#).as_deref(),
            Some("a.1.b")
        );
        assert_eq!(field(r#"{"a":[{}]}"#).as_deref(), Some("a.0.b"));
        assert_eq!(field(r#"{}"#).as_deref(), Some("a"));
        assert_eq!(field(r#"{"a":[],"z":1}"#).as_deref(), Some("z"));
        assert!(matches!(
            parse_json::<T>(b"{"),
            Err(ApiError::BadRequest { .. })
        ));
    }

    #[test]
    fn a_nul_character_anywhere_is_refused_naming_its_field() {
        assert_eq!(
            field(r#"{"a":[{"b":1},{"b":"x\u0000y"}]}"#).as_deref(),
            Some("a.1.b")
        );
        // An escaped backslash before `u0000` is not a NUL.
        assert!(matches!(
            parse_json::<T>(br#"{"a":[{"b":"\\u0000"}]}"#),
            Err(ApiError::Invalid { message, .. }) if !message.contains("NUL")
        ));
    }
}
