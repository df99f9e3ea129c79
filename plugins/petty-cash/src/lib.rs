//! Petty cash: a business module that records small cash expenses as
//! `petty-cash-bill` records in the CRM store.
//!
//! Routes (below the module's mount point):
//!
//! - `POST /bills` with `{"amount": "250000", "description": "...",
//!   "date"?: "YYYY-MM-DD"}` creates an unapproved bill. The amount is a
//!   decimal string in Rial and must be a positive whole number; the date
//!   defaults to today (UTC). Answers 201 with the bill, or 400
//!   `{"error": {"field", "message"}}`.
//! - `GET /bills/{id}` answers the bill or 404.
//! - `GET /bills` answers every bill, oldest first.
//! - `POST /bills/{id}/approve` marks the bill approved and emits
//!   `petty-cash.bill-approved` with the bill as payload. Approving twice
//!   answers the bill again without a second event.
//!
//! Bill ids come from a counter in instance state (`bill-000001`…), zero
//! padded so the store's prefix listing returns them in order.
//!
//! The module subscribes to `receipt.created` and logs each one: a cash
//! receipt is where a petty-cash float is usually topped up.

use hamgam_sdk::crm;
use hamgam_sdk::{
    Date, Decimal, Error, Event, HttpRequest, HttpResponse, Module, ModuleInfo, Result, Route,
    clock, debug, info, state,
};
use serde::{Deserialize, Serialize};

const BILL: &str = "petty-cash-bill";
const APPROVED_EVENT: &str = "petty-cash.bill-approved";
const COUNTER_KEY: &str = "next-bill-number";
/// Enough for a month of a busy office; the listing is not paginated.
const LIST_LIMIT: u32 = 1000;

#[derive(Serialize, Deserialize, Clone)]
struct Bill {
    id: String,
    date: String,
    /// Rial, a whole number as a decimal string: JSON numbers would lose
    /// precision above 2^53 in other clients.
    amount: String,
    description: String,
    approved: bool,
}

#[derive(Deserialize)]
struct NewBill {
    #[serde(default)]
    date: Option<String>,
    amount: serde_json::Value,
    #[serde(default)]
    description: String,
}

struct PettyCash;

impl Module for PettyCash {
    fn describe() -> ModuleInfo {
        ModuleInfo {
            record_types: vec![BILL.into()],
            routes: vec![
                Route::new("POST", "/bills"),
                Route::new("GET", "/bills"),
                Route::new("GET", "/bills/{id}"),
                Route::new("POST", "/bills/{id}/approve"),
            ],
            subscriptions: vec!["receipt.created".into()],
        }
    }

    fn on_event(event: Event) -> Result<()> {
        match event.name.as_str() {
            "receipt.created" => info!("receipt created: {}", event.payload),
            other => debug!("ignoring event {other}"),
        }
        Ok(())
    }

    fn handle_request(request: HttpRequest) -> Result<HttpResponse> {
        let segments: Vec<&str> = request.path_only().trim_matches('/').split('/').collect();
        let response = match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["bills"]) => create(&request),
            ("GET", ["bills"]) => list(),
            ("GET", ["bills", id]) => get(id),
            ("POST", ["bills", id, "approve"]) => approve(id),
            (_, ["bills", ..]) => Ok(problem(405, None, "method not allowed")),
            _ => Ok(problem(404, None, "no such route")),
        };
        // Input mistakes become 400s; store or host failures stay errors so
        // the host reports them as such.
        match response {
            Err(Error::InvalidInput(f)) => Ok(problem(400, Some(&f.field), &f.message)),
            other => other,
        }
    }
}

hamgam_sdk::export_module!(PettyCash);

fn create(request: &HttpRequest) -> Result<HttpResponse> {
    let new: NewBill = request.json()?;
    let amount = parse_amount(&new.amount)?;
    let description = new.description.trim();
    if description.is_empty() {
        return Err(Error::invalid("description", "must not be empty"));
    }
    let date = match new.date {
        Some(date) => date.parse::<Date>()?,
        None => clock::today_utc(),
    };

    let number = state::get_json::<u64>(COUNTER_KEY)?.unwrap_or(0) + 1;
    state::set_json(COUNTER_KEY, &number)?;
    let bill = Bill {
        id: format!("bill-{number:06}"),
        date: date.to_string(),
        amount,
        description: description.to_owned(),
        approved: false,
    };
    crm::put_record_json(BILL, &bill.id, &bill)?;
    info!("petty-cash bill {} recorded: {} IRR", bill.id, bill.amount);
    Ok(HttpResponse::json(201, &bill))
}

/// A positive whole number of Rial, from a string or a JSON integer.
fn parse_amount(value: &serde_json::Value) -> Result<String> {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        _ => return Err(Error::invalid("amount", "must be a decimal string in Rial")),
    };
    let amount = text
        .parse::<Decimal>()
        .and_then(|d| d.to_decimal())
        .map_err(|_| Error::invalid("amount", format!("`{text}` is not a decimal")))?;
    if !amount.fract().is_zero() {
        return Err(Error::invalid("amount", "must be a whole number of Rial"));
    }
    if amount.is_zero() || amount.is_sign_negative() {
        return Err(Error::invalid("amount", "must be greater than zero"));
    }
    Ok(amount.trunc().to_string())
}

fn list() -> Result<HttpResponse> {
    let bills = crm::list_records(BILL, "", LIST_LIMIT)?
        .iter()
        .map(crm::decode::<Bill>)
        .collect::<Result<Vec<_>>>()?;
    Ok(HttpResponse::json(200, &bills))
}

fn get(id: &str) -> Result<HttpResponse> {
    Ok(match crm::get_record_json::<Bill>(BILL, id)? {
        Some(bill) => HttpResponse::json(200, &bill),
        None => problem(404, None, &format!("no bill `{id}`")),
    })
}

fn approve(id: &str) -> Result<HttpResponse> {
    let Some(mut bill) = crm::get_record_json::<Bill>(BILL, id)? else {
        return Ok(problem(404, None, &format!("no bill `{id}`")));
    };
    if !bill.approved {
        bill.approved = true;
        crm::put_record_json(BILL, &bill.id, &bill)?;
        crm::emit_json(APPROVED_EVENT, &bill)?;
        info!("petty-cash bill {} approved", bill.id);
    }
    Ok(HttpResponse::json(200, &bill))
}

fn problem(status: u16, field: Option<&str>, message: &str) -> HttpResponse {
    let error = match field {
        Some(field) => serde_json::json!({ "field": field, "message": message }),
        None => serde_json::json!({ "message": message }),
    };
    HttpResponse::json(status, &serde_json::json!({ "error": error }))
}
