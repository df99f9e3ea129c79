//! The rows a database streams back, as the host turns them into what the
//! plugin receives: whatever the cells (floats that are not numbers, huge
//! text), the result holds at most the grant's rows and bytes, and a cell
//! the plugin cannot be given is an error, never a panic.
#![no_main]
use arbitrary::Arbitrary;
use chrono::NaiveDate;
use hamgam::runtime::sql_convert::{Caps, Cell, build_rows};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;

#[derive(Arbitrary, Debug)]
enum Db {
    Null,
    Bool(bool),
    Int(i64),
    Decimal([u8; 16]),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Date(i32),
    Timestamp(i64, u32),
}

impl Db {
    fn cell(self) -> Option<Cell> {
        Some(match self {
            Db::Null => Cell::Null,
            Db::Bool(b) => Cell::Bool(b),
            Db::Int(i) => Cell::Int(i),
            Db::Decimal(bytes) => {
                let mut b = bytes;
                // rust_decimal's serialised form keeps the scale in byte 2;
                // an out-of-range scale is not a value a driver can give.
                b[2] %= 29;
                Cell::Decimal(Decimal::deserialize(b))
            }
            Db::Float(f) => Cell::Float(f),
            Db::Text(s) => Cell::Text(s),
            Db::Bytes(b) => Cell::Bytes(b),
            Db::Date(days) => Cell::Date(NaiveDate::from_num_days_from_ce_opt(days)?),
            Db::Timestamp(s, ns) => {
                Cell::Timestamp(chrono::DateTime::from_timestamp(s, ns)?.naive_utc())
            }
        })
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    max_rows: u8,
    max_bytes: u16,
    columns: Vec<String>,
    rows: Vec<Vec<Db>>,
}

fuzz_target!(|input: Input| {
    let caps = Caps {
        max_rows: usize::from(input.max_rows),
        max_bytes: usize::from(input.max_bytes),
    };
    let rows: Vec<Vec<Cell>> = input
        .rows
        .into_iter()
        .map(|r| r.into_iter().filter_map(Db::cell).collect())
        .collect();
    let sizes: Vec<usize> = rows
        .iter()
        .map(|r| r.iter().map(Cell::size).sum())
        .collect();
    let names: usize = input.columns.iter().map(String::len).sum();
    if let Ok(result) = build_rows(caps, input.columns, rows) {
        assert!(result.rows.len() <= caps.max_rows);
        let held = names + sizes.iter().sum::<usize>();
        assert!(held <= caps.max_bytes, "{held} bytes under a {} cap", caps.max_bytes);
    }
});
