//! Money: an exact decimal amount tagged with its currency (C5).
//!
//! Amounts are [`rust_decimal::Decimal`], never floats: a ledger and a CRM
//! must agree to the last Rial, and binary floats cannot represent most
//! decimal fractions.
//!
//! Iran has two units in daily use: the Rial (`IRR`, the legal unit that
//! ledgers such as Sepidar book in) and the Toman (`IRT`, 10 Rial, what shops
//! and WooCommerce stores usually price in). `IRT` is not an ISO 4217 code; it
//! is the de-facto code WooCommerce and Iranian plugins use, so we accept it.
//! [`Money::to_rial`] converts exactly (×10); any other currency needs an
//! exchange rate, which is data the caller owns, not a rule.
//!
//! Arithmetic is checked: adding Rial to Toman, or overflowing `Decimal`,
//! is a typed [`MoneyError`], never a silently wrong sum or a panic.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Errors from money arithmetic and currency parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The two operands are in different currencies.
    #[error("currency mismatch in {op}: {left} and {right} cannot be combined without conversion")]
    CurrencyMismatch {
        /// The operation that was attempted (`add`, `sub`).
        op: &'static str,
        /// Currency of the left operand.
        left: Currency,
        /// Currency of the right operand.
        right: Currency,
    },
    /// The result does not fit in a `Decimal`.
    #[error("amount overflow in {op}: the result does not fit in a decimal")]
    Overflow {
        /// The operation that overflowed.
        op: &'static str,
    },
    /// A currency code is not three ASCII letters.
    #[error("currency code {0:?} is invalid: it must be three ASCII letters")]
    InvalidCurrencyCode(String),
    /// The currency has no fixed ratio to the Rial.
    #[error("currency {0} cannot be converted to IRR without an exchange rate")]
    NotRialConvertible(Currency),
}

/// A currency code: three upper-case ASCII letters (ISO 4217, plus the
/// de-facto `IRT` for Toman).
///
/// Stored as bytes so the type is `Copy`; serialised as the code string.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Iranian Rial, the base currency: ledgers book in Rial.
    pub const IRR: Currency = Currency(*b"IRR");
    /// Toman = 10 Rial (de-facto code, not ISO 4217).
    pub const IRT: Currency = Currency(*b"IRT");
    /// US dollar.
    pub const USD: Currency = Currency(*b"USD");
    /// Euro.
    pub const EUR: Currency = Currency(*b"EUR");
    /// UAE dirham, common in Iranian trade.
    pub const AED: Currency = Currency(*b"AED");

    /// Parses a code; lower-case letters are accepted and upper-cased because
    /// CRM and shop exports are inconsistent about case.
    pub fn new(code: &str) -> Result<Self, MoneyError> {
        let bytes = code.trim().as_bytes();
        match bytes {
            [a, b, c] if bytes.iter().all(u8::is_ascii_alphabetic) => Ok(Currency([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ])),
            _ => Err(MoneyError::InvalidCurrencyCode(code.to_owned())),
        }
    }

    /// The code as a string slice, e.g. `"IRR"`.
    pub fn code(&self) -> &str {
        // Only ASCII letters are ever stored (see `new` and the constants).
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Number of decimal places amounts in this currency are rounded to.
    ///
    /// Why not plain ISO 4217: ISO lists IRR with 2 minor digits, but the
    /// Rial has had no fractional coin for decades and every Iranian ledger
    /// books whole Rials, so IRR is 0. IRT is 1 because a tenth of a Toman is a
    /// whole Rial: anything finer could not be booked after conversion.
    /// Other currencies follow ISO 4217 for the common cases and default to 2.
    pub fn minor_unit_scale(&self) -> u32 {
        match &self.0 {
            b"IRR" | b"JPY" | b"KRW" | b"VND" | b"CLP" | b"ISK" => 0,
            b"IRT" => 1,
            b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
            _ => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::new(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Currency::new(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.code().to_owned()
    }
}

/// An exact amount in one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount, exact.
    pub amount: Decimal,
    /// Its currency.
    pub currency: Currency,
}

impl Money {
    /// Creates an amount.
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Money { amount, currency }
    }

    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Money::new(Decimal::ZERO, currency)
    }

    /// Shorthand for an amount in Rial.
    pub fn rial(amount: Decimal) -> Self {
        Money::new(amount, Currency::IRR)
    }

    /// Shorthand for an amount in Toman.
    pub fn toman(amount: Decimal) -> Self {
        Money::new(amount, Currency::IRT)
    }

    fn same_currency(&self, other: &Money, op: &'static str) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                op,
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`; refuses mixed currencies and overflow.
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other, "add")?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow { op: "add" })?;
        Ok(Money::new(amount, self.currency))
    }

    /// `self - other`; refuses mixed currencies and overflow.
    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other, "sub")?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow { op: "sub" })?;
        Ok(Money::new(amount, self.currency))
    }

    /// Converts to Rial exactly: IRR unchanged, IRT ×10 (C5). No rounding
    /// happens here; call [`round_rial`] if the amount must be bookable.
    pub fn to_rial(&self) -> Result<Money, MoneyError> {
        match self.currency {
            Currency::IRR => Ok(*self),
            Currency::IRT => {
                let amount = self
                    .amount
                    .checked_mul(Decimal::TEN)
                    .ok_or(MoneyError::Overflow { op: "to_rial" })?;
                Ok(Money::rial(amount))
            }
            other => Err(MoneyError::NotRialConvertible(other)),
        }
    }

    /// Rounds the amount to the currency's [`Currency::minor_unit_scale`]
    /// with [`round_half_away`].
    pub fn round_to_minor_unit(&self) -> Money {
        Money::new(
            round_half_away(self.amount, self.currency.minor_unit_scale()),
            self.currency,
        )
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// Rounds to `scale` decimal places, half away from zero (0.5 → 1,
/// −0.5 → −1, 2.5 → 3).
///
/// Why this mode and not banker's rounding (half to even, `Decimal`'s
/// default): invoices are checked by people with calculators and by Iranian
/// ledgers, which round halves up; half-to-even would make 2.5 Rial tax come
/// out as 2 and the totals would not match what the ledger shows. Away from
/// zero (rather than towards +∞) keeps a credit note the exact negative of its
/// invoice.
pub fn round_half_away(value: Decimal, scale: u32) -> Decimal {
    value.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero)
}

/// Rounds a Rial amount to a whole Rial (the Rial has no fraction in
/// practice), half away from zero; see [`round_half_away`].
pub fn round_rial(value: Decimal) -> Decimal {
    round_half_away(value, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn currency_codes_parse_case_insensitively() {
        assert_eq!(Currency::new("irr").unwrap(), Currency::IRR);
        assert_eq!(Currency::new(" Irt ").unwrap(), Currency::IRT);
        assert_eq!("usd".parse::<Currency>().unwrap(), Currency::USD);
        assert_eq!(Currency::new("GBP").unwrap().code(), "GBP");
    }

    #[test]
    fn currency_codes_reject_garbage() {
        for bad in ["", "IR", "IRRR", "IR1", "ریال", "I R"] {
            assert_eq!(
                Currency::new(bad),
                Err(MoneyError::InvalidCurrencyCode(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn currency_serialises_as_code() {
        let json = serde_json::to_string(&Currency::IRT).unwrap();
        assert_eq!(json, "\"IRT\"");
        let back: Currency = serde_json::from_str("\"eur\"").unwrap();
        assert_eq!(back, Currency::EUR);
        assert!(serde_json::from_str::<Currency>("\"EURO\"").is_err());
    }

    #[test]
    fn minor_unit_scales() {
        assert_eq!(Currency::IRR.minor_unit_scale(), 0);
        assert_eq!(Currency::IRT.minor_unit_scale(), 1);
        assert_eq!(Currency::USD.minor_unit_scale(), 2);
        assert_eq!(Currency::new("KWD").unwrap().minor_unit_scale(), 3);
    }

    #[test]
    fn c5_add_and_sub_in_same_currency() {
        let a = Money::rial(d("1000"));
        let b = Money::rial(d("250"));
        assert_eq!(a.checked_add(&b).unwrap(), Money::rial(d("1250")));
        assert_eq!(a.checked_sub(&b).unwrap(), Money::rial(d("750")));
    }

    #[test]
    fn c5_mixed_currencies_are_refused() {
        let rial = Money::rial(d("1000"));
        let toman = Money::toman(d("100"));
        assert_eq!(
            rial.checked_add(&toman),
            Err(MoneyError::CurrencyMismatch {
                op: "add",
                left: Currency::IRR,
                right: Currency::IRT
            })
        );
        let err = toman.checked_sub(&rial).unwrap_err();
        assert_eq!(
            err.to_string(),
            "currency mismatch in sub: IRT and IRR cannot be combined without conversion"
        );
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let max = Money::rial(Decimal::MAX);
        assert_eq!(
            max.checked_add(&Money::rial(Decimal::ONE)),
            Err(MoneyError::Overflow { op: "add" })
        );
        let min = Money::rial(Decimal::MIN);
        assert_eq!(
            min.checked_sub(&Money::rial(Decimal::ONE)),
            Err(MoneyError::Overflow { op: "sub" })
        );
        assert_eq!(
            Money::toman(Decimal::MAX).to_rial(),
            Err(MoneyError::Overflow { op: "to_rial" })
        );
    }

    #[test]
    fn c5_toman_to_rial_is_exactly_times_ten() {
        assert_eq!(
            Money::toman(d("12345")).to_rial().unwrap(),
            Money::rial(d("123450"))
        );
        // A tenth of a Toman is exactly one Rial, no rounding involved.
        assert_eq!(
            Money::toman(d("0.1")).to_rial().unwrap().amount,
            Decimal::ONE
        );
        assert_eq!(
            Money::rial(d("77")).to_rial().unwrap(),
            Money::rial(d("77"))
        );
    }

    #[test]
    fn c5_foreign_currency_needs_a_rate() {
        assert_eq!(
            Money::new(d("5"), Currency::USD).to_rial(),
            Err(MoneyError::NotRialConvertible(Currency::USD))
        );
    }

    #[test]
    fn round_rial_is_half_away_from_zero() {
        assert_eq!(round_rial(d("2.5")), d("3"));
        assert_eq!(round_rial(d("3.5")), d("4"));
        assert_eq!(round_rial(d("2.4999")), d("2"));
        assert_eq!(round_rial(d("-2.5")), d("-3"));
        assert_eq!(round_rial(d("-2.4")), d("-2"));
        assert_eq!(round_rial(d("0")), d("0"));
    }

    #[test]
    fn round_half_away_honours_scale() {
        assert_eq!(round_half_away(d("1.005"), 2), d("1.01"));
        assert_eq!(round_half_away(d("1.0049"), 2), d("1.00"));
        assert_eq!(
            Money::new(d("10.125"), Currency::USD).round_to_minor_unit(),
            Money::new(d("10.13"), Currency::USD)
        );
        assert_eq!(
            Money::toman(d("10.15")).round_to_minor_unit(),
            Money::toman(d("10.2"))
        );
    }

    #[test]
    fn display_shows_amount_and_code() {
        assert_eq!(Money::rial(d("1500")).to_string(), "1500 IRR");
    }
}
