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

/// `a[0].b` (serde_path_to_error) → `a.0.b` (the domain's field paths).
fn dotted(path: &str) -> String {
    path.replace('[', ".").replace(']', "")
}

/// The field a serde message names: ``missing field `x` `` / ``unknown field `x` ``.
fn named_field(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split('`').next()
}

/// The dotted path of the first string (value or key) in `v` holding a
/// NUL character.
fn nul_at(v: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if at.is_empty() {
            key.to_owned()
        } else {
            format!("{at}.{key}")
        }
    };
    match v {
        Value::String(s) if s.contains('\0') => Some(at.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_at(item, &join(&i.to_string()))),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            if k.contains('\0') {
                Some(join(&k.replace('\0', "\\u0000")))
            } else {
                nul_at(item, &join(k))
            }
        }),
        _ => None,
    }
}

/// A NUL character in any text: PostgreSQL cannot store one in `text`
/// (a 500 there, silently kept on SQLite), and no name, number or note
/// needs one, so both backends refuse it at the edge, naming the field.
/// JSON can only carry NUL as the escape `\u0000`, so bodies without that
/// escape skip the walk.
fn refuse_nul(bytes: &[u8]) -> Result<(), ApiError> {
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    // Broken syntax is reported by the typed parse that follows.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(());
    };
    match nul_at(&value, "") {
        None => Ok(()),
        Some(field) => Err(ApiError::Invalid {
            message: format!(
                "{} must not contain the NUL character (\\u0000)",
                if field.is_empty() { "the body" } else { &field }
            ),
            field: Some(field).filter(|f| !f.is_empty()),
        }),
    }
}

/// Deserialises `bytes` as `T`, mapping failures to field-named errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    refuse_nul(bytes)?;
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = dotted(&e.path().to_string());
        let inner = e.into_inner();
        let message = inner.to_string();
        let base = if path == "." { String::new() } else { path };
        // serde_path_to_error's path already ends at an unknown field, but
        // stops at the parent of a missing one.
        let field = match named_field(&message) {
            Some(name) if base.is_empty() => Some(name.to_owned()),
            Some(_) if message.starts_with("unknown field") => Some(base),
            Some(name) => Some(format!("{base}.{name}")),
            None if base.is_empty() => None,
            None => Some(base),
        };
        match inner.classify() {
            serde_json::error::Category::Data => ApiError::Invalid { field, message },
            _ => ApiError::BadRequest {
                field,
                message: format!("malformed JSON: {message}"),
            },
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
