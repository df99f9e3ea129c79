//! End-to-end tests over real HTTP: a client and a webhook receiver written
//! here, with signature checks computed independently of the server's code.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use hamgam_woo_sim::{
    Address, ApiKey, NewCustomer, NewOrder, NewProduct, NewRefund, SimConfig, WooSim,
};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

// ------------------------------------------------------------------ client

struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    raw: Vec<u8>,
    body: Value,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

async fn call(
    method: reqwest::Method,
    url: &str,
    auth: Option<(&str, &str)>,
    body: Option<&Value>,
) -> Resp {
    let mut rb = reqwest::Client::new().request(method, url);
    if let Some((k, s)) = auth {
        rb = rb.basic_auth(k, Some(s));
    }
    if let Some(b) = body {
        rb = rb.json(b);
    }
    let r = rb.send().await.expect("send");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let raw = r.bytes().await.expect("body").to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        raw,
        body,
    }
}

struct Api {
    shop: WooSim,
    key: String,
    secret: String,
}

impl Api {
    async fn new() -> Api {
        Self::with(SimConfig::default()).await
    }
    async fn with(cfg: SimConfig) -> Api {
        let shop = WooSim::start(cfg).await.expect("start");
        let (key, secret) = shop.credentials();
        Api { shop, key, secret }
    }
    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.shop.url())
    }
    async fn get(&self, path: &str) -> Resp {
        call(
            reqwest::Method::GET,
            &self.url(path),
            Some((&self.key, &self.secret)),
            None,
        )
        .await
    }
    async fn post(&self, path: &str, body: Value) -> Resp {
        call(
            reqwest::Method::POST,
            &self.url(path),
            Some((&self.key, &self.secret)),
            Some(&body),
        )
        .await
    }
    async fn put(&self, path: &str, body: Value) -> Resp {
        call(
            reqwest::Method::PUT,
            &self.url(path),
            Some((&self.key, &self.secret)),
            Some(&body),
        )
        .await
    }
}

fn product_body(sku: &str, price: &str, stock: i64) -> Value {
    json!({"name": format!("محصول {sku}"), "sku": sku, "regular_price": price, "manage_stock": true, "stock_quantity": stock})
}

// ---------------------------------------------------------------- receiver

#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

type Inbox = (Arc<Mutex<Vec<Received>>>, Arc<AtomicU16>);

#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    url: String,
}

impl Receiver {
    async fn start(status: u16) -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(status));
        async fn hook(
            State((got, status)): State<Inbox>,
            headers: HeaderMap,
            body: Bytes,
        ) -> StatusCode {
            got.lock().expect("lock").push(Received {
                headers,
                body: body.to_vec(),
            });
            StatusCode::from_u16(status.load(Ordering::SeqCst)).expect("status")
        }
        let app = Router::new()
            .fallback(hook)
            .with_state((got.clone(), status.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            got,
            status,
            url: format!("http://{addr}/hooks/woo"),
        }
    }
    fn all(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }
    /// Event deliveries (not pings).
    fn events(&self) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.headers.contains_key("x-wc-webhook-topic"))
            .collect()
    }
}

fn h(r: &Received, name: &str) -> String {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Independent HMAC-SHA256 + base64 over the raw body.
fn expected_signature(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn create_webhook(api: &Api, topic: &str, url: &str, secret: &str) -> Value {
    let r = api
        .post(
            "webhooks",
            json!({"name": topic, "topic": topic, "delivery_url": url, "secret": secret}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

// ------------------------------------------------------------------- tests

#[tokio::test]
async fn auth_errors_use_woocommerce_codes_and_body_shape() {
    let api = Api::new().await;
    api.shop.add_api_key(ApiKey::read_only("ck_ro", "cs_ro"));
    let url = api.url("orders");

    // No credentials: the permission callback refuses.
    let r = call(reqwest::Method::GET, &url, None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.", "data": {"status": 401}})
    );
    let r = call(reqwest::Method::POST, &url, None, Some(&json!({}))).await;
    assert_eq!(r.body["code"], "woocommerce_rest_cannot_create");

    // Right key, wrong secret.
    let r = call(reqwest::Method::GET, &url, Some(("ck_test", "nope")), None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"code": "woocommerce_rest_authentication_error", "message": "Consumer secret is invalid.", "data": {"status": 401}})
    );
    // Unknown key: no user, so the request is anonymous.
    let r = call(reqwest::Method::GET, &url, Some(("ck_unknown", "cs")), None).await;
    assert_eq!(r.body["code"], "woocommerce_rest_cannot_view");

    // Query-string keys.
    let r = call(
        reqwest::Method::GET,
        &format!("{url}?consumer_key=ck_test&consumer_secret=cs_test"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200);

    // Read-only key: reads fine, writes refused.
    let r = call(reqwest::Method::GET, &url, Some(("ck_ro", "cs_ro")), None).await;
    assert_eq!(r.status, 200);
    let r = call(
        reqwest::Method::POST,
        &url,
        Some(("ck_ro", "cs_ro")),
        Some(&json!({})),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"code": "woocommerce_rest_authentication_error", "message": "The API key provided does not have write permissions.", "data": {"status": 401}})
    );

    // Unknown route and unknown id.
    let r = api.get("nothing-here").await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("rest_no_route"))
    );
    let r = api.get("orders/424242").await;
    assert_eq!(
        r.body,
        json!({"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 404}})
    );
    let r = api.get("products/424242").await;
    assert_eq!(r.body["code"], "woocommerce_rest_product_invalid_id");
    let r = api.get("customers/424242").await;
    assert_eq!(r.body["code"], "woocommerce_rest_invalid_id");

    // A plain-HTTP site ignores Basic auth (OAuth only).
    let plain = Api::with(SimConfig::default().plain_http()).await;
    let r = plain.get("orders").await;
    assert_eq!(r.body["code"], "woocommerce_rest_cannot_view");
    assert_eq!(api.shop.stats().unauthorized, 5);
}

#[tokio::test]
async fn pagination_headers_link_and_per_page_limit() {
    let api = Api::new().await;
    let p = api.post("products", product_body("P-1", "1000", 500)).await;
    let pid = p.body["id"].as_u64().expect("id");
    for _ in 0..25 {
        let r = api
            .post(
                "orders",
                json!({"line_items": [{"product_id": pid, "quantity": 1}]}),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let r = api.get("orders?per_page=10&page=2").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-wp-total").as_deref(), Some("25"));
    assert_eq!(r.header("x-wp-totalpages").as_deref(), Some("3"));
    assert_eq!(r.body.as_array().map(Vec::len), Some(10));
    let link = r.header("link").expect("link");
    let site = api.shop.site_url();
    assert_eq!(
        link,
        format!(
            "<{site}/wp-json/wc/v3/orders?per_page=10&page=1>; rel=\"prev\", <{site}/wp-json/wc/v3/orders?per_page=10&page=3>; rel=\"next\""
        )
    );
    let r = api.get("orders?per_page=10&page=3").await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(5));
    assert!(!r.header("link").expect("link").contains("next"));
    let r = api.get("orders").await;
    assert_eq!(
        r.body.as_array().map(Vec::len),
        Some(10),
        "default per_page 10"
    );
    // offset overrides page
    let r = api
        .get("orders?per_page=5&offset=22&orderby=id&order=asc")
        .await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(3));

    let r = api.get("orders?per_page=101").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "rest_invalid_param");
    assert_eq!(r.body["message"], "Invalid parameter(s): per_page");
    assert_eq!(
        r.body["data"]["params"]["per_page"],
        "per_page must be between 1 (inclusive) and 100 (inclusive)"
    );
    assert_eq!(api.get("orders?per_page=0").await.status, 400);
    assert_eq!(api.get("orders?page=0").await.status, 400);
    assert_eq!(api.get("orders?orderby=total").await.status, 400);
    assert_eq!(api.get("orders?per_page=100").await.status, 200);
}

#[tokio::test]
async fn order_shape_money_and_modified_after() {
    let api = Api::with(SimConfig {
        tax_rate: 10.into(),
        ..SimConfig::default()
    })
    .await;
    let shop = &api.shop;
    let tea = shop
        .create_product(NewProduct::new("چای", "TEA", 210_000).stock(10))
        .expect("product");
    let guest = Address::iran("نگار", "صادقی", "کرج", "ABZ")
        .email("negar@example.ir")
        .phone("۰۹۱۲۳۴۵۶۷۸۹")
        .postcode("۳۱۵۸۷۷۷۷۷۱");
    let a = shop
        .place_order(
            NewOrder::guest(guest)
                .line(tea.id, 3)
                .shipping("پست پیشتاز", 45_000),
        )
        .expect("order");
    let c = shop
        .create_customer(NewCustomer::new("علی", "رضایی", "ali@example.ir"))
        .expect("customer");
    let b = shop
        .place_order(NewOrder::registered(c.id).line(tea.id, 1))
        .expect("order");

    let r = api.get(&format!("orders/{}", a.id)).await;
    let o = &r.body;
    assert_eq!(o["currency"], "IRT");
    assert_eq!(o["customer_id"], 0);
    assert_eq!(o["number"], a.id.to_string());
    assert_eq!(o["billing"]["phone"], "۰۹۱۲۳۴۵۶۷۸۹");
    assert_eq!(o["billing"]["postcode"], "۳۱۵۸۷۷۷۷۷۱");
    assert_eq!(o["line_items"][0]["sku"], "TEA");
    assert_eq!(o["line_items"][0]["price"], 210000);
    assert_eq!(o["line_items"][0]["total"], "630000.00");
    assert_eq!(o["line_items"][0]["total_tax"], "63000.00");
    assert_eq!(o["shipping_total"], "45000.00");
    assert_eq!(o["total_tax"], "63000.00");
    assert_eq!(o["total"], "738000.00");
    assert_eq!(o["status"], "pending");
    assert_eq!(o["date_paid"], Value::Null);
    // Raw bytes are written like wp_json_encode: \/ and \uXXXX escapes.
    let raw = String::from_utf8(r.raw.clone()).expect("utf8");
    assert!(raw.contains("\\u06f0\\u06f9"), "Persian digits escaped");
    assert!(raw.contains("https:\\/\\/"));
    let b_json = api.get(&format!("orders/{}", b.id)).await.body;
    assert_eq!(b_json["customer_id"], c.id);

    // Move the clock, change only `a`; modified_after sees only it.
    shop.advance_clock(Duration::from_secs(3600));
    let cut = shop.now() - chrono::Duration::seconds(10);
    shop.mark_paid(a.id, "ZP-1").expect("paid");
    let paid = api.get(&format!("orders/{}", a.id)).await.body;
    assert_eq!(paid["status"], "processing");
    assert!(paid["date_paid_gmt"].is_string());
    assert!(paid["date_modified_gmt"].as_str() > o["date_modified_gmt"].as_str());
    assert_eq!(shop.product(tea.id).expect("p").stock_quantity, Some(7));

    let gmt = cut.format("%Y-%m-%dT%H:%M:%S");
    let r = api
        .get(&format!("orders?modified_after={gmt}&dates_are_gmt=true"))
        .await;
    let ids: Vec<u64> = r
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|o| o["id"].as_u64())
        .collect();
    assert_eq!(ids, vec![a.id]);
    // Site-local wall clock (Tehran, +03:30) without dates_are_gmt.
    let local = (cut + chrono::Duration::minutes(210)).format("%Y-%m-%dT%H:%M:%S");
    let r = api.get(&format!("orders?modified_after={local}")).await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1));
    let r = api
        .get(&format!("orders?modified_before={gmt}&dates_are_gmt=1"))
        .await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1));
    let r = api.get("orders?status=processing").await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1));
    let r = api.get(&format!("orders?customer={}", c.id)).await;
    assert_eq!(r.body[0]["id"], b.id);
    assert_eq!(api.get("orders?modified_after=yesterday").await.status, 400);

    // Refund → order.updated payload has the refund summary.
    let item = shop.order(a.id).expect("o").line_items[0].id;
    let refund = shop
        .refund_order(a.id, NewRefund::lines(&[(item, 1)], "آسیب دیده", true))
        .expect("refund");
    assert_eq!(refund.amount, 231_000.into());
    let after = api.get(&format!("orders/{}", a.id)).await.body;
    assert_eq!(after["refunds"][0]["total"], "-231000.00");
    let listed = api.get(&format!("orders/{}/refunds", a.id)).await.body;
    assert_eq!(listed[0]["amount"], "231000.00");
    assert_eq!(listed[0]["line_items"][0]["quantity"], -1);
    assert_eq!(shop.product(tea.id).expect("p").stock_quantity, Some(8));
    // A REST refund asking the gateway fails for a gateway without refunds.
    let r = api
        .post(
            &format!("orders/{}/refunds", a.id),
            json!({"amount": "1000"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (500, Some("woocommerce_rest_cannot_create_order_refund"))
    );
}

#[tokio::test]
async fn batch_limit_is_100_items_in_total() {
    let api = Api::new().await;
    let creates: Vec<Value> = (0..60)
        .map(|i| product_body(&format!("B-{i}"), "100", 1))
        .collect();
    let updates: Vec<Value> = (0..41)
        .map(|i| json!({"id": 1000 + i, "regular_price": "5"}))
        .collect();
    let r = api
        .post(
            "products/batch",
            json!({"create": creates, "update": updates}),
        )
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(
        r.body,
        json!({"code": "woocommerce_rest_request_entity_too_large", "message": "Unable to accept more than 100 items for this request.", "data": {"status": 413}})
    );
    assert!(api.shop.products().is_empty());
    let r = api
        .post(
            "products/batch",
            json!({"create": creates[..2], "update": [{"id": 999999, "regular_price": "5"}]}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["create"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        r.body["update"][0]["error"]["code"],
        "woocommerce_rest_product_invalid_id"
    );
    let id = r.body["create"][0]["id"].as_u64().expect("id");
    let r = api
        .post(
            "products/batch",
            json!({"update": [{"id": id, "stock_quantity": 42, "regular_price": "150000"}]}),
        )
        .await;
    assert_eq!(r.body["update"][0]["stock_quantity"], 42);
    assert_eq!(r.body["update"][0]["price"], "150000");
    let orders: Vec<Value> = (0..101).map(|_| json!({})).collect();
    assert_eq!(
        api.post("orders/batch", json!({"create": orders}))
            .await
            .status,
        413
    );
}

#[tokio::test]
async fn webhook_ping_signature_headers_and_payload() {
    let api = Api::new().await;
    let rx = Receiver::start(200).await;
    let w = create_webhook(&api, "order.created", &rx.url, "s3cr3t/ü").await;
    let wid = w["id"].as_u64().expect("id");
    assert_eq!(w["status"], "active");
    assert_eq!(w["secret"], "s3cr3t/ü");
    assert_eq!(w["hooks"], json!(["woocommerce_new_order"]));

    // The creation ping was sent before the response: form body, no signature.
    let all = rx.all();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].body, format!("webhook_id={wid}").into_bytes());
    assert!(h(&all[0], "content-type").starts_with("application/x-www-form-urlencoded"));
    assert!(h(&all[0], "user-agent").starts_with("WooCommerce/"));
    assert!(!all[0].headers.contains_key("x-wc-webhook-signature"));
    assert!(!api.shop.webhook(wid).expect("w").pending_delivery);
    // GET hides the secret (view context).
    let g = api.get(&format!("webhooks/{wid}")).await.body;
    assert!(g.get("secret").is_none());

    let p = api.post("products", product_body("W-1", "99000", 5)).await;
    let o = api
        .post("orders", json!({"billing": {"first_name": "سارا", "phone": "۰۹۱۲"}, "line_items": [{"product_id": p.body["id"], "quantity": 2}]}))
        .await;
    let oid = o.body["id"].as_u64().expect("id");
    api.shop
        .wait_for_deliveries(1, WAIT)
        .await
        .expect("delivery");
    api.shop.wait_idle(WAIT).await.expect("idle");
    let ev = rx.events();
    assert_eq!(ev.len(), 1);
    let d = &ev[0];
    assert_eq!(
        h(d, "x-wc-webhook-signature"),
        expected_signature(&d.body, "s3cr3t/ü")
    );
    assert_ne!(
        h(d, "x-wc-webhook-signature"),
        expected_signature(&d.body, "other")
    );
    assert_eq!(h(d, "x-wc-webhook-topic"), "order.created");
    assert_eq!(h(d, "x-wc-webhook-resource"), "order");
    assert_eq!(h(d, "x-wc-webhook-event"), "created");
    assert_eq!(h(d, "x-wc-webhook-id"), wid.to_string());
    assert_eq!(
        h(d, "x-wc-webhook-source"),
        format!("{}/", api.shop.site_url())
    );
    assert_eq!(h(d, "content-type"), "application/json");
    assert!(!h(d, "x-wc-webhook-delivery-id").is_empty());
    let ua = h(d, "user-agent");
    assert!(
        ua.starts_with("WooCommerce/") && ua.contains(" Hookshot (WordPress/"),
        "{ua}"
    );
    // Body = the REST GET payload, byte for byte.
    let get = api.get(&format!("orders/{oid}")).await;
    assert_eq!(d.body, get.raw);
    // Recorded on the handle too.
    let rec = api.shop.event_deliveries();
    assert_eq!(rec[0].status, Some(200));
    assert!(rec[0].success);
    assert_eq!(rec[0].topic, "order.created");
    assert_eq!(rec[0].url, rx.url);

    // Deleted → {"id":N}; refunds and updates → order.updated.
    create_webhook(&api, "order.deleted", &rx.url, "k").await;
    let r = call(
        reqwest::Method::DELETE,
        &api.url(&format!("orders/{oid}")),
        Some((&api.key, &api.secret)),
        None,
    )
    .await;
    assert_eq!(r.body["status"], "trash");
    api.shop
        .wait_for_deliveries(2, WAIT)
        .await
        .expect("delivery");
    let ev = rx.events();
    assert_eq!(ev[1].body, format!("{{\"id\":{oid}}}").into_bytes());
    assert_eq!(
        h(&ev[1], "x-wc-webhook-signature"),
        expected_signature(&ev[1].body, "k")
    );

    // A ping that does not get 200 leaves the webhook pending but active.
    rx.status.store(404, Ordering::SeqCst);
    let w2 = create_webhook(&api, "customer.created", &rx.url, "c").await;
    let hook = api.shop.webhook(w2["id"].as_u64().expect("id")).expect("w");
    assert!(hook.pending_delivery);
    assert_eq!(hook.status, "active");
    assert_eq!(api.shop.stats().pings, 3);
}

#[tokio::test]
async fn failures_are_counted_not_retried_and_disable_the_webhook() {
    let api = Api::new().await;
    let rx = Receiver::start(500).await;
    let hook = api
        .shop
        .add_webhook("order.created", &rx.url, "sec")
        .expect("hook");
    let p = api.post("products", product_body("F-1", "1000", 100)).await;
    let line = json!({"line_items": [{"product_id": p.body["id"], "quantity": 1}]});
    for n in 1..=6u32 {
        api.post("orders", line.clone()).await;
        api.shop
            .wait_for_deliveries(n as usize, WAIT)
            .await
            .expect("delivery");
        api.shop.wait_idle(WAIT).await.expect("idle");
        let w = api.shop.webhook(hook.id).expect("w");
        assert_eq!(w.failure_count, n);
        assert_eq!(w.status, "active", "still active after {n} failures");
    }
    // The 7th consecutive failure (more than 5 counted) disables it.
    api.post("orders", line.clone()).await;
    api.shop
        .wait_for_deliveries(7, WAIT)
        .await
        .expect("delivery");
    api.shop.wait_idle(WAIT).await.expect("idle");
    let w = api.shop.webhook(hook.id).expect("w");
    assert_eq!(w.status, "disabled");
    let listed = api.get(&format!("webhooks/{}", hook.id)).await.body;
    assert_eq!(listed["status"], "disabled");
    // Disabled: nothing more is sent; and nothing was ever retried.
    api.post("orders", line.clone()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    api.shop.wait_idle(WAIT).await.expect("idle");
    let ev = rx.events();
    assert_eq!(ev.len(), 7);
    let mut ids: Vec<u64> = ev
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).expect("json")["id"]
                .as_u64()
                .expect("id")
        })
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 7, "one attempt per order");
    assert_eq!(api.shop.stats().delivery_failures, 7);
    assert_eq!(api.shop.stats().webhooks_disabled, 1);

    // Re-enabled over REST; a success resets the count.
    let r = api
        .put(
            &format!("webhooks/{}", hook.id),
            json!({"status": "active"}),
        )
        .await;
    assert_eq!(r.body["status"], "active");
    rx.status.store(200, Ordering::SeqCst);
    api.post("orders", line.clone()).await;
    api.shop
        .wait_for_deliveries(8, WAIT)
        .await
        .expect("delivery");
    api.shop.wait_idle(WAIT).await.expect("idle");
    assert_eq!(api.shop.webhook(hook.id).expect("w").failure_count, 0);
    let r = api
        .put(
            &format!("webhooks/{}", hook.id),
            json!({"status": "sleeping"}),
        )
        .await;
    assert_eq!(r.body["code"], "woocommerce_rest_webhook_invalid_status");
}

#[tokio::test]
async fn timeouts_and_unreachable_receivers_count_as_failures() {
    let api = Api::new().await;
    api.shop.set_webhook_timeout(Duration::from_millis(200));
    // A listener that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = silent.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let hook = api
        .shop
        .add_webhook("product.updated", &format!("http://{addr}/slow"), "x")
        .expect("hook");
    let p = api.post("products", product_body("T-1", "1000", 3)).await;
    api.put(
        &format!("products/{}", p.body["id"]),
        json!({"stock_quantity": 9}),
    )
    .await;
    let d = api
        .shop
        .wait_for_deliveries(1, WAIT)
        .await
        .expect("delivery");
    assert!(!d[0].success);
    assert!(d[0].status.is_none() && d[0].error.is_some());
    assert_eq!(api.shop.webhook(hook.id).expect("w").failure_count, 1);
}

#[tokio::test]
async fn knobs_duplicates_created_then_updated_and_missing_line_items() {
    let api = Api::new().await;
    let shop = &api.shop;
    let rx = Receiver::start(200).await;
    shop.add_webhook("order.created", &rx.url, "a")
        .expect("hook");
    shop.add_webhook("order.updated", &rx.url, "a")
        .expect("hook");
    let p = shop
        .create_product(NewProduct::new("گز", "GAZ", 640_000).stock(50))
        .expect("p");
    let g = Address::iran("رضا", "نوری", "رشت", "GIL").phone("۰۹۳۸");

    // Duplicates: every delivery twice, identical bodies.
    shop.duplicate_deliveries(true);
    let o = shop
        .place_order(NewOrder::guest(g.clone()).line(p.id, 1))
        .expect("o");
    shop.wait_for_deliveries(2, WAIT).await.expect("d");
    shop.wait_idle(WAIT).await.expect("idle");
    let ev = rx.events();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].body, ev[1].body);
    assert_ne!(h(&ev[0], "x-wc-webhook-delivery-id"), "");
    assert!(
        ev.iter()
            .all(|e| h(e, "x-wc-webhook-topic") == "order.created")
    );
    let _ = o;
    shop.duplicate_deliveries(false);

    // created followed by an identical updated.
    shop.created_then_identical_updated(true);
    shop.place_order(NewOrder::guest(g.clone()).line(p.id, 2))
        .expect("o");
    shop.wait_for_deliveries(4, WAIT).await.expect("d");
    shop.wait_idle(WAIT).await.expect("idle");
    let ev = rx.events();
    assert_eq!(h(&ev[2], "x-wc-webhook-topic"), "order.created");
    assert_eq!(h(&ev[3], "x-wc-webhook-topic"), "order.updated");
    assert_eq!(ev[2].body, ev[3].body);
    shop.created_then_identical_updated(false);

    // Webhook payloads without line items; REST still has them.
    shop.omit_line_items_in_webhooks(true);
    let o = shop
        .place_order(NewOrder::guest(g.clone()).line(p.id, 1))
        .expect("o");
    shop.wait_for_deliveries(5, WAIT).await.expect("d");
    let last: Value = serde_json::from_slice(&rx.events()[4].body).expect("json");
    assert_eq!(last["line_items"], json!([]));
    assert_eq!(
        api.get(&format!("orders/{}", o.id)).await.body["line_items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    shop.omit_line_items_in_webhooks(false);

    // Paused sender: queued jobs for the same order coalesce (Action
    // Scheduler keeps one pending job per webhook and resource); the body is
    // built when the job runs, so it shows the latest state.
    shop.pause_sender();
    shop.mark_paid(o.id, "T-1").expect("paid");
    shop.complete_order(o.id).expect("done");
    assert_eq!(shop.pending_deliveries(), 1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rx.events().len(), 5);
    shop.resume_sender();
    shop.wait_for_deliveries(6, WAIT).await.expect("d");
    let last: Value = serde_json::from_slice(&rx.events()[5].body).expect("json");
    assert_eq!(last["status"], "completed");
    assert!(last["date_paid"].is_string());

    // bacs checkout: created + updated in one request; a checkout draft
    // fires order.created too (woocommerce#37958).
    shop.wait_idle(WAIT).await.expect("idle");
    shop.place_order(NewOrder::guest(g.clone()).line(p.id, 1).payment("bacs"))
        .expect("o");
    let d = shop
        .checkout_draft(NewOrder::guest(g).line(p.id, 1))
        .expect("draft");
    assert_eq!(d.status, "checkout-draft");
    shop.wait_for_deliveries(9, WAIT).await.expect("d");
    shop.wait_idle(WAIT).await.expect("idle");
    let topics: Vec<String> = rx.events()[6..]
        .iter()
        .map(|e| h(e, "x-wc-webhook-topic"))
        .collect();
    assert_eq!(
        topics,
        vec!["order.created", "order.updated", "order.created"]
    );
    let draft: Value = serde_json::from_slice(&rx.events()[8].body).expect("json");
    assert_eq!(draft["status"], "checkout-draft");
    assert_eq!(draft["created_via"], "store-api");
}

#[tokio::test]
async fn customers_and_products_over_rest_fire_their_topics() {
    let api = Api::new().await;
    let rx = Receiver::start(200).await;
    for t in ["customer.created", "customer.updated", "product.updated"] {
        api.shop.add_webhook(t, &rx.url, "z").expect("hook");
    }
    let c = api
        .post("customers", json!({"email": "zahra@example.ir", "first_name": "زهرا", "billing": {"phone": "۰۹۱۷"}}))
        .await;
    assert_eq!(c.status, 201);
    assert_eq!(c.body["role"], "customer");
    assert_eq!(c.body["username"], "zahra");
    let dup = api
        .post("customers", json!({"email": "zahra@example.ir"}))
        .await;
    assert_eq!(dup.body["code"], "registration-error-email-exists");
    let id = c.body["id"].as_u64().expect("id");
    let u = api
        .put(&format!("customers/{id}"), json!({"last_name": "محمدی"}))
        .await;
    assert_eq!(u.body["last_name"], "محمدی");
    let p = api.post("products", product_body("C-1", "5000", 4)).await;
    let dup = api.post("products", product_body("C-1", "5000", 4)).await;
    assert_eq!(dup.body["code"], "product_invalid_sku");
    let pid = p.body["id"].as_u64().expect("id");
    let u = api
        .put(&format!("products/{pid}"), json!({"sale_price": "4500"}))
        .await;
    assert_eq!(
        (u.body["price"].as_str(), u.body["on_sale"].as_bool()),
        (Some("4500"), Some(true))
    );
    api.shop.wait_for_deliveries(3, WAIT).await.expect("d");
    api.shop.wait_idle(WAIT).await.expect("idle");
    let topics: Vec<String> = rx
        .events()
        .iter()
        .map(|e| h(e, "x-wc-webhook-topic"))
        .collect();
    assert_eq!(
        topics,
        vec!["customer.created", "customer.updated", "product.updated"]
    );
    let by_email = api.get("customers?email=zahra@example.ir").await;
    assert_eq!(by_email.body[0]["id"], id);
    let by_sku = api.get("products?sku=C-1").await;
    assert_eq!(by_sku.body[0]["id"], pid);
}
