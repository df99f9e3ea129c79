//! The SQL plumbing the repositories share: the clock as stored text,
//! multi-row INSERT placeholders, dynamically bound arguments, row locks,
//! and the column conversions every row type needs.

use super::Tx;
use super::error::{Result, corrupt};
use hamgam_domain::{Currency, Decimal, JalaliDate};

/// The host clock as RFC 3339 UTC text (both backends store it as text).
pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Rows of multi-row INSERTs per statement: SQLite allows 32 766 parameters,
/// PostgreSQL 65 535; 100 rows of ≤ 30 columns stays well inside both.
pub(super) const CHUNK: usize = 100;

/// `($1, $2, …), (…)` for `rows` rows of `cols` columns, numbered from `start`.
pub(super) fn placeholders(rows: usize, cols: usize, start: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(start + r * cols + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// Placeholders for a multi-row INSERT of `rows` × `cols` values on `tx`'s
/// backend. SQLite gets anonymous `?`: sqlx looks up every numbered
/// parameter's name, and SQLite finds a name by scanning all of them, so a
/// statement with n `$N` parameters costs O(n²) to bind (2 400 parameters
/// made inserts several times slower than the SQL itself).
pub(super) fn insert_placeholders(tx: &Tx, rows: usize, cols: usize) -> String {
    if tx.is_postgres() {
        return placeholders(rows, cols, 0);
    }
    let row = format!("({})", vec!["?"; cols].join(", "));
    vec![row; rows].join(", ")
}

/// One bind value of a dynamically built statement.
#[derive(Debug, Clone)]
pub(super) enum Arg {
    I64(i64),
    OptI64(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Bool(bool),
    Dec(Decimal),
    OptDec(Option<Decimal>),
}

macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::I64(v) => q.bind(*v),
                Arg::OptI64(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.clone()),
                Arg::OptText(v) => q.bind(v.clone()),
                Arg::Bool(v) => q.bind(*v),
                Arg::Dec(v) => q.bind($crate::store::Dec(*v)),
                Arg::OptDec(v) => q.bind(v.map($crate::store::Dec)),
            };
        }
        q
    }};
}
pub(super) use bind_args;

/// ` FOR UPDATE` on PostgreSQL (row lock); SQLite's `BEGIN IMMEDIATE` has
/// already locked the database.
pub(super) fn for_update(tx: &Tx) -> &'static str {
    if tx.is_postgres() { " FOR UPDATE" } else { "" }
}

/// Keys per `IN (…)` list: far inside both backends' parameter limits.
pub(super) const IN_CHUNK: usize = 500;

/// Parameter `n` (1-based) of a statement built for `tx`'s backend: `$n` on
/// PostgreSQL, `?` on SQLite, where binding numbered parameters costs
/// O(n²) (see [`insert_placeholders`]). Statements built with it bind
/// their values in the order the parameters appear.
pub(super) fn param(tx: &Tx, n: usize) -> String {
    if tx.is_postgres() {
        format!("${n}")
    } else {
        "?".into()
    }
}

/// `count` parameters from number `from + 1`, comma-separated.
pub(super) fn params(tx: &Tx, from: usize, count: usize) -> String {
    (from + 1..=from + count)
        .map(|n| param(tx, n))
        .collect::<Vec<_>>()
        .join(", ")
}

// ------------------------------------------------------- column conversions

pub(super) fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| corrupt("json", e))
}

pub(super) fn jalali(what: &'static str, s: &str) -> Result<JalaliDate> {
    JalaliDate::parse(s).map_err(|e| corrupt(what, e))
}

pub(super) fn currency(s: &str) -> Result<Currency> {
    Currency::new(s).map_err(|e| corrupt("currency", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_and_columns() {
        assert_eq!(placeholders(2, 2, 0), "($1, $2), ($3, $4)");
        assert_eq!(placeholders(1, 3, 1), "($2, $3, $4)");
    }
}
