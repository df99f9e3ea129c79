//! Instance settings (operator config). The password is a secret and is
//! read only when logging in.

use hamgam_sdk::{Date, Error};

use crate::crypto::Serial;

type Result<T> = core::result::Result<T, Error>;

/// The only GenerationVersion whose payloads this connector speaks.
pub const SUPPORTED_GENERATION: i64 = 110;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// e.g. `http://127.0.0.1:7373/api`, without a trailing slash.
    pub base_url: String,
    pub serial: Serial,
    pub username: String,
    pub company_code: Option<String>,
    /// SaleTypeID for prices (S13) and pushed quotes.
    pub sale_type: i64,
    /// StockID for pushed quote lines; none = the first active stock.
    pub stock: Option<i64>,
    pub generation_version: i64,
    pub reconcile_interval_ms: i64,
    /// First day of the date-based invoice and return reads.
    pub documents_from: Date,
    /// S3: also sync employee parties.
    pub sync_employees: bool,
    /// Name of the granted SQL database holding Sepidar's schema.
    pub database: Option<String>,
}

impl Settings {
    /// Reads and checks every setting through `get` (the host's
    /// `config::get`, or a map in tests), naming the first bad one.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |key: &str| {
            get(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let require = |key: &str| {
            get(key).ok_or_else(|| Error::invalid(key, format!("setting `{key}` is not set")))
        };
        let int = |key: &str, default: i64| -> Result<i64> {
            match get(key) {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .map_err(|_| Error::invalid(key, format!("`{v}` is not a whole number"))),
            }
        };
        let company_code = get("company_code");
        if let Some(code) = &company_code {
            let ok = code.parse::<u32>().is_ok_and(|n| (100..=999).contains(&n));
            if !ok {
                return Err(Error::invalid(
                    "company_code",
                    format!("a company code is 100–999, got `{code}`"),
                ));
            }
        }
        let generation_version = int("generation_version", SUPPORTED_GENERATION)?;
        if generation_version != SUPPORTED_GENERATION {
            return Err(Error::VersionMismatch(format!(
                "setting generation_version is {generation_version}, but this connector speaks only GenerationVersion {SUPPORTED_GENERATION}"
            )));
        }
        let documents_from = match get("documents_from") {
            None => Date {
                year: 2000,
                month: 1,
                day: 1,
            },
            Some(v) => v.parse().map_err(|_| {
                Error::invalid("documents_from", format!("`{v}` is not a YYYY-MM-DD date"))
            })?,
        };
        let sync_employees = match get("sync_employees").as_deref() {
            None | Some("false") | Some("0") | Some("no") => false,
            Some("true") | Some("1") | Some("yes") => true,
            Some(v) => {
                return Err(Error::invalid(
                    "sync_employees",
                    format!("`{v}` is not true or false"),
                ));
            }
        };
        let interval = int("reconcile_interval_s", 300)?;
        if interval < 0 {
            return Err(Error::invalid(
                "reconcile_interval_s",
                "must not be negative",
            ));
        }
        Ok(Settings {
            base_url: require("base_url")?.trim_end_matches('/').to_owned(),
            serial: Serial::parse(&require("serial")?)?,
            username: require("username")?,
            company_code,
            sale_type: int("sale_type", 1)?,
            stock: get("stock").map(|_| int("stock", 0)).transpose()?,
            generation_version,
            reconcile_interval_ms: interval.saturating_mul(1000),
            documents_from,
            sync_employees,
            database: get("database"),
        })
    }

    /// Employees are read from SQL only when a database is granted.
    pub fn employees_from_sql(&self) -> bool {
        self.sync_employees && self.database.is_some()
    }

    /// Customers who are employees are skipped when employees are not
    /// synced and the database can tell who they are (S3).
    pub fn filters_employees(&self) -> bool {
        !self.sync_employees && self.database.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const BASE: [(&str, &str); 3] = [
        ("base_url", "http://127.0.0.1:7373/api/"),
        ("serial", "10017ff3"),
        ("username", "crm"),
    ];

    #[test]
    fn defaults() {
        let s = Settings::from_lookup(lookup(&BASE)).unwrap();
        assert_eq!(s.base_url, "http://127.0.0.1:7373/api");
        assert_eq!(s.sale_type, 1);
        assert_eq!(s.stock, None);
        assert_eq!(s.generation_version, 110);
        assert_eq!(s.reconcile_interval_ms, 300_000);
        assert_eq!(s.documents_from.to_string(), "2000-01-01");
        assert!(!s.sync_employees && s.database.is_none());
        assert!(!s.filters_employees());
    }

    #[test]
    fn bad_values_name_their_setting() {
        let mut pairs = BASE.to_vec();
        pairs.push(("company_code", "42"));
        match Settings::from_lookup(lookup(&pairs)) {
            Err(Error::InvalidInput(f)) => assert_eq!(f.field, "company_code"),
            other => panic!("{other:?}"),
        }
        let mut pairs = BASE.to_vec();
        pairs.push(("generation_version", "111"));
        assert!(matches!(
            Settings::from_lookup(lookup(&pairs)),
            Err(Error::VersionMismatch(m)) if m.contains("111") && m.contains("110")
        ));
        match Settings::from_lookup(lookup(&BASE[..2])) {
            Err(Error::InvalidInput(f)) => assert_eq!(f.field, "username"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn employees_and_database() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("database", "sepidar"),
            ("stock", "3"),
            ("company_code", "300"),
        ]);
        let s = Settings::from_lookup(lookup(&pairs)).unwrap();
        assert!(s.filters_employees() && !s.employees_from_sql());
        assert_eq!(s.stock, Some(3));
        pairs.push(("sync_employees", "true"));
        let s = Settings::from_lookup(lookup(&pairs)).unwrap();
        assert!(!s.filters_employees() && s.employees_from_sql());
    }
}
