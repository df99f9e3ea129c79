//! Documents Sepidar's web service does not expose, read from its database
//! (S15, S16) through the host's `sql` import, plus employee parties (S3).
//!
//! Tables and columns are Sepidar's own (`baapar1101/Sepidar`,
//! `SqlScripts/Table/*.sql`, Sepidar 5.8.7). The statements themselves are
//! declared in `plugin.toml` (`[[capabilities.sql.statements]]`), which the
//! bundle's signature covers; this module only names them and passes their
//! parameters (offsets, limits, ids) as values. They run unchanged on SQL
//! Server and PostgreSQL: quoted identifiers, `OFFSET … FETCH NEXT`, and
//! `bit` flags compared with `'1'`/`'0'` (SQL Server converts the text to
//! bit, PostgreSQL reads it as a boolean literal).
//!
//! A document's party is the `GNR.Party` whose detail ledger (`DLRef`) the
//! document names; documents without a party (bank transfers, production
//! receipts…) are not the CRM's business and are left out by the join.

use std::collections::BTreeMap;

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

    /// The prefix of this source's statement names in `plugin.toml`.
    fn prefix(self) -> &'static str {
        match self {
            Source::WarehouseReceipt => "warehouse-receipt",
            Source::WarehouseReturn => "warehouse-return",
            Source::ServicePurchaseInvoice => "service-purchase-invoice",
            Source::Receipt => "receipt",
            Source::Payment => "payment",
            Source::Employee => "employee",
        }
    }

    /// One page of headers for a cursor step: `<source>-page-asc|desc`
    /// with the offset and the page size.
    pub fn page(self, step: &Step, limit: u32) -> Result<Call> {
        let order = if step.descending { "desc" } else { "asc" };
        let offset = i64::try_from(step.offset)
            .map_err(|_| Error::invalid("cursor", "offset out of range"))?;
        Ok(Call {
            name: format!("{}-page-{order}", self.prefix()),
            params: vec![Value::Integer(offset), Value::Integer(limit.into())],
        })
    }

    /// The header with table id `id`, if it passes the source's filter.
    pub fn by_id(self, id: i64) -> Call {
        Call {
            name: format!("{}-by-id", self.prefix()),
            params: vec![Value::Integer(id)],
        }
    }

    /// Detail statements (lines, settlements, phones…) for the headers
    /// `ids`: each takes the lowest and highest id, so rows of headers in
    /// between that are not in `ids` may come back too (they are grouped
    /// by header id and only `ids`' are used).
    pub fn details(self, ids: &[i64]) -> Vec<(Detail, Call)> {
        let details: &[(Detail, &str)] = match self {
            Source::WarehouseReceipt | Source::WarehouseReturn | Source::ServicePurchaseInvoice => {
                &[(Detail::Line, "lines")]
            }
            Source::Receipt => &[
                (Detail::Draft, "drafts"),
                (Detail::Cheque, "cheques"),
                (Detail::Card, "cards"),
            ],
            Source::Payment => &[(Detail::Draft, "drafts"), (Detail::Cheque, "cheques")],
            Source::Employee => &[(Detail::Phone, "phones"), (Detail::Address, "addresses")],
        };
        details
            .iter()
            .map(|(detail, suffix)| {
                (
                    *detail,
                    Call {
                        name: format!("{}-{suffix}", self.prefix()),
                        params: id_range(ids),
                    },
                )
            })
            .collect()
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

/// A declared statement to run: its name in `plugin.toml` and its
/// parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub params: Vec<Value>,
}

/// The employees among the parties `ids` (S3: skipped unless
/// `sync_employees`); the answer may name employees between them that are
/// not in `ids`.
pub fn employees_among(ids: &[i64]) -> Call {
    Call {
        name: "employees-among".into(),
        params: id_range(ids),
    }
}

/// `$1` and `$2` of a range statement: the lowest and highest id. No id
/// is negative, so an empty list becomes a range nothing falls in.
fn id_range(ids: &[i64]) -> Vec<Value> {
    let low = ids.iter().copied().min().unwrap_or(-1);
    let high = ids.iter().copied().max().unwrap_or(-2);
    vec![Value::Integer(low), Value::Integer(high)]
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

    /// The text `plugin.toml` declares for statement `name`, which must be
    /// a read.
    fn declared(name: &str) -> &'static str {
        let manifest = include_str!("../plugin.toml");
        let head = format!("name = \"{name}\"\naccess = \"read\"\ntext = '''");
        let start = manifest
            .find(&head)
            .unwrap_or_else(|| panic!("plugin.toml does not declare the read `{name}`"))
            + head.len();
        let len = manifest[start..].find("'''").unwrap();
        &manifest[start..start + len]
    }

    #[test]
    fn statements_page_in_both_directions_with_portable_syntax() {
        let scan = Step {
            source: 0,
            offset: 200,
            descending: false,
            newer_than: None,
        };
        let page = Source::Receipt.page(&scan, 100).unwrap();
        assert_eq!(page.params, [Value::Integer(200), Value::Integer(100)]);
        let sql = declared(&page.name);
        assert!(sql.contains(r#"FROM "RPA"."ReceiptHeader" h INNER JOIN "GNR"."Party" p"#));
        assert!(sql.ends_with(
            r#"ORDER BY h."ReceiptHeaderId" ASC OFFSET $1 ROWS FETCH NEXT $2 ROWS ONLY"#
        ));
        let tail = Step {
            descending: true,
            offset: 0,
            ..scan
        };
        let sql = declared(&Source::WarehouseReturn.page(&tail, 10).unwrap().name);
        assert!(sql.contains(r#"WHERE r."IsReturn" = '1' ORDER BY r."InventoryReceiptID" DESC"#));
        assert!(!sql.contains(';'));
        let by_id = Source::ServicePurchaseInvoice.by_id(7);
        assert_eq!(by_id.params, [Value::Integer(7)]);
        assert!(
            declared(&by_id.name)
                .ends_with(r#"WHERE v."Type" = 2 AND v."InventoryPurchaseInvoiceID" = $1"#)
        );
        let details = Source::Receipt.details(&[4, 3]);
        assert_eq!(details.len(), 3);
        assert_eq!(details[0].1.params, [Value::Integer(3), Value::Integer(4)]);
        assert!(declared(&details[0].1.name).contains("BETWEEN $1 AND $2"));
        // An empty list is a range no id falls in.
        let none = employees_among(&[]);
        assert_eq!(none.params, [Value::Integer(-1), Value::Integer(-2)]);
        declared(&none.name);
    }

    #[test]
    fn every_statement_the_connector_runs_is_a_declared_read() {
        let step = |descending| Step {
            source: 0,
            offset: 0,
            descending,
            newer_than: None,
        };
        for source in [
            Source::WarehouseReceipt,
            Source::WarehouseReturn,
            Source::ServicePurchaseInvoice,
            Source::Receipt,
            Source::Payment,
            Source::Employee,
        ] {
            let mut calls = vec![
                source.page(&step(false), 1).unwrap(),
                source.page(&step(true), 1).unwrap(),
                source.by_id(1),
            ];
            calls.extend(source.details(&[1]).into_iter().map(|(_, c)| c));
            for call in calls {
                let sql = declared(&call.name);
                // Each `$n` the text uses has a parameter, and no more.
                let used = (1..=9).filter(|n| sql.contains(&format!("${n}"))).count();
                assert_eq!(used, call.params.len(), "{}", call.name);
                assert!(!sql.contains(';'), "{}", call.name);
            }
        }
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
