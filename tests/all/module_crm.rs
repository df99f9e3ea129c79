//! A business module's access to the CRM's records through
//! `hamgam:crm/entities` (issue 15 §1; P2, C6, S6): the same checks,
//! audit and outbox as the REST API, the module instance as the actor, and
//! a grant per kind, deny by default.

use crate::api::{router_with, send};
use axum::http::StatusCode;
use hamgam::crm::kinds::EntityKind;
use serde_json::{Value, json};

const GRANTED: &str = r#"
[tenants.acme.instances.hostile]
plugin = "hostile"
enabled = true
grants = { entities = { party = "read-write", product = "read-write", sales-invoice = "read", quote = "read" } }
[tenants.globex.instances.hostile]
plugin = "hostile"
enabled = true
grants = { entities = { party = "read-write" } }
"#;

const MODULE: &str = "/api/v1/tenants/acme/modules/hostile/entity";

fn party(number: &str) -> Value {
    json!({
        "kind": "person",
        "first_name": "سارا",
        "last_name": "کریمی",
        "customer_number": number,
        "addresses": [{"city": "تهران", "line": "خیابان ولیعصر", "default": true}]
    })
}

async fn module(app: &axum::Router, query: &str, body: &Value) -> Value {
    let (status, answer) = send(
        app,
        "POST",
        &format!("{MODULE}?{query}"),
        Some("acme-token"),
        &body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{query}: {answer}");
    answer
}

async fn db(dir: &tempfile::TempDir) -> hamgam::store::Db {
    hamgam::store::Db::connect(&format!("sqlite://{}", dir.path().join("api.db").display()))
        .await
        .unwrap()
}

#[tokio::test]
async fn c6_a_modules_writes_go_through_the_apis_checks_audit_and_outbox_as_the_instance() {
    let (app, dir) = router_with(GRANTED, &["hostile"]).await;

    // The module creates a party; the REST API shows it.
    let created = module(&app, "op=create&kind=party", &party("1234-300")).await;
    let id = created["record"]["id"].as_i64().expect("an id");
    let (status, rest) = send(
        &app,
        "GET",
        &format!("/api/v1/tenants/acme/parties/{id}"),
        Some("acme-token"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    assert_eq!(rest["customer_number"], "1234-300");
    assert_eq!(rest["origin"], "module:hostile");
    assert_eq!(
        created["record"], rest,
        "the module sees what the API shows"
    );

    // An edit, then the history: both changes by the module instance.
    let mut edited = party("1234-300");
    edited["last_name"] = json!("کریمی‌پور");
    let updated = module(&app, &format!("op=update&kind=party&id={id}"), &edited).await;
    assert_eq!(updated["record"]["last_name"], "کریمی‌پور", "{updated}");
    assert_eq!(updated["record"]["version"], 2, "{updated}");
    let db = db(&dir).await;
    let trail = hamgam::store::journal::audit::audit_trail(&db, "acme", EntityKind::Party, id)
        .await
        .unwrap();
    let ops: Vec<(&str, &str)> = trail
        .iter()
        .map(|a| (a.actor.as_str(), a.operation.as_str()))
        .collect();
    assert_eq!(
        ops,
        [("module:hostile", "create"), ("module:hostile", "update")]
    );
    // The outbox has both changes, from the module: the sync engine takes
    // them to the ledgers as the CRM's own.
    let rows = hamgam::store::journal::outbox::outbox_of(&db, "acme", EntityKind::Party, id)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r.origin.to_string() == "module:hostile"),
        "{rows:?}"
    );

    // Read back and query with the REST list's filters.
    let got = module(&app, &format!("op=get&kind=party&id={id}"), &json!({})).await;
    assert_eq!(got["record"]["last_name"], "کریمی‌پور");
    module(&app, "op=create&kind=party", &party("1235-300")).await;
    let page = module(
        &app,
        "op=query&kind=party&filter=customer_number:1235-300",
        &json!({}),
    )
    .await;
    let items = page["record"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["customer_number"], "1235-300");
    let first = module(&app, "op=query&kind=party&limit=1", &json!({})).await;
    assert_eq!(first["record"]["items"][0]["id"], id, "{first}");
    assert_eq!(first["record"]["next_after"], id, "{first}");
    let bad_filter = module(&app, "op=query&kind=party&filter=colour:red", &json!({})).await;
    assert_eq!(bad_filter["error"]["invalid"], "colour", "{bad_filter}");

    // Another tenant's record is not there for acme's module.
    let (_, globex) = send(
        &app,
        "POST",
        "/api/v1/tenants/globex/modules/hostile/entity?op=create&kind=party",
        Some("globex-token"),
        &party("4321-300").to_string(),
    )
    .await;
    let theirs = globex["record"]["id"].as_i64().unwrap();
    let none = module(&app, &format!("op=get&kind=party&id={theirs}"), &json!({})).await;
    assert_eq!(none["record"], Value::Null, "{none}");
    let not_found = module(
        &app,
        &format!("op=update&kind=party&id={theirs}"),
        &party("4321-300"),
    )
    .await;
    assert!(not_found["error"]["not_found"].is_string(), "{not_found}");
}

#[tokio::test]
async fn s6_a_modules_bad_party_is_refused_naming_the_field_as_the_api_refuses_it() {
    let (app, dir) = router_with(GRANTED, &["hostile"]).await;
    let cases = [
        (party("12"), "customer_number"),
        (
            json!({"kind": "person", "last_name": "x"}),
            "customer_number",
        ),
        (
            {
                let mut p = party("1236-300");
                p["national_id"] = json!("0012345678");
                p
            },
            "national_id",
        ),
        (
            {
                let mut p = party("1237-300");
                p["colour"] = json!("red");
                p
            },
            "colour",
        ),
    ];
    for (body, field) in cases {
        let answer = module(&app, "op=create&kind=party", &body).await;
        assert_eq!(answer["error"]["invalid"], field, "{body}: {answer}");
        let (status, rest) = send(
            &app,
            "POST",
            "/api/v1/tenants/acme/parties",
            Some("acme-token"),
            &body.to_string(),
        )
        .await;
        assert!(status.is_client_error(), "{status} {rest}");
        assert_eq!(
            rest["error"]["field"], field,
            "the API names the same field: {rest}"
        );
    }
    // Nothing half-written: no party, no audit row, no outbox row.
    let db = db(&dir).await;
    let parties = hamgam::store::party::list_parties(&db, "acme", &Default::default(), 0, 10)
        .await
        .unwrap();
    assert!(parties.is_empty(), "{parties:?}");
}

#[tokio::test]
async fn p2_without_the_grant_every_entity_call_is_refused() {
    let (app, dir) = router_with(GRANTED, &["hostile"]).await;
    let kinds = [
        "party",
        "product",
        "quote",
        "sales-order",
        "sales-invoice",
        "sales-return",
        "purchase-invoice",
        "purchase-return",
        "correction-note",
        "receipt",
        "payment",
    ];
    // acme's instance: party and product read-write, sales-invoice and
    // quote read (the manifest declares quote read only, and receipt
    // read-write, which the operator does not grant).
    let readable = ["party", "product", "sales-invoice", "quote"];
    let writable = ["party", "product"];
    for kind in kinds {
        for op in ["get", "query", "create", "update", "decide"] {
            let answer = module(&app, &format!("op={op}&kind={kind}&id=1"), &json!({})).await;
            let allowed = if matches!(op, "get" | "query") {
                readable.contains(&kind)
            } else {
                writable.contains(&kind)
            };
            let denied = answer["error"]["denied"].is_string();
            assert_eq!(denied, !allowed, "{op} {kind}: {answer}");
        }
    }
    // globex's instance has only parties: acme's grant is not its grant.
    for (op, kind) in [
        ("get", "product"),
        ("create", "sales-invoice"),
        ("query", "quote"),
    ] {
        let (_, answer) = send(
            &app,
            "POST",
            &format!("/api/v1/tenants/globex/modules/hostile/entity?op={op}&kind={kind}&id=1"),
            Some("globex-token"),
            "{}",
        )
        .await;
        assert!(
            answer["error"]["denied"].is_string(),
            "{op} {kind}: {answer}"
        );
    }
    let db = db(&dir).await;
    let products = hamgam::store::product::list_products(&db, "acme", &Default::default(), 0, 10)
        .await
        .unwrap();
    assert!(products.is_empty(), "a refused write wrote nothing");
}

#[tokio::test]
async fn p2_a_grant_of_more_than_the_plugin_declares_fails_the_config_check() {
    for (grant, named) in [
        (r#"{ payment = "read" }"#, "grants.entities.payment"),
        (r#"{ quote = "read-write" }"#, "grants.entities.quote"),
    ] {
        let config = format!(
            "[tenants.acme.instances.hostile]\nplugin = \"hostile\"\nenabled = true\n\
             grants = {{ entities = {grant} }}\n"
        );
        let (app, _dir) = router_with(&config, &["hostile"]).await;
        let (status, answer) = send(
            &app,
            "POST",
            &format!("{MODULE}?op=get&kind=party&id=1"),
            Some("acme-token"),
            "{}",
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{grant}: {answer}");
        // The operator sees why: the instance's status names the grant.
        let (_, admin) = send(
            &app,
            "GET",
            "/admin/v1/tenants",
            Some(crate::api::ADMIN),
            "",
        )
        .await;
        let status = admin["tenants"]["acme"]["instances"][0].to_string();
        assert!(status.contains(named), "{grant}: {admin}");
    }
}
