//! The CRM REST API: the worked totals example by hand (S10, H2), 4xx with
//! the field named for bad input and nothing written, tenant isolation on
//! every route of the OpenAPI document (P7), approval and statements (F1,
//! C2), pagination and filters.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use hamgam::api::{AppState, app};
use hamgam::config::Secret;
use hamgam::plugins::registry::Registry;
use hamgam::store;
use hamgam::store::Db;
use hamgam::store::journal::outbox;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tower::ServiceExt;

const A: &str = "acme";
const B: &str = "globex";

fn secret(v: &str) -> Secret {
    hamgam::config::SecretRef::Value(v.into())
        .resolve("t")
        .unwrap()
}

async fn setup() -> (axum::Router, Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("crm.db").display()))
        .await
        .unwrap();
    (router_over(db.clone()), db, dir)
}

/// The API of tenants A and B over `db` (any backend).
fn router_over(db: Db) -> axum::Router {
    let tokens: BTreeMap<String, Secret> = [
        (A.to_string(), secret("acme-token")),
        (B.to_string(), secret("globex-token")),
    ]
    .into();
    let snapshot = hamgam::api::Snapshot {
        registry: Registry::default(),
        tokens,
        admin_token: None,
        license: hamgam::plugins::licensing::LicenseState {
            license: None,
            problem: Some("no license in this test".into()),
            today: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        },
        rejected: Vec::new(),
        crm: BTreeMap::new(),
        sync: BTreeMap::new(),
    };
    app(AppState::new(snapshot, db))
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    call_raw(
        app,
        method,
        uri,
        token,
        "application/json",
        bytes.into_bytes(),
    )
    .await
}

async fn call_raw(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

fn token(tenant: &str) -> String {
    format!("{tenant}-token")
}

fn url(tenant: &str, rest: &str) -> String {
    format!("/api/v1/tenants/{tenant}/{rest}")
}

fn person(customer_number: &str) -> Value {
    json!({
        "kind": "person",
        "first_name": "مریم",
        "last_name": "احمدی",
        "customer_number": customer_number,
        "national_id": "1234567891",
        "phones": [{"type": "mobile", "number": "09121234567", "default": true}],
        "addresses": [{"line": "تهران، خیابان ولیعصر", "postal_code": "1234567890", "default": true}]
    })
}

async fn create(app: &axum::Router, tenant: &str, rest: &str, body: &Value) -> Value {
    let (status, v) = call(app, "POST", &url(tenant, rest), &token(tenant), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "POST {rest}: {v}");
    v
}

fn d(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {v}"))
}

#[tokio::test]
async fn s10_h2_worked_example_through_the_api_tax_and_toll_apart_and_an_exempt_line() {
    let (app, _db, _dir) = setup().await;
    let party = create(&app, A, "parties", &person("625-300")).await;
    // A product with its own rates (H2): 9 % VAT, no toll.
    let product = create(
        &app,
        A,
        "products",
        &json!({
            "code": "P-100", "name": "دستگاه", "unit": "عدد", "sales_price": "333333",
            "tax_percent": "9", "toll_percent": "0"
        }),
    )
    .await;
    let body = json!({
        "party_id": party["id"],
        "date": "1402/06/15",            // the table gives 6 % VAT + 3 % toll
        "discount": "10000",
        "additions": "2500",
        "lines": [
            {"quantity": "3", "unit_price": "1250005", "discount": "15"},
            {"product_id": product["id"], "quantity": "2.5", "unit_price": "333333", "additions": "1000"},
            {"quantity": "1", "unit_price": "500000", "tax_exempt": true},
            {"quantity": "1", "unit_price": "۱۵۰"}
        ]
    });
    let doc = create(&app, A, "sales-invoices", &body).await;
    let l = &doc["lines"];
    // Line 0: 3 × 1 250 005 = 3 750 015 − 15 = 3 750 000; 6 % = 225 000; 3 % = 112 500.
    assert_eq!(
        (d(&l[0]["net"]), d(&l[0]["tax"]), d(&l[0]["toll"])),
        ("3750000", "225000", "112500")
    );
    // Line 1: 2.5 × 333 333 = 833 332.5 → 833 333 + 1 000 = 834 333; 9 % = 75 089.97 → 75 090; toll 0.
    assert_eq!(
        (
            d(&l[1]["gross"]),
            d(&l[1]["tax"]),
            d(&l[1]["toll"]),
            d(&l[1]["total"])
        ),
        ("833333", "75090", "0", "909423")
    );
    assert_eq!(d(&l[1]["tax_percent"]), "9");
    // Line 2: exempt; line 3: 150 (Persian digits) → tax 9, toll 4.5 → 5.
    assert_eq!(
        (d(&l[2]["tax"]), d(&l[2]["toll"]), d(&l[2]["total"])),
        ("0", "0", "500000")
    );
    assert_eq!(
        (d(&l[3]["tax"]), d(&l[3]["toll"]), d(&l[3]["total"])),
        ("9", "5", "164")
    );
    let t = &doc["totals"];
    // net 5 083 498 − 10 015 + 3 500 = 5 076 983; tax 300 099; toll 112 505.
    assert_eq!(d(&t["net"]), "5076983");
    assert_eq!(d(&t["tax_total"]), "300099");
    assert_eq!(d(&t["toll_total"]), "112505");
    assert_eq!(d(&t["grand_total"]), "5489587");
    assert_eq!(doc["status"], "pending");
    assert_eq!(doc["number"], Value::Null);

    // The same body with the client's own (correct) totals is accepted…
    let mut with_totals = body.clone();
    let mut sent = doc["totals"].clone();
    sent["lines"] = doc["lines"].clone();
    with_totals["totals"] = sent.clone();
    create(&app, A, "sales-invoices", &with_totals).await;
    // …and one Rial off is refused naming the field.
    sent["lines"][1]["tax"] = json!("75089");
    with_totals["totals"] = sent;
    let (status, e) = call(
        &app,
        "POST",
        &url(A, "sales-invoices"),
        &token(A),
        Some(&with_totals),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "totals.lines.1.tax");

    // What is stored reads back the same.
    let (status, got) = call(
        &app,
        "GET",
        &url(A, &format!("sales-invoices/{}", doc["id"])),
        &token(A),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["totals"], doc["totals"]);
    assert_eq!(got["lines"], doc["lines"]);
}

#[tokio::test]
async fn bad_input_table_every_case_is_a_4xx_naming_the_field_and_writes_nothing() {
    let (app, db, _dir) = setup().await;
    let party = create(&app, A, "parties", &person("1-300")).await;
    let pid = party["id"].clone();
    let product = create(
        &app,
        A,
        "products",
        &json!({"code": "X1", "name": "x", "unit": "u", "sales_price": "10"}),
    )
    .await;
    let inv = create(&app, A, "sales-invoices", &json!({"party_id": pid, "date": "1403/01/10", "lines": [{"quantity": "1", "unit_price": "100"}]})).await;
    let before = store::row_counts(&db).await.unwrap();

    let with = |base: Value, patch: Value| {
        let mut b = base;
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    let p = |patch: Value| with(person("9-300"), patch);
    let org = |patch: Value| {
        with(
            json!({"kind": "organisation", "name": "شرکت نمونه", "customer_number": "10-300"}),
            patch,
        )
    };
    let prod = |patch: Value| {
        with(
            json!({"code": "C1", "name": "n", "unit": "u", "sales_price": "100"}),
            patch,
        )
    };
    let line = json!({"quantity": "1", "unit_price": "1000"});
    let doc = |patch: Value| {
        with(
            json!({"party_id": pid, "date": "1403/02/01", "lines": [line]}),
            patch,
        )
    };
    let doc_line = |l: Value| doc(json!({"lines": [with(line.clone(), l)]}));
    let rec = |patch: Value| {
        with(
            json!({"party_id": pid, "date": "1403/02/01", "amount": "100", "method": "cash"}),
            patch,
        )
    };
    let valid_doc = doc(json!({}));
    let mut wrong_totals = valid_doc.clone();
    wrong_totals["totals"] = json!({"lines": [{"gross": "1000", "discount": "0", "additions": "0", "net": "1000", "tax": "70", "toll": "30", "total": "1100"}],
        "gross": "1000", "discount": "0", "additions": "0", "net": "1000", "tax_total": "70", "toll_total": "30", "grand_total": "1101"});

    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "party kind of wrong type",
            "parties",
            p(json!({"kind": 5})),
            "kind",
        ),
        (
            "party kind unknown",
            "parties",
            p(json!({"kind": "robot"})),
            "kind",
        ),
        (
            "customer number missing",
            "parties",
            p(json!({"customer_number": null})),
            "customer_number",
        ),
        (
            "S6 customer number without company code",
            "parties",
            p(json!({"customer_number": "625"})),
            "customer_number",
        ),
        (
            "S6 company code too short",
            "parties",
            p(json!({"customer_number": "625-30"})),
            "customer_number",
        ),
        (
            "S6 company code out of range",
            "parties",
            p(json!({"customer_number": "625-1000"})),
            "customer_number",
        ),
        (
            "S6 customer number with letters",
            "parties",
            p(json!({"customer_number": "ABC-300"})),
            "customer_number",
        ),
        (
            "person without first name",
            "parties",
            p(json!({"first_name": null})),
            "first_name",
        ),
        (
            "person with blank last name",
            "parties",
            p(json!({"last_name": "   "})),
            "last_name",
        ),
        (
            "organisation without name",
            "parties",
            org(json!({"name": null})),
            "name",
        ),
        (
            "national id check digit",
            "parties",
            p(json!({"national_id": "1234567890"})),
            "national_id",
        ),
        (
            "national id repeated Persian digits",
            "parties",
            p(json!({"national_id": "۱۱۱۱۱۱۱۱۱۱"})),
            "national_id",
        ),
        (
            "legal entity id wrong length",
            "parties",
            org(json!({"national_id": "123"})),
            "national_id",
        ),
        (
            "phone with letters",
            "parties",
            p(json!({"phones": [{"type": "mobile", "number": "0912abc4567"}]})),
            "phones.0.number",
        ),
        (
            "phone type unknown",
            "parties",
            p(json!({"phones": [{"type": "pager", "number": "09121234567"}]})),
            "phones.0.type",
        ),
        (
            "two default phones",
            "parties",
            p(
                json!({"phones": [{"type": "mobile", "number": "09121234567", "default": true}, {"type": "fax", "number": "02188776655", "default": true}]}),
            ),
            "phones",
        ),
        (
            "unknown field",
            "parties",
            p(json!({"nickname": "x"})),
            "nickname",
        ),
        (
            "birth date not a Jalali day",
            "parties",
            p(json!({"birth_date": "1403/07/31"})),
            "birth_date",
        ),
        (
            "email malformed",
            "parties",
            p(json!({"email": "not-an-email"})),
            "email",
        ),
        (
            "postal code short",
            "parties",
            p(json!({"addresses": [{"line": "x", "postal_code": "123"}]})),
            "addresses.0.postal_code",
        ),
        (
            "economic code letters",
            "parties",
            p(json!({"economic_code": "12ab"})),
            "economic_code",
        ),
        (
            "price as a JSON float",
            "products",
            prod(json!({"sales_price": 1.5})),
            "sales_price",
        ),
        (
            "price not a number",
            "products",
            prod(json!({"sales_price": "abc"})),
            "sales_price",
        ),
        (
            "price huge",
            "products",
            prod(json!({"sales_price": "99999999999999999999999"})),
            "sales_price",
        ),
        (
            "price in exponent form",
            "products",
            prod(json!({"sales_price": "1e40"})),
            "sales_price",
        ),
        (
            "tax percent above 100",
            "products",
            prod(json!({"tax_percent": "150"})),
            "tax_percent",
        ),
        (
            "currency garbage",
            "products",
            prod(json!({"currency": "RIALS"})),
            "currency",
        ),
        (
            "product code missing",
            "products",
            prod(json!({"code": null})),
            "code",
        ),
        (
            "no lines",
            "sales-invoices",
            doc(json!({"lines": []})),
            "lines",
        ),
        (
            "negative quantity",
            "sales-invoices",
            doc_line(json!({"quantity": "-1"})),
            "lines.0.quantity",
        ),
        (
            "Persian digits with garbage",
            "sales-invoices",
            doc_line(json!({"quantity": "۱۲x"})),
            "lines.0.quantity",
        ),
        (
            "party id of wrong type",
            "sales-invoices",
            doc(json!({"party_id": "abc"})),
            "party_id",
        ),
        (
            "party id that does not exist",
            "sales-invoices",
            doc(json!({"party_id": 999999})),
            "party_id",
        ),
        (
            "product that does not exist",
            "sales-invoices",
            doc_line(json!({"product_id": 999999})),
            "lines.0.product_id",
        ),
        (
            "date not a Jalali day",
            "sales-invoices",
            doc(json!({"date": "1403/07/31"})),
            "date",
        ),
        (
            "date two-digit year",
            "sales-invoices",
            doc(json!({"date": "03/01/01"})),
            "date",
        ),
        (
            "unbalanced grand total",
            "sales-invoices",
            wrong_totals,
            "totals.grand_total",
        ),
        (
            "discount above the line",
            "sales-invoices",
            doc_line(json!({"discount": "5000"})),
            "lines.0.discount",
        ),
        (
            "overflowing line",
            "sales-invoices",
            doc_line(json!({"quantity": "999999999999999999", "unit_price": "999999999999999999"})),
            "lines.0.gross",
        ),
        (
            "line rate negative",
            "sales-invoices",
            doc_line(json!({"tax_percent": "-5"})),
            "lines.0.tax_percent",
        ),
        (
            "line unknown field",
            "sales-invoices",
            doc_line(json!({"colour": "red"})),
            "lines.0.colour",
        ),
        (
            "return without its invoice",
            "sales-returns",
            doc(json!({})),
            "related_id",
        ),
        (
            "receipt amount zero",
            "receipts",
            rec(json!({"amount": "0"})),
            "amount",
        ),
        (
            "receipt method unknown",
            "receipts",
            rec(json!({"method": "bitcoin"})),
            "method",
        ),
        (
            "cheque without serial",
            "receipts",
            rec(json!({"method": "cheque"})),
            "cheque_number",
        ),
        (
            "receipt for a missing invoice",
            "receipts",
            rec(json!({"invoice_id": 999999})),
            "invoice_id",
        ),
        (
            "receipt in another currency than its invoice",
            "receipts",
            rec(json!({"invoice_id": inv["id"], "currency": "IRT"})),
            "currency",
        ),
        (
            "Rial amount with a fraction",
            "receipts",
            rec(json!({"amount": "100.5"})),
            "amount",
        ),
    ];
    assert!(cases.len() >= 30);
    for (name, path, body, field) in &cases {
        let (status, e) = call(&app, "POST", &url(A, path), &token(A), Some(body)).await;
        assert!(status.is_client_error(), "{name}: {status} {e}");
        assert_eq!(e["error"]["field"], *field, "{name}: {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{name}"
        );
    }

    // Requests that are broken before any field: still 4xx, still JSON.
    let big = vec![b' '; hamgam::api::MAX_BODY_BYTES + 1];
    let (status, e) = call_raw(
        &app,
        "POST",
        &url(A, "parties"),
        &token(A),
        "application/json",
        big,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{e}");
    let (status, _) = call_raw(
        &app,
        "POST",
        &url(A, "parties"),
        &token(A),
        "text/plain",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, e) = call_raw(
        &app,
        "POST",
        &url(A, "parties"),
        &token(A),
        "application/json",
        b"{\"kind\":".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    for (query, field) in [
        ("cursor=zzz", "cursor"),
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("colour=red", "colour"),
        ("date_from=1403/13/01", "date_from"),
        ("paid=maybe", "paid"),
        ("party_id=x", "party_id"),
    ] {
        let (status, e) = call(
            &app,
            "GET",
            &url(A, &format!("sales-invoices?{query}")),
            &token(A),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {e}");
        assert_eq!(e["error"]["field"], field, "{query}: {e}");
    }
    // Nothing of the above reached the database.
    assert_eq!(store::row_counts(&db).await.unwrap(), before);
    let _ = product;
}

#[tokio::test]
async fn persian_digits_and_phone_forms_are_normalised() {
    let (app, _db, _dir) = setup().await;
    let mut body = person("۶۲۵-۳۰۰");
    body["national_id"] = json!("۰۰۱۲۳۴۵۶۷۹");
    body["phones"] = json!([
        {"type": "mobile", "number": "+۹۸ ۹۱۲ ۱۲۳ ۴۵۶۷", "default": true},
        {"type": "phone", "number": "021-8877 6655", "extension": "۱۲"}
    ]);
    let p = create(&app, A, "parties", &body).await;
    assert_eq!(p["customer_number"], "625-300");
    assert_eq!(p["company_code"], 300);
    assert_eq!(p["national_id"], "0012345679");
    assert_eq!(p["phones"][0]["number"], "09121234567");
    assert_eq!(p["phones"][1]["number"], "02188776655");
    assert_eq!(p["phones"][1]["extension"], "12");
    // The customer number is unique per tenant: a clear 409 on the field.
    let (status, e) = call(&app, "POST", &url(A, "parties"), &token(A), Some(&body)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(e["error"]["field"], "customer_number");
}

/// Fills `{tenant}` and `{id}` in an OpenAPI path.
fn fill(path: &str, tenant: &str, id: &str) -> String {
    path.replace("{tenant}", tenant).replace("{id}", id)
}

#[tokio::test]
async fn p7_isolation_walk_every_openapi_route_refuses_the_other_tenant() {
    let (app, db, _dir) = setup().await;
    let (status, doc) = call(&app, "GET", "/api/v1/openapi.json", "", None).await;
    assert_eq!(status, StatusCode::OK);

    // One record of every collection in each tenant.
    let mut ids: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut parties = BTreeMap::new();
    for (tenant, cn) in [(A, "1-300"), (B, "1-400")] {
        let p = create(&app, tenant, "parties", &person(cn)).await;
        parties.insert(tenant, p["id"].clone());
        ids.insert((tenant.into(), "parties".into()), p["id"].to_string());
        let pr = create(
            &app,
            tenant,
            "products",
            &json!({"code": "C", "name": "n", "unit": "u", "sales_price": "1"}),
        )
        .await;
        ids.insert((tenant.into(), "products".into()), pr["id"].to_string());
    }
    let doc_body = |party: &Value, related: Option<&Value>| json!({"party_id": party, "date": "1403/02/01", "related_id": related, "lines": [{"quantity": "1", "unit_price": "1000"}]});
    for tenant in [A, B] {
        let party = parties[tenant].clone();
        let inv = create(&app, tenant, "sales-invoices", &doc_body(&party, None)).await;
        let pinv = create(&app, tenant, "purchase-invoices", &doc_body(&party, None)).await;
        ids.insert(
            (tenant.into(), "sales-invoices".into()),
            inv["id"].to_string(),
        );
        ids.insert(
            (tenant.into(), "purchase-invoices".into()),
            pinv["id"].to_string(),
        );
        for c in [
            "quotes",
            "sales-orders",
            "sales-returns",
            "purchase-returns",
            "correction-notes",
        ] {
            let r = create(&app, tenant, c, &doc_body(&party, Some(&inv["id"]))).await;
            ids.insert((tenant.into(), c.into()), r["id"].to_string());
        }
        for c in ["receipts", "payments"] {
            let r = create(
                &app,
                tenant,
                c,
                &json!({"party_id": party, "date": "1403/02/01", "amount": "10", "method": "cash"}),
            )
            .await;
            ids.insert((tenant.into(), c.into()), r["id"].to_string());
        }
    }
    let b_rows = outbox::outbox(&db, B).await.unwrap();
    let b_outbox = b_rows.len();
    // Sync routes take outbox ids and record ids: B's last change.
    ids.insert(
        (B.to_string(), "sync".to_string()),
        b_rows.iter().map(|r| r.id).max().unwrap().to_string(),
    );

    let mut walked = 0;
    for (path, methods) in doc["paths"].as_object().unwrap() {
        if !path.contains("{tenant}") {
            continue;
        }
        let collection = path.split('/').nth(5).unwrap().to_string();
        for (method, op) in methods.as_object().unwrap() {
            let method = method.to_uppercase();
            // A valid body for A, so only isolation can refuse it.
            let body = match op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
            {
                Some(r) if r.ends_with("PartyInput") => Some(person("77-300")),
                Some(r) if r.ends_with("ProductInput") => {
                    Some(json!({"code": "Z", "name": "n", "unit": "u", "sales_price": "1"}))
                }
                Some(r) if r.ends_with("DocumentRequest") || r.ends_with("CorrectionRequest") => {
                    Some(doc_body(
                        &parties[A],
                        Some(&json!(
                            ids[&(A.to_string(), "sales-invoices".to_string())]
                                .parse::<i64>()
                                .unwrap()
                        )),
                    ))
                }
                Some(r) if r.ends_with("PaymentRequest") => Some(
                    json!({"party_id": parties[A], "date": "1403/02/01", "amount": "10", "method": "cash"}),
                ),
                Some(r) if r.ends_with("HistoryImportRequest") => {
                    Some(json!({"fiscal_year": 1403}))
                }
                Some(other) => panic!("walk does not know body {other}"),
                None => None,
            };
            let b_id = ids
                .get(&(B.to_string(), collection.clone()))
                .cloned()
                .unwrap_or_else(|| "1".into());
            // 1. A's token on B's URL: 403, whatever the route.
            let (status, e) = call(
                &app,
                &method,
                &fill(path, B, &b_id),
                &token(A),
                body.as_ref(),
            )
            .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {e}");
            // 2. A's token, A's URL, B's record id: 404.
            if path.contains("{id}") {
                let (status, e) = call(
                    &app,
                    &method,
                    &fill(path, A, &b_id),
                    &token(A),
                    body.as_ref(),
                )
                .await;
                assert_eq!(
                    status,
                    StatusCode::NOT_FOUND,
                    "{method} {path} with B's id: {e}"
                );
            } else if method == "GET" {
                // 3. A's lists never contain B's records.
                let (status, page) = call(&app, "GET", &fill(path, A, ""), &token(A), None).await;
                assert_eq!(status, StatusCode::OK);
                let listed: Vec<String> = page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].to_string())
                    .collect();
                assert!(!listed.contains(&b_id), "{path} lists B's {b_id}");
            }
            walked += 1;
        }
    }
    // 7 document kinds × 7 + 2 payment kinds × 7 + parties 6 (+ balance)
    // + products 5 (+ stock) + sync 6 + one-shot imports 4 + events 3
    // (the log, the held events, a retry).
    assert_eq!(walked, 7 * 7 + 2 * 7 + 7 + 6 + 6 + 4 + 3);
    // B's records are untouched: no change reached B's outbox.
    assert_eq!(outbox::outbox(&db, B).await.unwrap().len(), b_outbox);
    let (status, p) = call(
        &app,
        "GET",
        &url(B, &format!("parties/{}", parties[B])),
        &token(B),
        None,
    )
    .await;
    assert_eq!((status, p["version"].clone()), (StatusCode::OK, json!(1)));
    // Documents cannot point at B's party either.
    let (status, e) = call(
        &app,
        "POST",
        &url(A, "quotes"),
        &token(A),
        Some(&doc_body(&parties[B], None)),
    )
    .await;
    assert_eq!(
        (status, e["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("party_id"))
    );
}

#[tokio::test]
async fn openapi_document_describes_the_real_routes_and_schemas() {
    let (app, _db, _dir) = setup().await;
    let (status, doc) = call(&app, "GET", "/api/v1/openapi.json", "", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in [
        "Party",
        "PartyInput",
        "Product",
        "Document",
        "DocumentRequest",
        "Payment",
        "PaymentRequest",
        "Statement",
        "Error",
    ] {
        assert!(schemas.contains_key(s), "schema {s} missing");
    }
    // Every documented route answers (no 404/405 from the router itself):
    // with no token it is refused by authorisation, i.e. it exists.
    let mut ids = std::collections::BTreeSet::new();
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_string()),
                "duplicate operationId"
            );
            let (status, _) = call(
                &app,
                &method.to_uppercase(),
                &fill(path, A, "1"),
                "nope",
                Some(&json!({})),
            )
            .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        }
    }
    assert!(
        doc["paths"]["/api/v1/tenants/{tenant}/sales-invoices/{id}/approve"]["post"].is_object()
    );
}

#[tokio::test]
async fn f1_c2_approval_numbering_filters_and_statement_through_the_api() {
    let (app, _db, _dir) = setup().await;
    let party = create(&app, A, "parties", &person("625-300")).await;
    let pid = party["id"].clone();
    let inv = |date: &str, price: &str| json!({"party_id": pid, "date": date, "lines": [{"quantity": "1", "unit_price": price}]});
    let i1 = create(&app, A, "sales-invoices", &inv("1403/12/30", "1000000")).await;
    let i2 = create(&app, A, "sales-invoices", &inv("1404/01/01", "2000000")).await;
    let i3 = create(&app, A, "sales-invoices", &inv("1404/01/02", "5")).await;
    let approve = |id: &Value, what: &str| format!("{what}/{id}/approve");
    let (s, a1) = call(
        &app,
        "POST",
        &url(A, &approve(&i1["id"], "sales-invoices")),
        &token(A),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a1}");
    let (_, a2) = call(
        &app,
        "POST",
        &url(A, &approve(&i2["id"], "sales-invoices")),
        &token(A),
        None,
    )
    .await;
    // S18 through the API: the Shamsi year in the number follows the document date.
    assert_eq!(a1["number"], "SI-03-000001-300");
    assert_eq!(a2["number"], "SI-04-000001-300");
    let (s, r3) = call(
        &app,
        "POST",
        &url(A, &format!("sales-invoices/{}/reject", i3["id"])),
        &token(A),
        None,
    )
    .await;
    assert_eq!(
        (s, r3["status"].clone(), r3["number"].clone()),
        (StatusCode::OK, json!("rejected"), Value::Null)
    );
    // Approved documents are frozen (S11: the number never changes).
    let (s, _) = call(
        &app,
        "PUT",
        &url(A, &format!("sales-invoices/{}", i1["id"])),
        &token(A),
        Some(&inv("1403/12/30", "1")),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);

    let rc = create(&app, A, "receipts", &json!({"party_id": pid, "date": "1404/01/05", "amount": "1100000", "method": "card", "invoice_id": i1["id"], "reference": "TRACE-1"})).await;
    let (s, _) = call(
        &app,
        "POST",
        &url(A, &approve(&rc["id"], "receipts")),
        &token(A),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let ids = |v: &Value| -> Vec<Value> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].clone())
            .collect()
    };
    let (_, paid) = call(
        &app,
        "GET",
        &url(A, "sales-invoices?paid=true"),
        &token(A),
        None,
    )
    .await;
    assert_eq!(ids(&paid), [i1["id"].clone()]);
    let (_, unpaid) = call(
        &app,
        "GET",
        &url(A, "sales-invoices?paid=false&status=approved"),
        &token(A),
        None,
    )
    .await;
    assert_eq!(ids(&unpaid), [i2["id"].clone()]);
    let (_, range) = call(
        &app,
        "GET",
        &url(A, "sales-invoices?date_from=1404/01/01&date_to=1404/01/01"),
        &token(A),
        None,
    )
    .await;
    assert_eq!(ids(&range), [i2["id"].clone()]);
    let (_, synced) = call(
        &app,
        "GET",
        &url(A, "sales-invoices?sync_status=synced"),
        &token(A),
        None,
    )
    .await;
    assert!(ids(&synced).is_empty());
    let (_, by_party) = call(
        &app,
        "GET",
        &url(A, &format!("receipts?party_id={pid}")),
        &token(A),
        None,
    )
    .await;
    assert_eq!(ids(&by_party), [rc["id"].clone()]);

    // Statement: 1 100 000 (1 000 000 + 7 % + 3 %) and 2 200 000 debits, the receipt a credit.
    let (s, st) = call(
        &app,
        "GET",
        &url(A, &format!("parties/{pid}/statement")),
        &token(A),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{st}");
    let e = st["entries"].as_array().unwrap();
    assert_eq!(e.len(), 3);
    assert_eq!(
        (d(&e[0]["debit"]), d(&e[0]["balance"])),
        ("1100000", "1100000")
    );
    assert_eq!(
        (d(&e[1]["debit"]), d(&e[1]["balance"])),
        ("2200000", "3300000")
    );
    assert_eq!(
        (d(&e[2]["credit"]), d(&e[2]["balance"])),
        ("1100000", "2200000")
    );
    assert_eq!(d(&st["balance"]), "2200000");

    // Cursor pagination over parties: stable order, no repeats.
    for n in 2..=6 {
        create(&app, A, "parties", &person(&format!("{n}-300"))).await;
    }
    let (mut seen, mut cursor) = (Vec::new(), String::new());
    loop {
        let q = if cursor.is_empty() {
            "parties?limit=2".to_string()
        } else {
            format!("parties?limit=2&cursor={cursor}")
        };
        let (s, page) = call(&app, "GET", &url(A, &q), &token(A), None).await;
        assert_eq!(s, StatusCode::OK);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    let mut sorted = seen.clone();
    sorted.sort_by_key(|v| v.as_i64());
    assert_eq!(seen, sorted);

    let (_, metrics) = call_raw(&app, "GET", "/metrics", "", "text/plain", vec![]).await;
    let _ = metrics;
}

#[tokio::test]
async fn s6_a_nul_character_in_a_text_field_is_a_422_naming_the_field_on_sqlite_and_postgres() {
    crate::common::for_each_db(async |db: Db| {
        let app = router_over(db.clone());
        let backend = db.backend();
        let mut bad_name = person("625-300");
        bad_name["first_name"] = json!("مریم\u{0}");
        let mut bad_phone = person("626-300");
        bad_phone["phones"][0]["extension"] = json!("12\u{0}");
        let mut bad_address = person("627-300");
        bad_address["addresses"][0]["line"] = json!("\u{0}");
        for (body, field) in [
            (&bad_name, "first_name"),
            (&bad_phone, "phones.0.extension"),
            (&bad_address, "addresses.0.line"),
        ] {
            let (status, e) = call(&app, "POST", &url(A, "parties"), &token(A), Some(body)).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{backend} {field}: {e}"
            );
            assert_eq!(e["error"]["field"], field, "{backend}: {e}");
            assert!(
                e["error"]["message"].as_str().unwrap().contains("NUL"),
                "{backend}: {e}"
            );
        }
        let product = json!({
            "code": "P\u{0}1", "name": "x", "unit": "u", "sales_price": "1"
        });
        let (status, e) = call(&app, "POST", &url(A, "products"), &token(A), Some(&product)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}: {e}");
        assert_eq!(e["error"]["field"], "code", "{backend}: {e}");
        // Nothing was written, and the same text without the NUL goes in.
        let (_, list) = call(&app, "GET", &url(A, "parties"), &token(A), None).await;
        assert_eq!(list["items"], json!([]), "{backend}");
        let (status, e) = call(
            &app,
            "POST",
            &url(A, "parties"),
            &token(A),
            Some(&person("625-300")),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{backend}: {e}");
        // A document line's description, nested in a list.
        let party = e["id"].clone();
        let doc = json!({
            "party_id": party, "date": "1403/05/01",
            "lines": [{"quantity": "1", "unit_price": "1000", "description": "ok"},
                      {"quantity": "1", "unit_price": "1000", "description": "bad\u{0}"}]
        });
        let (status, e) = call(&app, "POST", &url(A, "quotes"), &token(A), Some(&doc)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}: {e}");
        assert_eq!(e["error"]["field"], "lines.1.description", "{backend}: {e}");
    })
    .await;
}

#[tokio::test]
async fn f1_approving_a_payment_a_century_after_another_gets_a_free_number_not_a_500() {
    // `{SHYY}` shows two digits of the year, so 1300 and 1400 render the
    // same first number from their separate counters; the second approval
    // must take the next free one.
    let (app, _db, _dir) = setup().await;
    let party = create(&app, A, "parties", &person("625-300")).await;
    let mut numbers = Vec::new();
    for date in ["1300/08/01", "1400/08/01"] {
        let p = create(
            &app,
            A,
            "payments",
            &json!({"party_id": party["id"], "date": date, "amount": "1000", "method": "cash"}),
        )
        .await;
        let (status, approved) = call(
            &app,
            "POST",
            &url(A, &format!("payments/{}/approve", p["id"])),
            &token(A),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{date}: {approved}");
        numbers.push(approved["number"].as_str().unwrap().to_owned());
    }
    assert_ne!(numbers[0], numbers[1], "{numbers:?}");
}

#[tokio::test]
async fn s16_a_receipt_keeps_every_settlement_and_its_parts_must_make_its_amount() {
    crate::common::for_each_db(async |db: Db| {
        s16_settlements_on(db).await;
    })
    .await;
}

async fn s16_settlements_on(db: Db) {
    let app = router_over(db.clone());
    let backend = db.backend();
    let party = create(&app, A, "parties", &person("625-300")).await;
    let pid = party["id"].clone();
    let body = |settlements: Value| {
        json!({"party_id": pid, "date": "1404/03/11", "amount": "5000000", "method": "cash",
               "settlements": settlements})
    };
    let whole = json!([
        {"method": "cash", "amount": "1000000"},
        {"method": "cheque", "amount": "2000000", "reference": "۱۱۱۱۱۱", "due_date": "1404/04/10", "bank": "ملت"},
        {"method": "cheque", "amount": "1500000", "reference": "222222"},
        {"method": "card", "amount": "500000", "reference": "TR-77"}
    ]);
    let r = create(&app, A, "receipts", &body(whole)).await;
    let (s, got) = call(
        &app,
        "GET",
        &url(A, &format!("receipts/{}", r["id"])),
        &token(A),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{backend}");
    let parts = got["settlements"].as_array().unwrap();
    assert_eq!(parts.len(), 4, "{backend}: {got}");
    assert_eq!(parts[1]["method"], "cheque");
    assert_eq!(parts[1]["reference"], "111111", "digits normalised");
    assert_eq!(parts[1]["due_date"], "1404/04/10");
    assert_eq!(parts[1]["bank"], "ملت");
    assert_eq!(parts[3]["reference"], "TR-77");
    assert_eq!(got["method"], "cash");

    // The single-method shape is one settlement.
    let one = create(&app, A, "receipts", &json!({"party_id": pid, "date": "1404/03/11",
        "amount": "700000", "method": "cheque", "cheque_number": "333333", "cheque_due": "1404/06/01"})).await;
    let single = json!([{"method": "cheque", "amount": "700000", "reference": "333333",
                         "due_date": "1404/06/01", "bank": null}]);
    assert_eq!(one["settlements"], single, "{backend}");
    assert_eq!(one["cheque_number"], "333333");
    // A row stored before settlements were kept reads as its one settlement.
    db.execute_raw(&format!(
        "UPDATE crm_payments SET settlements = NULL WHERE id = {}",
        one["id"]
    ))
    .await
    .unwrap();
    let (_, old) = call(
        &app,
        "GET",
        &url(A, &format!("receipts/{}", one["id"])),
        &token(A),
        None,
    )
    .await;
    assert_eq!(old["settlements"], single, "{backend}: {old}");

    // What a GET answers can be sent back: the single-settlement fields
    // beside the list say what its first settlement says. Sent saying
    // something else, they are refused by name, never silently dropped.
    let again = |due: &str| {
        json!({"party_id": pid, "date": "1404/03/11", "amount": "700000", "method": "cheque",
               "cheque_number": "333333", "cheque_due": due, "settlements": single})
    };
    let one_url = url(A, &format!("receipts/{}", one["id"]));
    let (s, put) = call(&app, "PUT", &one_url, &token(A), Some(&again("1404/06/01"))).await;
    assert_eq!(s, StatusCode::OK, "{backend}: {put}");
    assert_eq!(put["settlements"], single, "{backend}: {put}");
    let (s, e) = call(&app, "PUT", &one_url, &token(A), Some(&again("1404/06/02"))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{backend}: {e}");
    assert_eq!(e["error"]["field"], "cheque_due", "{backend}: {e}");

    let refused = [
        (
            "parts short of the amount",
            body(json!([{"method": "cash", "amount": "1000000"}])),
            "settlements",
        ),
        (
            "a cheque without its serial",
            body(
                json!([{"method": "cash", "amount": "1000000"}, {"method": "cheque", "amount": "4000000"}]),
            ),
            "settlements.1.reference",
        ),
        (
            "method is not the first settlement's",
            body(json!([{"method": "card", "amount": "5000000"}])),
            "method",
        ),
        ("no settlement", body(json!([])), "settlements"),
        (
            "a part of zero",
            body(
                json!([{"method": "cash", "amount": "5000000"}, {"method": "card", "amount": "0"}]),
            ),
            "settlements.1.amount",
        ),
    ];
    for (name, b, field) in refused {
        let (status, e) = call(&app, "POST", &url(A, "receipts"), &token(A), Some(&b)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{backend} {name}: {e}"
        );
        assert_eq!(e["error"]["field"], field, "{backend} {name}: {e}");
    }
    let (_, list) = call(&app, "GET", &url(A, "receipts"), &token(A), None).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        2,
        "{backend}: nothing refused was written"
    );
}
