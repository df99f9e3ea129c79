//! Records of one Sepidar company database, serialized exactly as the web
//! service returns them (PascalCase, GV 110 shapes of the contract).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use uuid::Uuid;

use crate::num;

/// Error body of every non-2xx answer: `{"Type": 0|1, "Message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{status} {message}")]
pub struct SimError {
    /// HTTP status (400, 401, 404, 412, 500…).
    #[serde(skip)]
    pub status: u16,
    /// 0 = business error, 1 = application error.
    #[serde(rename = "Type")]
    pub kind: u8,
    /// Persian message with an English hint in parentheses.
    #[serde(rename = "Message")]
    pub message: String,
}

impl SimError {
    /// A business error (Type 0).
    pub fn business(status: u16, message: impl Into<String>) -> Self {
        SimError {
            status,
            kind: 0,
            message: message.into(),
        }
    }
    /// An application error (Type 1).
    pub fn application(status: u16, message: impl Into<String>) -> Self {
        SimError {
            status,
            kind: 1,
            message: message.into(),
        }
    }
    /// 400 business error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::business(400, message)
    }
    /// 404 "entity not found".
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Self::business(404, format!("{what} یافت نشد ({what} {id} not found)"))
    }
}

/// `CustomerType`: 1 real person, 2 company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerType {
    /// حقیقی
    Person,
    /// حقوقی
    Company,
}

impl CustomerType {
    /// The wire value (1 or 2).
    pub fn code(self) -> i32 {
        match self {
            CustomerType::Person => 1,
            CustomerType::Company => 2,
        }
    }
    /// From the wire value.
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(CustomerType::Person),
            2 => Some(CustomerType::Company),
            _ => None,
        }
    }
}

impl Serialize for CustomerType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.code())
    }
}

/// Item `Type`: 1 product, 2 service, 3 asset product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemType {
    /// کالا
    Product,
    /// خدمت
    Service,
    /// کالای دارایی
    AssetProduct,
}

impl Serialize for ItemType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(match self {
            ItemType::Product => 1,
            ItemType::Service => 2,
            ItemType::AssetProduct => 3,
        })
    }
}

/// A customer address (`Addresses[]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    /// Sepidar id of the address.
    #[serde(rename = "CustomerAddressID")]
    pub customer_address_id: i32,
    /// e.g. "دفتر مرکزی".
    pub title: Option<String>,
    /// The main address of the customer.
    pub is_main: bool,
    /// A city (Type 3) of `AdministrativeDivisions`.
    pub city_ref: i32,
    /// Street address text.
    pub address: Option<String>,
    /// Postal code.
    pub zip_code: Option<String>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// GUID of the address.
    #[serde(rename = "GUID")]
    pub guid: Uuid,
    /// Distribution path.
    pub path_ref: Option<i32>,
}

/// A customer (`GNR.Party` with IsCustomer), GV 109/110 shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Customer {
    /// Sepidar id.
    #[serde(rename = "CustomerID")]
    pub customer_id: i32,
    /// GUID given on create (or generated for customers made in Sepidar).
    #[serde(rename = "GUID")]
    pub guid: Uuid,
    /// Display title: "Name LastName" for a person, Name for a company.
    pub title: String,
    /// Customer code, assigned by Sepidar (next free integer, as text).
    pub code: String,
    /// Phone number.
    pub phone_number: Option<String>,
    /// Person or company.
    pub customer_type: CustomerType,
    /// First name (person) or company name.
    pub name: String,
    /// Last name (person).
    pub last_name: Option<String>,
    /// Birth date (person) / registration date.
    #[serde(with = "num::date_opt")]
    pub birth_date: Option<NaiveDate>,
    /// National id (کد ملی / شناسه ملی).
    #[serde(rename = "NationalID")]
    pub national_id: Option<String>,
    /// Economic code.
    pub economic_code: Option<String>,
    /// Row version; bumped by every edit. PUT must carry the current one.
    pub version: i32,
    /// Customer grouping.
    pub grouping_ref: Option<i32>,
    /// Customer discount rate.
    #[serde(with = "num::dec")]
    pub discount_rate: Decimal,
    /// Accounting balance (positive = the customer owes the company).
    #[serde(with = "num::dec")]
    pub accounting_remainder: Decimal,
    /// Balance without unpaid cheques.
    #[serde(with = "num::dec")]
    pub remainder_without_cheque: Decimal,
    /// Remaining quantity credit.
    #[serde(with = "num::dec")]
    pub quantity_credit_remainder: Decimal,
    /// Remaining credit.
    #[serde(with = "num::dec")]
    pub credit_remainder: Decimal,
    /// Addresses.
    pub addresses: Vec<Address>,
}

impl Customer {
    /// Recomputes `Title` from the names.
    pub(crate) fn refresh_title(&mut self) {
        self.title = match (self.customer_type, &self.last_name) {
            (CustomerType::Person, Some(l)) if !l.trim().is_empty() => {
                format!("{} {}", self.name.trim(), l.trim())
            }
            _ => self.name.trim().to_string(),
        };
    }
}

/// An item (`INV.Item`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Item {
    /// Sepidar id.
    #[serde(rename = "ItemID")]
    pub item_id: i32,
    /// Item code.
    pub code: String,
    /// Barcode.
    pub barcode: Option<String>,
    /// Title.
    pub title: String,
    /// Active.
    pub is_active: bool,
    /// Can be sold.
    pub is_sellable: bool,
    /// Product / service / asset.
    #[serde(rename = "Type")]
    pub item_type: ItemType,
    /// Main unit.
    pub unit_ref: i32,
    /// Secondary unit.
    pub secondary_unit_ref: Option<i32>,
    /// Units ratio.
    #[serde(with = "num::dec_opt")]
    pub units_ratio: Option<Decimal>,
    /// Whether the ratio is fixed.
    pub is_unit_ratio_constant: bool,
    /// Weight.
    #[serde(with = "num::dec_opt")]
    pub weight: Option<Decimal>,
    /// Volume.
    #[serde(with = "num::dec_opt")]
    pub volume: Option<Decimal>,
    /// Consumer price.
    #[serde(with = "num::dec_opt")]
    pub consumer_fee: Option<Decimal>,
    /// Exempt from VAT.
    pub is_tax_exempt: bool,
    /// VAT (tax part) percent.
    #[serde(with = "num::dec")]
    pub tax_rate: Decimal,
    /// Duty (toll part) percent.
    #[serde(with = "num::dec")]
    pub duty_rate: Decimal,
    /// Sellable by brokers.
    pub broker_sellable: bool,
    /// Sale group.
    pub sale_group_ref: Option<i32>,
    /// Coding group.
    pub coding_group_ref: Option<i32>,
    /// Purchase group.
    pub purchase_group_ref: Option<i32>,
}

/// Money totals of a document header (`Price, Discount, Tax, Duty, Addition, NetPrice`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Totals {
    /// Σ line prices.
    #[serde(with = "num::dec")]
    pub price: Decimal,
    /// Σ line discounts + header discount.
    #[serde(with = "num::dec")]
    pub discount: Decimal,
    /// Σ line taxes.
    #[serde(with = "num::dec")]
    pub tax: Decimal,
    /// Σ line duties.
    #[serde(with = "num::dec")]
    pub duty: Decimal,
    /// Σ line additions + header addition.
    #[serde(with = "num::dec")]
    pub addition: Decimal,
    /// Price − Discount + Addition + Tax + Duty.
    #[serde(with = "num::dec")]
    pub net_price: Decimal,
}

/// The common part of a quotation / invoice / returned-invoice line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Line {
    /// Row number within the document (1-based).
    #[serde(rename = "RowID")]
    pub row_id: i32,
    /// Item.
    pub item_ref: i32,
    /// Tracing factor.
    pub tracing_ref: Option<i32>,
    /// Stock.
    pub stock_ref: Option<i32>,
    /// Quantity.
    #[serde(with = "num::dec")]
    pub quantity: Decimal,
    /// Secondary quantity.
    #[serde(with = "num::dec_opt")]
    pub secondary_quantity: Option<Decimal>,
    /// Unit price.
    #[serde(with = "num::dec")]
    pub fee: Decimal,
    /// Quantity × Fee.
    #[serde(with = "num::dec")]
    pub price: Decimal,
    /// Line discount.
    #[serde(with = "num::dec")]
    pub discount: Decimal,
    /// Line tax.
    #[serde(with = "num::dec")]
    pub tax: Decimal,
    /// Line duty.
    #[serde(with = "num::dec")]
    pub duty: Decimal,
    /// Line addition.
    #[serde(with = "num::dec")]
    pub addition: Decimal,
    /// Price − Discount + Addition + Tax + Duty.
    #[serde(with = "num::dec")]
    pub net_price: Decimal,
    /// Line description.
    pub description: Option<String>,
}

/// A quotation line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotationItem {
    /// Sepidar id of the line.
    #[serde(rename = "QuotationItemID")]
    pub quotation_item_id: i32,
    /// The line's values.
    #[serde(flatten)]
    pub line: Line,
}

/// A quotation (پیش‌فاکتور, `SLS.Quotation`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Quotation {
    /// Sepidar id.
    #[serde(rename = "QuotationID")]
    pub quotation_id: i32,
    /// GUID given on create.
    #[serde(rename = "GUID")]
    pub guid: Uuid,
    /// Number per (fiscal year, sale type), from 1.
    pub number: i32,
    /// Date.
    #[serde(with = "num::date")]
    pub date: NaiveDate,
    /// Expiration date.
    #[serde(with = "num::date_opt")]
    pub expiration_date: Option<NaiveDate>,
    /// Fiscal year (id of `FMK.FiscalYear`) containing `date`.
    pub fiscal_year_ref: i32,
    /// Customer.
    pub customer_ref: i32,
    /// Customer address.
    pub address_ref: Option<i32>,
    /// Sale type.
    pub sale_type_ref: i32,
    /// Currency.
    pub currency_ref: i32,
    /// Exchange rate.
    #[serde(with = "num::dec")]
    pub rate: Decimal,
    /// Customer discount.
    #[serde(with = "num::dec")]
    pub discount_on_customer: Decimal,
    /// Money totals.
    #[serde(flatten)]
    pub totals: Totals,
    /// Closed (converted or closed by hand); a closed quotation cannot be deleted.
    pub closed: bool,
    /// Description.
    pub description: Option<String>,
    /// Lines (omitted by `Quotations/Paginated`).
    pub items: Vec<QuotationItem>,
}

/// An invoice line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvoiceItem {
    /// Sepidar id of the line.
    #[serde(rename = "InvoiceItemID")]
    pub invoice_item_id: i32,
    /// The line's values.
    #[serde(flatten)]
    pub line: Line,
}

/// A sales invoice (`SLS.Invoice`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Invoice {
    /// Sepidar id.
    #[serde(rename = "InvoiceID")]
    pub invoice_id: i32,
    /// GUID given on create.
    #[serde(rename = "GUID")]
    pub guid: Uuid,
    /// Order it was made from.
    pub order_ref: Option<i32>,
    /// Quotation it was made from.
    pub quotation_ref: Option<i32>,
    /// Number per (fiscal year, sale type), from 1.
    pub number: i32,
    /// Date.
    #[serde(with = "num::date")]
    pub date: NaiveDate,
    /// Fiscal year containing `date`.
    pub fiscal_year_ref: i32,
    /// Customer.
    pub customer_ref: i32,
    /// Currency.
    pub currency_ref: i32,
    /// Exchange rate.
    #[serde(with = "num::dec")]
    pub rate: Decimal,
    /// Sale type.
    pub sale_type_ref: i32,
    /// Customer address.
    pub address_ref: Option<i32>,
    /// 1 cash, 2 credit, 3 cash and credit.
    pub settlement_type: i32,
    /// Customer discount.
    #[serde(with = "num::dec")]
    pub discount_on_customer: Decimal,
    /// Money totals.
    #[serde(flatten)]
    pub totals: Totals,
    /// Agreement.
    pub agreement_ref: Option<i32>,
    /// Remaining amount to receive.
    #[serde(with = "num::dec")]
    pub remaining_amount: Decimal,
    /// Amount received so far.
    #[serde(with = "num::dec")]
    pub total_received_amount: Decimal,
    /// State (1 = registered).
    pub state: i32,
    /// Description.
    pub description: Option<String>,
    /// Lines.
    pub invoice_items: Vec<InvoiceItem>,
}

/// A returned-invoice line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReturnedInvoiceItem {
    /// Sepidar id of the line.
    #[serde(rename = "ReturnedInvoiceItemID")]
    pub returned_invoice_item_id: i32,
    /// The invoice line returned.
    #[serde(rename = "InvoiceItemRef")]
    pub invoice_item_ref: Option<i32>,
    /// The line's values.
    #[serde(flatten)]
    pub line: Line,
}

/// A returned invoice (برگشت از فروش, `SLS.ReturnedInvoice`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReturnedInvoice {
    /// Sepidar id.
    #[serde(rename = "ReturnedInvoiceID")]
    pub returned_invoice_id: i32,
    /// GUID.
    #[serde(rename = "GUID")]
    pub guid: Uuid,
    /// The invoice returned.
    pub invoice_ref: Option<i32>,
    /// Number per (fiscal year, sale type).
    pub number: i32,
    /// Date.
    #[serde(with = "num::date")]
    pub date: NaiveDate,
    /// Fiscal year containing `date`.
    pub fiscal_year_ref: i32,
    /// Customer.
    pub customer_ref: i32,
    /// Currency.
    pub currency_ref: i32,
    /// Exchange rate.
    #[serde(with = "num::dec")]
    pub rate: Decimal,
    /// Sale type.
    pub sale_type_ref: i32,
    /// Customer address.
    pub address_ref: Option<i32>,
    /// Money totals.
    #[serde(flatten)]
    pub totals: Totals,
    /// Description.
    pub description: Option<String>,
    /// Lines.
    pub items: Vec<ReturnedInvoiceItem>,
}

/// A bank draft of a receipt (`RPA.ReceiptDraft`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiptDraft {
    /// Sepidar id of the draft.
    #[serde(rename = "ReceiptDraftID")]
    pub receipt_draft_id: i32,
    /// Draft date.
    #[serde(with = "num::date")]
    pub date: NaiveDate,
    /// Description.
    pub description: Option<String>,
    /// Draft (tracking) number.
    pub number: Option<String>,
    /// Bank account.
    #[serde(rename = "BankAccountID")]
    pub bank_account_id: i32,
    /// Amount.
    #[serde(with = "num::dec")]
    pub amount: Decimal,
}

/// A receipt (`RPA.ReceiptHeader`); only created through the API, read here.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Receipt {
    /// Sepidar id.
    #[serde(rename = "ReceiptID")]
    pub receipt_id: i32,
    /// GUID given on create.
    pub guid: Uuid,
    /// Number per fiscal year.
    pub number: i32,
    /// Date.
    #[serde(with = "num::date")]
    pub date: NaiveDate,
    /// Fiscal year containing `date`.
    pub fiscal_year_ref: i32,
    /// Customer.
    pub customer_ref: i32,
    /// Currency.
    pub currency_ref: i32,
    /// Rate.
    #[serde(with = "num::dec")]
    pub rate: Decimal,
    /// Σ drafts.
    #[serde(with = "num::dec")]
    pub amount: Decimal,
    /// Discount granted.
    #[serde(with = "num::dec")]
    pub discount: Decimal,
    /// Amount + Discount (what settles the customer's balance).
    #[serde(with = "num::dec")]
    pub total_amount: Decimal,
    /// Description.
    pub description: Option<String>,
    /// Bank drafts.
    pub drafts: Vec<ReceiptDraft>,
}

/// A currency.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Currency {
    /// Id.
    #[serde(rename = "CurrencyID")]
    pub currency_id: i32,
    /// Title.
    pub title: String,
    /// The company's main currency.
    pub is_main: bool,
    /// Decimal places.
    pub precision_count: i32,
}

/// A unit of measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Unit {
    /// Id.
    #[serde(rename = "UnitID")]
    pub unit_id: i32,
    /// Title.
    pub title: String,
}

/// A stock (warehouse).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Stock {
    /// Id.
    #[serde(rename = "StockID")]
    pub stock_id: i32,
    /// Code.
    pub code: String,
    /// Title.
    pub title: String,
    /// Active.
    pub is_active: bool,
}

/// A sale type (برنامه فروش).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SaleType {
    /// Id.
    #[serde(rename = "SaleTypeID")]
    pub sale_type_id: i32,
    /// Title.
    pub title: String,
    /// 1 domestic, 2 export.
    pub market: i32,
    /// Available (GV 108+).
    pub is_available: bool,
}

/// An administrative division: 1 country, 2 province, 3 city.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Division {
    /// Id.
    #[serde(rename = "DivisionID")]
    pub division_id: i32,
    /// Title.
    pub title: String,
    /// 1 country, 2 province, 3 city.
    #[serde(rename = "Type")]
    pub division_type: i32,
    /// Parent division.
    pub parent_ref: Option<i32>,
}

/// A bank account receipts can be drafted to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BankAccount {
    /// Id.
    #[serde(rename = "BankAccountID")]
    pub bank_account_id: i32,
    /// Detail-ledger code.
    pub dl_code: String,
    /// Detail-ledger title.
    pub dl_title: String,
    /// Currency of the account.
    pub currency_ref: i32,
}

/// A price-list line (fee of an item for a sale type).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PriceNoteItem {
    /// Id.
    #[serde(rename = "PriceNoteItemID")]
    pub price_note_item_id: i32,
    /// Sale type.
    pub sale_type_ref: i32,
    /// Item.
    pub item_ref: i32,
    /// Tracing.
    pub tracing_ref: Option<i32>,
    /// Currency.
    pub currency_ref: i32,
    /// Unit.
    pub unit_ref: i32,
    /// Fee.
    #[serde(with = "num::dec")]
    pub fee: Decimal,
    /// Customer grouping.
    pub customer_grouping_ref: Option<i32>,
    /// Invoice fee editable.
    pub can_change_invoice_fee: bool,
    /// Invoice discount editable.
    pub can_change_invoice_discount: bool,
    /// Upper margin.
    #[serde(with = "num::dec")]
    pub upper_margin: Decimal,
    /// Lower margin.
    #[serde(with = "num::dec")]
    pub lower_margin: Decimal,
    /// Addition rate.
    #[serde(with = "num::dec")]
    pub addition_rate: Decimal,
}

/// One inventory row (`Items/Inventories/{itemId}`); the typos are Sepidar's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inventory {
    /// Item.
    #[serde(rename = "ItemRef")]
    pub item_ref: i32,
    /// Tracing.
    #[serde(rename = "TracingRef")]
    pub tracing_ref: Option<i32>,
    /// Stock.
    #[serde(rename = "StockeRef")]
    pub stock_ref: i32,
    /// Unit.
    #[serde(rename = "UnitRef")]
    pub unit_ref: i32,
    /// Quantity.
    #[serde(rename = "Qunatity", with = "num::dec")]
    pub quantity: Decimal,
}

/// A fiscal year (`FMK.FiscalYear`): explicit Gregorian bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FiscalYear {
    /// Id (`FiscalYearRef` of documents): 1, 2, 3… in creation order.
    #[serde(rename = "FiscalYearID")]
    pub fiscal_year_id: i32,
    /// Title: the Jalali year, e.g. "1404".
    pub title: String,
    /// First day (Nowruz).
    #[serde(with = "num::date")]
    pub start_date: NaiveDate,
    /// Last day (29/30 Esfand).
    #[serde(with = "num::date")]
    pub end_date: NaiveDate,
}

impl FiscalYear {
    /// The Jalali year number.
    pub fn jalali_year(&self) -> i32 {
        self.title.parse().unwrap_or(0)
    }
    /// Whether `d` falls in this year.
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.start_date <= d && d <= self.end_date
    }
}
