//! `/api/v1/tenants/{tenant}/products` (S13, H2).

use super::extract::{ApiJson, ApiQuery, Id, Tenant, page, paging, query_value};
use super::openapi::{Op, Param, Resp, Routes};
use super::{ApiError, AppState};
use crate::crm::{Actor, Page, Product, ProductInput, WarningRule};
use crate::store::product::{self, ProductFilter};
use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::routing::{delete, get, post, put};
use serde::Deserialize;

const BASE: &str = "/api/v1/tenants/{tenant}/products";

pub(super) fn routes(r: Routes) -> Routes {
    let one = format!("{BASE}/{{id}}");
    r.add(
        Op::new(
            Method::GET,
            BASE,
            "listProducts",
            "List products",
            "products",
        )
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
            ("code", "exact item code", Param::Text),
            (
                "has_warnings",
                "true: only products from a ledger that arrived with data-quality \
                 warnings (an item without a name or unit, kept as the ledger has it); \
                 false: only products without",
                Param::Bool,
            ),
            (
                "warning",
                "only products with a data-quality warning of this rule",
                Param::OneOf(WarningRule::NAMES),
            ),
        ])
        .responds(Resp::Page("Product")),
        get(list),
    )
    .add(
        Op::new(
            Method::POST,
            BASE,
            "createProduct",
            "Create a product",
            "products",
        )
        .body("ProductInput")
        .responds(Resp::Created("Product")),
        post(create),
    )
    .add(
        Op::new(
            Method::GET,
            one.clone(),
            "getProduct",
            "One product",
            "products",
        )
        .responds(Resp::Ok("Product")),
        get(read),
    )
    .add(
        Op::new(
            Method::PUT,
            one.clone(),
            "replaceProduct",
            "Replace a product",
            "products",
        )
        .body("ProductInput")
        .responds(Resp::Ok("Product")),
        put(replace),
    )
    .add(
        Op::new(
            Method::DELETE,
            one,
            "deleteProduct",
            "Delete a product",
            "products",
        ),
        delete(remove),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<String>,
    code: Option<String>,
    has_warnings: Option<String>,
    warning: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<Product>>, ApiError> {
    let (after, limit) = paging(q.cursor.as_deref(), q.limit.as_deref())?;
    let filter = ProductFilter {
        code: q.code.filter(|c| !c.is_empty()),
        has_warnings: query_value("has_warnings", q.has_warnings.as_deref(), |v| {
            v.parse().ok()
        })?,
        warning: query_value("warning", q.warning.as_deref(), WarningRule::parse)?,
    };
    let items = product::list_products(state.db(), &tenant, &filter, after, limit).await?;
    Ok(Json(page(items, limit, |p| p.id)))
}

async fn create(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiJson(input): ApiJson<ProductInput>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let new = input.validate().map_err(|e| state.refuse(e))?;
    let product = product::create_product(state.db(), &Actor::api(&tenant), &new).await?;
    state.wrote();
    Ok((StatusCode::CREATED, Json(product)))
}

async fn read(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(product::get_product(state.db(), &tenant, id).await?))
}

async fn replace(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
    ApiJson(input): ApiJson<ProductInput>,
) -> Result<Json<Product>, ApiError> {
    let new = input.validate().map_err(|e| state.refuse(e))?;
    let product = product::update_product(state.db(), &Actor::api(&tenant), id, &new).await?;
    state.wrote();
    Ok(Json(product))
}

async fn remove(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    product::delete_product(state.db(), &Actor::api(&tenant), id).await?;
    state.wrote();
    Ok(StatusCode::NO_CONTENT)
}
