//! The CRM entities (issue #3): parties, products, documents with lines,
//! receipts and payments — pure data with serde and OpenAPI schemas, plus the
//! checks that turn a caller's input into a valid record.
//!
//! This module sits below both `store` and `api`: the repositories persist
//! these types and the HTTP layer (de)serialises them, so neither has to
//! know the other. Business rules live in `hamgam-domain` (customer number,
//! national IDs, phones, Jalali dates, totals); here they are only applied
//! to fields, so every error names the field the caller sent.

pub mod amount;
mod input;
pub mod json;
pub mod kinds;
pub mod settings;

pub use input::*;

use hamgam_domain::{Currency, Decimal, DocumentTotals, JalaliDate};
use kinds::{EntityKind, Operation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who or what made a change, and where it came from. Every write carries
/// one; the outbox row keeps `origin` so the sync engine can refuse to send
/// a change back to the system it came from (echo suppression, S8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The tenant the change belongs to; every query is scoped by it.
    pub tenant: String,
    /// Who, for the audit trail (`api:<tenant>`, a user, a connector).
    pub who: String,
    /// Origin tag: `api:<tenant>`, `module:<instance>` or `connector:<instance>`.
    pub origin: String,
    /// Which of its changes get an outbox row (every change gets an audit
    /// row, C6).
    pub outbox: Outbox,
}

/// Which changes of an actor are written to the outbox, the sync engine's
/// input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbox {
    /// Every change.
    Every,
    /// Only creations and edits of these entity kinds. A change a
    /// connector brings is never sent back to that connector (invariant
    /// 15) and its deletions travel nowhere, so the sync engine writes a
    /// row only for the kinds another ledger takes from this one (H10: a
    /// shop's customers and invoices go on to the books, the books'
    /// products to a shop) instead of rows it would settle as `skipped`.
    Onward(&'static [EntityKind]),
}

impl Actor {
    /// A change made through the REST API with the tenant's token.
    pub fn api(tenant: &str) -> Actor {
        Actor {
            tenant: tenant.to_owned(),
            who: format!("api:{tenant}"),
            origin: format!("api:{tenant}"),
            outbox: Outbox::Every,
        }
    }

    /// A change applied by the sync engine on behalf of a connector instance.
    pub fn connector(tenant: &str, instance: &str) -> Actor {
        Actor {
            tenant: tenant.to_owned(),
            who: format!("connector:{instance}"),
            origin: format!("connector:{instance}"),
            outbox: Outbox::Every,
        }
    }

    /// A change a business module instance made through
    /// `hamgam:crm/entities`: audited as the instance, and sent on to the
    /// ledgers as the CRM's own change.
    pub fn module(tenant: &str, instance: &str) -> Actor {
        Actor {
            tenant: tenant.to_owned(),
            who: format!("module:{instance}"),
            origin: format!("module:{instance}"),
            outbox: Outbox::Every,
        }
    }

    /// The same actor with another outbox rule.
    pub fn with_outbox(self, outbox: Outbox) -> Actor {
        Actor { outbox, ..self }
    }

    /// Whether a change (`entity_kind`, `operation`) gets an outbox row.
    pub fn writes_outbox(&self, entity_kind: EntityKind, operation: Operation) -> bool {
        match self.outbox {
            Outbox::Every => true,
            Outbox::Onward(kinds) => operation != Operation::Delete && kinds.contains(&entity_kind),
        }
    }
}

/// Person or organisation (S1, S9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    /// هویت حقیقی.
    Person,
    /// هویت حقوقی.
    Organisation,
}

impl PartyKind {
    /// Stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            PartyKind::Person => "person",
            PartyKind::Organisation => "organisation",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<PartyKind> {
        match s {
            "person" => Some(PartyKind::Person),
            "organisation" => Some(PartyKind::Organisation),
            _ => None,
        }
    }
}

/// The CRM's phone types (S5: ledger office/other/home → phone, mobile →
/// mobile, every fax → fax).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhoneType {
    /// Landline.
    Phone,
    /// Mobile.
    Mobile,
    /// Fax.
    Fax,
}

/// A stored phone number, normalised to its national form (`09121234567`,
/// `02188776655`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PhoneEntry {
    /// Type (S5).
    #[serde(rename = "type")]
    pub phone_type: PhoneType,
    /// National form, ASCII digits.
    pub number: String,
    /// Extension, digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// The party's default number (S4).
    #[serde(default)]
    pub default: bool,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Province (استان).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub province: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub city: Option<String>,
    /// Street address, required.
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub line: String,
    /// Ten-digit postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^([0-9]{10})?$")]
    pub postal_code: Option<String>,
    /// The party's default address (S4).
    #[serde(default)]
    pub default: bool,
}

/// A party as stored (S1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Party {
    /// Id, unique across tenants (never reused).
    pub id: i64,
    /// Person or organisation.
    pub kind: PartyKind,
    /// Person: first name.
    pub first_name: Option<String>,
    /// Person: last name.
    pub last_name: Option<String>,
    /// Organisation: name.
    pub name: Option<String>,
    /// `<number>-<company code>` (S6), canonical ASCII form.
    pub customer_number: String,
    /// The company code inside the customer number (S17).
    pub company_code: u16,
    /// Person: national ID (کد ملی); organisation: legal-entity ID (شناسه ملی).
    pub national_id: Option<String>,
    /// Organisation: registration number (شماره ثبت).
    pub registration_number: Option<String>,
    /// Economic code (کد اقتصادی).
    pub economic_code: Option<String>,
    /// Person: birth date (Jalali).
    #[schema(value_type = Option<String>, example = "1370/05/14")]
    pub birth_date: Option<JalaliDate>,
    /// E-mail.
    pub email: Option<String>,
    /// Phones.
    pub phones: Vec<PhoneEntry>,
    /// Addresses.
    pub addresses: Vec<Address>,
    /// Where the record was first created (S8).
    pub origin: String,
    /// Bumped on every change.
    pub version: i64,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// Data-quality warnings: rules of the CRM's own input that the
    /// ledger's record breaks (issue 14 §7). A field named here holds the
    /// ledger's value as it is, which need not match the pattern the API
    /// applies to its input. Absent when there are none; a record created
    /// or edited through the API never has any (S6).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<DataWarning>,
}

/// Which rule of the CRM's input a ledger's value breaks. Mirrors
/// [`hamgam_domain::Rule`] (one conversion, exhaustive, so the two cannot
/// drift) to give the API document its enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WarningRule {
    /// A value the CRM requires is empty.
    Required,
    /// The value does not have the expected shape.
    Format,
    /// Wrong number of characters or digits.
    Length,
    /// Outside the allowed range.
    Range,
    /// A check digit does not match (national ID, legal-entity ID,
    /// economic code).
    CheckDigit,
    /// One digit repeated throughout (a placeholder).
    RepeatedDigits,
    /// A telephone area code that does not exist.
    AreaCode,
    /// A value differs from the computed one.
    Mismatch,
}

impl WarningRule {
    /// Every rule's name, as the list filters take it.
    pub const NAMES: &'static [&'static str] = &[
        "required",
        "format",
        "length",
        "range",
        "check_digit",
        "repeated_digits",
        "area_code",
        "mismatch",
    ];

    /// The stored (and query) name.
    pub fn as_str(&self) -> &'static str {
        hamgam_domain::Rule::from(*self).as_str()
    }

    /// Parses a stored or query name.
    pub fn parse(s: &str) -> Option<WarningRule> {
        use WarningRule as W;
        [
            W::Required,
            W::Format,
            W::Length,
            W::Range,
            W::CheckDigit,
            W::RepeatedDigits,
            W::AreaCode,
            W::Mismatch,
        ]
        .into_iter()
        .find(|w| w.as_str() == s)
    }
}

impl From<hamgam_domain::Rule> for WarningRule {
    fn from(r: hamgam_domain::Rule) -> Self {
        use hamgam_domain::Rule as R;
        match r {
            R::Required => WarningRule::Required,
            R::Format => WarningRule::Format,
            R::Length => WarningRule::Length,
            R::Range => WarningRule::Range,
            R::CheckDigit => WarningRule::CheckDigit,
            R::RepeatedDigits => WarningRule::RepeatedDigits,
            R::AreaCode => WarningRule::AreaCode,
            R::Mismatch => WarningRule::Mismatch,
        }
    }
}

impl From<WarningRule> for hamgam_domain::Rule {
    fn from(r: WarningRule) -> Self {
        use hamgam_domain::Rule as R;
        match r {
            WarningRule::Required => R::Required,
            WarningRule::Format => R::Format,
            WarningRule::Length => R::Length,
            WarningRule::Range => R::Range,
            WarningRule::CheckDigit => R::CheckDigit,
            WarningRule::RepeatedDigits => R::RepeatedDigits,
            WarningRule::AreaCode => R::AreaCode,
            WarningRule::Mismatch => R::Mismatch,
        }
    }
}

/// A rule of the CRM's own input that a record from the ledger breaks,
/// kept on the record instead of refusing it: the ledger is the book of
/// record, and its years of hand-typed data arrive as they are (issue 14
/// §7). Only what would corrupt the CRM is refused (see
/// `PartyInput::validate_from_ledger`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DataWarning {
    /// The field as the API names it (`national_id`, `phones.0.number`).
    #[schema(example = "national_id")]
    pub field: String,
    /// The rule it breaks.
    pub rule: WarningRule,
    /// What is wrong, for a person to read.
    pub message: String,
}

impl From<hamgam_domain::ValidationError> for DataWarning {
    fn from(e: hamgam_domain::ValidationError) -> Self {
        DataWarning {
            field: e.field,
            rule: e.rule.into(),
            message: e.message,
        }
    }
}

impl std::fmt::Display for DataWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.field,
            self.rule.as_str(),
            self.message
        )
    }
}

/// A product (S13: one sales price; H2: tax and toll per product).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Product {
    /// Id.
    pub id: i64,
    /// Item code (the ledger's matching key).
    pub code: String,
    /// Name.
    pub name: String,
    /// Unit of measure.
    pub unit: String,
    /// The one sales price.
    #[schema(value_type = String, example = "1250000")]
    pub sales_price: Decimal,
    /// Currency of the price.
    #[schema(value_type = String, example = "IRR")]
    pub currency: Currency,
    /// Product VAT percent; none: the tenant's rate table decides.
    #[schema(value_type = Option<String>)]
    pub tax_percent: Option<Decimal>,
    /// Product toll percent; none: the tenant's rate table decides.
    #[schema(value_type = Option<String>)]
    pub toll_percent: Option<Decimal>,
    /// Exempt from tax and toll.
    pub tax_exempt: bool,
    /// Origin tag.
    pub origin: String,
    /// Bumped on every change.
    pub version: i64,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// Data-quality warnings (issue 14 §7), as on a party: a ledger's
    /// item without a name or unit arrives with them. Absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<DataWarning>,
}

/// The kinds of document with lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// پیش‌فاکتور (S10).
    Quote,
    /// Sales order.
    SalesOrder,
    /// فاکتور فروش (S14).
    SalesInvoice,
    /// برگشت از فروش (S14).
    SalesReturn,
    /// فاکتور خرید (S15).
    PurchaseInvoice,
    /// برگشت از خرید (S15).
    PurchaseReturn,
    /// Correction note against an invoice (C2, C3).
    CorrectionNote,
}

/// Which way an approved item moves the party's balance (F1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceEffect {
    /// The party owes us more.
    Debit,
    /// The party owes us less (or we owe them).
    Credit,
    /// Not a financial item (quotes, orders).
    None,
}

impl DocumentKind {
    /// Every kind, in route order.
    pub const ALL: [DocumentKind; 7] = [
        DocumentKind::Quote,
        DocumentKind::SalesOrder,
        DocumentKind::SalesInvoice,
        DocumentKind::SalesReturn,
        DocumentKind::PurchaseInvoice,
        DocumentKind::PurchaseReturn,
        DocumentKind::CorrectionNote,
    ];

    /// Stored name (also the numbering sequence name).
    pub fn as_str(&self) -> &'static str {
        match self {
            DocumentKind::Quote => "quote",
            DocumentKind::SalesOrder => "sales_order",
            DocumentKind::SalesInvoice => "sales_invoice",
            DocumentKind::SalesReturn => "sales_return",
            DocumentKind::PurchaseInvoice => "purchase_invoice",
            DocumentKind::PurchaseReturn => "purchase_return",
            DocumentKind::CorrectionNote => "correction_note",
        }
    }

    /// The REST collection name.
    pub fn path(&self) -> &'static str {
        match self {
            DocumentKind::Quote => "quotes",
            DocumentKind::SalesOrder => "sales-orders",
            DocumentKind::SalesInvoice => "sales-invoices",
            DocumentKind::SalesReturn => "sales-returns",
            DocumentKind::PurchaseInvoice => "purchase-invoices",
            DocumentKind::PurchaseReturn => "purchase-returns",
            DocumentKind::CorrectionNote => "correction-notes",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<DocumentKind> {
        DocumentKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Sales invoices and purchase returns put the party in debt; returns,
    /// purchase invoices and correction notes (a reduction of an invoice)
    /// the other way; quotes and orders are not financial items.
    pub fn balance_effect(&self) -> BalanceEffect {
        match self {
            DocumentKind::SalesInvoice | DocumentKind::PurchaseReturn => BalanceEffect::Debit,
            DocumentKind::SalesReturn
            | DocumentKind::PurchaseInvoice
            | DocumentKind::CorrectionNote => BalanceEffect::Credit,
            DocumentKind::Quote | DocumentKind::SalesOrder => BalanceEffect::None,
        }
    }
}

/// F1: an item waits for the finance manager, who approves (and thereby
/// numbers) or rejects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting in the inbox.
    Pending,
    /// Approved and numbered; counts in the balance.
    Approved,
    /// Rejected; never counts.
    Rejected,
}

impl Status {
    /// Every stored name.
    pub const NAMES: &'static [&'static str] = &["pending", "approved", "rejected"];

    /// Stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "approved" => Some(Status::Approved),
            "rejected" => Some(Status::Rejected),
            _ => None,
        }
    }
}

/// One stored document line: what was entered and what it computed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Line {
    /// The product, if the line names one.
    pub product_id: Option<i64>,
    /// Free text.
    pub description: Option<String>,
    /// Quantity.
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// Unit price.
    #[schema(value_type = String)]
    pub unit_price: Decimal,
    /// Line discount (amount).
    #[schema(value_type = String)]
    pub discount: Decimal,
    /// Line additions (amount).
    #[schema(value_type = String)]
    pub additions: Decimal,
    /// Exempt from tax and toll.
    pub tax_exempt: bool,
    /// VAT percent applied.
    #[schema(value_type = String)]
    pub tax_percent: Decimal,
    /// Toll percent applied.
    #[schema(value_type = String)]
    pub toll_percent: Decimal,
    /// `quantity × unit_price`, rounded.
    #[schema(value_type = String)]
    pub gross: Decimal,
    /// `gross − discount + additions`.
    #[schema(value_type = String)]
    pub net: Decimal,
    /// VAT.
    #[schema(value_type = String)]
    pub tax: Decimal,
    /// Toll.
    #[schema(value_type = String)]
    pub toll: Decimal,
    /// `net + tax + toll`.
    #[schema(value_type = String)]
    pub total: Decimal,
}

/// Header totals, as computed by `hamgam_domain::compute_totals`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Totals {
    /// Σ line gross.
    #[schema(value_type = String)]
    pub gross: Decimal,
    /// Σ line discounts + document discount.
    #[schema(value_type = String)]
    pub discount: Decimal,
    /// Σ line additions + document additions.
    #[schema(value_type = String)]
    pub additions: Decimal,
    /// `gross − discount + additions`.
    #[schema(value_type = String)]
    pub net: Decimal,
    /// Σ line VAT.
    #[schema(value_type = String)]
    pub tax_total: Decimal,
    /// Σ line toll.
    #[schema(value_type = String)]
    pub toll_total: Decimal,
    /// `net + tax_total + toll_total`.
    #[schema(value_type = String)]
    pub grand_total: Decimal,
}

impl From<&DocumentTotals> for Totals {
    fn from(t: &DocumentTotals) -> Self {
        Totals {
            gross: t.gross,
            discount: t.discount,
            additions: t.additions,
            net: t.net,
            tax_total: t.tax_total,
            toll_total: t.toll_total,
            grand_total: t.grand_total,
        }
    }
}

/// A document as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Document {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: DocumentKind,
    /// The customer or supplier.
    pub party_id: i64,
    /// Document date (Jalali).
    #[schema(value_type = String, example = "1403/12/30")]
    pub date: JalaliDate,
    /// Currency of every amount on the document (C5).
    #[schema(value_type = String, example = "IRR")]
    pub currency: Currency,
    /// F1 state.
    pub status: Status,
    /// Allocated on approval; never changes afterwards (S11).
    pub number: Option<String>,
    /// The invoice a return or correction note refers to.
    pub related_id: Option<i64>,
    /// Free text.
    pub description: Option<String>,
    /// Document-level discount (not taxed).
    #[schema(value_type = String)]
    pub discount: Decimal,
    /// Document-level additions (not taxed).
    #[schema(value_type = String)]
    pub additions: Decimal,
    /// The lines.
    pub lines: Vec<Line>,
    /// Totals.
    pub totals: Totals,
    /// Sum of approved receipts linked to this invoice.
    #[schema(value_type = String)]
    pub paid_amount: Decimal,
    /// `paid_amount ≥ grand_total`.
    pub paid: bool,
    /// Sync state towards the ledger (F2): `pending`, `synced`, `failed`.
    pub sync_status: String,
    /// Origin tag.
    pub origin: String,
    /// Bumped on every change.
    pub version: i64,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// The number the ledger's copy has now, beside the CRM's own
    /// `number` (S10, S11; ARCHITECTURE.md says when it can change).
    #[serde(default)]
    pub ledger_number: Option<String>,
}

/// Receipt (money in) or payment (money out) (S16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    /// دریافت.
    Receipt,
    /// پرداخت.
    Payment,
}

impl PaymentKind {
    /// Every kind.
    pub const ALL: [PaymentKind; 2] = [PaymentKind::Receipt, PaymentKind::Payment];

    /// Stored name (also the numbering sequence name).
    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentKind::Receipt => "receipt",
            PaymentKind::Payment => "payment",
        }
    }

    /// The invoice kind it may settle (H5): a receipt a sales invoice, a
    /// payment a purchase invoice.
    pub fn settles(self) -> DocumentKind {
        match self {
            PaymentKind::Receipt => DocumentKind::SalesInvoice,
            PaymentKind::Payment => DocumentKind::PurchaseInvoice,
        }
    }

    /// The REST collection name.
    pub fn path(&self) -> &'static str {
        match self {
            PaymentKind::Receipt => "receipts",
            PaymentKind::Payment => "payments",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<PaymentKind> {
        PaymentKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How money moved (H5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Cash.
    Cash,
    /// Cheque.
    Cheque,
    /// Card reader (POS).
    Card,
    /// Bank draft / transfer (حواله).
    BankDraft,
}

impl Settlement {
    /// The single-method shape of a payment whose settlements are `list`:
    /// the first one's method, cheque serial and due date, or reference.
    pub fn first_of(
        list: &[Settlement],
    ) -> (
        PaymentMethod,
        Option<String>,
        Option<JalaliDate>,
        Option<String>,
    ) {
        match list.first() {
            Some(s) if s.method == PaymentMethod::Cheque => {
                (s.method, s.reference.clone(), s.due_date, None)
            }
            Some(s) => (s.method, None, None, s.reference.clone()),
            None => (PaymentMethod::Cash, None, None, None),
        }
    }
}

impl PaymentMethod {
    /// Stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Cheque => "cheque",
            PaymentMethod::Card => "card",
            PaymentMethod::BankDraft => "bank_draft",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<PaymentMethod> {
        [
            PaymentMethod::Cash,
            PaymentMethod::Cheque,
            PaymentMethod::Card,
            PaymentMethod::BankDraft,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// One way part of a receipt or payment was settled (S16): the cash, each
/// cheque, each card payment, each bank draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settlement {
    /// Cash, cheque, card, bank draft.
    pub method: PaymentMethod,
    /// This settlement's share of the amount.
    #[schema(value_type = String, example = "1500000")]
    pub amount: Decimal,
    /// Cheque serial, draft number or card trace number.
    #[serde(default)]
    pub reference: Option<String>,
    /// A cheque's due date (Jalali).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "1404/05/01")]
    pub due_date: Option<JalaliDate>,
    /// A cheque's bank.
    #[serde(default)]
    pub bank: Option<String>,
}

/// A receipt or payment as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Payment {
    /// Id.
    pub id: i64,
    /// Receipt or payment.
    pub kind: PaymentKind,
    /// The party.
    pub party_id: i64,
    /// Date (Jalali).
    #[schema(value_type = String, example = "1403/12/30")]
    pub date: JalaliDate,
    /// Currency (C5).
    #[schema(value_type = String, example = "IRR")]
    pub currency: Currency,
    /// Amount.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// The first settlement's method (the single-method shape, kept for
    /// clients that read one method).
    pub method: PaymentMethod,
    /// The invoice this settles (H5).
    pub invoice_id: Option<i64>,
    /// The first settlement's cheque serial, when it is a cheque.
    pub cheque_number: Option<String>,
    /// The first settlement's cheque due date (Jalali).
    #[schema(value_type = Option<String>)]
    pub cheque_due: Option<JalaliDate>,
    /// The first settlement's trace / reference number (card, bank).
    pub reference: Option<String>,
    /// Every settlement, in the ledger's order; their amounts add up to
    /// `amount` (S16).
    pub settlements: Vec<Settlement>,
    /// Free text.
    pub description: Option<String>,
    /// F1 state.
    pub status: Status,
    /// Allocated on approval.
    pub number: Option<String>,
    /// Sync state (F2).
    pub sync_status: String,
    /// Origin tag.
    pub origin: String,
    /// Bumped on every change.
    pub version: i64,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// One line of a party statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatementEntry {
    /// Date (Jalali).
    #[schema(value_type = String)]
    pub date: JalaliDate,
    /// `sales_invoice`, `receipt`, …
    pub kind: String,
    /// Document or payment id.
    pub id: i64,
    /// Its number.
    pub number: Option<String>,
    /// Amount the party owes more.
    #[schema(value_type = String)]
    pub debit: Decimal,
    /// Amount the party owes less.
    #[schema(value_type = String)]
    pub credit: Decimal,
    /// Balance after this entry (positive: the party owes us).
    #[schema(value_type = String)]
    pub balance: Decimal,
}

/// A party's statement: approved financial items only (F1), in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Statement {
    /// The party.
    pub party_id: i64,
    /// Currency of every amount; IRR statements include Toman items ×10.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// Entries by date, then kind order, then id.
    pub entries: Vec<StatementEntry>,
    /// Σ debit.
    #[schema(value_type = String)]
    pub total_debit: Decimal,
    /// Σ credit.
    #[schema(value_type = String)]
    pub total_credit: Decimal,
    /// Closing balance.
    #[schema(value_type = String)]
    pub balance: Decimal,
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// The items, by id.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
