//! P2: outbound HTTP only to hosts the manifest declares AND the operator
//! grants, checked per request (including each hop of a redirect) and
//! against the address the name resolves to.

use crate::common::{enc, json, plugin};
use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};
use hamgam::testing::{PluginBuilder, TestHost};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A local server: `/hello` answers 200, `/redirect` sends the client to
/// the same server under another loopback address, `/big` answers 2 MiB,
/// `/sink` takes any body and counts the requests that reach it.
async fn server() -> u16 {
    server_counting().await.0
}

async fn server_counting() -> (u16, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sunk = Arc::new(AtomicU64::new(0));
    let counter = sunk.clone();
    let app =
        Router::new()
            .route("/hello", get(|| async { "hello" }))
            .route("/big", get(|| async { vec![b'x'; 2 << 20] }))
            .route(
                "/sink",
                post(move |body: axum::body::Bytes| async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    body.len().to_string()
                })
                .layer(axum::extract::DefaultBodyLimit::disable()),
            )
            .route(
                "/redirect",
                get(move || async move {
                    Redirect::temporary(&format!("http://127.0.0.2:{port}/hello"))
                }),
            );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, sunk)
}

/// The hostile plugin, granted the local server (127.0.0.1 and its port).
fn granted_local(host: &TestHost, port: u16) -> PluginBuilder<'_> {
    host.plugin(plugin("hostile"))
        .unwrap()
        .grant_http(&format!("http://127.0.0.1:{port}"))
}

fn denied(r: &serde_json::Value) -> bool {
    r["error"]
        .as_str()
        .is_some_and(|e| e.to_lowercase().contains("denied"))
}

#[tokio::test]
async fn p2_only_granted_destinations_are_reachable() {
    let port = server().await;
    let host = TestHost::new();
    let p = granted_local(&host, port).build();
    let ok = format!("http://127.0.0.1:{port}/hello");
    assert_eq!(
        json(&p, &format!("/http?url={}", enc(&ok))).await["status"],
        200
    );

    for url in [
        // A host name nobody granted (refused before any DNS lookup).
        "http://evil.example.com/".to_string(),
        // An IP literal that is not the granted one, on the same machine.
        format!("http://127.0.0.2:{port}/hello"),
        // Same server, other authority: `localhost` was not granted.
        format!("http://localhost:{port}/hello"),
        // Right host, other port.
        format!("http://127.0.0.1:{}/hello", port.wrapping_add(1)),
        // Right host and port, other scheme.
        format!("https://127.0.0.1:{port}/hello"),
    ] {
        let r = json(&p, &format!("/http?url={}", enc(&url))).await;
        assert!(denied(&r), "{url} was not denied: {r}");
        assert!(
            host.calls().iter().any(|c| c.call == "http.request"
                && !c.allowed
                && c.detail
                    .contains(url.trim_end_matches("/hello").trim_end_matches('/'))),
            "{url}: no denied entry in the audit trail"
        );
    }
}

#[tokio::test]
async fn p2_redirect_to_a_disallowed_host_is_denied() {
    let port = server().await;
    let host = TestHost::new();
    let p = granted_local(&host, port).build();
    let start = format!("http://127.0.0.1:{port}/redirect");
    // The first hop is allowed and answers 307…
    assert_eq!(
        json(&p, &format!("/http?url={}", enc(&start))).await["status"],
        307
    );
    // …and following it to 127.0.0.2 is a new request, checked again.
    let r = json(&p, &format!("/http-follow?url={}", enc(&start))).await;
    assert!(denied(&r), "redirect was followed: {r}");
}

#[tokio::test]
async fn p2_granted_name_resolving_to_loopback_needs_opt_in() {
    let port = server().await;
    let host = TestHost::new();
    let url = format!("http://localhost:{port}/hello");
    // A wildcard grant covers the name, but `localhost` resolves to a
    // loopback address, which a wildcard never reaches.
    let p = host
        .plugin(plugin("hostile"))
        .unwrap()
        .grant_http(&format!("http://*:{port}"))
        .build();
    let r = json(&p, &format!("/http?url={}", enc(&url))).await;
    assert!(denied(&r), "{r}");
    assert!(
        host.calls()
            .iter()
            .any(|c| !c.allowed && c.detail.contains("loopback"))
    );
    // The operator's opt-in for an on-premises ledger opens it.
    let open = host
        .plugin(plugin("hostile"))
        .unwrap()
        .grant_http(&format!("http://*:{port}"))
        .allow_private_network()
        .build();
    assert_eq!(
        json(&open, &format!("/http?url={}", enc(&url))).await["status"],
        200
    );
}

#[tokio::test]
async fn p2_no_grant_means_no_network() {
    let port = server().await;
    let host = TestHost::new();
    let p = host.plugin(plugin("hostile")).unwrap().build();
    let url = format!("http://127.0.0.1:{port}/hello");
    assert!(denied(&json(&p, &format!("/http?url={}", enc(&url))).await));
}

#[tokio::test]
async fn p2_a_response_over_http_response_mib_is_refused_and_the_plugin_is_told_why() {
    let port = server().await;
    let host = TestHost::new();
    let p = granted_local(&host, port)
        .limits(|l| l.http_response_mib = 1)
        .build();
    let big = format!("http://127.0.0.1:{port}/big");
    let r = json(&p, &format!("/http?url={}", enc(&big))).await;
    let error = r["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("http_response_mib") && error.contains("2097152"),
        "a 2 MiB answer under a 1 MiB cap: {r}"
    );
    // The instance is fine and small answers still arrive.
    let hello = format!("http://127.0.0.1:{port}/hello");
    assert_eq!(
        json(&p, &format!("/http?url={}", enc(&hello))).await["status"],
        200
    );
    // With the default cap (16 MiB) the same answer is read whole.
    let roomy = granted_local(&host, port).build();
    assert_eq!(
        json(&roomy, &format!("/http?url={}", enc(&big))).await["status"],
        200
    );
}

#[tokio::test]
async fn p2_a_request_body_over_http_request_mib_is_refused_naming_the_limit() {
    let (port, sunk) = server_counting().await;
    let host = TestHost::new();
    let p = granted_local(&host, port)
        .limits(|l| l.http_request_mib = 1)
        .build();
    let sink = enc(&format!("http://127.0.0.1:{port}/sink"));
    let mib = 1 << 20;
    // Streamed without a Content-Length: refused where it crosses 1 MiB.
    // Declared: refused from the header, before any of it is read.
    for declare in ["0", "1"] {
        let r = json(
            &p,
            &format!("/http-post?url={sink}&bytes={}&declare={declare}", mib + 1),
        )
        .await;
        let error = r["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("limits.http_request_mib"),
            "declare={declare}: {r}"
        );
        assert!(
            host.calls().iter().any(|c| c.call == "http.request"
                && !c.allowed
                && c.detail.contains("limits.http_request_mib")),
            "declare={declare}: no refusal naming the limit in the audit trail"
        );
    }
    assert_eq!(
        sunk.load(Ordering::SeqCst),
        0,
        "an oversized body left the host"
    );
    // Exactly the cap goes through, on the same (unharmed) instance.
    let r = json(&p, &format!("/http-post?url={sink}&bytes={mib}")).await;
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(sunk.load(Ordering::SeqCst), 1);
    // The default (8 MiB) takes the body the small cap refused.
    let roomy = granted_local(&host, port).build();
    let r = json(&roomy, &format!("/http-post?url={sink}&bytes={}", mib + 1)).await;
    assert_eq!(r["status"], 200, "{r}");
}

#[tokio::test]
async fn p2_localhost_and_ip_literals_named_exactly_still_reach_loopback() {
    let port = server().await;
    let host = TestHost::new();
    for grant in [
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{port}"),
    ] {
        let p = host
            .plugin(plugin("hostile"))
            .unwrap()
            .grant_http(&grant)
            .build();
        let url = format!("{grant}/hello");
        assert_eq!(
            json(&p, &format!("/http?url={}", enc(&url))).await["status"],
            200,
            "{grant}"
        );
    }
}

/// Also on a multi-threaded host, where the refusal can be ready before
/// the guest has written its request's body: the guest must still read
/// "denied", not a reset connection (a CI run under load saw that).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2_cloud_metadata_is_refused_in_every_address_form() {
    let host = TestHost::new();
    for literal in [
        "169.254.169.254",
        "[fd00:ec2::254]",
        "[::ffff:169.254.169.254]",
        "[::169.254.169.254]",
        "[64:ff9b::a9fe:a9fe]",
        "[2002:a9fe:a9fe::1]",
    ] {
        // Granted by exact literal, wildcard and private-network opt-in at
        // once: nothing opens the metadata service. A short call timeout
        // keeps a host that did try to connect from hanging the test.
        let p = host
            .plugin(plugin("hostile"))
            .unwrap()
            .grant_http(&format!("http://{literal}"))
            .grant_http("http://*:*")
            .allow_private_network()
            .limits(|l| l.call_timeout_ms = 3000)
            .build();
        let url = format!("http://{literal}/latest/meta-data/");
        for _ in 0..20 {
            let r = json(&p, &format!("/http?url={}", enc(&url))).await;
            assert!(denied(&r), "{literal}: {r}");
        }
        assert!(
            host.calls().iter().any(|c| !c.allowed
                && c.detail.contains(literal.trim_matches(['[', ']']))
                && c.detail.contains("metadata")),
            "{literal}: no metadata refusal in the audit trail"
        );
    }
}
