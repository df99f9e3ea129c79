//! Which SQL an instance may run: its manifest's declared statements on
//! the databases it declares and the operator grants, reads always, writes
//! only when the operator named them (P2).
//!
//! There is no path from a plugin's own text to a database: `read` and
//! `write` take a statement *name*; the 0.1.0 `query` call takes text but
//! runs it only when it is exactly the text of a declared read.

use crate::config::SqlGrant;
use hamgam_trust::sql_statements::{SqlAccess, SqlCapability, SqlStatement};
use std::collections::BTreeMap;

/// Why the gate refused a statement. Each names what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlRefused {
    /// The database is not declared, or not granted.
    #[error("database `{0}` is not granted to this instance")]
    Database(String),
    /// No declared statement has this name.
    #[error(
        "`{0}` is not a statement this plugin declares; plugins run the statements \
         their manifest declares, by name"
    )]
    NotDeclared(String),
    /// `query` was given text that is not a declared read.
    #[error(
        "SQL text is not accepted: only the exact text of a statement the manifest \
         declares as a read runs (declare it under [[capabilities.sql.statements]] \
         and call sql.read by name)"
    )]
    Text,
    /// A read called as a write or the other way round.
    #[error("statement `{name}` is declared `{declared}`; call it with sql.{declared}")]
    Access {
        /// The statement.
        name: String,
        /// How it is declared.
        declared: SqlAccess,
    },
    /// A declared write the operator did not grant on this database.
    #[error(
        "write statement `{name}` is not granted on database `{database}` \
         (grants.sql.{database}.writes)"
    )]
    WriteNotGranted {
        /// The statement.
        name: String,
        /// The database.
        database: String,
    },
}

/// A statement cleared to run, with the grant it runs under.
#[derive(Debug, Clone, Copy)]
pub struct Cleared<'a> {
    /// Where and under which limits.
    pub grant: &'a SqlGrant,
    /// What runs.
    pub statement: &'a SqlStatement,
}

/// Declared ∩ granted SQL of one instance.
#[derive(Debug, Clone, Default)]
pub struct SqlGate {
    databases: BTreeMap<String, SqlGrant>,
    statements: BTreeMap<String, SqlStatement>,
}

impl SqlGate {
    /// Intersect the manifest's declarations with the operator's grants.
    pub fn new(declared: &SqlCapability, granted: &BTreeMap<String, SqlGrant>) -> SqlGate {
        SqlGate {
            databases: granted
                .iter()
                .filter(|(name, _)| declared.databases.contains(name))
                .map(|(n, g)| (n.clone(), g.clone()))
                .collect(),
            statements: declared
                .statements
                .iter()
                .map(|s| (s.name.clone(), s.clone()))
                .collect(),
        }
    }

    /// Whether `database` is declared and granted.
    pub fn has_database(&self, database: &str) -> bool {
        self.databases.contains_key(database)
    }

    /// The declared read `name` on `database`.
    pub fn read(&self, database: &str, name: &str) -> Result<Cleared<'_>, SqlRefused> {
        let grant = self.grant(database)?;
        let statement = self.declared(name, SqlAccess::Read)?;
        Ok(Cleared { grant, statement })
    }

    /// The declared write `name` on `database`, if the operator granted it.
    pub fn write(&self, database: &str, name: &str) -> Result<Cleared<'_>, SqlRefused> {
        let grant = self.grant(database)?;
        let statement = self.declared(name, SqlAccess::Write)?;
        if !grant.writes.iter().any(|w| w == name) {
            return Err(SqlRefused::WriteNotGranted {
                name: name.into(),
                database: database.into(),
            });
        }
        Ok(Cleared { grant, statement })
    }

    /// The declared read whose text is exactly `text` (the 0.1.0 `query`).
    pub fn read_text(&self, database: &str, text: &str) -> Result<Cleared<'_>, SqlRefused> {
        let grant = self.grant(database)?;
        let statement = self
            .statements
            .values()
            .find(|s| s.access == SqlAccess::Read && s.text == text)
            .ok_or(SqlRefused::Text)?;
        Ok(Cleared { grant, statement })
    }

    fn grant(&self, database: &str) -> Result<&SqlGrant, SqlRefused> {
        self.databases
            .get(database)
            .ok_or_else(|| SqlRefused::Database(database.into()))
    }

    fn declared(&self, name: &str, access: SqlAccess) -> Result<&SqlStatement, SqlRefused> {
        let s = self
            .statements
            .get(name)
            .ok_or_else(|| SqlRefused::NotDeclared(name.into()))?;
        if s.access != access {
            return Err(SqlRefused::Access {
                name: name.into(),
                declared: s.access,
            });
        }
        Ok(s)
    }
}

/// The config check of one `grants.sql.<database>` entry against the
/// manifest: the database is declared and every granted write is a
/// declared write. The message starts with the config key.
pub fn check_grant(
    declared: &SqlCapability,
    database: &str,
    grant: &SqlGrant,
) -> Result<(), String> {
    if !declared.databases.iter().any(|d| d == database) {
        return Err(format!(
            "grants.sql.{database}: the plugin does not declare that database"
        ));
    }
    for name in &grant.writes {
        match declared.statement(name) {
            None => {
                return Err(format!(
                    "grants.sql.{database}.writes: the plugin does not declare a statement `{name}`"
                ));
            }
            Some(s) if s.access != SqlAccess::Write => {
                return Err(format!(
                    "grants.sql.{database}.writes: `{name}` is declared `{}`, not `write`",
                    s.access
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SecretRef, SqlBackendKind};

    fn caps() -> SqlCapability {
        let st = |name: &str, text: &str, access| SqlStatement {
            name: name.into(),
            text: text.into(),
            access,
        };
        SqlCapability {
            databases: vec!["ledger".into()],
            statements: vec![
                st(
                    "stock",
                    "SELECT q FROM stock WHERE id = $1",
                    SqlAccess::Read,
                ),
                st("post", "INSERT INTO v VALUES ($1)", SqlAccess::Write),
                st("purge", "DELETE FROM v", SqlAccess::Write),
            ],
        }
    }

    fn grant(writes: &[&str]) -> SqlGrant {
        let mut g = SqlGrant::new(SqlBackendKind::Postgres, SecretRef::Value("x".into()));
        g.writes = writes.iter().map(|s| s.to_string()).collect();
        g
    }

    fn gate(writes: &[&str]) -> SqlGate {
        let mut granted = BTreeMap::new();
        granted.insert("ledger".to_string(), grant(writes));
        granted.insert("other".to_string(), grant(&[]));
        SqlGate::new(&caps(), &granted)
    }

    #[test]
    fn p2_t_sql_attack_strings_never_reach_a_database() {
        let g = gate(&["post"]);
        for attack in [
            "SELECT 1 DELETE FROM t",
            "WITH c AS (SELECT 1 a) DELETE FROM t",
            "SELECT * INTO t2 FROM t",
            "SELECT 1 EXEC xp_cmdshell 'whoami'",
        ] {
            assert_eq!(g.read_text("ledger", attack).unwrap_err(), SqlRefused::Text);
            assert!(matches!(
                g.read("ledger", attack),
                Err(SqlRefused::NotDeclared(_))
            ));
            assert!(matches!(
                g.write("ledger", attack),
                Err(SqlRefused::NotDeclared(_))
            ));
        }
        // A declared write's text is not a read either.
        assert_eq!(
            g.read_text("ledger", "INSERT INTO v VALUES ($1)")
                .unwrap_err(),
            SqlRefused::Text
        );
        assert!(
            g.read_text("ledger", "SELECT q FROM stock WHERE id = $1")
                .is_ok()
        );
    }

    #[test]
    fn p2_writes_need_the_operator_to_name_them() {
        let g = gate(&["post"]);
        assert!(g.write("ledger", "post").is_ok());
        let refused = g.write("ledger", "purge").unwrap_err();
        assert!(refused.to_string().contains("`purge`"), "{refused}");
        // `other` is granted by the operator but not declared by the plugin.
        assert!(matches!(
            g.write("other", "post"),
            Err(SqlRefused::Database(_))
        ));
        assert!(matches!(
            g.write("ledger", "stock"),
            Err(SqlRefused::Access { .. })
        ));
        assert!(matches!(
            g.read("ledger", "post"),
            Err(SqlRefused::Access { .. })
        ));
        // Undeclared database: nothing, whatever the operator granted.
        assert!(!g.has_database("other"));
        assert!(matches!(
            g.read("other", "stock"),
            Err(SqlRefused::Database(_))
        ));
    }

    #[test]
    fn p2_a_grant_of_an_undeclared_statement_fails_the_config_check() {
        assert!(check_grant(&caps(), "ledger", &grant(&["post"])).is_ok());
        let err = check_grant(&caps(), "ledger", &grant(&["drop-all"])).unwrap_err();
        assert!(
            err.contains("grants.sql.ledger.writes") && err.contains("drop-all"),
            "{err}"
        );
        let err = check_grant(&caps(), "ledger", &grant(&["stock"])).unwrap_err();
        assert!(err.contains("`read`"), "{err}");
        assert!(check_grant(&caps(), "elsewhere", &grant(&[])).is_err());
    }
}
