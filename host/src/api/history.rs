//! `/api/v1/tenants/{tenant}/sync/…history-imports…`: the one-shot import
//! of a past fiscal year's sales invoices and returns (H10, issue 14 §8):
//! start one, follow its progress (done / total, rate, ETA), cancel it.

use super::extract::{ApiJson, ApiQuery, Id, Tenant};
use super::openapi::{Op, Param, Resp, Routes};
use super::{ApiError, AppState};
use crate::crm::kinds::EntityKind;
use crate::sync::SyncEngine;
use crate::sync::history::{HistoryError, ImportProgress, ImportRequest};
use axum::Json;
use axum::extract::{RawPathParams, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

const BASE: &str = "/api/v1/tenants/{tenant}/sync";

/// Starting an import: the license, the connector, the ledger.
const START_ERRORS: &[(&str, &str)] = &[
    (
        "403",
        "The license does not cover the orderable one-shot import of a kind named",
    ),
    (
        "409",
        "The instance already runs an import, or its connector reads no past periods",
    ),
    (
        "502",
        "The ledger or its connector failed; the message names it",
    ),
    ("503", "The ledger cannot be reached now; try later"),
];

pub(super) fn routes(r: Routes) -> Routes {
    r.add(
        Op::new(
            Method::POST,
            format!("{BASE}/instances/{{instance}}/history-imports"),
            "startHistoryImport",
            "Start the one-shot import of a past period's sales invoices and returns (H10, orderable)",
            "sync",
        )
        .body("HistoryImportRequest")
        .errors(START_ERRORS)
        .responds(Resp::Created("ImportProgress")),
        post(start),
    )
    .add(
        Op::new(
            Method::GET,
            format!("{BASE}/history-imports"),
            "listHistoryImports",
            "One-shot imports of the tenant, newest first, with their progress",
            "sync",
        )
        .query(&[("limit", "1..=500 (default 50)", Param::Limit(500))])
        .responds(Resp::Ok("ImportList")),
        get(list),
    )
    .add(
        Op::new(
            Method::GET,
            format!("{BASE}/history-imports/{{id}}"),
            "getHistoryImport",
            "One import: records done / total, rate and ETA",
            "sync",
        )
        .responds(Resp::Ok("ImportProgress")),
        get(read),
    )
    .add(
        Op::new(
            Method::POST,
            format!("{BASE}/history-imports/{{id}}/cancel"),
            "cancelHistoryImport",
            "Stop a running import after its current page; what it applied stays",
            "sync",
        )
        .errors(&[("409", "The import is not running")])
        .responds(Resp::Ok("ImportProgress")),
        post(cancel),
    )
}

/// A kind the one-shot import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    /// Sales invoices (orderable module `sales-invoice-history-import`).
    SalesInvoice,
    /// Sales returns (orderable module `sales-return-history-import`).
    SalesReturn,
}

impl From<HistoryKind> for EntityKind {
    fn from(k: HistoryKind) -> EntityKind {
        match k {
            HistoryKind::SalesInvoice => EntityKind::SalesInvoice,
            HistoryKind::SalesReturn => EntityKind::SalesReturn,
        }
    }
}

/// The period to import: a Jalali fiscal year, or a first and a last day.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryImportRequest {
    /// A Jalali fiscal year, e.g. 1402: its first to its last day. Give
    /// this or `from` and `to`.
    #[serde(default, deserialize_with = "whole_year")]
    #[schema(minimum = 1300, maximum = 1500)]
    pub fiscal_year: Option<i32>,
    /// First day, Jalali `YYYY/MM/DD`.
    #[serde(default)]
    #[schema(pattern = "^[12][0-9]{3}/(0[1-9]|1[0-2])/(0[1-9]|1[0-9]|2[0-9])$")]
    pub from: Option<String>,
    /// Last day (included), Jalali `YYYY/MM/DD`.
    #[serde(default)]
    #[schema(pattern = "^[12][0-9]{3}/(0[1-9]|1[0-2])/(0[1-9]|1[0-9]|2[0-9])$")]
    pub to: Option<String>,
    /// What to import, in this order (default: sales invoices, then
    /// returns). Each kind is its own orderable module.
    #[serde(default)]
    pub kinds: Option<Vec<HistoryKind>>,
}

/// A year as JSON Schema's `integer` counts one: `1403` and `1403.0`
/// alike (JSON has one number type); a fraction is refused.
fn whole_year<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    let whole = n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 1e9)
            .map(|f| f as i64)
    });
    whole
        .and_then(|v| i32::try_from(v).ok())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a whole year")))
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field: Some(field.into()),
        message: message.into(),
    }
}

fn day(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    let j = hamgam_domain::JalaliDate::parse(text).map_err(|e| {
        invalid(
            field,
            format!("{field}: `{text}` is not a Jalali date YYYY/MM/DD ({e})"),
        )
    })?;
    let g = j.to_gregorian();
    NaiveDate::from_ymd_opt(g.year(), u32::from(g.month()), u32::from(g.day()))
        .ok_or_else(|| invalid(field, format!("{field}: `{text}` has no Gregorian day")))
}

impl HistoryImportRequest {
    /// The engine's request, or the field that is wrong.
    pub fn into_request(self) -> Result<ImportRequest, ApiError> {
        let kinds: Vec<EntityKind> = match self.kinds {
            None => vec![EntityKind::SalesInvoice, EntityKind::SalesReturn],
            Some(k) => k.into_iter().map(EntityKind::from).collect(),
        };
        match (self.fiscal_year, self.from, self.to) {
            (Some(year), None, None) => ImportRequest::fiscal_year(year, kinds).map_err(refusal),
            (Some(_), _, _) => Err(invalid(
                "fiscal_year",
                "give fiscal_year or from and to, not both",
            )),
            (None, Some(from), Some(to)) => Ok(ImportRequest {
                from: day("from", &from)?,
                to: day("to", &to)?,
                kinds,
            }),
            (None, None, Some(_)) => Err(invalid("from", "from is required with to")),
            (None, Some(_), None) => Err(invalid("to", "to is required with from")),
            (None, None, None) => Err(invalid(
                "fiscal_year",
                "name the period: fiscal_year (e.g. 1402), or from and to",
            )),
        }
    }
}

/// The tenant's imports.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportList {
    /// Newest first.
    pub items: Vec<ImportProgress>,
}

/// How the engine's refusals read at the API edge.
pub fn refusal(e: HistoryError) -> ApiError {
    match e {
        HistoryError::Invalid { field, message } => invalid(field, message),
        HistoryError::Refused { field, message, .. } => invalid(&field, message),
        HistoryError::NoInstance { instance, .. } => {
            ApiError::NotFound(format!("connector instance {instance}"))
        }
        HistoryError::NotEntitled(why) => ApiError::NotLicensed(why),
        e @ HistoryError::NotOffered { .. } => ApiError::Conflict {
            field: None,
            message: e.to_string(),
        },
        e @ HistoryError::AlreadyRunning { .. } => ApiError::Conflict {
            field: None,
            message: e.to_string(),
        },
        HistoryError::NotFound(id) => ApiError::NotFound(format!("history import {id}")),
        HistoryError::Ledger {
            message, transient, ..
        } => {
            if transient {
                ApiError::Unavailable(message)
            } else {
                ApiError::Upstream(message)
            }
        }
        HistoryError::Store(message) => ApiError::Internal(anyhow::anyhow!(message)),
    }
}

fn engine(state: &AppState) -> Result<Arc<SyncEngine>, ApiError> {
    state
        .sync()
        .map(|(engine, _)| engine)
        .ok_or_else(|| ApiError::Unavailable("the sync engine is not running".into()))
}

async fn start(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    params: RawPathParams,
    ApiJson(body): ApiJson<HistoryImportRequest>,
) -> Result<(StatusCode, Json<ImportProgress>), ApiError> {
    let instance = params
        .iter()
        .find(|(k, _)| *k == "instance")
        .map(|(_, v)| v.to_owned())
        .ok_or_else(|| ApiError::NotFound("route".into()))?;
    let request = body.into_request()?;
    let engine = engine(&state)?;
    let job = engine
        .start_history_import(&tenant, &instance, &request)
        .await
        .map_err(refusal)?;
    Ok((
        StatusCode::CREATED,
        Json(ImportProgress::of(&job, chrono::Utc::now())),
    ))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<ImportList>, ApiError> {
    let limit = match q.limit.as_deref() {
        None | Some("") => 50,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| ApiError::BadRequest {
                field: Some("limit".into()),
                message: "limit must be 1..=500".into(),
            })?,
    };
    let jobs = crate::store::history::list(state.db(), &tenant, limit)
        .await
        .map_err(|e| refusal(e.into()))?;
    let now = chrono::Utc::now();
    Ok(Json(ImportList {
        items: jobs.iter().map(|j| ImportProgress::of(j, now)).collect(),
    }))
}

async fn read(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<Json<ImportProgress>, ApiError> {
    let job = crate::store::history::get(state.db(), &tenant, id)
        .await
        .map_err(|e| refusal(e.into()))?;
    Ok(Json(ImportProgress::of(&job, chrono::Utc::now())))
}

async fn cancel(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<Json<ImportProgress>, ApiError> {
    let job = crate::sync::history::cancel(state.db(), &tenant, id)
        .await
        .map_err(|e| match e {
            HistoryError::Invalid { message, .. } => ApiError::Conflict {
                field: None,
                message,
            },
            other => refusal(other),
        })?;
    Ok(Json(ImportProgress::of(&job, chrono::Utc::now())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: serde_json::Value) -> Result<ImportRequest, ApiError> {
        serde_json::from_value::<HistoryImportRequest>(v)
            .unwrap()
            .into_request()
    }

    fn field_of(r: Result<ImportRequest, ApiError>) -> String {
        match r {
            Err(ApiError::Invalid { field, .. }) => field.unwrap_or_default(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn h10_the_period_is_a_fiscal_year_or_two_jalali_days() {
        let r = body(serde_json::json!({"fiscal_year": 1402})).unwrap();
        assert_eq!(r.from.to_string(), "2023-03-21");
        assert_eq!(r.kinds, [EntityKind::SalesInvoice, EntityKind::SalesReturn]);
        let r = body(serde_json::json!({
            "from": "1402/07/01", "to": "1402/09/30", "kinds": [EntityKind::SalesReturn.as_str()]
        }))
        .unwrap();
        assert_eq!(
            (r.from.to_string(), r.to.to_string()),
            ("2023-09-23".into(), "2023-12-21".into())
        );
        assert_eq!(r.kinds, [EntityKind::SalesReturn]);
        assert_eq!(field_of(body(serde_json::json!({}))), "fiscal_year");
        assert_eq!(
            field_of(body(
                serde_json::json!({"fiscal_year": 1402, "from": "1402/01/01"})
            )),
            "fiscal_year"
        );
        assert_eq!(
            field_of(body(serde_json::json!({"from": "1402/01/01"}))),
            "to"
        );
        assert_eq!(
            field_of(body(
                serde_json::json!({"from": "1402/13/01", "to": "1402/12/01"})
            )),
            "from"
        );
        assert_eq!(
            field_of(body(serde_json::json!({"fiscal_year": 1900}))),
            "fiscal_year"
        );
        // JSON has one number type: 1402.0 is the year 1402.
        let r = body(serde_json::json!({"fiscal_year": 1402.0})).unwrap();
        assert_eq!(r.from.to_string(), "2023-03-21");
        assert!(
            serde_json::from_value::<HistoryImportRequest>(
                serde_json::json!({"fiscal_year": 1402.5})
            )
            .is_err()
        );
    }
}
