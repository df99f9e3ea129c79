//! Company codes (S17): the three-digit code, 100–999, that names one ledger
//! database (company) inside a tenant.
//!
//! Payamgostar's incumbent sync module routes every record by such a code
//! (integrations.md §3.5); Hamgam keeps the same range so numbers already in
//! customers' CRMs stay valid. A code is always exactly three digits, so it
//! never has a leading zero and renders with a fixed width.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::digits::normalize_digits;
use crate::validation::{Rule, ValidationError};

/// A company code, 100..=999.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct CompanyCode(u16);

impl CompanyCode {
    /// Smallest valid code.
    pub const MIN: u16 = 100;
    /// Largest valid code.
    pub const MAX: u16 = 999;

    /// Checks the range; the error names the field `company_code`.
    pub fn new(code: u16) -> Result<Self, ValidationError> {
        if (Self::MIN..=Self::MAX).contains(&code) {
            Ok(CompanyCode(code))
        } else {
            Err(ValidationError::new(
                "company_code",
                Rule::Range,
                format!("company code must be 100..=999, got {code}"),
            ))
        }
    }

    /// Parses three digits (Persian and Arabic-Indic accepted); `field`
    /// names the input in the error.
    pub fn parse(field: &str, input: &str) -> Result<Self, ValidationError> {
        let text = normalize_digits(input.trim());
        if text.len() != 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new(
                field,
                Rule::Format,
                format!("company code must be three digits 100..=999, got {input:?}"),
            ));
        }
        let code: u16 = text.parse().map_err(|_| {
            ValidationError::new(field, Rule::Format, "company code must be three digits")
        })?;
        CompanyCode::new(code).map_err(|e| ValidationError {
            field: field.to_owned(),
            ..e
        })
    }

    /// The numeric value.
    pub fn get(&self) -> u16 {
        self.0
    }
}

impl fmt::Display for CompanyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for CompanyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompanyCode({})", self.0)
    }
}

impl TryFrom<u16> for CompanyCode {
    type Error = ValidationError;
    fn try_from(code: u16) -> Result<Self, Self::Error> {
        CompanyCode::new(code)
    }
}

impl From<CompanyCode> for u16 {
    fn from(c: CompanyCode) -> Self {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s17_range_is_100_to_999() {
        assert_eq!(CompanyCode::new(100).unwrap().get(), 100);
        assert_eq!(CompanyCode::new(999).unwrap().to_string(), "999");
        let err = CompanyCode::new(99).unwrap_err();
        assert_eq!(err.field, "company_code");
        assert_eq!(err.rule, Rule::Range);
        assert!(CompanyCode::new(1000).is_err());
        assert!(CompanyCode::new(0).is_err());
    }

    #[test]
    fn s17_parse_accepts_persian_digits_and_names_the_field() {
        assert_eq!(CompanyCode::parse("company", "۳۰۰").unwrap().get(), 300);
        let err = CompanyCode::parse("company", "099").unwrap_err();
        assert_eq!((err.field.as_str(), err.rule), ("company", Rule::Range));
        let err = CompanyCode::parse("company", "30").unwrap_err();
        assert_eq!((err.field.as_str(), err.rule), ("company", Rule::Format));
    }

    #[test]
    fn serde_is_a_number_and_validates() {
        assert_eq!(
            serde_json::to_string(&CompanyCode::new(300).unwrap()).unwrap(),
            "300"
        );
        assert!(serde_json::from_str::<CompanyCode>("42").is_err());
    }
}
