//! WordPress REST errors: `{"code":…,"message":…,"data":{"status":…}}`.

use serde_json::{Map, Value, json};

/// A `WP_Error` as the REST server renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct WooError {
    /// HTTP status (also `data.status`).
    pub status: u16,
    /// WooCommerce/WordPress error code, e.g. `woocommerce_rest_shop_order_invalid_id`.
    pub code: String,
    /// Human message (WooCommerce's English text).
    pub message: String,
    /// Extra members of `data` (e.g. `params` of `rest_invalid_param`).
    pub data: Map<String, Value>,
}

impl std::fmt::Display for WooError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for WooError {}

impl WooError {
    /// An error with `code`, `message` and `status`.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> WooError {
        WooError {
            status,
            code: code.into(),
            message: message.into(),
            data: Map::new(),
        }
    }

    /// `rest_invalid_param` for one parameter (WordPress core wording).
    pub fn invalid_param(param: &str, why: impl Into<String>) -> WooError {
        let why = why.into();
        let mut e = WooError::new(
            400,
            "rest_invalid_param",
            format!("Invalid parameter(s): {param}"),
        );
        e.data
            .insert("params".into(), json!({ param: why.clone() }));
        e.data.insert(
            "details".into(),
            json!({ param: {"code": "rest_invalid_param", "message": why, "data": null} }),
        );
        e
    }

    /// `rest_no_route` (404).
    pub fn no_route() -> WooError {
        WooError::new(
            404,
            "rest_no_route",
            "No route was found matching the URL and request method.",
        )
    }

    /// The JSON body.
    pub fn to_json(&self) -> Value {
        let mut data = self.data.clone();
        data.insert("status".into(), json!(self.status));
        // WordPress puts `status` first.
        let mut ordered = Map::new();
        ordered.insert("status".into(), json!(self.status));
        for (k, v) in data {
            if k != "status" {
                ordered.insert(k, v);
            }
        }
        json!({"code": self.code, "message": self.message, "data": Value::Object(ordered)})
    }
}
