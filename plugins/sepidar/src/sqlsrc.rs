//! Documents Sepidar's web service does not expose, read from its database
//! (S15, S16) through the host's `sql` import, plus employee parties (S3).
//!
//! Tables and columns are Sepidar's own (`baapar1101/Sepidar`,
//! `SqlScripts/Table/*.sql`, Sepidar 5.8.7). Statements run unchanged on
//! SQL Server and PostgreSQL: quoted identifiers, `OFFSET … FETCH NEXT`,
//! integers formatted into the text (they are ours, never user input), and
//! `bit` flags compared with `'1'`/`'0'` (SQL Server converts the text to
//! bit, PostgreSQL reads it as a boolean literal).
//!
//! A document's party is the `GNR.Party` whose detail ledger (`DLRef`) the
//! document names; documents without a party (bank transfers, production
//! receipts…) are not the CRM's business and are left out by the join.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hamgam_sdk::sql::{Rows, Value};
use hamgam_sdk::{
    Address, Date, Document, DocumentKind, DocumentLine, Error, Party, PartyKind, Phone, PhoneKind,
    Settlement, SettlementMethod,
};
use rust_decimal::Decimal;

use crate::cursor::Step;
use crate::mapping::{Divisions, rate_of, wit};

type Result<T> = core::result::Result<T, Error>;

/// One table-backed stream of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `INV.InventoryReceipt`, `IsReturn = 0`, with a vendor → purchase invoice.
    WarehouseReceipt,
    /// `INV.InventoryReceipt`, `IsReturn = 1` (برگشت رسید) → purchase return.
    WarehouseReturn,
    /// `INV.InventoryPurchaseInvoice`, `Type = 2` (service) → purchase invoice.
    ServicePurchaseInvoice,
    /// `RPA.ReceiptHeader` → receipt.
    Receipt,
    /// `RPA.PaymentHeader` → payment.
    Payment,
    /// `GNR.Party` employees that are not customers → party.
    Employee,
}

/// Remote-id prefixes where one kind reads two tables (purchase invoices):
/// `inventory-receipt:12`, `service-invoice:7`. Other kinds use the plain id.
pub const RECEIPT_PREFIX: &str = "inventory-receipt:";
pub const SERVICE_PREFIX: &str = "service-invoice:";

impl Source {
    /// The remote id of a record with table id `id`.
    pub fn remote_id(self, id: i64) -> String {
        match self {
            Source::WarehouseReceipt => format!("{RECEIPT_PREFIX}{id}"),
            Source::ServicePurchaseInvoice => format!("{SERVICE_PREFIX}{id}"),
            _ => id.to_string(),
        }
    }

    /// `SELECT … FROM … <JOIN> WHERE <filter>`: the header query without
    /// ordering; the id column for ordering and lookups.
    fn header(self) -> (&'static str, &'static str) {
        match self {
            Source::WarehouseReceipt => (
                r#"SELECT r."InventoryReceiptID" AS "Id", r."Number" AS "Number", r."Date" AS "Date", p."PartyId" AS "PartyId", r."Description" AS "Description", r."Version" AS "Version", r."TotalPrice" AS "TotalPrice", r."TotalTax" AS "TotalTax", r."TotalDuty" AS "TotalDuty", r."TotalNetPrice" AS "TotalNetPrice" FROM "INV"."InventoryReceipt" r INNER JOIN "GNR"."Party" p ON p."DLRef" = r."DelivererDLRef""#,
                r#"r."InventoryReceiptID""#,
            ),
            // A return carries its own value in the `TotalReturned…` columns
            // when Sepidar filled them, and names the receipt it returns
            // through its lines' `ReturnBase`.
            Source::WarehouseReturn => (
                r#"SELECT r."InventoryReceiptID" AS "Id", r."Number" AS "Number", r."Date" AS "Date", p."PartyId" AS "PartyId", r."Description" AS "Description", r."Version" AS "Version", COALESCE(r."TotalReturnedPrice", r."TotalPrice") AS "TotalPrice", r."TotalTax" AS "TotalTax", r."TotalDuty" AS "TotalDuty", COALESCE(r."TotalReturnedNetPrice", r."TotalNetPrice") AS "TotalNetPrice", (SELECT MIN(b."InventoryReceiptRef") FROM "INV"."InventoryReceiptItem" ri INNER JOIN "INV"."InventoryReceiptItem" b ON b."InventoryReceiptItemID" = ri."ReturnBase" WHERE ri."InventoryReceiptRef" = r."InventoryReceiptID") AS "BaseId" FROM "INV"."InventoryReceipt" r INNER JOIN "GNR"."Party" p ON p."DLRef" = r."DelivererDLRef""#,
                r#"r."InventoryReceiptID""#,
            ),
            Source::ServicePurchaseInvoice => (
                r#"SELECT v."InventoryPurchaseInvoiceID" AS "Id", v."Number" AS "Number", v."Date" AS "Date", p."PartyId" AS "PartyId", v."Description" AS "Description", v."Version" AS "Version", v."TotalPrice" AS "TotalPrice", v."TotalTax" AS "TotalTax", v."TotalDuty" AS "TotalDuty", v."TotalNetPrice" AS "TotalNetPrice" FROM "INV"."InventoryPurchaseInvoice" v INNER JOIN "GNR"."Party" p ON p."DLRef" = v."VendorDLRef""#,
                r#"v."InventoryPurchaseInvoiceID""#,
            ),
            Source::Receipt => (
                r#"SELECT h."ReceiptHeaderId" AS "Id", h."Number" AS "Number", h."Date" AS "Date", p."PartyId" AS "PartyId", h."Description" AS "Description", h."Version" AS "Version", h."TotalAmount" AS "TotalAmount", h."Discount" AS "Discount", h."Amount" AS "CashAmount" FROM "RPA"."ReceiptHeader" h INNER JOIN "GNR"."Party" p ON p."DLRef" = h."DlRef""#,
                r#"h."ReceiptHeaderId""#,
            ),
            Source::Payment => (
                r#"SELECT h."PaymentHeaderId" AS "Id", h."Number" AS "Number", h."Date" AS "Date", p."PartyId" AS "PartyId", h."Description" AS "Description", h."Version" AS "Version", h."TotalAmount" AS "TotalAmount", h."Discount" AS "Discount", h."Amount" AS "CashAmount" FROM "RPA"."PaymentHeader" h INNER JOIN "GNR"."Party" p ON p."DLRef" = h."DlRef""#,
                r#"h."PaymentHeaderId""#,
            ),
            Source::Employee => (
                r#"SELECT p."PartyId" AS "Id", p."Type" AS "Type", p."Name" AS "Name", p."LastName" AS "LastName", p."IdentificationCode" AS "NationalId", p."EconomicCode" AS "EconomicCode", p."RegistrationCode" AS "RegistrationCode", p."BirthDate" AS "BirthDate", p."Version" AS "Version", l."Code" AS "Code" FROM "GNR"."Party" p LEFT JOIN "ACC"."DL" l ON l."DLId" = p."DLRef""#,
                r#"p."PartyId""#,
            ),
        }
    }

    fn filter(self) -> &'static str {
        match self {
            Source::WarehouseReceipt => r#"r."IsReturn" = '0'"#,
            Source::WarehouseReturn => r#"r."IsReturn" = '1'"#,
            Source::ServicePurchaseInvoice => r#"v."Type" = 2"#,
            Source::Receipt | Source::Payment => "1 = 1",
            Source::Employee => r#"p."IsEmployee" = '1' AND p."IsCustomer" = '0'"#,
        }
    }

    /// One page of headers for a cursor step.
    pub fn page_statement(self, step: &Step, limit: u32) -> String {
        let (select, id) = self.header();
        let order = if step.descending { "DESC" } else { "ASC" };
        format!(
            "{select} WHERE {} ORDER BY {id} {order} OFFSET {} ROWS FETCH NEXT {limit} ROWS ONLY",
            self.filter(),
            step.offset
        )
    }

    /// The header with table id `id`, if it passes the source's filter.
    pub fn by_id_statement(self, id: i64) -> String {
        let (select, column) = self.header();
        format!("{select} WHERE {} AND {column} = {id}", self.filter())
    }

    /// Detail queries (lines, settlements, phones…) for the given headers.
    pub fn detail_statements(self, ids: &[i64]) -> Vec<(Detail, String)> {
        let list = id_list(ids);
        let q = |detail: Detail, sql: &str| (detail, sql.replace("{ids}", &list));
        match self {
            Source::WarehouseReceipt => vec![q(
                Detail::Line,
                r#"SELECT i."InventoryReceiptRef" AS "HeaderId", i."ItemRef" AS "ItemRef", i."Quantity" AS "Quantity", i."Price" AS "Price", i."Tax" AS "Tax", i."Duty" AS "Duty", i."Description" AS "Description" FROM "INV"."InventoryReceiptItem" i WHERE i."InventoryReceiptRef" IN ({ids}) ORDER BY i."InventoryReceiptRef", i."RowNumber""#,
            )],
            Source::WarehouseReturn => vec![q(
                Detail::Line,
                r#"SELECT i."InventoryReceiptRef" AS "HeaderId", i."ItemRef" AS "ItemRef", i."Quantity" AS "Quantity", COALESCE(i."ReturnedPrice", i."Price") AS "Price", i."Tax" AS "Tax", i."Duty" AS "Duty", i."Description" AS "Description" FROM "INV"."InventoryReceiptItem" i WHERE i."InventoryReceiptRef" IN ({ids}) ORDER BY i."InventoryReceiptRef", i."RowNumber""#,
            )],
            Source::ServicePurchaseInvoice => vec![q(
                Detail::Line,
                r#"SELECT i."InventoryPurchaseInvoiceRef" AS "HeaderId", i."ItemRef" AS "ItemRef", i."Quantity" AS "Quantity", i."Fee" AS "Fee", i."Price" AS "Price", i."Discount" AS "Discount", i."Addition" AS "Addition", i."Tax" AS "Tax", i."Duty" AS "Duty", i."Description" AS "Description" FROM "INV"."InventoryPurchaseInvoiceItem" i WHERE i."InventoryPurchaseInvoiceRef" IN ({ids}) ORDER BY i."InventoryPurchaseInvoiceRef", i."RowNumber""#,
            )],
            Source::Receipt => vec![
                q(
                    Detail::Draft,
                    r#"SELECT d."ReceiptHeaderRef" AS "HeaderId", d."Number" AS "Reference", d."Date" AS "DueDate", d."Amount" AS "Amount" FROM "RPA"."ReceiptDraft" d WHERE d."ReceiptHeaderRef" IN ({ids}) ORDER BY d."ReceiptDraftId""#,
                ),
                q(
                    Detail::Cheque,
                    r#"SELECT c."ReceiptHeaderRef" AS "HeaderId", c."Number" AS "Reference", c."Date" AS "DueDate", c."Amount" AS "Amount", b."Title" AS "Bank" FROM "RPA"."ReceiptCheque" c LEFT JOIN "RPA"."Bank" b ON b."BankId" = c."BankRef" WHERE c."ReceiptHeaderRef" IN ({ids}) ORDER BY c."ReceiptChequeId""#,
                ),
                q(
                    Detail::Card,
                    r#"SELECT s."ReceiptHeaderRef" AS "HeaderId", s."TrackingCode" AS "Reference", s."Amount" AS "Amount" FROM "RPA"."ReceiptPos" s WHERE s."ReceiptHeaderRef" IN ({ids}) ORDER BY s."ReceiptPosId""#,
                ),
            ],
            Source::Payment => vec![
                q(
                    Detail::Draft,
                    r#"SELECT d."PaymentHeaderRef" AS "HeaderId", d."Number" AS "Reference", d."Date" AS "DueDate", d."Amount" AS "Amount" FROM "RPA"."PaymentDraft" d WHERE d."PaymentHeaderRef" IN ({ids}) ORDER BY d."PaymentDraftId""#,
                ),
                q(
                    Detail::Cheque,
                    r#"SELECT c."PaymentHeaderRef" AS "HeaderId", c."Number" AS "Reference", c."Date" AS "DueDate", c."Amount" AS "Amount" FROM "RPA"."PaymentCheque" c WHERE c."PaymentHeaderRef" IN ({ids}) ORDER BY c."PaymentChequeId""#,
                ),
            ],
            Source::Employee => vec![
                q(
                    Detail::Phone,
                    r#"SELECT "PartyRef" AS "HeaderId", "Phone" AS "Phone", "Type" AS "Type", "IsMain" AS "IsMain" FROM "GNR"."PartyPhone" WHERE "PartyRef" IN ({ids}) ORDER BY "PartyPhoneId""#,
                ),
                q(
                    Detail::Address,
                    r#"SELECT "PartyRef" AS "HeaderId", "Address" AS "Address", "LocationRef" AS "LocationRef", "ZipCode" AS "ZipCode", "IsMain" AS "IsMain" FROM "GNR"."PartyAddress" WHERE "PartyRef" IN ({ids}) ORDER BY "PartyAddressId""#,
                ),
            ],
        }
    }

    /// The document kind of a document source (employees are parties).
    pub fn document_kind(self) -> DocumentKind {
        match self {
            Source::WarehouseReceipt | Source::ServicePurchaseInvoice => {
                DocumentKind::PurchaseInvoice
            }
            Source::WarehouseReturn => DocumentKind::PurchaseReturn,
            Source::Receipt => DocumentKind::Receipt,
            Source::Payment => DocumentKind::Payment,
            Source::Employee => DocumentKind::Payment,
        }
    }
}

/// The customers among `ids` that are employees (S3: skipped unless
/// `sync_employees`).
pub fn employees_among_statement(ids: &[i64]) -> String {
    format!(
        r#"SELECT "PartyId" AS "Id" FROM "GNR"."Party" WHERE "IsEmployee" = '1' AND "PartyId" IN ({})"#,
        id_list(ids)
    )
}

fn id_list(ids: &[i64]) -> String {
    let mut out = String::new();
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{id}");
    }
    if out.is_empty() {
        // `IN ()` is a syntax error; no real id is negative.
        out.push_str("-1");
    }
    out
}

/// What a detail query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Detail {
    Line,
    Draft,
    Cheque,
    Card,
    Phone,
    Address,
}

/// One row, read by column name.
#[derive(Clone, Copy)]
pub struct Row<'a> {
    rows: &'a Rows,
    values: &'a [Value],
}

impl<'a> Row<'a> {
    pub fn all(rows: &'a Rows) -> impl Iterator<Item = Row<'a>> {
        rows.rows.iter().map(move |values| Row { rows, values })
    }

    fn value(&self, column: &str) -> &'a Value {
        self.rows
            .column(column)
            .and_then(|i| self.values.get(i))
            .unwrap_or(&Value::Null)
    }

    pub fn int(&self, column: &str) -> Option<i64> {
        match self.value(column) {
            Value::Integer(n) => Some(*n),
            Value::Number(d) => d.to_decimal().ok().and_then(|d| {
                use rust_decimal::prelude::ToPrimitive;
                d.trunc().to_i64()
            }),
            Value::Text(t) => t.trim().parse().ok(),
            Value::Boolean(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    pub fn decimal(&self, column: &str) -> Option<Decimal> {
        match self.value(column) {
            Value::Integer(n) => Some(Decimal::from(*n)),
            Value::Number(d) => d.to_decimal().ok(),
            Value::Text(t) => Decimal::from_str_exact(t.trim()).ok(),
            _ => None,
        }
    }

    /// Money columns: SQL `NULL` (an unpriced receipt line) counts as zero.
    pub fn amount(&self, column: &str) -> Decimal {
        self.decimal(column).unwrap_or_default().normalize()
    }

    pub fn text(&self, column: &str) -> Option<String> {
        match self.value(column) {
            Value::Text(t) => Some(t.trim().to_owned()).filter(|t| !t.is_empty()),
            Value::Integer(n) => Some(n.to_string()),
            Value::Number(d) => Some(d.to_string()),
            _ => None,
        }
    }

    pub fn flag(&self, column: &str) -> bool {
        match self.value(column) {
            Value::Boolean(b) => *b,
            Value::Integer(n) => *n != 0,
            Value::Text(t) => t == "1" || t.eq_ignore_ascii_case("true"),
            _ => false,
        }
    }

    pub fn date(&self, column: &str) -> Option<Date> {
        match self.value(column) {
            Value::Date(d) => Some(*d),
            Value::Timestamp(t) => Some(Date::from_timestamp(*t)),
            Value::Text(t) => crate::mapping::parse_date(t).ok(),
            _ => None,
        }
    }
}

/// Detail rows grouped by their header id.
pub type Details<'a> = BTreeMap<(Detail, i64), Vec<Row<'a>>>;

pub fn group_details<'a>(results: &'a [(Detail, Rows)]) -> Details<'a> {
    let mut out: Details<'a> = BTreeMap::new();
    for (detail, rows) in results {
        for row in Row::all(rows) {
            if let Some(header) = row.int("HeaderId") {
                out.entry((*detail, header)).or_default().push(row);
            }
        }
    }
    out
}

fn details<'a, 'b>(all: &'b Details<'a>, detail: Detail, id: i64) -> &'b [Row<'a>] {
    all.get(&(detail, id)).map_or(&[], Vec::as_slice)
}

/// A purchase line: `Fee` when the table has it, else Price ÷ Quantity
/// (Sepidar's own definition of a receipt line's fee).
fn purchase_line(row: &Row<'_>) -> DocumentLine {
    let quantity = row.amount("Quantity");
    let price = row.amount("Price");
    let fee = row
        .decimal("Fee")
        .map(|d| d.normalize())
        .unwrap_or_else(|| {
            if quantity.is_zero() {
                Decimal::ZERO
            } else {
                (price / quantity).normalize()
            }
        });
    let discount = row.amount("Discount");
    let addition = row.amount("Addition");
    let tax = row.amount("Tax");
    let duty = row.amount("Duty");
    let base = price - discount + addition;
    DocumentLine {
        product_ref: row.int("ItemRef").unwrap_or_default().to_string(),
        description: row.text("Description"),
        quantity: wit(quantity),
        unit_price: wit(fee),
        discount: wit(discount),
        additions: wit(addition),
        tax_rate: wit(rate_of(tax, base)),
        toll_rate: wit(rate_of(duty, base)),
        tax_exempt: false,
        tax: wit(tax),
        toll: wit(duty),
        total: wit(base + tax + duty),
        serial_numbers: Vec::new(),
    }
}

fn settlement(row: &Row<'_>, method: SettlementMethod) -> Settlement {
    Settlement {
        method,
        amount: wit(row.amount("Amount")),
        reference: row.text("Reference"),
        due_date: row.date("DueDate"),
        bank: row.text("Bank"),
    }
}

/// A header row and its details as a document; the version is the row's
/// `Version` (every Sepidar table has one, bumped on edit).
pub fn to_document(source: Source, head: &Row<'_>, all: &Details<'_>) -> Result<Document> {
    let id = head
        .int("Id")
        .ok_or_else(|| Error::Other("Sepidar row without an id".into()))?;
    let date = head
        .date("Date")
        .ok_or_else(|| Error::Other(format!("Sepidar record {id} has no date")))?;
    let mut doc = Document {
        kind: source.document_kind(),
        number: head.text("Number"),
        date,
        party_ref: head.int("PartyId").unwrap_or_default().to_string(),
        currency: "IRR".into(),
        lines: Vec::new(),
        discount: wit(Decimal::ZERO),
        additions: wit(Decimal::ZERO),
        tax_total: wit(Decimal::ZERO),
        toll_total: wit(Decimal::ZERO),
        total: wit(Decimal::ZERO),
        settlements: Vec::new(),
        related_ref: None,
        note: head.text("Description"),
    };
    match source {
        Source::Receipt | Source::Payment => {
            let cash = head.amount("CashAmount");
            if !cash.is_zero() {
                doc.settlements.push(Settlement {
                    method: SettlementMethod::Cash,
                    amount: wit(cash),
                    reference: None,
                    due_date: None,
                    bank: None,
                });
            }
            for (detail, method) in [
                (Detail::Draft, SettlementMethod::BankDraft),
                (Detail::Cheque, SettlementMethod::Cheque),
                (Detail::Card, SettlementMethod::Card),
            ] {
                for row in details(all, detail, id) {
                    doc.settlements.push(settlement(row, method));
                }
            }
            doc.discount = wit(head.amount("Discount"));
            doc.total = wit(head.amount("TotalAmount"));
        }
        _ => {
            doc.lines = details(all, Detail::Line, id)
                .iter()
                .map(purchase_line)
                .collect();
            let line_discount: Decimal = details(all, Detail::Line, id)
                .iter()
                .map(|r| r.amount("Discount"))
                .sum();
            doc.discount = wit(line_discount);
            doc.tax_total = wit(head.amount("TotalTax"));
            doc.toll_total = wit(head.amount("TotalDuty"));
            doc.total = wit(head.amount("TotalNetPrice"));
            if source == Source::WarehouseReturn {
                doc.related_ref = head
                    .int("BaseId")
                    .map(|b| Source::WarehouseReceipt.remote_id(b));
            }
        }
    }
    Ok(doc)
}

/// `GNR.PartyPhone.Type` (FMK lookup `PhoneType`): 1 office, 2 mobile,
/// 3 home, 4 other, 5 office fax, 6 home fax, 7 other fax.
pub fn phone_type(code: i64) -> PhoneKind {
    match code {
        1 => PhoneKind::Office,
        2 => PhoneKind::Mobile,
        3 => PhoneKind::Home,
        5 => PhoneKind::OfficeFax,
        6 => PhoneKind::HomeFax,
        7 => PhoneKind::OtherFax,
        _ => PhoneKind::Other,
    }
}

/// An employee party read from `GNR.Party` (S3). Its customer number is
/// its detail-ledger code (S1), as for customers.
pub fn to_employee(head: &Row<'_>, all: &Details<'_>, divisions: &Divisions) -> Party {
    let id = head.int("Id").unwrap_or_default();
    let company = head.int("Type") == Some(2);
    let phones = details(all, Detail::Phone, id)
        .iter()
        .filter_map(|r| {
            Some(Phone {
                number: r.text("Phone")?,
                area_code: None,
                kind: phone_type(r.int("Type").unwrap_or(4)),
                is_default: r.flag("IsMain"),
            })
        })
        .collect();
    let addresses = details(all, Detail::Address, id)
        .iter()
        .map(|r| {
            let city = r.int("LocationRef");
            Address {
                line: r.text("Address").unwrap_or_default(),
                city: city.and_then(|c| divisions.title(c)),
                province: None,
                postal_code: r.text("ZipCode"),
                city_ref: city.map(|c| c.to_string()),
                is_default: r.flag("IsMain"),
            }
        })
        .collect();
    let (first_name, last_name, name) = if company {
        (None, None, head.text("Name"))
    } else {
        (head.text("Name"), head.text("LastName"), None)
    };
    Party {
        kind: if company {
            PartyKind::Organisation
        } else {
            PartyKind::Person
        },
        first_name,
        last_name,
        name,
        customer_number: head.text("Code"),
        national_id: head.text("NationalId"),
        registration_number: head.text("RegistrationCode"),
        economic_code: head.text("EconomicCode"),
        birth_date: head.date("BirthDate"),
        is_employee: true,
        phones,
        addresses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hamgam_sdk::Timestamp;

    fn num(s: &str) -> Value {
        Value::Number(Decimal::from_str_exact(s).unwrap().into())
    }

    fn rows(columns: &[&str], rows: Vec<Vec<Value>>) -> Rows {
        Rows {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
        }
    }

    fn ts(date: &str) -> Value {
        let d: Date = date.parse().unwrap();
        Value::Timestamp(Timestamp {
            seconds: d.days_since_epoch() * 86_400,
            nanoseconds: 0,
        })
    }

    #[test]
    fn statements_page_in_both_directions_with_portable_syntax() {
        let scan = Step {
            source: 0,
            offset: 200,
            descending: false,
            newer_than: None,
        };
        let sql = Source::Receipt.page_statement(&scan, 100);
        assert!(sql.contains(r#"FROM "RPA"."ReceiptHeader" h INNER JOIN "GNR"."Party" p"#));
        assert!(sql.ends_with(
            r#"ORDER BY h."ReceiptHeaderId" ASC OFFSET 200 ROWS FETCH NEXT 100 ROWS ONLY"#
        ));
        let tail = Step {
            descending: true,
            offset: 0,
            ..scan
        };
        let sql = Source::WarehouseReturn.page_statement(&tail, 10);
        assert!(sql.contains(r#"WHERE r."IsReturn" = '1' ORDER BY r."InventoryReceiptID" DESC"#));
        assert!(!sql.contains(';'));
        let by_id = Source::ServicePurchaseInvoice.by_id_statement(7);
        assert!(by_id.ends_with(r#"WHERE v."Type" = 2 AND v."InventoryPurchaseInvoiceID" = 7"#));
        let details = Source::Receipt.detail_statements(&[3, 4]);
        assert_eq!(details.len(), 3);
        assert!(details[0].1.contains("IN (3, 4)"));
        assert!(employees_among_statement(&[]).contains("IN (-1)"));
    }

    #[test]
    fn receipt_rows_become_a_receipt_with_every_settlement() {
        let head = rows(
            &[
                "Id",
                "Number",
                "Date",
                "PartyId",
                "Description",
                "Version",
                "TotalAmount",
                "Discount",
                "CashAmount",
            ],
            vec![vec![
                Value::Integer(31),
                Value::Integer(12),
                ts("2025-04-02"),
                Value::Integer(12),
                Value::Text("دریافت".into()),
                Value::Integer(2),
                num("1000000000000.0000"),
                num("0.0000"),
                num("500.0000"),
            ]],
        );
        let draft = rows(
            &["HeaderId", "Reference", "DueDate", "Amount"],
            vec![vec![
                Value::Integer(31),
                Value::Integer(778),
                ts("2025-04-02"),
                num("999999999000.0000"),
            ]],
        );
        let cheque = rows(
            &["HeaderId", "Reference", "DueDate", "Amount", "Bank"],
            vec![vec![
                Value::Integer(31),
                Value::Text("123456".into()),
                ts("2025-05-01"),
                num("500.0000"),
                Value::Text("ملت".into()),
            ]],
        );
        let results = vec![(Detail::Draft, draft), (Detail::Cheque, cheque)];
        let grouped = group_details(&results);
        let head_row = Row::all(&head).next().unwrap();
        let doc = to_document(Source::Receipt, &head_row, &grouped).unwrap();
        assert_eq!(doc.kind, DocumentKind::Receipt);
        assert_eq!(doc.number.as_deref(), Some("12"));
        assert_eq!(doc.party_ref, "12");
        assert_eq!(doc.date.to_string(), "2025-04-02");
        assert_eq!(doc.total.to_decimal().unwrap().to_string(), "1000000000000");
        let methods: Vec<_> = doc.settlements.iter().map(|s| s.method).collect();
        assert_eq!(
            methods,
            vec![
                SettlementMethod::Cash,
                SettlementMethod::BankDraft,
                SettlementMethod::Cheque
            ]
        );
        let cheque = &doc.settlements[2];
        assert_eq!(cheque.reference.as_deref(), Some("123456"));
        assert_eq!(cheque.due_date.unwrap().to_string(), "2025-05-01");
        assert_eq!(cheque.bank.as_deref(), Some("ملت"));
        assert_eq!(doc.settlements[1].reference.as_deref(), Some("778"));
    }

    #[test]
    fn warehouse_return_rows_become_a_purchase_return_with_exact_lines() {
        let head = rows(
            &[
                "Id",
                "Number",
                "Date",
                "PartyId",
                "TotalPrice",
                "TotalTax",
                "TotalDuty",
                "TotalNetPrice",
                "BaseId",
            ],
            vec![vec![
                Value::Integer(8),
                Value::Integer(3),
                ts("2025-06-01"),
                Value::Integer(40),
                num("250.000"),
                num("25.000"),
                Value::Null,
                num("275.000"),
                Value::Integer(5),
            ]],
        );
        let lines = rows(
            &["HeaderId", "ItemRef", "Quantity", "Price", "Tax", "Duty"],
            vec![vec![
                Value::Integer(8),
                Value::Integer(77),
                num("2.5000"),
                num("250.0000"),
                num("25.0000"),
                Value::Null,
            ]],
        );
        let results = vec![(Detail::Line, lines)];
        let grouped = group_details(&results);
        let head_row = Row::all(&head).next().unwrap();
        let doc = to_document(Source::WarehouseReturn, &head_row, &grouped).unwrap();
        assert_eq!(doc.kind, DocumentKind::PurchaseReturn);
        assert_eq!(doc.related_ref.as_deref(), Some("inventory-receipt:5"));
        let line = &doc.lines[0];
        assert_eq!(line.quantity.to_decimal().unwrap().to_string(), "2.5");
        assert_eq!(line.unit_price.to_decimal().unwrap().to_string(), "100");
        assert_eq!(line.tax_rate.to_decimal().unwrap().to_string(), "10");
        assert_eq!(line.total.to_decimal().unwrap().to_string(), "275");
        assert_eq!(line.product_ref, "77");
        assert_eq!(doc.total.to_decimal().unwrap().to_string(), "275");
    }

    #[test]
    fn employee_rows_become_an_employee_party_with_typed_phones() {
        let head = rows(
            &[
                "Id",
                "Type",
                "Name",
                "LastName",
                "NationalId",
                "Code",
                "BirthDate",
            ],
            vec![vec![
                Value::Integer(9),
                Value::Integer(1),
                Value::Text("مریم".into()),
                Value::Text("احمدی".into()),
                Value::Text("0011223344".into()),
                Value::Text("20009".into()),
                Value::Null,
            ]],
        );
        let phones = rows(
            &["HeaderId", "Phone", "Type", "IsMain"],
            vec![
                vec![
                    Value::Integer(9),
                    Value::Text("09120000000".into()),
                    Value::Integer(2),
                    Value::Integer(1),
                ],
                vec![
                    Value::Integer(9),
                    Value::Text("44556677".into()),
                    Value::Integer(6),
                    Value::Integer(0),
                ],
            ],
        );
        let results = vec![(Detail::Phone, phones)];
        let grouped = group_details(&results);
        let p = to_employee(
            &Row::all(&head).next().unwrap(),
            &grouped,
            &Divisions::default(),
        );
        assert!(p.is_employee);
        assert_eq!(p.kind, PartyKind::Person);
        assert_eq!(p.customer_number.as_deref(), Some("20009"));
        assert_eq!(p.phones[0].kind, PhoneKind::Mobile);
        assert!(p.phones[0].is_default);
        assert_eq!(p.phones[1].kind, PhoneKind::HomeFax);
    }
}
