//! P7 / issue 13 §5: `/hooks` is open to anyone, so it bounds how many
//! deliveries it reads at once, how many wait, and how long a sender may
//! take. Without a sync engine a delivery that was read whole answers 503
//! `unavailable`; one turned away by a bound answers 503 `busy` or 408.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use hamgam::api::{AppState, Snapshot, app};
use hamgam::config::{Config, ServerConfig};
use hamgam::plugins::registry::{Catalog, Registry};
use hamgam::runtime::instance::{Services, SystemClock};
use http_body_util::BodyExt;
use std::sync::Arc;
use tokio::sync::mpsc;
use tower::ServiceExt;

async fn state(server: ServerConfig) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hooks.db").display());
    let db = hamgam::store::Db::connect(&url).await.unwrap();
    let host = hamgam::testing::TestHost::new();
    let config = Config::parse("").unwrap();
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
        problem: Some("no license in this test".into()),
        today: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    };
    let registry = Registry::build(
        host.runtime(),
        &Catalog::default(),
        &config,
        &services,
        &license,
    )
    .await;
    let snapshot = Snapshot {
        registry,
        tokens: Default::default(),
        admin_token: None,
        license,
        rejected: Vec::new(),
        crm: Default::default(),
        sync: Default::default(),
    };
    let state = AppState::new(snapshot, db);
    state.set_webhook_limits(&server);
    (state, dir)
}

/// A delivery whose body arrives only as the test sends it; dropping the
/// sender ends the body.
fn streamed() -> (mpsc::Sender<Bytes>, Request<Body>) {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
    });
    (tx, hook(Body::from_stream(stream)))
}

fn hook(body: Body) -> Request<Body> {
    Request::post("/hooks/acme/shop")
        .header("content-type", "application/json")
        .body(body)
        .unwrap()
}

async fn answer(response: axum::response::Response) -> (StatusCode, String, bool) {
    let status = response.status();
    let retry_after = response.headers().contains_key("retry-after");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    (
        status,
        v["error"]["code"].as_str().unwrap().to_owned(),
        retry_after,
    )
}

/// Let spawned requests run until each waits on its body or its turn.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn p7_webhook_deliveries_past_the_concurrency_bound_are_turned_away_at_once() {
    let (state, _dir) = state(ServerConfig {
        webhook_concurrency: 1,
        webhook_timeout_ms: 600_000,
        ..ServerConfig::default()
    })
    .await;
    let router = app(state);

    // One delivery holds the only turn, sending its body slowly.
    let (slow_body, slow) = streamed();
    let first = tokio::spawn(router.clone().oneshot(slow));
    settle().await;
    slow_body
        .send(Bytes::from_static(b"{\"id\":"))
        .await
        .unwrap();
    // Four more may wait for a turn (4 per turn)…
    let mut waiting = Vec::new();
    for _ in 0..4 {
        waiting.push(tokio::spawn(
            router.clone().oneshot(hook(Body::from("{\"id\":1}"))),
        ));
    }
    settle().await;
    // …and the next is answered at once, without waiting, with Retry-After.
    let turned_away = router
        .clone()
        .oneshot(hook(Body::from("{\"id\":2}")))
        .await
        .unwrap();
    assert_eq!(
        answer(turned_away).await,
        (StatusCode::SERVICE_UNAVAILABLE, "busy".to_owned(), true)
    );

    // Once the slow sender finishes, every admitted delivery is read in
    // turn and reaches the (absent) engine: none was lost to the bound.
    drop(slow_body);
    let (status, code, _) = answer(first.await.unwrap().unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    for w in waiting {
        let (status, code, _) = answer(w.await.unwrap().unwrap()).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        );
    }
}

#[tokio::test]
async fn p7_a_webhook_sender_that_never_finishes_its_body_gets_a_408_and_frees_its_turn() {
    let (state, _dir) = state(ServerConfig {
        webhook_concurrency: 1,
        webhook_timeout_ms: 200,
        ..ServerConfig::default()
    })
    .await;
    let router = app(state);
    let (held, slow) = streamed();
    held.send(Bytes::from_static(b"{\"id\":")).await.unwrap();
    let (status, code, _) = answer(router.clone().oneshot(slow).await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::REQUEST_TIMEOUT, "timeout")
    );
    // The turn it held is free again: the next delivery is read.
    let next = router
        .clone()
        .oneshot(hook(Body::from("{\"id\":3}")))
        .await
        .unwrap();
    let (status, code, _) = answer(next).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    drop(held);
}

#[test]
fn p7_webhook_bounds_out_of_range_are_refused_with_the_key_named() {
    for (line, key) in [
        ("webhook_concurrency = 0", "server.webhook_concurrency"),
        ("webhook_timeout_ms = 5", "server.webhook_timeout_ms"),
        ("webhook_body_kib = 0", "server.webhook_body_kib"),
    ] {
        let err = Config::parse(&format!("[server]\n{line}\n")).unwrap_err();
        assert!(err.to_string().contains(key), "{line}: {err}");
    }
}
