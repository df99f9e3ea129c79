//! The SQL part of a manifest's capabilities: which databases a plugin
//! names, and every statement it may ever run there (P2).
//!
//! A plugin never sends SQL text of its own. Its manifest, which the
//! bundle's signature covers, declares each statement once with a name,
//! its text and whether it reads or writes; at run time the plugin names
//! the statement and passes parameter values. So what can run against a
//! customer's ledger database is fixed when the vendor signs the plugin,
//! and a reviewer reads it in `plugin.toml`, not in the plugin's code.
//!
//! ```toml
//! [capabilities.sql]
//! databases = ["sepidar"]
//!
//! [[capabilities.sql.statements]]
//! name = "receipt-by-id"
//! access = "read"
//! text = 'SELECT "Number" FROM "RPA"."ReceiptHeader" WHERE "ReceiptHeaderId" = $1'
//! ```
//!
//! Manifests of 0.1.0 plugins wrote `sql = ["db"]` (databases only); that
//! form still parses, as databases with no statements, so those plugins
//! load but can run nothing.

use serde::{Deserialize, Deserializer, Serialize};

/// Longest statement text a manifest may declare, in bytes.
pub const MAX_STATEMENT_BYTES: usize = 64 * 1024;

/// Whether a declared statement reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SqlAccess {
    /// Runs inside a transaction the host always rolls back.
    Read,
    /// Runs inside a transaction that commits, and only when the operator
    /// granted this statement by name.
    Write,
}

impl std::fmt::Display for SqlAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SqlAccess::Read => "read",
            SqlAccess::Write => "write",
        })
    }
}

/// One declared statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlStatement {
    /// What the plugin calls it by: lowercase letters, digits and dashes.
    pub name: String,
    /// The SQL, with parameters numbered `$1`, `$2`… (the host renames
    /// them for SQL Server).
    pub text: String,
    /// Read or write.
    pub access: SqlAccess,
}

/// `capabilities.sql`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SqlCapability {
    /// Database names; the operator maps each to a real connection.
    pub databases: Vec<String>,
    /// The statements the plugin may run, by name.
    pub statements: Vec<SqlStatement>,
}

impl SqlCapability {
    /// The declared statement called `name`.
    pub fn statement(&self, name: &str) -> Option<&SqlStatement> {
        self.statements.iter().find(|s| s.name == name)
    }

    /// The first rule the declarations break, as (field, message).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        for db in &self.databases {
            if db.is_empty() || db.len() > 64 {
                return Err((
                    "capabilities.sql.databases",
                    format!("`{db}` must be 1–64 characters"),
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.statements {
            let name_ok = !s.name.is_empty()
                && s.name.len() <= 64
                && s.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !name_ok {
                return Err((
                    "capabilities.sql.statements.name",
                    format!(
                        "`{}` must be 1–64 lowercase letters, digits or dashes",
                        s.name
                    ),
                ));
            }
            if !seen.insert(s.name.as_str()) {
                return Err((
                    "capabilities.sql.statements.name",
                    format!("`{}` is declared twice", s.name),
                ));
            }
            if s.text.trim().is_empty() {
                return Err((
                    "capabilities.sql.statements.text",
                    format!("statement `{}` has no text", s.name),
                ));
            }
            if s.text.len() > MAX_STATEMENT_BYTES {
                return Err((
                    "capabilities.sql.statements.text",
                    format!(
                        "statement `{}` is longer than {MAX_STATEMENT_BYTES} bytes",
                        s.name
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for SqlCapability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            #[serde(default)]
            databases: Vec<String>,
            #[serde(default)]
            statements: Vec<SqlStatement>,
        }
        // The two forms are told apart by the value's shape, so an error in
        // the table form (a misspelt key, a bad `access`) is reported as
        // such rather than as "no variant matched".
        match toml::Value::deserialize(d)? {
            toml::Value::Array(items) => {
                let databases =
                    Vec::<String>::deserialize(toml::Value::Array(items)).map_err(|_| {
                        serde::de::Error::custom(
                            "`capabilities.sql` as a list holds database names (strings)",
                        )
                    })?;
                Ok(SqlCapability {
                    databases,
                    statements: Vec::new(),
                })
            }
            other => {
                let t = Table::deserialize(other).map_err(serde::de::Error::custom)?;
                Ok(SqlCapability {
                    databases: t.databases,
                    statements: t.statements,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Wrap {
        sql: SqlCapability,
    }

    #[test]
    fn both_forms_parse() {
        let old: Wrap = toml::from_str(r#"sql = ["ledger"]"#).unwrap();
        assert_eq!(old.sql.databases, ["ledger"]);
        assert!(old.sql.statements.is_empty());
        let new: Wrap = toml::from_str(
            r#"
[sql]
databases = ["ledger"]
[[sql.statements]]
name = "stock"
access = "read"
text = "SELECT 1"
[[sql.statements]]
name = "post"
access = "write"
text = "INSERT INTO t VALUES ($1)"
"#,
        )
        .unwrap();
        assert_eq!(new.sql.statements.len(), 2);
        assert_eq!(new.sql.statement("post").unwrap().access, SqlAccess::Write);
        assert!(new.sql.check().is_ok());
    }

    #[test]
    fn bad_declarations_name_the_rule() {
        let bad = toml::from_str::<Wrap>(
            "[sql]\n[[sql.statements]]\nname = \"x\"\naccess = \"delete\"\ntext = \"t\"",
        )
        .err()
        .unwrap()
        .to_string();
        assert!(bad.contains("delete"), "{bad}");
        let bad = toml::from_str::<Wrap>("[sql]\ndatabse = [\"x\"]")
            .err()
            .unwrap()
            .to_string();
        assert!(bad.contains("databse"), "{bad}");
        let twice = SqlCapability {
            databases: vec![],
            statements: vec![
                SqlStatement {
                    name: "a".into(),
                    text: "SELECT 1".into(),
                    access: SqlAccess::Read,
                };
                2
            ],
        };
        assert!(twice.check().unwrap_err().1.contains("twice"));
        let caps = SqlCapability {
            databases: vec![],
            statements: vec![SqlStatement {
                name: "Bad Name".into(),
                text: "SELECT 1".into(),
                access: SqlAccess::Read,
            }],
        };
        assert_eq!(
            caps.check().unwrap_err().0,
            "capabilities.sql.statements.name"
        );
    }
}
