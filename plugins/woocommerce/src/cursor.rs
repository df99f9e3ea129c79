//! The pull cursor. WooCommerce lists are paged (`per_page`, `page`,
//! `X-WP-TotalPages`) and orders and products can be filtered by
//! `modified_after` (GMT with `dates_are_gmt=true`), so each kind
//! alternates between
//!
//! * a **full scan** — every page of every source of the kind, ordered by
//!   id, reported with `full_scan: true` so the host confirms deletions and
//!   catches anything a tail missed — on the first pull and whenever
//!   `reconcile_interval_s` has passed since the last one ended, and
//! * a **tail** — only records modified after the high-water mark, read
//!   from the kind's last source, with `OVERLAP_S` seconds of overlap
//!   (records at the boundary come again; the host's content hash makes a
//!   repeat a no-op, and webhooks are at-least-once anyway).
//!
//! The high-water mark is the largest `date_modified_gmt` *the shop*
//! reported (never the host clock, so clock skew between the two cannot
//! lose a record). It moves only when a scan or tail has read its last
//! page: while one is under way the largest value seen waits in `pending`.
//!
//! JSON: `{"mode":"scan"|"tail","page":n,"modified_after":"YYYY-MM-DDTHH:MM:SS"|null,
//! "pending":…|null,"last_scan_ms":n}` plus `"source":i` while a scan reads
//! a kind's second source (parties: registered customers, then guests from
//! orders; omitted when 0).

use serde::{Deserialize, Serialize};

/// Seconds subtracted from the high-water mark of a tail.
pub const OVERLAP_S: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Scan,
    Tail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub source: usize,
    /// The next page to read, 1-based.
    pub page: u32,
    /// High-water mark: the largest `date_modified_gmt` of the tail source
    /// when the last scan or tail finished.
    pub modified_after: Option<String>,
    /// The largest `date_modified_gmt` seen in the scan or tail under way.
    #[serde(default)]
    pub pending: Option<String>,
    /// When the last full scan finished (host clock).
    pub last_scan_ms: i64,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What to read next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub source: usize,
    pub page: u32,
    /// A tail's `modified_after` filter (the mark minus the overlap).
    pub modified_after: Option<String>,
}

/// What one page held, for the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSeen {
    /// Records on the page (including those the connector chose not to emit).
    pub records: usize,
    /// `X-WP-TotalPages` of the listing.
    pub total_pages: u32,
    /// The largest `date_modified_gmt` on the page.
    pub max_modified: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    pub cursor: Cursor,
    pub has_more: bool,
    pub full_scan: bool,
}

fn later(a: Option<String>, b: Option<String>) -> Option<String> {
    // Same fixed-width ISO form, so text order is time order.
    match (a, b) {
        (Some(a), Some(b)) => Some(if b > a { b } else { a }),
        (a, None) => a,
        (None, b) => b,
    }
}

impl Cursor {
    pub fn fresh() -> Self {
        Cursor {
            mode: Mode::Scan,
            source: 0,
            page: 1,
            modified_after: None,
            pending: None,
            last_scan_ms: 0,
        }
    }

    /// The cursor to continue from: none (or unreadable) starts a full scan;
    /// a tail whose last scan is `interval_ms` old becomes a new full scan
    /// (the high-water mark stays until the scan replaces it).
    pub fn resume(text: Option<&str>, now_ms: i64, interval_ms: i64) -> Self {
        let Some(mut cursor) = text.and_then(|t| serde_json::from_str::<Cursor>(t).ok()) else {
            return Cursor::fresh();
        };
        cursor.page = cursor.page.max(1);
        if cursor.mode == Mode::Tail && now_ms.saturating_sub(cursor.last_scan_ms) >= interval_ms {
            cursor.mode = Mode::Scan;
            cursor.source = 0;
            cursor.page = 1;
            cursor.pending = None;
        }
        cursor
    }

    /// The next page of a kind with `sources` sources (a tail reads only
    /// the last one, the one filterable by `modified_after`).
    pub fn step(&self, sources: usize) -> Step {
        match self.mode {
            Mode::Scan => Step {
                source: self.source.min(sources.saturating_sub(1)),
                page: self.page,
                modified_after: None,
            },
            Mode::Tail => Step {
                source: sources.saturating_sub(1),
                page: self.page,
                modified_after: self
                    .modified_after
                    .as_deref()
                    .and_then(|m| shift_gmt(m, -OVERLAP_S)),
            },
        }
    }

    /// Move on after a page.
    pub fn advance(mut self, seen: &PageSeen, sources: usize, now_ms: i64) -> Advance {
        let full_scan = self.mode == Mode::Scan;
        let last_source = sources.saturating_sub(1);
        let source = if full_scan { self.source } else { last_source };
        if source == last_source {
            self.pending = later(self.pending.take(), seen.max_modified.clone());
        }
        let done = seen.records == 0 || self.page >= seen.total_pages;
        if !done {
            self.page += 1;
            return Advance {
                cursor: self,
                has_more: true,
                full_scan,
            };
        }
        self.page = 1;
        if full_scan && self.source < last_source {
            self.source += 1;
            return Advance {
                cursor: self,
                has_more: true,
                full_scan,
            };
        }
        let pending = self.pending.take();
        self.modified_after = match self.mode {
            // A scan saw everything: its newest record is the mark (kept
            // when the shop is empty).
            Mode::Scan => pending.or(self.modified_after.take()),
            Mode::Tail => later(self.modified_after.take(), pending),
        };
        self.source = 0;
        if full_scan {
            self.mode = Mode::Tail;
            self.last_scan_ms = now_ms;
        }
        Advance {
            cursor: self,
            has_more: false,
            full_scan,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `YYYY-MM-DDTHH:MM:SS` (GMT) → seconds since the epoch.
pub fn parse_gmt(text: &str) -> Option<i64> {
    let text = text.trim();
    let date: hamgam_sdk::Date = text.get(..10)?.parse().ok()?;
    let time = text.get(11..19).unwrap_or("00:00:00");
    let mut parts = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    Some(date.days_since_epoch() * 86_400 + h * 3600 + m * 60 + s)
}

/// Seconds since the epoch → `YYYY-MM-DDTHH:MM:SS`.
pub fn format_gmt(seconds: i64) -> String {
    let date = hamgam_sdk::Date::from_timestamp(hamgam_sdk::Timestamp {
        seconds,
        nanoseconds: 0,
    });
    let s = seconds.rem_euclid(86_400);
    format!("{date}T{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// `text` moved by `delta` seconds (none when it is not a GMT date-time).
pub fn shift_gmt(text: &str, delta: i64) -> Option<String> {
    parse_gmt(text).map(|s| format_gmt(s + delta))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN5: i64 = 300_000;

    fn seen(records: usize, total_pages: u32, max: Option<&str>) -> PageSeen {
        PageSeen {
            records,
            total_pages,
            max_modified: max.map(str::to_owned),
        }
    }

    #[test]
    fn gmt_arithmetic_crosses_midnight_and_years() {
        assert_eq!(
            shift_gmt("2025-01-01T00:00:30", -60).as_deref(),
            Some("2024-12-31T23:59:30")
        );
        assert_eq!(
            format_gmt(parse_gmt("2025-03-21T10:11:12").unwrap()),
            "2025-03-21T10:11:12"
        );
        assert_eq!(parse_gmt("yesterday"), None);
    }

    #[test]
    fn first_pull_scans_every_page_then_tails_from_the_newest_record() {
        let c = Cursor::resume(None, 1_000, MIN5);
        assert_eq!(c.mode, Mode::Scan);
        assert_eq!(
            c.step(1),
            Step {
                source: 0,
                page: 1,
                modified_after: None
            }
        );
        let a = c.advance(&seen(100, 2, Some("2025-03-21T10:00:00")), 1, 1_000);
        assert!(a.has_more && a.full_scan);
        assert_eq!(a.cursor.page, 2);
        assert_eq!(a.cursor.modified_after, None, "moves only when done");
        let b = a
            .cursor
            .advance(&seen(3, 2, Some("2025-03-20T09:00:00")), 1, 2_000);
        assert!(!b.has_more && b.full_scan);
        assert_eq!(b.cursor.mode, Mode::Tail);
        assert_eq!(b.cursor.page, 1);
        assert_eq!(
            b.cursor.modified_after.as_deref(),
            Some("2025-03-21T10:00:00")
        );
        assert_eq!(b.cursor.last_scan_ms, 2_000);
        assert_eq!(
            b.cursor.to_json(),
            r#"{"mode":"tail","page":1,"modified_after":"2025-03-21T10:00:00","pending":null,"last_scan_ms":2000}"#
        );
        // The tail asks with a minute of overlap.
        let t = Cursor::resume(Some(&b.cursor.to_json()), 3_000, MIN5);
        assert_eq!(
            t.step(1).modified_after.as_deref(),
            Some("2025-03-21T09:59:00")
        );
    }

    #[test]
    fn a_tail_pages_with_a_fixed_filter_and_then_raises_the_mark() {
        let tail = Cursor {
            mode: Mode::Tail,
            modified_after: Some("2025-03-21T10:00:00".into()),
            last_scan_ms: 2_000,
            ..Cursor::fresh()
        };
        let a = tail
            .clone()
            .advance(&seen(2, 2, Some("2025-03-21T10:05:00")), 1, 3_000);
        assert!(a.has_more && !a.full_scan);
        assert_eq!(
            a.cursor.step(1).modified_after.as_deref(),
            Some("2025-03-21T09:59:00")
        );
        let b = a
            .cursor
            .advance(&seen(1, 2, Some("2025-03-21T10:01:00")), 1, 3_000);
        assert!(!b.has_more);
        assert_eq!(
            b.cursor.modified_after.as_deref(),
            Some("2025-03-21T10:05:00")
        );
        // Nothing new: the cursor stays put.
        let idle = tail.clone().advance(&seen(0, 0, None), 1, 3_500);
        assert!(!idle.has_more && !idle.full_scan);
        assert_eq!(idle.cursor, tail);
    }

    #[test]
    fn an_old_tail_becomes_a_full_scan_again_keeping_its_mark() {
        let tail = Cursor {
            mode: Mode::Tail,
            page: 3,
            modified_after: Some("2025-03-21T10:00:00".into()),
            last_scan_ms: 2_000,
            ..Cursor::fresh()
        };
        let c = Cursor::resume(Some(&tail.to_json()), 2_000 + MIN5, MIN5);
        assert_eq!(c.mode, Mode::Scan);
        assert_eq!(c.page, 1);
        assert_eq!(c.modified_after.as_deref(), Some("2025-03-21T10:00:00"));
        let almost = Cursor::resume(Some(&tail.to_json()), 2_000 + MIN5 - 1, MIN5);
        assert_eq!(almost.mode, Mode::Tail);
        assert_eq!(Cursor::resume(Some("garbage"), 0, MIN5), Cursor::fresh());
    }

    #[test]
    fn parties_scan_customers_then_guest_orders_and_tail_orders_only() {
        let c = Cursor::fresh();
        assert_eq!(c.step(2).source, 0);
        // Customers' dates do not feed the mark (the tail reads orders).
        let a = c.advance(&seen(5, 1, Some("2030-01-01T00:00:00")), 2, 100);
        assert!(a.has_more && a.full_scan);
        assert_eq!(a.cursor.source, 1);
        assert_eq!(a.cursor.pending, None);
        assert!(a.cursor.to_json().contains(r#""source":1"#));
        let b = a
            .cursor
            .advance(&seen(7, 1, Some("2025-03-21T10:00:00")), 2, 200);
        assert!(!b.has_more && b.full_scan);
        assert_eq!(b.cursor.mode, Mode::Tail);
        assert_eq!(b.cursor.source, 0);
        assert_eq!(
            b.cursor.modified_after.as_deref(),
            Some("2025-03-21T10:00:00")
        );
        assert_eq!(b.cursor.step(2).source, 1);
        let t = b
            .cursor
            .advance(&seen(1, 1, Some("2025-03-21T11:00:00")), 2, 300);
        assert!(!t.has_more && !t.full_scan);
        assert_eq!(
            t.cursor.modified_after.as_deref(),
            Some("2025-03-21T11:00:00")
        );
    }
}
