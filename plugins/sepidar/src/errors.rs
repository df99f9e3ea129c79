//! Sepidar's HTTP errors (integrations.md §1.4) as the WIT error the sync
//! engine acts on: retry (`unavailable`), park for the operator
//! (`unauthorized`, `version-mismatch`, `denied`), show the user
//! (`invalid-input`, `other`), or re-read (`conflict`).

use hamgam_sdk::Error;

use crate::model::ErrorBody;

/// What the caller sent, so a 400 naming a reference can be pinned to the
/// field of the CRM record that carried it.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    /// `CityRef` of each address, in order.
    pub city_refs: Vec<Option<i64>>,
    /// `ItemRef` of each line, in order.
    pub item_refs: Vec<i64>,
}

/// Sepidar's message, or a fallback naming the status.
pub fn message_of(status: u16, body: &[u8]) -> String {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.message)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                format!("Sepidar answered HTTP {status}")
            } else {
                format!("Sepidar answered HTTP {status}: {}", truncate(text, 300))
            }
        })
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// A 400 about a duplicate `GUID`: a previous attempt of this push created
/// the record (the contract's message contains `GUID`).
pub fn is_duplicate_guid(status: u16, message: &str) -> bool {
    status == 400 && message.contains("GUID")
}

/// A 400 about a stale customer `Version` (but not `GenerationVersion`).
pub fn is_stale_version(status: u16, message: &str) -> bool {
    status == 400 && message.replace("GenerationVersion", "").contains("Version")
}

/// The WIT error for a non-2xx answer. 401 here is final: the client has
/// already logged in again once.
pub fn map_status(status: u16, body: &[u8], sent: &Sent, generation: i64) -> Error {
    let message = message_of(status, body);
    match status {
        401 => Error::Unauthorized(message),
        403 => Error::Denied(message),
        404 => Error::NotFound(message),
        412 => Error::VersionMismatch(format!(
            "Sepidar refused GenerationVersion {generation} (HTTP 412): {message}"
        )),
        400 if is_stale_version(status, &message) => Error::Conflict(message),
        400 => field_error(&message, sent).unwrap_or(Error::Other(message)),
        500..=599 => Error::Unavailable(message),
        _ => Error::Other(message),
    }
}

/// A 400 naming a field we can point at in the CRM record.
fn field_error(message: &str, sent: &Sent) -> Option<Error> {
    if message.contains("CityRef") {
        let index = find_ref(message, sent.city_refs.iter().map(|r| r.unwrap_or(-1)));
        let field = format!("addresses.{}.city-ref", index.unwrap_or(0));
        return Some(Error::invalid(field, message));
    }
    if message.contains("ItemRef") {
        let index = find_ref(message, sent.item_refs.iter().copied());
        let field = format!("lines.{}.product-ref", index.unwrap_or(0));
        return Some(Error::invalid(field, message));
    }
    if message.contains("CustomerRef") {
        return Some(Error::invalid("party-ref", message));
    }
    None
}

/// The position of the first sent reference whose number appears in the
/// message ("unknown CityRef 99" → the address that sent 99).
fn find_ref(message: &str, refs: impl Iterator<Item = i64>) -> Option<usize> {
    let numbers: Vec<i64> = message
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    refs.enumerate()
        .find(|(_, r)| numbers.contains(r))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(msg: &str) -> Vec<u8> {
        serde_json::json!({"Type": 0, "Message": msg})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn statuses_map_to_wit_errors() {
        let sent = Sent::default();
        assert!(
            matches!(map_status(401, &body("x"), &sent, 110), Error::Unauthorized(m) if m == "x")
        );
        assert!(matches!(
            map_status(403, &body("x"), &sent, 110),
            Error::Denied(_)
        ));
        assert!(matches!(
            map_status(404, &body("x"), &sent, 110),
            Error::NotFound(_)
        ));
        assert!(
            matches!(map_status(412, b"", &sent, 110), Error::VersionMismatch(m) if m.contains("110"))
        );
        assert!(matches!(
            map_status(503, b"", &sent, 110),
            Error::Unavailable(_)
        ));
        assert!(
            matches!(map_status(500, &body("boom"), &sent, 110), Error::Unavailable(m) if m == "boom")
        );
    }

    #[test]
    fn other_400s_keep_sepidars_message_verbatim() {
        let msg = "شماره ملی تکراری است";
        assert!(
            matches!(map_status(400, &body(msg), &Sent::default(), 110), Error::Other(m) if m == msg)
        );
    }

    #[test]
    fn city_ref_400_names_the_address() {
        let sent = Sent {
            city_refs: vec![Some(5), Some(99)],
            ..Sent::default()
        };
        let e = map_status(
            400,
            &body("CityRef نامعتبر است (unknown CityRef 99)"),
            &sent,
            110,
        );
        match e {
            Error::InvalidInput(f) => assert_eq!(f.field, "addresses.1.city-ref"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stale_version_is_a_conflict_and_duplicate_guid_is_recognised() {
        let e = map_status(400, &body("Version is stale (نسخه)"), &Sent::default(), 110);
        assert!(matches!(e, Error::Conflict(_)));
        assert!(!is_stale_version(400, "GenerationVersion نامعتبر"));
        assert!(is_duplicate_guid(
            400,
            "رکوردی با این GUID قبلاً ثبت شده است (duplicate GUID)"
        ));
        assert!(!is_duplicate_guid(404, "GUID"));
    }
}
