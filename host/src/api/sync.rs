//! `/api/v1/tenants/{tenant}/sync/…`: the finance unit's view of the sync
//! (F2: each item's state, failures with the ledger's reason, retry), a
//! run on demand, and the live lookups through the connectors (S7 balance,
//! S13 stock).

use super::extract::{ApiQuery, Id, Tenant};
use super::openapi::{Op, Param, Resp, Routes};
use super::{ApiError, AppState};
use crate::crm::kinds::{EntityKind, LinkStatus, OutboxStatus, SyncStatus};
use crate::store::journal::outbox::{self, OutboxItem};
use crate::store::sync::{self as links, Link};
use crate::sync::lookup::{Balance, LookupError, StockLevel};
use crate::sync::{RunReport, SyncError};
use axum::Json;
use axum::extract::{RawPathParams, State};
use axum::http::Method;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const BASE: &str = "/api/v1/tenants/{tenant}/sync";

/// A route that calls a connector: the ledger may fail or be away.
const LEDGER_CALL: &[(&str, &str)] = &[
    (
        "502",
        "The ledger or its connector failed; the message names it",
    ),
    ("503", "The ledger cannot be reached now; try later"),
];

/// A live lookup: also the record that is in no (books) ledger yet.
const LEDGER_LOOKUP: &[(&str, &str)] = &[
    (
        "409",
        "The record is in no ledger that keeps this value (not synced yet)",
    ),
    LEDGER_CALL[0],
    LEDGER_CALL[1],
];

pub(super) fn routes(r: Routes) -> Routes {
    r.add(
        Op::new(
            Method::GET,
            format!("{BASE}/outbox"),
            "listSyncOutbox",
            "CRM changes on their way to the ledgers, by state (F2)",
            "sync",
        )
        .query(&[
            (
                "status",
                "pending | delivered | skipped | failed (default failed)",
                Param::OneOf(OutboxStatus::NAMES),
            ),
            ("limit", "1..=500 (default 100)", Param::Limit(500)),
        ])
        .responds(Resp::Ok("OutboxList")),
        get(outbox),
    )
    .add(
        Op::new(
            Method::POST,
            format!("{BASE}/outbox/{{id}}/retry"),
            "retrySyncOutbox",
            "Send a failed or skipped CRM change again (F2 retry)",
            "sync",
        )
        .responds(Resp::Ok("OutboxItem")),
        post(retry_outbox),
    )
    .add(
        Op::new(
            Method::GET,
            format!("{BASE}/links"),
            "listSyncLinks",
            "Ledger records and their CRM records, by state (failed: could not be applied, with why)",
            "sync",
        )
        .query(&[
            (
                "status",
                "synced | failed | deleted (default failed)",
                Param::OneOf(LinkStatus::NAMES),
            ),
            ("instance", "one connector instance", Param::Text),
            ("limit", "1..=500 (default 100)", Param::Limit(500)),
        ])
        .responds(Resp::Ok("LinkList")),
        get(link_list),
    )
    .add(
        Op::new(
            Method::POST,
            format!("{BASE}/links/{{instance}}/{{kind}}/{{remote_id}}/retry"),
            "retrySyncLink",
            "Apply a refused ledger record again on the next pull",
            "sync",
        )
        .errors(LEDGER_CALL)
        .responds(Resp::Ok("RunReport")),
        post(retry_link),
    )
    .add(
        Op::new(
            Method::GET,
            format!("{BASE}/records/{{kind}}/{{id}}"),
            "getSyncRecord",
            "The sync state of one CRM record: its links and its changes",
            "sync",
        )
        .responds(Resp::Ok("SyncRecord")),
        get(record),
    )
    .add(
        Op::new(
            Method::POST,
            format!("{BASE}/instances/{{instance}}/run"),
            "runSync",
            "Run one connector instance now and report what moved",
            "sync",
        )
        .errors(LEDGER_CALL)
        .responds(Resp::Ok("RunReport")),
        post(run),
    )
    .add(
        Op::new(
            Method::GET,
            "/api/v1/tenants/{tenant}/parties/{id}/balance",
            "getPartyBalance",
            "The party's balance in each books ledger it is in, read live (S7)",
            "sync",
        )
        .errors(LEDGER_LOOKUP)
        .responds(Resp::Ok("BalanceList")),
        get(balance),
    )
    .add(
        Op::new(
            Method::GET,
            "/api/v1/tenants/{tenant}/products/{id}/stock",
            "getProductStock",
            "The product's stock per warehouse in its ledger, read live (S13)",
            "sync",
        )
        .errors(LEDGER_LOOKUP)
        .responds(Resp::Ok("StockList")),
        get(stock),
    )
}

/// The `status` query parameter (failed when absent).
pub(super) fn status_of<T>(
    given: Option<String>,
    absent: T,
    parse: impl Fn(&str) -> Result<T, crate::crm::kinds::UnknownValue>,
    allowed: &[&str],
) -> Result<T, ApiError> {
    match given {
        None => Ok(absent),
        Some(s) => parse(&s).map_err(|_| ApiError::BadRequest {
            field: Some("status".into()),
            message: format!("status must be one of {}", allowed.join(", ")),
        }),
    }
}

pub(super) fn limit_of(given: Option<String>) -> Result<u32, ApiError> {
    match given {
        None => Ok(100),
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| ApiError::BadRequest {
                field: Some("limit".into()),
                message: "limit must be 1..=500".into(),
            }),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboxQuery {
    status: Option<String>,
    limit: Option<String>,
}

/// Outbox rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxList {
    /// Newest first.
    pub items: Vec<OutboxItem>,
}

async fn outbox(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> Result<Json<OutboxList>, ApiError> {
    let status = status_of(
        q.status,
        OutboxStatus::Failed,
        OutboxStatus::parse,
        OutboxStatus::NAMES,
    )?;
    let items = outbox::outbox_with_status(state.db(), &tenant, status, limit_of(q.limit)?)
        .await
        .map_err(db)?;
    Ok(Json(OutboxList { items }))
}

pub(super) fn db(e: sqlx::Error) -> ApiError {
    ApiError::Internal(anyhow::Error::new(e))
}

async fn retry_outbox(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<Json<OutboxItem>, ApiError> {
    let at = crate::sync::now();
    let item = outbox::outbox_item(state.db(), &tenant, id)
        .await
        .map_err(db)?
        .ok_or_else(|| ApiError::NotFound(format!("outbox item {id}")))?;
    if !outbox::retry(state.db(), &tenant, id, &at)
        .await
        .map_err(db)?
    {
        return Err(ApiError::Conflict {
            field: Some("status".into()),
            message: format!(
                "outbox item {id} is {}; only failed or skipped items can be retried",
                item.status
            ),
        });
    }
    if let Some(target) = item.target.as_deref().filter(|t| *t != "-")
        && let Some((_, trigger)) = state.sync()
    {
        trigger.now(&tenant, target);
    }
    let item = outbox::outbox_item(state.db(), &tenant, id)
        .await
        .map_err(db)?
        .ok_or_else(|| ApiError::NotFound(format!("outbox item {id}")))?;
    Ok(Json(item))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkQuery {
    status: Option<String>,
    instance: Option<String>,
    limit: Option<String>,
}

/// Links.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkList {
    /// Most recently synced first.
    pub items: Vec<Link>,
}

async fn link_list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiQuery(q): ApiQuery<LinkQuery>,
) -> Result<Json<LinkList>, ApiError> {
    let status = status_of(
        q.status,
        LinkStatus::Failed,
        LinkStatus::parse,
        LinkStatus::NAMES,
    )?;
    let items = links::links_with_status(
        state.db(),
        &tenant,
        q.instance.as_deref(),
        status,
        limit_of(q.limit)?,
    )
    .await
    .map_err(db)?;
    Ok(Json(LinkList { items }))
}

pub(super) fn param(params: &RawPathParams, name: &str) -> Result<String, ApiError> {
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .ok_or_else(|| ApiError::NotFound("route".into()))
}

async fn retry_link(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    params: RawPathParams,
) -> Result<Json<RunReport>, ApiError> {
    let instance = param(&params, "instance")?;
    let kind = param(&params, "kind")?;
    let remote_id = param(&params, "remote_id")?;
    if !links::retry_link(state.db(), &tenant, &instance, &kind, &remote_id)
        .await
        .map_err(db)?
    {
        return Err(ApiError::NotFound(format!(
            "failed link {instance}/{kind}/{remote_id}"
        )));
    }
    // The record comes again with the next full scan; run now so the
    // caller sees the outcome.
    run_instance(&state, &tenant, &instance).await.map(Json)
}

/// The sync state of one CRM record.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRecord {
    /// Synced when every change was delivered and every link is synced;
    /// failed when one failed; pending otherwise.
    pub status: SyncStatus,
    /// Its ledger records.
    pub links: Vec<Link>,
    /// Its changes and where each went.
    pub changes: Vec<OutboxItem>,
}

async fn record(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    params: RawPathParams,
) -> Result<Json<SyncRecord>, ApiError> {
    let kind_text = param(&params, "kind")?;
    let kind = EntityKind::parse(&kind_text)
        .map_err(|_| ApiError::NotFound(format!("record kind {kind_text}")))?;
    let id: i64 = param(&params, "id")?
        .parse()
        .map_err(|_| ApiError::NotFound("record".into()))?;
    if !links::record_exists(state.db(), &tenant, kind, id)
        .await
        .map_err(db)?
    {
        return Err(ApiError::NotFound(format!("{kind} {id}")));
    }
    let links = links::links_of_local(state.db(), &tenant, kind.as_str(), id)
        .await
        .map_err(db)?;
    let changes = outbox::outbox_of(state.db(), &tenant, kind, id)
        .await
        .map_err(db)?;
    let failed = links
        .iter()
        .any(|l| l.status == LinkStatus::Failed.as_str())
        || changes.iter().any(|c| c.status == OutboxStatus::Failed);
    let pending = changes.iter().any(|c| c.status == OutboxStatus::Pending);
    let status = if failed {
        SyncStatus::Failed
    } else if pending {
        SyncStatus::Pending
    } else {
        SyncStatus::Synced
    };
    Ok(Json(SyncRecord {
        status,
        links,
        changes,
    }))
}

async fn run_instance(
    state: &AppState,
    tenant: &str,
    instance: &str,
) -> Result<RunReport, ApiError> {
    let (engine, _) = state
        .sync()
        .ok_or_else(|| ApiError::Unavailable("the sync engine is not running".into()))?;
    engine
        .run_once(tenant, instance)
        .await
        .map_err(|e| match e {
            SyncError::NoInstance { .. } => {
                ApiError::NotFound(format!("connector instance {instance}"))
            }
            SyncError::Call { source, .. } => ApiError::Plugin(source),
            SyncError::Connector {
                message, transient, ..
            } => {
                if transient {
                    ApiError::Unavailable(message)
                } else {
                    ApiError::Upstream(message)
                }
            }
            SyncError::Db(e) => db(e),
        })
}

async fn run(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    params: RawPathParams,
) -> Result<Json<RunReport>, ApiError> {
    let instance = param(&params, "instance")?;
    run_instance(&state, &tenant, &instance).await.map(Json)
}

/// A party's balance in one ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerBalance {
    /// Connector instance (one ledger company).
    pub instance: String,
    /// The party's id in that ledger.
    pub remote_id: String,
    /// Debit total.
    #[schema(value_type = String)]
    pub debit: hamgam_domain::Decimal,
    /// Credit total.
    #[schema(value_type = String)]
    pub credit: hamgam_domain::Decimal,
    /// Positive: the party owes us.
    #[schema(value_type = String)]
    pub balance: hamgam_domain::Decimal,
    /// Currency of the amounts.
    pub currency: String,
}

impl From<Balance> for LedgerBalance {
    fn from(b: Balance) -> LedgerBalance {
        LedgerBalance {
            instance: b.instance,
            remote_id: b.remote_id,
            debit: b.debit,
            credit: b.credit,
            balance: b.balance,
            currency: b.currency,
        }
    }
}

/// A lookup without an answer as the API says it: the record's state has
/// none (409), the ledger is away (503) or failed (502).
fn lookup_error(e: LookupError) -> ApiError {
    match e {
        LookupError::NoAnswer(message) => ApiError::Conflict {
            field: None,
            message,
        },
        LookupError::Unreachable(message) => ApiError::Unavailable(message),
        LookupError::Upstream(message) => ApiError::Upstream(message),
        LookupError::Call(e) => e.into(),
        LookupError::Db(e) => db(e),
    }
}

/// Balances per ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BalanceList {
    /// One per ledger the party is linked in.
    pub items: Vec<LedgerBalance>,
}

async fn balance(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<Json<BalanceList>, ApiError> {
    crate::store::party::get_party(state.db(), &tenant, id).await?;
    let (engine, _) = state
        .sync()
        .ok_or_else(|| ApiError::Unavailable("the sync engine is not running".into()))?;
    Ok(Json(BalanceList {
        items: engine
            .party_balances(&tenant, id)
            .await
            .map_err(lookup_error)?
            .into_iter()
            .map(LedgerBalance::from)
            .collect(),
    }))
}

/// Stock of a product in one warehouse.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerStock {
    /// Connector instance.
    pub instance: String,
    /// Warehouse.
    pub warehouse: String,
    /// Quantity on hand.
    #[schema(value_type = String)]
    pub quantity: hamgam_domain::Decimal,
}

impl From<StockLevel> for LedgerStock {
    fn from(s: StockLevel) -> LedgerStock {
        LedgerStock {
            instance: s.instance,
            warehouse: s.warehouse,
            quantity: s.quantity,
        }
    }
}

/// Stock per warehouse.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockList {
    /// One per warehouse.
    pub items: Vec<LedgerStock>,
}

async fn stock(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<Json<StockList>, ApiError> {
    crate::store::product::get_product(state.db(), &tenant, id).await?;
    let (engine, _) = state
        .sync()
        .ok_or_else(|| ApiError::Unavailable("the sync engine is not running".into()))?;
    Ok(Json(StockList {
        items: engine
            .product_stock(&tenant, id)
            .await
            .map_err(lookup_error)?
            .into_iter()
            .map(LedgerStock::from)
            .collect(),
    }))
}
