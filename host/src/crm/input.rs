//! What a caller sends, and the checks that turn it into a record to store.
//! Every failure is a [`ValidationError`] whose `field` is the JSON path the
//! caller used (`phones.1.number`, `lines.0.quantity`, `totals.grand_total`).

use super::amount;
use super::{
    Address, DataWarning, DocumentKind, Line, PartyKind, PaymentKind, PaymentMethod, PhoneEntry,
    PhoneType, Product, Settlement, Totals,
};
use hamgam_domain::{
    Currency, Decimal, DocumentTotals, JalaliDate, LineInput, RateTable, Rule, TaxRates,
    ValidationError, check_totals, compute_totals, normalize_digits, normalize_phone,
    validate_customer_number, validate_economic_code, validate_email, validate_legal_entity_id,
    validate_national_id,
};
use serde::Deserialize;
use std::collections::HashMap;
use utoipa::ToSchema;

/// Longest free-text field.
const MAX_TEXT: usize = 500;
/// Most lines on one document.
pub const MAX_LINES: usize = 1000;

fn irr() -> Currency {
    Currency::IRR
}

fn invalid(field: impl Into<String>, rule: Rule, message: impl Into<String>) -> ValidationError {
    ValidationError::new(field, rule, message)
}

/// Trims; empty becomes `None`; too long is an error.
fn text(field: &str, value: Option<String>) -> Result<Option<String>, ValidationError> {
    let Some(v) = value else { return Ok(None) };
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > MAX_TEXT {
        return Err(invalid(
            field,
            Rule::Length,
            format!("{field} must be at most {MAX_TEXT} characters"),
        ));
    }
    Ok(Some(v.to_owned()))
}

fn required(field: &str, value: Option<String>) -> Result<String, ValidationError> {
    text(field, value)?
        .ok_or_else(|| invalid(field, Rule::Required, format!("{field} is required")))
}

fn percent(field: &str, p: Option<Decimal>) -> Result<Option<Decimal>, ValidationError> {
    if let Some(p) = p
        && (p.is_sign_negative() && !p.is_zero() || p > Decimal::ONE_HUNDRED)
    {
        return Err(invalid(
            field,
            Rule::Range,
            format!("{field} must be 0..=100, got {p}"),
        ));
    }
    Ok(p)
}

fn non_negative(field: &str, v: Decimal) -> Result<Decimal, ValidationError> {
    if v.is_sign_negative() && !v.is_zero() {
        return Err(invalid(
            field,
            Rule::Range,
            format!("{field} must not be negative, got {v}"),
        ));
    }
    Ok(v)
}

fn one_default(field: &str, defaults: usize) -> Result<(), ValidationError> {
    if defaults > 1 {
        return Err(invalid(
            field,
            Rule::Format,
            format!("at most one of {field} may be the default, got {defaults}"),
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------ parties

/// A phone as sent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneInput {
    /// Type (S5).
    #[serde(rename = "type")]
    pub phone_type: PhoneType,
    /// Any common form: `0912 123 4567`, `+98 912…`, Persian digits. The
    /// pattern is the plain forms: a mobile (`09…`, `+989…`, `00989…`), a
    /// landline with a province area code, or 8 local digits.
    #[schema(
        pattern = "^((0|\\+98|0098)9[0-9]{9}|0(11|13|17|21|23|24|25|26|28|31|34|35|38|41|44|45|51|54|56|58|61|66|71|74|76|77|81|83|84|86|87)[0-9]{8}|[1-9][0-9]{7})$"
    )]
    pub number: String,
    /// Extension, up to 6 digits.
    #[serde(default)]
    #[schema(pattern = "^[0-9]{0,6}$")]
    pub extension: Option<String>,
    /// Default flag (S4).
    #[serde(default)]
    pub default: bool,
}

/// A party as sent (create and replace). The document shows it as
/// [`PartyInputSchema`]: one shape per kind, with that kind's required
/// fields, which is what [`PartyInput::validate`] enforces.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyInput {
    /// Person or organisation.
    pub kind: PartyKind,
    /// Person: required.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Person: required.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Organisation: required.
    #[serde(default)]
    pub name: Option<String>,
    /// `<number>-<company code>` (S6), e.g. `625-300`.
    pub customer_number: String,
    /// Person: 10-digit national ID; organisation: 11-digit legal-entity ID.
    #[serde(default)]
    pub national_id: Option<String>,
    /// Organisation: registration number.
    #[serde(default)]
    pub registration_number: Option<String>,
    /// Economic code (10, 11, 12 or 14 digits).
    #[serde(default)]
    pub economic_code: Option<String>,
    /// Person: birth date, Jalali `YYYY/MM/DD`.
    #[serde(default)]
    pub birth_date: Option<JalaliDate>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Phones.
    #[serde(default)]
    pub phones: Vec<PhoneInput>,
    /// Addresses.
    #[serde(default)]
    pub addresses: Vec<Address>,
}

/// The documented shape of a party as sent: [`PartyInput`] as the API
/// really takes it, one object per `kind` with that kind's required
/// fields and the rule of every field. The handler reads [`PartyInput`];
/// this type exists for the OpenAPI document (`PartyInput` there), and
/// `crm::tests` checks both read the same bodies alike.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[schema(as = PartyInput)]
pub enum PartyInputSchema {
    /// هویت حقیقی: first and last name required; `national_id` is a
    /// 10-digit national ID with its check digit.
    Person {
        /// Required, at most 500 characters.
        #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
        first_name: String,
        /// Required, at most 500 characters.
        #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
        last_name: String,
        /// Optional display name.
        #[serde(default)]
        #[schema(max_length = 500)]
        name: Option<String>,
        /// `<number>-<company code>` (S6), e.g. `625-300`.
        #[schema(pattern = "^[0-9]{1,15}-[1-9][0-9]{2}$", example = "625-300")]
        customer_number: String,
        /// National ID (کد ملی): 10 digits, the last a check digit.
        #[serde(default)]
        #[schema(format = "ir-national-id", example = "0013542419")]
        national_id: Option<String>,
        /// Registration number, digits.
        #[serde(default)]
        #[schema(max_length = 500, pattern = "^[0-9]*$")]
        registration_number: Option<String>,
        /// Economic code: a national ID, a legal-entity ID, or 12 or 14 digits.
        #[serde(default)]
        #[schema(format = "ir-economic-code")]
        economic_code: Option<String>,
        /// Birth date, Jalali `YYYY/MM/DD`.
        #[serde(default)]
        #[schema(value_type = Option<String>, pattern = "^[12][0-9]{3}/(0[1-9]|1[0-2])/(0[1-9]|1[0-9]|2[0-9])$", example = "1370/05/14")]
        birth_date: Option<JalaliDate>,
        /// E-mail.
        #[serde(default)]
        #[schema(
            pattern = "^[A-Za-z0-9_%+-]{1,32}(\\.[A-Za-z0-9_%+-]{1,16})?@[A-Za-z0-9]{1,30}(\\.[A-Za-z0-9]{1,30}){1,3}$"
        )]
        email: Option<String>,
        /// Phones; at most one is the default (S4).
        #[serde(default)]
        phones: Vec<PhoneInput>,
        /// Addresses; at most one is the default (S4).
        #[serde(default)]
        addresses: Vec<Address>,
    },
    /// هویت حقوقی: name required; `national_id` is an 11-digit
    /// legal-entity ID with its check digit.
    Organisation {
        /// Not used for organisations; ignored when sent.
        #[serde(default)]
        #[schema(max_length = 500)]
        first_name: Option<String>,
        /// Not used for organisations; ignored when sent.
        #[serde(default)]
        #[schema(max_length = 500)]
        last_name: Option<String>,
        /// Required, at most 500 characters.
        #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
        name: String,
        /// `<number>-<company code>` (S6), e.g. `625-300`.
        #[schema(pattern = "^[0-9]{1,15}-[1-9][0-9]{2}$", example = "625-300")]
        customer_number: String,
        /// Legal-entity ID (شناسه ملی): 11 digits, the last a check digit.
        #[serde(default)]
        #[schema(format = "ir-legal-entity-id", example = "10101234565")]
        national_id: Option<String>,
        /// Registration number (شماره ثبت), digits.
        #[serde(default)]
        #[schema(max_length = 500, pattern = "^[0-9]*$")]
        registration_number: Option<String>,
        /// Economic code: a national ID, a legal-entity ID, or 12 or 14 digits.
        #[serde(default)]
        #[schema(format = "ir-economic-code")]
        economic_code: Option<String>,
        /// Not used for organisations.
        #[serde(default)]
        #[schema(value_type = Option<String>, pattern = "^[12][0-9]{3}/(0[1-9]|1[0-2])/(0[1-9]|1[0-9]|2[0-9])$")]
        birth_date: Option<JalaliDate>,
        /// E-mail.
        #[serde(default)]
        #[schema(
            pattern = "^[A-Za-z0-9_%+-]{1,32}(\\.[A-Za-z0-9_%+-]{1,16})?@[A-Za-z0-9]{1,30}(\\.[A-Za-z0-9]{1,30}){1,3}$"
        )]
        email: Option<String>,
        /// Phones; at most one is the default (S4).
        #[serde(default)]
        phones: Vec<PhoneInput>,
        /// Addresses; at most one is the default (S4).
        #[serde(default)]
        addresses: Vec<Address>,
    },
}

/// A checked party, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewParty {
    /// Kind.
    pub kind: PartyKind,
    /// Person.
    pub first_name: Option<String>,
    /// Person.
    pub last_name: Option<String>,
    /// Organisation.
    pub name: Option<String>,
    /// Canonical S6 form.
    pub customer_number: String,
    /// From the customer number.
    pub company_code: u16,
    /// Checked national / legal-entity ID.
    pub national_id: Option<String>,
    /// Registration number.
    pub registration_number: Option<String>,
    /// Checked economic code.
    pub economic_code: Option<String>,
    /// Birth date.
    pub birth_date: Option<JalaliDate>,
    /// Checked e-mail.
    pub email: Option<String>,
    /// Normalised phones.
    pub phones: Vec<PhoneEntry>,
    /// Addresses.
    pub addresses: Vec<Address>,
    /// Rules the ledger's record breaks, kept with it (issue 14 §7); empty
    /// for the CRM's own input, which is refused instead (S6).
    pub warnings: Vec<DataWarning>,
}

/// How a party's lenient rules apply (issue 14 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strictness {
    /// The CRM's own input: every rule refuses (S6).
    Refuse,
    /// A ledger's record: a lenient rule keeps the ledger's value and
    /// records a warning.
    Warn,
}

/// The verdicts of one party's checks.
struct Checks {
    strictness: Strictness,
    warnings: Vec<DataWarning>,
}

impl Checks {
    /// A lenient rule's verdict on `raw`: the checked value, or — for a
    /// ledger's record — the ledger's own value with a warning.
    fn lenient(
        &mut self,
        checked: Result<String, ValidationError>,
        raw: &str,
    ) -> Result<String, ValidationError> {
        match checked {
            Ok(v) => Ok(v),
            Err(e) if self.strictness == Strictness::Warn => {
                self.warnings.push(e.into());
                Ok(raw.to_owned())
            }
            Err(e) => Err(e),
        }
    }
}

impl PartyInput {
    /// Applies S1, S4, S5, S6 and the ID check digits; any broken rule
    /// refuses the party. The CRM's own input (the API) goes here.
    pub fn validate(self) -> Result<NewParty, ValidationError> {
        self.check(Strictness::Refuse)
    }

    /// The same rules for a ledger's record (issue 14 §7): the ledger is
    /// the book of record, so a rule whose break corrupts nothing in the
    /// CRM keeps the ledger's value and adds a warning to the party
    /// (`NewParty::warnings`) instead of refusing it. Lenient: the national
    /// or legal-entity ID, economic code and registration number (format,
    /// length, check digit), e-mail, phone numbers and extensions, postal
    /// codes. Still refused, because the CRM cannot hold the record
    /// without them: the customer number (the party's identity, S6, and
    /// its company, S17), the names (S1: nothing else says who it is),
    /// text longer than the CRM stores, and more than one default phone or
    /// address (S4; the mapping already keeps one).
    pub fn validate_from_ledger(self) -> Result<NewParty, ValidationError> {
        self.check(Strictness::Warn)
    }

    fn check(self, strictness: Strictness) -> Result<NewParty, ValidationError> {
        let mut checks = Checks {
            strictness,
            warnings: Vec::new(),
        };
        let customer = validate_customer_number("customer_number", &self.customer_number)?;
        let (first_name, last_name, name) = match self.kind {
            PartyKind::Person => (
                Some(required("first_name", self.first_name)?),
                Some(required("last_name", self.last_name)?),
                text("name", self.name)?,
            ),
            PartyKind::Organisation => (None, None, Some(required("name", self.name)?)),
        };
        let national_id = match text("national_id", self.national_id)? {
            None => None,
            Some(id) => Some(checks.lenient(
                match self.kind {
                    PartyKind::Person => validate_national_id("national_id", &id),
                    PartyKind::Organisation => validate_legal_entity_id("national_id", &id),
                },
                &id,
            )?),
        };
        let registration_number = match text("registration_number", self.registration_number)? {
            None => None,
            Some(r) => {
                let r = normalize_digits(&r);
                let checked = if r.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(r.clone())
                } else {
                    Err(invalid(
                        "registration_number",
                        Rule::Format,
                        "registration number must contain only digits",
                    ))
                };
                Some(checks.lenient(checked, &r)?)
            }
        };
        let economic_code = match text("economic_code", self.economic_code)? {
            None => None,
            Some(c) => Some(checks.lenient(validate_economic_code("economic_code", &c), &c)?),
        };
        let email = match text("email", self.email)? {
            None => None,
            Some(e) => Some(checks.lenient(validate_email("email", &e), &e)?),
        };
        let mut phones = Vec::with_capacity(self.phones.len());
        for (i, p) in self.phones.into_iter().enumerate() {
            let field = format!("phones.{i}.number");
            let raw = normalize_digits(p.number.trim());
            let number = checks.lenient(
                normalize_phone(&field, &p.number).map(|phone| phone.national()),
                &raw,
            )?;
            let extension = match text(&format!("phones.{i}.extension"), p.extension)? {
                None => None,
                Some(e) => {
                    let e = normalize_digits(&e);
                    let checked = if e.len() <= 6 && e.bytes().all(|b| b.is_ascii_digit()) {
                        Ok(e.clone())
                    } else {
                        Err(invalid(
                            format!("phones.{i}.extension"),
                            Rule::Format,
                            "extension must be 1 to 6 digits",
                        ))
                    };
                    Some(checks.lenient(checked, &e)?)
                }
            };
            phones.push(PhoneEntry {
                phone_type: p.phone_type,
                number,
                extension,
                default: p.default,
            });
        }
        one_default("phones", phones.iter().filter(|p| p.default).count())?;
        let mut addresses = Vec::with_capacity(self.addresses.len());
        for (i, a) in self.addresses.into_iter().enumerate() {
            let field = format!("addresses.{i}.postal_code");
            let postal_code = match text(&field, a.postal_code)? {
                None => None,
                Some(c) => {
                    let c = normalize_digits(&c).replace('-', "");
                    let checked = if c.len() == 10 && c.bytes().all(|b| b.is_ascii_digit()) {
                        Ok(c.clone())
                    } else {
                        Err(invalid(
                            field,
                            Rule::Format,
                            "postal code must have 10 digits",
                        ))
                    };
                    Some(checks.lenient(checked, &c)?)
                }
            };
            addresses.push(Address {
                province: text(&format!("addresses.{i}.province"), a.province)?,
                city: text(&format!("addresses.{i}.city"), a.city)?,
                line: required(&format!("addresses.{i}.line"), Some(a.line))?,
                postal_code,
                default: a.default,
            });
        }
        one_default("addresses", addresses.iter().filter(|a| a.default).count())?;
        Ok(NewParty {
            kind: self.kind,
            first_name,
            last_name,
            name,
            customer_number: customer.to_string(),
            company_code: customer.company.get(),
            national_id,
            registration_number,
            economic_code,
            birth_date: self.birth_date,
            email,
            phones,
            addresses,
            warnings: checks.warnings,
        })
    }
}

// ----------------------------------------------------------------- products

/// A product as sent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// Item code, unique per tenant (a used one is a 409).
    #[schema(min_length = 1, max_length = 64, pattern = "\\S")]
    pub code: String,
    /// Name.
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub name: String,
    /// Unit of measure.
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub unit: String,
    /// The one sales price (S13), a decimal string (an integer is taken too).
    #[serde(deserialize_with = "amount::de")]
    #[schema(value_type = String, pattern = "^[0-9]{1,12}(\\.[0-9]{1,2})?$", example = "1250000")]
    pub sales_price: Decimal,
    /// Currency, a three-letter code; IRR when absent.
    #[serde(default = "irr")]
    #[schema(value_type = String, pattern = "^[A-Za-z]{3}$", example = "IRR")]
    pub currency: Currency,
    /// Product VAT percent (H2), 0..=100.
    #[serde(default, deserialize_with = "amount::de_opt")]
    #[schema(value_type = Option<String>, pattern = "^(100(\\.0{1,8})?|[0-9]{1,2}(\\.[0-9]{1,8})?)$")]
    pub tax_percent: Option<Decimal>,
    /// Product toll percent (H2), 0..=100.
    #[serde(default, deserialize_with = "amount::de_opt")]
    #[schema(value_type = Option<String>, pattern = "^(100(\\.0{1,8})?|[0-9]{1,2}(\\.[0-9]{1,8})?)$")]
    pub toll_percent: Option<Decimal>,
    /// Exempt from tax and toll.
    #[serde(default)]
    pub tax_exempt: bool,
}

/// A checked product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// Price.
    pub sales_price: Decimal,
    /// Currency.
    pub currency: Currency,
    /// VAT percent.
    pub tax_percent: Option<Decimal>,
    /// Toll percent.
    pub toll_percent: Option<Decimal>,
    /// Exempt.
    pub tax_exempt: bool,
    /// Rules the ledger's item breaks, kept with it (issue 14 §7); empty
    /// for the CRM's own input.
    pub warnings: Vec<DataWarning>,
}

impl ProductInput {
    /// Checks the fields; any broken rule refuses the product (the API).
    pub fn validate(self) -> Result<NewProduct, ValidationError> {
        self.check(Strictness::Refuse)
    }

    /// The same rules for a ledger's item (issue 14 §7). Lenient: an empty
    /// name or unit (a unit the ledger could not name), kept empty with a
    /// warning, so the item's invoices are not held back for it. Still
    /// refused: the code (the item's identity, S13), the price and rates
    /// (amounts the CRM computes with).
    pub fn validate_from_ledger(self) -> Result<NewProduct, ValidationError> {
        self.check(Strictness::Warn)
    }

    fn check(self, strictness: Strictness) -> Result<NewProduct, ValidationError> {
        let mut checks = Checks {
            strictness,
            warnings: Vec::new(),
        };
        let code = normalize_digits(&required("code", Some(self.code))?);
        if code.chars().count() > 64 {
            return Err(invalid(
                "code",
                Rule::Length,
                "code must be at most 64 characters",
            ));
        }
        let name = checks.lenient(required("name", Some(self.name)), "")?;
        let unit = checks.lenient(required("unit", Some(self.unit)), "")?;
        Ok(NewProduct {
            code,
            name,
            unit,
            sales_price: non_negative("sales_price", self.sales_price)?,
            currency: self.currency,
            tax_percent: percent("tax_percent", self.tax_percent)?,
            toll_percent: percent("toll_percent", self.toll_percent)?,
            tax_exempt: self.tax_exempt,
            warnings: checks.warnings,
        })
    }
}

// ---------------------------------------------------------------- documents

/// A document line as sent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    /// Product; its rates and exemption apply unless the line overrides them.
    #[serde(default)]
    pub product_id: Option<i64>,
    /// Free text.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Quantity, a decimal string (an integer is taken too).
    #[serde(deserialize_with = "amount::de")]
    #[schema(value_type = String, pattern = "^[0-9]{1,6}(\\.[0-9]{1,3})?$", example = "2")]
    pub quantity: Decimal,
    /// Unit price.
    #[serde(deserialize_with = "amount::de")]
    #[schema(value_type = String, pattern = "^[0-9]{1,12}(\\.[0-9]{1,2})?$", example = "1250000")]
    pub unit_price: Decimal,
    /// Discount amount; at most the line's gross plus its additions.
    #[serde(default, deserialize_with = "amount::de")]
    #[schema(value_type = String, pattern = "^[0-9]{1,12}(\\.[0-9]{1,2})?$")]
    pub discount: Decimal,
    /// Additions amount.
    #[serde(default, deserialize_with = "amount::de")]
    #[schema(value_type = String, pattern = "^[0-9]{1,12}(\\.[0-9]{1,2})?$")]
    pub additions: Decimal,
    /// Exempt from tax and toll.
    #[serde(default)]
    pub tax_exempt: bool,
    /// VAT percent for this line (wins over product and table), 0..=100.
    #[serde(default, deserialize_with = "amount::de_opt")]
    #[schema(value_type = Option<String>, pattern = "^(100(\\.0{1,8})?|[0-9]{1,2}(\\.[0-9]{1,8})?)$")]
    pub tax_percent: Option<Decimal>,
    /// Toll percent for this line, 0..=100.
    #[serde(default, deserialize_with = "amount::de_opt")]
    #[schema(value_type = Option<String>, pattern = "^(100(\\.0{1,8})?|[0-9]{1,2}(\\.[0-9]{1,8})?)$")]
    pub toll_percent: Option<Decimal>,
}

/// A document as sent (create and replace).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentRequest {
    /// Customer or supplier.
    pub party_id: i64,
    /// Jalali `YYYY/MM/DD`; selects the tax rates in force, so it must be
    /// on or after the first date of the tenant's rate table.
    #[schema(value_type = String, pattern = "^[12][0-9]{3}/(0[1-9]|1[0-2])/(0[1-9]|1[0-9]|2[0-9])$", example = "1403/12/20")]
    pub date: JalaliDate,
    /// Currency of every amount, a three-letter code; IRR when absent (C5).
    #[serde(default = "irr")]
    #[schema(value_type = String, pattern = "^[A-Za-z]{3}$", example = "IRR")]
    pub currency: Currency,
    /// Lines (1..=1000).
    #[schema(min_items = 1, max_items = 1000)]
    pub lines: Vec<LineRequest>,
    /// Document discount (not taxed); at most the lines' net plus additions.
    #[serde(default, deserialize_with = "amount::de")]
    #[schema(value_type = String, pattern = "^[0-9]{1,12}(\\.[0-9]{1,2})?$")]
    pub discount: Decimal,
    /// Document additions (not taxed).
    #[serde(default, deserialize_with = "amount::de")]
    #[schema(value_type = String, pattern = "^[0-9]{1,12}(\\.[0-9]{1,2})?$")]
    pub additions: Decimal,
    /// The invoice a return or correction note refers to.
    #[serde(default)]
    pub related_id: Option<i64>,
    /// Free text.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Totals as the client computed them; if present they must equal ours,
    /// or the request fails naming the first wrong field.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub totals: Option<DocumentTotals>,
}

/// A checked document with its computed lines and totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDocument {
    /// Kind.
    pub kind: DocumentKind,
    /// Party.
    pub party_id: i64,
    /// Date.
    pub date: JalaliDate,
    /// Currency.
    pub currency: Currency,
    /// Related invoice.
    pub related_id: Option<i64>,
    /// Free text.
    pub description: Option<String>,
    /// Document discount.
    pub discount: Decimal,
    /// Document additions.
    pub additions: Decimal,
    /// Lines with computed amounts.
    pub lines: Vec<Line>,
    /// Totals.
    pub totals: Totals,
}

impl DocumentRequest {
    /// Product ids the lines refer to, so the caller can load them.
    pub fn product_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.lines.iter().filter_map(|l| l.product_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Computes the totals with `hamgam_domain::compute_totals` (the one
    /// totals function), checks any totals the client sent against them,
    /// and returns the record to store. `products` must hold every product
    /// the lines name (missing ones are an error on that line).
    pub fn prepare(
        self,
        kind: DocumentKind,
        products: &HashMap<i64, Product>,
        rates: &RateTable,
    ) -> Result<NewDocument, ValidationError> {
        if self.lines.is_empty() {
            return Err(invalid(
                "lines",
                Rule::Required,
                "a document needs at least one line",
            ));
        }
        if self.lines.len() > MAX_LINES {
            return Err(invalid(
                "lines",
                Rule::Length,
                format!("a document may have at most {MAX_LINES} lines"),
            ));
        }
        if matches!(
            kind,
            DocumentKind::SalesReturn | DocumentKind::CorrectionNote | DocumentKind::PurchaseReturn
        ) && self.related_id.is_none()
        {
            return Err(invalid(
                "related_id",
                Rule::Required,
                format!("a {} must name the invoice it corrects", kind.as_str()),
            ));
        }
        let description = text("description", self.description)?;
        let mut inputs = Vec::with_capacity(self.lines.len());
        let mut descriptions = Vec::with_capacity(self.lines.len());
        for (i, l) in self.lines.iter().enumerate() {
            let product = match l.product_id {
                Some(id) => Some(products.get(&id).ok_or_else(|| {
                    invalid(
                        format!("lines.{i}.product_id"),
                        Rule::Required,
                        format!("product {id} does not exist"),
                    )
                })?),
                None => None,
            };
            let tax = percent(&format!("lines.{i}.tax_percent"), l.tax_percent)?;
            let toll = percent(&format!("lines.{i}.toll_percent"), l.toll_percent)?;
            let table = rates.rates_on(self.date);
            // Line rates win, then the product's (H2), then the table; a line
            // that sets only one of the two takes the other from the next level.
            let pick = |line: Option<Decimal>, prod: Option<Decimal>, table: Option<Decimal>| {
                line.or(prod).or(table)
            };
            let p_tax = product.and_then(|p| p.tax_percent);
            let p_toll = product.and_then(|p| p.toll_percent);
            let rate_override =
                if tax.is_some() || toll.is_some() || p_tax.is_some() || p_toll.is_some() {
                    let t = pick(tax, p_tax, table.map(|r| r.tax_percent));
                    let o = pick(toll, p_toll, table.map(|r| r.toll_percent));
                    match (t, o) {
                        (Some(t), Some(o)) => Some(TaxRates::new(t, o)),
                        // No table rate for the date: let compute_totals name it.
                        _ => None,
                    }
                } else {
                    None
                };
            inputs.push(LineInput {
                quantity: l.quantity,
                unit_price: l.unit_price,
                discount: l.discount,
                additions: l.additions,
                tax_exempt: l.tax_exempt || product.is_some_and(|p| p.tax_exempt),
                rate_override,
            });
            descriptions.push(text(
                &format!("lines.{i}.description"),
                l.description.clone(),
            )?);
        }
        let input = hamgam_domain::DocumentInput {
            date: self.date,
            lines: inputs,
            discount: self.discount,
            additions: self.additions,
        };
        let computed = compute_totals(&input, rates, self.currency.minor_unit_scale())
            .map_err(ValidationError::from)?;
        if let Some(sent) = &self.totals {
            check_totals(sent, &computed).map_err(|e| ValidationError {
                field: format!("totals.{}", e.field),
                ..e
            })?;
        }
        let lines = input
            .lines
            .iter()
            .zip(&computed.lines)
            .zip(self.lines.iter().zip(descriptions))
            .map(|((i, c), (r, description))| Line {
                product_id: r.product_id,
                description,
                quantity: i.quantity,
                unit_price: i.unit_price,
                discount: c.discount,
                additions: c.additions,
                tax_exempt: i.tax_exempt,
                tax_percent: c.rates.tax_percent,
                toll_percent: c.rates.toll_percent,
                gross: c.gross,
                net: c.net,
                tax: c.tax,
                toll: c.toll,
                total: c.total,
            })
            .collect();
        Ok(NewDocument {
            kind,
            party_id: self.party_id,
            date: self.date,
            currency: self.currency,
            related_id: self.related_id,
            description,
            discount: computed_doc_amount(self.discount, self.currency),
            additions: computed_doc_amount(self.additions, self.currency),
            lines,
            totals: Totals::from(&computed),
        })
    }
}

fn computed_doc_amount(v: Decimal, currency: Currency) -> Decimal {
    hamgam_domain::round_half_away(v, currency.minor_unit_scale())
}

// ----------------------------------------------------------------- payments

/// A receipt or payment as sent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// Party.
    pub party_id: i64,
    /// Jalali `YYYY/MM/DD`.
    #[schema(value_type = String, pattern = "^[12][0-9]{3}/(0[1-9]|1[0-2])/(0[1-9]|1[0-9]|2[0-9])$", example = "1403/12/20")]
    pub date: JalaliDate,
    /// Currency, a three-letter code; IRR when absent.
    #[serde(default = "irr")]
    #[schema(value_type = String, pattern = "^[A-Za-z]{3}$", example = "IRR")]
    pub currency: Currency,
    /// Amount, positive, with no more decimals than the currency has
    /// (none for IRR): a whole number always fits.
    #[serde(deserialize_with = "amount::de")]
    #[schema(value_type = String, pattern = "^[1-9][0-9]{0,17}$", example = "2500000")]
    pub amount: Decimal,
    /// Cash, cheque, card, bank draft.
    pub method: PaymentMethod,
    /// The invoice this settles (H5).
    #[serde(default)]
    pub invoice_id: Option<i64>,
    /// Cheque serial; required (not blank) when `method` is `cheque`.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub cheque_number: Option<String>,
    /// Cheque: due date, Jalali `YYYY/MM/DD`.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^[12][0-9]{3}/(0[1-9]|1[0-2])/(0[1-9]|1[0-9]|2[0-9])$")]
    pub cheque_due: Option<JalaliDate>,
    /// Trace or reference number.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reference: Option<String>,
    /// Free text.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Several settlements (cash plus cheques, …), adding up to `amount`;
    /// the first one's method is `method`, and `cheque_number`,
    /// `cheque_due` and `reference` above, when sent beside it, are the
    /// first settlement's (as a GET answers them) or absent. Without it
    /// the payment is one settlement of `method` with those fields.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 100)]
    pub settlements: Option<Vec<SettlementRequest>>,
}

/// One settlement of a receipt or payment as sent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettlementRequest {
    /// Cash, cheque, card, bank draft.
    pub method: PaymentMethod,
    /// Positive, in the payment's currency.
    #[serde(deserialize_with = "amount::de")]
    #[schema(value_type = String, pattern = "^[1-9][0-9]{0,17}$", example = "1500000")]
    pub amount: Decimal,
    /// Cheque serial (required for a cheque), draft number, card trace.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reference: Option<String>,
    /// A cheque's due date, Jalali `YYYY/MM/DD`.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^[12][0-9]{3}/(0[1-9]|1[0-2])/(0[1-9]|1[0-9]|2[0-9])$")]
    pub due_date: Option<JalaliDate>,
    /// A cheque's bank.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub bank: Option<String>,
}

/// Most settlements on one receipt or payment.
pub const MAX_SETTLEMENTS: usize = 100;

/// A checked receipt or payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    /// Kind.
    pub kind: PaymentKind,
    /// Party.
    pub party_id: i64,
    /// Date.
    pub date: JalaliDate,
    /// Currency.
    pub currency: Currency,
    /// Amount, rounded to the currency's minor unit.
    pub amount: Decimal,
    /// Method.
    pub method: PaymentMethod,
    /// Linked invoice.
    pub invoice_id: Option<i64>,
    /// Cheque serial.
    pub cheque_number: Option<String>,
    /// Cheque due date.
    pub cheque_due: Option<JalaliDate>,
    /// Reference.
    pub reference: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Every settlement; never empty, adding up to `amount`, the first
    /// one matching `method`, `cheque_number`, `cheque_due`, `reference`.
    pub settlements: Vec<Settlement>,
}

/// The settlements of a payment must add up to its amount (S16): a
/// receipt of cash plus two cheques is whole or refused.
pub fn check_settlements(
    field: &str,
    amount: Decimal,
    settlements: &[Settlement],
) -> Result<(), ValidationError> {
    if settlements.is_empty() {
        return Err(invalid(
            field,
            Rule::Required,
            "a payment needs at least one settlement",
        ));
    }
    let sum: Decimal = settlements.iter().map(|s| s.amount).sum();
    if sum != amount {
        return Err(invalid(
            field,
            Rule::Mismatch,
            format!("the settlements add up to {sum}, not to the amount {amount}"),
        ));
    }
    Ok(())
}

impl PaymentRequest {
    /// Checks the fields.
    pub fn validate(self, kind: PaymentKind) -> Result<NewPayment, ValidationError> {
        if self.amount <= Decimal::ZERO {
            return Err(invalid("amount", Rule::Range, "amount must be positive"));
        }
        let scale = self.currency.minor_unit_scale();
        if self.amount.scale() > scale && self.amount.normalize().scale() > scale {
            return Err(invalid(
                "amount",
                Rule::Format,
                format!(
                    "{} amounts have at most {scale} decimal places",
                    self.currency
                ),
            ));
        }
        let cheque_number =
            text("cheque_number", self.cheque_number)?.map(|c| normalize_digits(&c));
        let reference = text("reference", self.reference)?;
        // One settlement of `method` with the cheque fields or reference.
        let single = || -> Result<Vec<Settlement>, ValidationError> {
            if self.method == PaymentMethod::Cheque && cheque_number.is_none() {
                return Err(invalid(
                    "cheque_number",
                    Rule::Required,
                    "a cheque needs its serial number",
                ));
            }
            Ok(vec![Settlement {
                method: self.method,
                amount: self.amount,
                reference: if self.method == PaymentMethod::Cheque {
                    cheque_number.clone()
                } else {
                    reference.clone()
                },
                due_date: self.cheque_due,
                bank: None,
            }])
        };
        let settlements = match self.settlements {
            None => single()?,
            Some(list) => {
                if list.len() > MAX_SETTLEMENTS {
                    return Err(invalid(
                        "settlements",
                        Rule::Length,
                        format!("at most {MAX_SETTLEMENTS} settlements"),
                    ));
                }
                let list = list
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| s.validate(i, self.currency))
                    .collect::<Result<Vec<_>, _>>()?;
                if list.first().is_some_and(|s| s.method != self.method) {
                    return Err(invalid(
                        "method",
                        Rule::Mismatch,
                        "method must be the first settlement's method",
                    ));
                }
                check_settlements("settlements", self.amount, &list)?;
                // The single-settlement fields, when sent beside the list,
                // must say what the list says: what a GET answers can be
                // sent back, and nothing sent is silently dropped.
                let (_, first_cheque, first_due, first_reference) = Settlement::first_of(&list);
                for (field, given, derived) in [
                    ("cheque_number", cheque_number.clone(), first_cheque),
                    (
                        "cheque_due",
                        self.cheque_due.map(|d| d.to_string()),
                        first_due.map(|d| d.to_string()),
                    ),
                    ("reference", reference.clone(), first_reference),
                ] {
                    if given.is_some() && given != derived {
                        return Err(invalid(
                            field,
                            Rule::Mismatch,
                            format!(
                                "with `settlements`, {field} is the first settlement's ({}) or absent",
                                derived.as_deref().unwrap_or("none")
                            ),
                        ));
                    }
                }
                list
            }
        };
        let (method, cheque_number, cheque_due, reference) = Settlement::first_of(&settlements);
        Ok(NewPayment {
            kind,
            party_id: self.party_id,
            date: self.date,
            currency: self.currency,
            amount: self.amount,
            method,
            invoice_id: self.invoice_id,
            cheque_number,
            cheque_due,
            reference,
            description: text("description", self.description)?,
            settlements,
        })
    }
}

impl SettlementRequest {
    fn validate(self, index: usize, currency: Currency) -> Result<Settlement, ValidationError> {
        let f = |name: &str| format!("settlements.{index}.{name}");
        if self.amount <= Decimal::ZERO {
            return Err(invalid(f("amount"), Rule::Range, "amount must be positive"));
        }
        let scale = currency.minor_unit_scale();
        if self.amount.normalize().scale() > scale {
            return Err(invalid(
                f("amount"),
                Rule::Format,
                format!("{currency} amounts have at most {scale} decimal places"),
            ));
        }
        let reference = text(&f("reference"), self.reference)?.map(|r| normalize_digits(&r));
        if self.method == PaymentMethod::Cheque && reference.is_none() {
            return Err(invalid(
                f("reference"),
                Rule::Required,
                "a cheque needs its serial number",
            ));
        }
        Ok(Settlement {
            method: self.method,
            amount: self.amount,
            reference,
            due_date: self.due_date,
            bank: text(&f("bank"), self.bank)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{PartyInput, PartyInputSchema};
    use serde_json::{Value, json};

    fn both(body: &Value) -> (bool, bool) {
        (
            serde_json::from_value::<PartyInput>(body.clone()).is_ok(),
            serde_json::from_value::<PartyInputSchema>(body.clone()).is_ok(),
        )
    }

    /// The documented party shape reads bodies as the handler's type does:
    /// the same fields, the same `kind` words, unknown fields refused.
    #[test]
    fn the_documented_party_shape_reads_what_the_handler_reads() {
        let person = json!({
            "kind": "person", "first_name": "مریم", "last_name": "احمدی",
            "customer_number": "625-300", "national_id": "0013542419",
            "registration_number": "", "economic_code": "0013542419",
            "birth_date": "1370/05/14", "email": "m@example.ir",
            "phones": [{"type": "mobile", "number": "09121234567", "extension": "12", "default": true}],
            "addresses": [{"line": "تهران", "province": "تهران", "city": "تهران", "postal_code": "1234567890", "default": true}]
        });
        let organisation = json!({
            "kind": "organisation", "name": "شرکت", "customer_number": "626-300",
            "national_id": "10101234565", "registration_number": "1234"
        });
        assert_eq!(both(&person), (true, true));
        assert_eq!(both(&organisation), (true, true));
        let mut unknown = person.clone();
        unknown["nickname"] = json!("x");
        assert_eq!(both(&unknown), (false, false));
        let mut no_kind = organisation.clone();
        no_kind.as_object_mut().unwrap().remove("kind");
        assert_eq!(both(&no_kind), (false, false));
        let mut other_kind = organisation.clone();
        other_kind["kind"] = json!("robot");
        assert_eq!(both(&other_kind), (false, false));
        // The handler's type leaves the per-kind requirements to
        // `validate`; the document states them, and `validate` agrees.
        let nameless = json!({"kind": "organisation", "customer_number": "626-300"});
        assert_eq!(both(&nameless), (true, false));
        let input: PartyInput = serde_json::from_value(nameless).unwrap();
        assert_eq!(input.validate().unwrap_err().field, "name");
    }

    /// Issue 14 §7: what the CRM refuses from its own input (S6) a ledger's
    /// record keeps, with a warning naming the field and the rule; what
    /// would leave the CRM without the party's identity is refused both ways.
    #[test]
    fn s6_the_crm_refuses_what_a_ledger_record_keeps_with_a_warning() {
        use crate::crm::WarningRule;
        let dirty = json!({
            "kind": "organisation", "name": "شرکت", "customer_number": "626-300",
            "national_id": "10101234564", "economic_code": "12345",
            "phones": [{"type": "phone", "number": "0991234", "default": true}],
            "addresses": [{"line": "تهران", "postal_code": "۱۲۳۴", "default": true}]
        });
        let strict: PartyInput = serde_json::from_value(dirty.clone()).unwrap();
        let e = strict.validate().unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.rule.as_str()),
            ("national_id", "check_digit")
        );
        let lenient: PartyInput = serde_json::from_value(dirty).unwrap();
        let p = lenient.validate_from_ledger().unwrap();
        assert_eq!(
            p.national_id.as_deref(),
            Some("10101234564"),
            "kept as the ledger has it"
        );
        assert_eq!(p.economic_code.as_deref(), Some("12345"));
        assert_eq!(p.phones[0].number, "0991234");
        assert_eq!(p.addresses[0].postal_code.as_deref(), Some("1234"));
        let got: Vec<(&str, WarningRule)> = p
            .warnings
            .iter()
            .map(|w| (w.field.as_str(), w.rule))
            .collect();
        assert_eq!(
            got,
            [
                ("national_id", WarningRule::CheckDigit),
                ("economic_code", WarningRule::Length),
                ("phones.0.number", WarningRule::Length),
                ("addresses.0.postal_code", WarningRule::Format),
            ]
        );
        // A clean record carries none.
        let clean: PartyInput = serde_json::from_value(json!({
            "kind": "organisation", "name": "شرکت", "customer_number": "626-300",
            "national_id": "10101234565"
        }))
        .unwrap();
        assert!(clean.validate_from_ledger().unwrap().warnings.is_empty());
        // No identity: refused from the ledger too.
        for bad in [
            json!({"kind": "organisation", "name": "شرکت", "customer_number": "626300"}),
            json!({"kind": "person", "last_name": "رضایی", "customer_number": "626-300"}),
        ] {
            let input: PartyInput = serde_json::from_value(bad).unwrap();
            assert!(input.validate_from_ledger().is_err());
        }
    }

    /// Issue 14 §7 for items: a ledger's item without a unit keeps its
    /// place (its invoices need it); the API still refuses one; a product
    /// without a code has no identity and is refused both ways.
    #[test]
    fn s13_a_ledger_item_without_a_unit_arrives_with_a_warning_the_api_refuses_it() {
        use super::ProductInput;
        use crate::crm::WarningRule;
        let unitless = json!({"code": "B1", "name": "کالا", "unit": " ", "sales_price": "1000"});
        let strict: ProductInput = serde_json::from_value(unitless.clone()).unwrap();
        assert_eq!(strict.validate().unwrap_err().field, "unit");
        let lenient: ProductInput = serde_json::from_value(unitless).unwrap();
        let p = lenient.validate_from_ledger().unwrap();
        assert_eq!(p.unit, "");
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(
            (p.warnings[0].field.as_str(), p.warnings[0].rule),
            ("unit", WarningRule::Required)
        );
        let codeless: ProductInput = serde_json::from_value(
            json!({"code": "", "name": "کالا", "unit": "عدد", "sales_price": "1000"}),
        )
        .unwrap();
        assert!(codeless.validate_from_ledger().is_err());
    }
}
