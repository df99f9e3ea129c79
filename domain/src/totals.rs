//! Document totals: lines, discounts, additions, VAT and municipal toll
//! (S10, H2).
//!
//! One function, [`compute_totals`], computes every amount on a quote or
//! invoice, so the host, every ledger plugin and the CRM side agree on the
//! same numbers; [`check_totals`] compares what a system sent with what we
//! computed and names the first field that does not add up.
//!
//! # Rules
//!
//! Per line, with `scale` the currency's minor unit (0 for Rial, see
//! [`crate::money::Currency::minor_unit_scale`]) and `round` =
//! [`round_half_away`] (half away from zero, as Iranian ledgers round; see its
//! docs for why not banker's rounding):
//!
//! ```text
//! gross = round(quantity × unit_price)
//! net   = gross − discount + additions        (discount, additions rounded to scale)
//! tax   = round(net × tax_percent  / 100)     0 if the line is tax-exempt
//! toll  = round(net × toll_percent / 100)     0 if the line is tax-exempt
//! total = net + tax + toll
//! ```
//!
//! Tax (VAT, مالیات) and toll (municipal duty, عوارض) are computed and
//! rounded separately, each on the line's net, because every Iranian ledger
//! and the Moadian e-invoice carry them as two amounts (integrations.md §5.3).
//! Rounding per line, not on the document sum, is what those systems do; it
//! makes each line's amounts stand on their own on a printed invoice.
//!
//! Rates: a line's product-level override ([`LineInput::rate_override`], H2:
//! "defined separately per product") wins; otherwise the rates in force on
//! the document date come from a [`RateTable`]. The table is configuration
//! data, versioned by effective date, never hard-coded law.
//!
//! Document level:
//!
//! ```text
//! gross       = Σ line gross
//! discount    = Σ line discount + document discount
//! additions   = Σ line additions + document additions
//! net         = Σ line net − document discount + document additions
//!             = gross − discount + additions
//! tax_total   = Σ line tax
//! toll_total  = Σ line toll
//! grand_total = net + tax_total + toll_total
//! ```
//!
//! The document-level discount and additions are **not taxed**: they are the
//! "other additions and deductions" footer of Sepidar/Payamgostar invoices,
//! which sit below the tax lines. A discount that must reduce the tax base
//! belongs on the lines. This is a documented modelling choice.
//!
//! All amounts must be non-negative (returns are separate documents with
//! positive quantities), percentages 0..=100. All arithmetic is checked: a
//! `Decimal` overflow is a [`TotalsError::Overflow`] naming the field, never a
//! panic. `Decimal` keeps 28 significant digits; products of a quantity and a
//! price with more than 28 digits in total are rounded by `rust_decimal`
//! before our rounding (far beyond real invoices).

use serde::{Deserialize, Serialize};

use rust_decimal::Decimal;

use crate::jalali::{GregorianDate, JalaliDate, JalaliError};
use crate::money::round_half_away;
use crate::validation::{Rule, ValidationError};

/// Largest scale `Decimal` can represent.
const MAX_SCALE: u32 = 28;

/// Errors from computing totals or building a rate table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotalsError {
    /// An input value breaks a rule (negative amount, rate above 100 %…).
    #[error("{field} is invalid: {message}")]
    Invalid {
        /// Path of the field, e.g. `lines.2.discount`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A `Decimal` operation overflowed.
    #[error("{field} overflows the decimal range")]
    Overflow {
        /// Path of the amount being computed.
        field: String,
    },
    /// A taxable line needs a rate and the table has none for the date.
    #[error("line {line} needs a tax rate and the rate table has none in force on {date}")]
    NoRate {
        /// Zero-based line index.
        line: usize,
        /// The document date.
        date: JalaliDate,
    },
    /// Two table entries start on the same day.
    #[error("rate table has two entries effective from {date}")]
    DuplicateRateDate {
        /// The repeated date.
        date: JalaliDate,
    },
    /// The rounding scale is beyond `Decimal`'s 28 places.
    #[error("scale {scale} is invalid: it must be 0..=28")]
    InvalidScale {
        /// The scale given.
        scale: u32,
    },
}

impl From<TotalsError> for ValidationError {
    fn from(e: TotalsError) -> Self {
        let message = e.to_string();
        match e {
            TotalsError::Invalid { field, .. } => ValidationError::new(field, Rule::Range, message),
            TotalsError::Overflow { field } => ValidationError::new(field, Rule::Range, message),
            TotalsError::NoRate { line, .. } => {
                ValidationError::new(format!("lines.{line}.tax_percent"), Rule::Required, message)
            }
            TotalsError::DuplicateRateDate { .. } => {
                ValidationError::new("rates", Rule::Format, message)
            }
            TotalsError::InvalidScale { .. } => ValidationError::new("scale", Rule::Range, message),
        }
    }
}

/// A tax and a toll rate, in percent (`9` means 9 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct TaxRates {
    /// VAT percentage.
    pub tax_percent: Decimal,
    /// Municipal toll (duty) percentage.
    pub toll_percent: Decimal,
}

impl TaxRates {
    /// Builds a pair of rates (unchecked; checked where they are used).
    pub fn new(tax_percent: Decimal, toll_percent: Decimal) -> Self {
        TaxRates {
            tax_percent,
            toll_percent,
        }
    }

    fn check(&self, field: &str) -> Result<(), TotalsError> {
        for (name, p) in [
            ("tax_percent", self.tax_percent),
            ("toll_percent", self.toll_percent),
        ] {
            if (p.is_sign_negative() && !p.is_zero()) || p > Decimal::ONE_HUNDRED {
                return Err(TotalsError::Invalid {
                    field: format!("{field}.{name}"),
                    message: format!("percentage must be 0..=100, got {p}"),
                });
            }
        }
        Ok(())
    }
}

/// Rates in force from a day on (until the next entry's day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RateEntry {
    /// First day the rates apply.
    pub effective_from: JalaliDate,
    /// The rates.
    pub rates: TaxRates,
}

impl RateEntry {
    /// An entry whose start is given as a Gregorian day.
    pub fn from_gregorian(
        effective_from: GregorianDate,
        rates: TaxRates,
    ) -> Result<Self, JalaliError> {
        Ok(RateEntry {
            effective_from: effective_from.to_jalali()?,
            rates,
        })
    }
}

/// Rate-versioned tax and toll percentages, sorted by effective date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<RateEntry>", into = "Vec<RateEntry>")]
pub struct RateTable {
    entries: Vec<RateEntry>,
}

impl RateTable {
    /// Builds a table; entries may come in any order. Two entries on the same
    /// day, or a percentage outside 0..=100, are errors.
    pub fn new(mut entries: Vec<RateEntry>) -> Result<Self, TotalsError> {
        entries.sort_by_key(|e| e.effective_from);
        for (i, e) in entries.iter().enumerate() {
            e.rates.check(&format!("rates.{i}"))?;
        }
        if let Some(w) = entries
            .windows(2)
            .find(|w| w[0].effective_from == w[1].effective_from)
        {
            return Err(TotalsError::DuplicateRateDate {
                date: w[0].effective_from,
            });
        }
        Ok(RateTable { entries })
    }

    /// Sample Iranian rates, for tests and as a starting configuration.
    ///
    /// **Data, not law.** 1402: 6 % VAT + 3 % toll (the historical 9 %);
    /// from 1403/01/01: 10 % in total (integrations.md §5.3), split here as
    /// 7 % VAT + 3 % toll. No authoritative source for that split (or for
    /// 1404+) was found; operators must configure their real table.
    pub fn sample_iran() -> Self {
        let entry = |y: i32, tax: i64, toll: i64| {
            JalaliDate::new(y, 1, 1).ok().map(|d| RateEntry {
                effective_from: d,
                rates: TaxRates::new(Decimal::from(tax), Decimal::from(toll)),
            })
        };
        RateTable {
            entries: [entry(1402, 6, 3), entry(1403, 7, 3)]
                .into_iter()
                .flatten()
                .collect(),
        }
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[RateEntry] {
        &self.entries
    }

    /// The rates in force on `date`: the latest entry starting on or before
    /// it. `None` before the first entry.
    pub fn rates_on(&self, date: JalaliDate) -> Option<TaxRates> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.effective_from <= date)
            .map(|e| e.rates)
    }
}

impl TryFrom<Vec<RateEntry>> for RateTable {
    type Error = TotalsError;
    fn try_from(entries: Vec<RateEntry>) -> Result<Self, Self::Error> {
        RateTable::new(entries)
    }
}

impl From<RateTable> for Vec<RateEntry> {
    fn from(t: RateTable) -> Self {
        t.entries
    }
}

/// One document line as entered.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LineInput {
    /// Quantity (may be fractional: kilograms, metres).
    pub quantity: Decimal,
    /// Price of one unit.
    pub unit_price: Decimal,
    /// Line discount, an amount.
    #[serde(default)]
    pub discount: Decimal,
    /// Line additions (e.g. transport charged on this line), an amount.
    #[serde(default)]
    pub additions: Decimal,
    /// Exempt from both tax and toll (H2 exemptions).
    #[serde(default)]
    pub tax_exempt: bool,
    /// Product-level rates; when set they win over the rate table (H2).
    #[serde(default)]
    pub rate_override: Option<TaxRates>,
}

/// A document (quote, invoice) as entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentInput {
    /// Document date: selects the rates in force.
    pub date: JalaliDate,
    /// The lines.
    pub lines: Vec<LineInput>,
    /// Document-level discount (not taxed, see module docs).
    #[serde(default)]
    pub discount: Decimal,
    /// Document-level additions (not taxed, see module docs).
    #[serde(default)]
    pub additions: Decimal,
}

/// Computed amounts of one line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LineTotals {
    /// `quantity × unit_price`, rounded.
    pub gross: Decimal,
    /// The line discount, rounded.
    pub discount: Decimal,
    /// The line additions, rounded.
    pub additions: Decimal,
    /// `gross − discount + additions`.
    pub net: Decimal,
    /// The rates applied (zero for exempt lines). Informational: not
    /// compared by [`check_totals`], and absent from some senders' payloads.
    #[serde(default)]
    pub rates: TaxRates,
    /// VAT.
    pub tax: Decimal,
    /// Municipal toll.
    pub toll: Decimal,
    /// `net + tax + toll`.
    pub total: Decimal,
}

/// Computed amounts of a document.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DocumentTotals {
    /// Per-line amounts, in input order.
    pub lines: Vec<LineTotals>,
    /// Σ line gross.
    pub gross: Decimal,
    /// Σ line discounts + document discount.
    pub discount: Decimal,
    /// Σ line additions + document additions.
    pub additions: Decimal,
    /// `gross − discount + additions`.
    pub net: Decimal,
    /// Σ line tax.
    pub tax_total: Decimal,
    /// Σ line toll.
    pub toll_total: Decimal,
    /// `net + tax_total + toll_total`.
    pub grand_total: Decimal,
}

fn overflow(field: String) -> TotalsError {
    TotalsError::Overflow { field }
}

fn non_negative(value: Decimal, field: impl FnOnce() -> String) -> Result<(), TotalsError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(TotalsError::Invalid {
            field: field(),
            message: format!("must not be negative, got {value}"),
        });
    }
    Ok(())
}

/// `round(base × percent / 100)`, checked.
fn percent_of(
    base: Decimal,
    percent: Decimal,
    scale: u32,
    field: impl Fn() -> String,
) -> Result<Decimal, TotalsError> {
    let product = base.checked_mul(percent).ok_or_else(|| overflow(field()))?;
    let value = product
        .checked_div(Decimal::ONE_HUNDRED)
        .ok_or_else(|| overflow(field()))?;
    Ok(round_half_away(value, scale))
}

fn compute_line(
    index: usize,
    line: &LineInput,
    table_rates: impl FnOnce() -> Result<TaxRates, TotalsError>,
    scale: u32,
) -> Result<LineTotals, TotalsError> {
    let path = |name: &str| format!("lines.{index}.{name}");
    non_negative(line.quantity, || path("quantity"))?;
    non_negative(line.unit_price, || path("unit_price"))?;
    non_negative(line.discount, || path("discount"))?;
    non_negative(line.additions, || path("additions"))?;

    let gross = round_half_away(
        line.quantity
            .checked_mul(line.unit_price)
            .ok_or_else(|| overflow(path("gross")))?,
        scale,
    );
    let discount = round_half_away(line.discount, scale);
    let additions = round_half_away(line.additions, scale);
    let net = gross
        .checked_add(additions)
        .and_then(|v| v.checked_sub(discount))
        .ok_or_else(|| overflow(path("net")))?;
    if net.is_sign_negative() && !net.is_zero() {
        return Err(TotalsError::Invalid {
            field: path("discount"),
            message: format!(
                "discount {discount} exceeds gross {gross} plus additions {additions}"
            ),
        });
    }

    let rates = if line.tax_exempt {
        TaxRates::default()
    } else if let Some(r) = line.rate_override {
        r.check(&path("rate_override"))?;
        r
    } else {
        table_rates()?
    };
    let tax = percent_of(net, rates.tax_percent, scale, || path("tax"))?;
    let toll = percent_of(net, rates.toll_percent, scale, || path("toll"))?;
    let total = net
        .checked_add(tax)
        .and_then(|v| v.checked_add(toll))
        .ok_or_else(|| overflow(path("total")))?;
    Ok(LineTotals {
        gross,
        discount,
        additions,
        net,
        rates,
        tax,
        toll,
        total,
    })
}

fn sum<'a>(
    mut values: impl Iterator<Item = &'a Decimal>,
    field: &str,
) -> Result<Decimal, TotalsError> {
    values.try_fold(Decimal::ZERO, |acc, v| {
        acc.checked_add(*v)
            .ok_or_else(|| overflow(field.to_owned()))
    })
}

/// Computes every amount of a document; see the module docs for the rules.
/// `scale` is the number of decimal places amounts are rounded to (0 for
/// Rial).
pub fn compute_totals(
    doc: &DocumentInput,
    table: &RateTable,
    scale: u32,
) -> Result<DocumentTotals, TotalsError> {
    if scale > MAX_SCALE {
        return Err(TotalsError::InvalidScale { scale });
    }
    non_negative(doc.discount, || "discount".to_owned())?;
    non_negative(doc.additions, || "additions".to_owned())?;

    let lines = doc
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let table_rates = || {
                table.rates_on(doc.date).ok_or(TotalsError::NoRate {
                    line: i,
                    date: doc.date,
                })
            };
            compute_line(i, line, table_rates, scale)
        })
        .collect::<Result<Vec<_>, _>>()?;

    let doc_discount = round_half_away(doc.discount, scale);
    let doc_additions = round_half_away(doc.additions, scale);

    let gross = sum(lines.iter().map(|l| &l.gross), "gross")?;
    let discount = sum(lines.iter().map(|l| &l.discount), "discount")?
        .checked_add(doc_discount)
        .ok_or_else(|| overflow("discount".to_owned()))?;
    let additions = sum(lines.iter().map(|l| &l.additions), "additions")?
        .checked_add(doc_additions)
        .ok_or_else(|| overflow("additions".to_owned()))?;
    let net = sum(lines.iter().map(|l| &l.net), "net")?
        .checked_add(doc_additions)
        .and_then(|v| v.checked_sub(doc_discount))
        .ok_or_else(|| overflow("net".to_owned()))?;
    if net.is_sign_negative() && !net.is_zero() {
        return Err(TotalsError::Invalid {
            field: "discount".to_owned(),
            message: format!(
                "document discount {doc_discount} exceeds the lines' net plus additions"
            ),
        });
    }
    let tax_total = sum(lines.iter().map(|l| &l.tax), "tax_total")?;
    let toll_total = sum(lines.iter().map(|l| &l.toll), "toll_total")?;
    let grand_total = net
        .checked_add(tax_total)
        .and_then(|v| v.checked_add(toll_total))
        .ok_or_else(|| overflow("grand_total".to_owned()))?;

    Ok(DocumentTotals {
        lines,
        gross,
        discount,
        additions,
        net,
        tax_total,
        toll_total,
        grand_total,
    })
}

/// Compares a document's totals as sent by another system with the totals we
/// computed; the error names the first field that differs, as a path:
/// `lines` (line count), `lines.<i>.<field>` (zero-based line index; fields
/// gross, discount, additions, net, tax, toll, total), then `gross`,
/// `discount`, `additions`, `net`, `tax_total`, `toll_total`, `grand_total`.
/// Values compare numerically (`1500.0` equals `1500`). The applied rates are
/// not compared: a wrong rate shows up as a wrong tax or toll.
pub fn check_totals(
    sent: &DocumentTotals,
    computed: &DocumentTotals,
) -> Result<(), ValidationError> {
    let mismatch = |field: String, s: &Decimal, c: &Decimal| {
        ValidationError::new(
            field.clone(),
            Rule::Mismatch,
            format!("{field} does not add up: sent {s}, computed {c}"),
        )
    };
    if sent.lines.len() != computed.lines.len() {
        return Err(ValidationError::new(
            "lines",
            Rule::Mismatch,
            format!(
                "line count does not match: sent {}, computed {}",
                sent.lines.len(),
                computed.lines.len()
            ),
        ));
    }
    for (i, (s, c)) in sent.lines.iter().zip(&computed.lines).enumerate() {
        let fields = [
            ("gross", &s.gross, &c.gross),
            ("discount", &s.discount, &c.discount),
            ("additions", &s.additions, &c.additions),
            ("net", &s.net, &c.net),
            ("tax", &s.tax, &c.tax),
            ("toll", &s.toll, &c.toll),
            ("total", &s.total, &c.total),
        ];
        if let Some((name, sv, cv)) = fields.into_iter().find(|(_, a, b)| a != b) {
            return Err(mismatch(format!("lines.{i}.{name}"), sv, cv));
        }
    }
    let fields = [
        ("gross", &sent.gross, &computed.gross),
        ("discount", &sent.discount, &computed.discount),
        ("additions", &sent.additions, &computed.additions),
        ("net", &sent.net, &computed.net),
        ("tax_total", &sent.tax_total, &computed.tax_total),
        ("toll_total", &sent.toll_total, &computed.toll_total),
        ("grand_total", &sent.grand_total, &computed.grand_total),
    ];
    if let Some((name, sv, cv)) = fields.into_iter().find(|(_, a, b)| a != b) {
        return Err(mismatch(name.to_owned(), sv, cv));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn j(y: i32, m: u8, day: u8) -> JalaliDate {
        JalaliDate::new(y, m, day).unwrap()
    }

    fn line(quantity: &str, unit_price: &str) -> LineInput {
        LineInput {
            quantity: d(quantity),
            unit_price: d(unit_price),
            ..LineInput::default()
        }
    }

    /// The worked example, checked by hand. Rial, scale 0, document date
    /// 1402/06/15, so the table gives 6 % tax + 3 % toll.
    fn worked_example() -> DocumentInput {
        DocumentInput {
            date: j(1402, 6, 15),
            lines: vec![
                // 3 × 1 250 005 = 3 750 015; −15 discount → net 3 750 000.
                LineInput {
                    discount: d("15"),
                    ..line("3", "1250005")
                },
                // 2.5 × 333 333 = 833 332.5 → 833 333 (half away from zero);
                // +1 000 additions → net 834 333; product override 9 % / 0 %.
                LineInput {
                    additions: d("1000"),
                    rate_override: Some(TaxRates::new(d("9"), d("0"))),
                    ..line("2.5", "333333")
                },
                // Exempt: 1 × 500 000, no tax, no toll.
                LineInput {
                    tax_exempt: true,
                    ..line("1", "500000")
                },
                // 1 × 150: tax 6 % = 9; toll 3 % = 4.5 → 5 (half away from zero).
                line("1", "150"),
            ],
            discount: d("10000"),
            additions: d("2500"),
        }
    }

    #[test]
    fn s10_h2_worked_example_with_tax_toll_override_and_exempt_line() {
        let totals = compute_totals(&worked_example(), &RateTable::sample_iran(), 0).unwrap();
        let l = &totals.lines;

        // Line 0: tax 3 750 000 × 6 % = 225 000; toll × 3 % = 112 500;
        // total 3 750 000 + 225 000 + 112 500 = 4 087 500.
        assert_eq!(
            (l[0].gross, l[0].net, l[0].tax, l[0].toll, l[0].total),
            (
                d("3750015"),
                d("3750000"),
                d("225000"),
                d("112500"),
                d("4087500")
            )
        );
        assert_eq!(l[0].rates, TaxRates::new(d("6"), d("3")));

        // Line 1: tax 834 333 × 9 % = 75 089.97 → 75 090; toll 0;
        // total 834 333 + 75 090 = 909 423.
        assert_eq!(
            (l[1].gross, l[1].net, l[1].tax, l[1].toll, l[1].total),
            (d("833333"), d("834333"), d("75090"), d("0"), d("909423"))
        );

        // Line 2: exempt → 0 and 0; total = net = 500 000.
        assert_eq!(
            (l[2].gross, l[2].net, l[2].tax, l[2].toll, l[2].total),
            (d("500000"), d("500000"), d("0"), d("0"), d("500000"))
        );
        assert_eq!(l[2].rates, TaxRates::default());

        // Line 3: 150 + 9 + 5 = 164.
        assert_eq!(
            (l[3].gross, l[3].net, l[3].tax, l[3].toll, l[3].total),
            (d("150"), d("150"), d("9"), d("5"), d("164"))
        );

        // gross      = 3 750 015 + 833 333 + 500 000 + 150      = 5 083 498
        // discount   = 15 (line 0) + 10 000 (document)           =    10 015
        // additions  = 1 000 (line 1) + 2 500 (document)         =     3 500
        // net        = 5 083 498 − 10 015 + 3 500                = 5 076 983
        // tax_total  = 225 000 + 75 090 + 0 + 9                  =   300 099
        // toll_total = 112 500 + 0 + 0 + 5                       =   112 505
        // grand      = 5 076 983 + 300 099 + 112 505             = 5 489 587
        assert_eq!(totals.gross, d("5083498"));
        assert_eq!(totals.discount, d("10015"));
        assert_eq!(totals.additions, d("3500"));
        assert_eq!(totals.net, d("5076983"));
        assert_eq!(totals.tax_total, d("300099"));
        assert_eq!(totals.toll_total, d("112505"));
        assert_eq!(totals.grand_total, d("5489587"));
    }

    #[test]
    fn h2_rates_follow_the_document_date() {
        let table = RateTable::sample_iran();
        let mut doc = DocumentInput {
            date: j(1402, 12, 29),
            lines: vec![line("1", "1000000")],
            discount: Decimal::ZERO,
            additions: Decimal::ZERO,
        };
        let before = compute_totals(&doc, &table, 0).unwrap();
        assert_eq!(
            (before.tax_total, before.toll_total),
            (d("60000"), d("30000"))
        );
        doc.date = j(1403, 1, 1);
        let after = compute_totals(&doc, &table, 0).unwrap();
        assert_eq!(
            (after.tax_total, after.toll_total),
            (d("70000"), d("30000"))
        );
        assert_eq!(after.grand_total, d("1100000"));
    }

    #[test]
    fn rate_table_lookup_and_validation() {
        let entry = |y, tax: &str, toll: &str| RateEntry {
            effective_from: j(y, 1, 1),
            rates: TaxRates::new(d(tax), d(toll)),
        };
        // Given out of order; sorted on construction.
        let table = RateTable::new(vec![entry(1403, "10", "0"), entry(1400, "6", "3")]).unwrap();
        assert_eq!(table.entries()[0].effective_from, j(1400, 1, 1));
        assert_eq!(table.rates_on(j(1399, 12, 30)), None);
        assert_eq!(
            table.rates_on(j(1400, 1, 1)),
            Some(TaxRates::new(d("6"), d("3")))
        );
        assert_eq!(
            table.rates_on(j(1402, 12, 29)),
            Some(TaxRates::new(d("6"), d("3")))
        );
        assert_eq!(
            table.rates_on(j(1403, 1, 1)),
            Some(TaxRates::new(d("10"), d("0")))
        );
        assert_eq!(
            RateTable::new(vec![entry(1403, "10", "0"), entry(1403, "9", "0")]),
            Err(TotalsError::DuplicateRateDate {
                date: j(1403, 1, 1)
            })
        );
        assert!(matches!(
            RateTable::new(vec![entry(1403, "101", "0")]),
            Err(TotalsError::Invalid { field, .. }) if field == "rates.0.tax_percent"
        ));
        assert!(RateTable::new(vec![entry(1403, "5", "-1")]).is_err());
        // Gregorian start dates: 2024-03-20 is 1403/01/01.
        let g = RateEntry::from_gregorian(
            GregorianDate::new(2024, 3, 20).unwrap(),
            TaxRates::new(d("10"), d("0")),
        )
        .unwrap();
        assert_eq!(g.effective_from, j(1403, 1, 1));
        // Serialises as a list and validates on the way in.
        let json = serde_json::to_string(&table).unwrap();
        let back: RateTable = serde_json::from_str(&json).unwrap();
        assert_eq!(back, table);
    }

    #[test]
    fn taxable_line_without_a_rate_is_an_error_but_exempt_and_override_are_not() {
        let table = RateTable::sample_iran();
        let mut doc = DocumentInput {
            date: j(1390, 1, 1),
            lines: vec![
                LineInput {
                    tax_exempt: true,
                    ..line("1", "100")
                },
                LineInput {
                    rate_override: Some(TaxRates::new(d("5"), d("1"))),
                    ..line("1", "100")
                },
            ],
            discount: Decimal::ZERO,
            additions: Decimal::ZERO,
        };
        let totals = compute_totals(&doc, &table, 0).unwrap();
        assert_eq!(totals.grand_total, d("206"));
        doc.lines.push(line("1", "100"));
        assert_eq!(
            compute_totals(&doc, &table, 0),
            Err(TotalsError::NoRate {
                line: 2,
                date: j(1390, 1, 1)
            })
        );
        let v: ValidationError = compute_totals(&doc, &table, 0).unwrap_err().into();
        assert_eq!(v.field, "lines.2.tax_percent");
    }

    #[test]
    fn invalid_inputs_name_the_field() {
        let table = RateTable::sample_iran();
        let base = DocumentInput {
            date: j(1403, 5, 5),
            lines: vec![line("1", "100"), line("2", "100")],
            discount: Decimal::ZERO,
            additions: Decimal::ZERO,
        };
        let field_of = |doc: &DocumentInput| match compute_totals(doc, &table, 0) {
            Err(TotalsError::Invalid { field, .. }) => field,
            other => panic!("expected invalid, got {other:?}"),
        };
        let mut doc = base.clone();
        doc.lines[1].quantity = d("-1");
        assert_eq!(field_of(&doc), "lines.1.quantity");
        let mut doc = base.clone();
        doc.lines[0].unit_price = d("-0.5");
        assert_eq!(field_of(&doc), "lines.0.unit_price");
        let mut doc = base.clone();
        doc.lines[1].discount = d("201");
        assert_eq!(field_of(&doc), "lines.1.discount");
        let mut doc = base.clone();
        doc.lines[1].additions = d("-3");
        assert_eq!(field_of(&doc), "lines.1.additions");
        let mut doc = base.clone();
        doc.lines[0].rate_override = Some(TaxRates::new(d("10"), d("150")));
        assert_eq!(field_of(&doc), "lines.0.rate_override.toll_percent");
        let mut doc = base.clone();
        doc.discount = d("301");
        assert_eq!(field_of(&doc), "discount");
        let mut doc = base.clone();
        doc.additions = d("-1");
        assert_eq!(field_of(&doc), "additions");
        // Discount exactly equal to the net is allowed (a free line).
        let mut doc = base.clone();
        doc.lines[1].discount = d("200");
        assert_eq!(
            compute_totals(&doc, &table, 0).unwrap().lines[1].total,
            d("0")
        );
        assert_eq!(
            compute_totals(&base, &table, 29),
            Err(TotalsError::InvalidScale { scale: 29 })
        );
    }

    #[test]
    fn overflow_is_a_typed_error_never_a_panic() {
        let table = RateTable::sample_iran();
        let doc = DocumentInput {
            date: j(1403, 5, 5),
            lines: vec![LineInput {
                quantity: Decimal::MAX,
                unit_price: d("2"),
                ..LineInput::default()
            }],
            discount: Decimal::ZERO,
            additions: Decimal::ZERO,
        };
        assert_eq!(
            compute_totals(&doc, &table, 0),
            Err(TotalsError::Overflow {
                field: "lines.0.gross".to_owned()
            })
        );
        // Each line fits, their sum does not.
        let half = Decimal::MAX / d("2") + Decimal::ONE;
        let doc = DocumentInput {
            lines: vec![
                LineInput {
                    tax_exempt: true,
                    ..LineInput {
                        quantity: Decimal::ONE,
                        unit_price: half,
                        ..LineInput::default()
                    }
                },
                LineInput {
                    tax_exempt: true,
                    ..LineInput {
                        quantity: Decimal::ONE,
                        unit_price: half,
                        ..LineInput::default()
                    }
                },
            ],
            ..doc
        };
        assert_eq!(
            compute_totals(&doc, &table, 0),
            Err(TotalsError::Overflow {
                field: "gross".to_owned()
            })
        );
        // Tax on a net near the maximum overflows in the multiplication.
        let doc = DocumentInput {
            lines: vec![LineInput {
                quantity: Decimal::ONE,
                unit_price: Decimal::MAX,
                ..LineInput::default()
            }],
            ..doc
        };
        assert_eq!(
            compute_totals(&doc, &table, 0),
            Err(TotalsError::Overflow {
                field: "lines.0.tax".to_owned()
            })
        );
    }

    #[test]
    fn scale_two_rounds_to_cents() {
        let table = RateTable::new(vec![RateEntry {
            effective_from: j(1400, 1, 1),
            rates: TaxRates::new(d("7.5"), d("2.25")),
        }])
        .unwrap();
        let doc = DocumentInput {
            date: j(1403, 1, 1),
            lines: vec![line("3", "0.335")],
            discount: d("0.004"),
            additions: Decimal::ZERO,
        };
        let t = compute_totals(&doc, &table, 2).unwrap();
        // 3 × 0.335 = 1.005 → 1.01; tax 1.01 × 7.5 % = 0.07575 → 0.08;
        // toll 1.01 × 2.25 % = 0.022725 → 0.02; document discount 0.004 → 0.00.
        assert_eq!(t.lines[0].gross, d("1.01"));
        assert_eq!(t.lines[0].tax, d("0.08"));
        assert_eq!(t.lines[0].toll, d("0.02"));
        assert_eq!(t.discount, d("0"));
        assert_eq!(t.grand_total, d("1.11"));
    }

    #[test]
    fn s10_check_totals_accepts_equal_and_names_the_first_wrong_field() {
        let table = RateTable::sample_iran();
        let computed = compute_totals(&worked_example(), &table, 0).unwrap();
        let mut sent = computed.clone();
        // Numeric equality: a sender's "225000.00" equals our 225000.
        sent.lines[0].tax = d("225000.00");
        sent.lines[2].rates = TaxRates::new(d("1"), d("1"));
        assert_eq!(check_totals(&sent, &computed), Ok(()));

        let mut sent = computed.clone();
        sent.lines[2].tax = d("1");
        sent.lines[3].toll = d("4");
        sent.grand_total = d("0");
        let err = check_totals(&sent, &computed).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.rule),
            ("lines.2.tax", Rule::Mismatch)
        );
        assert!(err.message.contains("sent 1, computed 0"), "{err}");

        let mut sent = computed.clone();
        sent.lines[3].toll = d("4"); // rounded half down by the sender
        assert_eq!(
            check_totals(&sent, &computed).unwrap_err().field,
            "lines.3.toll"
        );

        let mut sent = computed.clone();
        sent.grand_total = d("5489586");
        assert_eq!(
            check_totals(&sent, &computed).unwrap_err().field,
            "grand_total"
        );

        let mut sent = computed.clone();
        sent.tax_total = d("1");
        assert_eq!(
            check_totals(&sent, &computed).unwrap_err().field,
            "tax_total"
        );

        let mut sent = computed.clone();
        sent.lines.pop();
        assert_eq!(check_totals(&sent, &computed).unwrap_err().field, "lines");
    }

    #[test]
    fn totals_deserialise_from_a_senders_json() {
        let json = r#"{"date":"۱۴۰۳/۰۵/۰۵","lines":[{"quantity":"2","unit_price":"1000"}]}"#;
        let doc: DocumentInput = serde_json::from_str(json).unwrap();
        let t = compute_totals(&doc, &RateTable::sample_iran(), 0).unwrap();
        assert_eq!(t.grand_total, d("2200"));
        let sent = r#"{"lines":[{"gross":"2000","discount":"0","additions":"0","net":"2000","tax":"140","toll":"60","total":"2200"}],
            "gross":"2000","discount":"0","additions":"0","net":"2000","tax_total":"140","toll_total":"60","grand_total":"2200"}"#;
        let sent: DocumentTotals = serde_json::from_str(sent).unwrap();
        assert_eq!(check_totals(&sent, &t), Ok(()));
    }

    // ------------------------------------------------------------ proptest

    /// A generated line in integer units, the form the reference works in.
    #[derive(Debug, Clone)]
    struct GenLine {
        /// Quantity in thousandths.
        qty_milli: i128,
        /// Unit price in minor units (10^-scale).
        price_minor: i128,
        /// Discount as per-mille of (gross + additions), so it never exceeds them.
        discount_permille: i128,
        additions_minor: i128,
        exempt: bool,
        /// Override rates in hundredths of a percent.
        override_bp: Option<(i128, i128)>,
    }

    fn gen_line() -> impl Strategy<Value = GenLine> {
        (
            0i128..=1_000_000,
            0i128..=10_000_000_000,
            0i128..=1000,
            0i128..=1_000_000,
            any::<bool>(),
            proptest::option::of((0i128..=2500, 0i128..=1000)),
        )
            .prop_map(
                |(
                    qty_milli,
                    price_minor,
                    discount_permille,
                    additions_minor,
                    exempt,
                    override_bp,
                )| GenLine {
                    qty_milli,
                    price_minor,
                    discount_permille,
                    additions_minor,
                    exempt,
                    override_bp,
                },
            )
    }

    /// Half-away-from-zero division for non-negative integers.
    fn round_div(n: i128, den: i128) -> i128 {
        (2 * n + den) / (2 * den)
    }

    /// Independent reference: everything in integer minor units (i128), the
    /// rules of the module docs written out directly.
    struct Reference {
        lines: Vec<[i128; 7]>, // gross, discount, additions, net, tax, toll, total
        doc: [i128; 7],        // gross, discount, additions, net, tax, toll, grand
    }

    fn reference(
        lines: &[GenLine],
        table_bp: &[(i32, (i128, i128))],
        doc_year: i32,
        doc_discount_permille: i128,
        doc_additions: i128,
    ) -> (Reference, Vec<i128>) {
        let mut out = Vec::new();
        let mut discounts = Vec::new();
        for l in lines {
            let gross = round_div(l.qty_milli * l.price_minor, 1000);
            let discount = (gross + l.additions_minor) * l.discount_permille / 1000;
            discounts.push(discount);
            let net = gross - discount + l.additions_minor;
            let (tax_bp, toll_bp) = if l.exempt {
                (0, 0)
            } else if let Some(o) = l.override_bp {
                o
            } else {
                // Latest entry whose year is <= the document year (all
                // entries start on 1 Farvardin).
                table_bp
                    .iter()
                    .filter(|(y, _)| *y <= doc_year)
                    .max_by_key(|(y, _)| *y)
                    .map(|(_, r)| *r)
                    .unwrap()
            };
            let tax = round_div(net * tax_bp, 10_000);
            let toll = round_div(net * toll_bp, 10_000);
            out.push([
                gross,
                discount,
                l.additions_minor,
                net,
                tax,
                toll,
                net + tax + toll,
            ]);
        }
        let col = |i: usize| out.iter().map(|r| r[i]).sum::<i128>();
        let lines_net = col(3);
        let doc_discount = (lines_net + doc_additions) * doc_discount_permille / 1000;
        discounts.push(doc_discount);
        let net = lines_net - doc_discount + doc_additions;
        let doc = [
            col(0),
            col(1) + doc_discount,
            col(2) + doc_additions,
            net,
            col(4),
            col(5),
            net + col(4) + col(5),
        ];
        (Reference { lines: out, doc }, discounts)
    }

    fn minor(v: i128, scale: u32) -> Decimal {
        Decimal::from_i128_with_scale(v, scale)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn s10_h2_totals_equal_an_independent_integer_reference(
            lines in proptest::collection::vec(gen_line(), 0..12),
            scale in 0u32..=3,
            doc_year in 1400i32..=1405,
            doc_discount_permille in 0i128..=200,
            doc_additions in 0i128..=1_000_000,
            old_bp in (0i128..=2000, 0i128..=1000),
            new_bp in (0i128..=2000, 0i128..=1000),
        ) {
            let table_bp = [(1400, old_bp), (1403, new_bp)];
            let (expected, discounts) = reference(&lines, &table_bp, doc_year, doc_discount_permille, doc_additions);

            let pct = |bp: i128| Decimal::from_i128_with_scale(bp, 2);
            let table = RateTable::new(
                table_bp
                    .iter()
                    .map(|(y, (t, o))| RateEntry {
                        effective_from: j(*y, 1, 1),
                        rates: TaxRates::new(pct(*t), pct(*o)),
                    })
                    .collect(),
            )
            .unwrap();
            let doc = DocumentInput {
                date: j(doc_year, 7, 1),
                lines: lines
                    .iter()
                    .zip(&discounts)
                    .map(|(l, disc)| LineInput {
                        quantity: Decimal::from_i128_with_scale(l.qty_milli, 3),
                        unit_price: minor(l.price_minor, scale),
                        discount: minor(*disc, scale),
                        additions: minor(l.additions_minor, scale),
                        tax_exempt: l.exempt,
                        rate_override: l.override_bp.map(|(t, o)| TaxRates::new(pct(t), pct(o))),
                    })
                    .collect(),
                discount: minor(discounts[lines.len()], scale),
                additions: minor(doc_additions, scale),
            };
            let got = compute_totals(&doc, &table, scale).unwrap();

            prop_assert_eq!(got.lines.len(), expected.lines.len());
            for (g, e) in got.lines.iter().zip(&expected.lines) {
                let g = [g.gross, g.discount, g.additions, g.net, g.tax, g.toll, g.total];
                for (gv, ev) in g.iter().zip(e) {
                    prop_assert_eq!(*gv, minor(*ev, scale));
                    // Exact at the minor unit: never more places than `scale`.
                    prop_assert!(gv.normalize().scale() <= scale);
                }
            }
            let g = [got.gross, got.discount, got.additions, got.net, got.tax_total, got.toll_total, got.grand_total];
            for (gv, ev) in g.iter().zip(&expected.doc) {
                prop_assert_eq!(*gv, minor(*ev, scale));
            }
            // The identities the module promises.
            prop_assert_eq!(got.net, got.gross - got.discount + got.additions);
            prop_assert_eq!(got.grand_total, got.net + got.tax_total + got.toll_total);
            // And the result checks against itself.
            prop_assert_eq!(check_totals(&got, &got), Ok(()));
        }

        #[test]
        fn arbitrary_decimals_never_panic(
            parts in proptest::collection::vec((any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>(), 0u32..=28), 1..4),
            pct in (0u32..=10_000, 0u32..=10_000),
            scale in 0u32..=28,
        ) {
            let lines = parts
                .iter()
                .map(|&(lo, mid, hi, exempt, s)| LineInput {
                    quantity: Decimal::from_parts(lo, mid, hi, false, s),
                    unit_price: Decimal::from_parts(hi, lo, mid, false, 28 - s),
                    tax_exempt: exempt,
                    rate_override: Some(TaxRates::new(
                        Decimal::new(i64::from(pct.0), 2),
                        Decimal::new(i64::from(pct.1), 2),
                    )),
                    ..LineInput::default()
                })
                .collect();
            let doc = DocumentInput {
                date: j(1403, 1, 1),
                lines,
                discount: Decimal::ZERO,
                additions: Decimal::ZERO,
            };
            // Ok or a typed error; reaching the assertion means no panic.
            let result = compute_totals(&doc, &RateTable::sample_iran(), scale);
            let acceptable = matches!(result, Ok(_) | Err(TotalsError::Overflow { .. }));
            prop_assert!(acceptable, "unexpected result {:?}", result);
        }
    }
}
