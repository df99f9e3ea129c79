//! Pure business rules shared by the Hamgam host and its plugins.
//!
//! This crate is the single place where Hamgam decides what a number *means*:
//! how money is added and rounded, what day a Jalali date is, how a document
//! number is built and which company it routes to, whether a customer number
//! or a national ID is valid, and how a quote's or invoice's totals add up.
//! The host (x86_64) and every plugin (`wasm32-wasip2`) link the same code, so
//! a ledger connector and the CRM side cannot disagree by a Rial.
//!
//! It therefore has no I/O, no async runtime and no database: every function
//! is deterministic over its arguments, which is also what makes it cheap to
//! test exhaustively (see the day-by-day calendar cross-check and the totals
//! property tests).
//!
//! Modules:
//! * [`money`] — [`Currency`], [`Money`], Toman → Rial, rounding (C5).
//! * [`jalali`] — [`JalaliDate`] / [`GregorianDate`] conversion and parsing (S18).
//! * [`digits`] — Persian / Arabic-Indic digit and letter normalisation.
//! * [`company`] — [`CompanyCode`] 100–999 (S17).
//! * [`numbering`] — [`NumberTemplate`]: `QT-{SHYY}-{counter:5}-{company}` (S17, S18).
//! * [`validation`] — field-named [`ValidationError`]s: customer number (S6),
//!   national IDs, phones (S5), economic code, e-mail.
//! * [`totals`] — [`compute_totals`] / [`check_totals`]: lines, discounts,
//!   additions, VAT and toll, rate-versioned (S10, H2).
//!
//! Money is never a float: every amount is a [`rust_decimal::Decimal`].
//!
//! ```
//! use hamgam_domain::{
//!     CompanyCode, Decimal, DocumentInput, JalaliDate, LineInput, NumberTemplate, RateTable,
//!     company_code_of, compute_totals,
//! };
//!
//! // S18: the Shamsi year in a number switches at Nowruz, not on 1 January.
//! let template = NumberTemplate::parse("QT-{SHYY}-{counter:5}-{company}")?;
//! let nowruz = JalaliDate::from_gregorian(2025, 3, 21)?;
//! let number = template.render(17, nowruz, CompanyCode::new(300)?)?;
//! assert_eq!(number, "QT-04-00017-300");
//! assert_eq!(template.period_key(nowruz), "1404");
//! // S17: the company code in the number picks the ledger database.
//! assert_eq!(company_code_of(&number)?.get(), 300);
//!
//! // S10/H2: 2 × 1 000 000 Rial on 1404/01/01 with the sample 7 % + 3 % rates.
//! let doc = DocumentInput {
//!     date: nowruz,
//!     lines: vec![LineInput {
//!         quantity: Decimal::from(2),
//!         unit_price: Decimal::from(1_000_000),
//!         ..LineInput::default()
//!     }],
//!     discount: Decimal::ZERO,
//!     additions: Decimal::ZERO,
//! };
//! let totals = compute_totals(&doc, &RateTable::sample_iran(), 0)?;
//! assert_eq!(totals.tax_total, Decimal::from(140_000));
//! assert_eq!(totals.toll_total, Decimal::from(60_000));
//! assert_eq!(totals.grand_total, Decimal::from(2_200_000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod company;
pub mod digits;
pub mod jalali;
pub mod money;
pub mod numbering;
pub mod totals;
pub mod validation;

pub use company::CompanyCode;
pub use digits::{normalize_digits, normalize_persian_letters};
pub use jalali::{GregorianDate, JalaliDate, JalaliError};
pub use money::{Currency, Money, MoneyError, round_half_away, round_rial};
pub use numbering::{NumberTemplate, NumberingError, company_code_of};
pub use rust_decimal::Decimal;
pub use totals::{
    DocumentInput, DocumentTotals, LineInput, LineTotals, RateEntry, RateTable, TaxRates,
    TotalsError, check_totals, compute_totals,
};
pub use validation::{
    CustomerNumber, Phone, Rule, ValidationError, normalize_phone, validate_customer_number,
    validate_economic_code, validate_email, validate_legal_entity_id, validate_national_id,
};
