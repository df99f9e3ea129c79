//! The pull cursor: Sepidar has no change feed, so each kind alternates
//! between a *full scan* (every record, ascending id, so the host can find
//! deletions and edits of old records) and a *tail* (newest first, only ids
//! above the highest seen) until `reconcile_interval_s` has passed again.
//!
//! JSON: `{"mode":"scan"|"tail","offset":n,"max_id":n,"pending_max":n,
//! "last_scan_ms":n}`. Kinds read from more than one source (purchase
//! invoices: warehouse receipts and service purchase invoices; parties with
//! employees from SQL) add `"source":i` (the source being read, omitted when
//! 0) and `"more_max_ids":[…]` (the highest id of sources 1…, omitted when
//! there is only one source). Sources are read one after the other, and a
//! full scan ends only after the last one, so the host's "full scan done"
//! covers the whole kind.

use serde::{Deserialize, Serialize};

/// Whether the cursor is in a full scan or following new records.
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
    pub offset: u64,
    /// Highest id of source 0 when the last scan or tail finished.
    pub max_id: i64,
    /// Highest id seen so far in the scan or tail under way; becomes the
    /// source's max id when it finishes (a tail reads newest first, so the
    /// old max id must stay in force until its last page).
    pub pending_max: i64,
    /// When the last full scan finished (host clock).
    pub last_scan_ms: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_max_ids: Vec<i64>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What to read next: one page of `source`, ascending (scan) or descending
/// (tail) from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub source: usize,
    pub offset: u64,
    pub descending: bool,
    /// In a tail, only ids above this are new.
    pub newer_than: Option<i64>,
}

/// The outcome of one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    pub cursor: Cursor,
    pub has_more: bool,
    pub full_scan: bool,
}

impl Cursor {
    /// A full scan from the beginning.
    pub fn fresh() -> Self {
        Cursor {
            mode: Mode::Scan,
            source: 0,
            offset: 0,
            max_id: 0,
            pending_max: 0,
            last_scan_ms: 0,
            more_max_ids: Vec::new(),
        }
    }

    /// The cursor to continue from: none (or unreadable) starts a full scan;
    /// a tail whose last scan is `interval_ms` old becomes a new full scan
    /// (the known max ids are kept until the scan replaces them).
    pub fn resume(text: Option<&str>, now_ms: i64, interval_ms: i64) -> Self {
        let Some(mut cursor) = text.and_then(|t| serde_json::from_str::<Cursor>(t).ok()) else {
            return Cursor::fresh();
        };
        if cursor.mode == Mode::Tail && now_ms.saturating_sub(cursor.last_scan_ms) >= interval_ms {
            cursor.mode = Mode::Scan;
            cursor.source = 0;
            cursor.offset = 0;
            cursor.pending_max = 0;
        }
        cursor
    }

    pub fn step(&self) -> Step {
        Step {
            source: self.source,
            offset: self.offset,
            descending: self.mode == Mode::Tail,
            newer_than: (self.mode == Mode::Tail).then(|| self.max_of(self.source)),
        }
    }

    /// The highest known id of `source`.
    pub fn max_of(&self, source: usize) -> i64 {
        match source {
            0 => self.max_id,
            n => self.more_max_ids.get(n - 1).copied().unwrap_or(0),
        }
    }

    fn set_max(&mut self, source: usize, value: i64) {
        match source {
            0 => self.max_id = value,
            n => {
                if self.more_max_ids.len() < n {
                    self.more_max_ids.resize(n, 0);
                }
                self.more_max_ids[n - 1] = value;
            }
        }
    }

    /// Move on after reading a page holding `ids` (every id of the page,
    /// including records the connector chose not to emit) with page size
    /// `limit`, for a kind with `sources` sources.
    pub fn advance(mut self, ids: &[i64], limit: u32, sources: usize, now_ms: i64) -> Advance {
        let full_scan = self.mode == Mode::Scan;
        let page_max = ids.iter().copied().max().unwrap_or(0);
        let page_full = ids.len() >= limit as usize && !ids.is_empty();
        let source_done = match self.mode {
            Mode::Scan => {
                self.pending_max = self.pending_max.max(page_max);
                !page_full
            }
            Mode::Tail => {
                let known = self.max_of(self.source);
                let all_new = ids.iter().all(|id| *id > known);
                self.pending_max = self.pending_max.max(page_max);
                !(page_full && all_new)
            }
        };
        if !source_done {
            self.offset += u64::from(limit);
            return Advance {
                cursor: self,
                has_more: true,
                full_scan,
            };
        }
        let finished_max = match self.mode {
            // A scan saw every record: its highest id is the truth, even if
            // the old highest record was deleted.
            Mode::Scan => self.pending_max,
            Mode::Tail => self.pending_max.max(self.max_of(self.source)),
        };
        self.set_max(self.source, finished_max);
        self.pending_max = 0;
        self.offset = 0;
        if self.source + 1 < sources {
            self.source += 1;
            return Advance {
                cursor: self,
                has_more: true,
                full_scan,
            };
        }
        self.source = 0;
        if self.mode == Mode::Scan {
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
        // A struct of numbers and an enum always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN5: i64 = 300_000;

    #[test]
    fn no_cursor_starts_a_full_scan_that_pages_while_full() {
        let c = Cursor::resume(None, 1_000, MIN5);
        assert_eq!(c.mode, Mode::Scan);
        assert_eq!(
            c.step(),
            Step {
                source: 0,
                offset: 0,
                descending: false,
                newer_than: None
            }
        );
        let a = c.advance(&[1, 2, 3], 3, 1, 1_000);
        assert!(a.has_more && a.full_scan);
        assert_eq!(a.cursor.offset, 3);
        assert_eq!(a.cursor.pending_max, 3);
        // A short page ends the scan: tail with the highest id, clock noted.
        let b = a.cursor.advance(&[4, 7], 3, 1, 2_000);
        assert!(!b.has_more && b.full_scan);
        assert_eq!(b.cursor.mode, Mode::Tail);
        assert_eq!(b.cursor.max_id, 7);
        assert_eq!(b.cursor.offset, 0);
        assert_eq!(b.cursor.pending_max, 0);
        assert_eq!(b.cursor.last_scan_ms, 2_000);
        assert_eq!(
            b.cursor.to_json(),
            r#"{"mode":"tail","offset":0,"max_id":7,"pending_max":0,"last_scan_ms":2000}"#
        );
    }

    #[test]
    fn tail_emits_only_newer_and_pages_while_the_whole_page_is_new() {
        let tail = Cursor {
            mode: Mode::Tail,
            max_id: 7,
            last_scan_ms: 2_000,
            ..Cursor::fresh()
        };
        let c = Cursor::resume(Some(&tail.to_json()), 3_000, MIN5);
        assert_eq!(c.step().newer_than, Some(7));
        assert!(c.step().descending);
        // Page of 2, both new: keep going, but keep max_id 7 in force.
        let a = c.advance(&[12, 11], 2, 1, 3_000);
        assert!(a.has_more && !a.full_scan);
        assert_eq!(a.cursor.offset, 2);
        assert_eq!(a.cursor.max_id, 7);
        assert_eq!(a.cursor.step().newer_than, Some(7));
        // Next page reaches known ids: done, max becomes 12.
        let b = a.cursor.advance(&[10, 7], 2, 1, 3_000);
        assert!(!b.has_more && !b.full_scan);
        assert_eq!(b.cursor.max_id, 12);
        assert_eq!(b.cursor.offset, 0);
        assert_eq!(b.cursor.mode, Mode::Tail);
        assert_eq!(b.cursor.last_scan_ms, 2_000);
    }

    #[test]
    fn tail_with_nothing_new_stays_put() {
        let tail = Cursor {
            mode: Mode::Tail,
            max_id: 7,
            last_scan_ms: 2_000,
            ..Cursor::fresh()
        };
        let a = tail.clone().advance(&[7, 6], 2, 1, 2_500);
        assert!(!a.has_more);
        assert_eq!(a.cursor, tail);
        let empty = tail.clone().advance(&[], 2, 1, 2_500);
        assert_eq!(empty.cursor, tail);
    }

    #[test]
    fn an_old_tail_becomes_a_full_scan_again() {
        let tail = Cursor {
            mode: Mode::Tail,
            max_id: 7,
            offset: 4,
            last_scan_ms: 2_000,
            ..Cursor::fresh()
        };
        let c = Cursor::resume(Some(&tail.to_json()), 2_000 + MIN5, MIN5);
        assert_eq!(c.mode, Mode::Scan);
        assert_eq!(c.offset, 0);
        assert!(!c.step().descending);
        let almost = Cursor::resume(Some(&tail.to_json()), 2_000 + MIN5 - 1, MIN5);
        assert_eq!(almost.mode, Mode::Tail);
    }

    #[test]
    fn a_scan_that_finds_fewer_records_lowers_max_id() {
        let c = Cursor {
            mode: Mode::Scan,
            max_id: 50,
            ..Cursor::fresh()
        };
        let a = c.advance(&[1, 2], 10, 1, 9);
        assert_eq!(a.cursor.max_id, 2);
    }

    #[test]
    fn several_sources_are_read_in_turn_and_the_scan_ends_after_the_last() {
        let c = Cursor::fresh();
        let a = c.advance(&[5, 6], 10, 2, 100);
        assert!(a.has_more && a.full_scan);
        assert_eq!(a.cursor.source, 1);
        assert_eq!(a.cursor.max_id, 6);
        let b = a.cursor.advance(&[40], 10, 2, 200);
        assert!(!b.has_more && b.full_scan);
        assert_eq!(b.cursor.source, 0);
        assert_eq!(b.cursor.more_max_ids, vec![40]);
        assert_eq!(b.cursor.mode, Mode::Tail);
        let json = b.cursor.to_json();
        assert!(json.contains(r#""more_max_ids":[40]"#), "{json}");
        // Tail: source 1 is compared with its own max id.
        let t = Cursor::resume(Some(&json), 300, MIN5).advance(&[6], 10, 2, 300);
        assert!(t.has_more && !t.full_scan);
        assert_eq!(t.cursor.step().newer_than, Some(40));
        let done = t.cursor.advance(&[41, 40], 10, 2, 300);
        assert!(!done.has_more);
        assert_eq!(done.cursor.more_max_ids, vec![41]);
        assert_eq!(done.cursor.max_id, 6);
    }
}
