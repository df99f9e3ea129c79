//! Per-tenant CRM settings: the numbering template of every sequence and the
//! tax/toll rate table. Built from the operator config (`[tenants.<t>.crm]`)
//! with defaults for whatever the operator leaves out.

use super::kinds::EntityKind;
use super::{DocumentKind, PaymentKind};
use hamgam_domain::{NumberTemplate, RateTable};
use std::collections::BTreeMap;

/// Default templates: a prefix, the Shamsi year (the counter restarts at
/// Nowruz, S18), a fixed-width counter and the company code last (S6, S17).
pub fn default_template(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Quote => "QT-{SHYY}-{counter:5}-{company}",
        EntityKind::SalesOrder => "SO-{SHYY}-{counter:5}-{company}",
        EntityKind::SalesInvoice => "SI-{SHYY}-{counter:6}-{company}",
        EntityKind::SalesReturn => "SR-{SHYY}-{counter:5}-{company}",
        EntityKind::PurchaseInvoice => "PI-{SHYY}-{counter:6}-{company}",
        EntityKind::PurchaseReturn => "PR-{SHYY}-{counter:5}-{company}",
        EntityKind::CorrectionNote => "CN-{SHYY}-{counter:5}-{company}",
        EntityKind::Receipt => "RC-{SHYY}-{counter:6}-{company}",
        EntityKind::Payment => "PY-{SHYY}-{counter:6}-{company}",
        // Parties and products are not numbered by a sequence.
        EntityKind::Party | EntityKind::Product => "{SHYY}-{counter}-{company}",
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
        let templates = DocumentKind::ALL
            .into_iter()
            .map(EntityKind::from)
            .chain(PaymentKind::ALL.into_iter().map(EntityKind::from))
            .filter_map(|kind| {
                NumberTemplate::parse(default_template(kind))
                    .ok()
                    .map(|t| (kind.as_str().to_owned(), t))
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
