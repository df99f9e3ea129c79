//! The example plugins run in the host against small, strict stand-ins of
//! what they talk to, exercising every import each one uses (P2, P6).

use crate::common::{fresh_postgres, plugin, postgres_url};
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use hamgam::config::{PortGrant, SecretRef, SqlBackendKind, SqlGrant};
use hamgam::plugins::manifest::{CrmAccess, CrmEntity};
use hamgam::runtime::bindings::types::{self, Entity, EntityKind, Party, PartyKind};
use hamgam::testing::TestHost;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

// ---- a demo ledger that holds its own data and enforces its rules ----

#[derive(Default)]
struct Ledger {
    parties: BTreeMap<String, Value>,
    by_key: HashMap<String, String>,
    next: u32,
}

type Shared = Arc<Mutex<Ledger>>;

fn authorized(h: &HeaderMap) -> Result<(), StatusCode> {
    match h.get("authorization").and_then(|v| v.to_str().ok()) {
        Some("Bearer ledger-key") => Ok(()),
        _ => Err(StatusCode::UNAUTHORIZED),
    }
}

async fn list(
    State(l): State<Shared>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, StatusCode> {
    authorized(&h)?;
    let l = l.lock().unwrap();
    let after = q.get("after").cloned().unwrap_or_default();
    let limit: usize = q.get("limit").and_then(|v| v.parse().ok()).unwrap_or(100);
    let items: Vec<Value> = l
        .parties
        .iter()
        .filter(|(id, _)| **id > after)
        .take(limit)
        .map(|(_, p)| p.clone())
        .collect();
    let next = items.last().map(|p| p["id"].clone()).unwrap_or(Value::Null);
    Ok(Json(json!({ "items": items, "next": next })))
}

async fn create(
    State(l): State<Shared>,
    h: HeaderMap,
    Json(mut body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), StatusCode> {
    authorized(&h)?;
    let key = h
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .ok_or(StatusCode::BAD_REQUEST)?
        .to_string();
    let mut l = l.lock().unwrap();
    if let Some(id) = l.by_key.get(&key) {
        let p = &l.parties[id];
        return Ok((
            StatusCode::OK,
            Json(json!({ "id": p["id"], "version": p["version"] })),
        ));
    }
    l.next += 1;
    let id = format!("P{:04}", l.next);
    body["id"] = json!(id);
    body["version"] = json!("1");
    l.parties.insert(id.clone(), body);
    l.by_key.insert(key, id.clone());
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "version": "1" })),
    ))
}

async fn update(
    State(l): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
    Json(mut body): Json<Value>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    authorized(&h).map_err(|s| (s, Json(json!({}))))?;
    let mut l = l.lock().unwrap();
    let Some(current) = l.parties.get(&id).cloned() else {
        return Err((
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "no such party" })),
        ));
    };
    let if_match = h.get("if-match").and_then(|v| v.to_str().ok());
    if if_match != current["version"].as_str() {
        return Err((
            StatusCode::PRECONDITION_FAILED,
            Json(json!({ "message": "stale version" })),
        ));
    }
    let version = (current["version"].as_str().unwrap().parse::<u32>().unwrap() + 1).to_string();
    body["id"] = json!(id);
    body["version"] = json!(version);
    l.parties.insert(id.clone(), body);
    Ok(Json(json!({ "id": id, "version": version })))
}

async fn balance(h: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>, StatusCode> {
    authorized(&h)?;
    Ok(Json(
        json!({ "debit": "150000000000", "credit": "25000000000.5", "balance": "124999999999.5", "currency": "IRR", "id": id }),
    ))
}

async fn ledger_server() -> (String, Shared) {
    let state: Shared = Arc::default();
    let app = Router::new()
        .route("/api/parties", get(list).post(create))
        .route("/api/parties/{id}", put(update))
        .route("/api/parties/{id}/balance", get(balance))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/api",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

/// hello-connector over the demo ledger at `url`, with its key and grants.
fn hello_connector(host: &TestHost, url: &str) -> Arc<hamgam::runtime::instance::PluginInstance> {
    host.plugin(plugin("hello-connector"))
        .unwrap()
        .setting("base_url", url)
        .setting("company_code", "300")
        .secret("api_key", "ledger-key")
        .grant_http("http://127.0.0.1:*")
        .grant_state()
        .build()
}

fn person(first: &str) -> Entity {
    Entity::Party(Party {
        kind: PartyKind::Person,
        first_name: Some(first.into()),
        last_name: Some("Karimi".into()),
        name: None,
        customer_number: Some("625-300".into()),
        national_id: None,
        registration_number: None,
        economic_code: None,
        birth_date: None,
        is_employee: false,
        phones: vec![],
        addresses: vec![],
    })
}

#[tokio::test]
async fn hello_connector_pulls_pushes_and_looks_up_over_granted_http() {
    let (url, ledger) = ledger_server().await;
    let host = TestHost::new();
    let c = hello_connector(&host, &url);
    let info = c.describe_connector().await.unwrap();
    assert_eq!(info.company_code.as_deref(), Some("300"));

    // Push twice with one idempotency key: one party in the ledger.
    let first = c
        .push(
            EntityKind::Party,
            person("Sara"),
            None,
            None,
            "change-1".into(),
        )
        .await
        .unwrap()
        .unwrap();
    let again = c
        .push(
            EntityKind::Party,
            person("Sara"),
            None,
            None,
            "change-1".into(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.remote_id, again.remote_id);
    assert_eq!(ledger.lock().unwrap().parties.len(), 1);

    // An edit with the current version succeeds; a stale one is refused
    // as a version mismatch, not applied.
    let v2 = c
        .push(
            EntityKind::Party,
            person("Sarah"),
            Some(first.remote_id.clone()),
            first.version.clone(),
            "change-2".into(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v2.version.as_deref(), Some("2"));
    let stale = c
        .push(
            EntityKind::Party,
            person("Zahra"),
            Some(first.remote_id.clone()),
            Some("1".into()),
            "change-3".into(),
        )
        .await
        .unwrap();
    assert!(
        matches!(stale, Err(types::Error::VersionMismatch(_))),
        "{stale:?}"
    );
    assert_eq!(
        ledger.lock().unwrap().parties[&first.remote_id]["first_name"],
        "Sarah"
    );

    // Pull pages through the cursor.
    c.push(
        EntityKind::Party,
        person("Ali"),
        None,
        None,
        "change-4".into(),
    )
    .await
    .unwrap()
    .unwrap();
    let page = c.pull(EntityKind::Party, None, 1).await.unwrap().unwrap();
    assert_eq!(page.changes.len(), 1);
    let page2 = c
        .pull(EntityKind::Party, page.next_cursor.clone(), 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page2.changes.len(), 1);
    assert_ne!(page.next_cursor, page2.next_cursor);

    // Live balance (S7), exact beyond 10^11 Rial.
    let b = c
        .party_balance(first.remote_id.clone())
        .await
        .unwrap()
        .unwrap();
    let debit = hamgam::runtime::sql::from_wit_decimal(&b.debit.amount).unwrap();
    assert_eq!(debit.to_string(), "150000000000");
    assert_eq!(
        hamgam::runtime::sql::from_wit_decimal(&b.credit.amount)
            .unwrap()
            .to_string(),
        "25000000000.5"
    );

    // A wrong key is the ledger's 401, reported as unauthorized.
    let bad = host
        .plugin(plugin("hello-connector"))
        .unwrap()
        .setting("base_url", &url)
        .secret("api_key", "wrong")
        .grant_http("http://127.0.0.1:*")
        .build();
    assert!(matches!(
        bad.pull(EntityKind::Party, None, 5).await.unwrap(),
        Err(types::Error::Unauthorized(_))
    ));

    let calls = host.calls();
    for used in ["config.get", "config.secret", "http.request", "state.set"] {
        assert!(
            calls.iter().any(|c| c.call == used && c.allowed),
            "{used} not used"
        );
    }
    assert!(
        calls.iter().all(|c| !c.detail.contains("ledger-key")),
        "a secret reached the audit log"
    );
}

#[tokio::test]
async fn hello_connector_reads_stock_through_granted_sql() {
    let Some(base) = postgres_url() else { return };
    let url = fresh_postgres(&base).await;
    let db = hamgam::store::Db::connect(&url).await.unwrap();
    db.execute_raw(
        "CREATE TABLE stock (product_id TEXT, warehouse TEXT, quantity NUMERIC(18,3));
         INSERT INTO stock VALUES ('K-1', 'central', 12.500), ('K-1', 'shop', 3), ('K-2', 'central', 1);",
    )
    .await
    .unwrap();
    let host = TestHost::new();
    let mut grant = SqlGrant::new(SqlBackendKind::Postgres, SecretRef::Value(url.clone()));
    grant.max_rows = 100;
    let c = host
        .plugin(plugin("hello-connector"))
        .unwrap()
        .grant_sql("ledger", grant)
        .build();
    let mut levels = c.product_stock("K-1".into()).await.unwrap().unwrap();
    levels.sort_by(|a, b| a.warehouse.cmp(&b.warehouse));
    let got: Vec<(String, String)> = levels
        .iter()
        .map(|l| {
            (
                l.warehouse.clone(),
                hamgam::runtime::sql::from_wit_decimal(&l.quantity)
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("central".to_string(), "12.500".to_string()),
            // NUMERIC(18,3) keeps its scale: sqlx rescales to the column's
            // dscale, so 3 reads back as 3.000, like 12.5 as 12.500.
            ("shop".to_string(), "3.000".to_string())
        ]
    );
    // Without the grant: denied, and the database is never contacted.
    let bare = host.plugin(plugin("hello-connector")).unwrap().build();
    assert!(matches!(
        bare.product_stock("K-1".into()).await.unwrap(),
        Err(types::Error::Denied(_))
    ));
    // The connection string is a secret: the plugin never sees it and the
    // audit names only the database.
    assert!(
        host.calls()
            .iter()
            .all(|c| !c.detail.contains("search_path"))
    );
}

// ---- petty cash: typed records, CRM payments, events, state ----

/// The petty-cash module granted what its manifest declares.
fn petty_cash(host: &TestHost) -> Arc<hamgam::runtime::instance::PluginInstance> {
    host.plugin(plugin("petty-cash"))
        .unwrap()
        .grant_state()
        .grant_crm(CrmAccess::ReadWrite)
        .grant_entities(CrmEntity::Party, CrmAccess::Read)
        .grant_entities(CrmEntity::Payment, CrmAccess::ReadWrite)
        .build()
}

/// A request to a module with a JSON body (none for null): status and JSON answer.
async fn ask(
    m: &hamgam::runtime::instance::PluginInstance,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let r = m.request(method, path, &body).await.unwrap().unwrap();
    (r.status, serde_json::from_slice::<Value>(&r.body).unwrap())
}

#[tokio::test]
async fn petty_cash_settles_an_approved_bill_once_as_a_crm_payment_and_emits_once() {
    let host = TestHost::new();
    let m = petty_cash(&host);
    let db = host.crm_db().await.unwrap();
    let holder = serde_json::from_value::<hamgam::crm::PartyInput>(serde_json::json!({
        "kind": "person", "first_name": "رضا", "last_name": "صندوق‌دار", "customer_number": "77-300"
    }))
    .unwrap()
    .validate()
    .unwrap();
    let holder = hamgam::store::party::create_party(db, &hamgam::crm::Actor::api("test"), &holder)
        .await
        .unwrap();
    let call = async |method: &str, path: &str, body: Value| ask(&m, method, path, body).await;
    let (status, fund) = call(
        "POST",
        "/funds",
        serde_json::json!({"title": "office", "holder_party_id": holder.id, "ceiling": "1000000"}),
    )
    .await;
    assert_eq!(status, 201, "{fund}");
    let (status, bill) = call(
        "POST",
        &format!("/funds/{}/bills", fund["id"].as_str().unwrap()),
        serde_json::json!({"items": [{"amount": "250000", "description": "taxi", "date": "1403/01/05"}]}),
    )
    .await;
    assert_eq!(status, 201, "{bill}");
    let id = bill["id"].as_str().unwrap().to_string();
    assert_eq!(
        call("POST", &format!("/bills/{id}/approve"), Value::Null)
            .await
            .0,
        200
    );
    for _ in 0..2 {
        let (status, settled) = call("POST", &format!("/bills/{id}/settle"), Value::Null).await;
        assert_eq!(status, 200, "{settled}");
        assert_eq!(settled["status"], "settled");
    }
    let events = host.events();
    assert_eq!(
        events.iter().filter(|e| e.2 == "bill_settled").count(),
        1,
        "{events:?}"
    );
    assert_eq!(
        events[0].0, "test",
        "the event belongs to the caller's tenant"
    );
    let payments = hamgam::store::payment::list_payments(
        db,
        "test",
        hamgam::crm::PaymentKind::Payment,
        &Default::default(),
        0,
        10,
    )
    .await
    .unwrap();
    assert_eq!(payments.len(), 1, "one payment however often it is settled");
    assert_eq!(payments[0].amount.to_string(), "250000");
    let (status, _) = call("GET", "/bills/bill-999999", Value::Null).await;
    assert_eq!(status, 404);
}

/// H9: a settle that stopped after creating the CRM payment and before
/// recording it (a crash between the two) leaves a payment carrying the
/// bill's marker; the next settle adopts it instead of paying twice.
#[tokio::test]
async fn h9_a_settle_that_stopped_half_way_is_finished_without_paying_twice() {
    let host = TestHost::new();
    let m = petty_cash(&host);
    let holder = host
        .seed(
            "test",
            CrmEntity::Party,
            &serde_json::json!({"kind": "person", "first_name": "رضا", "last_name": "صندوق‌دار", "customer_number": "78-300"}),
        )
        .await
        .unwrap();
    let call = async |method: &str, path: &str, body: Value| ask(&m, method, path, body).await;
    let (_, fund) = call(
        "POST",
        "/funds",
        serde_json::json!({"title": "office", "holder_party_id": holder["id"], "ceiling": "1000000"}),
    )
    .await;
    let fund_id = fund["id"].as_str().unwrap().to_owned();
    let (_, bill) = call(
        "POST",
        &format!("/funds/{fund_id}/bills"),
        serde_json::json!({"items": [{"amount": "250000", "description": "taxi", "date": "1403/01/05"}]}),
    )
    .await;
    let id = bill["id"].as_str().unwrap().to_owned();
    let (status, _) = call("POST", &format!("/bills/{id}/approve"), Value::Null).await;
    assert_eq!(status, 200);
    // What the stopped settle left: the payment, with the bill's marker.
    let earlier = host
        .seed(
            "test",
            CrmEntity::Payment,
            &serde_json::json!({
                "party_id": holder["id"], "date": "1403/01/06", "amount": "250000",
                "method": "cash", "description": format!("petty-cash {fund_id} {id}: office"),
            }),
        )
        .await
        .unwrap();
    // Another bill's payment of the same holder does not count.
    host.seed(
        "test",
        CrmEntity::Payment,
        &serde_json::json!({
            "party_id": holder["id"], "date": "1403/01/06", "amount": "1000",
            "method": "cash", "description": format!("petty-cash {fund_id} {id}0: office"),
        }),
    )
    .await
    .unwrap();
    let (status, settled) = call("POST", &format!("/bills/{id}/settle"), Value::Null).await;
    assert_eq!(status, 200, "{settled}");
    assert_eq!(settled["status"], "settled");
    assert_eq!(settled["payment_id"], earlier["id"], "{settled}");
    let db = host.crm_db().await.unwrap();
    let payments = hamgam::store::payment::list_payments(
        db,
        "test",
        hamgam::crm::PaymentKind::Payment,
        &Default::default(),
        0,
        10,
    )
    .await
    .unwrap();
    assert_eq!(payments.len(), 2, "no third payment: {payments:?}");
}

// ---- mattermost: outgoing webhook out, outgoing-webhook token in ----

#[tokio::test]
async fn mattermost_notifier_posts_to_the_webhook_and_checks_inbound_tokens() {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = received.clone();
    let app = Router::new().route(
        "/hooks/abc",
        post(move |Json(body): Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!(
        "http://127.0.0.1:{}/hooks/abc",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    use hamgam::runtime::bindings::notifier::exports::hamgam::notify::notifier::{
        Channel, Message,
    };
    let host = TestHost::new();
    let n = host
        .plugin(plugin("mattermost-notifier"))
        .unwrap()
        .secret("webhook_url", &hook)
        .secret("outgoing_token", "tok-123")
        .grant_http("http://127.0.0.1:*")
        .grant_state()
        .build();
    let d = n
        .send(Message {
            channel: Channel::Mattermost,
            to: "sales".into(),
            subject: Some("Invoice 1404-0001".into()),
            body: "paid, thank you".into(),
        })
        .await
        .unwrap()
        .unwrap();
    assert!(!d.id.is_empty());
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["channel"], "sales");
    assert!(got[0]["text"].as_str().unwrap().contains("paid, thank you"));

    let inbound = |token: &str| types::HttpRequest {
        method: "POST".into(),
        path: "/".into(),
        headers: vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: format!("token={token}&user_name=reza&text=call+me").into_bytes(),
    };
    let msgs = n.handle_inbound(inbound("tok-123")).await.unwrap().unwrap();
    assert_eq!(
        (msgs[0].sender.as_str(), msgs[0].body.as_str()),
        ("reza", "call me")
    );
    assert!(matches!(
        n.handle_inbound(inbound("guess")).await.unwrap(),
        Err(types::Error::Unauthorized(_))
    ));
}

// ---- a scale on a TCP port (H8) ----

#[tokio::test]
async fn serial_scale_reads_an_exact_weight_over_the_granted_port() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 64];
        let mut replies = ["US,GS,+0012.300kg\r\n", "ST,GS,+0012.345kg\r\n"].into_iter();
        loop {
            let n = sock.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            // Answer each request with the next reading.
            if let Some(reply) = replies.next() {
                sock.write_all(reply.as_bytes()).await.unwrap();
            }
        }
    });
    let host = TestHost::new();
    let scale = host
        .plugin(plugin("serial-scale"))
        .unwrap()
        .grant_port(PortGrant {
            tcp: Some(addr),
            serial: None,
        })
        .build();
    let first = scale.read_weight().await.unwrap().unwrap();
    assert!(!first.stable);
    let w = scale.read_weight().await.unwrap().unwrap();
    assert!(w.stable);
    assert_eq!(
        hamgam::runtime::sql::from_wit_decimal(&w.value)
            .unwrap()
            .to_string(),
        "12.345"
    );
    assert_eq!(w.unit, "kg");
    // No port granted: denied, not a hang.
    let bare = host.plugin(plugin("serial-scale")).unwrap().build();
    assert!(matches!(
        bare.read_weight().await.unwrap(),
        Err(types::Error::Denied(_))
    ));
}

/// A guest sends its request head before writing its body. On a
/// multi-threaded host, the request used to be sent from another worker
/// before the (empty) body was written; hyper then dropped the body and the
/// guest's write failed as "connection reset". Hundreds of GETs, each a
/// chance for that race, must all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2_plugin_requests_never_lose_their_body_on_a_multi_threaded_host() {
    let (url, _ledger) = ledger_server().await;
    let host = TestHost::new();
    let c = hello_connector(&host, &url);
    let mut failures = Vec::new();
    for _ in 0..300 {
        match c.pull(EntityKind::Party, None, 10).await.unwrap() {
            Ok(page) => assert!(page.changes.is_empty()),
            Err(e) => failures.push(format!("{e:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 300 failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
}
