//! JSON helpers shared with the Sepidar simulator's contract.
//!
//! Sepidar sends money and quantities as JSON numbers. serde_json must not
//! get `arbitrary_precision` (cargo would unify it into the host build), so
//! a number is read through `i64`/`u64` exactly, or through `f64` and its
//! shortest round-trip text (`0.1` stays `0.1`), and written as an integer
//! when it has no fraction, else as the `f64` whose shortest text equals it
//! (exact for the ≤ 15 significant digits quantities and fees have).

use core::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};
use serde_json::{Number, Value};

/// A decimal from any JSON number (or a numeric string, which some Sepidar
/// builds send for codes and fees).
pub fn decimal_from_json(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => decimal_from_number(n),
        Value::String(s) => Decimal::from_str_exact(s.trim()).ok(),
        _ => None,
    }
}

fn decimal_from_number(n: &Number) -> Option<Decimal> {
    if let Some(i) = n.as_i64() {
        return Some(Decimal::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(Decimal::from(u));
    }
    // `Display` of an f64 is its shortest round-trip text; parsing that text
    // keeps 0.1 as 0.1 instead of 0.1000000000000000055…
    let f = n.as_f64()?;
    Decimal::from_str(&f.to_string())
        .or_else(|_| Decimal::from_scientific(&format!("{f:e}")))
        .ok()
}

/// The JSON number for a decimal, per the contract above.
pub fn decimal_to_json(d: Decimal) -> Value {
    let d = d.normalize();
    if d.scale() == 0
        && let Some(i) = d.to_i64()
    {
        return Value::Number(i.into());
    }
    let f = d.to_f64().unwrap_or_default();
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// `#[serde(with = "json::dec")]` for a required decimal field.
pub mod dec {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&decimal_to_json(*d), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let value = Value::deserialize(d)?;
        if value.is_null() {
            return Ok(Decimal::ZERO);
        }
        decimal_from_json(&value)
            .ok_or_else(|| D::Error::custom(format!("`{value}` is not a number")))
    }
}

/// `#[serde(with = "json::opt_dec")]` for an optional decimal field.
pub mod opt_dec {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => serde::Serialize::serialize(&decimal_to_json(*d), s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        let value = Value::deserialize(d)?;
        if value.is_null() {
            return Ok(None);
        }
        decimal_from_json(&value)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("`{value}` is not a number")))
    }
}

/// Codes and numbers arrive as text or as integers depending on the field
/// and the Sepidar build; both become text (the raw value, S17: the host
/// adds the company code).
pub mod text {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Null => None,
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            other => return Err(D::Error::custom(format!("`{other}` is not text"))),
        })
    }
}

/// `#[serde(deserialize_with = "json::null_default")]`: Sepidar sends
/// `null` for empty lists and unset flags; treat it as the default.
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn reads_numbers_exactly() {
        let v: Value = serde_json::from_str("[1000000000000, 2.5, 0.1, 0.125, -7]").unwrap();
        let got: Vec<Decimal> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|v| decimal_from_json(v).unwrap())
            .collect();
        assert_eq!(
            got,
            vec![
                dec("1000000000000"),
                dec("2.5"),
                dec("0.1"),
                dec("0.125"),
                dec("-7")
            ]
        );
        assert_eq!(got[2].to_string(), "0.1");
    }

    #[test]
    fn writes_integers_as_integers_and_fractions_as_shortest_floats() {
        assert_eq!(
            decimal_to_json(dec("1000000000000")).to_string(),
            "1000000000000"
        );
        assert_eq!(decimal_to_json(dec("2500.00")).to_string(), "2500");
        assert_eq!(decimal_to_json(dec("2.5")).to_string(), "2.5");
        assert_eq!(decimal_to_json(dec("0.1")).to_string(), "0.1");
        // Round trip through text, as the simulator will read it.
        let text = decimal_to_json(dec("123456.789")).to_string();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(decimal_from_json(&back), Some(dec("123456.789")));
    }
}
