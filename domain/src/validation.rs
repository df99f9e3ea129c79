//! Field validation with field-named errors (S1, S5, S6).
//!
//! Every check returns a [`ValidationError`] naming the field (as the caller
//! spells it, e.g. `"customer_number"` or `"phones.1"`), the rule that failed
//! and a readable message, so a connector can refuse a record *before*
//! anything is sent (S6) and the finance unit sees which field to fix (F2).
//!
//! All parsers normalise Persian and Arabic-Indic digits first: Iranian users
//! type `۰۹۱۲…` as often as `0912…`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::company::CompanyCode;
use crate::digits::normalize_digits;

/// Which rule a value broke. Serialised in `snake_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A value is required but empty.
    Required,
    /// The value does not have the expected shape.
    Format,
    /// The value has the wrong number of characters or digits.
    Length,
    /// A number is outside its allowed range.
    Range,
    /// A check digit does not match.
    CheckDigit,
    /// All digits are the same (a placeholder like `1111111111`).
    RepeatedDigits,
    /// A telephone area code that does not exist.
    AreaCode,
    /// A sent value differs from the computed one.
    Mismatch,
}

impl Rule {
    /// The rule's stable `snake_case` name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Rule::Required => "required",
            Rule::Format => "format",
            Rule::Length => "length",
            Rule::Range => "range",
            Rule::CheckDigit => "check_digit",
            Rule::RepeatedDigits => "repeated_digits",
            Rule::AreaCode => "area_code",
            Rule::Mismatch => "mismatch",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that broke a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[error("{field} fails {rule}: {message}")]
pub struct ValidationError {
    /// The field, as the caller names it (a path such as `lines.2.tax`).
    pub field: String,
    /// The rule it broke.
    pub rule: Rule,
    /// What was wrong, for people.
    pub message: String,
}

impl ValidationError {
    /// Builds an error.
    pub fn new(field: impl Into<String>, rule: Rule, message: impl Into<String>) -> Self {
        ValidationError {
            field: field.into(),
            rule,
            message: message.into(),
        }
    }
}

fn digits_only(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn digit_vec(s: &str) -> Vec<u32> {
    s.bytes().map(|b| u32::from(b - b'0')).collect()
}

fn all_same(digits: &[u32]) -> bool {
    digits.windows(2).all(|w| w[0] == w[1])
}

// ---------------------------------------------------------------- customer no.

/// A CRM customer number `<number>-<company code>` (S6), e.g. `625-300`.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct CustomerNumber {
    /// The ledger's detail-account code (ASCII digits, leading zeros kept).
    pub number: String,
    /// The company (ledger database) the customer belongs to (S17).
    pub company: CompanyCode,
}

impl fmt::Display for CustomerNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.number, self.company)
    }
}

/// Longest detail-account code accepted: ledgers store these in short
/// numeric/varchar columns; anything longer is a typo or a pasted phone.
const MAX_CUSTOMER_DIGITS: usize = 15;

/// Checks the S6 form `<number>-<company code>`: digits, a dash, a three-digit
/// company code 100–999. Persian/Arabic-Indic digits and surrounding spaces
/// are accepted; the canonical ASCII form is returned.
pub fn validate_customer_number(
    field: &str,
    input: &str,
) -> Result<CustomerNumber, ValidationError> {
    let text = normalize_digits(input.trim());
    if text.is_empty() {
        return Err(ValidationError::new(
            field,
            Rule::Required,
            "customer number is required (S6: <number>-<company code>, e.g. 625-300)",
        ));
    }
    let shape = || {
        ValidationError::new(
            field,
            Rule::Format,
            format!("customer number {input:?} must be <number>-<company code>, e.g. 625-300"),
        )
    };
    let (number, code) = text.split_once('-').ok_or_else(shape)?;
    if !digits_only(number) || !digits_only(code) {
        return Err(shape());
    }
    if number.len() > MAX_CUSTOMER_DIGITS {
        return Err(ValidationError::new(
            field,
            Rule::Length,
            format!(
                "customer number part must have at most {MAX_CUSTOMER_DIGITS} digits, got {}",
                number.len()
            ),
        ));
    }
    let company = CompanyCode::parse(field, code)?;
    Ok(CustomerNumber {
        number: number.to_owned(),
        company,
    })
}

// ---------------------------------------------------------------- national id

/// Strips the separators people type inside identifiers.
fn strip_separators(input: &str) -> String {
    normalize_digits(input)
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\u{200C}' | '\u{00A0}'))
        .collect()
}

/// Validates an Iranian national ID (کد ملی) and returns its ten ASCII digits.
///
/// Rule: with digits d0..d9, `s = Σ d_i·(10−i)` for i in 0..9, `r = s mod 11`;
/// the check digit d9 must be `r` when `r < 2`, else `11 − r`. Codes with all
/// ten digits equal pass that arithmetic but are never issued, so they are
/// refused. Eight- and nine-digit inputs are left-padded with zeros because
/// spreadsheets drop the leading zeros of codes such as `0012345679`.
pub fn validate_national_id(field: &str, input: &str) -> Result<String, ValidationError> {
    let text = strip_separators(input.trim());
    if text.is_empty() {
        return Err(ValidationError::new(
            field,
            Rule::Required,
            "national id is required",
        ));
    }
    if !digits_only(&text) {
        return Err(ValidationError::new(
            field,
            Rule::Format,
            format!("national id {input:?} must contain only digits"),
        ));
    }
    if !(8..=10).contains(&text.len()) {
        return Err(ValidationError::new(
            field,
            Rule::Length,
            format!("national id must have 10 digits, got {}", text.len()),
        ));
    }
    let code = format!("{text:0>10}");
    let d = digit_vec(&code);
    if all_same(&d) {
        return Err(ValidationError::new(
            field,
            Rule::RepeatedDigits,
            "national id cannot repeat one digit ten times",
        ));
    }
    if national_id_check_digit(&d[..9]) != d[9] {
        return Err(ValidationError::new(
            field,
            Rule::CheckDigit,
            format!("national id {code} has a wrong check digit"),
        ));
    }
    Ok(code)
}

/// The national ID check digit of the first nine digits.
fn national_id_check_digit(first9: &[u32]) -> u32 {
    let s: u32 = first9.iter().zip((2..=10).rev()).map(|(d, w)| d * w).sum();
    let r = s % 11;
    if r < 2 { r } else { 11 - r }
}

/// Validates an Iranian legal-entity national ID (شناسه ملی اشخاص حقوقی) and
/// returns its eleven ASCII digits.
///
/// Rule: with digits d0..d10, let `t = d9 + 2` (the tens digit plus two);
/// `s = Σ (d_i + t)·w_i` for i in 0..10 with weights 29, 27, 23, 19, 17
/// repeating; `r = s mod 11`, and 10 counts as 0; d10 must equal `r`.
/// An all-zero serial (digits 3..9) is refused: such IDs are not issued.
pub fn validate_legal_entity_id(field: &str, input: &str) -> Result<String, ValidationError> {
    let text = strip_separators(input.trim());
    if text.is_empty() {
        return Err(ValidationError::new(
            field,
            Rule::Required,
            "legal entity id is required",
        ));
    }
    if !digits_only(&text) {
        return Err(ValidationError::new(
            field,
            Rule::Format,
            format!("legal entity id {input:?} must contain only digits"),
        ));
    }
    if text.len() != 11 {
        return Err(ValidationError::new(
            field,
            Rule::Length,
            format!("legal entity id must have 11 digits, got {}", text.len()),
        ));
    }
    let d = digit_vec(&text);
    if d[3..9].iter().all(|&x| x == 0) || all_same(&d) {
        return Err(ValidationError::new(
            field,
            Rule::RepeatedDigits,
            "legal entity id has an empty serial part",
        ));
    }
    if legal_entity_check_digit(&d[..10]) != d[10] {
        return Err(ValidationError::new(
            field,
            Rule::CheckDigit,
            format!("legal entity id {text} has a wrong check digit"),
        ));
    }
    Ok(text)
}

/// The legal-entity ID check digit of the first ten digits.
fn legal_entity_check_digit(first10: &[u32]) -> u32 {
    const WEIGHTS: [u32; 5] = [29, 27, 23, 19, 17];
    let t = first10.get(9).copied().unwrap_or(0) + 2;
    let s: u32 = first10
        .iter()
        .zip(WEIGHTS.iter().cycle())
        .map(|(d, w)| (d + t) * w)
        .sum();
    let r = s % 11;
    if r == 10 { 0 } else { r }
}

/// Checks an economic code (کد اقتصادی). Basic check only: ten digits (a
/// person's national ID, which is used as the economic code since the new
/// tax-payer system, so its check digit is verified), eleven digits (a legal
/// entity's national ID, verified likewise), or the older twelve-digit and
/// fourteen-digit forms (digits only; no public check-digit rule).
pub fn validate_economic_code(field: &str, input: &str) -> Result<String, ValidationError> {
    let text = strip_separators(input.trim());
    if text.is_empty() {
        return Err(ValidationError::new(
            field,
            Rule::Required,
            "economic code is required",
        ));
    }
    if !digits_only(&text) {
        return Err(ValidationError::new(
            field,
            Rule::Format,
            format!("economic code {input:?} must contain only digits"),
        ));
    }
    match text.len() {
        10 => validate_national_id(field, &text),
        11 => validate_legal_entity_id(field, &text),
        12 | 14 => {
            if all_same(&digit_vec(&text)) {
                Err(ValidationError::new(
                    field,
                    Rule::RepeatedDigits,
                    "economic code cannot repeat one digit",
                ))
            } else {
                Ok(text)
            }
        }
        n => Err(ValidationError::new(
            field,
            Rule::Length,
            format!("economic code must have 10, 11, 12 or 14 digits, got {n}"),
        )),
    }
}

// ---------------------------------------------------------------- phone

/// Iranian landline area codes (with the trunk `0`), one per province.
/// Data, not logic: if a province is split, add its code here.
const AREA_CODES: [&str; 31] = [
    "011", "013", "017", "021", "023", "024", "025", "026", "028", "031", "034", "035", "038",
    "041", "044", "045", "051", "054", "056", "058", "061", "066", "071", "074", "076", "077",
    "081", "083", "084", "086", "087",
];

/// A normalised Iranian phone number.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Phone {
    /// A mobile number, 11 digits `09xxxxxxxxx`.
    Mobile {
        /// The full number with its leading `0`.
        number: String,
    },
    /// A landline, with its area code when one was given.
    Landline {
        /// The area code with its leading `0` (`"021"`), if known.
        area_code: Option<String>,
        /// The subscriber number without the area code (8 digits).
        number: String,
    },
}

impl Phone {
    /// The number without the area code: what a ledger stores when the CRM
    /// sends a phone (S5: only the number part is synced).
    pub fn number_part(&self) -> &str {
        match self {
            Phone::Mobile { number } | Phone::Landline { number, .. } => number,
        }
    }

    /// The full dialable national form (`02188776655`, `09121234567`).
    pub fn national(&self) -> String {
        match self {
            Phone::Mobile { number } => number.clone(),
            Phone::Landline { area_code, number } => {
                format!("{}{number}", area_code.as_deref().unwrap_or(""))
            }
        }
    }
}

/// Normalises an Iranian phone number.
///
/// Persian/Arabic-Indic digits become ASCII; spaces, dashes, dots, slashes
/// and parentheses are dropped; the country prefix `+98`, `0098` or `98`
/// becomes the trunk `0`. Then:
/// * `09` + 9 digits (or `9` + 9 digits, as forms often drop the `0`) → mobile;
/// * `0` + known area code + 8 digits → landline with its area code
///   (`021 88776655` → area `021`, number `88776655`);
/// * 8 digits → landline without an area code.
///
/// Anything else is an error naming `field`.
pub fn normalize_phone(field: &str, input: &str) -> Result<Phone, ValidationError> {
    let normalized = normalize_digits(input.trim());
    if normalized.is_empty() {
        return Err(ValidationError::new(
            field,
            Rule::Required,
            "phone number is required",
        ));
    }
    let mut text = String::with_capacity(normalized.len());
    for (i, c) in normalized.chars().enumerate() {
        match c {
            '0'..='9' => text.push(c),
            '+' if i == 0 => text.push('+'),
            ' ' | '-' | '(' | ')' | '.' | '/' | '\u{00A0}' | '\u{200C}' => {}
            _ => {
                return Err(ValidationError::new(
                    field,
                    Rule::Format,
                    format!(
                        "phone number {input:?} contains {c:?}; only digits, spaces, dashes, parentheses and a leading + are allowed"
                    ),
                ));
            }
        }
    }
    // Country prefix → trunk prefix. A bare `98` is only a country code when
    // the rest is a full 10-digit national number; otherwise it could be the
    // start of an 8-digit local number.
    let national = if let Some(rest) = text.strip_prefix("+98") {
        format!("0{rest}")
    } else if text.starts_with('+') {
        return Err(ValidationError::new(
            field,
            Rule::Format,
            format!("phone number {input:?} is not an Iranian (+98) number"),
        ));
    } else if let Some(rest) = text.strip_prefix("0098") {
        format!("0{rest}")
    } else if text.len() == 12 && text.starts_with("98") {
        format!("0{}", &text[2..])
    } else if text.len() == 10 && text.starts_with('9') {
        format!("0{text}")
    } else {
        text
    };
    let len_error = || {
        ValidationError::new(
            field,
            Rule::Length,
            format!(
                "phone number {input:?} must be a mobile 09xxxxxxxxx, an area code and 8 digits, or 8 digits"
            ),
        )
    };
    match national.len() {
        11 if national.starts_with("09") => Ok(Phone::Mobile { number: national }),
        11 if national.starts_with('0') => {
            let (area, number) = national.split_at(3);
            if AREA_CODES.contains(&area) {
                Ok(Phone::Landline {
                    area_code: Some(area.to_owned()),
                    number: number.to_owned(),
                })
            } else {
                Err(ValidationError::new(
                    field,
                    Rule::AreaCode,
                    format!("phone number {input:?} has unknown area code {area}"),
                ))
            }
        }
        8 if !national.starts_with('0') => Ok(Phone::Landline {
            area_code: None,
            number: national,
        }),
        _ => Err(len_error()),
    }
}

// ---------------------------------------------------------------- email

/// Basic e-mail check: one `@`, a non-empty local part (≤ 64), a domain with
/// at least two dot-separated labels of letters, digits and hyphens, no
/// spaces, ≤ 254 characters. Returns the address trimmed, with the domain in
/// lower case (domains are case-insensitive; local parts may not be).
///
/// Deliberately not RFC 5322: quoted local parts and IP-literal domains are
/// legal but in a CRM they are nearly always typos.
pub fn validate_email(field: &str, input: &str) -> Result<String, ValidationError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(ValidationError::new(
            field,
            Rule::Required,
            "email is required",
        ));
    }
    let bad = |why: &str| {
        ValidationError::new(
            field,
            Rule::Format,
            format!("email {input:?} is invalid: {why}"),
        )
    };
    if text.chars().count() > 254 {
        return Err(ValidationError::new(
            field,
            Rule::Length,
            "email must be at most 254 characters",
        ));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains whitespace"));
    }
    let (local, domain) = text.split_once('@').ok_or_else(|| bad("it has no '@'"))?;
    if domain.contains('@') {
        return Err(bad("it has more than one '@'"));
    }
    if local.is_empty() || local.len() > 64 {
        return Err(bad("the part before '@' must be 1 to 64 characters"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(bad("the part before '@' has a misplaced dot"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("the domain has no dot"));
    }
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-');
        if !ok {
            return Err(bad("the domain has an empty or malformed label"));
        }
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a valid national ID from nine digits by computing the check digit.
    fn make_national_id(first9: &str) -> String {
        let d = digit_vec(first9);
        format!("{first9}{}", national_id_check_digit(&d))
    }

    /// Builds a valid legal-entity ID from ten digits.
    fn make_legal_id(first10: &str) -> String {
        let d = digit_vec(first10);
        format!("{first10}{}", legal_entity_check_digit(&d))
    }

    #[test]
    fn error_display_names_field_and_rule() {
        let e = ValidationError::new("phones.0", Rule::Format, "bad");
        assert_eq!(e.to_string(), "phones.0 fails format: bad");
        assert_eq!(
            serde_json::to_value(Rule::CheckDigit).unwrap(),
            "check_digit"
        );
    }

    #[test]
    fn s6_customer_number_accepts_number_dash_company() {
        let c = validate_customer_number("customer_number", "625-300").unwrap();
        assert_eq!(c.number, "625");
        assert_eq!(c.company.get(), 300);
        assert_eq!(c.to_string(), "625-300");
        let c = validate_customer_number("customer_number", " ۶۲۵-۳۰۰ ").unwrap();
        assert_eq!(c.to_string(), "625-300");
        let c = validate_customer_number("customer_number", "0010255-100").unwrap();
        assert_eq!(c.number, "0010255");
    }

    #[test]
    fn s6_customer_number_rejects_anything_else_with_a_clear_error() {
        let cases = [
            ("", Rule::Required),
            ("625", Rule::Format),
            ("625-", Rule::Format),
            ("-300", Rule::Format),
            ("625-30", Rule::Format),
            ("625-3000", Rule::Format),
            ("625-099", Rule::Range),
            ("625-300-1", Rule::Format),
            ("A625-300", Rule::Format),
            ("625 -300", Rule::Format),
            ("1234567890123456-300", Rule::Length),
        ];
        for (input, rule) in cases {
            let err = validate_customer_number("customer_number", input).unwrap_err();
            assert_eq!(err.field, "customer_number", "{input:?}");
            assert_eq!(err.rule, rule, "{input:?}: {err}");
        }
        let err = validate_customer_number("customer_number", "625").unwrap_err();
        assert!(err.to_string().contains("625-300"), "{err}");
    }

    #[test]
    fn national_id_known_valid_examples() {
        // Hand check of 0013542419: 0·10+0·9+1·8+3·7+5·6+4·5+2·4+4·3+1·2
        // = 8+21+30+20+8+12+2 = 101; 101 mod 11 = 2; 11−2 = 9 = last digit.
        assert_eq!(
            validate_national_id("national_id", "0013542419").unwrap(),
            "0013542419"
        );
        for first9 in ["001354241", "123456789", "498765432", "076229645"] {
            let id = make_national_id(first9);
            assert_eq!(validate_national_id("national_id", &id).unwrap(), id);
        }
        // Persian digits and dashes.
        assert_eq!(
            validate_national_id("national_id", "۰۰۱-۳۵۴۲۴۱-۹").unwrap(),
            "0013542419"
        );
        // Leading zeros dropped by a spreadsheet.
        assert_eq!(
            validate_national_id("national_id", "13542419").unwrap(),
            "0013542419"
        );
    }

    #[test]
    fn national_id_rejects_bad_check_digit_repeats_and_garbage() {
        let err = validate_national_id("national_id", "0013542418").unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.rule),
            ("national_id", Rule::CheckDigit)
        );
        // 1111111111 satisfies the arithmetic (s = 54, r = 10, 11−10 = 1)
        // but is a placeholder, never issued.
        assert_eq!(
            validate_national_id("national_id", "1111111111")
                .unwrap_err()
                .rule,
            Rule::RepeatedDigits
        );
        assert_eq!(
            validate_national_id("national_id", "0000000000")
                .unwrap_err()
                .rule,
            Rule::RepeatedDigits
        );
        assert_eq!(
            validate_national_id("national_id", "12345")
                .unwrap_err()
                .rule,
            Rule::Length
        );
        assert_eq!(
            validate_national_id("national_id", "00135424190")
                .unwrap_err()
                .rule,
            Rule::Length
        );
        assert_eq!(
            validate_national_id("national_id", "00135a2419")
                .unwrap_err()
                .rule,
            Rule::Format
        );
        assert_eq!(
            validate_national_id("national_id", " ").unwrap_err().rule,
            Rule::Required
        );
    }

    #[test]
    fn national_id_every_wrong_check_digit_is_caught() {
        let id = make_national_id("287654321");
        let right = id.as_bytes()[9];
        for wrong in b'0'..=b'9' {
            if wrong == right {
                continue;
            }
            let mut bad = id.clone().into_bytes();
            bad[9] = wrong;
            let bad = String::from_utf8(bad).unwrap();
            assert!(validate_national_id("n", &bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn legal_entity_id_known_valid_examples() {
        // Hand check of 10380284790 (t = 9 + 2 = 11):
        // (1+11)·29 + (0+11)·27 + (3+11)·23 + (8+11)·19 + (0+11)·17
        // + (2+11)·29 + (8+11)·27 + (4+11)·23 + (7+11)·19 + (9+11)·17
        // = 348+297+322+361+187+377+513+345+342+340 = 3432 = 11·312 → r = 0.
        assert_eq!(
            validate_legal_entity_id("legal_id", "10380284790").unwrap(),
            "10380284790"
        );
        for first10 in ["1010123456", "1410045678", "1086091234", "1400999999"] {
            let id = make_legal_id(first10);
            assert_eq!(validate_legal_entity_id("legal_id", &id).unwrap(), id);
        }
        assert_eq!(
            validate_legal_entity_id("legal_id", "۱۰۳۸۰۲۸۴۷۹۰").unwrap(),
            "10380284790"
        );
    }

    #[test]
    fn legal_entity_id_remainder_ten_counts_as_zero() {
        // Search for a prefix whose sum leaves remainder 10, so the branch is
        // exercised by a real value rather than assumed.
        let prefix = (1_010_123_000u64..1_010_124_000)
            .map(|n| n.to_string())
            .find(|p| {
                let d = digit_vec(p);
                let t = d[9] + 2;
                let s: u32 = d
                    .iter()
                    .zip([29, 27, 23, 19, 17].iter().cycle())
                    .map(|(x, w)| (x + t) * w)
                    .sum();
                s % 11 == 10
            })
            .unwrap();
        let id = format!("{prefix}0");
        assert_eq!(validate_legal_entity_id("legal_id", &id).unwrap(), id);
    }

    #[test]
    fn legal_entity_id_rejections() {
        let e = validate_legal_entity_id("legal_id", "10380284791").unwrap_err();
        assert_eq!((e.field.as_str(), e.rule), ("legal_id", Rule::CheckDigit));
        assert_eq!(
            validate_legal_entity_id("legal_id", "1038028479")
                .unwrap_err()
                .rule,
            Rule::Length
        );
        assert_eq!(
            validate_legal_entity_id("legal_id", "00000000000")
                .unwrap_err()
                .rule,
            Rule::RepeatedDigits
        );
        assert_eq!(
            validate_legal_entity_id("legal_id", "103000000")
                .unwrap_err()
                .rule,
            Rule::Length
        );
        assert_eq!(
            validate_legal_entity_id("legal_id", &make_legal_id("1010000001"))
                .unwrap_err()
                .rule,
            Rule::RepeatedDigits
        );
        assert_eq!(
            validate_legal_entity_id("legal_id", "1038028479x")
                .unwrap_err()
                .rule,
            Rule::Format
        );
    }

    #[test]
    fn economic_code_basic_check() {
        assert_eq!(
            validate_economic_code("economic_code", "0013542419").unwrap(),
            "0013542419"
        );
        assert_eq!(
            validate_economic_code("economic_code", "10380284790").unwrap(),
            "10380284790"
        );
        assert_eq!(
            validate_economic_code("economic_code", "111111111111")
                .unwrap_err()
                .rule,
            Rule::RepeatedDigits
        );
        assert_eq!(
            validate_economic_code("economic_code", "411234567891").unwrap(),
            "411234567891"
        );
        assert_eq!(
            validate_economic_code("economic_code", "41123456789123").unwrap(),
            "41123456789123"
        );
        assert_eq!(
            validate_economic_code("economic_code", "4112345678912")
                .unwrap_err()
                .rule,
            Rule::Length
        );
        assert_eq!(
            validate_economic_code("economic_code", "0013542418")
                .unwrap_err()
                .rule,
            Rule::CheckDigit
        );
        let e = validate_economic_code("economic_code", "abc").unwrap_err();
        assert_eq!((e.field.as_str(), e.rule), ("economic_code", Rule::Format));
    }

    #[test]
    fn s5_mobile_numbers_in_every_common_spelling() {
        let expected = Phone::Mobile {
            number: "09121234567".to_owned(),
        };
        for input in [
            "09121234567",
            "0912 123 4567",
            "0912-123-4567",
            "(0912) 123 4567",
            "+989121234567",
            "+98 912 123 4567",
            "00989121234567",
            "989121234567",
            "9121234567",
            "۰۹۱۲۱۲۳۴۵۶۷",
            "٠٩١٢١٢٣٤٥٦٧",
        ] {
            assert_eq!(
                normalize_phone("phone", input).unwrap(),
                expected,
                "{input:?}"
            );
        }
        assert_eq!(expected.number_part(), "09121234567");
    }

    #[test]
    fn s5_landline_is_split_into_area_code_and_number() {
        let phone = normalize_phone("phone", "021 88776655").unwrap();
        assert_eq!(
            phone,
            Phone::Landline {
                area_code: Some("021".to_owned()),
                number: "88776655".to_owned()
            }
        );
        // S5: CRM → ledger carries only the number part.
        assert_eq!(phone.number_part(), "88776655");
        assert_eq!(phone.national(), "02188776655");
        assert_eq!(
            normalize_phone("phone", "+98 (21) 8877-6655").unwrap(),
            phone
        );
        assert_eq!(
            normalize_phone("phone", "۰۳۱-۳۲۲۲۳۳۴۴")
                .unwrap()
                .number_part(),
            "32223344"
        );
        let local = normalize_phone("phone", "88776655").unwrap();
        assert_eq!(
            local,
            Phone::Landline {
                area_code: None,
                number: "88776655".to_owned()
            }
        );
    }

    #[test]
    fn phone_garbage_gets_a_clear_error() {
        let cases = [
            ("", Rule::Required),
            ("hello", Rule::Format),
            ("0912123456x", Rule::Format),
            ("+1 555 123 4567", Rule::Format),
            ("0912123456", Rule::Length),
            ("091212345678", Rule::Length),
            ("12345", Rule::Length),
            ("02988776655", Rule::AreaCode),
            ("00000000", Rule::Length),
        ];
        for (input, rule) in cases {
            let err = normalize_phone("phones.1", input).unwrap_err();
            assert_eq!(err.field, "phones.1", "{input:?}");
            assert_eq!(err.rule, rule, "{input:?}: {err}");
        }
    }

    #[test]
    fn phone_serialises_with_a_kind_tag() {
        let v = serde_json::to_value(normalize_phone("p", "09121234567").unwrap()).unwrap();
        assert_eq!(v["kind"], "mobile");
    }

    #[test]
    fn email_basic_check() {
        assert_eq!(
            validate_email("email", " Ali.Rezaei@Example.IR ").unwrap(),
            "Ali.Rezaei@example.ir"
        );
        assert!(validate_email("email", "a+b@mail.co.ir").is_ok());
        for bad in [
            "plain", "a@b", "a@@b.ir", "a b@c.ir", "@c.ir", "a@.ir", "a@c..ir", "a.@c.ir",
            "a@-c.ir", "a@c_d.ir",
        ] {
            let err = validate_email("email", bad).unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.rule),
                ("email", Rule::Format),
                "{bad:?}"
            );
        }
        assert_eq!(
            validate_email("email", "").unwrap_err().rule,
            Rule::Required
        );
        let long = format!("{}@example.ir", "a".repeat(250));
        assert_eq!(
            validate_email("email", &long).unwrap_err().rule,
            Rule::Length
        );
    }

    proptest::proptest! {
        #[test]
        fn validators_never_panic_on_arbitrary_text(text in "(\\PC|[0-9۰-۹+ -]){0,30}") {
            let _ = validate_customer_number("f", &text);
            let _ = validate_national_id("f", &text);
            let _ = validate_legal_entity_id("f", &text);
            let _ = validate_economic_code("f", &text);
            let _ = normalize_phone("f", &text);
            let _ = validate_email("f", &text);
        }

        #[test]
        fn constructed_national_ids_validate(first9 in "[0-9]{9}") {
            let id = make_national_id(&first9);
            let all_same = id.bytes().all(|b| b == id.as_bytes()[0]);
            proptest::prop_assert_eq!(validate_national_id("n", &id).is_ok(), !all_same);
        }
    }
}
