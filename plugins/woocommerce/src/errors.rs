//! WooCommerce's REST errors (`{code, message, data: {status, params}}`)
//! as the WIT error the sync engine acts on: retry (`unavailable`), park
//! for the operator (`unauthorized`, `denied`), show the user
//! (`invalid-input`, `not-found`, `other`).

use hamgam_sdk::Error;
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    data: Option<ErrorData>,
}

#[derive(Debug, Deserialize, Default)]
struct ErrorData {
    /// `rest_invalid_param`: `{param: why}`; `rest_missing_callback_param`:
    /// `[param]`.
    #[serde(default)]
    params: Option<serde_json::Value>,
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// `message (code)` from the body, or a fallback naming the status.
pub fn message_of(status: u16, body: &[u8]) -> String {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    match parsed.as_ref().and_then(|b| b.message.as_deref()) {
        Some(m) if !m.trim().is_empty() => match parsed.as_ref().and_then(|b| b.code.as_deref()) {
            Some(code) => format!("{} ({code})", m.trim()),
            None => m.trim().to_owned(),
        },
        _ => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                format!("WooCommerce answered HTTP {status}")
            } else {
                format!(
                    "WooCommerce answered HTTP {status}: {}",
                    truncate(text, 300)
                )
            }
        }
    }
}

/// The first parameter a `rest_invalid_param` / `rest_missing_callback_param`
/// answer names, with WordPress's reason for it.
fn bad_param(body: &[u8]) -> Option<(String, String)> {
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    let code = parsed.code.as_deref()?;
    if code != "rest_invalid_param" && code != "rest_missing_callback_param" {
        return None;
    }
    let message = parsed.message.clone().unwrap_or_default();
    match parsed.data.and_then(|d| d.params)? {
        serde_json::Value::Object(map) => map.into_iter().next().map(|(k, v)| {
            let why = v.as_str().map(str::to_owned).unwrap_or(message);
            (k, why)
        }),
        serde_json::Value::Array(list) => list
            .first()
            .and_then(|v| v.as_str())
            .map(|k| (k.to_owned(), message)),
        _ => None,
    }
}

/// The WIT error for a non-2xx answer.
pub fn map_status(status: u16, body: &[u8]) -> Error {
    if status == 400
        && let Some((param, why)) = bad_param(body)
    {
        return Error::invalid(param, why);
    }
    let message = message_of(status, body);
    match status {
        401 => Error::Unauthorized(message),
        403 => Error::Denied(message),
        404 | 410 => Error::NotFound(message),
        409 => Error::Conflict(message),
        408 | 429 | 500..=599 => Error::Unavailable(message),
        _ => Error::Other(message),
    }
}

/// Transport failures (refused, reset, timed out) are worth a retry.
pub fn transport(err: Error) -> Error {
    match err {
        Error::Other(m) => Error::Unavailable(m),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str, msg: &str, status: u16) -> Vec<u8> {
        serde_json::json!({"code": code, "message": msg, "data": {"status": status}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn statuses_map_to_wit_errors() {
        let e = map_status(
            401,
            &body(
                "woocommerce_rest_authentication_error",
                "Invalid signature - provided signature does not match.",
                401,
            ),
        );
        assert!(
            matches!(&e, Error::Unauthorized(m) if m == "Invalid signature - provided signature does not match. (woocommerce_rest_authentication_error)"),
            "{e:?}"
        );
        assert!(matches!(
            map_status(404, &body("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)),
            Error::NotFound(m) if m.starts_with("Invalid ID.")
        ));
        assert!(matches!(map_status(403, b"",), Error::Denied(_)));
        assert!(matches!(map_status(500, b"<html>", ), Error::Unavailable(m) if m.contains("500")));
        assert!(matches!(map_status(503, b""), Error::Unavailable(_)));
        assert!(matches!(map_status(429, b""), Error::Unavailable(_)));
        assert!(matches!(
            map_status(400, &body("woocommerce_rest_invalid_sku", "SKU taken", 400)),
            Error::Other(m) if m.contains("SKU taken")
        ));
        assert!(matches!(
            transport(Error::Other("reset".into())),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            transport(Error::Denied("grant".into())),
            Error::Denied(_)
        ));
    }

    #[test]
    fn invalid_param_names_the_param() {
        let b = serde_json::json!({
            "code": "rest_invalid_param",
            "message": "Invalid parameter(s): per_page",
            "data": {"status": 400, "params": {"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"}}
        });
        match map_status(400, b.to_string().as_bytes()) {
            Error::InvalidInput(f) => {
                assert_eq!(f.field, "per_page");
                assert!(f.message.contains("between 1"));
            }
            other => panic!("{other:?}"),
        }
        let missing = serde_json::json!({
            "code": "rest_missing_callback_param",
            "message": "Missing parameter(s): id",
            "data": {"status": 400, "params": ["id"]}
        });
        match map_status(400, missing.to_string().as_bytes()) {
            Error::InvalidInput(f) => assert_eq!(f.field, "id"),
            other => panic!("{other:?}"),
        }
    }
}
