//! Host-mediated SQL against a database the operator granted to this
//! instance by name. The host holds the connection and credentials.
//!
//! A plugin runs only the statements its `plugin.toml` declares, by name:
//!
//! ```toml
//! [capabilities.sql]
//! databases = ["ledger"]
//!
//! [[capabilities.sql.statements]]
//! name = "stock-by-product"
//! access = "read"
//! text = "SELECT warehouse, quantity FROM stock WHERE product_id = $1"
//! ```
//!
//! ```ignore
//! let rows = sql::read("ledger", "stock-by-product", &[Value::Text(id)])?;
//! ```
//!
//! Parameters are numbered `$1`, `$2`… in every declared text, also for
//! SQL Server (the host renames them). A read runs in a transaction the
//! host rolls back; a write runs in its own transaction and only when the
//! operator granted it by name. A result larger than the grant's
//! `max_rows` or `max_result_kib` is refused: page with `OFFSET … FETCH`
//! parameters.

pub use crate::platform::sql::{Rows, Value};

use crate::{Decimal, Result};

/// Run the declared read statement `name` against the granted `database`.
pub fn read(database: &str, name: &str, params: &[Value]) -> Result<Rows> {
    crate::platform::sql::read(database, name, params)
}

/// Run the declared write statement `name` against the granted `database`;
/// the number of rows it changed. Refused (`denied`, naming the statement)
/// unless the operator granted this write.
pub fn write(database: &str, name: &str, params: &[Value]) -> Result<u64> {
    crate::platform::sql::write(database, name, params)
}

/// The 0.1.0 call: runs the declared read whose text is exactly
/// `statement`, and refuses any other text. Prefer [`read`].
pub fn query(database: &str, statement: &str, params: &[Value]) -> Result<Rows> {
    crate::platform::sql::query(database, statement, params)
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
