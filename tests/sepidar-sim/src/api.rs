//! The HTTP surface: one axum fallback handler that logs, applies faults,
//! checks the device headers and the token, then dispatches on the
//! lower-cased path (ASP.NET routes are case-insensitive).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::crypto;
use crate::model::*;
use crate::num;
use crate::store::{CustomerPut, Db, DocInput, DraftInput, NewAddress, NewCustomer, ReceiptInput};
use crate::{ApiLogEntry, Fault, Shared};

/// An answer before it becomes an HTTP response.
pub(crate) struct Reply {
    status: u16,
    body: Vec<u8>,
}

fn json<T: Serialize + ?Sized>(status: u16, v: &T) -> Reply {
    Reply {
        status,
        body: serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec()),
    }
}

fn error(e: &SimError) -> Reply {
    json(e.status, e)
}

type R = Result<Reply, SimError>;

fn bad(msg: impl Into<String>) -> SimError {
    SimError::bad_request(msg)
}

fn required(field: &str) -> SimError {
    bad(format!("مقدار {field} الزامی است ({field} is required)"))
}

/// The axum handler behind every path.
pub(crate) async fn handle(
    State(sh): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let time = chrono::Utc::now();
    let path_lc = uri.path().to_ascii_lowercase();
    let fault = sh.take_fault(method.as_str(), &path_lc);
    let mut user = None;
    let reply = match fault {
        Some(Fault::Status(s)) => error(&SimError::application(s, "خطای سرور (injected fault)")),
        Some(Fault::Hang) => {
            sh.wait_shutdown().await;
            error(&SimError::application(503, "server shutting down"))
        }
        Some(Fault::Delay(d)) => {
            tokio::select! {
                _ = tokio::time::sleep(d) => route(&sh, &method, &path_lc, &uri, &headers, &body, &mut user),
                _ = sh.wait_shutdown() => error(&SimError::application(503, "server shutting down")),
            }
        }
        Some(Fault::AfterProcessing(s)) => {
            let _ = route(&sh, &method, &path_lc, &uri, &headers, &body, &mut user);
            error(&SimError::application(
                s,
                "خطای سرور پس از ثبت (injected fault after processing)",
            ))
        }
        None => route(&sh, &method, &path_lc, &uri, &headers, &body, &mut user),
    };
    sh.record(ApiLogEntry {
        time,
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        status: reply.status,
        elapsed: started.elapsed(),
        user,
    });
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        reply.body,
    )
        .into_response()
}

fn route(
    sh: &Shared,
    method: &Method,
    path: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    user: &mut Option<String>,
) -> Reply {
    match route_inner(sh, method, path, uri, headers, body, user) {
        Ok(r) => r,
        Err(e) => error(&e),
    }
}

fn seg_id(s: &str) -> Result<i32, SimError> {
    s.parse::<i32>()
        .map_err(|_| SimError::business(404, format!("مسیر یافت نشد (no route for id {s:?})")))
}

#[allow(clippy::too_many_arguments)]
fn route_inner(
    sh: &Shared,
    method: &Method,
    path: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    user: &mut Option<String>,
) -> R {
    let Some(rest) = path.strip_prefix("/api/") else {
        return Err(SimError::business(404, "مسیر یافت نشد (not found)"));
    };
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let m = method.as_str();
    // Endpoints without device headers.
    match (m, segs.as_slice()) {
        ("GET", ["general", "generationversion"]) => {
            let gv = sh.auth.lock().expect("auth lock").generation_version;
            return Ok(json(
                200,
                &serde_json::json!({"GenerationVersion": gv, "LockNumber": sh.cfg.lock_number}),
            ));
        }
        ("POST", ["devices", "register"]) => return register(sh, body),
        _ => {}
    }
    sh.check_device(headers)?;
    if let ("POST", ["users", "login"]) = (m, segs.as_slice()) {
        return login(sh, body);
    }
    *user = Some(sh.check_token(headers)?);
    let query = parse_query(uri)?;
    let mut db = sh.db.lock().expect("db lock");
    let db = &mut *db;
    match (m, segs.as_slice()) {
        ("GET", ["isauthorized"]) => Ok(json(200, &true)),
        ("GET", ["administrativedivisions"]) => Ok(json(200, &values(&db.divisions))),
        ("GET", ["currencies"]) => Ok(json(200, &values(&db.currencies))),
        ("GET", ["units"]) => Ok(json(200, &values(&db.units))),
        ("GET", ["stocks"]) => Ok(json(200, &values(&db.stocks))),
        ("GET", ["saletypes"]) => Ok(json(200, &values(&db.sale_types))),
        ("GET", ["bankaccounts"]) => Ok(json(200, &values(&db.bank_accounts))),
        ("GET", ["pricenoteitems"]) => Ok(json(200, &values(&db.price_notes))),
        // Customers
        ("GET", ["customers"]) => Ok(json(200, &values(&db.customers))),
        ("GET", ["customers", "paginated"]) => {
            let rows: Vec<&Customer> = db.customers.values().collect();
            page(rows, &query, CUSTOMER_FIELDS, customer_key, ser)
        }
        ("GET", ["customers", id]) => {
            let id = seg_id(id)?;
            let c = db
                .customers
                .get(&id)
                .ok_or_else(|| SimError::not_found("Customer", id))?;
            Ok(json(200, c))
        }
        ("POST", ["customers"]) => {
            let c = create_customer(db, body)?;
            Ok(json(201, &c))
        }
        ("PUT", ["customers", id]) => {
            let id = seg_id(id)?;
            let c = put_customer(db, id, body)?;
            Ok(json(200, &c))
        }
        // Items
        ("GET", ["items"]) => {
            let rows: Vec<Value> = db.items.values().map(|i| item_view(db, i)).collect();
            Ok(json(200, &rows))
        }
        ("GET", ["items", "paginated"]) => {
            let rows: Vec<&Item> = db.items.values().collect();
            page(rows, &query, ITEM_FIELDS, item_key, |i, buf| {
                ser(&item_view(db, i), buf)
            })
        }
        ("GET", ["items", "inventories", id]) => {
            let id = seg_id(id)?;
            if !db.items.contains_key(&id) {
                return Err(SimError::not_found("Item", id));
            }
            Ok(json(200, &db.inventories_of(id)))
        }
        ("GET", ["items", id]) => {
            let id = seg_id(id)?;
            let i = db
                .items
                .get(&id)
                .ok_or_else(|| SimError::not_found("Item", id))?;
            Ok(json(200, &item_view(db, i)))
        }
        // Quotations
        ("GET", ["quotations"]) => {
            let range = date_range(&query, false)?;
            let rows: Vec<Value> = db
                .quotations
                .values()
                .filter(|q| in_range(q.date, range))
                .map(quotation_header)
                .collect();
            Ok(json(200, &rows))
        }
        ("GET", ["quotations", "paginated"]) => {
            let range = date_range(&query, false)?;
            let rows: Vec<&Quotation> = db
                .quotations
                .values()
                .filter(|q| in_range(q.date, range))
                .collect();
            page(rows, &query, QUOTATION_FIELDS, quotation_key, |q, buf| {
                ser(&quotation_header(q), buf)
            })
        }
        ("GET", ["quotations", id]) => {
            let id = seg_id(id)?;
            let q = db
                .quotations
                .get(&id)
                .ok_or_else(|| SimError::not_found("Quotation", id))?;
            Ok(json(200, q))
        }
        ("POST", ["quotations"]) => {
            let d = parse_doc(body, true, db.today)?;
            let q = db.insert_quotation(d)?;
            Ok(json(201, &q))
        }
        ("DELETE", ["quotations", id]) => {
            let id = seg_id(id)?;
            db.delete_quotation(id, true)?;
            Ok(json(200, &Value::Null))
        }
        ("POST", ["quotations", id, "close"]) => {
            let id = seg_id(id)?;
            Ok(json(201, &db.set_quotation_closed(id, true)?))
        }
        ("POST", ["quotations", id, "unclose"]) => {
            let id = seg_id(id)?;
            Ok(json(201, &db.set_quotation_closed(id, false)?))
        }
        // Invoices
        ("GET", ["invoices"]) => {
            let fy = current_fy(db)?;
            let rows: Vec<&Invoice> = db
                .invoices
                .values()
                .filter(|i| i.fiscal_year_ref == fy)
                .collect();
            Ok(json(200, &rows))
        }
        ("GET", ["invoices", "paginated"]) => {
            let fy = current_fy(db)?;
            let rows: Vec<&Invoice> = db
                .invoices
                .values()
                .filter(|i| i.fiscal_year_ref == fy)
                .collect();
            page(rows, &query, INVOICE_FIELDS, invoice_key, |i, buf| {
                buf.extend_from_slice(&db.invoice_json(i))
            })
        }
        ("GET", ["invoices", "basedondate"]) => {
            let range = date_range(&query, true)?;
            let rows: Vec<&Invoice> = db
                .invoices
                .values()
                .filter(|i| in_range(i.date, range))
                .collect();
            Ok(json(200, &rows))
        }
        ("GET", ["invoices", "basedondate", "paginated"]) => {
            let range = date_range(&query, true)?;
            let rows: Vec<&Invoice> = db
                .invoices
                .values()
                .filter(|i| in_range(i.date, range))
                .collect();
            page(rows, &query, INVOICE_FIELDS, invoice_key, |i, buf| {
                buf.extend_from_slice(&db.invoice_json(i))
            })
        }
        ("GET", ["invoices", id]) => {
            let id = seg_id(id)?;
            let i = db
                .invoices
                .get(&id)
                .ok_or_else(|| SimError::not_found("Invoice", id))?;
            Ok(json(200, i))
        }
        ("POST", ["invoices"]) => {
            let today = db.today;
            let d = parse_doc(body, false, today)?;
            let inv = db.insert_invoice(d, None)?;
            Ok(json(201, &inv))
        }
        // Returned invoices
        ("GET", ["returnedinvoices", "basedondate"]) => {
            let range = date_range(&query, true)?;
            let rows: Vec<&ReturnedInvoice> = db
                .returned
                .values()
                .filter(|r| in_range(r.date, range))
                .collect();
            Ok(json(200, &rows))
        }
        ("GET", ["returnedinvoices", "basedondate", "paginated"]) => {
            let range = date_range(&query, true)?;
            let rows: Vec<&ReturnedInvoice> = db
                .returned
                .values()
                .filter(|r| in_range(r.date, range))
                .collect();
            page(rows, &query, RETURNED_FIELDS, returned_key, ser)
        }
        ("GET", ["returnedinvoices", id]) => {
            let id = seg_id(id)?;
            let r = db
                .returned
                .get(&id)
                .ok_or_else(|| SimError::not_found("ReturnedInvoice", id))?;
            Ok(json(200, r))
        }
        // Receipts
        ("POST", ["receipts"]) => {
            let r = parse_receipt(body)?;
            let rec = db.insert_receipt(r)?;
            Ok(json(
                201,
                &serde_json::json!({"ReceiptID": rec.receipt_id, "Guid": rec.guid}),
            ))
        }
        _ => {
            let known = matches!(
                segs.first().copied(),
                Some(
                    "isauthorized"
                        | "administrativedivisions"
                        | "currencies"
                        | "units"
                        | "stocks"
                        | "saletypes"
                        | "bankaccounts"
                        | "pricenoteitems"
                        | "customers"
                        | "items"
                        | "quotations"
                        | "invoices"
                        | "returnedinvoices"
                        | "receipts"
                )
            );
            if known && segs.len() <= 3 {
                Err(SimError::application(
                    405,
                    "روش درخواست مجاز نیست (method not allowed)",
                ))
            } else {
                Err(SimError::business(404, "مسیر یافت نشد (no such endpoint)"))
            }
        }
    }
}

fn values<T>(m: &std::collections::BTreeMap<i32, T>) -> Vec<&T> {
    m.values().collect()
}

fn current_fy(db: &Db) -> Result<i32, SimError> {
    db.current_fiscal_year()
        .map(|f| f.fiscal_year_id)
        .ok_or_else(|| {
            SimError::application(500, "سال مالی جاری تعریف نشده است (no current fiscal year)")
        })
}

fn item_view(db: &Db, i: &Item) -> Value {
    let mut v = serde_json::to_value(i).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        let total = db.total_inventory(i.item_id);
        o.insert("Tracings".into(), Value::Array(vec![]));
        o.insert("TracingInventories".into(), Value::Array(vec![]));
        o.insert(
            "TotalInventory".into(),
            serde_json::to_value(DecOut(total)).unwrap_or(Value::Null),
        );
        o.insert("PropertyValues".into(), Value::Array(vec![]));
        o.insert("Thumbnail".into(), Value::Null);
    }
    v
}

struct DecOut(Decimal);
impl Serialize for DecOut {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        num::write_decimal(&self.0, s)
    }
}

fn quotation_header(q: &Quotation) -> Value {
    let mut v = serde_json::to_value(q).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.remove("Items");
    }
    v
}

// ------------------------------------------------------------------ paging

/// Sort key of a record for `orderBy`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Null,
    Bool(bool),
    Int(i64),
    Dec(Decimal),
    Date(NaiveDate),
    Str(String),
}

fn opt_str(s: &Option<String>) -> Key {
    s.as_ref().map(|s| Key::Str(s.clone())).unwrap_or(Key::Null)
}

const CUSTOMER_FIELDS: &[&str] = &[
    "CustomerID",
    "Code",
    "Title",
    "Name",
    "LastName",
    "Version",
    "PhoneNumber",
    "NationalID",
    "EconomicCode",
    "CustomerType",
    "GUID",
];
fn customer_key(c: &Customer, f: &str) -> Key {
    match f {
        "Code" => Key::Str(c.code.clone()),
        "Title" => Key::Str(c.title.clone()),
        "Name" => Key::Str(c.name.clone()),
        "LastName" => opt_str(&c.last_name),
        "Version" => Key::Int(c.version.into()),
        "PhoneNumber" => opt_str(&c.phone_number),
        "NationalID" => opt_str(&c.national_id),
        "EconomicCode" => opt_str(&c.economic_code),
        "CustomerType" => Key::Int(c.customer_type.code().into()),
        "GUID" => Key::Str(c.guid.to_string()),
        _ => Key::Int(c.customer_id.into()),
    }
}

const ITEM_FIELDS: &[&str] = &["ItemID", "Code", "Title", "Barcode", "IsActive", "UnitRef"];
fn item_key(i: &Item, f: &str) -> Key {
    match f {
        "Code" => Key::Str(i.code.clone()),
        "Title" => Key::Str(i.title.clone()),
        "Barcode" => opt_str(&i.barcode),
        "IsActive" => Key::Bool(i.is_active),
        "UnitRef" => Key::Int(i.unit_ref.into()),
        _ => Key::Int(i.item_id.into()),
    }
}

const QUOTATION_FIELDS: &[&str] = &[
    "QuotationID",
    "Number",
    "Date",
    "ExpirationDate",
    "CustomerRef",
    "FiscalYearRef",
    "SaleTypeRef",
    "Price",
    "NetPrice",
    "Closed",
    "GUID",
];
fn quotation_key(q: &Quotation, f: &str) -> Key {
    match f {
        "Number" => Key::Int(q.number.into()),
        "Date" => Key::Date(q.date),
        "ExpirationDate" => q.expiration_date.map(Key::Date).unwrap_or(Key::Null),
        "CustomerRef" => Key::Int(q.customer_ref.into()),
        "FiscalYearRef" => Key::Int(q.fiscal_year_ref.into()),
        "SaleTypeRef" => Key::Int(q.sale_type_ref.into()),
        "Price" => Key::Dec(q.totals.price),
        "NetPrice" => Key::Dec(q.totals.net_price),
        "Closed" => Key::Bool(q.closed),
        "GUID" => Key::Str(q.guid.to_string()),
        _ => Key::Int(q.quotation_id.into()),
    }
}

const INVOICE_FIELDS: &[&str] = &[
    "InvoiceID",
    "Number",
    "Date",
    "CustomerRef",
    "FiscalYearRef",
    "SaleTypeRef",
    "Price",
    "NetPrice",
    "GUID",
];
fn invoice_key(i: &Invoice, f: &str) -> Key {
    match f {
        "Number" => Key::Int(i.number.into()),
        "Date" => Key::Date(i.date),
        "CustomerRef" => Key::Int(i.customer_ref.into()),
        "FiscalYearRef" => Key::Int(i.fiscal_year_ref.into()),
        "SaleTypeRef" => Key::Int(i.sale_type_ref.into()),
        "Price" => Key::Dec(i.totals.price),
        "NetPrice" => Key::Dec(i.totals.net_price),
        "GUID" => Key::Str(i.guid.to_string()),
        _ => Key::Int(i.invoice_id.into()),
    }
}

const RETURNED_FIELDS: &[&str] = &[
    "ReturnedInvoiceID",
    "Number",
    "Date",
    "CustomerRef",
    "InvoiceRef",
    "FiscalYearRef",
    "NetPrice",
];
fn returned_key(r: &ReturnedInvoice, f: &str) -> Key {
    match f {
        "Number" => Key::Int(r.number.into()),
        "Date" => Key::Date(r.date),
        "CustomerRef" => Key::Int(r.customer_ref.into()),
        "InvoiceRef" => r
            .invoice_ref
            .map(|x| Key::Int(x.into()))
            .unwrap_or(Key::Null),
        "FiscalYearRef" => Key::Int(r.fiscal_year_ref.into()),
        "NetPrice" => Key::Dec(r.totals.net_price),
        _ => Key::Int(r.returned_invoice_id.into()),
    }
}

/// Appends the JSON of `v` to `buf`.
fn ser<T: Serialize + ?Sized>(v: &T, buf: &mut Vec<u8>) {
    if serde_json::to_writer(&mut *buf, v).is_err() {
        buf.extend_from_slice(b"null");
    }
}

/// Query parameters with lower-cased names.
type Query = HashMap<String, String>;

fn parse_query(uri: &Uri) -> Result<Query, SimError> {
    let raw: Vec<(String, String)> = match uri.query() {
        None => Vec::new(),
        Some(q) => axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map(|x| x.0)
            .map_err(|_| bad(format!("رشته پرس‌وجو نامعتبر است (malformed query {q:?})")))?,
    };
    Ok(raw
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect())
}

/// Sorts, slices and writes the paging envelope; `write` appends one row's
/// JSON (invoices come from a per-record cache, so paging large data sets
/// does not re-serialize them).
fn page<'a, T: 'a>(
    mut rows: Vec<&'a T>,
    q: &Query,
    fields: &[&str],
    key: fn(&T, &str) -> Key,
    write: impl Fn(&'a T, &mut Vec<u8>),
) -> R {
    let parse = |name: &str, default: usize| -> Result<usize, SimError> {
        match q.get(name) {
            None => Ok(default),
            Some(v) if v.trim().is_empty() => Ok(default),
            Some(v) => v.trim().parse::<usize>().map_err(|_| {
                bad(format!(
                    "پارامتر {name} نامعتبر است ({name} must be a non-negative integer, got {v:?})"
                ))
            }),
        }
    };
    let limit = parse("limit", 100)?;
    let offset = parse("offset", 0)?;
    if limit == 0 || limit > 1000 {
        return Err(bad(format!(
            "limit باید بین ۱ و ۱۰۰۰ باشد (limit must be 1..=1000, got {limit})"
        )));
    }
    let (requested, ascending) = match (q.get("orderbydesc"), q.get("orderby")) {
        (Some(f), _) if !f.trim().is_empty() => (Some(f.trim()), false),
        (_, Some(f)) if !f.trim().is_empty() => (Some(f.trim()), true),
        _ => (None, true),
    };
    let id_field = fields[0];
    let field = match requested {
        None => id_field,
        Some(f) if f.eq_ignore_ascii_case("id") => id_field,
        Some(f) => fields
            .iter()
            .copied()
            .find(|x| x.eq_ignore_ascii_case(f))
            .ok_or_else(|| {
                bad(format!(
                    "فیلد مرتب‌سازی نامعتبر است (unknown orderBy field {f:?})"
                ))
            })?,
    };
    if field != id_field {
        rows.sort_by_cached_key(|r| key(r, field));
    }
    if !ascending {
        rows.reverse();
    }
    let total = rows.len();
    let mut buf = Vec::with_capacity(64 * 1024);
    buf.extend_from_slice(b"{\"Result\":[");
    for (n, r) in rows.iter().skip(offset).take(limit).enumerate() {
        if n > 0 {
            buf.push(b',');
        }
        write(r, &mut buf);
    }
    buf.extend_from_slice(b"],");
    let tail = serde_json::json!({
        "Total": total,
        "Limit": limit,
        "Offset": offset,
        "OrderedBy": field,
        "Ascending": ascending,
        "Filters": [],
    });
    let tail = serde_json::to_vec(&tail).unwrap_or_else(|_| b"{}".to_vec());
    buf.extend_from_slice(&tail[1..]);
    Ok(Reply {
        status: 200,
        body: buf,
    })
}

type Range = Option<(NaiveDate, NaiveDate)>;

fn date_range(q: &Query, required_both: bool) -> Result<Range, SimError> {
    let get = |name: &str, label: &str| -> Result<Option<NaiveDate>, SimError> {
        match q.get(name) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => num::parse_date(v).map(Some).ok_or_else(|| {
                bad(format!(
                    "تاریخ نامعتبر است ({label} must be an ISO 8601 date, got {v:?})"
                ))
            }),
        }
    };
    let from = get("fromdate", "fromDate")?;
    let to = get("todate", "toDate")?;
    match (from, to) {
        (None, None) if !required_both => Ok(None),
        (Some(f), Some(t)) => {
            if f > t {
                Err(bad("fromDate بعد از toDate است (fromDate after toDate)"))
            } else {
                Ok(Some((f, t)))
            }
        }
        (f, t) if !required_both => Ok(Some((
            f.unwrap_or(NaiveDate::MIN),
            t.unwrap_or(NaiveDate::MAX),
        ))),
        (None, _) => Err(required("fromDate")),
        (_, None) => Err(required("toDate")),
    }
}

fn in_range(d: NaiveDate, r: Range) -> bool {
    r.is_none_or(|(f, t)| f <= d && d <= t)
}

// ------------------------------------------------------------- request bodies

/// Lower-cases object keys recursively (Json.NET binds case-insensitively).
fn lower_keys(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), lower_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(lower_keys).collect()),
        other => other,
    }
}

fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, SimError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        SimError::application(400, format!("بدنه درخواست نامعتبر است (invalid JSON: {e})"))
    })?;
    if !v.is_object() {
        return Err(SimError::application(
            400,
            "بدنه درخواست باید شیء JSON باشد (body must be a JSON object)",
        ));
    }
    serde_json::from_value(lower_keys(v)).map_err(|e| {
        SimError::application(400, format!("بدنه درخواست نامعتبر است (invalid body: {e})"))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
struct RegisterIn {
    cypher: Option<String>,
    iv: Option<String>,
    integrationid: Option<Value>,
}

fn register(sh: &Shared, body: &[u8]) -> R {
    let r: RegisterIn = parse_body(body)?;
    let wrong = || bad("سریال اشتباه است یا اطلاعات رمزشده صحیح نیست (wrong serial or cypher)");
    let expected = sh.cfg.integration_id().ok_or_else(wrong)?;
    let sent = match r.integrationid {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    if sent != Some(i64::from(expected)) {
        return Err(wrong());
    }
    let key = crypto::device_key(&sh.cfg.serial);
    let iv =
        r.iv.as_deref()
            .and_then(crypto::b64_decode)
            .ok_or_else(wrong)?;
    let cypher = r
        .cypher
        .as_deref()
        .and_then(crypto::b64_decode)
        .ok_or_else(wrong)?;
    let plain = crypto::aes_decrypt(&key, &iv, &cypher).ok_or_else(wrong)?;
    if plain != expected.to_string().as_bytes() {
        return Err(wrong());
    }
    let mut auth = sh.auth.lock().expect("auth lock");
    if auth.registered {
        return Err(bad("دستگاه قبلاً ثبت شده است (device already registered)"));
    }
    auth.registered = true;
    let xml = crypto::public_key_xml(&auth.key);
    drop(auth);
    sh.bump(|s| s.registrations += 1);
    let out_iv = crypto::random_iv();
    let out = crypto::aes_encrypt(&key, &out_iv, xml.as_bytes());
    Ok(json(
        201,
        &serde_json::json!({
            "Cypher": crypto::b64_encode(&out),
            "IV": crypto::b64_encode(&out_iv),
            "DeviceTitle": sh.cfg.device_title,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
struct LoginIn {
    username: Option<String>,
    passwordhash: Option<String>,
}

fn login(sh: &Shared, body: &[u8]) -> R {
    let l: LoginIn = parse_body(body)?;
    let name = l.username.ok_or_else(|| required("UserName"))?;
    let hash = l.passwordhash.ok_or_else(|| required("PasswordHash"))?;
    let Some((idx, (user, password))) = sh
        .cfg
        .users
        .iter()
        .enumerate()
        .find(|(_, (u, _))| u.eq_ignore_ascii_case(name.trim()))
    else {
        sh.bump(|s| s.failed_logins += 1);
        return Err(SimError::business(
            404,
            format!("کاربر یافت نشد (user {name:?} not found)"),
        ));
    };
    if !crypto::md5_hex(password).eq_ignore_ascii_case(hash.trim()) {
        sh.bump(|s| s.failed_logins += 1);
        return Err(SimError::business(
            401,
            "رمز عبور اشتباه است (wrong password)",
        ));
    }
    let user_id = idx as i32 + 1;
    let token = sh.issue_token(user_id, user);
    sh.bump(|s| s.logins += 1);
    let mut v = serde_json::json!({
        "Token": token,
        "UserID": user_id,
        "Title": user,
    });
    if let Value::Object(o) = &mut v {
        for flag in [
            "CanEditCustomer",
            "CanRegisterCustomer",
            "CanRegisterOrder",
            "CanRegisterReturnOrder",
            "CanRegisterInvoice",
            "CanRegisterReturnInvoice",
            "CanPrintInvoice",
            "CanPrintReturnInvoice",
            "CanPrintInvoiceBeforeSend",
            "CanPrintReturnInvoiceBeforeSend",
            "CanRevokeInvoice",
            "CanPrintInvoiceWithRemainder",
            "CanRevokeReturnInvoice",
            "CanBypassLocationCheck",
            "CanBypassLocationCheckInHotInvoice",
            "CanDistribute",
            "CanDebtCollect",
            "CanEditDiscount",
            "CanEditAdditions",
            "CanEditTaxAndDuty",
            "CanPrintPartyBillReport",
        ] {
            o.insert(flag.into(), Value::Bool(true));
        }
    }
    Ok(json(201, &v))
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
struct AddressIn {
    customeraddressid: Option<i32>,
    title: Option<String>,
    ismain: Option<bool>,
    cityref: Option<i32>,
    address: Option<String>,
    zipcode: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    guid: Option<Uuid>,
}

impl AddressIn {
    fn into_new(self, i: usize) -> Result<(Option<i32>, NewAddress), SimError> {
        let city = self
            .cityref
            .ok_or_else(|| required(&format!("Addresses[{i}].CityRef")))?;
        Ok((
            self.customeraddressid.filter(|id| *id > 0),
            NewAddress {
                title: self.title,
                is_main: self.ismain.unwrap_or(false),
                city_ref: city,
                address: self.address,
                zip_code: self.zipcode,
                latitude: self.latitude,
                longitude: self.longitude,
                guid: self.guid,
            },
        ))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
struct CustomerIn {
    guid: Option<Uuid>,
    phonenumber: Option<String>,
    customertype: Option<i32>,
    name: Option<String>,
    lastname: Option<String>,
    #[serde(default, with = "num::date_opt")]
    birthdate: Option<NaiveDate>,
    nationalid: Option<String>,
    economiccode: Option<String>,
    version: Option<i32>,
    addresses: Option<Vec<AddressIn>>,
}

fn create_customer(db: &mut Db, body: &[u8]) -> Result<Customer, SimError> {
    let c: CustomerIn = parse_body(body)?;
    let guid = c.guid.ok_or_else(|| required("GUID"))?;
    let t = c.customertype.ok_or_else(|| required("CustomerType"))?;
    let t = CustomerType::from_code(t).ok_or_else(|| {
        bad(format!(
            "نوع مشتری نامعتبر است (CustomerType must be 1 or 2, got {t})"
        ))
    })?;
    let mut addresses = Vec::new();
    for (i, a) in c.addresses.unwrap_or_default().into_iter().enumerate() {
        addresses.push(a.into_new(i)?.1);
    }
    db.create_customer(NewCustomer {
        guid: Some(guid),
        customer_type: t,
        name: c.name.unwrap_or_default(),
        last_name: c.lastname,
        phone_number: c.phonenumber,
        national_id: c.nationalid,
        economic_code: c.economiccode,
        birth_date: c.birthdate,
        addresses,
        code: None,
    })
}

fn put_customer(db: &mut Db, id: i32, body: &[u8]) -> Result<Customer, SimError> {
    let c: CustomerIn = parse_body(body)?;
    if !db.customers.contains_key(&id) {
        return Err(SimError::not_found("Customer", id));
    }
    let version = c.version.ok_or_else(|| required("Version"))?;
    let addresses = match c.addresses {
        None => None,
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for (i, a) in list.into_iter().enumerate() {
                out.push(a.into_new(i)?);
            }
            Some(out)
        }
    };
    db.put_customer(
        id,
        CustomerPut {
            name: c.name,
            last_name: c.lastname,
            phone_number: c.phonenumber,
            birth_date: c.birthdate,
            national_id: c.nationalid,
            economic_code: c.economiccode,
            version,
            addresses,
        },
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
struct LineIn {
    rowid: Option<i32>,
    itemref: Option<i32>,
    tracingref: Option<i32>,
    stockref: Option<i32>,
    #[serde(default, with = "num::dec_opt")]
    quantity: Option<Decimal>,
    #[serde(default, with = "num::dec_opt")]
    secondaryquantity: Option<Decimal>,
    #[serde(default, with = "num::dec_opt")]
    fee: Option<Decimal>,
    #[serde(default, with = "num::dec_opt")]
    price: Option<Decimal>,
    #[serde(default, with = "num::dec_opt")]
    discount: Option<Decimal>,
    #[serde(default, with = "num::dec_opt")]
    tax: Option<Decimal>,
    #[serde(default, with = "num::dec_opt")]
    duty: Option<Decimal>,
    #[serde(default, with = "num::dec_opt")]
    addition: Option<Decimal>,
    #[serde(default, with = "num::dec_opt")]
    netprice: Option<Decimal>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
struct DocIn {
    guid: Option<Uuid>,
    currencyref: Option<i32>,
    #[serde(default, with = "num::dec_opt")]
    rate: Option<Decimal>,
    #[serde(default, with = "num::date_opt")]
    date: Option<NaiveDate>,
    #[serde(default, with = "num::date_opt")]
    expirationdate: Option<NaiveDate>,
    customerref: Option<i32>,
    addressref: Option<i32>,
    saletyperef: Option<i32>,
    settlementtype: Option<i32>,
    #[serde(default, with = "num::dec_opt")]
    discountoncustomer: Option<Decimal>,
    #[serde(default, with = "num::dec_opt")]
    price: Option<Decimal>,
    #[serde(default, with = "num::dec_opt")]
    discount: Option<Decimal>,
    #[serde(default, with = "num::dec_opt")]
    tax: Option<Decimal>,
    #[serde(default, with = "num::dec_opt")]
    duty: Option<Decimal>,
    #[serde(default, with = "num::dec_opt")]
    addition: Option<Decimal>,
    #[serde(default, with = "num::dec_opt")]
    netprice: Option<Decimal>,
    description: Option<String>,
    items: Option<Vec<LineIn>>,
}

/// Parses a quotation (`quotation = true`, `Date` required) or invoice body
/// (`Date` is set by the server to `today`).
fn parse_doc(body: &[u8], quotation: bool, today: NaiveDate) -> Result<DocInput, SimError> {
    let d: DocIn = parse_body(body)?;
    let guid = d
        .guid
        .ok_or_else(|| bad("GUID ارسال نشده است (GUID is required)"))?;
    let customer_ref = d.customerref.ok_or_else(|| required("CustomerRef"))?;
    let sale_type_ref = d.saletyperef.ok_or_else(|| required("SaleTypeRef"))?;
    let currency_ref = d.currencyref.ok_or_else(|| required("CurrencyRef"))?;
    let date = if quotation {
        d.date.ok_or_else(|| required("Date"))?
    } else {
        today
    };
    let price = d.price.ok_or_else(|| required("Price"))?;
    let items = d.items.ok_or_else(|| required("Items"))?;
    let mut lines = Vec::with_capacity(items.len());
    for (i, l) in items.into_iter().enumerate() {
        let f = |n: &str| format!("Items[{i}].{n}");
        let quantity = l.quantity.ok_or_else(|| required(&f("Quantity")))?;
        let fee = l.fee.ok_or_else(|| required(&f("Fee")))?;
        let lprice = l.price.ok_or_else(|| required(&f("Price")))?;
        let discount = l.discount.unwrap_or_default();
        let tax = l.tax.unwrap_or_default();
        let duty = l.duty.unwrap_or_default();
        let addition = l.addition.unwrap_or_default();
        lines.push(Line {
            row_id: l.rowid.unwrap_or(i as i32 + 1),
            item_ref: l.itemref.ok_or_else(|| required(&f("ItemRef")))?,
            tracing_ref: l.tracingref,
            stock_ref: l.stockref,
            quantity,
            secondary_quantity: l.secondaryquantity,
            fee,
            price: lprice,
            discount,
            tax,
            duty,
            addition,
            net_price: l
                .netprice
                .unwrap_or(lprice - discount + addition + tax + duty),
            description: l.description,
        });
    }
    let discount = d.discount.unwrap_or_default();
    let tax = d.tax.unwrap_or_default();
    let duty = d.duty.unwrap_or_default();
    let addition = d.addition.unwrap_or_default();
    Ok(DocInput {
        guid,
        customer_ref,
        address_ref: d.addressref,
        sale_type_ref,
        currency_ref,
        rate: d.rate.unwrap_or(Decimal::ONE),
        date,
        expiration_date: d.expirationdate,
        settlement_type: d.settlementtype.unwrap_or(if quotation { 1 } else { 2 }),
        discount_on_customer: d.discountoncustomer.unwrap_or_default(),
        description: d.description,
        totals: Totals {
            price,
            discount,
            tax,
            duty,
            addition,
            net_price: d
                .netprice
                .unwrap_or(price - discount + addition + tax + duty),
        },
        lines,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
struct DraftIn {
    #[serde(default, with = "num::date_opt")]
    date: Option<NaiveDate>,
    description: Option<String>,
    number: Option<Value>,
    bankaccountid: Option<i32>,
    #[serde(default, with = "num::dec_opt")]
    amount: Option<Decimal>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
struct ReceiptIn {
    currencyref: Option<i32>,
    #[serde(default, with = "num::dec_opt")]
    rate: Option<Decimal>,
    customerref: Option<i32>,
    drafts: Option<Vec<DraftIn>>,
    guid: Option<Uuid>,
    #[serde(default, with = "num::date_opt")]
    date: Option<NaiveDate>,
    description: Option<String>,
    #[serde(default, with = "num::dec_opt")]
    discount: Option<Decimal>,
}

fn parse_receipt(body: &[u8]) -> Result<ReceiptInput, SimError> {
    let r: ReceiptIn = parse_body(body)?;
    let guid = r.guid.ok_or_else(|| required("Guid"))?;
    let date = r.date.ok_or_else(|| required("Date"))?;
    let mut drafts = Vec::new();
    for (i, d) in r
        .drafts
        .ok_or_else(|| required("Drafts"))?
        .into_iter()
        .enumerate()
    {
        let number = match d.number {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => Some(other.to_string()),
        };
        drafts.push(DraftInput {
            date: d.date.unwrap_or(date),
            description: d.description,
            number,
            bank_account_id: d
                .bankaccountid
                .ok_or_else(|| required(&format!("Drafts[{i}].BankAccountID")))?,
            amount: d
                .amount
                .ok_or_else(|| required(&format!("Drafts[{i}].Amount")))?,
        });
    }
    Ok(ReceiptInput {
        guid,
        customer_ref: r.customerref.ok_or_else(|| required("CustomerRef"))?,
        currency_ref: r.currencyref.ok_or_else(|| required("CurrencyRef"))?,
        rate: r.rate.unwrap_or(Decimal::ONE),
        date,
        description: r.description,
        discount: r.discount.unwrap_or_default(),
        drafts,
    })
}
