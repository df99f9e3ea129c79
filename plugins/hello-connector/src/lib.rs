//! A connector for the JSON "demo ledger": the reference connector plugin.
//!
//! # Settings and secrets
//!
//! - setting `base_url` (required), e.g. `http://127.0.0.1:8081/api`
//! - setting `company_code` (optional), reported by `describe` (S17)
//! - secret `api_key`, sent as `Authorization: Bearer <api_key>`
//! - SQL database `ledger` for stock lookups
//!
//! # The demo ledger API
//!
//! Collections are `parties`, `products` and `sales-invoices`.
//!
//! - `GET {base}/{collection}?after={cursor}&limit={n}` (no `after` on the
//!   first pull) answers `{"items": [...], "next": "<cursor>" | null}`.
//!   Each item is `{"id", "version", "deleted": bool, ...fields}`; `next` is
//!   the cursor after the page's last item, `null` when the page is empty.
//! - `POST {base}/parties` with header `Idempotency-Key` creates a party;
//!   the same key twice returns the first party. Answers
//!   `{"id", "version", "number"?}`.
//! - `PUT {base}/parties/{id}` with `If-Match: <version>` replaces a party;
//!   a stale version answers 412.
//! - `DELETE {base}/parties/{id}`.
//! - `GET {base}/parties/{id}/balance` answers
//!   `{"debit", "credit", "balance", "currency"?}` with decimal strings.
//! - Errors: 401 unauthorized, 404 not found, 409 conflict, 412 version
//!   mismatch, 400/422 `{"field"?, "message"?}`, 5xx unavailable.
//!
//! Field shapes (all optional but `id`; decimals are strings):
//!
//! - party: `kind` (`person`|`organisation`), `first_name`, `last_name`,
//!   `name`, `customer_number`, `national_id`, `economic_code`,
//!   `phones: [{"number", "kind"?}]`, `address`, `city`, `postal_code`
//! - product: `code`, `name`, `unit`, `price` (Rial), `tax_rate`,
//!   `toll_rate`, `tax_exempt`
//! - sales invoice: `number`, `date` (`YYYY-MM-DD`), `party_id`, `currency`,
//!   `lines: [{"product_id", "description"?, "quantity", "unit_price",
//!   "discount", "tax_rate", "toll_rate", "tax", "toll", "total"}]`,
//!   `discount`, `tax_total`, `toll_total`, `total`, `note`
//!
//! Stock is not in the HTTP API: it is read from the ledger database with
//! `SELECT warehouse, quantity FROM stock WHERE product_id = $1`.

use hamgam_sdk::http::{self, Request, Response};
use hamgam_sdk::sql::{self, Value};
use hamgam_sdk::web::percent_encode;
use hamgam_sdk::{
    Address, Balance, Change, ChangePage, Connector, ConnectorInfo, ConnectorRole, Date, Decimal,
    Direction, Document, DocumentKind, DocumentLine, Entity, EntityKind, EntitySupport, Error,
    Money, Party, PartyKind, Phone, PhoneKind, Product, PushOutcome, RemoteRecord, Result,
    StockLevel, clock, config, info, state, warn,
};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

struct DemoLedger;

impl Connector for DemoLedger {
    fn describe() -> ConnectorInfo {
        let support = |kind, direction, reports_deletes| EntitySupport {
            kind,
            direction,
            reports_deletes,
        };
        ConnectorInfo {
            ledger: "Demo ledger".into(),
            company_code: config::get("company_code"),
            role: ConnectorRole::Books,
            entities: vec![
                support(EntityKind::Party, Direction::Both, true),
                support(EntityKind::Product, Direction::LedgerToCrm, true),
                support(EntityKind::SalesInvoice, Direction::LedgerToCrm, true),
            ],
        }
    }

    fn pull(kind: EntityKind, cursor: Option<String>, limit: u32) -> Result<ChangePage> {
        let collection = collection(kind)?;
        let mut url = format!("{}/{collection}?limit={limit}", base_url()?);
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&after={}", percent_encode(cursor)));
        }
        let page: Page = check(send(Request::get(url))?)?.json()?;

        let mut changes = Vec::with_capacity(page.items.len());
        for item in page.items {
            changes.push(to_change(kind, item)?);
        }
        let fetched = changes.len();
        // Informational only: the host keeps the authoritative cursor in the
        // same transaction as the page it applies.
        if let Some(next) = &page.next {
            state::set(&format!("cursor:{collection}"), next.as_bytes())?;
        }
        info!(
            "pulled {fetched} {collection} after {} at {} ms",
            cursor.as_deref().unwrap_or("the beginning"),
            clock::now_millis()
        );
        Ok(ChangePage {
            changes,
            has_more: page.next.is_some() && fetched == limit as usize,
            full_scan: false,
            // An empty page says nothing new: stay where we were rather than
            // restart from the beginning.
            next_cursor: page.next.or(cursor),
        })
    }

    fn push(
        kind: EntityKind,
        record: Entity,
        remote_id: Option<String>,
        version: Option<String>,
        idempotency_key: String,
    ) -> Result<PushOutcome> {
        let (EntityKind::Party, Entity::Party(party)) = (kind, record) else {
            return Err(Error::Unsupported(format!(
                "the demo ledger accepts only parties from the CRM, not {kind:?}"
            )));
        };
        let body = DemoParty::from(&party);
        let base = base_url()?;
        let request = match &remote_id {
            None => {
                Request::post(format!("{base}/parties")).header("Idempotency-Key", idempotency_key)
            }
            Some(id) => {
                let request = Request::put(format!("{base}/parties/{}", percent_encode(id)));
                match version {
                    Some(version) => request.header("If-Match", version),
                    None => request,
                }
            }
        };
        let saved: Saved = check(send(request.json(&body)?)?)?.json()?;
        Ok(PushOutcome {
            remote_id: saved.id,
            version: saved.version.as_ref().map(json_to_string),
            number: saved.number,
        })
    }

    fn delete(kind: EntityKind, remote_id: String) -> Result<()> {
        let collection = collection(kind)?;
        let url = format!(
            "{}/{collection}/{}",
            base_url()?,
            percent_encode(&remote_id)
        );
        check(send(Request::delete(url))?)?;
        Ok(())
    }

    fn party_balance(remote_id: String) -> Result<Balance> {
        let url = format!(
            "{}/parties/{}/balance",
            base_url()?,
            percent_encode(&remote_id)
        );
        let balance: DemoBalance = check(send(Request::get(url))?)?.json()?;
        let currency = balance.currency.unwrap_or_else(|| "IRR".into());
        let money = |field: &str, value: &str| -> Result<Money> {
            Ok(Money {
                amount: decimal(field, Some(value))?,
                currency: currency.clone(),
            })
        };
        Ok(Balance {
            debit: money("debit", &balance.debit)?,
            credit: money("credit", &balance.credit)?,
            balance: money("balance", &balance.balance)?,
        })
    }

    fn product_stock(remote_id: String) -> Result<Vec<StockLevel>> {
        let rows = sql::read("ledger", "stock-by-product", &[Value::Text(remote_id)])?;
        let (Some(warehouse), Some(quantity)) = (rows.column("warehouse"), rows.column("quantity"))
        else {
            return Err(Error::Other(format!(
                "stock query returned columns {:?}",
                rows.columns
            )));
        };
        rows.rows
            .iter()
            .map(|row| {
                let cell = |i: usize| row.get(i).unwrap_or(&Value::Null);
                let warehouse = match cell(warehouse) {
                    Value::Text(s) => s.clone(),
                    Value::Integer(n) => n.to_string(),
                    other => return Err(Error::Other(format!("warehouse is {other:?}"))),
                };
                let quantity = match cell(quantity) {
                    Value::Text(s) => s.parse()?,
                    other => other
                        .as_decimal()
                        .ok_or_else(|| Error::Other(format!("quantity is {other:?}")))?,
                };
                Ok(StockLevel {
                    warehouse,
                    quantity,
                })
            })
            .collect()
    }
}

hamgam_sdk::export_connector!(DemoLedger);

/// The collection a kind lives in; kinds the demo ledger lacks are
/// `unsupported` so the sync engine stops asking.
fn collection(kind: EntityKind) -> Result<&'static str> {
    match kind {
        EntityKind::Party => Ok("parties"),
        EntityKind::Product => Ok("products"),
        EntityKind::SalesInvoice => Ok("sales-invoices"),
        other => Err(Error::Unsupported(format!(
            "the demo ledger has no {other:?} records"
        ))),
    }
}

fn base_url() -> Result<String> {
    Ok(config::require("base_url")?
        .trim_end_matches('/')
        .to_owned())
}

/// Every request carries the bearer token; the secret is read per call so a
/// rotated key takes effect without a restart.
fn send(request: Request) -> Result<Response> {
    let token = config::secret("api_key")?;
    http::send(request.bearer(&token).header("Accept", "application/json"))
}

/// Map the demo ledger's error statuses to the WIT error the sync engine
/// acts on (retry, park, re-read the version…).
fn check(response: Response) -> Result<Response> {
    if response.is_success() {
        return Ok(response);
    }
    let problem: Problem = serde_json::from_slice(&response.body).unwrap_or_default();
    let message = problem.message.clone().unwrap_or_else(|| {
        format!(
            "demo ledger answered {}: {}",
            response.status,
            response.text()
        )
    });
    Err(match response.status {
        401 | 403 => Error::Unauthorized(message),
        404 => Error::NotFound(message),
        409 => Error::Conflict(message),
        412 => Error::VersionMismatch(message),
        400 | 422 => Error::invalid(problem.field.unwrap_or_default(), message),
        500..=599 => Error::Unavailable(message),
        _ => Error::Other(message),
    })
}

#[derive(Deserialize)]
struct Page {
    items: Vec<Item>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    id: String,
    #[serde(default)]
    version: Option<Json>,
    #[serde(default)]
    deleted: bool,
    #[serde(flatten)]
    fields: serde_json::Map<String, Json>,
}

#[derive(Deserialize)]
struct Saved {
    id: String,
    #[serde(default)]
    version: Option<Json>,
    #[serde(default)]
    number: Option<String>,
}

#[derive(Deserialize)]
struct DemoBalance {
    debit: String,
    credit: String,
    balance: String,
    #[serde(default)]
    currency: Option<String>,
}

#[derive(Deserialize, Default)]
struct Problem {
    field: Option<String>,
    message: Option<String>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct DemoParty {
    kind: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    name: Option<String>,
    customer_number: Option<String>,
    national_id: Option<String>,
    economic_code: Option<String>,
    phones: Vec<DemoPhone>,
    address: Option<String>,
    city: Option<String>,
    postal_code: Option<String>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct DemoPhone {
    number: String,
    kind: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DemoProduct {
    code: Option<String>,
    name: String,
    unit: Option<String>,
    price: Option<String>,
    tax_rate: Option<String>,
    toll_rate: Option<String>,
    tax_exempt: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DemoInvoice {
    number: Option<String>,
    date: String,
    party_id: String,
    currency: Option<String>,
    lines: Vec<DemoLine>,
    discount: Option<String>,
    tax_total: Option<String>,
    toll_total: Option<String>,
    total: Option<String>,
    note: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DemoLine {
    product_id: String,
    description: Option<String>,
    quantity: Option<String>,
    unit_price: Option<String>,
    discount: Option<String>,
    tax_rate: Option<String>,
    toll_rate: Option<String>,
    tax: Option<String>,
    toll: Option<String>,
    total: Option<String>,
}

fn to_change(kind: EntityKind, item: Item) -> Result<Change> {
    if item.deleted {
        return Ok(Change::Deleted(item.id));
    }
    let fields = Json::Object(item.fields);
    let entity = match kind {
        EntityKind::Party => Entity::Party(party(parse(&item.id, fields)?)),
        EntityKind::Product => Entity::Product(product(&item.id, parse(&item.id, fields)?)?),
        _ => Entity::Document(invoice(parse(&item.id, fields)?)?),
    };
    Ok(Change::Upsert(RemoteRecord {
        remote_id: item.id,
        version: item.version.as_ref().map(json_to_string),
        origin_key: None,
        entity,
    }))
}

fn parse<T: serde::de::DeserializeOwned>(id: &str, fields: Json) -> Result<T> {
    serde_json::from_value(fields)
        .map_err(|e| Error::Other(format!("demo ledger record `{id}` is malformed: {e}")))
}

fn party(p: DemoParty) -> Party {
    let kind = match p.kind.as_deref() {
        Some("organisation") => PartyKind::Organisation,
        _ => PartyKind::Person,
    };
    let phones = p
        .phones
        .into_iter()
        .enumerate()
        .map(|(i, phone)| Phone {
            number: phone.number.chars().filter(char::is_ascii_digit).collect(),
            area_code: None,
            kind: match phone.kind.as_deref() {
                Some("mobile") => PhoneKind::Mobile,
                Some("home") => PhoneKind::Home,
                Some("fax") => PhoneKind::OfficeFax,
                Some("office") | None => PhoneKind::Office,
                Some(_) => PhoneKind::Other,
            },
            is_default: i == 0,
        })
        .collect();
    let addresses = p
        .address
        .map(|line| Address {
            line,
            city: p.city,
            province: None,
            postal_code: p.postal_code,
            city_ref: None,
            is_default: true,
        })
        .into_iter()
        .collect();
    Party {
        kind,
        first_name: p.first_name,
        last_name: p.last_name,
        name: p.name,
        customer_number: p.customer_number,
        national_id: p.national_id,
        registration_number: None,
        economic_code: p.economic_code,
        birth_date: None,
        is_employee: false,
        phones,
        addresses,
    }
}

impl From<&Party> for DemoParty {
    fn from(p: &Party) -> Self {
        let address = p
            .addresses
            .iter()
            .find(|a| a.is_default)
            .or(p.addresses.first());
        DemoParty {
            kind: Some(
                match p.kind {
                    PartyKind::Person => "person",
                    PartyKind::Organisation => "organisation",
                }
                .into(),
            ),
            first_name: p.first_name.clone(),
            last_name: p.last_name.clone(),
            name: p.name.clone(),
            customer_number: p.customer_number.clone(),
            national_id: p.national_id.clone(),
            economic_code: p.economic_code.clone(),
            phones: p
                .phones
                .iter()
                .map(|phone| DemoPhone {
                    number: match &phone.area_code {
                        Some(area) => format!("{area}{}", phone.number),
                        None => phone.number.clone(),
                    },
                    kind: Some(
                        match phone.kind {
                            PhoneKind::Mobile => "mobile",
                            PhoneKind::Home => "home",
                            PhoneKind::Office => "office",
                            PhoneKind::OfficeFax | PhoneKind::HomeFax | PhoneKind::OtherFax => {
                                "fax"
                            }
                            PhoneKind::Other => "other",
                        }
                        .into(),
                    ),
                })
                .collect(),
            address: address.map(|a| a.line.clone()),
            city: address.and_then(|a| a.city.clone()),
            postal_code: address.and_then(|a| a.postal_code.clone()),
        }
    }
}

fn product(id: &str, p: DemoProduct) -> Result<Product> {
    Ok(Product {
        code: p.code.unwrap_or_else(|| id.to_owned()),
        name: p.name,
        unit: p.unit.unwrap_or_else(|| "unit".into()),
        sales_price: match p.price {
            Some(price) => Some(Money {
                amount: decimal("price", Some(&price))?,
                currency: "IRR".into(),
            }),
            None => None,
        },
        tax_rate: decimal("tax_rate", p.tax_rate.as_deref())?,
        toll_rate: decimal("toll_rate", p.toll_rate.as_deref())?,
        tax_exempt: p.tax_exempt,
    })
}

fn invoice(doc: DemoInvoice) -> Result<Document> {
    let lines = doc
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let field = |name: &str| format!("lines.{i}.{name}");
            Ok(DocumentLine {
                product_ref: line.product_id.clone(),
                description: line.description.clone(),
                quantity: decimal(&field("quantity"), line.quantity.as_deref())?,
                unit_price: decimal(&field("unit_price"), line.unit_price.as_deref())?,
                discount: decimal(&field("discount"), line.discount.as_deref())?,
                additions: Decimal::ZERO,
                tax_rate: decimal(&field("tax_rate"), line.tax_rate.as_deref())?,
                toll_rate: decimal(&field("toll_rate"), line.toll_rate.as_deref())?,
                tax_exempt: false,
                tax: decimal(&field("tax"), line.tax.as_deref())?,
                toll: decimal(&field("toll"), line.toll.as_deref())?,
                total: decimal(&field("total"), line.total.as_deref())?,
                serial_numbers: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let date: Date = doc
        .date
        .parse()
        .map_err(|_| Error::invalid("date", format!("`{}` is not YYYY-MM-DD", doc.date)))?;
    if lines.is_empty() {
        warn!("demo ledger invoice {:?} has no lines", doc.number);
    }
    Ok(Document {
        kind: DocumentKind::SalesInvoice,
        number: doc.number,
        date,
        party_ref: doc.party_id,
        currency: doc.currency.unwrap_or_else(|| "IRR".into()),
        lines,
        discount: decimal("discount", doc.discount.as_deref())?,
        additions: Decimal::ZERO,
        tax_total: decimal("tax_total", doc.tax_total.as_deref())?,
        toll_total: decimal("toll_total", doc.toll_total.as_deref())?,
        total: decimal("total", doc.total.as_deref())?,
        settlements: Vec::new(),
        related_ref: None,
        note: doc.note,
    })
}

/// A decimal string from the ledger; absent means zero.
fn decimal(field: &str, value: Option<&str>) -> Result<Decimal> {
    match value {
        None => Ok(Decimal::ZERO),
        Some(s) => s
            .parse()
            .map_err(|_| Error::invalid(field, format!("`{s}` is not a decimal"))),
    }
}

/// Versions arrive as numbers or strings; the host only passes them back.
fn json_to_string(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}
