//! Petty cash (H9, installable): a fund per holder with a ceiling, bills
//! of small cash expenses with their items, approval, and settlement that
//! creates the CRM payment the sync engine takes to the ledger. Sepidar
//! keeps the same shape (`RPA.PettyCash`, `RPA.PettyCashBill`,
//! `RPA.PettyCashBillItem`).
//!
//! Routes (below the module's mount point); every amount is a whole number
//! of Rial as a decimal string, every date Jalali `YYYY/MM/DD`:
//!
//! - `POST /funds` `{"title", "holder_party_id", "ceiling"}` → 201 fund. The
//!   holder is a CRM party (the payee of the fund's settlements).
//! - `GET /funds`, `GET /funds/{id}`.
//! - `POST /funds/{id}/bills` `{"date"?, "items": [{"date"?, "amount",
//!   "description", "cost_centre"?}]}` → 201 bill, `pending`. Refused (422,
//!   field `items`) when the fund's open bills (pending or approved) and
//!   this one would pass its ceiling.
//! - `GET /bills[?fund=…][&status=…]`, `GET /bills/{id}`.
//! - `POST /bills/{id}/approve`, `POST /bills/{id}/reject` (pending only).
//! - `POST /bills/{id}/settle` (approved only): creates one CRM payment to
//!   the holder for the bill's total (cash), marks the bill `settled` with
//!   the payment's id, and emits `bill_settled`. Settling a settled bill
//!   answers it again and creates nothing.
//!
//! Bad input answers 422 `{"error": {"field", "message"}}`; a bill or fund
//! that is not there 404; a state that forbids the step 409.

use hamgam_sdk::crm::{self, Kind};
use hamgam_sdk::domain::JalaliDate;
use hamgam_sdk::rust_decimal::Decimal;
use hamgam_sdk::{
    Error, Event, HttpRequest, HttpResponse, Module, ModuleInfo, Result, Route, clock, info, state,
};
use serde::{Deserialize, Serialize};

const FUND: &str = "fund";
const BILL: &str = "bill";
const SETTLED_EVENT: &str = "bill_settled";
const PAGE: u32 = 500;

#[derive(Serialize, Deserialize, Clone, Debug)]
struct Fund {
    id: String,
    title: String,
    holder_party_id: i64,
    ceiling: String,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
struct Item {
    date: String,
    amount: String,
    description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cost_centre: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Status {
    Pending,
    Approved,
    Rejected,
    Settled,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Settled => "settled",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
struct Bill {
    id: String,
    fund: String,
    date: String,
    items: Vec<Item>,
    total: String,
    status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payment_id: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewFund {
    title: String,
    holder_party_id: i64,
    ceiling: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewItem {
    #[serde(default)]
    date: Option<String>,
    amount: serde_json::Value,
    description: String,
    #[serde(default)]
    cost_centre: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBill {
    #[serde(default)]
    date: Option<String>,
    items: Vec<NewItem>,
}

struct PettyCash;

impl Module for PettyCash {
    fn describe() -> ModuleInfo {
        let routes = [
            ("POST", "/funds"),
            ("GET", "/funds"),
            ("GET", "/funds/{id}"),
            ("POST", "/funds/{id}/bills"),
            ("GET", "/bills"),
            ("GET", "/bills/{id}"),
            ("POST", "/bills/{id}/approve"),
            ("POST", "/bills/{id}/reject"),
            ("POST", "/bills/{id}/settle"),
        ];
        ModuleInfo {
            record_types: vec![FUND.into(), BILL.into()],
            routes: routes.iter().map(|(m, p)| Route::new(m, p)).collect(),
            subscriptions: Vec::new(),
        }
    }

    fn on_event(event: Event) -> Result<()> {
        let _ = event;
        Ok(())
    }

    fn handle_request(request: HttpRequest) -> Result<HttpResponse> {
        let segments: Vec<&str> = request.path_only().trim_matches('/').split('/').collect();
        let response = match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["funds"]) => create_fund(&request),
            ("GET", ["funds"]) => list_funds(),
            ("GET", ["funds", id]) => fund(id).map(|f| HttpResponse::json(200, &f)),
            ("POST", ["funds", id, "bills"]) => create_bill(id, &request),
            ("GET", ["bills"]) => list_bills(&request),
            ("GET", ["bills", id]) => bill(id).map(|b| HttpResponse::json(200, &b)),
            ("POST", ["bills", id, "approve"]) => decide(id, Status::Approved),
            ("POST", ["bills", id, "reject"]) => decide(id, Status::Rejected),
            ("POST", ["bills", id, "settle"]) => settle(id),
            (_, ["funds" | "bills", ..]) => Ok(problem(405, None, "method not allowed")),
            _ => Ok(problem(404, None, "no such route")),
        };
        // Input mistakes, missing records and forbidden steps are answers;
        // store or host failures stay errors so the host reports them.
        match response {
            Err(Error::InvalidInput(f)) => Ok(problem(422, Some(&f.field), &f.message)),
            Err(Error::NotFound(m)) => Ok(problem(404, None, &m)),
            Err(Error::Conflict(m)) => Ok(problem(409, None, &m)),
            other => other,
        }
    }
}

hamgam_sdk::export_module!(PettyCash);

fn create_fund(request: &HttpRequest) -> Result<HttpResponse> {
    let new: NewFund = request.json()?;
    let title = new.title.trim();
    if title.is_empty() {
        return Err(Error::invalid("title", "must not be empty"));
    }
    let ceiling = rial("ceiling", &new.ceiling)?;
    // The holder must be a party of this tenant: the payee of settlements.
    if crm::get::<serde_json::Value>(Kind::Party, new.holder_party_id)?.is_none() {
        return Err(Error::invalid(
            "holder_party_id",
            format!("no party {} in the CRM", new.holder_party_id),
        ));
    }
    let fund = Fund {
        id: format!("fund-{:04}", next("next-fund")?),
        title: title.to_owned(),
        holder_party_id: new.holder_party_id,
        ceiling: ceiling.to_string(),
    };
    crm::put_record_json(FUND, &fund.id, &fund)?;
    info!(
        "petty-cash fund {} for party {}",
        fund.id, fund.holder_party_id
    );
    Ok(HttpResponse::json(201, &fund))
}

fn list_funds() -> Result<HttpResponse> {
    let (funds, _) = crm::query_records::<Fund>(FUND, &[], None, PAGE)?;
    let funds: Vec<Fund> = funds.into_iter().map(|(_, f)| f).collect();
    Ok(HttpResponse::json(200, &funds))
}

fn fund(id: &str) -> Result<Fund> {
    crm::get_record_json::<Fund>(FUND, id)?
        .ok_or_else(|| Error::NotFound(format!("no fund `{id}`")))
}

fn bill(id: &str) -> Result<Bill> {
    crm::get_record_json::<Bill>(BILL, id)?
        .ok_or_else(|| Error::NotFound(format!("no bill `{id}`")))
}

fn create_bill(fund_id: &str, request: &HttpRequest) -> Result<HttpResponse> {
    let fund = fund(fund_id)?;
    let new: NewBill = request.json()?;
    let today = today();
    let date = match &new.date {
        Some(d) => jalali("date", d)?,
        None => today.clone(),
    };
    if new.items.is_empty() {
        return Err(Error::invalid("items", "a bill has at least one item"));
    }
    let mut items = Vec::with_capacity(new.items.len());
    let mut total = Decimal::ZERO;
    for (n, item) in new.items.into_iter().enumerate() {
        let amount = rial(&format!("items.{n}.amount"), &item.amount)?;
        let description = item.description.trim();
        if description.is_empty() {
            return Err(Error::invalid(
                format!("items.{n}.description"),
                "must not be empty",
            ));
        }
        let date = match &item.date {
            Some(d) => jalali(&format!("items.{n}.date"), d)?,
            None => date.clone(),
        };
        total += amount;
        items.push(Item {
            date,
            amount: amount.to_string(),
            description: description.to_owned(),
            cost_centre: item.cost_centre.filter(|c| !c.trim().is_empty()),
        });
    }
    // The ceiling bounds what the holder may owe the fund at once: every
    // bill not yet settled or rejected, and this one.
    let ceiling: Decimal = fund.ceiling.parse().map_err(|_| bad_record(&fund.id))?;
    let open = open_total(&fund.id)?;
    if open + total > ceiling {
        return Err(Error::invalid(
            "items",
            format!(
                "the bill's total {total} IRR with the fund's open bills ({open} IRR) passes its ceiling of {ceiling} IRR"
            ),
        ));
    }
    let bill = Bill {
        id: format!("bill-{:06}", next("next-bill")?),
        fund: fund.id,
        date,
        items,
        total: total.to_string(),
        status: Status::Pending,
        payment_id: None,
    };
    crm::put_record_json(BILL, &bill.id, &bill)?;
    info!("petty-cash bill {} recorded: {} IRR", bill.id, bill.total);
    Ok(HttpResponse::json(201, &bill))
}

/// The total of a fund's bills that are pending or approved.
fn open_total(fund: &str) -> Result<Decimal> {
    let mut total = Decimal::ZERO;
    for status in [Status::Pending, Status::Approved] {
        let mut after: Option<String> = None;
        loop {
            let filters = [("fund", fund), ("status", status.as_str())];
            let (page, next) = crm::query_records::<Bill>(BILL, &filters, after.as_deref(), PAGE)?;
            for (_, bill) in page {
                total += bill
                    .total
                    .parse::<Decimal>()
                    .map_err(|_| bad_record(&bill.id))?;
            }
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
    }
    Ok(total)
}

fn list_bills(request: &HttpRequest) -> Result<HttpResponse> {
    let fund = request.query("fund");
    let status = request.query("status");
    let mut filters: Vec<(&str, &str)> = Vec::new();
    if let Some(f) = fund.as_deref() {
        filters.push(("fund", f));
    }
    if let Some(s) = status.as_deref() {
        filters.push(("status", s));
    }
    let mut bills = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (page, next) = crm::query_records::<Bill>(BILL, &filters, after.as_deref(), PAGE)?;
        bills.extend(page.into_iter().map(|(_, b)| b));
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(HttpResponse::json(200, &bills))
}

fn decide(id: &str, to: Status) -> Result<HttpResponse> {
    let mut bill = bill(id)?;
    if bill.status == to {
        return Ok(HttpResponse::json(200, &bill));
    }
    if bill.status != Status::Pending {
        return Err(Error::Conflict(format!(
            "bill `{id}` is {}; only a pending bill is approved or rejected",
            bill.status.as_str()
        )));
    }
    bill.status = to;
    crm::put_record_json(BILL, &bill.id, &bill)?;
    info!("petty-cash bill {} {}", bill.id, to.as_str());
    Ok(HttpResponse::json(200, &bill))
}

#[derive(Serialize)]
struct PaymentRequest<'a> {
    party_id: i64,
    date: &'a str,
    amount: &'a str,
    method: &'a str,
    description: String,
}

#[derive(Deserialize)]
struct Payment {
    id: i64,
    #[serde(default)]
    description: Option<String>,
}

/// The payment to `party` whose description starts with `marker`, if a
/// settle made one: the holder's payments, a page at a time.
fn marked_payment(party: i64, marker: &str) -> Result<Option<i64>> {
    let party = party.to_string();
    let mut after = 0;
    loop {
        let (page, next) =
            crm::query::<Payment>(Kind::Payment, &[("party_id", party.as_str())], after, 200)?;
        if let Some(found) = page.iter().find(|p| {
            p.description
                .as_deref()
                .is_some_and(|d| d.starts_with(marker))
        }) {
            return Ok(Some(found.id));
        }
        match next {
            Some(n) => after = n,
            None => return Ok(None),
        }
    }
}

fn settle(id: &str) -> Result<HttpResponse> {
    let mut bill = bill(id)?;
    match bill.status {
        Status::Settled => return Ok(HttpResponse::json(200, &bill)),
        Status::Approved => {}
        other => {
            return Err(Error::Conflict(format!(
                "bill `{id}` is {}; only an approved bill is settled",
                other.as_str()
            )));
        }
    }
    let fund = fund(&bill.fund)?;
    // One payment per bill. The payment's description carries the bill's
    // marker, and the payment id is kept in state right after: where a
    // settle stopped between creating the payment and recording it (a
    // crash, a trap), the next one finds the payment by its marker
    // instead of paying twice.
    let marker = format!("petty-cash {} {}:", fund.id, bill.id);
    let paid_key = format!("paid:{}", bill.id);
    let payment_id = match state::get_json::<i64>(&paid_key)? {
        Some(paid) => paid,
        None => {
            let id = match marked_payment(fund.holder_party_id, &marker)? {
                Some(id) => id,
                None => {
                    let request = PaymentRequest {
                        party_id: fund.holder_party_id,
                        date: &today(),
                        amount: &bill.total,
                        method: "cash",
                        description: format!("{marker} {}", fund.title),
                    };
                    crm::create::<_, Payment>(Kind::Payment, &request)?.id
                }
            };
            state::set_json(&paid_key, &id)?;
            id
        }
    };
    bill.status = Status::Settled;
    bill.payment_id = Some(payment_id);
    crm::put_record_json(BILL, &bill.id, &bill)?;
    crm::emit_json(SETTLED_EVENT, &bill)?;
    info!(
        "petty-cash bill {} settled by payment {payment_id}",
        bill.id
    );
    Ok(HttpResponse::json(200, &bill))
}

/// The next number of a counter in instance state.
fn next(counter: &str) -> Result<u64> {
    let n = state::get_json::<u64>(counter)?.unwrap_or(0) + 1;
    state::set_json(counter, &n)?;
    Ok(n)
}

/// A positive whole number of Rial, from a string or a JSON integer.
fn rial(field: &str, value: &serde_json::Value) -> Result<Decimal> {
    let text = match value {
        serde_json::Value::String(s) => s.trim().to_owned(),
        serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        _ => return Err(Error::invalid(field, "must be a decimal string in Rial")),
    };
    let amount: Decimal = text
        .parse()
        .map_err(|_| Error::invalid(field, format!("`{text}` is not a decimal")))?;
    if !amount.fract().is_zero() {
        return Err(Error::invalid(field, "must be a whole number of Rial"));
    }
    if amount <= Decimal::ZERO {
        return Err(Error::invalid(field, "must be greater than zero"));
    }
    Ok(amount.trunc())
}

fn jalali(field: &str, text: &str) -> Result<String> {
    JalaliDate::parse(text.trim())
        .map(|d| d.to_string())
        .map_err(|e| {
            Error::invalid(
                field,
                format!("`{text}` is not a Jalali date YYYY/MM/DD: {e}"),
            )
        })
}

fn today() -> String {
    let d = clock::today_utc();
    JalaliDate::from_gregorian(d.year, d.month, d.day)
        .map(|j| j.to_string())
        .unwrap_or_default()
}

fn bad_record(id: &str) -> Error {
    Error::Other(format!("stored `{id}` has an amount that is not a decimal"))
}

fn problem(status: u16, field: Option<&str>, message: &str) -> HttpResponse {
    let error = match field {
        Some(field) => serde_json::json!({ "field": field, "message": message }),
        None => serde_json::json!({ "message": message }),
    };
    HttpResponse::json(status, &serde_json::json!({ "error": error }))
}
