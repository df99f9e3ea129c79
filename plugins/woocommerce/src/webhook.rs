//! WooCommerce webhook deliveries (`class-wc-webhook.php`, integrations.md
//! §4.5): `X-WC-Webhook-Signature` = base64(HMAC-SHA256(raw body,
//! secret)), checked on the raw bytes (re-serialising the JSON would change
//! them) in constant time; the creation ping is a form body `webhook_id=N`
//! without a signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The first value of header `name` (case-insensitive).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Whether `signature` (base64) is the HMAC-SHA256 of `body` under
/// `secret`. The comparison is constant-time (`hmac`'s `verify_slice`).
pub fn verify(body: &[u8], signature: &str, secret: &str) -> bool {
    let Ok(given) = B64.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The signature WooCommerce would send for `body`.
#[cfg(test)]
pub fn sign(body: &[u8], secret: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    B64.encode(mac.finalize().into_bytes())
}

/// The webhook id of a creation ping (`webhook_id=N`), if `body` is one.
pub fn ping_id(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?.trim();
    text.strip_prefix("webhook_id=")?.parse().ok()
}

/// `order.updated` → (`order`, `updated`), from the topic header or the
/// resource and event headers.
pub fn topic(headers: &[(String, String)]) -> Option<(String, String)> {
    if let Some(t) = header(headers, "X-WC-Webhook-Topic")
        && let Some((resource, event)) = t.split_once('.')
    {
        return Some((resource.to_ascii_lowercase(), event.to_ascii_lowercase()));
    }
    let resource = header(headers, "X-WC-Webhook-Resource")?;
    let event = header(headers, "X-WC-Webhook-Event")?;
    Some((resource.to_ascii_lowercase(), event.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec-تست";

    #[test]
    fn valid_forged_and_reserialised_bodies() {
        let body = br#"{"id": 727, "status":"processing",  "total":"10.00"}"#;
        let sig = sign(body, SECRET);
        assert!(verify(body, &sig, SECRET));
        // Forged: another secret, or a tampered body.
        assert!(!verify(body, &sign(body, "other"), SECRET));
        let tampered = br#"{"id": 727, "status":"processing",  "total":"99.00"}"#;
        assert!(!verify(tampered, &sig, SECRET));
        // The same JSON re-serialised (spacing, key order) no longer matches:
        // only the raw bytes count.
        let value: serde_json::Value = serde_json::from_slice(body).unwrap();
        let reserialised = serde_json::to_vec(&value).unwrap();
        assert_ne!(reserialised.as_slice(), body.as_slice());
        assert!(!verify(&reserialised, &sig, SECRET));
        // Garbage and truncated signatures are refused, not errors.
        assert!(!verify(body, "not base64!", SECRET));
        assert!(!verify(body, &sig[..10], SECRET));
        assert!(!verify(body, "", SECRET));
    }

    #[test]
    fn known_vector() {
        // printf '{"id":1}' | openssl dgst -sha256 -hmac secret -binary | base64
        assert_eq!(
            sign(br#"{"id":1}"#, "secret"),
            "A971iWIMgT8Zj9A9eWfikrFj7wQ16/Qwcc4OlRl2PLc="
        );
    }

    #[test]
    fn pings_and_topics() {
        assert_eq!(ping_id(b"webhook_id=12"), Some(12));
        assert_eq!(ping_id(b"{\"id\":1}"), None);
        assert_eq!(ping_id(b"webhook_id=x"), None);
        let h = vec![("x-wc-webhook-topic".to_owned(), "order.updated".to_owned())];
        assert_eq!(topic(&h), Some(("order".into(), "updated".into())));
        let h = vec![
            ("X-WC-Webhook-Resource".to_owned(), "customer".to_owned()),
            ("X-WC-Webhook-Event".to_owned(), "deleted".to_owned()),
        ];
        assert_eq!(topic(&h), Some(("customer".into(), "deleted".into())));
        assert_eq!(topic(&[]), None);
    }
}
