//! Document numbering templates (S17, S18).
//!
//! The CRM has no fiscal year, so the year lives in the number itself
//! (`{SHYY}`), and with several ledger databases per tenant the company code
//! lives there too (S17). A template is parsed once into a typed
//! [`NumberTemplate`]; rendering then cannot fail except for a counter that no
//! longer fits its fixed width.
//!
//! # Template syntax
//!
//! Literal text with placeholders in braces:
//!
//! | placeholder   | renders                                                   |
//! |---------------|-----------------------------------------------------------|
//! | `{SHYY}`      | Shamsi (Jalali) year, last two digits: `04` for 1404      |
//! | `{SHYYYY}`    | Shamsi year, four digits: `1404`                          |
//! | `{MIYY}`      | Gregorian (Miladi) year of the same day, two digits: `25` |
//! | `{MIYYYY}`    | Gregorian year, four digits: `2025`                       |
//! | `{company}`   | company code, three digits 100–999                        |
//! | `{counter}`   | running counter, as many digits as it needs               |
//! | `{counter:N}` | running counter zero-padded to exactly `N` digits (1..=20); a counter that needs more digits is an error, never truncated |
//!
//! `{{` and `}}` stand for literal braces. Placeholder names are
//! case-sensitive. A template must contain exactly one counter: without
//! one, every number it produced in a period would be the same.
//!
//! Example: `QT-{SHYY}-{counter:5}-{company}` renders `QT-04-00017-300`.
//!
//! The names follow Payamgostar's numbering settings (`{(SHYY)}`, `{(MIYY)}`,
//! fixed-width `{___(AN)}`), simplified to one brace level
//! (integrations.md §3.4).
//!
//! # Counter reset (period key)
//!
//! A template with a year placeholder restarts its counter every year, as
//! Payamgostar's "year change" option does; [`NumberTemplate::period_key`]
//! gives the key an allocation table stores counters under, so counters are
//! keyed by `(template, period)`.
//!
//! # Company code routing (S17)
//!
//! [`company_code_of`] reads the company code from a number that ends in
//! `-<code>` (the S6 form `625-300`). Payamgostar's own module prefixes the
//! code instead (`100-10255`); Hamgam follows S6 and puts it last, so a
//! template that routes must end with `-{company}`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::company::CompanyCode;
use crate::digits::normalize_digits;
use crate::jalali::JalaliDate;
use crate::validation::{Rule, ValidationError};

/// Widest fixed counter: `u64::MAX` has 20 digits.
const MAX_WIDTH: u8 = 20;

/// Errors from parsing a template or rendering a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberingError {
    /// `{name}` is not a known placeholder.
    #[error("unknown placeholder {placeholder:?} at byte {position} of the numbering template")]
    UnknownPlaceholder {
        /// The placeholder as written, with braces.
        placeholder: String,
        /// Byte offset in the template.
        position: usize,
    },
    /// A `{` without its `}`.
    #[error("unclosed placeholder starting at byte {position} of the numbering template")]
    UnclosedPlaceholder {
        /// Byte offset of the `{`.
        position: usize,
    },
    /// A lone `}` (write `}}` for a literal brace).
    #[error(
        "unmatched '}}' at byte {position} of the numbering template (write '}}}}' for a literal brace)"
    )]
    UnmatchedCloseBrace {
        /// Byte offset of the `}`.
        position: usize,
    },
    /// The template has no counter.
    #[error("numbering template has no {{counter}} placeholder, so its numbers would repeat")]
    MissingCounter,
    /// The template has more than one counter.
    #[error("numbering template has a second counter placeholder at byte {position}")]
    DuplicateCounter {
        /// Byte offset of the second counter.
        position: usize,
    },
    /// `{counter:N}` with `N` not in 1..=20.
    #[error("counter width in {placeholder:?} must be 1..=20")]
    InvalidCounterWidth {
        /// The placeholder as written.
        placeholder: String,
    },
    /// The counter needs more digits than the fixed width allows.
    #[error("counter {counter} does not fit the fixed width of {width} digits")]
    CounterOverflow {
        /// The counter that was to be rendered.
        counter: u64,
        /// The template's width.
        width: u8,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    ShamsiYear2,
    ShamsiYear4,
    GregorianYear2,
    GregorianYear4,
    Company,
    Counter { width: Option<u8> },
}

/// A parsed numbering template. Serialised as its source text.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NumberTemplate {
    source: String,
    segments: Vec<Segment>,
}

impl NumberTemplate {
    /// Parses a template; see the module docs for the syntax.
    pub fn parse(template: &str) -> Result<Self, NumberingError> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut counter_seen = false;
        let mut chars = template.char_indices().peekable();
        while let Some((pos, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|&(_, n)| n) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|&(_, n)| n) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(NumberingError::UnmatchedCloseBrace { position: pos }),
                '{' => {
                    let rest = &template[pos + 1..];
                    let close = rest
                        .find('}')
                        .ok_or(NumberingError::UnclosedPlaceholder { position: pos })?;
                    let name = &rest[..close];
                    let placeholder = &template[pos..pos + close + 2];
                    if name.contains('{') {
                        return Err(NumberingError::UnclosedPlaceholder { position: pos });
                    }
                    let segment = parse_placeholder(name, placeholder, pos)?;
                    if matches!(segment, Segment::Counter { .. }) {
                        if counter_seen {
                            return Err(NumberingError::DuplicateCounter { position: pos });
                        }
                        counter_seen = true;
                    }
                    if !literal.is_empty() {
                        segments.push(Segment::Literal(std::mem::take(&mut literal)));
                    }
                    segments.push(segment);
                    // Skip the placeholder body and its closing brace.
                    while let Some(&(p, _)) = chars.peek() {
                        if p > pos + close + 1 {
                            break;
                        }
                        chars.next();
                    }
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        if !counter_seen {
            return Err(NumberingError::MissingCounter);
        }
        Ok(NumberTemplate {
            source: template.to_owned(),
            segments,
        })
    }

    /// The template text as it was parsed.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The fixed counter width, if the counter has one.
    pub fn counter_width(&self) -> Option<u8> {
        self.segments.iter().find_map(|s| match s {
            Segment::Counter { width } => *width,
            _ => None,
        })
    }

    /// The largest counter this template can render (`None`: unbounded).
    pub fn max_counter(&self) -> Option<u64> {
        let width = self.counter_width()?;
        // 10^width - 1, saturating at u64::MAX for width 20.
        Some(
            10u64
                .checked_pow(u32::from(width))
                .map_or(u64::MAX, |p| p - 1),
        )
    }

    /// Does the template carry a Shamsi year (so numbers belong to a Jalali
    /// fiscal year, S18)?
    pub fn has_shamsi_year(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::ShamsiYear2 | Segment::ShamsiYear4))
    }

    /// Does the template carry a Gregorian year?
    pub fn has_gregorian_year(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::GregorianYear2 | Segment::GregorianYear4))
    }

    /// Does the counter restart every year? True when the template has any
    /// year placeholder: otherwise the year would change while the counter
    /// kept running, or numbers would repeat across years.
    pub fn resets_per_year(&self) -> bool {
        self.has_shamsi_year() || self.has_gregorian_year()
    }

    /// Does the number carry the company code (S17)?
    pub fn has_company(&self) -> bool {
        self.segments.iter().any(|s| matches!(s, Segment::Company))
    }

    /// The counter scope for `date`: `"1404"` (Jalali year) for a template with
    /// `{SHYY}`/`{SHYYYY}`, `"2025"` (Gregorian year) for `{MIYY}`/`{MIYYYY}`,
    /// `"1404/2025"` when both are present (the counter restarts when either
    /// year changes), and `"all"` for a template without a year (never resets).
    pub fn period_key(&self, date: JalaliDate) -> String {
        match (self.has_shamsi_year(), self.has_gregorian_year()) {
            (true, true) => format!("{}/{}", date.year(), date.to_gregorian().year()),
            (true, false) => date.year().to_string(),
            (false, true) => date.to_gregorian().year().to_string(),
            (false, false) => "all".to_owned(),
        }
    }

    /// Renders the number for `counter` on `date` for `company`.
    pub fn render(
        &self,
        counter: u64,
        date: JalaliDate,
        company: CompanyCode,
    ) -> Result<String, NumberingError> {
        let mut out = String::with_capacity(self.source.len() + 8);
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::ShamsiYear2 => out.push_str(&two_digit_year(date.year())),
                Segment::ShamsiYear4 => out.push_str(&format!("{:04}", date.year())),
                Segment::GregorianYear2 => {
                    out.push_str(&two_digit_year(date.to_gregorian().year()));
                }
                Segment::GregorianYear4 => {
                    out.push_str(&format!("{:04}", date.to_gregorian().year()));
                }
                Segment::Company => out.push_str(&company.to_string()),
                Segment::Counter { width: None } => out.push_str(&counter.to_string()),
                Segment::Counter { width: Some(width) } => {
                    let digits = counter.to_string();
                    if digits.len() > usize::from(*width) {
                        return Err(NumberingError::CounterOverflow {
                            counter,
                            width: *width,
                        });
                    }
                    out.push_str(&format!("{counter:0>w$}", w = usize::from(*width)));
                }
            }
        }
        Ok(out)
    }
}

fn two_digit_year(year: i32) -> String {
    format!("{:02}", year.rem_euclid(100))
}

fn parse_placeholder(
    name: &str,
    placeholder: &str,
    position: usize,
) -> Result<Segment, NumberingError> {
    Ok(match name {
        "SHYY" => Segment::ShamsiYear2,
        "SHYYYY" => Segment::ShamsiYear4,
        "MIYY" => Segment::GregorianYear2,
        "MIYYYY" => Segment::GregorianYear4,
        "company" => Segment::Company,
        "counter" => Segment::Counter { width: None },
        _ => match name.strip_prefix("counter:") {
            Some(width) => {
                let bad = || NumberingError::InvalidCounterWidth {
                    placeholder: placeholder.to_owned(),
                };
                if width.is_empty() || !width.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                let width: u8 = width.parse().map_err(|_| bad())?;
                if !(1..=MAX_WIDTH).contains(&width) {
                    return Err(bad());
                }
                Segment::Counter { width: Some(width) }
            }
            None => {
                return Err(NumberingError::UnknownPlaceholder {
                    placeholder: placeholder.to_owned(),
                    position,
                });
            }
        },
    })
}

impl fmt::Display for NumberTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl fmt::Debug for NumberTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NumberTemplate({:?})", self.source)
    }
}

impl FromStr for NumberTemplate {
    type Err = NumberingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NumberTemplate::parse(s)
    }
}

impl TryFrom<String> for NumberTemplate {
    type Error = NumberingError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        NumberTemplate::parse(&s)
    }
}

impl From<NumberTemplate> for String {
    fn from(t: NumberTemplate) -> Self {
        t.source
    }
}

/// Reads the company code from a number ending in `-<code>` (S6, S17):
/// `625-300` → 300, `QT-04-00017-300` → 300. Persian digits are accepted.
/// The error names the field `number`.
pub fn company_code_of(number: &str) -> Result<CompanyCode, ValidationError> {
    let text = normalize_digits(number.trim());
    let Some((head, code)) = text.rsplit_once('-') else {
        return Err(ValidationError::new(
            "number",
            Rule::Format,
            format!("number {number:?} does not end with -<company code>"),
        ));
    };
    if head.is_empty() {
        return Err(ValidationError::new(
            "number",
            Rule::Format,
            format!("number {number:?} has nothing before its company code"),
        ));
    }
    CompanyCode::parse("number", code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NumberTemplate {
        NumberTemplate::parse(s).unwrap()
    }

    fn j(y: i32, m: u8, d: u8) -> JalaliDate {
        JalaliDate::new(y, m, d).unwrap()
    }

    fn c(code: u16) -> CompanyCode {
        CompanyCode::new(code).unwrap()
    }

    #[test]
    fn renders_every_placeholder() {
        let tpl = t("QT-{SHYY}-{SHYYYY}-{MIYY}-{MIYYYY}-{counter:5}-{company}");
        assert_eq!(
            tpl.render(17, j(1404, 1, 1), c(300)).unwrap(),
            "QT-04-1404-25-2025-00017-300"
        );
    }

    #[test]
    fn s18_shyy_switches_on_nowruz_not_on_january_first() {
        let tpl = t("QT-{SHYY}-{counter:5}-{company}");
        // 1403/12/30 = 2025-03-20, the last day of the leap year 1403.
        let last = JalaliDate::from_gregorian(2025, 3, 20).unwrap();
        assert_eq!(last, j(1403, 12, 30));
        assert_eq!(tpl.render(1, last, c(300)).unwrap(), "QT-03-00001-300");
        // 1404/01/01 = 2025-03-21, Nowruz.
        let first = JalaliDate::from_gregorian(2025, 3, 21).unwrap();
        assert_eq!(tpl.render(1, first, c(300)).unwrap(), "QT-04-00001-300");
        // January 2025 is still 1403: `year - 621` would wrongly give 04.
        let january = JalaliDate::from_gregorian(2025, 1, 15).unwrap();
        assert_eq!(tpl.render(9, january, c(300)).unwrap(), "QT-03-00009-300");
    }

    #[test]
    fn s18_miyy_switches_on_january_first() {
        let tpl = t("INV{MIYY}/{counter}");
        let dec31 = JalaliDate::from_gregorian(2024, 12, 31).unwrap();
        let jan1 = JalaliDate::from_gregorian(2025, 1, 1).unwrap();
        assert_eq!(tpl.render(5, dec31, c(100)).unwrap(), "INV24/5");
        assert_eq!(tpl.render(5, jan1, c(100)).unwrap(), "INV25/5");
    }

    #[test]
    fn s18_period_key_follows_the_year_placeholder() {
        let nowruz_eve = j(1403, 12, 30);
        let nowruz = j(1404, 1, 1);
        let sh = t("{SHYY}-{counter:4}");
        assert_eq!(sh.period_key(nowruz_eve), "1403");
        assert_eq!(sh.period_key(nowruz), "1404");
        assert!(sh.resets_per_year());
        let sh4 = t("{SHYYYY}{counter}");
        assert_eq!(sh4.period_key(nowruz), "1404");
        let mi = t("{MIYYYY}-{counter}");
        assert_eq!(mi.period_key(nowruz_eve), "2025");
        assert_eq!(
            mi.period_key(JalaliDate::from_gregorian(2024, 12, 31).unwrap()),
            "2024"
        );
        let both = t("{SHYY}{MIYY}-{counter}");
        assert_eq!(both.period_key(nowruz), "1404/2025");
        let none = t("C-{counter}");
        assert_eq!(none.period_key(nowruz), "all");
        assert!(!none.resets_per_year());
    }

    #[test]
    fn fixed_width_counter_overflow_is_an_error_not_truncation() {
        let tpl = t("{counter:3}");
        assert_eq!(tpl.max_counter(), Some(999));
        assert_eq!(tpl.render(999, j(1404, 1, 1), c(100)).unwrap(), "999");
        assert_eq!(
            tpl.render(1000, j(1404, 1, 1), c(100)),
            Err(NumberingError::CounterOverflow {
                counter: 1000,
                width: 3
            })
        );
        let wide = t("{counter:20}");
        assert_eq!(wide.max_counter(), Some(u64::MAX));
        assert_eq!(
            wide.render(u64::MAX, j(1404, 1, 1), c(100)).unwrap(),
            "18446744073709551615"
        );
        assert_eq!(t("{counter}").max_counter(), None);
        assert_eq!(
            t("{counter}")
                .render(123_456_789, j(1404, 1, 1), c(100))
                .unwrap(),
            "123456789"
        );
    }

    #[test]
    fn unknown_placeholder_is_named_in_the_error() {
        let err = NumberTemplate::parse("QT-{SHYYY}-{counter}").unwrap_err();
        assert_eq!(
            err,
            NumberingError::UnknownPlaceholder {
                placeholder: "{SHYYY}".to_owned(),
                position: 3
            }
        );
        assert!(err.to_string().contains("{SHYYY}"));
        assert!(matches!(
            NumberTemplate::parse("{Company}-{counter}"),
            Err(NumberingError::UnknownPlaceholder { .. })
        ));
    }

    #[test]
    fn malformed_templates_are_refused() {
        assert_eq!(
            NumberTemplate::parse("QT-{SHYY"),
            Err(NumberingError::UnclosedPlaceholder { position: 3 })
        );
        assert_eq!(
            NumberTemplate::parse("QT-{SH{YY}-{counter}"),
            Err(NumberingError::UnclosedPlaceholder { position: 3 })
        );
        assert_eq!(
            NumberTemplate::parse("QT}-{counter}"),
            Err(NumberingError::UnmatchedCloseBrace { position: 2 })
        );
        assert_eq!(
            NumberTemplate::parse("QT-{SHYY}"),
            Err(NumberingError::MissingCounter)
        );
        assert_eq!(
            NumberTemplate::parse("{counter}-{counter:3}"),
            Err(NumberingError::DuplicateCounter { position: 10 })
        );
        for bad in [
            "{counter:0}",
            "{counter:21}",
            "{counter:}",
            "{counter:x}",
            "{counter:-3}",
        ] {
            assert!(
                matches!(
                    NumberTemplate::parse(bad),
                    Err(NumberingError::InvalidCounterWidth { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn escaped_braces_and_unicode_literals() {
        let tpl = t("پیش‌فاکتور {{{SHYY}}}/{counter:2}");
        assert_eq!(
            tpl.render(7, j(1404, 5, 1), c(100)).unwrap(),
            "پیش‌فاکتور {04}/07"
        );
        assert_eq!(tpl.source(), "پیش‌فاکتور {{{SHYY}}}/{counter:2}");
    }

    #[test]
    fn template_serialises_as_source_and_validates() {
        let tpl = t("QT-{SHYY}-{counter:5}-{company}");
        let json = serde_json::to_string(&tpl).unwrap();
        assert_eq!(json, "\"QT-{SHYY}-{counter:5}-{company}\"");
        let back: NumberTemplate = serde_json::from_str(&json).unwrap();
        assert_eq!(back, tpl);
        assert!(serde_json::from_str::<NumberTemplate>("\"QT-{bad}\"").is_err());
        assert!(tpl.has_company());
        assert_eq!(tpl.counter_width(), Some(5));
    }

    #[test]
    fn s17_company_code_of_reads_the_suffix() {
        assert_eq!(company_code_of("625-300").unwrap(), c(300));
        assert_eq!(company_code_of("QT-04-00017-100").unwrap(), c(100));
        assert_eq!(company_code_of("۶۲۵-۳۰۰").unwrap(), c(300));
        // A rendered number routes back to the company it was rendered for.
        let tpl = t("QT-{SHYY}-{counter:5}-{company}");
        let n = tpl.render(42, j(1404, 2, 3), c(512)).unwrap();
        assert_eq!(company_code_of(&n).unwrap(), c(512));
    }

    #[test]
    fn s17_company_code_of_rejects_numbers_without_a_valid_code() {
        for bad in [
            "625", "625-30", "625-3000", "625-099", "-300", "625-abc", "625-300-",
        ] {
            let err = company_code_of(bad).unwrap_err();
            assert_eq!(err.field, "number", "{bad}");
        }
        assert_eq!(company_code_of("625-099").unwrap_err().rule, Rule::Range);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_on_arbitrary_text(text in "(\\PC|[{}:]|SHYY|counter|company){0,20}") {
            let _ = NumberTemplate::parse(&text);
        }

        #[test]
        fn s17_rendered_numbers_route_back_to_their_company(
            prefix in "[A-Z]{0,4}",
            counter in 0u64..=99_999,
            code in 100u16..=999,
            year in 1300i32..=1500,
            month in 1u8..=12,
        ) {
            let tpl = NumberTemplate::parse(&format!("{prefix}-{{SHYY}}-{{counter:5}}-{{company}}")).unwrap();
            let date = JalaliDate::new(year, month, 1).unwrap();
            let number = tpl.render(counter, date, c(code)).unwrap();
            proptest::prop_assert_eq!(company_code_of(&number).unwrap(), c(code));
            let expected_year = format!("-{:02}-", year % 100);
            proptest::prop_assert!(number.contains(&expected_year));
        }
    }
}
