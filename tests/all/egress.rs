//! P2: outbound HTTP only to hosts the manifest declares AND the operator
//! grants, checked per request (including each hop of a redirect) and
//! against the address the name resolves to.

use crate::common::{enc, json, plugin};
use axum::Router;
use axum::response::Redirect;
use axum::routing::get;
use hamgam::testing::{PluginBuilder, TestHost};

/// A local server: `/hello` answers 200, `/redirect` sends the client to
/// the same server under another loopback address, `/big` answers 2 MiB.
async fn server() -> u16 {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app =
        Router::new()
            .route("/hello", get(|| async { "hello" }))
            .route("/big", get(|| async { vec![b'x'; 2 << 20] }))
            .route(
                "/redirect",
                get(move || async move {
                    Redirect::temporary(&format!("http://127.0.0.2:{port}/hello"))
                }),
            );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
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
