//! The staged component in the SDK's in-memory test host against a tiny
//! fake shop (`cargo xtask build-plugins woocommerce` first). The fake
//! checks OAuth 1.0a the way WooCommerce's `check_oauth_signature` does
//! (re-implemented here from the PHP, not from the plugin's code), so this
//! proves what unit tests on the build machine cannot: that the nonce
//! (randomness) and the timestamp (host clock) work inside the sandbox and
//! that a signed pull page and a signed webhook go through end to end.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hamgam_sdk::harness::TestHost;
use hamgam_sdk::harness::ledger::WebhookIntake;
use hamgam_sdk::harness::types::{EntityKind, Error, HttpRequest};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const KEY: &str = "ck_test";
const SECRET: &str = "cs_test";
const HOOK_SECRET: &str = "whsec";

#[derive(Default)]
struct Seen {
    nonces: Vec<String>,
    bad: Vec<String>,
    paths: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

/// PHP's `urldecode` (`+` is a space), as `$_GET` is filled.
fn php_urldecode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// PHP's `rawurlencode` (RFC 3986, `~` kept).
fn rawurlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `check_oauth_signature` + the timestamp and nonce checks.
fn woo_check(
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    seen: &Shared,
) -> Result<(), String> {
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (php_urldecode(k), php_urldecode(v))
        })
        .collect();
    let get = |k: &str, params: &[(String, String)]| {
        params.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone())
    };
    if get("oauth_consumer_key", &params).as_deref() != Some(KEY) {
        return Err("Consumer key is invalid.".into());
    }
    let given = get("oauth_signature", &params).ok_or("Missing OAuth parameter oauth_signature")?;
    params.retain(|(k, _)| k != "oauth_signature");
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let joined: Vec<String> = params
        .iter()
        .map(|(k, v)| rawurlencode(&format!("{}={}", rawurlencode(k), rawurlencode(v))))
        .collect();
    let base = format!(
        "{method}&{}&{}",
        rawurlencode(&format!("http://{host}{path}")),
        joined.join("%26")
    );
    if get("oauth_signature_method", &params).as_deref() != Some("HMAC-SHA256") {
        return Err("Invalid signature - signature method is invalid.".into());
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(format!("{SECRET}&").as_bytes()).unwrap();
    mac.update(base.as_bytes());
    if B64.encode(mac.finalize().into_bytes()) != given {
        return Err("Invalid signature - provided signature does not match.".into());
    }
    let ts: i64 = get("oauth_timestamp", &params)
        .unwrap_or_default()
        .parse()
        .unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (ts - now).abs() > 15 * 60 {
        return Err("Invalid timestamp.".into());
    }
    let nonce = get("oauth_nonce", &params).unwrap_or_default();
    let mut s = seen.lock().unwrap();
    if nonce.is_empty() || s.nonces.contains(&nonce) {
        return Err("Invalid nonce - nonce has already been used.".into());
    }
    s.nonces.push(nonce);
    Ok(())
}

fn order(id: i64, status: &str, email: &str) -> Value {
    json!({
        "id": id, "number": id.to_string(), "status": status, "currency": "IRT",
        "date_created_gmt": "2025-03-21T10:00:00", "date_modified_gmt": format!("2025-03-21T10:0{}:00", id % 10),
        "date_paid_gmt": "2025-03-21T10:01:00", "total": "1250000.50", "total_tax": "0.00",
        "customer_id": 0, "customer_note": "",
        "billing": {"first_name": "مریم", "last_name": "احمدی", "email": email, "phone": "۰۹۱۲۱۲۳۴۵۶۷",
                    "address_1": "آزادی", "city": "تهران", "state": "THR", "postcode": "1234567890", "country": "IR"},
        "shipping": {}, "payment_method": "zarinpal", "payment_method_title": "زرین‌پال", "transaction_id": "T1",
        "line_items": [{"id": 1, "name": "کتاب", "product_id": 55, "quantity": 1,
                        "subtotal": "1250000.50", "total": "1250000.50", "total_tax": "0.00"}],
        "shipping_lines": [], "fee_lines": [], "coupon_lines": [], "refunds": []
    })
}

async fn shop(State(seen): State<Shared>, request: Request) -> Response {
    let method = request.method().as_str().to_owned();
    let host = request
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    seen.lock()
        .unwrap()
        .paths
        .push(format!("{method} {path}?{query}"));
    if let Err(why) = woo_check(&method, &host, &path, &query, &seen) {
        seen.lock().unwrap().bad.push(format!("{path}: {why}"));
        let body = json!({"code": "woocommerce_rest_authentication_error", "message": why, "data": {"status": 401}});
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    let pages = [("x-wp-totalpages", "1"), ("x-wp-total", "2")];
    match path.trim_start_matches("/wp-json/wc/v3/") {
        "customers" => (
            pages,
            axum::Json(json!([{"id": 12, "email": "ali@example.ir", "first_name": "علی",
                "last_name": "رضایی", "username": "ali", "date_modified_gmt": "2025-03-20T08:00:00",
                "billing": {"phone": "+989121112233", "postcode": "۱۱۱۱۱۲۲۲۲۲", "address_1": "ونک", "city": "تهران", "country": "IR", "state": "THR"},
                "shipping": {}}])),
        )
            .into_response(),
        "orders" => {
            // The same guest paid twice (a retried payment), plus a draft.
            let list = json!([
                order(700, "processing", "Maryam@Example.ir"),
                order(701, "checkout-draft", "x@example.ir"),
                order(702, "completed", "maryam@example.ir ")
            ]);
            (pages, axum::Json(list)).into_response()
        }
        "webhooks" if method == "GET" => axum::Json(json!([
            {"id": 9, "name": "Hamgam order.updated", "status": "disabled", "topic": "order.updated",
             "delivery_url": "https://crm.example/hooks/test/main"},
            {"id": 10, "name": "someone else's", "status": "disabled", "topic": "order.created",
             "delivery_url": "https://elsewhere.example/hook"}
        ]))
        .into_response(),
        "webhooks/9" if method == "PUT" => {
            axum::Json(json!({"id": 9, "status": "active"})).into_response()
        }
        "orders/703" => axum::Json(order(703, "processing", "maryam@example.ir")).into_response(),
        other => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": "rest_no_route", "message": format!("no route {other}"), "data": {"status": 404}})),
        )
            .into_response(),
    }
}

async fn serve(seen: Shared) -> u16 {
    let app = Router::new().fallback(shop).with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
    mac.update(body);
    B64.encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn signed_pulls_and_webhooks_inside_the_sandbox() {
    let seen: Shared = Arc::default();
    let port = serve(seen.clone()).await;
    let host = TestHost::new();
    let plugin = host
        .plugin(hamgam_sdk::harness::plugin_path("woocommerce"))
        .expect("run `cargo xtask build-plugins woocommerce` first")
        .setting(
            "base_url",
            &format!("http://127.0.0.1:{port}/wp-json/wc/v3"),
        )
        .setting("company_code", "300")
        .setting("webhook_url", "https://crm.example/hooks/test/main")
        .secret("consumer_key", KEY)
        .secret("consumer_secret", SECRET)
        .secret("webhook_secret", HOOK_SECRET)
        .grant_http(&format!("http://127.0.0.1:{port}"))
        .grant_state()
        .build();

    let info = plugin.describe_connector().await.expect("describe");
    assert_eq!(info.ledger, "WooCommerce");
    assert_eq!(info.company_code.as_deref(), Some("300"));
    assert_eq!(
        info.role,
        hamgam_sdk::harness::ledger::ConnectorRole::SalesChannel
    );

    // Page 1 of the party scan: registered customers.
    let page = plugin
        .pull(EntityKind::Party, None, 100)
        .await
        .expect("call")
        .expect("pull");
    assert!(page.full_scan && page.has_more);
    assert_eq!(page.changes.len(), 1);
    let customer = format!("{:?}", page.changes[0]);
    assert!(customer.contains(r#"remote-id: "12""#), "{customer}");
    assert!(customer.contains(r#"Some("2000012-300")"#), "{customer}");
    assert!(customer.contains(r#""09121112233""#), "{customer}");
    let cursor: Value = serde_json::from_str(page.next_cursor.as_deref().unwrap()).unwrap();
    assert_eq!(cursor["source"], 1);

    // Page 2: guests from orders. One guest paid twice: one party, numbered
    // from the earliest order; the draft is never imported.
    let page = plugin
        .pull(EntityKind::Party, page.next_cursor.clone(), 100)
        .await
        .expect("call")
        .expect("pull");
    assert!(page.full_scan && !page.has_more);
    assert_eq!(page.changes.len(), 1, "{:?}", page.changes);
    let guest = format!("{:?}", page.changes[0]);
    assert!(
        guest.contains(r#"remote-id: "guest:maryam@example.ir""#),
        "{guest}"
    );
    assert!(guest.contains(r#"Some("1000700-300")"#), "{guest}");
    let cursor: Value = serde_json::from_str(page.next_cursor.as_deref().unwrap()).unwrap();
    assert_eq!(cursor["mode"], "tail");
    assert_eq!(cursor["modified_after"], "2025-03-21T10:02:00");

    // A tail pull checks the webhooks: ours, disabled after failed
    // deliveries, is set active again; someone else's is left alone.
    let tail = plugin
        .pull(EntityKind::Party, page.next_cursor.clone(), 100)
        .await
        .expect("call")
        .expect("pull");
    assert!(!tail.full_scan && !tail.has_more);
    {
        let seen = seen.lock().unwrap();
        let tail_read = seen.paths.iter().find(|p| {
            p.starts_with("GET /wp-json/wc/v3/orders?")
                && p.contains("modified_after=2025-03-21T10%3A01%3A00")
        });
        assert!(
            tail_read.is_some(),
            "tail with a minute of overlap: {:?}",
            seen.paths
        );
        assert!(
            seen.paths
                .iter()
                .any(|p| p.starts_with("PUT /wp-json/wc/v3/webhooks/9?"))
        );
        assert!(
            !seen
                .paths
                .iter()
                .any(|p| p.starts_with("PUT /wp-json/wc/v3/webhooks/10?"))
        );
    }

    // Invoices: Toman → Rial exactly, reported as IRR.
    let page = plugin
        .pull(EntityKind::SalesInvoice, None, 100)
        .await
        .expect("call")
        .expect("pull");
    assert_eq!(page.changes.len(), 2);
    let invoice = format!("{:?}", page.changes[0]);
    assert!(invoice.contains(r#"currency: "IRR""#), "{invoice}");
    assert!(invoice.contains("mantissa-lo: 12500005"), "{invoice}");

    // A webhook: signed, for a paid order of the same guest delivered
    // without line items, so the plugin re-reads it.
    let mut body = serde_json::to_vec(&order(703, "processing", "maryam@example.ir")).unwrap();
    let mut value: Value = serde_json::from_slice(&body).unwrap();
    value["line_items"] = json!([]);
    body = serde_json::to_vec(&value).unwrap();
    let request = |body: Vec<u8>, signature: Option<String>| HttpRequest {
        method: "POST".into(),
        path: "/".into(),
        headers: [
            Some(("X-WC-Webhook-Topic".to_owned(), "order.updated".to_owned())),
            signature.map(|s| ("X-WC-Webhook-Signature".to_owned(), s)),
        ]
        .into_iter()
        .flatten()
        .collect(),
        body,
    };
    let changes = plugin
        .handle_webhook(request(body.clone(), Some(sign(&body))))
        .await
        .expect("call")
        .expect("webhook");
    let text = format!("{changes:?}");
    assert_eq!(changes.len(), 3, "{text}");
    assert!(
        text.contains(r#"remote-id: "guest:maryam@example.ir""#),
        "{text}"
    );
    assert!(
        text.contains(r#"Some("1000700-300")"#),
        "same guest, same number: {text}"
    );
    assert!(text.contains(r#"remote-id: "703""#), "{text}");
    assert!(text.contains(r#"remote-id: "order:703:payment""#), "{text}");
    // Delivered again: byte-identical records.
    let again = plugin
        .handle_webhook(request(body.clone(), Some(sign(&body))))
        .await
        .expect("call")
        .expect("webhook");
    assert_eq!(format!("{again:?}"), text);

    // The first look, while WooCommerce waits: queue it, without a call
    // to the shop.
    let calls_before = seen.lock().unwrap().paths.len();
    let intake = plugin
        .accept_webhook(request(body.clone(), Some(sign(&body))))
        .await
        .expect("call")
        .expect("accepted");
    assert_eq!(intake, WebhookIntake::Queue);
    assert_eq!(seen.lock().unwrap().paths.len(), calls_before);

    // Forged, unsigned, ping, malformed: the same answer from both looks.
    for forged in [
        plugin
            .accept_webhook(request(body.clone(), Some(sign(b"other"))))
            .await
            .expect("call")
            .map(|_| ()),
        plugin
            .handle_webhook(request(body.clone(), Some(sign(b"other"))))
            .await
            .expect("call")
            .map(|_| ()),
        plugin
            .accept_webhook(request(body.clone(), None))
            .await
            .expect("call")
            .map(|_| ()),
    ] {
        assert!(matches!(forged, Err(Error::Unauthorized(_))), "{forged:?}");
    }
    let ping = plugin
        .handle_webhook(request(b"webhook_id=5".to_vec(), None))
        .await
        .expect("call")
        .expect("ping");
    assert!(ping.is_empty());
    let ping = plugin
        .accept_webhook(request(b"webhook_id=5".to_vec(), None))
        .await
        .expect("call")
        .expect("ping");
    assert_eq!(ping, WebhookIntake::Ignore);
    let bad = b"{not json".to_vec();
    for malformed in [
        plugin
            .accept_webhook(request(bad.clone(), Some(sign(&bad))))
            .await
            .expect("call")
            .map(|_| ()),
        plugin
            .handle_webhook(request(bad.clone(), Some(sign(&bad))))
            .await
            .expect("call")
            .map(|_| ()),
    ] {
        assert!(
            matches!(&malformed, Err(Error::InvalidInput(f)) if f.field == "body"),
            "{malformed:?}"
        );
    }

    let seen = seen.lock().unwrap();
    assert!(seen.bad.is_empty(), "bad signatures: {:?}", seen.bad);
    assert!(seen.nonces.len() >= 4, "{:?}", seen.paths);
    let distinct: HashSet<&String> = seen.nonces.iter().collect();
    assert_eq!(distinct.len(), seen.nonces.len(), "a nonce was reused");
    assert!(
        seen.paths
            .iter()
            .any(|p| p.starts_with("GET /wp-json/wc/v3/orders/703?")),
        "{:?}",
        seen.paths
    );
}
