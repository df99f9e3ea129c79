//! JSON encodings shared with the connector (see the contract, "Transport").
//!
//! * Money and quantities are [`Decimal`]s. They are written as a JSON integer
//!   when they have no fraction, else as the `f64` whose shortest `Display`
//!   equals the decimal (exact for up to 15 significant digits). They are read
//!   through `i64`/`u64` exactly, or through `f64` → `to_string()` →
//!   `Decimal::from_str`, so `0.1` stays `0.1`. Numeric strings are accepted
//!   too (Json.NET does).
//! * Dates are ISO 8601 without zone, `"2025-03-21T00:00:00"`; a bare
//!   `"2025-03-21"` and a time part with fraction or zone are accepted on input.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Writes a decimal as a JSON number per the contract.
pub fn write_decimal<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    if d.scale() == 0
        && let Ok(i) = i64::try_from(d.mantissa())
    {
        return s.serialize_i64(i);
    }
    let n = d.normalize();
    if n.scale() == 0
        && let Some(i) = n.to_i64()
    {
        return s.serialize_i64(i);
    }
    s.serialize_f64(n.to_f64().unwrap_or(0.0))
}

/// Converts an `f64` read from JSON into the decimal its shortest text shows.
pub fn decimal_from_f64(f: f64) -> Option<Decimal> {
    if !f.is_finite() {
        return None;
    }
    Decimal::from_str(&f.to_string())
        .ok()
        .or_else(|| Decimal::from_f64(f))
}

struct DecVisitor;

impl<'de> Visitor<'de> for DecVisitor {
    type Value = Decimal;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        decimal_from_f64(v).ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        Decimal::from_str(v.trim())
            .or_else(|_| Decimal::from_scientific(v.trim()))
            .map_err(|_| E::custom(format!("not a number: {v:?}")))
    }
}

/// `serde(with = "num::dec")` for a required decimal.
pub mod dec {
    use super::*;
    /// Serializes per the contract.
    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        write_decimal(d, s)
    }
    /// Deserializes a JSON number (or numeric string).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        d.deserialize_any(DecVisitor)
    }
}

/// `serde(with = "num::dec_opt")` for an optional decimal (`null` = `None`).
pub mod dec_opt {
    use super::*;
    /// Serializes `None` as `null`.
    pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => write_decimal(d, s),
            None => s.serialize_none(),
        }
    }
    struct OptVisitor;
    impl<'de> Visitor<'de> for OptVisitor {
        type Value = Option<Decimal>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(DecVisitor).map(Some)
        }
    }
    /// Deserializes a JSON number, numeric string or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        d.deserialize_option(OptVisitor)
    }
}

/// Formats a date the way Sepidar does: `2025-03-21T00:00:00`.
pub fn format_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%dT00:00:00").to_string()
}

/// Parses `2025-03-21`, `2025-03-21T00:00:00`, `2025-03-21T10:11:12.123+03:30`…
/// (the date part is what counts).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let date_part = s.split(['T', ' ']).next()?;
    NaiveDate::parse_from_str(date_part, "%Y-%m-%d").ok()
}

/// `serde(with = "num::date")` for a required date.
pub mod date {
    use super::*;
    /// Serializes as `2025-03-21T00:00:00`.
    pub fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_date(*d))
    }
    /// Deserializes an ISO date or date-time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        parse_date(&s).ok_or_else(|| de::Error::custom(format!("not a date: {s:?}")))
    }
}

/// `serde(with = "num::date_opt")` for an optional date.
pub mod date_opt {
    use super::*;
    /// Serializes `None` as `null`.
    pub fn serialize<S: Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format_date(*d)),
            None => s.serialize_none(),
        }
    }
    /// Deserializes an ISO date, date-time, empty string or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        let s: Option<String> = serde::Deserialize::deserialize(d)?;
        match s {
            None => Ok(None),
            Some(s) if s.trim().is_empty() => Ok(None),
            Some(s) => parse_date(&s)
                .map(Some)
                .ok_or_else(|| de::Error::custom(format!("not a date: {s:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct W {
        #[serde(with = "dec")]
        v: Decimal,
        #[serde(with = "dec_opt", default)]
        o: Option<Decimal>,
    }

    #[test]
    fn decimals_round_trip_as_numbers() {
        let cases = [
            "0",
            "15000000",
            "2.5",
            "0.125",
            "0.1",
            "-3",
            "123456789.123",
        ];
        for c in cases {
            let w = W {
                v: Decimal::from_str(c).unwrap(),
                o: None,
            };
            let text = serde_json::to_string(&w).unwrap();
            assert!(!text.contains('"') || text.contains("\"v\""), "{text}");
            let back: W = serde_json::from_str(&text).unwrap();
            assert_eq!(back, w, "{c} -> {text}");
        }
        assert_eq!(
            serde_json::to_string(&W {
                v: Decimal::from_str("1500.00").unwrap(),
                o: Some(Decimal::from_str("0.10").unwrap())
            })
            .unwrap(),
            r#"{"v":1500,"o":0.1}"#
        );
        let w: W = serde_json::from_str(r#"{"v":0.1,"o":null}"#).unwrap();
        assert_eq!(w.v.to_string(), "0.1");
        let w: W = serde_json::from_str(r#"{"v":"42"}"#).unwrap();
        assert_eq!(w.v, Decimal::from(42));
    }

    #[test]
    fn dates_parse_and_format() {
        let d = NaiveDate::from_ymd_opt(2025, 3, 21).unwrap();
        assert_eq!(format_date(d), "2025-03-21T00:00:00");
        assert_eq!(parse_date("2025-03-21T00:00:00"), Some(d));
        assert_eq!(parse_date("2025-03-21"), Some(d));
        assert_eq!(parse_date("2025-03-21T13:00:00.123"), Some(d));
        assert_eq!(parse_date("21/03/2025"), None);
    }
}
