//! `/api/v1/tenants/{tenant}/parties`: persons and organisations (S1–S9),
//! and each party's statement (F1, C2).

use super::extract::{ApiJson, ApiQuery, Id, Tenant, page, paging, query_value};
use super::openapi::{Op, Param, Resp, Routes};
use super::{ApiError, AppState};
use crate::crm::{Actor, Page, Party, PartyInput, PartyKind, Statement, WarningRule};
use crate::store::party::{self, PartyFilter};
use crate::store::statement;
use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::routing::{delete, get, post, put};
use hamgam_domain::Currency;
use serde::Deserialize;

const BASE: &str = "/api/v1/tenants/{tenant}/parties";

pub(super) fn routes(r: Routes) -> Routes {
    let one = format!("{BASE}/{{id}}");
    r.add(
        Op::new(Method::GET, BASE, "listParties", "List parties", "parties")
            .query(&[
                (
                    "cursor",
                    "opaque cursor from the previous page",
                    Param::Cursor,
                ),
                (
                    "limit",
                    "page size, 1..=500 (default 50)",
                    Param::Limit(500),
                ),
                (
                    "kind",
                    "person | organisation",
                    Param::OneOf(&["person", "organisation"]),
                ),
                ("customer_number", "exact customer number", Param::Text),
                ("company_code", "company code 100..=999", Param::CompanyCode),
                (
                    "has_warnings",
                    "true: only parties from a ledger that arrived with data-quality \
                     warnings (a value breaking a rule the API applies to its own input, \
                     kept as the ledger has it); false: only parties without",
                    Param::Bool,
                ),
                (
                    "warning",
                    "only parties with a data-quality warning of this rule",
                    Param::OneOf(WarningRule::NAMES),
                ),
            ])
            .responds(Resp::Page("Party")),
        get(list),
    )
    .add(
        Op::new(
            Method::POST,
            BASE,
            "createParty",
            "Create a party (S6: customer number required)",
            "parties",
        )
        .body("PartyInput")
        .responds(Resp::Created("Party")),
        post(create),
    )
    .add(
        Op::new(Method::GET, one.clone(), "getParty", "One party", "parties")
            .responds(Resp::Ok("Party")),
        get(read),
    )
    .add(
        Op::new(
            Method::PUT,
            one.clone(),
            "replaceParty",
            "Replace a party",
            "parties",
        )
        .body("PartyInput")
        .responds(Resp::Ok("Party")),
        put(replace),
    )
    .add(
        Op::new(
            Method::DELETE,
            one.clone(),
            "deleteParty",
            "Delete a party without documents",
            "parties",
        ),
        delete(remove),
    )
    .add(
        Op::new(
            Method::GET,
            format!("{one}/statement"),
            "partyStatement",
            "Debits, credits and running balance of approved items",
            "parties",
        )
        .query(&[(
            "currency",
            "statement currency (default IRR; IRR includes Toman items ×10)",
            Param::Currency,
        )])
        .responds(Resp::Ok("Statement")),
        get(statement),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<String>,
    kind: Option<String>,
    customer_number: Option<String>,
    company_code: Option<String>,
    has_warnings: Option<String>,
    warning: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<Party>>, ApiError> {
    let (after, limit) = paging(q.cursor.as_deref(), q.limit.as_deref())?;
    let filter = PartyFilter {
        kind: query_value("kind", q.kind.as_deref(), PartyKind::parse)?,
        customer_number: q.customer_number.filter(|c| !c.is_empty()),
        company_code: query_value("company_code", q.company_code.as_deref(), |c| {
            c.parse().ok()
        })?,
        has_warnings: query_value("has_warnings", q.has_warnings.as_deref(), |v| {
            v.parse().ok()
        })?,
        warning: query_value("warning", q.warning.as_deref(), WarningRule::parse)?,
    };
    let items = party::list_parties(state.db(), &tenant, &filter, after, limit).await?;
    Ok(Json(page(items, limit, |p| p.id)))
}

async fn create(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiJson(input): ApiJson<PartyInput>,
) -> Result<(StatusCode, Json<Party>), ApiError> {
    let new = input.validate().map_err(|e| state.refuse(e))?;
    let party = party::create_party(state.db(), &Actor::api(&tenant), &new).await?;
    state.wrote();
    Ok((StatusCode::CREATED, Json(party)))
}

async fn read(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<Json<Party>, ApiError> {
    Ok(Json(party::get_party(state.db(), &tenant, id).await?))
}

async fn replace(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
    ApiJson(input): ApiJson<PartyInput>,
) -> Result<Json<Party>, ApiError> {
    let new = input.validate().map_err(|e| state.refuse(e))?;
    let party = party::update_party(state.db(), &Actor::api(&tenant), id, &new).await?;
    state.wrote();
    Ok(Json(party))
}

async fn remove(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    party::delete_party(state.db(), &Actor::api(&tenant), id).await?;
    state.wrote();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementQuery {
    currency: Option<String>,
}

async fn statement(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> Result<Json<Statement>, ApiError> {
    let currency = query_value("currency", q.currency.as_deref(), |c| Currency::new(c).ok())?
        .unwrap_or(Currency::IRR);
    Ok(Json(
        statement::statement(state.db(), &tenant, id, currency).await?,
    ))
}
