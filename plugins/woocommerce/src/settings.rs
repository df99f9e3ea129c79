//! Instance settings (operator config). The consumer key and secret and
//! the webhook secret are secrets, read only where they are used.

use hamgam_sdk::Error;
use rust_decimal::Decimal;

type Result<T> = core::result::Result<T, Error>;

/// Which billing field identifies a guest (a shopper without an account).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchBy {
    Email,
    Phone,
}

/// Which CRM document an imported order becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrdersAs {
    SalesInvoice,
    SalesOrder,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// e.g. `http://127.0.0.1:7380/wp-json/wc/v3`, without a trailing slash.
    pub base_url: String,
    pub company_code: Option<String>,
    pub match_by: MatchBy,
    pub orders_as: OrdersAs,
    /// Set explicitly; `None` = 10 for an IRT shop, 1 otherwise.
    pub rial_factor: Option<Decimal>,
    pub reconcile_interval_ms: i64,
    pub paid_statuses: Vec<String>,
    pub import_statuses: Vec<String>,
    /// Guests are numbered `guest_number_base + <their first order id>`.
    pub guest_number_base: i64,
    /// Registered customers are numbered `customer_number_base + <id>`, so
    /// they never take the number of a ledger customer.
    pub customer_number_base: i64,
    /// Put before the shop's order numbers in CRM document numbers, so an
    /// order never takes the number of a ledger invoice (`WC-727`).
    pub number_prefix: String,
    /// Push prices and stock of mapped products to the shop.
    pub push_stock: bool,
    /// Our webhook receiver; webhooks whose delivery URL contains it are ours.
    pub webhook_url: Option<String>,
    /// Least time between two webhook health checks.
    pub webhook_check_ms: i64,
    /// The shop's currency when the operator states it (else asked from
    /// the shop when a product price is pushed).
    pub currency: Option<String>,
}

/// Statuses never imported, whatever `import_statuses` says: Checkout-Block
/// drafts fire `order.created` when a shopper merely opens the checkout
/// (woocommerce#37958), and `pending` is an unpaid attempt.
pub const NEVER_IMPORTED: [&str; 2] = ["checkout-draft", "pending"];

impl Settings {
    /// Reads and checks every setting through `get` (the host's
    /// `config::get`, or a map in tests), naming the first bad one.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |key: &str| {
            get(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let int = |key: &str, default: i64| -> Result<i64> {
            match get(key) {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .map_err(|_| Error::invalid(key, format!("`{v}` is not a whole number"))),
            }
        };
        let list = |key: &str, default: &str| -> Vec<String> {
            get(key)
                .unwrap_or_else(|| default.to_owned())
                .split(',')
                .map(|s| s.trim().trim_start_matches("wc-").to_ascii_lowercase())
                .filter(|s| !s.is_empty() && !NEVER_IMPORTED.contains(&s.as_str()))
                .collect()
        };
        let base_url = get("base_url")
            .ok_or_else(|| Error::invalid("base_url", "setting `base_url` is not set"))?
            .trim_end_matches('/')
            .to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(Error::invalid(
                "base_url",
                format!("`{base_url}` is not an http(s) URL"),
            ));
        }
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
        let match_by = match get("match_by").as_deref() {
            None | Some("email") => MatchBy::Email,
            Some("phone") => MatchBy::Phone,
            Some(v) => {
                return Err(Error::invalid(
                    "match_by",
                    format!("`{v}` is not `email` or `phone`"),
                ));
            }
        };
        let orders_as = match get("orders_as").as_deref() {
            None | Some("sales_invoice") | Some("sales-invoice") => OrdersAs::SalesInvoice,
            Some("sales_order") | Some("sales-order") => OrdersAs::SalesOrder,
            Some(v) => {
                return Err(Error::invalid(
                    "orders_as",
                    format!("`{v}` is not `sales_invoice` or `sales_order`"),
                ));
            }
        };
        let rial_factor = match get("rial_factor") {
            None => None,
            Some(v) => match Decimal::from_str_exact(&v) {
                Ok(d) if d > Decimal::ZERO => Some(d),
                _ => {
                    return Err(Error::invalid(
                        "rial_factor",
                        format!("`{v}` is not a positive number"),
                    ));
                }
            },
        };
        let interval = int("reconcile_interval_s", 300)?;
        if interval < 0 {
            return Err(Error::invalid(
                "reconcile_interval_s",
                "must not be negative",
            ));
        }
        let guest_number_base = int("guest_number_base", 1_000_000)?;
        if guest_number_base < 0 {
            return Err(Error::invalid("guest_number_base", "must not be negative"));
        }
        let customer_number_base = int("customer_number_base", 2_000_000)?;
        if customer_number_base < 0 {
            return Err(Error::invalid(
                "customer_number_base",
                "must not be negative",
            ));
        }
        let number_prefix = get("number_prefix").unwrap_or_else(|| "WC-".to_owned());
        if number_prefix.contains('/') || number_prefix.chars().any(char::is_whitespace) {
            return Err(Error::invalid(
                "number_prefix",
                format!("`{number_prefix}` may not contain `/` or spaces"),
            ));
        }
        let webhook_check_s = int("webhook_check_s", 60)?;
        if webhook_check_s < 0 {
            return Err(Error::invalid("webhook_check_s", "must not be negative"));
        }
        let push_stock = match get("push_stock").as_deref() {
            None | Some("false") | Some("0") | Some("no") => false,
            Some("true") | Some("1") | Some("yes") => true,
            Some(v) => {
                return Err(Error::invalid(
                    "push_stock",
                    format!("`{v}` is not true or false"),
                ));
            }
        };
        Ok(Settings {
            base_url,
            company_code,
            match_by,
            orders_as,
            rial_factor,
            reconcile_interval_ms: interval.saturating_mul(1000),
            paid_statuses: list("paid_statuses", "processing,completed"),
            import_statuses: list("import_statuses", "processing,completed,on-hold"),
            guest_number_base,
            customer_number_base,
            number_prefix,
            push_stock,
            webhook_url: get("webhook_url"),
            webhook_check_ms: webhook_check_s.saturating_mul(1000),
            currency: get("currency").map(|c| c.to_ascii_uppercase()),
        })
    }

    pub fn is_https(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    /// An order of this status becomes a sales invoice (or order). A
    /// refunded order was paid and stays imported: its refunds are returns.
    pub fn imports(&self, status: &str) -> bool {
        !NEVER_IMPORTED.contains(&status)
            && (self.import_statuses.iter().any(|s| s == status) || status == "refunded")
    }

    /// An order of this status was paid: it gets a receipt. A refunded
    /// order counts when the shop recorded a payment date.
    pub fn paid(&self, status: &str, date_paid: Option<&str>) -> bool {
        !NEVER_IMPORTED.contains(&status)
            && (self.paid_statuses.iter().any(|s| s == status)
                || (status == "refunded" && date_paid.is_some_and(|d| !d.is_empty())))
    }

    /// `<number>-<company>`, or the bare number without a company code.
    pub fn numbered(&self, number: &str) -> String {
        match &self.company_code {
            Some(company) => format!("{number}-{company}"),
            None => number.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    pub fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults() {
        let s = Settings::from_lookup(lookup(&[(
            "base_url",
            "http://127.0.0.1:7380/wp-json/wc/v3/",
        )]))
        .unwrap();
        assert_eq!(s.base_url, "http://127.0.0.1:7380/wp-json/wc/v3");
        assert!(!s.is_https());
        assert_eq!(s.match_by, MatchBy::Email);
        assert_eq!(s.orders_as, OrdersAs::SalesInvoice);
        assert_eq!(s.rial_factor, None);
        assert_eq!(s.reconcile_interval_ms, 300_000);
        assert_eq!(s.paid_statuses, vec!["processing", "completed"]);
        assert_eq!(
            s.import_statuses,
            vec!["processing", "completed", "on-hold"]
        );
        assert_eq!(s.guest_number_base, 1_000_000);
        assert!(!s.push_stock);
        assert_eq!(s.numbered("42"), "42");
    }

    #[test]
    fn drafts_and_pending_are_never_imported_even_when_listed() {
        let s = Settings::from_lookup(lookup(&[
            ("base_url", "https://shop.example/wp-json/wc/v3"),
            (
                "import_statuses",
                "processing, pending,checkout-draft,wc-on-hold",
            ),
            ("company_code", "300"),
        ]))
        .unwrap();
        assert_eq!(s.import_statuses, vec!["processing", "on-hold"]);
        assert!(s.imports("on-hold") && s.imports("refunded"));
        assert!(!s.imports("pending") && !s.imports("checkout-draft"));
        assert!(!s.imports("cancelled"));
        assert!(s.paid("processing", None));
        assert!(!s.paid("on-hold", None));
        assert!(s.paid("refunded", Some("2025-01-01T10:00:00")));
        assert!(!s.paid("refunded", None));
        assert_eq!(s.numbered("42"), "42-300");
    }

    #[test]
    fn bad_values_name_their_setting() {
        for (key, value) in [
            ("company_code", "42"),
            ("match_by", "name"),
            ("orders_as", "quote"),
            ("rial_factor", "-10"),
            ("reconcile_interval_s", "soon"),
            ("push_stock", "maybe"),
        ] {
            let got = Settings::from_lookup(lookup(&[
                ("base_url", "http://x/wp-json/wc/v3"),
                (key, value),
            ]));
            match got {
                Err(Error::InvalidInput(f)) => assert_eq!(f.field, key),
                other => panic!("{key}: {other:?}"),
            }
        }
        match Settings::from_lookup(lookup(&[])) {
            Err(Error::InvalidInput(f)) => assert_eq!(f.field, "base_url"),
            other => panic!("{other:?}"),
        }
    }
}
