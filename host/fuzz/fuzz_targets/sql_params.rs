//! A plugin's SQL parameters as the host binds them, and a declared
//! statement's text as the host rewrites it for SQL Server: any values a
//! guest can send (decimal scales past 28, impossible dates, timestamps
//! out of range) become a parameter or a field-named error, never a panic.
#![no_main]
use arbitrary::Arbitrary;
use hamgam::runtime::bindings::platform::sql::Value;
use hamgam::runtime::bindings::types;
use hamgam::runtime::sql_convert::{params_from_wit, sqlserver_placeholders};
use libfuzzer_sys::fuzz_target;

/// The WIT `value` variant, field for field.
#[derive(Arbitrary, Debug)]
enum Guest {
    Null,
    Boolean(bool),
    Integer(i64),
    Number {
        mantissa_lo: u64,
        mantissa_hi: u32,
        negative: bool,
        scale: u8,
    },
    Text(String),
    Bytes(Vec<u8>),
    Date {
        year: i32,
        month: u8,
        day: u8,
    },
    Timestamp {
        seconds: i64,
        nanoseconds: u32,
    },
}

impl From<Guest> for Value {
    fn from(g: Guest) -> Value {
        match g {
            Guest::Null => Value::Null,
            Guest::Boolean(b) => Value::Boolean(b),
            Guest::Integer(i) => Value::Integer(i),
            Guest::Number {
                mantissa_lo,
                mantissa_hi,
                negative,
                scale,
            } => Value::Number(types::Decimal {
                mantissa_lo,
                mantissa_hi,
                negative,
                scale,
            }),
            Guest::Text(s) => Value::Text(s),
            Guest::Bytes(b) => Value::Bytes(b),
            Guest::Date { year, month, day } => Value::Date(types::Date { year, month, day }),
            Guest::Timestamp {
                seconds,
                nanoseconds,
            } => Value::Timestamp(types::Timestamp {
                seconds,
                nanoseconds,
            }),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    params: Vec<Guest>,
    statement: String,
}

fuzz_target!(|input: Input| {
    let n = input.params.len();
    let values: Vec<Value> = input.params.into_iter().map(Value::from).collect();
    if let Ok(bound) = params_from_wit(values) {
        assert_eq!(bound.len(), n, "a parameter was lost or invented");
    }
    let rewritten = sqlserver_placeholders(&input.statement);
    if !input.statement.contains('$') {
        assert_eq!(rewritten, input.statement, "text without placeholders changed");
    }
});
