//! Jalali (Solar Hijri) calendar arithmetic for fiscal years.
//!
//! Uses Borkowski's algorithm ("The Persian calendar for 3000 years", the one
//! jalaali-js implements): the leap years follow a table of "break" years and
//! a 33-year cycle between them. A Jalali year starts at Nowruz (1 Farvardin),
//! which always falls in March of Gregorian year `jy + 621`; the day is
//! computed, never assumed. The unit tests cross-check against ICU4X's
//! `Persian` calendar.

use chrono::{Datelike, Duration, NaiveDate};

const BREAKS: [i32; 20] = [
    -61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210, 1635, 2060, 2097, 2192, 2262, 2324,
    2394, 2456, 3178,
];

/// Integer division truncating toward zero (as the reference algorithm).
fn div(a: i32, b: i32) -> i32 {
    a / b
}

/// Remainder with the sign of the dividend (as the reference algorithm).
fn rem(a: i32, b: i32) -> i32 {
    a % b
}

/// (is leap year, Gregorian day of March on which Nowruz of `jy` falls).
fn jal_cal(jy: i32) -> Option<(bool, u32)> {
    if jy < BREAKS[0] || jy >= BREAKS[BREAKS.len() - 1] {
        return None;
    }
    let gy = jy + 621;
    let mut leap_j = -14;
    let mut jp = BREAKS[0];
    let mut jump = 0;
    for &jm in &BREAKS[1..] {
        jump = jm - jp;
        if jy < jm {
            break;
        }
        leap_j += div(jump, 33) * 8 + div(rem(jump, 33), 4);
        jp = jm;
    }
    let mut n = jy - jp;
    leap_j += div(n, 33) * 8 + div(rem(n, 33) + 3, 4);
    if rem(jump, 33) == 4 && jump - n == 4 {
        leap_j += 1;
    }
    let leap_g = div(gy, 4) - div((div(gy, 100) + 1) * 3, 4) - 150;
    let march = 20 + leap_j - leap_g;
    if jump - n < 6 {
        n = n - jump + div(jump + 4, 33) * 33;
    }
    let mut leap = rem(rem(n + 1, 33) - 1, 4);
    if leap == -1 {
        leap = 4;
    }
    Some((leap == 0, march as u32))
}

/// The Gregorian date of 1 Farvardin `jy` (Nowruz).
pub fn nowruz(jy: i32) -> Option<NaiveDate> {
    let (_, march) = jal_cal(jy)?;
    NaiveDate::from_ymd_opt(jy + 621, 3, march)
}

/// True when Esfand of `jy` has 30 days.
pub fn is_leap(jy: i32) -> bool {
    jal_cal(jy).map(|(l, _)| l).unwrap_or(false)
}

/// First and last Gregorian day of Jalali year `jy`.
pub fn year_bounds(jy: i32) -> Option<(NaiveDate, NaiveDate)> {
    let start = nowruz(jy)?;
    let next = nowruz(jy + 1)?;
    Some((start, next - Duration::days(1)))
}

/// Converts a Gregorian date to Jalali `(year, month, day)`.
pub fn to_jalali(d: NaiveDate) -> Option<(i32, u32, u32)> {
    let mut jy = d.year() - 621;
    let mut start = nowruz(jy)?;
    if d < start {
        jy -= 1;
        start = nowruz(jy)?;
    }
    let mut day_of_year = (d - start).num_days() as u32; // 0-based
    for month in 1..=12u32 {
        let len = month_len(jy, month);
        if day_of_year < len {
            return Some((jy, month, day_of_year + 1));
        }
        day_of_year -= len;
    }
    None
}

/// Converts a Jalali date to Gregorian.
pub fn from_jalali(jy: i32, jm: u32, jd: u32) -> Option<NaiveDate> {
    if !(1..=12).contains(&jm) || jd == 0 || jd > month_len(jy, jm) {
        return None;
    }
    let before: u32 = (1..jm).map(|m| month_len(jy, m)).sum();
    Some(nowruz(jy)? + Duration::days(i64::from(before + jd - 1)))
}

fn month_len(jy: i32, month: u32) -> u32 {
    match month {
        1..=6 => 31,
        7..=11 => 30,
        _ if is_leap(jy) => 30,
        _ => 29,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use icu_calendar::{Date, cal::Persian};

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn fiscal_year_bounds_1403_to_1405() {
        assert_eq!(
            year_bounds(1403),
            Some((ymd(2024, 3, 20), ymd(2025, 3, 20)))
        );
        assert_eq!(
            year_bounds(1404),
            Some((ymd(2025, 3, 21), ymd(2026, 3, 20)))
        );
        assert_eq!(
            year_bounds(1405),
            Some((ymd(2026, 3, 21), ymd(2027, 3, 20)))
        );
        assert!(is_leap(1403));
        assert!(!is_leap(1404));
    }

    #[test]
    fn matches_icu_persian_calendar_for_1380_to_1430() {
        let mut d = ymd(2001, 3, 1);
        let end = ymd(2051, 12, 31);
        while d <= end {
            let iso = Date::try_new_iso(d.year(), d.month() as u8, d.day() as u8).unwrap();
            let p = iso.to_calendar(Persian);
            let expected = (
                p.year().extended_year(),
                u32::from(p.month().ordinal),
                u32::from(p.day_of_month().0),
            );
            assert_eq!(to_jalali(d), Some(expected), "{d}");
            assert_eq!(from_jalali(expected.0, expected.1, expected.2), Some(d));
            d += Duration::days(1);
        }
    }
}
