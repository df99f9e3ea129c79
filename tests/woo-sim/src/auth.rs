//! `WC_REST_Authentication`: HTTP Basic / `consumer_key` query parameters
//! when WordPress sees HTTPS (`is_ssl()`), otherwise (and as a fallback)
//! OAuth 1.0a one-legged with HMAC-SHA1 or HMAC-SHA256, a 15-minute
//! timestamp window and single-use nonces; then the key's read/write
//! permission per HTTP method.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};

use crate::error::WooError;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permissions {
    /// GET/HEAD only.
    Read,
    /// POST/PUT/PATCH/DELETE only.
    Write,
    /// Everything.
    ReadWrite,
}

impl Permissions {
    /// WooCommerce's name (`read`, `write`, `read_write`).
    pub fn as_str(self) -> &'static str {
        match self {
            Permissions::Read => "read",
            Permissions::Write => "write",
            Permissions::ReadWrite => "read_write",
        }
    }
}

/// A REST API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// `ck_…`.
    pub consumer_key: String,
    /// `cs_…`.
    pub consumer_secret: String,
    /// Permissions.
    pub permissions: Permissions,
    /// WordPress user the key belongs to.
    pub user_id: u64,
}

impl ApiKey {
    /// A read/write key of user 1.
    pub fn read_write(key: &str, secret: &str) -> ApiKey {
        ApiKey {
            consumer_key: key.into(),
            consumer_secret: secret.into(),
            permissions: Permissions::ReadWrite,
            user_id: 1,
        }
    }
    /// A read-only key of user 1.
    pub fn read_only(key: &str, secret: &str) -> ApiKey {
        ApiKey {
            permissions: Permissions::Read,
            ..ApiKey::read_write(key, secret)
        }
    }
}

/// How a request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// `Authorization: Basic`.
    Basic,
    /// `?consumer_key=&consumer_secret=`.
    QueryString,
    /// OAuth 1.0a signature.
    OAuth,
}

/// Result of authentication: the key index, or no key, or an error.
pub(crate) enum Outcome {
    Key(usize, AuthMethod),
    Anonymous,
    Error(WooError),
}

pub(crate) struct Request<'a> {
    pub method: &'a str,
    /// Raw path as received, e.g. `/wp-json/wc/v3/orders`.
    pub path: &'a str,
    /// Decoded query pairs, in order.
    pub query: &'a [(String, String)],
    /// Decoded form body pairs (only for `application/x-www-form-urlencoded`).
    pub form: &'a [(String, String)],
    pub authorization: Option<&'a str>,
    pub https: bool,
    /// Site URL without trailing slash and without scheme, e.g. `127.0.0.1:7380`.
    pub host: &'a str,
    pub now: i64,
}

fn auth_error(msg: &str) -> WooError {
    WooError::new(401, "woocommerce_rest_authentication_error", msg)
}

/// RFC 3986 encoding as PHP's `rawurlencode` (`~` kept).
pub fn rfc3986(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 3 <= bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) struct NonceStore {
    /// Per key: (timestamp, nonce).
    pub used: Vec<Vec<(i64, String)>>,
}

/// Authenticates a request against `keys`.
pub(crate) fn authenticate(req: &Request<'_>, keys: &[ApiKey], nonces: &mut NonceStore) -> Outcome {
    let mut error = None;
    if req.https {
        // Query parameters first, then Basic.
        let q = |k: &str| {
            req.query
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let mut creds = None;
        if let (Some(k), Some(s)) = (q("consumer_key"), q("consumer_secret")) {
            creds = Some((k.to_string(), s.to_string(), AuthMethod::QueryString));
        }
        if creds.is_none()
            && let Some(h) = req.authorization
            && let Some(b64) = h
                .strip_prefix("Basic ")
                .or_else(|| h.strip_prefix("basic "))
            && let Ok(raw) = STANDARD.decode(b64.trim())
            && let Ok(raw) = String::from_utf8(raw)
            && let Some((k, s)) = raw.split_once(':')
            && !k.is_empty()
            && !s.is_empty()
        {
            creds = Some((k.to_string(), s.to_string(), AuthMethod::Basic));
        }
        if let Some((k, s, how)) = creds
            && let Some(idx) = keys.iter().position(|x| x.consumer_key == k)
        {
            if constant_eq(keys[idx].consumer_secret.as_bytes(), s.as_bytes()) {
                return Outcome::Key(idx, how);
            }
            error = Some(auth_error("Consumer secret is invalid."));
        }
    }
    match oauth(req, keys, nonces) {
        Ok(Some(idx)) => Outcome::Key(idx, AuthMethod::OAuth),
        Ok(None) => match error {
            Some(e) => Outcome::Error(e),
            None => Outcome::Anonymous,
        },
        Err(e) => Outcome::Error(e),
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn parse_oauth_header(h: &str) -> Vec<(String, String)> {
    let Some(rest) = h.strip_prefix("OAuth ") else {
        return vec![];
    };
    let mut out = Vec::new();
    for part in rest.split(',') {
        let part = part.trim();
        if let Some((k, v)) = part.split_once('=')
            && k.starts_with("oauth_")
        {
            let v = v.trim().trim_matches('"');
            out.push((k.to_string(), percent_decode(v)));
        }
    }
    out
}

fn oauth(
    req: &Request<'_>,
    keys: &[ApiKey],
    nonces: &mut NonceStore,
) -> Result<Option<usize>, WooError> {
    // array_merge($_GET, $_POST), then header params.
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in req.query.iter().chain(req.form.iter()) {
        params.insert(k.clone(), v.clone());
    }
    if let Some(h) = req.authorization {
        for (k, v) in parse_oauth_header(h.trim()) {
            params.insert(k, v);
        }
    }
    let required = [
        "oauth_consumer_key",
        "oauth_timestamp",
        "oauth_nonce",
        "oauth_signature",
        "oauth_signature_method",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|k| params.get(*k).is_none_or(|v| v.is_empty()))
        .collect();
    if missing.len() == required.len() {
        return Ok(None);
    }
    if !missing.is_empty() {
        let msg = if missing.len() == 1 {
            format!("Missing OAuth parameter {}", missing[0])
        } else {
            format!("Missing OAuth parameters {}", missing.join(", "))
        };
        return Err(WooError::new(
            401,
            "woocommerce_rest_authentication_missing_parameter",
            msg,
        ));
    }
    let key = params["oauth_consumer_key"].clone();
    let Some(idx) = keys.iter().position(|k| k.consumer_key == key) else {
        return Err(auth_error("Consumer key is invalid."));
    };
    // check_oauth_signature
    let scheme = if req.https { "https" } else { "http" };
    let base_uri = rfc3986(&format!("{scheme}://{}{}", req.host, req.path));
    let consumer_sig = percent_decode(&params["oauth_signature"].replace(' ', "+"));
    params.remove("oauth_signature");
    let method = params["oauth_signature_method"].clone();
    let joined: Vec<String> = params
        .iter()
        .map(|(k, v)| rfc3986(&format!("{}={}", rfc3986(k), rfc3986(v))))
        .collect();
    let to_sign = format!(
        "{}&{}&{}",
        req.method.to_ascii_uppercase(),
        base_uri,
        joined.join("%26")
    );
    let secret = format!("{}&", keys[idx].consumer_secret);
    let sig = match method.as_str() {
        "HMAC-SHA256" => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
                .map_err(|_| auth_error("Invalid signature - signature method is invalid."))?;
            m.update(to_sign.as_bytes());
            STANDARD.encode(m.finalize().into_bytes())
        }
        "HMAC-SHA1" => {
            let mut m = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
                .map_err(|_| auth_error("Invalid signature - signature method is invalid."))?;
            m.update(to_sign.as_bytes());
            STANDARD.encode(m.finalize().into_bytes())
        }
        _ => {
            return Err(auth_error(
                "Invalid signature - signature method is invalid.",
            ));
        }
    };
    if !constant_eq(sig.as_bytes(), consumer_sig.as_bytes()) {
        return Err(auth_error(
            "Invalid signature - provided signature does not match.",
        ));
    }
    // check_oauth_timestamp_and_nonce
    let window = 15 * 60;
    let ts: i64 = params["oauth_timestamp"].parse().unwrap_or(0);
    if ts < req.now - window || ts > req.now + window {
        return Err(auth_error("Invalid timestamp."));
    }
    let nonce = params["oauth_nonce"].clone();
    if nonces.used.len() < keys.len() {
        nonces.used.resize(keys.len(), Vec::new());
    }
    let used = &mut nonces.used[idx];
    if used.iter().any(|(_, n)| *n == nonce) {
        return Err(auth_error("Invalid nonce - nonce has already been used."));
    }
    used.push((ts, nonce));
    used.retain(|(t, _)| *t >= req.now - window);
    Ok(Some(idx))
}

/// `check_permissions`: the key's read/write permission for `method`.
pub(crate) fn check_permissions(p: Permissions, method: &str) -> Result<(), WooError> {
    match method {
        "HEAD" | "GET" => {
            if p == Permissions::Write {
                return Err(auth_error(
                    "The API key provided does not have read permissions.",
                ));
            }
        }
        "POST" | "PUT" | "PATCH" | "DELETE" => {
            if p == Permissions::Read {
                return Err(auth_error(
                    "The API key provided does not have write permissions.",
                ));
            }
        }
        "OPTIONS" => {}
        _ => return Err(auth_error("Unknown request method.")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3986_matches_php_rawurlencode() {
        assert_eq!(rfc3986("a b+c/~é"), "a%20b%2Bc%2F~%C3%A9");
        assert_eq!(percent_decode("a%2Bb%3D"), "a+b=");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
