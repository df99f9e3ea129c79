//! Translation between the WIT records a connector speaks and the CRM's
//! records, with the seed rules that belong to the translation itself:
//! phone types (S5), company codes in numbers (S17), fiscal years in
//! ledger numbers (S18), and the totals check of documents from a ledger.

use crate::crm::kinds::{CompanyCode, EntityKind};
use crate::crm::{
    Address, Document, DocumentKind, Line, NewDocument, NewParty, NewPayment, NewProduct, Party,
    PartyInput, PartyKind, PaymentKind, PaymentMethod, PhoneInput, PhoneType, ProductInput,
    Settlement, Totals, check_settlements,
};
use crate::runtime::bindings::types as wit;
use crate::runtime::sql::{from_wit_decimal, to_wit_decimal};
use hamgam_domain::{
    Currency, Decimal, JalaliDate, Rule, TotalsError, ValidationError, normalize_phone,
    round_half_away,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

fn invalid(field: impl Into<String>, rule: Rule, message: impl Into<String>) -> ValidationError {
    ValidationError::new(field, rule, message)
}

/// The engine's name for a WIT entity kind (also the link's `kind`): the
/// CRM kind's stored name where the CRM has the kind, the ledger's own
/// word for the kinds only a ledger has.
pub fn kind_name(kind: wit::EntityKind) -> &'static str {
    use wit::EntityKind as K;
    match kind {
        K::Party => EntityKind::Party.as_str(),
        K::Product => EntityKind::Product.as_str(),
        K::Quote => EntityKind::Quote.as_str(),
        K::SalesOrder => EntityKind::SalesOrder.as_str(),
        K::SalesInvoice => EntityKind::SalesInvoice.as_str(),
        K::SalesReturn => EntityKind::SalesReturn.as_str(),
        K::PurchaseInvoice => EntityKind::PurchaseInvoice.as_str(),
        K::PurchaseReturn => EntityKind::PurchaseReturn.as_str(),
        K::Receipt => EntityKind::Receipt.as_str(),
        K::Payment => EntityKind::Payment.as_str(),
        K::CorrectionNote => EntityKind::CorrectionNote.as_str(),
        K::WarehouseReceipt => "warehouse_receipt",
        K::WarehouseReturn => "warehouse_return",
        K::WarehouseIssue => "warehouse_issue",
        K::WarehouseTransfer => "warehouse_transfer",
        K::Stock => "stock",
    }
}

/// Where records of a ledger kind land in the CRM. S15: warehouse receipts
/// become purchase invoices and warehouse return receipts purchase returns.
/// Kinds the CRM does not keep (stock movements) map to none.
pub fn local_kind(kind: wit::EntityKind) -> Option<EntityKind> {
    use wit::EntityKind as K;
    Some(match kind {
        K::Party => EntityKind::Party,
        K::Product => EntityKind::Product,
        K::Quote => EntityKind::Quote,
        K::SalesOrder => EntityKind::SalesOrder,
        K::SalesInvoice => EntityKind::SalesInvoice,
        K::SalesReturn => EntityKind::SalesReturn,
        K::PurchaseInvoice | K::WarehouseReceipt => EntityKind::PurchaseInvoice,
        K::PurchaseReturn | K::WarehouseReturn => EntityKind::PurchaseReturn,
        K::Receipt => EntityKind::Receipt,
        K::Payment => EntityKind::Payment,
        K::CorrectionNote => EntityKind::CorrectionNote,
        K::WarehouseIssue | K::WarehouseTransfer | K::Stock => return None,
    })
}

/// Dependency order of a sync run: parties and products before the
/// documents that refer to them, invoices before returns and receipts.
pub fn order(kind: wit::EntityKind) -> u8 {
    use wit::EntityKind as K;
    match kind {
        K::Party => 0,
        K::Product => 1,
        K::Quote | K::SalesOrder => 2,
        K::SalesInvoice | K::PurchaseInvoice | K::WarehouseReceipt => 3,
        K::SalesReturn | K::PurchaseReturn | K::WarehouseReturn | K::CorrectionNote => 4,
        K::Receipt | K::Payment => 5,
        K::WarehouseIssue | K::WarehouseTransfer | K::Stock => 6,
    }
}

/// A stable fingerprint of a ledger record, to skip records that did not
/// change since the last pull. WIT records derive `Debug` field by field,
/// which is deterministic for a given record.
pub fn content_hash(entity: &wit::Entity, version: Option<&str>) -> String {
    use std::fmt::Write as _;
    thread_local! {
        /// The formatted record, reused: `Debug` writes many short pieces,
        /// and feeding each to the digest on its own costs more than
        /// copying them into one buffer hashed at once.
        static TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    let mut h = Sha256::new();
    TEXT.with_borrow_mut(|text| {
        text.clear();
        // Writing into a String cannot fail.
        let _ = write!(text, "{entity:?}");
        h.update(text.as_bytes());
    });
    h.update([0]);
    h.update(version.unwrap_or("").as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// `625` → `625-300` (S6, S17). A number that already ends in the company
/// code is kept.
pub fn with_company(number: &str, company: CompanyCode) -> String {
    let suffix = format!("-{company}");
    if number.ends_with(&suffix) {
        number.to_owned()
    } else {
        format!("{number}{suffix}")
    }
}

/// The CRM number of a ledger document: `<Jalali year>/<ledger number>-<company>`.
/// Ledgers restart their numbers every fiscal year, so the year keeps two
/// years' invoice 15 apart (S17, S18).
pub fn ledger_document_number(date: JalaliDate, number: &str, company: CompanyCode) -> String {
    with_company(&format!("{}/{number}", date.year()), company)
}

/// The result of a checked decimal operation, or a range error naming the
/// field: a connector may send amounts near `Decimal::MAX`, and a panic on
/// them would take the queue worker down with the record (issue 13 §6).
fn fits(field: impl Into<String>, value: Option<Decimal>) -> Result<Decimal, ValidationError> {
    value.ok_or_else(|| {
        TotalsError::Overflow {
            field: field.into(),
        }
        .into()
    })
}

fn dec(field: &str, d: &wit::Decimal) -> Result<Decimal, ValidationError> {
    from_wit_decimal(d).map_err(|_| invalid(field, Rule::Range, "decimal out of range"))
}

/// WIT (Gregorian) date → Jalali.
pub fn jalali(field: &str, d: &wit::Date) -> Result<JalaliDate, ValidationError> {
    JalaliDate::from_gregorian(d.year, d.month, d.day).map_err(|e| {
        invalid(
            field,
            Rule::Format,
            format!("{}-{}-{} is not a date: {e}", d.year, d.month, d.day),
        )
    })
}

/// Jalali → WIT (Gregorian) date.
pub fn gregorian(d: JalaliDate) -> wit::Date {
    let g = d.to_gregorian();
    wit::Date {
        year: g.year(),
        month: g.month(),
        day: g.day(),
    }
}

fn text(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// S5, ledger → CRM: office, other, home → phone; mobile → mobile; every
/// fax → fax.
pub fn phone_type(kind: wit::PhoneKind) -> PhoneType {
    use wit::PhoneKind as K;
    match kind {
        K::Office | K::Other | K::Home => PhoneType::Phone,
        K::Mobile => PhoneType::Mobile,
        K::OfficeFax | K::HomeFax | K::OtherFax => PhoneType::Fax,
    }
}

/// A party from the ledger. A value that breaks a rule the CRM applies to
/// its own input but corrupts nothing (an ID's check digit, a phone's
/// format) is kept as the ledger has it, with a warning on the party
/// (`PartyInput::validate_from_ledger`, issue 14 §7); only a party the CRM
/// cannot hold (no customer number, no name) is refused.
pub fn party_from_ledger(
    p: &wit::Party,
    company: CompanyCode,
) -> Result<NewParty, ValidationError> {
    let raw_number = text(&p.customer_number).ok_or_else(|| {
        invalid(
            "customer_number",
            Rule::Required,
            "the ledger record has no customer number (detail-account code)",
        )
    })?;
    // An empty phone slot in the ledger is no number at all, not a
    // malformed one.
    let mut phones: Vec<PhoneInput> = p
        .phones
        .iter()
        .map(|ph| PhoneInput {
            phone_type: phone_type(ph.kind),
            number: format!("{}{}", ph.area_code.as_deref().unwrap_or(""), ph.number),
            extension: None,
            default: ph.is_default,
        })
        .filter(|ph| !ph.number.trim().is_empty())
        .collect();
    // At most one default survives (the ledger may flag several).
    let mut seen_default = false;
    for ph in &mut phones {
        if ph.default {
            ph.default = !seen_default;
            seen_default = true;
        }
    }
    let mut seen_default = false;
    let addresses = p
        .addresses
        .iter()
        .filter(|a| !a.line.trim().is_empty())
        .map(|a| {
            let default = a.is_default && !seen_default;
            seen_default |= default;
            Address {
                province: text(&a.province),
                city: text(&a.city),
                line: a.line.trim().to_owned(),
                postal_code: text(&a.postal_code),
                default,
            }
        })
        .collect();
    let kind = match p.kind {
        wit::PartyKind::Person => PartyKind::Person,
        wit::PartyKind::Organisation => PartyKind::Organisation,
    };
    let input = PartyInput {
        kind,
        first_name: text(&p.first_name),
        last_name: text(&p.last_name),
        name: text(&p.name),
        customer_number: with_company(&raw_number, company),
        national_id: text(&p.national_id),
        registration_number: text(&p.registration_number),
        economic_code: text(&p.economic_code),
        birth_date: p
            .birth_date
            .as_ref()
            .map(|d| jalali("birth_date", d))
            .transpose()?,
        email: None,
        phones,
        addresses,
    };
    input.validate_from_ledger()
}

/// S5, CRM → ledger: every phone lands as `other`, and only the number
/// part travels, not the area code.
pub fn party_to_ledger(p: &Party) -> wit::Party {
    let phones = p
        .phones
        .iter()
        .map(|ph| wit::Phone {
            number: normalize_phone("number", &ph.number)
                .map(|n| n.number_part().to_owned())
                .unwrap_or_else(|_| ph.number.clone()),
            area_code: None,
            kind: wit::PhoneKind::Other,
            is_default: ph.default,
        })
        .collect();
    let addresses = p
        .addresses
        .iter()
        .map(|a| wit::Address {
            line: a.line.clone(),
            city: a.city.clone(),
            province: a.province.clone(),
            postal_code: a.postal_code.clone(),
            city_ref: None,
            is_default: a.default,
        })
        .collect();
    wit::Party {
        kind: match p.kind {
            PartyKind::Person => wit::PartyKind::Person,
            PartyKind::Organisation => wit::PartyKind::Organisation,
        },
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        name: p.name.clone(),
        customer_number: Some(p.customer_number.clone()),
        national_id: p.national_id.clone(),
        registration_number: p.registration_number.clone(),
        economic_code: p.economic_code.clone(),
        birth_date: p.birth_date.map(gregorian),
        is_employee: false,
        phones,
        addresses,
    }
}

/// A product from the ledger (S13: one sales price, the connector's
/// configured price type). Its code carries the company code (S17).
pub fn product_from_ledger(
    p: &wit::Product,
    company: CompanyCode,
) -> Result<NewProduct, ValidationError> {
    let (price, currency) = match &p.sales_price {
        Some(m) => (dec("sales_price", &m.amount)?, m.currency.clone()),
        None => (Decimal::ZERO, "IRR".to_owned()),
    };
    let currency = Currency::new(&currency).map_err(|e| {
        invalid(
            "currency",
            Rule::Format,
            format!("currency {currency:?}: {e}"),
        )
    })?;
    ProductInput {
        code: with_company(p.code.trim(), company),
        name: p.name.clone(),
        unit: p.unit.clone(),
        sales_price: price,
        currency,
        tax_percent: Some(dec("tax_rate", &p.tax_rate)?),
        toll_percent: Some(dec("toll_rate", &p.toll_rate)?),
        tax_exempt: p.tax_exempt,
    }
    .validate_from_ledger()
}

/// A CRM product as a connector takes it: the code without the company
/// suffix, the price in the CRM's currency. Only prices go to a sales
/// channel (a shop); products travel to the books never (S13).
pub fn product_to_ledger(p: &crate::crm::Product, company: CompanyCode) -> wit::Product {
    let suffix = format!("-{company}");
    wit::Product {
        code: p.code.strip_suffix(&suffix).unwrap_or(&p.code).to_owned(),
        name: p.name.clone(),
        unit: p.unit.clone(),
        sales_price: Some(wit::Money {
            amount: to_wit_decimal(p.sales_price),
            currency: p.currency.code().to_owned(),
        }),
        tax_rate: to_wit_decimal(p.tax_percent.unwrap_or_default()),
        toll_rate: to_wit_decimal(p.toll_percent.unwrap_or_default()),
        tax_exempt: p.tax_exempt,
    }
}

/// Resolved references of a ledger document: the CRM ids of its party,
/// products and related document.
#[derive(Debug, Default)]
pub struct Refs {
    /// The party.
    pub party_id: i64,
    /// Remote product id → CRM product id.
    pub products: HashMap<String, i64>,
    /// The related document (a return's invoice, a receipt's invoice).
    pub related_id: Option<i64>,
}

/// A document from the ledger, checked: every line must add up (its net
/// plus tax plus toll is its total) and the lines must add up to the
/// header's total. The
/// ledger's own amounts are kept — it is the book of record — and a
/// document whose amounts do not add up is refused with the field named.
pub fn document_from_ledger(
    d: &wit::Document,
    kind: DocumentKind,
    refs: &Refs,
) -> Result<NewDocument, ValidationError> {
    let currency = Currency::new(&d.currency).map_err(|e| {
        invalid(
            "currency",
            Rule::Format,
            format!("currency {:?}: {e}", d.currency),
        )
    })?;
    let scale = currency.minor_unit_scale();
    let mut lines = Vec::with_capacity(d.lines.len());
    let mut totals = Totals::default();
    for (i, l) in d.lines.iter().enumerate() {
        let f = |name: &str| format!("lines.{i}.{name}");
        let product_id = match refs.products.get(&l.product_ref) {
            Some(id) => Some(*id),
            None if l.product_ref.is_empty() => None,
            None => {
                return Err(invalid(
                    f("product_ref"),
                    Rule::Required,
                    format!(
                        "product {} of the ledger is not in the CRM (not synced or refused)",
                        l.product_ref
                    ),
                ));
            }
        };
        let quantity = dec(&f("quantity"), &l.quantity)?;
        let unit_price = dec(&f("unit_price"), &l.unit_price)?;
        let discount = dec(&f("discount"), &l.discount)?;
        let additions = dec(&f("additions"), &l.additions)?;
        let tax = dec(&f("tax"), &l.tax)?;
        let toll = dec(&f("toll"), &l.toll)?;
        let total = dec(&f("total"), &l.total)?;
        let gross = round_half_away(
            fits(f("quantity"), quantity.checked_mul(unit_price))?,
            scale,
        );
        let net = fits(
            f("total"),
            gross
                .checked_sub(discount)
                .and_then(|v| v.checked_add(additions)),
        )?;
        let sum = fits(
            f("total"),
            net.checked_add(tax).and_then(|v| v.checked_add(toll)),
        )?;
        if sum != total {
            return Err(invalid(
                f("total"),
                Rule::Mismatch,
                format!(
                    "the ledger's line total {total} is not quantity × price − discount + additions + tax + toll = {sum}"
                ),
            ));
        }
        totals.gross = fits("total", totals.gross.checked_add(gross))?;
        totals.discount = fits("discount", totals.discount.checked_add(discount))?;
        totals.additions = fits("additions", totals.additions.checked_add(additions))?;
        totals.tax_total = fits("tax_total", totals.tax_total.checked_add(tax))?;
        totals.toll_total = fits("toll_total", totals.toll_total.checked_add(toll))?;
        lines.push(Line {
            product_id,
            description: text(&l.description),
            quantity,
            unit_price,
            discount,
            additions,
            tax_exempt: l.tax_exempt,
            tax_percent: dec(&f("tax_rate"), &l.tax_rate)?,
            toll_percent: dec(&f("toll_rate"), &l.toll_rate)?,
            gross,
            net,
            tax,
            toll,
            total,
        });
    }
    let discount = dec("discount", &d.discount)?;
    let additions = dec("additions", &d.additions)?;
    totals.discount = fits("discount", totals.discount.checked_add(discount))?;
    totals.additions = fits("additions", totals.additions.checked_add(additions))?;
    totals.net = fits(
        "total",
        totals
            .gross
            .checked_sub(totals.discount)
            .and_then(|v| v.checked_add(totals.additions)),
    )?;
    totals.grand_total = fits(
        "total",
        totals
            .net
            .checked_add(totals.tax_total)
            .and_then(|v| v.checked_add(totals.toll_total)),
    )?;
    let total = dec("total", &d.total)?;
    if totals.grand_total != total {
        return Err(invalid(
            "total",
            Rule::Mismatch,
            format!(
                "the ledger's total {total} is not the sum of its lines and header amounts ({})",
                totals.grand_total
            ),
        ));
    }
    Ok(NewDocument {
        kind,
        party_id: refs.party_id,
        date: jalali("date", &d.date)?,
        currency,
        related_id: refs.related_id,
        description: text(&d.note),
        discount,
        additions,
        lines,
        totals,
    })
}

/// A CRM document for the ledger, its references translated to the
/// ledger's ids.
pub fn document_to_ledger(
    d: &Document,
    party_ref: String,
    product_refs: &HashMap<i64, String>,
) -> Result<wit::Document, ValidationError> {
    let kind = match d.kind {
        DocumentKind::Quote => wit::DocumentKind::Quote,
        DocumentKind::SalesOrder => wit::DocumentKind::SalesOrder,
        // Only a sales channel's invoices get here (H10; S14 keeps the
        // CRM's own from travelling).
        DocumentKind::SalesInvoice => wit::DocumentKind::SalesInvoice,
        DocumentKind::SalesReturn
        | DocumentKind::PurchaseInvoice
        | DocumentKind::PurchaseReturn
        | DocumentKind::CorrectionNote => {
            return Err(invalid(
                "kind",
                Rule::Format,
                format!("{} documents do not travel to the ledger", d.kind.as_str()),
            ));
        }
    };
    let mut lines = Vec::with_capacity(d.lines.len());
    for (i, l) in d.lines.iter().enumerate() {
        let product_ref = match l.product_id {
            Some(p) => product_refs.get(&p).cloned().ok_or_else(|| {
                invalid(
                    format!("lines.{i}.product_id"),
                    Rule::Required,
                    format!(
                        "product {p} is not in this ledger company (products travel only ledger → CRM, S13)"
                    ),
                )
            })?,
            None => {
                return Err(invalid(
                    format!("lines.{i}.product_id"),
                    Rule::Required,
                    "a line sent to the ledger needs a product from the ledger",
                ));
            }
        };
        lines.push(wit::DocumentLine {
            product_ref,
            description: l.description.clone(),
            quantity: to_wit_decimal(l.quantity),
            unit_price: to_wit_decimal(l.unit_price),
            discount: to_wit_decimal(l.discount),
            additions: to_wit_decimal(l.additions),
            tax_rate: to_wit_decimal(l.tax_percent),
            toll_rate: to_wit_decimal(l.toll_percent),
            tax_exempt: l.tax_exempt,
            tax: to_wit_decimal(l.tax),
            toll: to_wit_decimal(l.toll),
            total: to_wit_decimal(l.total),
            serial_numbers: Vec::new(),
        });
    }
    Ok(wit::Document {
        kind,
        number: d.number.clone(),
        date: gregorian(d.date),
        party_ref,
        currency: d.currency.code().to_owned(),
        lines,
        discount: to_wit_decimal(d.discount),
        additions: to_wit_decimal(d.additions),
        tax_total: to_wit_decimal(d.totals.tax_total),
        toll_total: to_wit_decimal(d.totals.toll_total),
        total: to_wit_decimal(d.totals.grand_total),
        settlements: Vec::new(),
        related_ref: None,
        note: d.description.clone(),
    })
}

/// A receipt or payment from the ledger: the amount is the document's
/// total and every settlement is kept (S16: cash plus two cheques arrive
/// as three settlements). They must add up to the total; a ledger record
/// that reports none is one cash settlement of the total.
pub fn payment_from_ledger(
    d: &wit::Document,
    kind: PaymentKind,
    refs: &Refs,
) -> Result<NewPayment, ValidationError> {
    let currency = Currency::new(&d.currency).map_err(|e| {
        invalid(
            "currency",
            Rule::Format,
            format!("currency {:?}: {e}", d.currency),
        )
    })?;
    let amount = dec("total", &d.total)?;
    let mut settlements = d
        .settlements
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let method = match s.method {
                wit::SettlementMethod::Cheque => PaymentMethod::Cheque,
                wit::SettlementMethod::Card => PaymentMethod::Card,
                wit::SettlementMethod::BankDraft => PaymentMethod::BankDraft,
                wit::SettlementMethod::Cash => PaymentMethod::Cash,
            };
            let reference = text(&s.reference);
            if method == PaymentMethod::Cheque && reference.is_none() {
                return Err(invalid(
                    format!("settlements.{i}.reference"),
                    Rule::Required,
                    "a cheque from the ledger has no serial number",
                ));
            }
            Ok(Settlement {
                method,
                amount: dec(&format!("settlements.{i}.amount"), &s.amount)?,
                reference,
                due_date: s
                    .due_date
                    .as_ref()
                    .map(|dd| jalali(&format!("settlements.{i}.due_date"), dd))
                    .transpose()?,
                bank: text(&s.bank),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if settlements.is_empty() {
        settlements.push(Settlement {
            method: PaymentMethod::Cash,
            amount,
            reference: None,
            due_date: None,
            bank: None,
        });
    }
    check_settlements("settlements", amount, &settlements)?;
    let (method, cheque_number, cheque_due, reference) = Settlement::first_of(&settlements);
    Ok(NewPayment {
        kind,
        party_id: refs.party_id,
        date: jalali("date", &d.date)?,
        currency,
        amount,
        method,
        invoice_id: refs.related_id,
        cheque_number,
        cheque_due,
        reference,
        description: text(&d.note),
        settlements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sales invoice of one line with these amounts, otherwise empty.
    fn one_line(quantity: Decimal, unit_price: Decimal, total: Decimal) -> wit::Document {
        let zero = to_wit_decimal(Decimal::ZERO);
        wit::Document {
            kind: wit::DocumentKind::SalesInvoice,
            number: Some("15".into()),
            date: wit::Date {
                year: 2025,
                month: 6,
                day: 1,
            },
            party_ref: "7".into(),
            currency: "IRR".into(),
            lines: vec![wit::DocumentLine {
                product_ref: String::new(),
                description: None,
                quantity: to_wit_decimal(quantity),
                unit_price: to_wit_decimal(unit_price),
                discount: zero,
                additions: zero,
                tax_rate: zero,
                toll_rate: zero,
                tax_exempt: true,
                tax: zero,
                toll: zero,
                total: to_wit_decimal(total),
                serial_numbers: Vec::new(),
            }],
            discount: zero,
            additions: zero,
            tax_total: zero,
            toll_total: zero,
            total: to_wit_decimal(total),
            settlements: Vec::new(),
            related_ref: None,
            note: None,
        }
    }

    #[test]
    fn h10_a_quantity_near_decimal_max_is_a_range_error_on_the_line_not_a_panic() {
        // 2^95 × 2 is one past Decimal::MAX: a shop can send both numbers.
        let quantity = Decimal::from_i128_with_scale(1i128 << 95, 0);
        let doc = one_line(quantity, Decimal::TWO, Decimal::MAX);
        let refs = Refs::default();
        let err = document_from_ledger(&doc, DocumentKind::SalesInvoice, &refs)
            .expect_err("an overflowing line is refused");
        assert_eq!(err.field, "lines.0.quantity", "{err:?}");
        assert_eq!(err.rule, Rule::Range, "{err:?}");
        // Lines that fit, but whose sum does not, are refused on the total.
        let mut two = one_line(Decimal::ONE, Decimal::MAX, Decimal::MAX);
        two.lines.push(two.lines[0].clone());
        let err = document_from_ledger(&two, DocumentKind::SalesInvoice, &refs)
            .expect_err("an overflowing sum is refused");
        assert_eq!(err.field, "total", "{err:?}");
        // The ordinary case still adds up.
        let fine = one_line(Decimal::from(3), Decimal::from(1000), Decimal::from(3000));
        let doc = document_from_ledger(&fine, DocumentKind::SalesInvoice, &refs).unwrap();
        assert_eq!(doc.totals.grand_total, Decimal::from(3000));
    }

    #[test]
    fn s5_ledger_phone_types_fold_into_three() {
        use wit::PhoneKind as K;
        assert_eq!(phone_type(K::Office), PhoneType::Phone);
        assert_eq!(phone_type(K::Home), PhoneType::Phone);
        assert_eq!(phone_type(K::Other), PhoneType::Phone);
        assert_eq!(phone_type(K::Mobile), PhoneType::Mobile);
        assert_eq!(phone_type(K::OfficeFax), PhoneType::Fax);
        assert_eq!(phone_type(K::HomeFax), PhoneType::Fax);
        assert_eq!(phone_type(K::OtherFax), PhoneType::Fax);
    }

    #[test]
    fn s17_numbers_carry_the_company_code_once() {
        assert_eq!(with_company("625", CompanyCode(300)), "625-300");
        assert_eq!(with_company("625-300", CompanyCode(300)), "625-300");
        let d = JalaliDate::new(1404, 1, 1).unwrap();
        assert_eq!(
            ledger_document_number(d, "15", CompanyCode(400)),
            "1404/15-400"
        );
    }

    #[test]
    fn ledger_dates_are_converted_not_shifted() {
        // 2025-03-20 is the last day of 1403; 2025-03-21 is 1404/01/01.
        let last = jalali(
            "d",
            &wit::Date {
                year: 2025,
                month: 3,
                day: 20,
            },
        )
        .unwrap();
        let first = jalali(
            "d",
            &wit::Date {
                year: 2025,
                month: 3,
                day: 21,
            },
        )
        .unwrap();
        assert_eq!(last.to_string(), "1403/12/30");
        assert_eq!(first.to_string(), "1404/01/01");
        let g = gregorian(first);
        assert_eq!((g.year, g.month, g.day), (2025, 3, 21));
    }
}
