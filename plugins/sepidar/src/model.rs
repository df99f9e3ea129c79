//! Sepidar web-service payloads (integrations.md §1.7, GV 110), with the
//! PascalCase names and the real typos (`StockeRef`, `Qunatity`). Unknown
//! fields are ignored so a newer Sepidar build does not break the reads.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::json;

/// The `…/Paginated` envelope.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    #[serde(deserialize_with = "json::null_default")]
    pub result: Vec<T>,
    /// How many records the whole list (or date range) holds.
    #[serde(default)]
    pub total: Option<u64>,
}

/// Sepidar's error body, `{Type: 0 business | 1 application, Message}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ErrorBody {
    #[serde(rename = "Type")]
    pub kind: Option<i64>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerationVersion {
    pub generation_version: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterResponse {
    pub cypher: String,
    #[serde(rename = "IV")]
    pub iv: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoginRequest {
    pub user_name: String,
    pub password_hash: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoginResponse {
    pub token: String,
}

/// `GET /api/AdministrativeDivisions`: 1 country, 2 province, 3 city.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Division {
    #[serde(rename = "DivisionID")]
    pub division_id: i64,
    pub title: String,
    #[serde(rename = "Type")]
    pub kind: i64,
    #[serde(default)]
    pub parent_ref: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Customer {
    #[serde(rename = "CustomerID")]
    pub customer_id: i64,
    #[serde(rename = "GUID", skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
    #[serde(deserialize_with = "json::text::deserialize")]
    pub code: Option<String>,
    pub title: Option<String>,
    pub phone_number: Option<String>,
    pub customer_type: i64,
    pub name: Option<String>,
    pub last_name: Option<String>,
    pub birth_date: Option<String>,
    #[serde(rename = "NationalID")]
    pub national_id: Option<String>,
    pub economic_code: Option<String>,
    pub version: Option<i64>,
    #[serde(with = "json::opt_dec")]
    pub accounting_remainder: Option<Decimal>,
    #[serde(deserialize_with = "json::null_default")]
    pub addresses: Vec<CustomerAddress>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct CustomerAddress {
    #[serde(rename = "CustomerAddressID", skip_serializing_if = "Option::is_none")]
    pub customer_address_id: Option<i64>,
    pub title: Option<String>,
    #[serde(deserialize_with = "json::null_default")]
    pub is_main: bool,
    pub city_ref: Option<i64>,
    pub address: Option<String>,
    pub zip_code: Option<String>,
}

/// `POST /api/Customers` and `PUT /api/Customers/{id}` (GV 110). PUT
/// ignores `CustomerType` and `GUID`, so one shape serves both.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct CustomerWrite {
    #[serde(rename = "GUID", skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_type: Option<i64>,
    pub name: Option<String>,
    pub last_name: Option<String>,
    pub birth_date: Option<String>,
    #[serde(rename = "NationalID")]
    pub national_id: Option<String>,
    pub economic_code: Option<String>,
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    pub addresses: Vec<CustomerAddress>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Item {
    #[serde(rename = "ItemID")]
    pub item_id: i64,
    #[serde(deserialize_with = "json::text::deserialize")]
    pub code: Option<String>,
    pub title: Option<String>,
    pub is_active: Option<bool>,
    pub unit_ref: Option<i64>,
    #[serde(deserialize_with = "json::null_default")]
    pub is_tax_exempt: bool,
    #[serde(with = "json::opt_dec")]
    pub tax_rate: Option<Decimal>,
    #[serde(with = "json::opt_dec")]
    pub duty_rate: Option<Decimal>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Unit {
    #[serde(rename = "UnitID")]
    pub unit_id: i64,
    pub title: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Stock {
    #[serde(rename = "StockID")]
    pub stock_id: i64,
    pub title: String,
    #[serde(default)]
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Currency {
    #[serde(rename = "CurrencyID")]
    pub currency_id: i64,
    #[serde(default)]
    pub is_main: bool,
}

/// A price-list line; the connector keeps those of its sale type (S13).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PriceNoteItem {
    pub sale_type_ref: i64,
    pub item_ref: i64,
    #[serde(default)]
    pub tracing_ref: Option<i64>,
    #[serde(default)]
    pub customer_grouping_ref: Option<i64>,
    #[serde(with = "json::dec")]
    pub fee: Decimal,
}

/// `GET /api/Items/Inventories/{id}` (typos are Sepidar's).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Inventory {
    #[serde(rename = "StockeRef")]
    pub stock_ref: i64,
    #[serde(rename = "Qunatity", with = "json::dec")]
    pub quantity: Decimal,
}

/// A line of a quotation, invoice or returned invoice.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Line {
    #[serde(rename = "RowID", skip_serializing_if = "Option::is_none")]
    pub row_id: Option<i64>,
    pub item_ref: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock_ref: Option<i64>,
    #[serde(with = "json::dec")]
    pub quantity: Decimal,
    #[serde(with = "json::dec")]
    pub fee: Decimal,
    #[serde(with = "json::dec")]
    pub price: Decimal,
    #[serde(with = "json::dec")]
    pub discount: Decimal,
    #[serde(with = "json::dec")]
    pub tax: Decimal,
    #[serde(with = "json::dec")]
    pub duty: Decimal,
    #[serde(with = "json::dec")]
    pub addition: Decimal,
    #[serde(with = "json::dec")]
    pub net_price: Decimal,
    pub description: Option<String>,
}

/// Quotation, invoice and returned invoice headers share these fields; the
/// id field's name differs (`QuotationID`, `InvoiceID`, `ReturnedInvoiceID`)
/// and the lines are `Items` or `InvoiceItems`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct SaleDocument {
    #[serde(
        rename = "QuotationID",
        alias = "InvoiceID",
        alias = "ReturnedInvoiceID",
        alias = "ID",
        skip_serializing
    )]
    pub id: i64,
    #[serde(rename = "GUID", skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
    #[serde(deserialize_with = "json::text::deserialize", skip_serializing)]
    pub number: Option<String>,
    pub date: Option<String>,
    pub customer_ref: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sale_type_ref: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_ref: Option<i64>,
    #[serde(with = "json::opt_dec", skip_serializing_if = "Option::is_none")]
    pub rate: Option<Decimal>,
    #[serde(with = "json::dec")]
    pub price: Decimal,
    #[serde(with = "json::dec")]
    pub discount: Decimal,
    #[serde(with = "json::dec")]
    pub tax: Decimal,
    #[serde(with = "json::dec")]
    pub duty: Decimal,
    #[serde(with = "json::dec")]
    pub addition: Decimal,
    #[serde(with = "json::dec")]
    pub net_price: Decimal,
    #[serde(skip_serializing)]
    pub closed: Option<bool>,
    #[serde(skip_serializing)]
    pub invoice_ref: Option<i64>,
    #[serde(skip_serializing)]
    pub quotation_ref: Option<i64>,
    pub description: Option<String>,
    #[serde(alias = "InvoiceItems", deserialize_with = "json::null_default")]
    pub items: Vec<Line>,
}
