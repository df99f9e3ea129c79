//! Ordering of remote versions (issue 13 §7): the engine never applies an
//! older version of a ledger record over a newer one it already has. A
//! webhook that arrives late (WooCommerce sends deliveries in the
//! background, in no guaranteed order) or a page that overlaps an older
//! read must not roll a record back.
//!
//! A connector's `version` is opaque text ("the ledger's version or row
//! stamp", WIT `remote-record.version`), but the two forms connectors use
//! have a natural order, and only those are compared:
//!
//! * a whole number (Sepidar's `Version` row stamp, an ERP's row counter):
//!   numerically;
//! * a timestamp (WooCommerce's `date_modified_gmt`, RFC 3339 or ISO 8601
//!   without an offset, read as UTC): in time.
//!
//! Anything else, or two versions of different forms, is not ordered: the
//! record is applied as before, its content hash deciding whether it
//! changed. Equal versions are not older.

use chrono::{DateTime, NaiveDateTime, Utc};
use std::cmp::Ordering;

/// A version in a form that has an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ordered {
    Number(i128),
    Time(DateTime<Utc>),
}

fn ordered(version: &str) -> Option<Ordered> {
    let v = version.trim();
    if let Ok(n) = v.parse::<i128>() {
        return Some(Ordered::Number(n));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(Ordered::Time(t.with_timezone(&Utc)));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        .map(|t| Ordered::Time(t.and_utc()))
}

/// How `incoming` compares to `known`, when both have an order of the
/// same form.
pub fn compare(incoming: &str, known: &str) -> Option<Ordering> {
    match (ordered(incoming)?, ordered(known)?) {
        (a @ Ordered::Number(_), b @ Ordered::Number(_))
        | (a @ Ordered::Time(_), b @ Ordered::Time(_)) => Some(a.cmp(&b)),
        _ => None,
    }
}

/// Whether a record at version `incoming` is older than the `known` one
/// the engine already holds for it.
pub fn is_older(incoming: Option<&str>, known: Option<&str>) -> bool {
    match (incoming, known) {
        (Some(i), Some(k)) => compare(i, k) == Some(Ordering::Less),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s19_row_stamps_and_modification_times_are_ordered_and_nothing_else_is() {
        assert!(is_older(Some("7"), Some("12")));
        assert!(!is_older(Some("12"), Some("7")));
        assert!(!is_older(Some("12"), Some("12")));
        // WooCommerce's `date_modified_gmt` (no offset), and RFC 3339.
        assert!(is_older(
            Some("2025-03-21T10:00:00"),
            Some("2025-03-21T10:05:00")
        ));
        assert!(!is_older(
            Some("2025-03-21T10:05:00"),
            Some("2025-03-21T10:00:00")
        ));
        assert!(is_older(
            Some("2025-03-21T13:29:00+03:30"),
            Some("2025-03-21T10:00:00Z")
        ));
        // Text as numbers, not as text: "9" is older than "10".
        assert!(is_older(Some("9"), Some("10")));
        // No version, unknown forms, mixed forms: not ordered.
        assert!(!is_older(None, Some("10")));
        assert!(!is_older(Some("10"), None));
        assert!(!is_older(Some("abc"), Some("abd")));
        assert!(!is_older(Some("5"), Some("2025-03-21T10:00:00")));
    }
}
