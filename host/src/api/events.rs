//! `/api/v1/tenants/{tenant}/events…`: the tenant's event log (S20) and
//! the events its modules have not taken (failing, parked, held behind
//! them), with a retry for a parked one.

use super::extract::{ApiQuery, Id, Tenant};
use super::openapi::{Op, Param, Resp, Routes};
use super::sync::{db, limit_of, param, status_of};
use super::{ApiError, AppState};
use crate::crm::kinds::EventHold;
use crate::store::event::{self, Event, Holdup};
use axum::Json;
use axum::extract::{RawPathParams, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const BASE: &str = "/api/v1/tenants/{tenant}/events";

pub(super) fn routes(r: Routes) -> Routes {
    r.add(
        Op::new(
            Method::GET,
            BASE.to_owned(),
            "listEvents",
            "The tenant's event log in delivery order, after a place",
            "events",
        )
        .query(&[
            (
                "after",
                "a place (`seq`) in the log; 0 from the start",
                Param::Place,
            ),
            ("limit", "1..=500 (default 100)", Param::Limit(500)),
        ])
        .responds(Resp::Ok("EventList")),
        get(list),
    )
    .add(
        Op::new(
            Method::GET,
            format!("{BASE}/held"),
            "listHeldEvents",
            "Events a module has not taken: failing (retrying), parked, or held behind them",
            "events",
        )
        .query(&[(
            "status",
            "retrying | parked | held (default: all)",
            Param::OneOf(EventHold::NAMES),
        )])
        .responds(Resp::Ok("HeldEventList")),
        get(held),
    )
    .add(
        Op::new(
            Method::POST,
            format!("{BASE}/held/{{subscriber}}/{{id}}/retry"),
            "retryHeldEvent",
            "Hand a parked event to its module again now",
            "events",
        )
        .responds(Resp::Ok("Holdup")),
        post(retry),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// A page of the event log.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    /// In delivery order.
    pub items: Vec<Event>,
    /// The `after` of the next page (the last item's `seq`), none at the end.
    pub next_after: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<EventList>, ApiError> {
    let after = match q.after {
        None => 0,
        Some(a) => {
            a.parse::<i64>()
                .ok()
                .filter(|a| *a >= 0)
                .ok_or_else(|| ApiError::BadRequest {
                    field: Some("after".into()),
                    message: "after is a place in the log: a whole number, 0 or more".into(),
                })?
        }
    };
    let limit = limit_of(q.limit)?;
    let items = event::after(state.db(), &tenant, after, limit)
        .await
        .map_err(db)?;
    let next_after = (items.len() == limit as usize)
        .then(|| items.last().map(|e| e.seq))
        .flatten();
    Ok(Json(EventList { items, next_after }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeldQuery {
    status: Option<String>,
}

/// Events modules have not taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeldEventList {
    /// In log order.
    pub items: Vec<Holdup>,
}

async fn held(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiQuery(q): ApiQuery<HeldQuery>,
) -> Result<Json<HeldEventList>, ApiError> {
    let status = status_of(
        q.status,
        None,
        |s| EventHold::parse(s).map(Some),
        EventHold::NAMES,
    )?;
    let items = event::holdups(state.db(), &tenant, status)
        .await
        .map_err(db)?;
    Ok(Json(HeldEventList { items }))
}

async fn retry(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
    params: RawPathParams,
) -> Result<(StatusCode, Json<Holdup>), ApiError> {
    let subscriber = param(&params, "subscriber")?;
    let at = crate::sync::now();
    let find = |items: Vec<Holdup>| {
        items
            .into_iter()
            .find(|h| h.subscriber == subscriber && h.event_id == id)
    };
    let Some(before) = find(
        event::holdups(state.db(), &tenant, None)
            .await
            .map_err(db)?,
    ) else {
        return Err(ApiError::NotFound(format!(
            "event {id} waiting for `{subscriber}`"
        )));
    };
    if !event::retry(state.db(), &tenant, &subscriber, id, &at)
        .await
        .map_err(db)?
    {
        return Err(ApiError::Conflict {
            field: Some("status".into()),
            message: format!(
                "event {id} is {} for `{subscriber}`; only a parked event can be retried",
                before.status
            ),
        });
    }
    if let Some(dispatcher) = state.events() {
        dispatcher.wake();
    }
    let after = find(
        event::holdups(state.db(), &tenant, None)
            .await
            .map_err(db)?,
    )
    .ok_or_else(|| ApiError::NotFound(format!("event {id} waiting for `{subscriber}`")))?;
    Ok((StatusCode::OK, Json(after)))
}
