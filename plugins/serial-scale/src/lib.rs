//! A scale driver for the line protocol A&D, CAS and many clones speak.
//!
//! The driver writes a request command (setting `request_command`, default
//! `Q\r\n`, A&D's "send the current weight now"; `\r`, `\n` and `\t` escapes
//! are understood) and reads lines ending in CRLF such as
//!
//! ```text
//! ST,GS,+0012.345kg
//! US,NT,-0000.120 kg
//! ```
//!
//! - header 1: `ST` stable, `US` unstable (still settling), `OL` overload;
//! - header 2: `GS` gross, `NT` net, `TR` tare — reported as is;
//! - a signed, zero-padded value, then the unit (`kg` or `g`).
//!
//! Scales in continuous-output mode stream lines without being asked, so
//! stale input is drained first and a partial first line is skipped. The
//! weight is returned as an exact decimal (`0012.345` → `12.345`, scale 3).
//! Setting `timeout_ms` (default 2000) bounds the wait for each byte.

use hamgam_sdk::port;
use hamgam_sdk::{Decimal, DeviceDriver, DeviceKind, Error, Result, Weight, config, debug, warn};

const DEFAULT_REQUEST: &str = "Q\\r\\n";
const DEFAULT_TIMEOUT_MS: u32 = 2000;
/// A protocol line is 17–20 bytes; anything much longer is line noise.
const MAX_LINE: usize = 64;
/// A partial line after draining, then up to two whole ones.
const LINES_TO_TRY: usize = 3;

struct Scale;

impl DeviceDriver for Scale {
    fn describe() -> DeviceKind {
        DeviceKind::Scale
    }

    fn read_weight() -> Result<Weight> {
        let request =
            unescape(&config::get("request_command").unwrap_or_else(|| DEFAULT_REQUEST.to_owned()));
        let timeout_ms = match config::get("timeout_ms") {
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| Error::invalid("timeout_ms", format!("`{v}` is not a number")))?,
            None => DEFAULT_TIMEOUT_MS,
        };

        drain()?;
        port::write_all(request.as_bytes())?;
        let mut last_error = None;
        for _ in 0..LINES_TO_TRY {
            let line = port::read_until(b"\r\n", timeout_ms, MAX_LINE)?;
            let text = String::from_utf8_lossy(&line);
            match parse_line(text.trim_end_matches(['\r', '\n'])) {
                Ok(weight) => return Ok(weight),
                Err(e) => {
                    debug!("skipping scale line {text:?}: {}", e.message());
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| Error::Other("no weight from the scale".into())))
    }
}

hamgam_sdk::export_device_driver!(Scale);

/// Throw away whatever a continuously sending scale has queued, so the
/// weight returned is current. Bounded so a chatty line cannot hold us.
fn drain() -> Result<()> {
    for _ in 0..64 {
        if port::read(256, 0)?.is_empty() {
            return Ok(());
        }
    }
    warn!("scale keeps sending; reading the next line as it comes");
    Ok(())
}

fn parse_line(line: &str) -> Result<Weight> {
    let mut parts = line.splitn(3, ',');
    let (Some(status), Some(_kind), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::Other(format!("not a weight line: {line:?}")));
    };
    let stable = match status.trim() {
        "ST" => true,
        "US" => false,
        "OL" => return Err(Error::Other("the scale is overloaded".into())),
        other => return Err(Error::Other(format!("unknown scale status {other:?}"))),
    };
    let data = data.trim();
    let split = data
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| Error::Other(format!("no unit in {data:?}")))?;
    let (number, unit) = data.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    if unit != "kg" && unit != "g" {
        return Err(Error::Unsupported(format!(
            "scale unit {unit:?}; set it to kg or g"
        )));
    }
    let number = number.trim().replace(' ', "");
    let (negative, digits) = match number.as_bytes().first() {
        Some(b'-') => (true, &number[1..]),
        Some(b'+') => (false, &number[1..]),
        _ => (false, number.as_str()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(Error::Other(format!("not a weight: {number:?}")));
    }
    let mut value: Decimal = digits.parse()?;
    // The WIT decimal has no negative zero.
    value.negative = negative && (value.mantissa_lo != 0 || value.mantissa_hi != 0);
    Ok(Weight {
        value,
        unit,
        stable,
    })
}

/// Settings are plain text, so a CRLF terminator is written `\r\n`.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stable_and_unstable_lines_exactly() {
        let w = parse_line("ST,GS,+0012.345kg").unwrap();
        assert!(w.stable);
        assert_eq!(w.unit, "kg");
        assert_eq!(w.value.to_string(), "12.345");
        let w = parse_line("US,NT,-0000.120 kg").unwrap();
        assert!(!w.stable);
        assert_eq!(w.value.to_string(), "-0.120");
        let w = parse_line("ST,GS,-0000.000kg").unwrap();
        assert!(!w.value.negative);
    }

    #[test]
    fn rejects_overload_and_other_units() {
        assert!(parse_line("OL,GS,+9999.999kg").is_err());
        assert!(matches!(
            parse_line("ST,GS,+0012.345lb"),
            Err(Error::Unsupported(_))
        ));
        assert!(parse_line("garbage").is_err());
    }

    #[test]
    fn unescapes_crlf() {
        assert_eq!(unescape("Q\\r\\n"), "Q\r\n");
    }
}
