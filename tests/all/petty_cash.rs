//! Petty cash as the seeds mean it (issue 15 §5; H9): funds per holder
//! with a ceiling, bills with items and cost centres, approval, and
//! settlement that creates the CRM payment the sync engine takes to the
//! ledger — through the host's REST API, a real database and the wasm
//! module.

use crate::api::{router_with, send};
use axum::http::StatusCode;
use serde_json::{Value, json};

pub(crate) const PETTY_CASH: &str = r#"
[tenants.acme.instances.petty-cash]
plugin = "petty-cash"
enabled = true
grants = { state = true, crm = "read-write", entities = { party = "read", payment = "read-write" } }
[tenants.globex.instances.petty-cash]
plugin = "petty-cash"
enabled = true
grants = { state = true, crm = "read-write", entities = { party = "read", payment = "read-write" } }
"#;

const MODULE: &str = "/api/v1/tenants/acme/modules/petty-cash";

async fn call(app: &axum::Router, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    send(app, method, path, Some("acme-token"), &body).await
}

/// A party of tenant acme: the fund's holder.
pub(crate) async fn holder(app: &axum::Router, token: &str, tenant: &str) -> i64 {
    let (status, party) = send(
        app,
        "POST",
        &format!("/api/v1/tenants/{tenant}/parties"),
        Some(token),
        &json!({
            "kind": "person",
            "first_name": "علی",
            "last_name": "تنخواه‌دار",
            "customer_number": "4100-300",
        })
        .to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{party}");
    party["id"].as_i64().unwrap()
}

fn item(amount: &str, description: &str, centre: &str) -> Value {
    json!({"date": "1403/05/02", "amount": amount, "description": description, "cost_centre": centre})
}

#[tokio::test]
async fn h9_a_fund_takes_bills_up_to_its_ceiling_and_a_settled_bill_is_one_crm_payment_to_the_holder()
 {
    let (app, _dir) = router_with(PETTY_CASH, &["petty-cash"]).await;
    let party = holder(&app, "acme-token", "acme").await;

    // A fund needs a real holder and a ceiling in whole Rial.
    let bad = [
        (
            json!({"title": "دفتر", "holder_party_id": party, "ceiling": "12.5"}),
            "ceiling",
        ),
        (
            json!({"title": "دفتر", "holder_party_id": 999_999, "ceiling": "1000"}),
            "holder_party_id",
        ),
        (
            json!({"title": " ", "holder_party_id": party, "ceiling": "1000"}),
            "title",
        ),
    ];
    for (body, field) in bad {
        let (status, e) = call(&app, "POST", &format!("{MODULE}/funds"), body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    let (status, fund) = call(
        &app,
        "POST",
        &format!("{MODULE}/funds"),
        json!({"title": "تنخواه دفتر مرکزی", "holder_party_id": party, "ceiling": "5000000"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{fund}");
    let fund_id = fund["id"].as_str().unwrap().to_owned();
    let bills = format!("{MODULE}/funds/{fund_id}/bills");

    // A bill with items: its total is theirs.
    let (status, first) = call(
        &app,
        "POST",
        &bills,
        json!({"date": "1403/05/03", "items": [
            item("1200000", "کرایه پیک", "اداری"),
            item("800000", "پذیرایی", "فروش"),
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["total"], "2000000");
    assert_eq!(first["status"], "pending");
    assert_eq!(first["items"][1]["cost_centre"], "فروش");

    // Bad items name the item's field.
    let (status, e) = call(&app, "POST", &bills, json!({"items": [item("0", "x", "")]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "items.0.amount");
    let (status, e) = call(
        &app,
        "POST",
        &bills,
        json!({"items": [{"date": "1403/13/01", "amount": "5", "description": "x"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "items.0.date");

    // Over the ceiling with the open bill: refused, and nothing stored.
    let (status, e) = call(
        &app,
        "POST",
        &bills,
        json!({"items": [item("3000001", "خرید لوازم", "اداری")]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "items");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("5000000"),
        "the ceiling is named: {e}"
    );
    let (_, all) = call(&app, "GET", &format!("{MODULE}/bills"), Value::Null).await;
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    // Up to the ceiling exactly: accepted.
    let (status, second) = call(
        &app,
        "POST",
        &bills,
        json!({"items": [item("3000000", "خرید لوازم", "اداری")]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");

    // Only an approved bill is settled; a rejected one frees the fund.
    let first_id = first["id"].as_str().unwrap();
    let second_id = second["id"].as_str().unwrap();
    let (status, e) = call(
        &app,
        "POST",
        &format!("{MODULE}/bills/{first_id}/settle"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    let (status, rejected) = call(
        &app,
        "POST",
        &format!("{MODULE}/bills/{second_id}/reject"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    let (status, e) = call(
        &app,
        "POST",
        &format!("{MODULE}/bills/{second_id}/approve"),
        Value::Null,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a rejected bill stays rejected: {e}"
    );
    let (status, approved) = call(
        &app,
        "POST",
        &format!("{MODULE}/bills/{first_id}/approve"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    let (_, pending) = call(
        &app,
        "GET",
        &format!("{MODULE}/bills?status=approved"),
        Value::Null,
    )
    .await;
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");

    // Settlement: one CRM payment to the holder for the total, by the module.
    let (status, settled) = call(
        &app,
        "POST",
        &format!("{MODULE}/bills/{first_id}/settle"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{settled}");
    assert_eq!(settled["status"], "settled");
    let payment_id = settled["payment_id"].as_i64().expect("a payment");
    let (status, payment) = call(
        &app,
        "GET",
        &format!("/api/v1/tenants/acme/payments/{payment_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{payment}");
    assert_eq!(payment["party_id"], party);
    assert_eq!(payment["amount"], "2000000");
    assert_eq!(payment["origin"], "module:petty-cash", "{payment}");
    // Again: the same bill, the same payment, nothing new.
    let (_, again) = call(
        &app,
        "POST",
        &format!("{MODULE}/bills/{first_id}/settle"),
        Value::Null,
    )
    .await;
    assert_eq!(again, settled);
    let (_, payments) = call(&app, "GET", "/api/v1/tenants/acme/payments", Value::Null).await;
    assert_eq!(payments["items"].as_array().unwrap().len(), 1, "{payments}");
    // The payment waits in the outbox for the ledgers, as any CRM payment.
    let (status, record) = call(
        &app,
        "GET",
        &format!("/api/v1/tenants/acme/sync/records/payment/{payment_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["changes"][0]["operation"], "create", "{record}");

    // Another tenant's module sees none of it.
    let (_, theirs) = send(
        &app,
        "GET",
        "/api/v1/tenants/globex/modules/petty-cash/funds",
        Some("globex-token"),
        "",
    )
    .await;
    assert_eq!(theirs, json!([]));
}

/// P6: what a module declares in `describe` is all the host serves of it:
/// its routes are in the OpenAPI document, and a path or method it does
/// not declare is answered by the host, in the API's one error shape,
/// without reaching the module.
#[tokio::test]
async fn p6_declared_module_routes_are_in_openapi_and_the_rest_never_reach_the_module() {
    use axum::body::Body;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    let (app, _dir) = router_with(PETTY_CASH, &["petty-cash"]).await;
    let (status, doc) = send(&app, "GET", "/api/v1/openapi.json", None, "").await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().expect("paths");
    let bills = &paths["/api/v1/tenants/{tenant}/modules/petty-cash/funds/{id}/bills"];
    let post = &bills["post"];
    assert_eq!(post["tags"], json!(["module: petty-cash"]), "{bills}");
    assert_eq!(post["x-hamgam-plugin"]["id"], "petty-cash");
    let params: Vec<&str> = post["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(params, ["tenant", "id"]);
    assert!(post["responses"]["422"].is_object(), "{post}");
    assert!(bills.get("delete").is_none(), "only the declared method");
    let mut module_paths: Vec<&str> = paths
        .keys()
        .filter_map(|p| p.strip_prefix("/api/v1/tenants/{tenant}/modules/petty-cash"))
        .collect();
    module_paths.sort_unstable();
    assert_eq!(
        module_paths,
        [
            "/bills",
            "/bills/{id}",
            "/bills/{id}/approve",
            "/bills/{id}/reject",
            "/bills/{id}/settle",
            "/funds",
            "/funds/{id}",
            "/funds/{id}/bills",
        ],
        "the module's describe, path by path"
    );

    let (status, _) = call(&app, "GET", &format!("{MODULE}/funds"), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let calls_before = calls(&app).await;
    assert!(calls_before > 0, "the counter counts this instance's calls");
    // A path it does not declare: 404, the module never called.
    let (status, e) = call(&app, "GET", &format!("{MODULE}/admin"), Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
    assert_eq!(e["error"]["code"], "not-found", "{e}");
    // A declared path with a method it does not declare: 405 with Allow.
    let request = axum::http::Request::builder()
        .method("DELETE")
        .uri(format!("{MODULE}/funds"))
        .header("authorization", "Bearer acme-token")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let mut allow: Vec<&str> = response.headers()["allow"]
        .to_str()
        .expect("ascii")
        .split(", ")
        .collect();
    allow.sort_unstable();
    assert_eq!(allow, ["GET", "POST"]);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let e: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(e["error"]["code"], "method-not-allowed", "{e}");
    // Neither reached the module: its call count did not move.
    assert_eq!(calls(&app).await, calls_before);
}

/// The acme petty-cash instance's plugin calls, from `/metrics`.
async fn calls(app: &axum::Router) -> u64 {
    let key =
        "hamgam_plugin_calls_total{tenant=\"acme\",instance=\"petty-cash\",plugin=\"petty-cash\"}";
    let (_, text) = send(app, "GET", "/metrics", Some("admin-token"), "").await;
    text.as_str()
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}
