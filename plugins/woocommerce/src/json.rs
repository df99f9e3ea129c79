//! JSON helpers: WooCommerce sends money as strings with two decimals
//! (`"1250000.50"`), quantities and a few amounts (`price`, `refund_total`)
//! as JSON numbers, and Iranian shops sometimes store Persian digits in
//! free-text fields. Every amount becomes an exact [`Decimal`]: strings are
//! parsed digit by digit, never through a float.

use core::str::FromStr;

use hamgam_sdk::domain::digits::normalize_digits;
use rust_decimal::Decimal;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Number, Value};

/// A decimal from a JSON string (`"12.50"`, Persian digits allowed, empty =
/// zero) or number (integers exactly; fractions through the shortest
/// round-trip text of the `f64`, so `0.1` stays `0.1`).
pub fn decimal_from_json(value: &Value) -> Option<Decimal> {
    match value {
        Value::Null => Some(Decimal::ZERO),
        Value::Number(n) => decimal_from_number(n),
        Value::String(s) => parse_decimal(s),
        _ => None,
    }
}

/// Exact text → decimal; Persian/Arabic digits and the Arabic decimal
/// separator (`٫`) are accepted, thousands separators are not guessed.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    let text = normalize_digits(text.trim()).replace('٫', ".");
    if text.is_empty() {
        return Some(Decimal::ZERO);
    }
    Decimal::from_str_exact(&text).ok()
}

fn decimal_from_number(n: &Number) -> Option<Decimal> {
    if let Some(i) = n.as_i64() {
        return Some(Decimal::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(Decimal::from(u));
    }
    let f = n.as_f64()?;
    Decimal::from_str(&f.to_string())
        .or_else(|_| Decimal::from_scientific(&format!("{f:e}")))
        .ok()
}

/// `#[serde(deserialize_with = "json::dec")]`: a required amount (missing
/// or null = zero).
pub fn dec<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let value = Value::deserialize(d)?;
    decimal_from_json(&value).ok_or_else(|| D::Error::custom(format!("`{value}` is not an amount")))
}

/// `#[serde(deserialize_with = "json::opt_dec")]`: an optional amount
/// (null or empty string = none, e.g. `stock_quantity`, `sale_price`).
pub fn opt_dec<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let value = Value::deserialize(d)?;
    match &value {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        _ => decimal_from_json(&value)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("`{value}` is not an amount"))),
    }
}

/// `#[serde(deserialize_with = "json::text")]`: text that some plugins
/// send as a number or null (order `number`, phone, postcode).
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => String::new(),
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => return Err(D::Error::custom(format!("`{other}` is not text"))),
    })
}

/// `#[serde(deserialize_with = "json::null_default")]`: null → default.
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

    #[test]
    fn strings_and_numbers_are_exact() {
        let v: Value =
            serde_json::from_str(r#"["1250000.50", "۱۲۵۰۰۰۰٫۵۰", 3, 0.1, null, "", "-12.00"]"#)
                .unwrap();
        let got: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|v| decimal_from_json(v).unwrap().to_string())
            .collect();
        assert_eq!(
            got,
            vec!["1250000.50", "1250000.50", "3", "0.1", "0", "0", "-12.00"]
        );
        assert_eq!(parse_decimal("1,000"), None);
    }
}
