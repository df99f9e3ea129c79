//! The HTTP API: health, metrics, module routes behind per-tenant bearer
//! tokens, and one JSON error shape (P5, P7, P8).

use crate::common::plugin;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use hamgam::api::{AppState, Snapshot, app};
use hamgam::config::{Config, Secret};
use hamgam::plugins::registry::{Catalog, Registry};
use hamgam::runtime::instance::{Services, SystemClock};
use http_body_util::BodyExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use tower::ServiceExt;

const CONFIG: &str = crate::petty_cash::PETTY_CASH;

pub(crate) const ADMIN: &str = "admin-token";
const LICENSE_PATH: &str = "/srv/hamgam/license.json";

async fn router() -> (axum::Router, tempfile::TempDir) {
    router_with(CONFIG, &["petty-cash"]).await
}

pub(crate) async fn router_with(
    config: &str,
    plugins: &[&str],
) -> (axum::Router, tempfile::TempDir) {
    let (state, dir) = state_with(config, plugins).await;
    (app(state), dir)
}

/// The API state of [`router_with`]: the same database, registry and
/// tokens, for tests that also run what sits beside the API.
pub(crate) async fn state_with(config: &str, plugins: &[&str]) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db =
        hamgam::store::Db::connect(&format!("sqlite://{}", dir.path().join("api.db").display()))
            .await
            .unwrap();
    let host = hamgam::testing::TestHost::new();
    let mut catalog = Catalog::default();
    for id in plugins {
        catalog.insert(Arc::new(host.runtime().load_file(&plugin(id)).unwrap()));
    }
    let config = Config::parse(config).unwrap();
    let db_arc = Arc::new(db.clone());
    let services = Services {
        state: db_arc.clone(),
        crm: db_arc.clone(),
        entities: db_arc,
        sql: Arc::new(hamgam::runtime::sql::SqlConnections::default()),
        recorder: Arc::new(hamgam::runtime::backends::TracingRecorder),
        clock: Arc::new(SystemClock),
    };
    let license = hamgam::plugins::licensing::LicenseState {
        license: None,
        // A problem that names a file, as a real one does.
        problem: Some(format!("cannot read license {LICENSE_PATH}: not found")),
        today: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    };
    let registry = Registry::build(host.runtime(), &catalog, &config, &services, &license).await;
    let tokens: BTreeMap<String, Secret> = [
        ("acme".to_string(), secret("acme-token")),
        ("globex".to_string(), secret("globex-token")),
    ]
    .into();
    let snapshot = Snapshot {
        registry,
        tokens,
        admin_token: Some(secret(ADMIN)),
        license,
        rejected: Vec::new(),
        crm: BTreeMap::new(),
        sync: Default::default(),
    };
    (AppState::new(snapshot, db), dir)
}

fn secret(v: &str) -> Secret {
    hamgam::config::SecretRef::Value(v.into())
        .resolve("t")
        .unwrap()
}

pub(crate) async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, json)
}

#[tokio::test]
async fn health_and_metrics() {
    let (app, _dir) = router().await;
    let (status, body) = send(&app, "GET", "/healthz", Some(ADMIN), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["instances"], 2);
    let calls = |text: &str| -> u64 {
        let key = "hamgam_plugin_calls_total{tenant=\"acme\",instance=\"petty-cash\",plugin=\"petty-cash\"}";
        let line = text
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no acme counter in {text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let (status, before) = send(&app, "GET", "/metrics", Some(ADMIN), "").await;
    assert_eq!(status, StatusCode::OK);
    let before = calls(before.as_str().unwrap());
    let uri = "/api/v1/tenants/acme/modules/petty-cash/bills";
    let (status, _) = send(&app, "GET", uri, Some("acme-token"), "").await;
    assert_eq!(status, StatusCode::OK);
    let (_, after) = send(&app, "GET", "/metrics", Some(ADMIN), "").await;
    assert_eq!(calls(after.as_str().unwrap()), before + 1);
}

#[tokio::test]
async fn s9_metrics_and_healthz_without_the_admin_token_reveal_no_tenant_instance_plugin_or_path() {
    let (app, _dir) = router().await;
    // One call, so the public totals have something to count.
    let uri = "/api/v1/tenants/acme/modules/petty-cash/bills";
    let (status, _) = send(&app, "GET", uri, Some("acme-token"), "").await;
    assert_eq!(status, StatusCode::OK);
    let secrets = ["acme", "globex", "petty-cash", LICENSE_PATH, "license.json"];
    // No token: up or not, and label-free totals.
    let (status, health) = send(&app, "GET", "/healthz", None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health, serde_json::json!({ "status": "ok" }));
    let (status, metrics) = send(&app, "GET", "/metrics", None, "").await;
    assert_eq!(status, StatusCode::OK);
    let metrics = metrics.as_str().unwrap().to_owned();
    for word in secrets {
        assert!(
            !metrics.contains(word),
            "{word} in public /metrics:\n{metrics}"
        );
    }
    assert!(
        !metrics.contains('{'),
        "labels in public /metrics:\n{metrics}"
    );
    let total: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hamgam_plugin_calls_total "))
        .unwrap_or_else(|| panic!("no unlabelled call total in {metrics}"))
        .parse()
        .unwrap();
    assert!(total >= 1, "{metrics}");
    // A tenant's token is not the admin token, and a wrong token is refused
    // rather than quietly answered with the public view.
    for token in ["acme-token", "wrong"] {
        for path in ["/healthz", "/metrics"] {
            let (status, body) = send(&app, "GET", path, Some(token), "").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {token}");
            let text = body.to_string();
            assert!(!text.contains("petty-cash"), "{path}: {text}");
        }
    }
    // The admin token: the details.
    let (_, health) = send(&app, "GET", "/healthz", Some(ADMIN), "").await;
    assert!(
        health["license"].as_str().unwrap().contains(LICENSE_PATH),
        "{health}"
    );
    assert_eq!(health["database"], "sqlite", "{health}");
    assert_eq!(health["instances"], 2, "{health}");
    let (_, metrics) = send(&app, "GET", "/metrics", Some(ADMIN), "").await;
    let metrics = metrics.as_str().unwrap();
    for tenant in ["acme", "globex"] {
        let line = format!(
            "hamgam_plugin_calls_total{{tenant=\"{tenant}\",instance=\"petty-cash\",plugin=\"petty-cash\"}}"
        );
        assert!(metrics.contains(&line), "{line} missing:\n{metrics}");
    }
}

#[tokio::test]
async fn p7_module_routes_need_the_tenants_own_token() {
    let (app, _dir) = router().await;
    let uri = "/api/v1/tenants/acme/modules/petty-cash/bills";
    for token in [None, Some("wrong")] {
        let (status, body) = send(&app, "GET", uri, token, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    // Another tenant's valid token: authenticated, not allowed here (403),
    // and an unknown tenant looks the same, so existence does not leak.
    let (status, body) = send(&app, "GET", uri, Some("globex-token"), "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, _) = send(
        &app,
        "GET",
        "/api/v1/tenants/nobody/modules/petty-cash/bills",
        Some("acme-token"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = send(
        &app,
        "GET",
        "/api/v1/tenants/acme/modules/ghost/x",
        Some("acme-token"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not-found");
}

#[tokio::test]
async fn p7_module_data_stays_with_its_tenant() {
    let (app, _dir) = router().await;
    let acme = "/api/v1/tenants/acme/modules/petty-cash/funds";
    let party = crate::petty_cash::holder(&app, "acme-token", "acme").await;
    let (status, fund) = send(
        &app,
        "POST",
        acme,
        Some("acme-token"),
        &serde_json::json!({"title": "taxi", "holder_party_id": party, "ceiling": "250000"})
            .to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{fund}");
    let (_, list) = send(&app, "GET", acme, Some("acme-token"), "").await;
    assert_eq!(list.as_array().map(|a| a.len()), Some(1), "{list}");
    let (_, other) = send(
        &app,
        "GET",
        "/api/v1/tenants/globex/modules/petty-cash/funds",
        Some("globex-token"),
        "",
    )
    .await;
    assert_eq!(other.as_array().map(|a| a.len()), Some(0), "{other}");
}

#[tokio::test]
async fn bad_input_gets_a_4xx_naming_the_field() {
    let (app, _dir) = router().await;
    let uri = "/api/v1/tenants/acme/modules/petty-cash/funds";
    let (status, body) = send(
        &app,
        "POST",
        uri,
        Some("acme-token"),
        r#"{"title":"x","holder_party_id":1,"ceiling":"-5"}"#,
    )
    .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert_eq!(body["error"]["field"], "ceiling", "{body}");
    let big = format!(
        "{{\"title\":\"{}\",\"holder_party_id\":1,\"ceiling\":\"1\"}}",
        "x".repeat(hamgam::api::MAX_BODY_BYTES + 1)
    );
    let (status, _) = send(&app, "POST", uri, Some("acme-token"), &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (_, list) = send(&app, "GET", uri, Some("acme-token"), "").await;
    assert_eq!(
        list.as_array().map(|a| a.len()),
        Some(0),
        "nothing was written: {list}"
    );
}

#[tokio::test]
async fn p2_a_module_response_cannot_set_host_headers_or_an_interim_status() {
    const HOSTILE: &str = r#"
[tenants.acme.instances.hostile]
plugin = "hostile"
enabled = true
"#;
    let (app, _dir) = router_with(HOSTILE, &["hostile"]).await;
    let raw = |uri: String| {
        let app = app.clone();
        async move {
            let req = Request::builder()
                .uri(uri)
                .header("authorization", "Bearer acme-token")
                .body(Body::empty())
                .unwrap();
            app.oneshot(req).await.unwrap()
        }
    };
    let base = "/api/v1/tenants/acme/modules/hostile/respond";
    let headers = [
        "Set-Cookie: session=stolen; Path=/",
        "hamgam-plugin: vendor-approved@9.9.9",
        "Connection: close",
        "Transfer-Encoding: chunked",
        "Strict-Transport-Security: max-age=0",
        "Access-Control-Allow-Origin: *",
        "x-total-count: 3",
    ]
    .map(|h| format!("header={}", crate::common::enc(h)))
    .join("&");
    let resp = raw(format!("{base}?status=201&{headers}")).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let h = resp.headers();
    assert!(h.get("set-cookie").is_none(), "{h:?}");
    assert_eq!(h["hamgam-plugin"], "hostile@0.1.0", "{h:?}");
    for gone in [
        "connection",
        "transfer-encoding",
        "strict-transport-security",
        "access-control-allow-origin",
    ] {
        assert!(h.get(gone).is_none(), "{gone}: {h:?}");
    }
    assert_eq!(h["x-total-count"], "3");
    assert_eq!(
        resp.into_body().collect().await.unwrap().to_bytes(),
        "hostile"
    );
    // Interim, protocol-switching and made-up statuses become a 502 that
    // says what the module did.
    for status in [100, 101, 103, 305, 407, 599, 999] {
        let resp = raw(format!("{base}?status={status}")).await;
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY, "{status}");
        let body: serde_json::Value =
            serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
        let text = body.to_string();
        assert!(
            text.contains(&format!("status {status}")) && text.contains("hostile"),
            "{status}: {body}"
        );
    }
}
