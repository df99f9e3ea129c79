//! Per-tenant CRM settings: the numbering template of every sequence and the
//! tax/toll rate table. Built from the operator config (`[tenants.<t>.crm]`)
//! with defaults for whatever the operator leaves out.

use super::{DocumentKind, PaymentKind};
use hamgam_domain::{NumberTemplate, RateTable};
use std::collections::BTreeMap;

/// Default templates: a prefix, the Shamsi year (the counter restarts at
/// Nowruz, S18), a fixed-width counter and the company code last (S6, S17).
pub fn default_template(sequence: &str) -> &'static str {
    match sequence {
        "quote" => "QT-{SHYY}-{counter:5}-{company}",
        "sales_order" => "SO-{SHYY}-{counter:5}-{company}",
        "sales_invoice" => "SI-{SHYY}-{counter:6}-{company}",
        "sales_return" => "SR-{SHYY}-{counter:5}-{company}",
        "purchase_invoice" => "PI-{SHYY}-{counter:6}-{company}",
        "purchase_return" => "PR-{SHYY}-{counter:5}-{company}",
        "correction_note" => "CN-{SHYY}-{counter:5}-{company}",
        "receipt" => "RC-{SHYY}-{counter:6}-{company}",
        "payment" => "PY-{SHYY}-{counter:6}-{company}",
        _ => "{SHYY}-{counter}-{company}",
    }
}

/// Every numbering sequence: one per document and payment kind.
pub fn sequences() -> impl Iterator<Item = &'static str> {
    DocumentKind::ALL
        .into_iter()
        .map(|k| k.as_str())
        .chain(PaymentKind::ALL.into_iter().map(|k| k.as_str()))
}

/// One tenant's CRM settings.
#[derive(Debug, Clone)]
pub struct CrmSettings {
    templates: BTreeMap<String, NumberTemplate>,
    /// Tax and toll rates by effective date (H2).
    pub rates: RateTable,
}

impl Default for CrmSettings {
    fn default() -> Self {
        let templates = sequences()
            .filter_map(|s| {
                NumberTemplate::parse(default_template(s))
                    .ok()
                    .map(|t| (s.to_owned(), t))
            })
            .collect();
        CrmSettings {
            templates,
            rates: RateTable::sample_iran(),
        }
    }
}

impl CrmSettings {
    /// Defaults overridden by the operator's templates and rate table.
    pub fn new(templates: BTreeMap<String, NumberTemplate>, rates: Option<RateTable>) -> Self {
        let mut s = CrmSettings::default();
        s.templates.extend(templates);
        if let Some(r) = rates {
            s.rates = r;
        }
        s
    }

    /// The template of a sequence (every known sequence has one).
    pub fn template(&self, sequence: &str) -> Option<&NumberTemplate> {
        self.templates.get(sequence)
    }
}
