//! The HTTP surface: one axum fallback handler doing what WordPress's REST
//! server and WooCommerce's controllers do, in their order:
//! authentication (errors win over everything), the key's read/write
//! permission, route matching (`rest_no_route`), parameter validation
//! (`rest_invalid_param`), the permission callback (`woocommerce_rest_cannot_*`
//! for anonymous requests), then the handler. Bodies are written like
//! `wp_json_encode` (see [`crate::json`]).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::auth::{self, AuthMethod, Outcome};
use crate::error::WooError;
use crate::json::php_json;
use crate::model::{self, valid_topic};
use crate::store::{Db, ORDER_STATUSES};
use crate::{RequestLogEntry, Shared, webhooks};

// ------------------------------------------------------------ lenient input

/// A JSON scalar as PHP would cast it to string.
pub fn lenient_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "1" } else { "" }.into(),
        other => other.to_string(),
    }
}

/// A non-negative integer from a number or numeric string.
pub fn lenient_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An integer from a number or numeric string.
pub fn lenient_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A decimal from a number or numeric string.
pub fn lenient_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

// ------------------------------------------------------------------- reply

pub(crate) struct Reply {
    status: u16,
    body: Value,
    headers: Vec<(String, String)>,
}

fn ok(body: Value) -> Reply {
    Reply {
        status: 200,
        body,
        headers: vec![],
    }
}

fn created(body: Value, location: String) -> Reply {
    Reply {
        status: 201,
        body,
        headers: vec![("Location".into(), location)],
    }
}

impl From<WooError> for Reply {
    fn from(e: WooError) -> Reply {
        Reply {
            status: e.status,
            body: e.to_json(),
            headers: vec![],
        }
    }
}

type R = Result<Reply, WooError>;

// ----------------------------------------------------------------- request

struct Req<'a> {
    method: &'a str,
    /// Route after `/wp-json/wc/v3/`, without slashes at the ends.
    route: String,
    query: &'a [(String, String)],
    body: Value,
    key: Option<crate::ApiKey>,
}

impl Req<'_> {
    fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// An array parameter: `name[]=a&name[]=b`, `name[0]=a`, or `name=a,b`.
    fn list(&self, name: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let mut seen = false;
        for (k, v) in self.query {
            if k == name {
                seen = true;
                out.extend(
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                );
            } else if let Some(rest) = k.strip_prefix(name)
                && rest.starts_with('[')
                && rest.ends_with(']')
            {
                seen = true;
                out.push(v.clone());
            }
        }
        seen.then_some(out)
    }
    fn param(&self, name: &str) -> Option<String> {
        self.q(name)
            .map(str::to_string)
            .or_else(|| self.body.get(name).map(lenient_string))
    }
    fn bool_param(&self, name: &str) -> Result<bool, WooError> {
        match self.param(name).as_deref() {
            None => Ok(false),
            Some("1" | "true" | "yes") => Ok(true),
            Some("0" | "false" | "no" | "") => Ok(false),
            Some(_) => Err(WooError::invalid_param(
                name,
                format!("{name} is not of type boolean."),
            )),
        }
    }
    fn need(&self, what: Need) -> Result<(), WooError> {
        if self.key.is_some() {
            return Ok(());
        }
        let (code, msg) = match what {
            Need::List => (
                "woocommerce_rest_cannot_view",
                "Sorry, you cannot list resources.",
            ),
            Need::View => (
                "woocommerce_rest_cannot_view",
                "Sorry, you cannot view this resource.",
            ),
            Need::Create => (
                "woocommerce_rest_cannot_create",
                "Sorry, you are not allowed to create resources.",
            ),
            Need::Edit => (
                "woocommerce_rest_cannot_edit",
                "Sorry, you are not allowed to edit this resource.",
            ),
            Need::Delete => (
                "woocommerce_rest_cannot_delete",
                "Sorry, you are not allowed to delete this resource.",
            ),
            Need::Batch => (
                "woocommerce_rest_cannot_batch",
                "Sorry, you are not allowed to batch manipulate this resource.",
            ),
        };
        Err(WooError::new(401, code, msg))
    }
    fn user_id(&self) -> u64 {
        self.key.as_ref().map(|k| k.user_id).unwrap_or(0)
    }
}

#[derive(Clone, Copy)]
enum Need {
    List,
    View,
    Create,
    Edit,
    Delete,
    Batch,
}

// ------------------------------------------------------------------ handler

/// The axum handler behind every path.
pub(crate) async fn handle(
    State(sh): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sh.stall.hold().await;
    let started = Instant::now();
    let time = Utc::now();
    let raw_query = uri.query().map(str::to_string);
    let query: Vec<(String, String)> =
        form_urlencoded::parse(raw_query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let form: Vec<(String, String)> = if ctype.starts_with("application/x-www-form-urlencoded") {
        form_urlencoded::parse(&body).into_owned().collect()
    } else {
        vec![]
    };
    let mut how = None;
    let reply = match process(
        &sh,
        method.as_str(),
        uri.path(),
        &query,
        &form,
        &ctype,
        &headers,
        &body,
        &mut how,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => e.into(),
    };
    sh.record(RequestLogEntry {
        time,
        method: method.to_string(),
        path: uri.path().to_string(),
        query: raw_query,
        status: reply.status,
        auth: how,
        elapsed: started.elapsed(),
    });
    let mut resp = (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        if method == Method::HEAD {
            Vec::new()
        } else {
            php_json(&reply.body)
        },
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    h.insert("X-Robots-Tag", HeaderValue::from_static("noindex"));
    h.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "Access-Control-Expose-Headers",
        HeaderValue::from_static("X-WP-Total, X-WP-TotalPages, Link"),
    );
    for (k, v) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::try_from(k.as_str()),
            HeaderValue::from_str(&v),
        ) {
            h.insert(name, value);
        }
    }
    resp
}

#[allow(clippy::too_many_arguments)]
async fn process(
    sh: &Arc<Shared>,
    method: &str,
    path: &str,
    query: &[(String, String)],
    form: &[(String, String)],
    ctype: &str,
    headers: &HeaderMap,
    body: &[u8],
    how: &mut Option<AuthMethod>,
) -> R {
    let method = if method == "HEAD" { "GET" } else { method };
    let Some(rest) = path.strip_prefix("/wp-json") else {
        return Err(WooError::no_route());
    };
    // Authentication.
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let now = sh.db().now().timestamp();
    let keys = sh.keys.lock().expect("keys lock").clone();
    let outcome = {
        let req = auth::Request {
            method,
            path,
            query,
            form,
            authorization,
            https: sh.cfg.https,
            host: &sh.site_host,
            now,
        };
        let mut nonces = sh.nonces.lock().expect("nonces lock");
        auth::authenticate(&req, &keys, &mut nonces)
    };
    let key = match outcome {
        Outcome::Error(e) => return Err(e),
        Outcome::Anonymous => None,
        Outcome::Key(idx, m) => {
            *how = Some(m);
            let k = keys[idx].clone();
            auth::check_permissions(k.permissions, method)?;
            Some(k)
        }
    };
    let Some(route) = rest.strip_prefix("/wc/v3") else {
        return Err(WooError::no_route());
    };
    let route = route.trim_matches('/').to_string();
    let body = if body.is_empty() {
        json!({})
    } else if !form.is_empty() {
        Value::Object(
            form.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    } else if ctype.contains("json") || body.first().is_some_and(|b| *b == b'{' || *b == b'[') {
        serde_json::from_slice(body).map_err(|e| {
            let mut err = WooError::new(400, "rest_invalid_json", "Invalid JSON body passed.");
            err.data.insert("json_error_code".into(), json!(4));
            err.data
                .insert("json_error_message".into(), json!(e.to_string()));
            err
        })?
    } else {
        json!({})
    };
    let req = Req {
        method,
        route,
        query,
        body,
        key,
    };
    route_request(sh, &req).await
}

fn id_of(s: &str) -> Option<u64> {
    s.parse().ok().filter(|n| *n > 0)
}

async fn route_request(sh: &Arc<Shared>, req: &Req<'_>) -> R {
    let segs: Vec<&str> = req.route.split('/').collect();
    let edit = ["POST", "PUT", "PATCH"].contains(&req.method);
    match (segs.as_slice(), req.method) {
        (["orders"], "GET") => list_orders(sh, req),
        (["orders"], "POST") => create_order(sh, req),
        (["orders", "batch"], _) if edit => batch(sh, req, "orders"),
        ([_, id], _) if id_of(id).is_none() && *id != "batch" => Err(WooError::no_route()),
        (["orders", id], "GET") => get_order(sh, req, id_of(id)),
        (["orders", id], _) if edit => update_order(sh, req, id_of(id)),
        (["orders", id], "DELETE") => delete_order(sh, req, id_of(id)),
        (["orders", id, "refunds"], "GET") => list_refunds(sh, req, id_of(id)),
        (["orders", id, "refunds"], "POST") => create_refund(sh, req, id_of(id)),
        (["orders", id, "refunds", rid], "GET") => get_refund(sh, req, id_of(id), id_of(rid)),
        (["orders", id, "refunds", rid], "DELETE") => delete_refund(sh, req, id_of(id), id_of(rid)),
        (["customers"], "GET") => list_customers(sh, req),
        (["customers"], "POST") => create_customer(sh, req),
        (["customers", "batch"], _) if edit => batch(sh, req, "customers"),
        (["customers", id], "GET") => get_customer(sh, req, id_of(id)),
        (["customers", id], _) if edit => update_customer(sh, req, id_of(id)),
        (["customers", id], "DELETE") => delete_customer(sh, req, id_of(id)),
        (["products"], "GET") => list_products(sh, req),
        (["products"], "POST") => create_product(sh, req),
        (["products", "batch"], _) if edit => batch(sh, req, "products"),
        (["products", id], "GET") => get_product(sh, req, id_of(id)),
        (["products", id], _) if edit => update_product(sh, req, id_of(id)),
        (["products", id], "DELETE") => delete_product(sh, req, id_of(id)),
        (["webhooks"], "GET") => list_webhooks(sh, req),
        (["webhooks"], "POST") => create_webhook(sh, req).await,
        (["webhooks", id], "GET") => get_webhook(sh, req, id_of(id)),
        (["webhooks", id], _) if edit => update_webhook(sh, req, id_of(id)),
        (["webhooks", id], "DELETE") => delete_webhook(sh, req, id_of(id)),
        (["data", "currencies", "current"], "GET") => current_currency(sh, req),
        _ => Err(WooError::no_route()),
    }
}

// --------------------------------------------------------------- pagination

struct Paging {
    per_page: usize,
    page: usize,
    offset: Option<usize>,
}

fn paging(req: &Req<'_>) -> Result<Paging, WooError> {
    let int = |name: &str| -> Result<Option<i64>, WooError> {
        match req.q(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                WooError::invalid_param(name, format!("{name} is not of type integer."))
            }),
        }
    };
    let per_page = int("per_page")?.unwrap_or(10);
    if !(1..=100).contains(&per_page) {
        return Err(WooError::invalid_param(
            "per_page",
            "per_page must be between 1 (inclusive) and 100 (inclusive)",
        ));
    }
    let page = int("page")?.unwrap_or(1);
    if page < 1 {
        return Err(WooError::invalid_param(
            "page",
            "page must be greater than or equal to 1",
        ));
    }
    let offset = int("offset")?;
    if offset.is_some_and(|o| o < 0) {
        return Err(WooError::invalid_param(
            "offset",
            "offset must be greater than or equal to 0",
        ));
    }
    Ok(Paging {
        per_page: per_page as usize,
        page: page as usize,
        offset: offset.map(|o| o as usize),
    })
}

fn paginate(sh: &Shared, req: &Req<'_>, p: &Paging, items: Vec<Value>) -> Reply {
    let total = items.len();
    let start = p.offset.unwrap_or((p.page - 1) * p.per_page);
    let body: Vec<Value> = items.into_iter().skip(start).take(p.per_page).collect();
    let pages = total.div_ceil(p.per_page);
    let link = |page: usize| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        let mut had_page = false;
        for (k, v) in req.query {
            if k == "page" {
                if !had_page {
                    ser.append_pair("page", &page.to_string());
                    had_page = true;
                }
            } else {
                ser.append_pair(k, v);
            }
        }
        if !had_page {
            ser.append_pair("page", &page.to_string());
        }
        format!("{}/wp-json/wc/v3/{}?{}", sh.site(), req.route, ser.finish())
    };
    let mut links = Vec::new();
    if p.page > 1 {
        links.push(format!(
            "<{}>; rel=\"prev\"",
            link((p.page - 1).min(pages.max(1)))
        ));
    }
    if pages > p.page {
        links.push(format!("<{}>; rel=\"next\"", link(p.page + 1)));
    }
    let mut headers = vec![
        ("X-WP-Total".to_string(), total.to_string()),
        ("X-WP-TotalPages".to_string(), pages.to_string()),
    ];
    if !links.is_empty() {
        headers.push(("Link".into(), links.join(", ")));
    }
    Reply {
        status: 200,
        body: Value::Array(body),
        headers,
    }
}

/// A date filter as `WP_Date_Query` applies it: the wall-clock part of the
/// value (any offset is ignored) compared with the local or GMT column.
fn date_param(req: &Req<'_>, name: &str) -> Result<Option<NaiveDateTime>, WooError> {
    let Some(v) = req.q(name) else {
        return Ok(None);
    };
    let v = v.trim();
    let head: String = v.chars().take(19).collect();
    let tail = &v[head.len()..];
    let tail_ok = tail.is_empty()
        || tail == "Z"
        || tail == "z"
        || tail.starts_with('.')
        || tail.starts_with('+')
        || tail.starts_with('-');
    let parsed = NaiveDateTime::parse_from_str(&head.replace(['t', ' '], "T"), "%Y-%m-%dT%H:%M:%S");
    match parsed {
        Ok(d) if tail_ok => Ok(Some(d)),
        _ => Err(WooError::invalid_param(name, "Invalid date.")),
    }
}

struct DateFilters {
    after: Option<NaiveDateTime>,
    before: Option<NaiveDateTime>,
    modified_after: Option<NaiveDateTime>,
    modified_before: Option<NaiveDateTime>,
    gmt: bool,
}

fn date_filters(req: &Req<'_>) -> Result<DateFilters, WooError> {
    Ok(DateFilters {
        after: date_param(req, "after")?,
        before: date_param(req, "before")?,
        modified_after: date_param(req, "modified_after")?,
        modified_before: date_param(req, "modified_before")?,
        gmt: req.bool_param("dates_are_gmt")?,
    })
}

impl DateFilters {
    fn keep(&self, sh: &Shared, created: DateTime<Utc>, modified: DateTime<Utc>) -> bool {
        let off = sh.fmt(None).offset;
        let col = |d: DateTime<Utc>| {
            if self.gmt {
                d.naive_utc()
            } else {
                d.with_timezone(&off).naive_local()
            }
        };
        let (c, m) = (col(created), col(modified));
        self.after.is_none_or(|a| c > a)
            && self.before.is_none_or(|b| c < b)
            && self.modified_after.is_none_or(|a| m > a)
            && self.modified_before.is_none_or(|b| m < b)
    }
}

fn order_dir(req: &Req<'_>, default: &str) -> Result<bool, WooError> {
    match req.q("order").unwrap_or(default) {
        "asc" => Ok(true),
        "desc" => Ok(false),
        _ => Err(WooError::invalid_param(
            "order",
            "order is not one of asc and desc.",
        )),
    }
}

fn orderby<'a>(req: &'a Req<'_>, default: &'a str, allowed: &[&str]) -> Result<&'a str, WooError> {
    let v = req.q("orderby").unwrap_or(default);
    if allowed.contains(&v) {
        Ok(v)
    } else {
        Err(WooError::invalid_param(
            "orderby",
            format!("orderby is not one of {}.", allowed.join(", ")),
        ))
    }
}

fn id_list(req: &Req<'_>, name: &str) -> Option<Vec<u64>> {
    req.list(name)
        .map(|l| l.iter().filter_map(|s| s.parse().ok()).collect())
}

fn dp(req: &Req<'_>) -> Result<Option<u32>, WooError> {
    match req.q("dp") {
        None => Ok(None),
        Some(v) => v
            .parse::<u32>()
            .map(Some)
            .map_err(|_| WooError::invalid_param("dp", "dp is not of type integer.")),
    }
}

// ------------------------------------------------------------------- orders

fn order_404() -> WooError {
    WooError::new(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
}

fn render_order(sh: &Shared, db: &Db, id: u64, dp: Option<u32>) -> Value {
    match db.orders.get(&id) {
        Some(o) => model::order_json(o, &db.refunds_of(id), &sh.fmt(dp), &sh.cfg.wc_version),
        None => Value::Null,
    }
}

fn list_orders(sh: &Shared, req: &Req<'_>) -> R {
    let p = paging(req)?;
    let dates = date_filters(req)?;
    let statuses = req.list("status").unwrap_or_else(|| vec!["any".into()]);
    for s in &statuses {
        if s != "any" && !ORDER_STATUSES.contains(&s.as_str()) {
            return Err(WooError::invalid_param(
                "status",
                format!(
                    "status[0] is not one of any, {}.",
                    ORDER_STATUSES.join(", ")
                ),
            ));
        }
    }
    let asc = order_dir(req, "desc")?;
    let by = orderby(
        req,
        "date",
        &["date", "id", "include", "title", "slug", "modified"],
    )?;
    let customer = match req.q("customer") {
        Some(c) => Some(c.parse::<u64>().map_err(|_| {
            WooError::invalid_param("customer", "customer is not of type integer.")
        })?),
        None => None,
    };
    let product = req.q("product").and_then(|v| v.parse::<u64>().ok());
    let include = id_list(req, "include");
    let exclude = id_list(req, "exclude").unwrap_or_default();
    let search = req.q("search").map(str::to_lowercase);
    let dp = dp(req)?;
    req.need(Need::List)?;
    let db = sh.db();
    let mut list: Vec<&model::Order> = db
        .orders
        .values()
        .filter(|o| {
            statuses.iter().any(|s| {
                if s == "any" {
                    !["trash", "auto-draft"].contains(&o.status.as_str())
                } else {
                    *s == o.status
                }
            })
        })
        .filter(|o| customer.is_none_or(|c| o.customer_id == c))
        .filter(|o| product.is_none_or(|p| o.line_items.iter().any(|l| l.product_id == p)))
        .filter(|o| include.as_ref().is_none_or(|i| i.contains(&o.id)))
        .filter(|o| !exclude.contains(&o.id))
        .filter(|o| dates.keep(sh, o.date_created, o.date_modified))
        .filter(|o| {
            search.as_ref().is_none_or(|s| {
                let b = &o.billing;
                [&b.first_name, &b.last_name, &b.email, &b.phone, &o.number]
                    .iter()
                    .any(|f| f.to_lowercase().contains(s))
            })
        })
        .collect();
    list.sort_by(|a, b| {
        let ord = match by {
            "id" | "include" | "title" | "slug" => a.id.cmp(&b.id),
            "modified" => a.date_modified.cmp(&b.date_modified).then(a.id.cmp(&b.id)),
            _ => a.date_created.cmp(&b.date_created).then(a.id.cmp(&b.id)),
        };
        if asc { ord } else { ord.reverse() }
    });
    let items = list
        .iter()
        .map(|o| render_order(sh, &db, o.id, dp))
        .collect();
    Ok(paginate(sh, req, &p, items))
}

fn get_order(sh: &Shared, req: &Req<'_>, id: Option<u64>) -> R {
    let dp = dp(req)?;
    req.need(Need::View)?;
    let db = sh.db();
    let id = id
        .filter(|i| db.orders.contains_key(i))
        .ok_or_else(order_404)?;
    Ok(ok(render_order(sh, &db, id, dp)))
}

fn create_order_inner(sh: &Shared, req: &Req<'_>, body: &Value) -> Result<Value, WooError> {
    if body.get("id").and_then(lenient_u64).unwrap_or(0) > 0 {
        return Err(WooError::new(
            400,
            "woocommerce_rest_shop_order_exists",
            "Cannot create existing shop_order.",
        ));
    }
    let _ = req;
    let o = sh.write(|db| db.create_order(body, "rest-api"))?;
    let db = sh.db();
    Ok(render_order(sh, &db, o.id, None))
}

fn create_order(sh: &Shared, req: &Req<'_>) -> R {
    req.need(Need::Create)?;
    let v = create_order_inner(sh, req, &req.body)?;
    let loc = format!("{}/wp-json/wc/v3/orders/{}", sh.site(), v["id"]);
    Ok(created(v, loc))
}

fn update_order_inner(sh: &Shared, id: Option<u64>, body: &Value) -> Result<Value, WooError> {
    let id = id.ok_or_else(order_404)?;
    sh.write(|db| db.update_order(id, body))?;
    let db = sh.db();
    Ok(render_order(sh, &db, id, None))
}

fn update_order(sh: &Shared, req: &Req<'_>, id: Option<u64>) -> R {
    req.need(Need::Edit)?;
    Ok(ok(update_order_inner(sh, id, &req.body)?))
}

fn delete_order_inner(sh: &Shared, id: Option<u64>, force: bool) -> Result<Value, WooError> {
    let id = id.ok_or_else(order_404)?;
    let before = {
        let db = sh.db();
        if !db.orders.contains_key(&id) {
            return Err(order_404());
        }
        render_order(sh, &db, id, None)
    };
    sh.write(|db| db.delete_order(id, force))?;
    if force {
        return Ok(before);
    }
    let db = sh.db();
    Ok(render_order(sh, &db, id, None))
}

fn delete_order(sh: &Shared, req: &Req<'_>, id: Option<u64>) -> R {
    let force = req.bool_param("force")?;
    req.need(Need::Delete)?;
    Ok(ok(delete_order_inner(sh, id, force)?))
}

// ------------------------------------------------------------------ refunds

fn list_refunds(sh: &Shared, req: &Req<'_>, id: Option<u64>) -> R {
    let p = paging(req)?;
    let dp = dp(req)?;
    req.need(Need::List)?;
    let db = sh.db();
    let id = id.filter(|i| db.orders.contains_key(i)).ok_or_else(|| {
        WooError::new(
            404,
            "woocommerce_rest_invalid_order_id",
            "Invalid order ID.",
        )
    })?;
    let f = sh.fmt(dp);
    let items = db
        .refunds_of(id)
        .iter()
        .map(|r| model::refund_json(r, &f))
        .collect();
    Ok(paginate(sh, req, &p, items))
}

fn get_refund(sh: &Shared, req: &Req<'_>, id: Option<u64>, rid: Option<u64>) -> R {
    let dp = dp(req)?;
    req.need(Need::View)?;
    let db = sh.db();
    let r = rid
        .and_then(|r| db.refunds.get(&r))
        .filter(|r| Some(r.order_id) == id)
        .ok_or_else(|| {
            WooError::new(
                404,
                "woocommerce_rest_shop_order_refund_invalid_id",
                "Invalid ID.",
            )
        })?;
    Ok(ok(model::refund_json(r, &sh.fmt(dp))))
}

fn create_refund(sh: &Shared, req: &Req<'_>, id: Option<u64>) -> R {
    req.need(Need::Create)?;
    let id = id.ok_or_else(|| {
        WooError::new(
            404,
            "woocommerce_rest_invalid_order_id",
            "Invalid order ID.",
        )
    })?;
    let user = req.user_id();
    let r = sh.write(|db| db.create_refund(id, &req.body, user))?;
    let loc = format!("{}/wp-json/wc/v3/orders/{id}/refunds/{}", sh.site(), r.id);
    Ok(created(model::refund_json(&r, &sh.fmt(None)), loc))
}

fn delete_refund(sh: &Shared, req: &Req<'_>, id: Option<u64>, rid: Option<u64>) -> R {
    let force = req.bool_param("force")?;
    req.need(Need::Delete)?;
    if !force {
        return Err(WooError::new(
            501,
            "woocommerce_rest_trash_not_supported",
            "Refunds do not support trashing.",
        ));
    }
    let r = sh.write(|db| db.delete_refund(id.unwrap_or(0), rid.unwrap_or(0)))?;
    Ok(ok(model::refund_json(&r, &sh.fmt(None))))
}

// ---------------------------------------------------------------- customers

fn customer_404() -> WooError {
    WooError::new(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
}

fn list_customers(sh: &Shared, req: &Req<'_>) -> R {
    let p = paging(req)?;
    let asc = order_dir(req, "asc")?;
    let by = orderby(req, "name", &["id", "include", "name", "registered_date"])?;
    let role = req.q("role").unwrap_or("customer").to_string();
    let email = req.q("email").map(str::to_lowercase);
    let search = req.q("search").map(str::to_lowercase);
    let include = id_list(req, "include");
    let exclude = id_list(req, "exclude").unwrap_or_default();
    req.need(Need::List)?;
    let db = sh.db();
    let mut list: Vec<&model::Customer> = db
        .customers
        .values()
        .filter(|c| role == "all" || c.role == role)
        .filter(|c| email.as_ref().is_none_or(|e| c.email.to_lowercase() == *e))
        .filter(|c| {
            search.as_ref().is_none_or(|s| {
                [&c.email, &c.first_name, &c.last_name, &c.username]
                    .iter()
                    .any(|f| f.to_lowercase().contains(s.trim_matches('*')))
            })
        })
        .filter(|c| include.as_ref().is_none_or(|i| i.contains(&c.id)))
        .filter(|c| !exclude.contains(&c.id))
        .collect();
    list.sort_by(|a, b| {
        let ord = match by {
            "name" => a.username.cmp(&b.username).then(a.id.cmp(&b.id)),
            "registered_date" => a.date_created.cmp(&b.date_created).then(a.id.cmp(&b.id)),
            _ => a.id.cmp(&b.id),
        };
        if asc { ord } else { ord.reverse() }
    });
    let f = sh.fmt(None);
    let items = list.iter().map(|c| model::customer_json(c, &f)).collect();
    Ok(paginate(sh, req, &p, items))
}

fn get_customer(sh: &Shared, req: &Req<'_>, id: Option<u64>) -> R {
    req.need(Need::View)?;
    let db = sh.db();
    let c = id
        .and_then(|i| db.customers.get(&i))
        .ok_or_else(customer_404)?;
    Ok(ok(model::customer_json(c, &sh.fmt(None))))
}

fn create_customer_inner(sh: &Shared, body: &Value) -> Result<Value, WooError> {
    if body.get("id").and_then(lenient_u64).unwrap_or(0) > 0 {
        return Err(WooError::new(
            400,
            "woocommerce_rest_customer_exists",
            "Cannot create existing resource.",
        ));
    }
    let c = sh.write(|db| db.create_customer(body))?;
    Ok(model::customer_json(&c, &sh.fmt(None)))
}

fn create_customer(sh: &Shared, req: &Req<'_>) -> R {
    req.need(Need::Create)?;
    let v = create_customer_inner(sh, &req.body)?;
    let loc = format!("{}/wp-json/wc/v3/customers/{}", sh.site(), v["id"]);
    Ok(created(v, loc))
}

fn update_customer_inner(sh: &Shared, id: Option<u64>, body: &Value) -> Result<Value, WooError> {
    let id = id.ok_or_else(customer_404)?;
    let c = sh.write(|db| db.update_customer(id, body))?;
    Ok(model::customer_json(&c, &sh.fmt(None)))
}

fn update_customer(sh: &Shared, req: &Req<'_>, id: Option<u64>) -> R {
    req.need(Need::Edit)?;
    Ok(ok(update_customer_inner(sh, id, &req.body)?))
}

fn delete_customer_inner(sh: &Shared, id: Option<u64>, force: bool) -> Result<Value, WooError> {
    if !force {
        return Err(WooError::new(
            501,
            "woocommerce_rest_trash_not_supported",
            "Customers do not support trashing.",
        ));
    }
    let id = id.ok_or_else(customer_404)?;
    let c = sh.write(|db| db.delete_customer(id))?;
    Ok(model::customer_json(&c, &sh.fmt(None)))
}

fn delete_customer(sh: &Shared, req: &Req<'_>, id: Option<u64>) -> R {
    let force = req.bool_param("force")?;
    req.need(Need::Delete)?;
    Ok(ok(delete_customer_inner(sh, id, force)?))
}

// ----------------------------------------------------------------- products

fn product_404() -> WooError {
    WooError::new(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
}

fn list_products(sh: &Shared, req: &Req<'_>) -> R {
    let p = paging(req)?;
    let dates = date_filters(req)?;
    let asc = order_dir(req, "desc")?;
    let by = orderby(
        req,
        "date",
        &[
            "date",
            "modified",
            "id",
            "include",
            "title",
            "slug",
            "price",
            "popularity",
            "rating",
            "menu_order",
        ],
    )?;
    let status = req.q("status").unwrap_or("any").to_string();
    let sku = req.q("sku").map(|s| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .collect::<Vec<_>>()
    });
    let stock_status = req.q("stock_status").map(str::to_string);
    let search = req.q("search").map(str::to_lowercase);
    let include = id_list(req, "include");
    let exclude = id_list(req, "exclude").unwrap_or_default();
    req.need(Need::List)?;
    let db = sh.db();
    let mut list: Vec<&model::Product> = db
        .products
        .values()
        .filter(|x| {
            if status == "any" {
                x.status != "trash"
            } else {
                x.status == status
            }
        })
        .filter(|x| sku.as_ref().is_none_or(|s| s.contains(&x.sku)))
        .filter(|x| stock_status.as_ref().is_none_or(|s| x.stock_status() == s))
        .filter(|x| {
            search.as_ref().is_none_or(|s| {
                x.name.to_lowercase().contains(s) || x.sku.to_lowercase().contains(s)
            })
        })
        .filter(|x| include.as_ref().is_none_or(|i| i.contains(&x.id)))
        .filter(|x| !exclude.contains(&x.id))
        .filter(|x| dates.keep(sh, x.date_created, x.date_modified))
        .collect();
    list.sort_by(|a, b| {
        let ord = match by {
            "id" | "include" => a.id.cmp(&b.id),
            "title" => a.name.cmp(&b.name).then(a.id.cmp(&b.id)),
            "slug" => a.slug.cmp(&b.slug).then(a.id.cmp(&b.id)),
            "price" => a.price().cmp(&b.price()).then(a.id.cmp(&b.id)),
            "modified" => a.date_modified.cmp(&b.date_modified).then(a.id.cmp(&b.id)),
            "popularity" => a.total_sales.cmp(&b.total_sales).then(a.id.cmp(&b.id)),
            _ => a.date_created.cmp(&b.date_created).then(a.id.cmp(&b.id)),
        };
        if asc { ord } else { ord.reverse() }
    });
    let f = sh.fmt(None);
    let items = list.iter().map(|x| model::product_json(x, &f)).collect();
    Ok(paginate(sh, req, &p, items))
}

fn get_product(sh: &Shared, req: &Req<'_>, id: Option<u64>) -> R {
    req.need(Need::View)?;
    let db = sh.db();
    let p = id
        .and_then(|i| db.products.get(&i))
        .ok_or_else(product_404)?;
    Ok(ok(model::product_json(p, &sh.fmt(None))))
}

fn create_product_inner(sh: &Shared, body: &Value) -> Result<Value, WooError> {
    if body.get("id").and_then(lenient_u64).unwrap_or(0) > 0 {
        return Err(WooError::new(
            400,
            "woocommerce_rest_product_exists",
            "Cannot create existing product.",
        ));
    }
    let p = sh.write(|db| db.create_product(body))?;
    Ok(model::product_json(&p, &sh.fmt(None)))
}

fn create_product(sh: &Shared, req: &Req<'_>) -> R {
    req.need(Need::Create)?;
    let v = create_product_inner(sh, &req.body)?;
    let loc = format!("{}/wp-json/wc/v3/products/{}", sh.site(), v["id"]);
    Ok(created(v, loc))
}

fn update_product_inner(sh: &Shared, id: Option<u64>, body: &Value) -> Result<Value, WooError> {
    let id = id.ok_or_else(product_404)?;
    let p = sh.write(|db| db.update_product(id, body))?;
    Ok(model::product_json(&p, &sh.fmt(None)))
}

fn update_product(sh: &Shared, req: &Req<'_>, id: Option<u64>) -> R {
    req.need(Need::Edit)?;
    Ok(ok(update_product_inner(sh, id, &req.body)?))
}

fn delete_product_inner(sh: &Shared, id: Option<u64>, force: bool) -> Result<Value, WooError> {
    let id = id.ok_or_else(product_404)?;
    let p = sh.write(|db| db.delete_product(id, force))?;
    Ok(model::product_json(&p, &sh.fmt(None)))
}

fn delete_product(sh: &Shared, req: &Req<'_>, id: Option<u64>) -> R {
    let force = req.bool_param("force")?;
    req.need(Need::Delete)?;
    Ok(ok(delete_product_inner(sh, id, force)?))
}

// -------------------------------------------------------------------- batch

fn batch(sh: &Shared, req: &Req<'_>, what: &str) -> R {
    let part = |k: &str| {
        req.body
            .get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (c, u, d) = (part("create"), part("update"), part("delete"));
    let limit = 100;
    if c.len() + u.len() + d.len() > limit {
        return Err(WooError::new(
            413,
            "woocommerce_rest_request_entity_too_large",
            format!("Unable to accept more than {limit} items for this request."),
        ));
    }
    req.need(Need::Batch)?;
    let item_err = |id: u64, e: WooError| json!({"id": id, "error": {"code": e.code, "message": e.message, "data": {"status": e.status}}});
    let mut out = serde_json::Map::new();
    if req.body.get("create").is_some() {
        let r: Vec<Value> = c
            .iter()
            .map(|b| {
                let res = match what {
                    "orders" => create_order_inner(sh, req, b),
                    "customers" => create_customer_inner(sh, b),
                    _ => create_product_inner(sh, b),
                };
                res.unwrap_or_else(|e| item_err(0, e))
            })
            .collect();
        out.insert("create".into(), Value::Array(r));
    }
    if req.body.get("update").is_some() {
        let r: Vec<Value> = u
            .iter()
            .map(|b| {
                let id = b.get("id").and_then(lenient_u64);
                let res = match what {
                    "orders" => update_order_inner(sh, id, b),
                    "customers" => update_customer_inner(sh, id, b),
                    _ => update_product_inner(sh, id, b),
                };
                res.unwrap_or_else(|e| item_err(id.unwrap_or(0), e))
            })
            .collect();
        out.insert("update".into(), Value::Array(r));
    }
    if req.body.get("delete").is_some() {
        let r: Vec<Value> = d
            .iter()
            .map(|v| {
                let id = lenient_u64(v);
                // Batch deletes are forced.
                let res = match what {
                    "orders" => delete_order_inner(sh, id, true),
                    "customers" => delete_customer_inner(sh, id, true),
                    _ => delete_product_inner(sh, id, true),
                };
                res.unwrap_or_else(|e| item_err(id.unwrap_or(0), e))
            })
            .collect();
        out.insert("delete".into(), Value::Array(r));
    }
    Ok(ok(Value::Object(out)))
}

// ----------------------------------------------------------------- webhooks

fn list_webhooks(sh: &Shared, req: &Req<'_>) -> R {
    let p = paging(req)?;
    let status = req.q("status").unwrap_or("all").to_string();
    if status != "all" && !model::WEBHOOK_STATUSES.contains(&status.as_str()) {
        return Err(WooError::invalid_param(
            "status",
            "status is not one of all, active, paused, disabled.",
        ));
    }
    let asc = order_dir(req, "desc")?;
    req.need(Need::List)?;
    let db = sh.db();
    let f = sh.fmt(None);
    let mut list: Vec<&model::Webhook> = db
        .webhooks
        .values()
        .filter(|w| status == "all" || w.status == status)
        .collect();
    list.sort_by(|a, b| {
        let ord = a.date_created.cmp(&b.date_created).then(a.id.cmp(&b.id));
        if asc { ord } else { ord.reverse() }
    });
    let items = list
        .iter()
        .map(|w| model::webhook_json(w, &f, false))
        .collect();
    Ok(paginate(sh, req, &p, items))
}

fn webhook_invalid(status: u16) -> WooError {
    WooError::new(
        status,
        "woocommerce_rest_webhook_invalid_id",
        if status == 404 {
            "Invalid ID."
        } else {
            "ID is invalid."
        },
    )
}

/// `GET /data/currencies/current` (WC_REST_Data_Currencies_Controller):
/// the store currency's code, name and symbol.
fn current_currency(sh: &Shared, req: &Req<'_>) -> R {
    req.need(Need::View)?;
    let code = sh.cfg.currency.clone();
    let name = match code.as_str() {
        "IRT" => "Iranian toman",
        "IRR" => "Iranian rial",
        _ => "",
    };
    Ok(ok(serde_json::json!({
        "code": code,
        "name": name,
        "symbol": sh.cfg.currency_symbol,
        "_links": {"collection": [{"href": format!("{}/wp-json/wc/v3/data/currencies", sh.site())}]},
    })))
}

fn get_webhook(sh: &Shared, req: &Req<'_>, id: Option<u64>) -> R {
    req.need(Need::View)?;
    let id = id.ok_or_else(|| webhook_invalid(404))?;
    let db = sh.db();
    let w = db.webhooks.get(&id).ok_or_else(|| webhook_invalid(400))?;
    let edit = req.q("context") == Some("edit");
    Ok(ok(model::webhook_json(w, &sh.fmt(None), edit)))
}

fn valid_url(u: &str) -> bool {
    (u.starts_with("http://") || u.starts_with("https://")) && u.len() > "https://".len()
}

async fn create_webhook(sh: &Arc<Shared>, req: &Req<'_>) -> R {
    req.need(Need::Create)?;
    if req.body.get("id").and_then(lenient_u64).unwrap_or(0) > 0 {
        return Err(WooError::new(
            400,
            "woocommerce_rest_webhook_exists",
            "Cannot create existing webhook.",
        ));
    }
    let topic = req
        .body
        .get("topic")
        .map(lenient_string)
        .unwrap_or_default()
        .to_lowercase();
    if topic.is_empty() || !valid_topic(&topic) {
        return Err(WooError::new(
            400,
            "woocommerce_rest_webhook_invalid_topic",
            "Webhook topic is required and must be valid.",
        ));
    }
    let url = req
        .body
        .get("delivery_url")
        .map(lenient_string)
        .unwrap_or_default();
    if !valid_url(&url) {
        return Err(WooError::new(
            400,
            "woocommerce_rest_webhook_invalid_delivery_url",
            "Webhook delivery URL must be a valid URL starting with http:// or https://.",
        ));
    }
    let secret = req
        .body
        .get("secret")
        .map(lenient_string)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            use rand::Rng;
            let mut rng = rand::thread_rng();
            (0..50)
                .map(|_| {
                    let set = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()-_[]{}<>~`+=,.;:/?|";
                    set[rng.gen_range(0..set.len())] as char
                })
                .collect()
        });
    let name = req
        .body
        .get("name")
        .map(lenient_string)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            format!(
                "Webhook created on {}",
                Utc::now().format("%b %d, %Y @ %I:%M %p")
            )
        });
    // The REST controller creates webhooks `active` whatever `status` says.
    let w = sh
        .db()
        .insert_webhook(&name, "active", &topic, &url, &secret);
    let body = model::webhook_json(&w, &sh.fmt(None), true);
    // Sent before the response, result ignored (only `pending_delivery` changes).
    webhooks::ping(sh, w.id).await;
    let loc = format!("{}/wp-json/wc/v3/webhooks/{}", sh.site(), w.id);
    Ok(created(body, loc))
}

fn update_webhook(sh: &Shared, req: &Req<'_>, id: Option<u64>) -> R {
    req.need(Need::Edit)?;
    let id = id.ok_or_else(|| webhook_invalid(400))?;
    let mut db = sh.db();
    let now = db.now();
    let mut w = db
        .webhooks
        .get(&id)
        .cloned()
        .ok_or_else(|| webhook_invalid(400))?;
    let b = &req.body;
    if let Some(t) = b.get("topic").map(lenient_string).filter(|s| !s.is_empty()) {
        let t = t.to_lowercase();
        if !valid_topic(&t) {
            return Err(WooError::new(
                400,
                "woocommerce_rest_webhook_invalid_topic",
                "Webhook topic must be valid.",
            ));
        }
        w.topic = t;
    }
    if let Some(u) = b
        .get("delivery_url")
        .map(lenient_string)
        .filter(|s| !s.is_empty())
    {
        if !valid_url(&u) {
            return Err(WooError::new(
                400,
                "woocommerce_rest_webhook_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
            ));
        }
        w.delivery_url = u;
    }
    if let Some(s) = b
        .get("secret")
        .map(lenient_string)
        .filter(|s| !s.is_empty())
    {
        w.secret = s;
    }
    if let Some(s) = b
        .get("status")
        .map(lenient_string)
        .filter(|s| !s.is_empty())
    {
        let s = s.to_lowercase();
        if !model::WEBHOOK_STATUSES.contains(&s.as_str()) {
            return Err(WooError::new(
                400,
                "woocommerce_rest_webhook_invalid_status",
                "Webhook status must be valid.",
            ));
        }
        w.status = s;
    }
    if let Some(n) = b.get("name").map(lenient_string).filter(|s| !s.is_empty()) {
        w.name = n;
    }
    w.date_modified = now;
    db.webhooks.insert(id, w.clone());
    Ok(ok(model::webhook_json(&w, &sh.fmt(None), true)))
}

fn delete_webhook(sh: &Shared, req: &Req<'_>, id: Option<u64>) -> R {
    let force = req.bool_param("force")?;
    req.need(Need::Delete)?;
    if !force {
        return Err(WooError::new(
            501,
            "woocommerce_rest_trash_not_supported",
            "Webhooks do not support trashing.",
        ));
    }
    let id = id.ok_or_else(|| webhook_invalid(404))?;
    let mut db = sh.db();
    let w = db
        .webhooks
        .remove(&id)
        .ok_or_else(|| webhook_invalid(404))?;
    db.queue.retain(|j| j.webhook_id != id);
    Ok(ok(model::webhook_json(&w, &sh.fmt(None), true)))
}
