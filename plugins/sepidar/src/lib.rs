//! Sepidar (سپیدار) ledger connector.
//!
//! Talks to Sepidar's e-commerce web service (GenerationVersion 110) as
//! described in `/work/sepidar-contract.md` and integrations.md §1, and,
//! when the operator grants Sepidar's database, reads purchases, receipts,
//! payments and employees from it with the read statements `plugin.toml`
//! declares.
//!
//! # Settings and secrets
//!
//! | key | meaning |
//! |---|---|
//! | `base_url` | e.g. `http://127.0.0.1:7373/api` (required) |
//! | `serial` | the 8-character device serial from Sepidar (required) |
//! | `username` | Sepidar user attached to the device (required) |
//! | secret `password` | that user's password (sent as MD5 hex) |
//! | `company_code` | 100–999, reported by `describe` (S17) |
//! | `sale_type` | SaleTypeID for prices and pushed quotes (default 1) |
//! | `stock` | StockID for pushed quote lines (default: first active stock) |
//! | `generation_version` | must be 110 (the only one supported) |
//! | `reconcile_interval_s` | seconds between full scans (default 300) |
//! | `documents_from` | first date of invoice/return reads (default 2000-01-01) |
//! | `sync_employees` | S3, default false |
//! | `database` | granted SQL database with Sepidar's schema (manifest name `sepidar`) |
//!
//! # Pull
//!
//! Sepidar has no change feed: see [`cursor`] for the scan/tail cursor. A
//! full scan reports every record with `full_scan: true`, so the host asks
//! `fetch` about linked records the scan did not see and propagates
//! deletions.
//!
//! # Quote updates
//!
//! The web service has no quotation PUT. An update posts the new version
//! (GUID = the idempotency key) and then deletes the old quotation, so a
//! retry after a failure between the two steps finds the new one by GUID
//! and finishes the delete. Sepidar numbers the new quotation itself, so
//! the number changes (the outcome carries it). A closed quotation is a
//! `conflict`.

use std::collections::{HashMap, HashSet};

use hamgam_sdk::sql::{self, Rows};
use hamgam_sdk::{
    Balance, Change, ChangePage, Connector, ConnectorInfo, ConnectorRole, Date, Direction,
    Document, DocumentKind, Entity, EntityKind, EntitySupport, Error, HistoryPage, Money, Party,
    PushOutcome, RemoteRecord, Result, StockLevel, clock, config, state, warn,
};
use rust_decimal::Decimal;
mod client;
mod crypto;
pub mod cursor;
mod errors;
mod history;
mod json;
mod mapping;
mod model;
mod settings;
mod sqlsrc;

use client::Client;
use cursor::{Cursor, Step};
use errors::Sent;
use mapping::{Divisions, QuoteTarget};
use model::{
    Currency, Customer, Division, Inventory, Item, Page, PriceNoteItem, SaleDocument, Stock, Unit,
};
use settings::Settings;
use sqlsrc::{Detail, Row, Source};

struct Sepidar;

impl Connector for Sepidar {
    fn describe() -> ConnectorInfo {
        let support = |kind, direction| EntitySupport {
            kind,
            direction,
            reports_deletes: false,
        };
        let mut entities = vec![
            support(EntityKind::Party, Direction::Both),
            support(EntityKind::Product, Direction::LedgerToCrm),
            support(EntityKind::Quote, Direction::Both),
            // Both: the engine sends only invoices that came from a sales
            // channel (H10); the CRM's own never go (S14).
            support(EntityKind::SalesInvoice, Direction::Both),
            support(EntityKind::SalesReturn, Direction::LedgerToCrm),
        ];
        if config::get("database").is_some_and(|d| !d.trim().is_empty()) {
            for kind in [
                EntityKind::PurchaseInvoice,
                EntityKind::PurchaseReturn,
                EntityKind::Receipt,
                EntityKind::Payment,
            ] {
                entities.push(support(kind, Direction::LedgerToCrm));
            }
        }
        ConnectorInfo {
            ledger: "Sepidar".into(),
            company_code: config::get("company_code"),
            role: ConnectorRole::Books,
            entities,
        }
    }

    fn pull(kind: EntityKind, cursor: Option<String>, limit: u32) -> Result<ChangePage> {
        let settings = load_settings()?;
        let sources = sources_for(kind, &settings)?;
        let limit = limit.clamp(1, 1000);
        let now = clock::now_millis();
        let cursor = Cursor::resume(cursor.as_deref(), now, settings.reconcile_interval_ms);
        let step = cursor.step();
        let source = sources
            .get(step.source)
            .copied()
            .unwrap_or(Src::Web(WebList::Customers));
        let mut client = Client::connect(settings)?;
        let page = read_page(&mut client, source, &step, limit)?;
        let advance = cursor.advance(&page.ids, limit, sources.len(), now);
        Ok(ChangePage {
            changes: page.changes,
            next_cursor: Some(advance.cursor.to_json()),
            has_more: advance.has_more,
            full_scan: advance.full_scan,
        })
    }

    fn push(
        kind: EntityKind,
        record: Entity,
        remote_id: Option<String>,
        version: Option<String>,
        idempotency_key: String,
    ) -> Result<PushOutcome> {
        let settings = load_settings()?;
        match (kind, record) {
            (EntityKind::Party, Entity::Party(party)) => {
                let mut client = Client::connect(settings)?;
                match remote_id {
                    None => create_customer(&mut client, &party, &idempotency_key),
                    Some(id) => update_customer(&mut client, &party, &id, version.as_deref()),
                }
            }
            (EntityKind::Quote, Entity::Document(doc)) => {
                let mut client = Client::connect(settings)?;
                push_quote(&mut client, &doc, remote_id.as_deref(), &idempotency_key)
            }
            (EntityKind::SalesInvoice, Entity::Document(doc)) => {
                let mut client = Client::connect(settings)?;
                push_invoice(&mut client, &doc, remote_id.as_deref(), &idempotency_key)
            }
            (EntityKind::Party | EntityKind::Quote | EntityKind::SalesInvoice, _) => {
                Err(Error::invalid(
                    "entity",
                    format!("a {kind:?} push must carry a {kind:?} record"),
                ))
            }
            (EntityKind::Product, _) => Err(Error::Unsupported(
                "products travel only from Sepidar to the CRM (S13)".into(),
            )),
            (other, _) => Err(Error::Unsupported(format!(
                "Sepidar accepts only parties, quotes and sales-channel invoices from the CRM, not {other:?}"
            ))),
        }
    }

    fn delete(kind: EntityKind, remote_id: String) -> Result<()> {
        if kind != EntityKind::Quote {
            return Err(Error::Unsupported(format!(
                "the connector deletes only quotes in Sepidar, not {kind:?}"
            )));
        }
        let mut client = Client::connect(load_settings()?)?;
        delete_quote(&mut client, &remote_id)
    }

    fn fetch(kind: EntityKind, remote_id: String) -> Result<Option<RemoteRecord>> {
        let settings = load_settings()?;
        sources_for(kind, &settings)?;
        let mut client = Client::connect(settings)?;
        fetch_one(&mut client, kind, &remote_id)
    }

    fn party_balance(remote_id: String) -> Result<Balance> {
        let mut client = Client::connect(load_settings()?)?;
        let id = parse_id(&remote_id)?;
        let customer: Customer = client
            .get_opt(&format!("Customers/{id}"))?
            .ok_or_else(|| Error::NotFound(format!("Sepidar has no customer {id}")))?;
        Ok(balance(customer.accounting_remainder.unwrap_or_default()))
    }

    fn product_stock(remote_id: String) -> Result<Vec<StockLevel>> {
        let mut client = Client::connect(load_settings()?)?;
        let id = parse_id(&remote_id)?;
        let levels: Vec<Inventory> = client
            .get_opt(&format!("Items/Inventories/{id}"))?
            .ok_or_else(|| Error::NotFound(format!("Sepidar has no item {id}")))?;
        let stocks: Vec<Stock> = client.get("Stocks")?;
        Ok(stock_levels(&levels, &stocks))
    }

    fn count_period(kind: EntityKind, from: Date, to: Date) -> Result<Option<u64>> {
        history::count(kind, from, to)
    }

    fn pull_period(
        kind: EntityKind,
        from: Date,
        to: Date,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<HistoryPage> {
        history::page(kind, from, to, cursor, limit)
    }
}

hamgam_sdk::export_connector!(Sepidar);

fn load_settings() -> Result<Settings> {
    Settings::from_lookup(config::get)
}

fn parse_id(remote_id: &str) -> Result<i64> {
    remote_id
        .trim()
        .parse()
        .map_err(|_| Error::invalid("remote-id", format!("`{remote_id}` is not a Sepidar id")))
}

/// S7: Sepidar's `AccountingRemainder` (Rial); positive means the customer
/// owes (debit), negative that we owe them (credit).
fn balance(remainder: Decimal) -> Balance {
    let (debit, credit) = if remainder.is_sign_negative() {
        (Decimal::ZERO, -remainder)
    } else {
        (remainder, Decimal::ZERO)
    };
    Balance {
        debit: Money::rial(debit),
        credit: Money::rial(credit),
        balance: Money::rial(remainder),
    }
}

/// Stock per warehouse, summed over tracings, named by the stock's title.
fn stock_levels(levels: &[Inventory], stocks: &[Stock]) -> Vec<StockLevel> {
    let mut sums: Vec<(i64, Decimal)> = Vec::new();
    for level in levels {
        match sums.iter_mut().find(|(s, _)| *s == level.stock_ref) {
            Some((_, q)) => *q += level.quantity,
            None => sums.push((level.stock_ref, level.quantity)),
        }
    }
    sums.into_iter()
        .map(|(stock, quantity)| StockLevel {
            warehouse: stocks
                .iter()
                .find(|s| s.stock_id == stock)
                .map_or_else(|| stock.to_string(), |s| s.title.clone()),
            quantity: quantity.normalize().into(),
        })
        .collect()
}

/// A web-service list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WebList {
    Customers,
    Items,
    Quotations,
    Invoices,
    ReturnedInvoices,
}

/// Where a kind's records come from, read in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    Web(WebList),
    Sql(Source),
}

fn sources_for(kind: EntityKind, settings: &Settings) -> Result<Vec<Src>> {
    let needs_sql = |sources: Vec<Src>| {
        if settings.database.is_some() {
            Ok(sources)
        } else {
            Err(Error::Unsupported(format!(
                "{kind:?} is read from Sepidar's database; set `database` to a granted database"
            )))
        }
    };
    match kind {
        EntityKind::Party if settings.employees_from_sql() => Ok(vec![
            Src::Web(WebList::Customers),
            Src::Sql(Source::Employee),
        ]),
        EntityKind::Party => Ok(vec![Src::Web(WebList::Customers)]),
        EntityKind::Product => Ok(vec![Src::Web(WebList::Items)]),
        EntityKind::Quote => Ok(vec![Src::Web(WebList::Quotations)]),
        EntityKind::SalesInvoice => Ok(vec![Src::Web(WebList::Invoices)]),
        EntityKind::SalesReturn => Ok(vec![Src::Web(WebList::ReturnedInvoices)]),
        EntityKind::PurchaseInvoice => needs_sql(vec![
            Src::Sql(Source::WarehouseReceipt),
            Src::Sql(Source::ServicePurchaseInvoice),
        ]),
        EntityKind::PurchaseReturn => needs_sql(vec![Src::Sql(Source::WarehouseReturn)]),
        EntityKind::Receipt => needs_sql(vec![Src::Sql(Source::Receipt)]),
        EntityKind::Payment => needs_sql(vec![Src::Sql(Source::Payment)]),
        other => Err(Error::Unsupported(format!(
            "the Sepidar connector does not move {other:?} records"
        ))),
    }
}

/// The paged list URL for a cursor step.
fn list_path(list: WebList, step: &Step, limit: u32, settings: &Settings) -> String {
    let (path, id) = match list {
        WebList::Customers => ("Customers/Paginated".to_owned(), "CustomerID"),
        WebList::Items => ("Items/Paginated".to_owned(), "ItemID"),
        WebList::Quotations => ("Quotations/Paginated".to_owned(), "QuotationID"),
        // BasedOnDate: `Invoices/Paginated` is the current fiscal year only.
        WebList::Invoices => (dated("Invoices", settings), "InvoiceID"),
        WebList::ReturnedInvoices => (dated("ReturnedInvoices", settings), "ReturnedInvoiceID"),
    };
    let order = if step.descending {
        "orderByDesc"
    } else {
        "orderBy"
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    format!(
        "{path}{sep}limit={limit}&offset={}&{order}={id}",
        step.offset
    )
}

fn dated(resource: &str, settings: &Settings) -> String {
    format!(
        "{resource}/BasedOnDate/Paginated?fromDate={}&toDate=2100-01-01T00:00:00",
        mapping::format_date(&settings.documents_from)
    )
}

/// One page: every id read (for the cursor) and the changes to report.
struct PageOut {
    ids: Vec<i64>,
    changes: Vec<Change>,
}

fn upsert(remote_id: String, version: Option<String>, entity: Entity) -> Change {
    upsert_keyed(remote_id, version, None, entity)
}

/// An upsert carrying the `GUID` the record was created with: for a record
/// Hamgam pushed, that is the push's idempotency key, so the host knows the
/// record as its own even if the push's answer never arrived.
fn upsert_keyed(
    remote_id: String,
    version: Option<String>,
    origin_key: Option<String>,
    entity: Entity,
) -> Change {
    Change::Upsert(RemoteRecord {
        remote_id,
        version,
        origin_key,
        entity,
    })
}

fn read_page(client: &mut Client, source: Src, step: &Step, limit: u32) -> Result<PageOut> {
    let is_new = |id: i64| step.newer_than.is_none_or(|max| id > max);
    match source {
        Src::Web(list) => {
            let path = list_path(list, step, limit, &client.settings);
            let raw: Page<serde_json::Value> = client.get(&path)?;
            let ids: Vec<i64> = raw
                .result
                .iter()
                .filter_map(|r| {
                    [
                        "CustomerID",
                        "ItemID",
                        "QuotationID",
                        "InvoiceID",
                        "ReturnedInvoiceID",
                    ]
                    .iter()
                    .find_map(|k| r.get(*k).and_then(serde_json::Value::as_i64))
                })
                .collect();
            let fresh: Vec<serde_json::Value> = raw
                .result
                .into_iter()
                .zip(ids.iter())
                .filter(|(_, id)| is_new(**id))
                .map(|(r, _)| r)
                .collect();
            let changes = web_changes(client, list, fresh)?;
            Ok(PageOut { ids, changes })
        }
        Src::Sql(src) => {
            let db = database(&client.settings)?;
            let page = src.page(step, limit)?;
            let rows = sql::read(&db, &page.name, &page.params)?;
            let ids: Vec<i64> = Row::all(&rows).filter_map(|r| r.int("Id")).collect();
            let fresh: Vec<i64> = ids.iter().copied().filter(|id| is_new(*id)).collect();
            let changes = sql_changes(client, src, &db, &rows, &fresh)?;
            Ok(PageOut { ids, changes })
        }
    }
}

fn database(settings: &Settings) -> Result<String> {
    settings
        .database
        .clone()
        .ok_or_else(|| Error::invalid("database", "no SQL database configured"))
}

fn parse_records<T: serde::de::DeserializeOwned>(
    records: Vec<serde_json::Value>,
) -> Result<Vec<T>> {
    records
        .into_iter()
        .map(|r| {
            serde_json::from_value(r)
                .map_err(|e| Error::Other(format!("unexpected Sepidar record: {e}")))
        })
        .collect()
}

fn web_changes(
    client: &mut Client,
    list: WebList,
    records: Vec<serde_json::Value>,
) -> Result<Vec<Change>> {
    match list {
        WebList::Customers => {
            let customers: Vec<Customer> = parse_records(records)?;
            let employees = employee_customers(client, &customers)?;
            let divisions = divisions(client, false)?;
            Ok(customers
                .iter()
                .filter(|c| !employees.contains(&c.customer_id))
                .map(|c| customer_change(c, &divisions))
                .collect())
        }
        WebList::Items => {
            let items: Vec<Item> = parse_records(records)?;
            if items.is_empty() {
                return Ok(Vec::new());
            }
            let catalog = Catalog::load(client)?;
            Ok(items
                .iter()
                .map(|i| {
                    upsert(
                        i.item_id.to_string(),
                        None,
                        Entity::Product(catalog.product(i)),
                    )
                })
                .collect())
        }
        WebList::Quotations => {
            let headers: Vec<SaleDocument> = parse_records(records)?;
            let mut items = HashMap::new();
            let mut out = Vec::new();
            for header in headers {
                // The list has no lines: read each quotation in full.
                let Some(full) =
                    client.get_opt::<SaleDocument>(&format!("Quotations/{}", header.id))?
                else {
                    continue;
                };
                out.push(sale_change(client, DocumentKind::Quote, &full, &mut items)?);
            }
            Ok(out)
        }
        WebList::Invoices | WebList::ReturnedInvoices => {
            let kind = if list == WebList::Invoices {
                DocumentKind::SalesInvoice
            } else {
                DocumentKind::SalesReturn
            };
            let docs: Vec<SaleDocument> = parse_records(records)?;
            let mut items = HashMap::new();
            docs.iter()
                .map(|d| sale_change(client, kind, d, &mut items))
                .collect()
        }
    }
}

fn customer_change(c: &Customer, divisions: &Divisions) -> Change {
    upsert_keyed(
        c.customer_id.to_string(),
        c.version.map(|v| v.to_string()),
        c.guid.clone(),
        Entity::Party(mapping::customer_to_party(c, divisions)),
    )
}

fn sale_change(
    client: &mut Client,
    kind: DocumentKind,
    doc: &SaleDocument,
    items: &mut HashMap<i64, Item>,
) -> Result<Change> {
    load_items(client, doc, items)?;
    let document = mapping::sale_to_document(kind, doc, items)?;
    Ok(upsert_keyed(
        doc.id.to_string(),
        None,
        doc.guid.clone(),
        Entity::Document(document),
    ))
}

/// The items of a document's lines (for exact tax/toll rates), cached for
/// the rest of the pull.
fn load_items(
    client: &mut Client,
    doc: &SaleDocument,
    items: &mut HashMap<i64, Item>,
) -> Result<()> {
    for line in &doc.items {
        if items.contains_key(&line.item_ref) {
            continue;
        }
        if let Some(item) = client.get_opt::<Item>(&format!("Items/{}", line.item_ref))? {
            items.insert(line.item_ref, item);
        }
    }
    Ok(())
}

/// Units and the price list, read once per pull of products.
struct Catalog {
    units: HashMap<i64, String>,
    prices: Vec<PriceNoteItem>,
    sale_type: i64,
}

impl Catalog {
    fn load(client: &mut Client) -> Result<Self> {
        let units: Vec<Unit> = client.get("Units")?;
        let prices: Vec<PriceNoteItem> = client.get("PriceNoteItems")?;
        Ok(Catalog {
            units: units.into_iter().map(|u| (u.unit_id, u.title)).collect(),
            prices,
            sale_type: client.settings.sale_type,
        })
    }

    fn product(&self, item: &Item) -> hamgam_sdk::Product {
        let unit = item.unit_ref.and_then(|u| self.units.get(&u).cloned());
        let price = mapping::pick_price(&self.prices, item.item_id, self.sale_type);
        mapping::item_to_product(item, unit, price)
    }
}

/// The customers of this page that are employees (S3), when the database
/// can tell; none otherwise.
fn employee_customers(client: &Client, customers: &[Customer]) -> Result<HashSet<i64>> {
    if !client.settings.filters_employees() || customers.is_empty() {
        return Ok(HashSet::new());
    }
    let db = database(&client.settings)?;
    let ids: Vec<i64> = customers.iter().map(|c| c.customer_id).collect();
    let call = sqlsrc::employees_among(&ids);
    let rows = sql::read(&db, &call.name, &call.params)?;
    Ok(Row::all(&rows)
        .filter_map(|r| r.int("Id"))
        .filter(|id| ids.contains(id))
        .collect())
}

/// Administrative divisions, cached in state (they rarely change);
/// `refresh` re-reads them, e.g. when a pushed city is not found.
fn divisions(client: &mut Client, refresh: bool) -> Result<Divisions> {
    const KEY: &str = "divisions";
    if !refresh && let Ok(Some(list)) = state::get_json::<Vec<Division>>(KEY) {
        return Ok(Divisions::new(list));
    }
    let list: Vec<Division> = client.get("AdministrativeDivisions")?;
    if let Err(e) = state::set_json(KEY, &list) {
        warn!("cannot cache Sepidar's divisions: {}", e.message());
    }
    Ok(Divisions::new(list))
}

fn sql_changes(
    client: &mut Client,
    src: Source,
    db: &str,
    rows: &Rows,
    fresh: &[i64],
) -> Result<Vec<Change>> {
    if fresh.is_empty() {
        return Ok(Vec::new());
    }
    let mut results: Vec<(Detail, Rows)> = Vec::new();
    for (detail, call) in src.details(fresh) {
        results.push((detail, sql::read(db, &call.name, &call.params)?));
    }
    let details = sqlsrc::group_details(&results);
    let divisions = if src == Source::Employee {
        divisions(client, false)?
    } else {
        Divisions::default()
    };
    let mut out = Vec::new();
    for head in Row::all(rows) {
        let Some(id) = head.int("Id").filter(|id| fresh.contains(id)) else {
            continue;
        };
        let version = head.int("Version").map(|v| v.to_string());
        let entity = if src == Source::Employee {
            Entity::Party(sqlsrc::to_employee(&head, &details, &divisions))
        } else {
            Entity::Document(sqlsrc::to_document(src, &head, &details)?)
        };
        out.push(upsert(src.remote_id(id), version, entity));
    }
    Ok(out)
}

/// One record by remote id, `None` when Sepidar no longer has it (or it is
/// no longer synced, like a customer who became an excluded employee).
fn fetch_one(
    client: &mut Client,
    kind: EntityKind,
    remote_id: &str,
) -> Result<Option<RemoteRecord>> {
    let as_record = |change: Option<Change>| match change {
        Some(Change::Upsert(record)) => Some(record),
        _ => None,
    };
    let Ok(id) = sql_or_web_id(kind, remote_id) else {
        return Ok(None);
    };
    let change = match (kind, id) {
        (EntityKind::Party, (None, id)) => {
            match client.get_opt::<Customer>(&format!("Customers/{id}"))? {
                Some(c) => {
                    if employee_customers(client, std::slice::from_ref(&c))?.contains(&id) {
                        None
                    } else {
                        let divisions = divisions(client, false)?;
                        Some(customer_change(&c, &divisions))
                    }
                }
                None if client.settings.employees_from_sql() => {
                    sql_one(client, Source::Employee, id)?
                }
                None => None,
            }
        }
        (EntityKind::Product, (None, id)) => {
            match client.get_opt::<Item>(&format!("Items/{id}"))? {
                Some(item) => {
                    let catalog = Catalog::load(client)?;
                    Some(upsert(
                        id.to_string(),
                        None,
                        Entity::Product(catalog.product(&item)),
                    ))
                }
                None => None,
            }
        }
        (EntityKind::Quote | EntityKind::SalesInvoice | EntityKind::SalesReturn, (None, id)) => {
            let (path, doc_kind) = match kind {
                EntityKind::Quote => ("Quotations", DocumentKind::Quote),
                EntityKind::SalesInvoice => ("Invoices", DocumentKind::SalesInvoice),
                _ => ("ReturnedInvoices", DocumentKind::SalesReturn),
            };
            match client.get_opt::<SaleDocument>(&format!("{path}/{id}"))? {
                Some(doc) => Some(sale_change(client, doc_kind, &doc, &mut HashMap::new())?),
                None => None,
            }
        }
        (_, (Some(source), id)) => sql_one(client, source, id)?,
        _ => None,
    };
    Ok(as_record(change))
}

/// Which SQL source (if any) and table id a remote id names for `kind`.
fn sql_or_web_id(kind: EntityKind, remote_id: &str) -> Result<(Option<Source>, i64)> {
    let plain = |source: Option<Source>| parse_id(remote_id).map(|id| (source, id));
    match kind {
        EntityKind::PurchaseInvoice => {
            if let Some(rest) = remote_id.strip_prefix(sqlsrc::RECEIPT_PREFIX) {
                Ok((Some(Source::WarehouseReceipt), parse_id(rest)?))
            } else if let Some(rest) = remote_id.strip_prefix(sqlsrc::SERVICE_PREFIX) {
                Ok((Some(Source::ServicePurchaseInvoice), parse_id(rest)?))
            } else {
                Err(Error::invalid(
                    "remote-id",
                    format!("`{remote_id}` is not a purchase invoice id"),
                ))
            }
        }
        EntityKind::PurchaseReturn => plain(Some(Source::WarehouseReturn)),
        EntityKind::Receipt => plain(Some(Source::Receipt)),
        EntityKind::Payment => plain(Some(Source::Payment)),
        _ => plain(None),
    }
}

fn sql_one(client: &mut Client, source: Source, id: i64) -> Result<Option<Change>> {
    let db = database(&client.settings)?;
    let call = source.by_id(id);
    let rows = sql::read(&db, &call.name, &call.params)?;
    if rows.rows.is_empty() {
        return Ok(None);
    }
    Ok(sql_changes(client, source, &db, &rows, &[id])?
        .into_iter()
        .next())
}

// ---- pushes ---------------------------------------------------------------

/// Where a JSON answer carries the record, else `None` (then we GET it).
fn answer<T: serde::de::DeserializeOwned>(response: &hamgam_sdk::http::Response) -> Option<T> {
    serde_json::from_slice(&response.body).ok()
}

fn customer_outcome(c: &Customer) -> PushOutcome {
    PushOutcome {
        remote_id: c.customer_id.to_string(),
        version: c.version.map(|v| v.to_string()),
        number: c.code.clone(),
    }
}

/// The body with cities resolved; a city missing from the cached
/// divisions is looked up again in case it was added in Sepidar since.
fn customer_body(
    client: &mut Client,
    party: &Party,
    existing: &[model::CustomerAddress],
) -> Result<model::CustomerWrite> {
    let cached = divisions(client, false)?;
    match mapping::party_to_customer(party, &cached, existing) {
        Err(Error::InvalidInput(f)) if f.field.ends_with(".city") => {
            let fresh = divisions(client, true)?;
            mapping::party_to_customer(party, &fresh, existing)
        }
        other => other,
    }
}

fn sent_cities(body: &model::CustomerWrite) -> Sent {
    Sent {
        city_refs: body.addresses.iter().map(|a| a.city_ref).collect(),
        ..Sent::default()
    }
}

fn create_customer(client: &mut Client, party: &Party, key: &str) -> Result<PushOutcome> {
    let mut body = customer_body(client, party, &[])?;
    body.guid = Some(key.to_owned());
    let response = client.send_json("POST", "Customers", &body)?;
    if response.is_success() {
        return match answer::<Customer>(&response).filter(|c| c.customer_id != 0) {
            Some(c) => Ok(customer_outcome(&c)),
            None => find_customer_by_guid(client, key),
        };
    }
    let message = errors::message_of(response.status, &response.body);
    if errors::is_duplicate_guid(response.status, &message) {
        // A previous attempt of this push created it: report that one.
        return find_customer_by_guid(client, key);
    }
    Err(client.error(&response, &sent_cities(&body)))
}

/// The customer whose GUID is `key`, newest first (a retried create is
/// recent). Gives up after 5 000 customers.
fn find_customer_by_guid(client: &mut Client, key: &str) -> Result<PushOutcome> {
    for page in 0..50u32 {
        let path = format!(
            "Customers/Paginated?limit=100&offset={}&orderByDesc=CustomerID",
            page * 100
        );
        let customers: Page<Customer> = client.get(&path)?;
        if let Some(c) = customers.result.iter().find(|c| {
            c.guid
                .as_deref()
                .is_some_and(|g| g.eq_ignore_ascii_case(key))
        }) {
            return Ok(customer_outcome(c));
        }
        if customers.result.len() < 100 {
            break;
        }
    }
    Err(Error::Conflict(format!(
        "Sepidar reports a customer with GUID {key} but it cannot be found"
    )))
}

fn update_customer(
    client: &mut Client,
    party: &Party,
    remote_id: &str,
    version: Option<&str>,
) -> Result<PushOutcome> {
    let id = parse_id(remote_id)?;
    let path = format!("Customers/{id}");
    let current: Customer = client
        .get_opt(&path)?
        .ok_or_else(|| Error::NotFound(format!("Sepidar has no customer {id}")))?;
    if current.customer_type != mapping::customer_type(party.kind) {
        return Err(Error::Unsupported(
            "Sepidar's web service cannot change a customer's type (person ↔ company); change it in Sepidar"
                .into(),
        ));
    }
    let mut body = customer_body(client, party, &current.addresses)?;
    body.customer_type = None;
    body.version = version
        .and_then(|v| v.trim().parse().ok())
        .or(current.version);
    let mut response = client.send_json("PUT", &path, &body)?;
    let message = errors::message_of(response.status, &response.body);
    if errors::is_stale_version(response.status, &message) {
        // Edited in Sepidar meanwhile: take its current Version, once.
        let fresh: Customer = client.get(&path)?;
        body.version = fresh.version;
        response = client.send_json("PUT", &path, &body)?;
    }
    if !response.is_success() {
        return Err(client.error(&response, &sent_cities(&body)));
    }
    let saved = match answer::<Customer>(&response).filter(|c| c.customer_id == id) {
        Some(c) => c,
        None => client.get(&path)?,
    };
    Ok(customer_outcome(&saved))
}

/// Sale type from settings; stock from settings or the first active one;
/// the main currency.
fn quote_target(client: &mut Client) -> Result<QuoteTarget> {
    let stock = match client.settings.stock {
        Some(stock) => stock,
        None => {
            let stocks: Vec<Stock> = client.get("Stocks")?;
            stocks
                .iter()
                .find(|s| s.is_active != Some(false))
                .map(|s| s.stock_id)
                .ok_or_else(|| Error::Other("Sepidar has no active stock; set `stock`".into()))?
        }
    };
    let currencies: Vec<Currency> = client.get("Currencies")?;
    let currency = currencies
        .iter()
        .find(|c| c.is_main)
        .or(currencies.first())
        .map(|c| c.currency_id)
        .ok_or_else(|| Error::Other("Sepidar lists no currency".into()))?;
    Ok(QuoteTarget {
        sale_type: client.settings.sale_type,
        stock,
        currency,
    })
}

fn quote_outcome(q: &SaleDocument) -> PushOutcome {
    PushOutcome {
        remote_id: q.id.to_string(),
        version: None,
        number: q.number.clone(),
    }
}

fn push_quote(
    client: &mut Client,
    doc: &Document,
    remote_id: Option<&str>,
    key: &str,
) -> Result<PushOutcome> {
    let old = remote_id.map(parse_id).transpose()?;
    if let Some(old) = old
        && let Some(existing) = client.get_opt::<SaleDocument>(&format!("Quotations/{old}"))?
        && existing.closed == Some(true)
    {
        return Err(Error::Conflict(format!(
            "quotation {old} is closed in Sepidar and cannot be edited"
        )));
    }
    let target = quote_target(client)?;
    let body = mapping::document_to_quotation(doc, target, key)?;
    let created = create_sale(client, SaleList::Quotations, &body, key)?;
    if let Some(old) = old.filter(|old| *old != created.id) {
        delete_quote(client, &old.to_string())?;
    }
    Ok(quote_outcome(&created))
}

/// The web service's two writable sale documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SaleList {
    Quotations,
    Invoices,
}

impl SaleList {
    fn path(self) -> &'static str {
        match self {
            SaleList::Quotations => "Quotations",
            SaleList::Invoices => "Invoices",
        }
    }

    fn id_field(self) -> &'static str {
        match self {
            SaleList::Quotations => "QuotationID",
            SaleList::Invoices => "InvoiceID",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            SaleList::Quotations => "quotation",
            SaleList::Invoices => "invoice",
        }
    }
}

/// A sales invoice from a sales channel (a shop order, H10). The web
/// service registers invoices but has no edit: an invoice already in
/// Sepidar is changed there, not from the CRM. `GUID` = the idempotency
/// key, so a retried push finds the invoice the first attempt created.
fn push_invoice(
    client: &mut Client,
    doc: &Document,
    remote_id: Option<&str>,
    key: &str,
) -> Result<PushOutcome> {
    if let Some(id) = remote_id {
        return Err(Error::Unsupported(format!(
            "invoice {id} is already in Sepidar, whose web service cannot edit invoices; change it in Sepidar"
        )));
    }
    let target = quote_target(client)?;
    let mut body = mapping::document_to_quotation(doc, target, key)?;
    // Sepidar dates an invoice itself (the request has no `Date`).
    body.date = None;
    let created = create_sale(client, SaleList::Invoices, &body, key)?;
    Ok(quote_outcome(&created))
}

fn create_sale(
    client: &mut Client,
    list: SaleList,
    body: &SaleDocument,
    key: &str,
) -> Result<SaleDocument> {
    let response = client.send_json("POST", list.path(), body)?;
    if response.is_success() {
        if let Some(q) = answer::<SaleDocument>(&response).filter(|q| q.id != 0) {
            if q.number.is_some() {
                return Ok(q);
            }
            return client.get(&format!("{}/{}", list.path(), q.id));
        }
        return find_by_guid(client, list, key);
    }
    let message = errors::message_of(response.status, &response.body);
    if errors::is_duplicate_guid(response.status, &message) {
        return find_by_guid(client, list, key);
    }
    let sent = Sent {
        item_refs: body.items.iter().map(|l| l.item_ref).collect(),
        ..Sent::default()
    };
    Err(client.error(&response, &sent))
}

/// The document an earlier attempt created with `key`, newest first.
fn find_by_guid(client: &mut Client, list: SaleList, key: &str) -> Result<SaleDocument> {
    for page in 0..50u32 {
        let path = format!(
            "{}/Paginated?limit=100&offset={}&orderByDesc={}",
            list.path(),
            page * 100,
            list.id_field()
        );
        let docs: Page<SaleDocument> = client.get(&path)?;
        if let Some(q) = docs.result.iter().find(|q| {
            q.guid
                .as_deref()
                .is_some_and(|g| g.eq_ignore_ascii_case(key))
        }) {
            return Ok(q.clone());
        }
        if docs.result.len() < 100 {
            break;
        }
    }
    Err(Error::Conflict(format!(
        "Sepidar reports a {} with GUID {key} but it cannot be found",
        list.noun()
    )))
}

fn delete_quote(client: &mut Client, remote_id: &str) -> Result<()> {
    let id = parse_id(remote_id)?;
    let response = client.call("DELETE", &format!("Quotations/{id}"), None)?;
    if response.is_success() || response.status == 404 {
        return Ok(());
    }
    Err(client.error(&response, &Sent::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::from_lookup(|k| match k {
            "base_url" => Some("http://127.0.0.1:7373/api".into()),
            "serial" => Some("10017ff3".into()),
            "username" => Some("crm".into()),
            "documents_from" => Some("2024-03-20".into()),
            _ => None,
        })
        .unwrap()
    }

    #[test]
    fn list_paths_page_by_id_in_both_directions() {
        let s = settings();
        let scan = Step {
            source: 0,
            offset: 200,
            descending: false,
            newer_than: None,
        };
        assert_eq!(
            list_path(WebList::Customers, &scan, 100, &s),
            "Customers/Paginated?limit=100&offset=200&orderBy=CustomerID"
        );
        let tail = Step {
            descending: true,
            offset: 0,
            ..scan
        };
        assert_eq!(
            list_path(WebList::Invoices, &tail, 50, &s),
            "Invoices/BasedOnDate/Paginated?fromDate=2024-03-20T00:00:00&toDate=2100-01-01T00:00:00&limit=50&offset=0&orderByDesc=InvoiceID"
        );
        assert!(
            list_path(WebList::ReturnedInvoices, &tail, 1, &s)
                .ends_with("orderByDesc=ReturnedInvoiceID")
        );
    }

    #[test]
    fn kinds_without_a_database_are_unsupported() {
        let s = settings();
        assert!(matches!(
            sources_for(EntityKind::Receipt, &s),
            Err(Error::Unsupported(_))
        ));
        assert_eq!(sources_for(EntityKind::Party, &s).unwrap().len(), 1);
        let mut with_db = settings();
        with_db.database = Some("sepidar".into());
        assert_eq!(
            sources_for(EntityKind::PurchaseInvoice, &with_db)
                .unwrap()
                .len(),
            2
        );
        with_db.sync_employees = true;
        assert_eq!(
            sources_for(EntityKind::Party, &with_db).unwrap(),
            vec![Src::Web(WebList::Customers), Src::Sql(Source::Employee)]
        );
    }

    #[test]
    fn balance_splits_by_sign() {
        let owes = balance(Decimal::from(1_000_000_000_000i64));
        assert_eq!(
            owes.debit.amount.to_decimal().unwrap(),
            Decimal::from(1_000_000_000_000i64)
        );
        assert_eq!(owes.credit.amount.to_decimal().unwrap(), Decimal::ZERO);
        let credit = balance(Decimal::from(-5));
        assert_eq!(credit.credit.amount.to_decimal().unwrap(), Decimal::from(5));
        assert_eq!(
            credit.balance.amount.to_decimal().unwrap(),
            Decimal::from(-5)
        );
        assert_eq!(credit.balance.currency, "IRR");
    }

    #[test]
    fn stock_sums_tracings_per_warehouse() {
        let json = r#"[{"ItemRef":5,"TracingRef":1,"StockeRef":2,"UnitRef":1,"Qunatity":2.5},
                       {"ItemRef":5,"TracingRef":2,"StockeRef":2,"UnitRef":1,"Qunatity":0.125},
                       {"ItemRef":5,"TracingRef":null,"StockeRef":3,"UnitRef":1,"Qunatity":7}]"#;
        let levels: Vec<Inventory> = serde_json::from_str(json).unwrap();
        let stocks = vec![Stock {
            stock_id: 2,
            title: "انبار مرکزی".into(),
            is_active: Some(true),
        }];
        let out = stock_levels(&levels, &stocks);
        assert_eq!(out[0].warehouse, "انبار مرکزی");
        assert_eq!(out[0].quantity.to_decimal().unwrap().to_string(), "2.625");
        assert_eq!(out[1].warehouse, "3");
    }

    #[test]
    fn remote_ids_of_sql_kinds() {
        assert_eq!(
            sql_or_web_id(EntityKind::PurchaseInvoice, "service-invoice:7").unwrap(),
            (Some(Source::ServicePurchaseInvoice), 7)
        );
        assert_eq!(
            sql_or_web_id(EntityKind::PurchaseInvoice, "inventory-receipt:12").unwrap(),
            (Some(Source::WarehouseReceipt), 12)
        );
        assert!(sql_or_web_id(EntityKind::PurchaseInvoice, "12").is_err());
        assert_eq!(sql_or_web_id(EntityKind::Quote, "4").unwrap(), (None, 4));
    }
}
