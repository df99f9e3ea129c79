//! Host-mediated, read-only SQL against a database the operator granted to
//! this instance by name. The host holds the connection and credentials.

pub use crate::wit::hamgam::platform::sql::{Rows, Value};

use crate::{Decimal, Result};

/// Run a read query with positional parameters (`@P1`… for SQL Server,
/// `$1`… for PostgreSQL) against the granted database `database`.
pub fn query(database: &str, statement: &str, params: &[Value]) -> Result<Rows> {
    crate::wit::hamgam::platform::sql::query(database, statement, params)
}

impl Rows {
    /// The position of column `name` (ASCII case-insensitive, as SQL
    /// Server and PostgreSQL fold unquoted names differently).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.eq_ignore_ascii_case(name))
    }
}

impl Value {
    /// The text, when this is a `text` value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The number as a decimal, when this is an `integer` or `number` value.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Integer(n) => Some(Decimal::from_i64(*n)),
            Value::Number(d) => Some(*d),
            _ => None,
        }
    }

    /// The integer, when this is an `integer` value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }
}
