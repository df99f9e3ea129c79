//! Exact conversions between the WIT value types and Rust ones.
//!
//! The WIT `decimal` record mirrors `rust_decimal`'s layout (96-bit
//! mantissa, sign, scale 0..=28), so both directions are exact; the only
//! normalisation is that a negative zero becomes zero, as `rust_decimal`
//! itself does.

use core::fmt;
use core::str::FromStr;

use crate::{Date, Decimal, Error, Money, Result, Timestamp};

/// The largest scale `rust_decimal` (and the host) accepts.
const MAX_SCALE: u8 = 28;

impl From<rust_decimal::Decimal> for Decimal {
    fn from(value: rust_decimal::Decimal) -> Self {
        let mantissa = value.mantissa().unsigned_abs();
        Decimal {
            mantissa_lo: mantissa as u64,
            // A rust_decimal mantissa has 96 bits, so the high part fits.
            mantissa_hi: (mantissa >> 64) as u32,
            negative: value.is_sign_negative() && mantissa != 0,
            scale: value.scale() as u8,
        }
    }
}

impl TryFrom<Decimal> for rust_decimal::Decimal {
    type Error = Error;

    /// Fails with `invalid-input` for a scale above 28; the mantissa always
    /// fits because the record's fields hold exactly 96 bits.
    fn try_from(value: Decimal) -> Result<Self> {
        if value.scale > MAX_SCALE {
            return Err(Error::invalid(
                "scale",
                format!("decimal scale {} exceeds {MAX_SCALE}", value.scale),
            ));
        }
        let lo = value.mantissa_lo as u32;
        let mid = (value.mantissa_lo >> 32) as u32;
        Ok(rust_decimal::Decimal::from_parts(
            lo,
            mid,
            value.mantissa_hi,
            value.negative,
            u32::from(value.scale),
        ))
    }
}

impl Decimal {
    /// Zero with scale 0.
    pub const ZERO: Decimal = Decimal {
        mantissa_lo: 0,
        mantissa_hi: 0,
        negative: false,
        scale: 0,
    };

    /// The value as a `rust_decimal::Decimal` (fails only for a scale above 28).
    pub fn to_decimal(&self) -> Result<rust_decimal::Decimal> {
        rust_decimal::Decimal::try_from(*self)
    }

    /// An integer with scale 0.
    pub fn from_i64(value: i64) -> Self {
        rust_decimal::Decimal::from(value).into()
    }
}

impl FromStr for Decimal {
    type Err = Error;

    /// Parses plain decimal notation (`-12.50`); exact, no float on the way.
    fn from_str(s: &str) -> Result<Self> {
        rust_decimal::Decimal::from_str_exact(s.trim())
            .map(Decimal::from)
            .map_err(|e| Error::invalid("decimal", format!("`{s}` is not a decimal: {e}")))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_decimal() {
            Ok(d) => fmt::Display::fmt(&d, f),
            Err(_) => write!(f, "<decimal with scale {}>", self.scale),
        }
    }
}

impl Money {
    /// An amount in `currency` (ISO 4217: `IRR`, `IRT`, …).
    pub fn new(amount: rust_decimal::Decimal, currency: impl Into<String>) -> Self {
        Money {
            amount: amount.into(),
            currency: currency.into(),
        }
    }

    /// An amount in Rial (`IRR`), Hamgam's base currency.
    pub fn rial(amount: rust_decimal::Decimal) -> Self {
        Money::new(amount, "IRR")
    }
}

impl Date {
    /// A Gregorian date, checked: month 1..=12 and a day that exists in that
    /// month (leap years included).
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Result<Self> {
        if !(1..=12).contains(&month) {
            return Err(Error::invalid("month", format!("month {month} is not 1..=12")));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(Error::invalid(
                "day",
                format!("{year:04}-{month:02} has no day {day}"),
            ));
        }
        Ok(Date { year, month, day })
    }

    /// `(year, month, day)`.
    pub fn ymd(&self) -> (i32, u8, u8) {
        (self.year, self.month, self.day)
    }

    /// The UTC calendar date of an instant.
    pub fn from_timestamp(ts: Timestamp) -> Self {
        let (year, month, day) = civil_from_days(ts.seconds.div_euclid(86_400));
        Date { year, month, day }
    }

    /// Days since 1970-01-01 (negative before it).
    pub fn days_since_epoch(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day)
    }
}

impl TryFrom<(i32, u8, u8)> for Date {
    type Error = Error;

    fn try_from((y, m, d): (i32, u8, u8)) -> Result<Self> {
        Date::from_ymd(y, m, d)
    }
}

impl From<Date> for (i32, u8, u8) {
    fn from(date: Date) -> Self {
        date.ymd()
    }
}

impl FromStr for Date {
    type Err = Error;

    /// Parses ISO `YYYY-MM-DD`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::invalid("date", format!("`{s}` is not a YYYY-MM-DD date"));
        let mut parts = s.trim().splitn(3, '-');
        let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        let day = d.parse().map_err(|_| bad())?;
        Date::from_ymd(year, month, day)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    pub fn as_millis(&self) -> i64 {
        self.seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(self.nanoseconds / 1_000_000))
    }

    /// An instant from milliseconds since the Unix epoch.
    pub fn from_millis(millis: i64) -> Self {
        Timestamp {
            seconds: millis.div_euclid(1000),
            nanoseconds: (millis.rem_euclid(1000) as u32) * 1_000_000,
        }
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's `days_from_civil` / `civil_from_days`: exact for the
// proleptic Gregorian calendar, no tables.
fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> rust_decimal::Decimal {
        rust_decimal::Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn decimal_round_trips_exactly_including_96_bit_mantissas() {
        for s in [
            "0",
            "1",
            "-1",
            "0.0001",
            "123456789012345.678",
            "-79228162514264337593543950335",
            "79228162514264337593543950335",
            "0.0000000000000000000000000001",
            "1.50",
        ] {
            let d = dec(s);
            let wit = Decimal::from(d);
            let back = wit.to_decimal().unwrap();
            assert_eq!(back, d, "{s}");
            assert_eq!(back.scale(), d.scale(), "scale of {s}");
            assert_eq!(back.to_string(), d.to_string());
        }
    }

    #[test]
    fn decimal_layout_matches_the_wit_contract() {
        let wit = Decimal::from(dec("-18446744073709551616.5"));
        // 184467440737095516165 = 10 * 2^64 + 5
        assert_eq!(wit.mantissa_hi, 10);
        assert_eq!(wit.mantissa_lo, 5);
        assert!(wit.negative);
        assert_eq!(wit.scale, 1);
    }

    #[test]
    fn decimal_rejects_scale_above_28() {
        let wit = Decimal {
            mantissa_lo: 1,
            mantissa_hi: 0,
            negative: false,
            scale: 29,
        };
        assert!(matches!(wit.to_decimal(), Err(Error::InvalidInput(_))));
    }

    #[test]
    fn dates_check_the_calendar_and_round_trip_through_days() {
        assert!(Date::from_ymd(2024, 2, 29).is_ok());
        assert!(Date::from_ymd(2023, 2, 29).is_err());
        assert!(Date::from_ymd(2023, 13, 1).is_err());
        for days in [-800_000_i64, -1, 0, 1, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        let ts = Timestamp {
            seconds: 1_710_892_800, // 2024-03-20T00:00:00Z, Nowruz 1403
            nanoseconds: 0,
        };
        assert_eq!(Date::from_timestamp(ts).to_string(), "2024-03-20");
        assert_eq!("2024-03-20".parse::<Date>().unwrap().ymd(), (2024, 3, 20));
    }

    #[test]
    fn timestamp_millis_round_trip_before_and_after_the_epoch() {
        for ms in [-1_500_i64, 0, 1_710_892_800_123] {
            assert_eq!(Timestamp::from_millis(ms).as_millis(), ms);
        }
    }
}
