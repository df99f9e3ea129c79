//! The pure half of host-mediated SQL: WIT parameter values → driver
//! parameters, driver cells → WIT values under the row and byte caps, and
//! the `$n` → `@Pn` renaming for SQL Server. No I/O, plain inputs, and an
//! error (never a panic) for anything out of range, so a fuzz target can
//! drive every function here directly:
//!
//! - [`params_from_wit`] — a plugin's parameter list;
//! - [`build_rows`] / [`RowsBuilder`] — the rows a driver streams;
//! - [`tds_cell`] — one SQL Server value as tiberius decoded it;
//! - [`sqlserver_placeholders`] — a declared statement's text.

use super::bindings::platform::sql::{Rows, Value};
use super::bindings::types;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rust_decimal::Decimal;

/// A parameter as a driver binds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// SQL `NULL`.
    Null,
    /// `bool` / `bit`.
    Bool(bool),
    /// 64-bit integer.
    Int(i64),
    /// Exact decimal.
    Decimal(Decimal),
    /// Text.
    Text(String),
    /// Binary.
    Bytes(Vec<u8>),
    /// Calendar date.
    Date(NaiveDate),
    /// UTC timestamp without zone.
    Timestamp(NaiveDateTime),
}

/// One value as a driver decoded it, before it becomes a WIT value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL `NULL`.
    Null,
    /// `bool` / `bit`.
    Bool(bool),
    /// Any integer column.
    Int(i64),
    /// `numeric` / `decimal` / `money`.
    Decimal(Decimal),
    /// `real` / `float`: never money, carried as its shortest exact decimal.
    Float(f64),
    /// Text of any kind.
    Text(String),
    /// Binary.
    Bytes(Vec<u8>),
    /// Calendar date.
    Date(NaiveDate),
    /// Timestamp, read as UTC.
    Timestamp(NaiveDateTime),
}

/// What one value counts against the byte cap beyond its text or bytes.
const VALUE_OVERHEAD: usize = 16;

impl Cell {
    /// The bytes this cell counts against `max_result_kib`.
    pub fn size(&self) -> usize {
        match self {
            Cell::Text(s) => VALUE_OVERHEAD.saturating_add(s.len()),
            Cell::Bytes(b) => VALUE_OVERHEAD.saturating_add(b.len()),
            _ => VALUE_OVERHEAD,
        }
    }

    fn into_value(self) -> Result<Value, types::Error> {
        Ok(match self {
            Cell::Null => Value::Null,
            Cell::Bool(b) => Value::Boolean(b),
            Cell::Int(i) => Value::Integer(i),
            Cell::Decimal(d) => Value::Number(to_wit_decimal(d)),
            Cell::Float(f) => float_value(f)?,
            Cell::Text(s) => Value::Text(s),
            Cell::Bytes(b) => Value::Bytes(b),
            Cell::Date(d) => Value::Date(to_wit_date(d)),
            Cell::Timestamp(t) => Value::Timestamp(to_wit_ts(t)),
        })
    }
}

/// The plugin's parameters as driver values; the first one out of range
/// is an `invalid-input` naming its position (`params[2]`).
pub fn params_from_wit(params: Vec<Value>) -> Result<Vec<Param>, types::Error> {
    params
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let at = |message: &str| invalid(&format!("params[{i}]"), message);
            Ok(match p {
                Value::Null => Param::Null,
                Value::Boolean(b) => Param::Bool(b),
                Value::Integer(n) => Param::Int(n),
                Value::Number(d) => {
                    Param::Decimal(from_wit_decimal(&d).map_err(|_| at("decimal scale above 28"))?)
                }
                Value::Text(t) => Param::Text(t),
                Value::Bytes(b) => Param::Bytes(b),
                Value::Date(d) => Param::Date(from_wit_date(&d).map_err(|_| at("not a date"))?),
                Value::Timestamp(t) => Param::Timestamp(
                    chrono::DateTime::from_timestamp(t.seconds, t.nanoseconds)
                        .ok_or_else(|| at("timestamp out of range"))?
                        .naive_utc(),
                ),
            })
        })
        .collect()
}

/// How much one read may bring into the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Most rows.
    pub max_rows: usize,
    /// Most bytes (see [`Cell::size`]; column names count too).
    pub max_bytes: usize,
}

impl Caps {
    /// The caps of a grant (`max_rows`, `max_result_kib`).
    pub fn of(grant: &crate::config::SqlGrant) -> Caps {
        Caps {
            max_rows: grant.max_rows as usize,
            max_bytes: (grant.max_result_kib as usize).saturating_mul(1024),
        }
    }
}

/// Collects a streamed result row by row, refusing the row that would take
/// it past a cap, so the caller stops reading there.
#[derive(Debug)]
pub struct RowsBuilder {
    caps: Caps,
    bytes: usize,
    rows_seen: usize,
    columns: Option<Vec<String>>,
    rows: Vec<Vec<Value>>,
}

impl RowsBuilder {
    /// An empty result under `caps`.
    pub fn new(caps: Caps) -> RowsBuilder {
        RowsBuilder {
            caps,
            bytes: 0,
            rows_seen: 0,
            columns: None,
            rows: Vec::new(),
        }
    }

    /// Whether the column names are known yet.
    pub fn has_columns(&self) -> bool {
        self.columns.is_some()
    }

    /// The column names (from the first row or the result's metadata).
    pub fn set_columns(&mut self, names: Vec<String>) -> Result<(), types::Error> {
        let size = names
            .iter()
            .fold(0usize, |acc, n| acc.saturating_add(n.len()));
        self.charge(size)?;
        self.columns = Some(names);
        Ok(())
    }

    /// Add one row of the result the plugin receives.
    pub fn push(&mut self, cells: Vec<Cell>) -> Result<(), types::Error> {
        self.count(&cells)?;
        let row = cells
            .into_iter()
            .map(Cell::into_value)
            .collect::<Result<Vec<_>, _>>()?;
        self.rows.push(row);
        Ok(())
    }

    /// Count a row the plugin does not receive (a second result set of a
    /// batch) against the same caps, so reading it stays bounded too.
    pub fn count(&mut self, cells: &[Cell]) -> Result<(), types::Error> {
        if self.rows_seen >= self.caps.max_rows {
            return Err(invalid(
                "statement",
                &format!(
                    "the result has more than {} rows (the grant's `max_rows`); \
                     page it or ask the operator for a larger limit",
                    self.caps.max_rows
                ),
            ));
        }
        let size = cells
            .iter()
            .fold(0usize, |acc, c| acc.saturating_add(c.size()));
        self.charge(size)?;
        self.rows_seen += 1;
        Ok(())
    }

    fn charge(&mut self, size: usize) -> Result<(), types::Error> {
        let total = self.bytes.saturating_add(size);
        if total > self.caps.max_bytes {
            return Err(invalid(
                "statement",
                &format!(
                    "the result is larger than {} KiB (the grant's `max_result_kib`); \
                     select fewer rows or columns, or ask the operator for a larger limit",
                    self.caps.max_bytes / 1024
                ),
            ));
        }
        self.bytes = total;
        Ok(())
    }

    /// The bytes counted so far.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The result.
    pub fn finish(self) -> Rows {
        Rows {
            columns: self.columns.unwrap_or_default(),
            rows: self.rows,
        }
    }
}

/// A whole result through a [`RowsBuilder`] (the streaming drivers feed the
/// builder row by row; this is the same path for plain inputs).
pub fn build_rows(
    caps: Caps,
    columns: Vec<String>,
    rows: Vec<Vec<Cell>>,
) -> Result<Rows, types::Error> {
    let mut b = RowsBuilder::new(caps);
    b.set_columns(columns)?;
    for row in rows {
        b.push(row)?;
    }
    Ok(b.finish())
}

/// A declared statement's `$1`, `$2`… renamed `@P1`, `@P2`… (the names
/// tiberius gives parameters through `sp_executesql`). Text inside string
/// literals, quoted or bracketed identifiers and comments is left alone,
/// as is a `$` that continues an identifier (`a$1`).
pub fn sqlserver_placeholders(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len() + 8);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        match c {
            b'\'' | b'"' | b'[' => {
                let close = if c == b'[' { b']' } else { c };
                out.push(c);
                i += 1;
                while i < b.len() {
                    out.push(b[i]);
                    if b[i] == close {
                        // A doubled closing character is an escaped one.
                        if b.get(i + 1) == Some(&close) {
                            out.push(close);
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
            }
            b'-' if next == Some(b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    out.push(b[i]);
                    i += 1;
                }
            }
            b'/' if next == Some(b'*') => {
                // T-SQL block comments nest.
                let mut depth = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        out.extend_from_slice(b"/*");
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth = depth.saturating_sub(1);
                        out.extend_from_slice(b"*/");
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        out.push(b[i]);
                        i += 1;
                    }
                }
            }
            b'$' if next.is_some_and(|n| n.is_ascii_digit())
                && !out.last().is_some_and(|p| {
                    p.is_ascii_alphanumeric() || matches!(p, b'_' | b'$' | b'@' | b'#')
                }) =>
            {
                out.extend_from_slice(b"@P");
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    // Only ASCII was inserted and every other byte copied in order, so the
    // text stays UTF-8; `from_utf8_lossy` keeps this free of a panic path.
    String::from_utf8_lossy(&out).into_owned()
}

/// One SQL Server value as tiberius decoded it.
pub fn tds_cell(data: tiberius::ColumnData<'static>) -> Result<Cell, types::Error> {
    use tiberius::ColumnData as C;
    let day_zero = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1);
    let plus_days = |base: Option<NaiveDate>, days: i64| {
        base.and_then(|d| d.checked_add_signed(chrono::TimeDelta::try_days(days)?))
    };
    let at = |date: Option<NaiveDate>, since_midnight: Option<chrono::TimeDelta>| -> Cell {
        match (date, since_midnight) {
            (Some(d), Some(t)) => d
                .and_time(NaiveTime::MIN)
                .checked_add_signed(t)
                .map_or(Cell::Null, Cell::Timestamp),
            _ => Cell::Null,
        }
    };
    Ok(match data {
        C::U8(v) => v.map_or(Cell::Null, |v| Cell::Int(v.into())),
        C::I16(v) => v.map_or(Cell::Null, |v| Cell::Int(v.into())),
        C::I32(v) => v.map_or(Cell::Null, |v| Cell::Int(v.into())),
        C::I64(v) => v.map_or(Cell::Null, Cell::Int),
        C::F32(v) => v.map_or(Cell::Null, |v| Cell::Float(v.into())),
        C::F64(v) => v.map_or(Cell::Null, Cell::Float),
        C::Bit(v) => v.map_or(Cell::Null, Cell::Bool),
        C::String(v) => v.map_or(Cell::Null, |s| Cell::Text(s.into_owned())),
        C::Guid(v) => v.map_or(Cell::Null, |g| Cell::Text(g.to_string())),
        C::Binary(v) => v.map_or(Cell::Null, |b| Cell::Bytes(b.into_owned())),
        C::Numeric(v) => match v {
            None => Cell::Null,
            Some(n) => Cell::Decimal(
                Decimal::try_from_i128_with_scale(n.value(), n.scale().into())
                    .map_err(|e| types::Error::Other(format!("numeric out of range: {e}")))?,
            ),
        },
        C::Xml(v) => v.map_or(Cell::Null, |x| Cell::Text(x.as_ref().to_string())),
        C::Date(v) => match v.and_then(|d| plus_days(day_zero(1), d.days().into())) {
            Some(d) => Cell::Date(d),
            None => Cell::Null,
        },
        C::DateTime(v) => match v {
            None => Cell::Null,
            // Days since 1900-01-01 and 1/300 s since midnight.
            Some(dt) => at(
                plus_days(day_zero(1900), dt.days().into()),
                Some(chrono::TimeDelta::nanoseconds(
                    i64::from(dt.seconds_fragments()).saturating_mul(10_000_000) / 3,
                )),
            ),
        },
        C::SmallDateTime(v) => match v {
            None => Cell::Null,
            Some(dt) => at(
                plus_days(day_zero(1900), dt.days().into()),
                chrono::TimeDelta::try_minutes(dt.seconds_fragments().into()),
            ),
        },
        C::DateTime2(v) => match v {
            None => Cell::Null,
            Some(dt) => {
                let t = dt.time();
                let nanos = 9u32
                    .checked_sub(u32::from(t.scale()))
                    .and_then(|e| 10i128.checked_pow(e))
                    .and_then(|m| i128::from(t.increments()).checked_mul(m))
                    .and_then(|n| i64::try_from(n).ok());
                at(
                    plus_days(day_zero(1), dt.date().days().into()),
                    nanos.map(chrono::TimeDelta::nanoseconds),
                )
            }
        },
        other => {
            return Err(types::Error::Unsupported(format!(
                "SQL Server column type {other:?} is not supported; cast it in the statement"
            )));
        }
    })
}

fn float_value(v: f64) -> Result<Value, types::Error> {
    Decimal::from_f64_retain(v)
        .map(|d| Value::Number(to_wit_decimal(d.normalize())))
        .ok_or_else(|| types::Error::Other(format!("float {v} does not fit a decimal")))
}

pub(crate) fn invalid(field: &str, message: &str) -> types::Error {
    types::Error::InvalidInput(types::FieldError {
        field: field.into(),
        message: message.into(),
    })
}

/// WIT `decimal` → `rust_decimal::Decimal`, refusing out-of-range parts.
pub fn from_wit_decimal(d: &types::Decimal) -> Result<Decimal, types::Error> {
    if d.scale > 28 {
        return Err(invalid("decimal.scale", "must be 0..=28"));
    }
    let lo = d.mantissa_lo as u32;
    let mid = (d.mantissa_lo >> 32) as u32;
    Ok(Decimal::from_parts(
        lo,
        mid,
        d.mantissa_hi,
        d.negative,
        d.scale.into(),
    ))
}

/// `rust_decimal::Decimal` → WIT `decimal`, exactly.
pub fn to_wit_decimal(d: Decimal) -> types::Decimal {
    let m = d.mantissa().unsigned_abs();
    types::Decimal {
        mantissa_lo: m as u64,
        mantissa_hi: (m >> 64) as u32,
        negative: d.is_sign_negative(),
        scale: d.scale() as u8,
    }
}

fn from_wit_date(d: &types::Date) -> Result<NaiveDate, types::Error> {
    NaiveDate::from_ymd_opt(d.year, d.month.into(), d.day.into())
        .ok_or_else(|| invalid("date", "not a calendar date"))
}

fn to_wit_date(d: NaiveDate) -> types::Date {
    types::Date {
        year: d.year(),
        month: d.month() as u8,
        day: d.day() as u8,
    }
}

fn to_wit_ts(t: NaiveDateTime) -> types::Timestamp {
    types::Timestamp {
        seconds: t.and_utc().timestamp(),
        nanoseconds: t.nanosecond(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(max_rows: usize, max_bytes: usize) -> Caps {
        Caps {
            max_rows,
            max_bytes,
        }
    }

    #[test]
    fn decimals_round_trip() {
        for s in [
            "0",
            "-1.5",
            "123456789012345678901234.5678",
            "79228162514264337593543950335",
            "-0.0000000000000000000000000001",
        ] {
            let d: Decimal = s.parse().unwrap();
            assert_eq!(from_wit_decimal(&to_wit_decimal(d)).unwrap(), d, "{s}");
        }
        let bad = types::Decimal {
            mantissa_lo: 1,
            mantissa_hi: 0,
            negative: false,
            scale: 29,
        };
        assert!(from_wit_decimal(&bad).is_err());
    }

    #[test]
    fn p8_rows_past_the_row_cap_are_refused_at_the_row_that_crosses_it() {
        let mut b = RowsBuilder::new(caps(2, 1 << 20));
        b.set_columns(vec!["a".into()]).unwrap();
        b.push(vec![Cell::Int(1)]).unwrap();
        b.push(vec![Cell::Int(2)]).unwrap();
        let err = b.push(vec![Cell::Int(3)]).unwrap_err();
        assert!(
            matches!(&err, types::Error::InvalidInput(f) if f.field == "statement" && f.message.contains("max_rows")),
            "{err:?}"
        );
    }

    #[test]
    fn p8_bytes_past_the_byte_cap_are_refused_at_the_row_that_crosses_it() {
        let mut b = RowsBuilder::new(caps(1000, 1024));
        b.set_columns(vec!["blob".into()]).unwrap();
        b.push(vec![Cell::Text("x".repeat(500))]).unwrap();
        let before = b.bytes();
        let err = b.push(vec![Cell::Text("x".repeat(600))]).unwrap_err();
        assert!(
            matches!(&err, types::Error::InvalidInput(f) if f.message.contains("max_result_kib")),
            "{err:?}"
        );
        // The refused row was not taken.
        assert_eq!(b.bytes(), before);
        assert_eq!(b.finish().rows.len(), 1);
        // Rows of a second result set count too.
        let mut b = RowsBuilder::new(caps(1, 1 << 20));
        b.count(&[Cell::Null]).unwrap();
        assert!(b.count(&[Cell::Null]).is_err());
    }

    #[test]
    fn params_name_the_bad_position() {
        let ok = params_from_wit(vec![Value::Integer(1), Value::Text("x".into())]).unwrap();
        assert_eq!(ok, [Param::Int(1), Param::Text("x".into())]);
        let err = params_from_wit(vec![
            Value::Null,
            Value::Date(types::Date {
                year: 2025,
                month: 2,
                day: 30,
            }),
        ])
        .unwrap_err();
        assert!(
            matches!(&err, types::Error::InvalidInput(f) if f.field == "params[1]"),
            "{err:?}"
        );
        let err = params_from_wit(vec![Value::Timestamp(types::Timestamp {
            seconds: i64::MAX,
            nanoseconds: 0,
        })])
        .unwrap_err();
        assert!(matches!(err, types::Error::InvalidInput(_)));
    }

    #[test]
    fn placeholders_are_renamed_outside_literals_and_comments() {
        assert_eq!(
            sqlserver_placeholders(
                r#"SELECT "a$1", [b$2], 'c$3''$4' FROM t WHERE x = $1 AND y IN ($2,$10) -- $5
/* $6 /* $7 */ $8 */ AND z$9 = 1"#
            ),
            r#"SELECT "a$1", [b$2], 'c$3''$4' FROM t WHERE x = @P1 AND y IN (@P2,@P10) -- $5
/* $6 /* $7 */ $8 */ AND z$9 = 1"#
        );
        // Unterminated literals and comments, multibyte text: no panic.
        for s in ["'abc", "/* x", "[", "$", "$$1", "\"", "نام = $1", "--"] {
            let _ = sqlserver_placeholders(s);
        }
        assert_eq!(sqlserver_placeholders("نام = $1"), "نام = @P1");
    }

    #[test]
    fn tds_values_convert_without_panicking_at_the_edges() {
        use tiberius::ColumnData as C;
        assert_eq!(tds_cell(C::I32(Some(7))).unwrap(), Cell::Int(7));
        assert_eq!(tds_cell(C::I64(None)).unwrap(), Cell::Null);
        let d = tds_cell(C::Date(Some(tiberius::time::Date::new(738_000)))).unwrap();
        assert!(matches!(d, Cell::Date(_)));
        let t = tiberius::time::Time::new(u64::MAX, 255);
        let far = tds_cell(C::DateTime2(Some(tiberius::time::DateTime2::new(
            tiberius::time::Date::new(u32::MAX >> 8),
            t,
        ))))
        .unwrap();
        assert_eq!(far, Cell::Null);
        assert!(matches!(
            build_rows(caps(1, 100), vec![], vec![vec![Cell::Float(f64::NAN)]]),
            Err(types::Error::Other(_))
        ));
    }
}
