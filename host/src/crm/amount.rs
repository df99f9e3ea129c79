//! Deserialising amounts and quantities from API input.
//!
//! An amount arrives as a JSON string (`"1250000.5"`, Persian or Arabic-Indic
//! digits accepted) or a JSON integer. A JSON number with a fraction or an
//! exponent is refused: serde_json reads it as an `f64` first, and a float
//! cannot carry most decimal fractions, so accepting it would let a client's
//! `0.1` arrive as `0.1000000000000000055511151231257827`.
//!
//! Values are bounded so that every stored amount fits comfortably in a
//! `Decimal` product and in any ledger's column: at most [`MAX_INTEGER_DIGITS`]
//! digits before the point and [`MAX_SCALE`] after it.

use hamgam_domain::{Decimal, normalize_digits};
use serde::Deserializer;
use serde::de::{self, Visitor};
use std::fmt;
use std::str::FromStr;

/// Most digits before the decimal point (10^18 Rial is far beyond any
/// invoice, and keeps `quantity × price` inside `Decimal`'s 28 digits for
/// realistic quantities).
pub const MAX_INTEGER_DIGITS: usize = 18;
/// Most digits after the decimal point.
pub const MAX_SCALE: u32 = 8;

struct AmountVisitor;

impl Visitor<'_> for AmountVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a decimal as a string (\"1250000.50\") or an integer")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        parse(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        parse(&v.to_string()).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        parse(&v.to_string()).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        Err(E::custom(format!(
            "{v} is a JSON float; send decimals as strings (\"{v}\") so no precision is lost"
        )))
    }
}

/// Parses a decimal text: Persian/Arabic-Indic digits normalised, `,` and
/// `٬` thousands separators refused (ambiguous with a decimal comma).
pub fn parse(input: &str) -> Result<Decimal, String> {
    let text = normalize_digits(input.trim()).replace('\u{066B}', ".");
    let body = text.strip_prefix('-').unwrap_or(&text);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("{input:?} is not a decimal number"));
    }
    if int.trim_start_matches('0').len() > MAX_INTEGER_DIGITS {
        return Err(format!(
            "{input:?} is too large: at most {MAX_INTEGER_DIGITS} digits before the decimal point"
        ));
    }
    if frac.len() > MAX_SCALE as usize {
        return Err(format!(
            "{input:?} has too many decimal places: at most {MAX_SCALE}"
        ));
    }
    Decimal::from_str(&text).map_err(|e| format!("{input:?} is not a decimal number: {e}"))
}

/// `deserialize_with` for a required amount.
pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_any(AmountVisitor)
}

/// `deserialize_with` for an optional amount (`null` or absent → `None`).
pub fn de_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    struct Opt;
    impl<'de> Visitor<'de> for Opt {
        type Value = Option<Decimal>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a decimal as a string, an integer or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            de(d).map(Some)
        }
    }
    d.deserialize_option(Opt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_integers_and_persian_digits_parse_exactly() {
        assert_eq!(parse("۱۲۵۰").unwrap(), Decimal::from(1250));
        assert_eq!(parse(" 0.10 ").unwrap().to_string(), "0.10");
        assert_eq!(parse("-3").unwrap(), Decimal::from(-3));
        let v: serde_json::Value = serde_json::json!(42);
        assert_eq!(de(v).unwrap(), Decimal::from(42));
    }

    #[test]
    fn floats_garbage_and_huge_values_are_refused() {
        assert!(de(serde_json::json!(1.5)).is_err());
        for bad in [
            "",
            "1,000",
            "1e5",
            "abc",
            "1.2.3",
            "1234567890123456789",
            "0.123456789",
            "--1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
