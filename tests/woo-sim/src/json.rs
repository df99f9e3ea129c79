//! JSON bytes as WordPress writes them: `wp_json_encode` with PHP's default
//! flags escapes every non-ASCII character as `\uXXXX` (UTF-16, surrogate
//! pairs above the BMP) and every `/` as `\/`. REST responses and webhook
//! bodies both go through it, so a receiver must verify signatures on the raw
//! bytes, never on a re-serialisation.

use serde_json::Value;

/// PHP-style JSON encoding of `v`.
pub fn php_json(v: &Value) -> Vec<u8> {
    let plain = serde_json::to_string(v).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(plain.len() + plain.len() / 4);
    for c in plain.chars() {
        match c {
            '/' => out.push_str("\\/"),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_php() {
        let v = serde_json::json!({"a": "سلام/x", "e": "😀"});
        let s = String::from_utf8(php_json(&v)).expect("utf8");
        assert_eq!(
            s,
            r#"{"a":"\u0633\u0644\u0627\u0645\/x","e":"\ud83d\ude00"}"#
        );
        let back: Value = serde_json::from_str(&s).expect("json");
        assert_eq!(back, v);
    }
}
