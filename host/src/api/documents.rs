//! Documents with lines, one collection per kind under
//! `/api/v1/tenants/{tenant}/`: `quotes`, `sales-orders`, `sales-invoices`,
//! `sales-returns`, `purchase-invoices`, `purchase-returns`,
//! `correction-notes`. Totals are always computed by
//! `hamgam_domain::compute_totals` (via `DocumentRequest::prepare`); totals a
//! client sends are only compared. `approve` / `reject` are the finance
//! manager's F1 decisions; approval numbers the document.

use super::extract::{ApiJson, ApiQuery, Id, Tenant, page, paging, query_value};
use super::openapi::{Op, Param, Query, Resp, Routes, collection};
use super::{ApiError, AppState};
use crate::crm::kinds::SyncStatus;
use crate::crm::{Actor, Document, DocumentKind, DocumentRequest, Page, Status};
use crate::store::document::{self, DocFilter};
use crate::store::product;
use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::routing::{delete, get, post, put};
use hamgam_domain::JalaliDate;
use serde::Deserialize;

/// `sales-invoices` → `SalesInvoices`, for operation ids.
pub(super) fn pascal(path: &str) -> String {
    path.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

pub(super) const LIST_QUERY: &[Query] = &[
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
    ("party_id", "customer / supplier id", Param::Id),
    ("date_from", "Jalali YYYY/MM/DD, inclusive", Param::Date),
    ("date_to", "Jalali YYYY/MM/DD, inclusive", Param::Date),
    (
        "status",
        "pending | approved | rejected",
        Param::OneOf(Status::NAMES),
    ),
    ("paid", "true | false", Param::Bool),
    (
        "sync_status",
        "pending | synced | failed",
        Param::OneOf(SyncStatus::NAMES),
    ),
];

/// The same filters for receipts and payments, which have no `paid`.
pub(super) const PAYMENT_LIST_QUERY: &[Query] = &[
    LIST_QUERY[0],
    LIST_QUERY[1],
    LIST_QUERY[2],
    LIST_QUERY[3],
    LIST_QUERY[4],
    LIST_QUERY[5],
    LIST_QUERY[7],
];

/// The body a kind takes: returns and correction notes must name the
/// invoice they correct (`DocumentRequest::prepare`).
fn body_schema(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::SalesReturn | DocumentKind::PurchaseReturn | DocumentKind::CorrectionNote => {
            "CorrectionRequest"
        }
        _ => "DocumentRequest",
    }
}

pub(super) fn routes(mut r: Routes) -> Routes {
    for kind in DocumentKind::ALL {
        let base = collection(kind);
        let one = format!("{base}/{{id}}");
        let name = pascal(kind.path());
        let tag = kind.path();
        r = r
            .add(
                Op::new(
                    Method::GET,
                    base.clone(),
                    format!("list{name}"),
                    format!("List {}", kind.path()),
                    tag,
                )
                .query(LIST_QUERY)
                .responds(Resp::Page("Document")),
                get(
                    move |s: State<AppState>, t: Tenant, q: ApiQuery<ListQuery>| {
                        list(kind, s, t, q)
                    },
                ),
            )
            .add(
                Op::new(
                    Method::POST,
                    base,
                    format!("create{name}"),
                    format!("Create a pending {}", kind.as_str()),
                    tag,
                )
                .body(body_schema(kind))
                .responds(Resp::Created("Document")),
                post(
                    move |s: State<AppState>, t: Tenant, b: ApiJson<DocumentRequest>| {
                        create(kind, s, t, b)
                    },
                ),
            )
            .add(
                Op::new(
                    Method::GET,
                    one.clone(),
                    format!("get{name}"),
                    format!("One {}", kind.as_str()),
                    tag,
                )
                .responds(Resp::Ok("Document")),
                get(move |s: State<AppState>, t: Tenant, i: Id| read(kind, s, t, i)),
            )
            .add(
                Op::new(
                    Method::PUT,
                    one.clone(),
                    format!("replace{name}"),
                    format!("Replace a pending {}", kind.as_str()),
                    tag,
                )
                .body(body_schema(kind))
                .responds(Resp::Ok("Document")),
                put(
                    move |s: State<AppState>, t: Tenant, i: Id, b: ApiJson<DocumentRequest>| {
                        replace(kind, s, t, i, b)
                    },
                ),
            )
            .add(
                Op::new(
                    Method::DELETE,
                    one.clone(),
                    format!("delete{name}"),
                    format!("Delete a pending {}", kind.as_str()),
                    tag,
                ),
                delete(move |s: State<AppState>, t: Tenant, i: Id| remove(kind, s, t, i)),
            )
            .add(
                Op::new(
                    Method::POST,
                    format!("{one}/approve"),
                    format!("approve{name}"),
                    "F1: approve and number",
                    tag,
                )
                .responds(Resp::Ok("Document")),
                post(move |s: State<AppState>, t: Tenant, i: Id| decide(kind, true, s, t, i)),
            )
            .add(
                Op::new(
                    Method::POST,
                    format!("{one}/reject"),
                    format!("reject{name}"),
                    "F1: reject",
                    tag,
                )
                .responds(Resp::Ok("Document")),
                post(move |s: State<AppState>, t: Tenant, i: Id| decide(kind, false, s, t, i)),
            );
    }
    r
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    cursor: Option<String>,
    limit: Option<String>,
    party_id: Option<String>,
    date_from: Option<String>,
    date_to: Option<String>,
    status: Option<String>,
    paid: Option<String>,
    sync_status: Option<String>,
}

impl ListQuery {
    pub(super) fn filter(&self) -> Result<DocFilter, ApiError> {
        let sync_status = query_value("sync_status", self.sync_status.as_deref(), |s| {
            SyncStatus::parse(s).ok().map(|v| v.as_str().to_owned())
        })?;
        Ok(DocFilter {
            party_id: query_value("party_id", self.party_id.as_deref(), |v| v.parse().ok())?,
            date_from: query_value("date_from", self.date_from.as_deref(), |v| {
                JalaliDate::parse(v).ok()
            })?,
            date_to: query_value("date_to", self.date_to.as_deref(), |v| {
                JalaliDate::parse(v).ok()
            })?,
            status: query_value("status", self.status.as_deref(), Status::parse)?,
            paid: query_value("paid", self.paid.as_deref(), |v| v.parse().ok())?,
            sync_status,
        })
    }

    pub(super) fn paging(&self) -> Result<(i64, u32), ApiError> {
        paging(self.cursor.as_deref(), self.limit.as_deref())
    }
}

async fn list(
    kind: DocumentKind,
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<Document>>, ApiError> {
    let (after, limit) = q.paging()?;
    let filter = q.filter()?;
    let items = document::list_documents(state.db(), &tenant, kind, &filter, after, limit).await?;
    Ok(Json(page(items, limit, |d| d.id)))
}

async fn prepare(
    state: &AppState,
    tenant: &str,
    kind: DocumentKind,
    input: DocumentRequest,
) -> Result<crate::crm::NewDocument, ApiError> {
    let products = product::products_by_id(state.db(), tenant, &input.product_ids()).await?;
    input
        .prepare(kind, &products, &state.crm(tenant).rates)
        .map_err(|e| state.refuse(e))
}

async fn create(
    kind: DocumentKind,
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiJson(input): ApiJson<DocumentRequest>,
) -> Result<(StatusCode, Json<Document>), ApiError> {
    let new = prepare(&state, &tenant, kind, input).await?;
    let doc = document::create_document(state.db(), &Actor::api(&tenant), &new).await?;
    state.wrote();
    Ok((StatusCode::CREATED, Json(doc)))
}

async fn read(
    kind: DocumentKind,
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<Json<Document>, ApiError> {
    Ok(Json(
        document::get_document(state.db(), &tenant, kind, id).await?,
    ))
}

async fn replace(
    kind: DocumentKind,
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
    ApiJson(input): ApiJson<DocumentRequest>,
) -> Result<Json<Document>, ApiError> {
    // Existence first, so another tenant's id is a 404 whatever the body.
    document::get_document(state.db(), &tenant, kind, id).await?;
    let new = prepare(&state, &tenant, kind, input).await?;
    let doc = document::update_document(state.db(), &Actor::api(&tenant), id, &new).await?;
    state.wrote();
    Ok(Json(doc))
}

async fn remove(
    kind: DocumentKind,
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    document::delete_document(state.db(), &Actor::api(&tenant), kind, id).await?;
    state.wrote();
    Ok(StatusCode::NO_CONTENT)
}

async fn decide(
    kind: DocumentKind,
    approve: bool,
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<Json<Document>, ApiError> {
    let settings = state.crm(&tenant);
    let template = settings
        .template(kind.as_str())
        .ok_or_else(|| anyhow::anyhow!("no numbering template for {}", kind.as_str()))?;
    let doc = document::decide_document(
        state.db(),
        &Actor::api(&tenant),
        kind,
        id,
        approve,
        template,
    )
    .await?;
    state.wrote();
    Ok(Json(doc))
}
