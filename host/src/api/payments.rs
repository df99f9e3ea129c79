//! `/api/v1/tenants/{tenant}/receipts` and `…/payments` (S16, H5): cash,
//! cheque, card, bank draft, optionally linked to the invoice they settle.
//! Approval (F1) numbers the item and adds it to the invoice's paid amount.

use super::documents::{ListQuery, PAYMENT_LIST_QUERY, pascal};
use super::extract::{ApiJson, ApiQuery, Id, Tenant, page};
use super::openapi::{Op, Resp, Routes, payment_collection};
use super::{ApiError, AppState};
use crate::crm::{Actor, Page, Payment, PaymentKind, PaymentRequest};
use crate::store::payment;
use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::routing::{delete, get, post, put};

pub(super) fn routes(mut r: Routes) -> Routes {
    for kind in PaymentKind::ALL {
        let base = payment_collection(kind);
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
                .query(PAYMENT_LIST_QUERY)
                .responds(Resp::Page("Payment")),
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
                .body("PaymentRequest")
                .responds(Resp::Created("Payment")),
                post(
                    move |s: State<AppState>, t: Tenant, b: ApiJson<PaymentRequest>| {
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
                .responds(Resp::Ok("Payment")),
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
                .body("PaymentRequest")
                .responds(Resp::Ok("Payment")),
                put(
                    move |s: State<AppState>, t: Tenant, i: Id, b: ApiJson<PaymentRequest>| {
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
                .responds(Resp::Ok("Payment")),
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
                .responds(Resp::Ok("Payment")),
                post(move |s: State<AppState>, t: Tenant, i: Id| decide(kind, false, s, t, i)),
            );
    }
    r
}

async fn list(
    kind: PaymentKind,
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<Payment>>, ApiError> {
    let (after, limit) = q.paging()?;
    let filter = q.filter()?;
    if filter.paid.is_some() {
        return Err(ApiError::BadRequest {
            field: Some("paid".into()),
            message: "paid filters invoices, not receipts or payments".into(),
        });
    }
    let items = payment::list_payments(state.db(), &tenant, kind, &filter, after, limit).await?;
    Ok(Json(page(items, limit, |p| p.id)))
}

async fn create(
    kind: PaymentKind,
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiJson(input): ApiJson<PaymentRequest>,
) -> Result<(StatusCode, Json<Payment>), ApiError> {
    let new = input.validate(kind).map_err(|e| state.refuse(e))?;
    let p = payment::create_payment(state.db(), &Actor::api(&tenant), &new).await?;
    state.wrote();
    Ok((StatusCode::CREATED, Json(p)))
}

async fn read(
    kind: PaymentKind,
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<Json<Payment>, ApiError> {
    Ok(Json(
        payment::get_payment(state.db(), &tenant, kind, id).await?,
    ))
}

async fn replace(
    kind: PaymentKind,
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
    ApiJson(input): ApiJson<PaymentRequest>,
) -> Result<Json<Payment>, ApiError> {
    payment::get_payment(state.db(), &tenant, kind, id).await?;
    let new = input.validate(kind).map_err(|e| state.refuse(e))?;
    let p = payment::update_payment(state.db(), &Actor::api(&tenant), id, &new).await?;
    state.wrote();
    Ok(Json(p))
}

async fn remove(
    kind: PaymentKind,
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    payment::delete_payment(state.db(), &Actor::api(&tenant), kind, id).await?;
    state.wrote();
    Ok(StatusCode::NO_CONTENT)
}

async fn decide(
    kind: PaymentKind,
    approve: bool,
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<Json<Payment>, ApiError> {
    let settings = state.crm(&tenant);
    let template = settings
        .template(kind.as_str())
        .ok_or_else(|| anyhow::anyhow!("no numbering template for {}", kind.as_str()))?;
    let p = payment::decide_payment(
        state.db(),
        &Actor::api(&tenant),
        kind,
        id,
        approve,
        template,
    )
    .await?;
    state.wrote();
    Ok(Json(p))
}
