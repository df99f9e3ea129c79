//! The webhook sender: one background task that runs queued deliveries in
//! order, like Action Scheduler running `woocommerce_deliver_webhook_async`
//! jobs, and `WC_Webhook::deliver` / `log_delivery` / `failed_delivery` /
//! `deliver_ping`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Shared;
use crate::json::php_json;
use crate::store::Job;

/// One HTTP attempt by the sender (an event delivery or a creation ping).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Order of attempts, from 1.
    pub seq: u64,
    /// Webhook id.
    pub webhook_id: u64,
    /// True for the creation ping (`webhook_id=N` form body).
    pub ping: bool,
    /// Delivery URL.
    pub url: String,
    /// Topic (`""` for pings).
    pub topic: String,
    /// Resource id the delivery is about (0 for pings).
    pub resource_id: u64,
    /// `X-WC-Webhook-Delivery-ID` (empty for pings).
    pub delivery_id: String,
    /// Exact body bytes sent.
    pub body: Vec<u8>,
    /// `X-WC-Webhook-Signature` (empty for pings).
    pub signature: String,
    /// HTTP status answered, if any.
    pub status: Option<u16>,
    /// Transport error (timeout, refused…), if any.
    pub error: Option<String>,
    /// 2xx, 301 or 302 (`200 <= code < 303`).
    pub success: bool,
    /// When the attempt started.
    pub attempted_at: DateTime<Utc>,
    /// How long it took.
    pub duration: Duration,
}

impl Delivery {
    /// The body as JSON (Null for pings).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// `base64(HMAC-SHA256(body, secret))`.
pub fn signature(body: &[u8], secret: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac accepts any key");
    m.update(body);
    STANDARD.encode(m.finalize().into_bytes())
}

fn user_agent(sh: &Shared) -> String {
    format!(
        "WooCommerce/{} Hookshot (WordPress/{})",
        sh.cfg.wc_version, sh.cfg.wp_version
    )
}

pub(crate) async fn run(sh: Arc<Shared>) {
    loop {
        let job = {
            let mut db = sh.db();
            if db.knobs.paused {
                None
            } else {
                db.queue.pop_front()
            }
        };
        match job {
            Some(job) => deliver(&sh, job).await,
            None => {
                tokio::select! {
                    _ = sh.notify.notified() => {}
                    _ = sh.wait_shutdown() => return,
                }
            }
        }
    }
}

async fn deliver(sh: &Arc<Shared>, job: Job) {
    // Built when the job runs, like `WC_Webhook::build_payload`.
    let prepared = {
        let db = sh.db();
        db.webhooks.get(&job.webhook_id).cloned().map(|w| {
            let payload = if w.event() == "deleted" {
                json!({"id": job.resource_id})
            } else {
                let mut p = sh.render(&db, w.resource(), job.resource_id);
                if db.knobs.omit_line_items
                    && w.resource() == "order"
                    && p.get("line_items").is_some()
                {
                    p["line_items"] = json!([]);
                }
                p
            };
            (w, payload)
        })
    };
    let Some((w, payload)) = prepared else {
        return;
    };
    let body = php_json(&payload);
    let sig = signature(&body, &w.secret);
    let started = Utc::now();
    let delivery_id = hex::encode(
        &Sha256::digest(
            format!(
                "{}{}",
                w.id,
                started.timestamp_nanos_opt().unwrap_or_default()
            )
            .as_bytes(),
        )[..16],
    );
    let timeout = *sh.webhook_timeout.lock().expect("timeout lock");
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build();
    let t0 = Instant::now();
    let result = match client {
        Ok(c) => c
            .post(&w.delivery_url)
            .header("Content-Type", "application/json")
            .header("User-Agent", user_agent(sh))
            .header("X-WC-Webhook-Source", format!("{}/", sh.site()))
            .header("X-WC-Webhook-Topic", &w.topic)
            .header("X-WC-Webhook-Resource", w.resource())
            .header("X-WC-Webhook-Event", w.event())
            .header("X-WC-Webhook-Signature", &sig)
            .header("X-WC-Webhook-ID", w.id.to_string())
            .header("X-WC-Webhook-Delivery-ID", &delivery_id)
            .body(body.clone())
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let duration = t0.elapsed();
    let (status, error) = match result {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    let success = status.is_some_and(|s| (200..303).contains(&s));
    {
        let mut db = sh.db();
        if let Some(hook) = db.webhooks.get_mut(&w.id) {
            if success {
                hook.failure_count = 0;
            } else if hook.failure_count > sh.cfg.max_delivery_failures {
                hook.status = "disabled".into();
                sh.bump(|s| s.webhooks_disabled += 1);
            } else {
                hook.failure_count += 1;
            }
        }
    }
    sh.bump(|s| {
        s.deliveries += 1;
        if !success {
            s.delivery_failures += 1;
        }
    });
    sh.record_delivery(Delivery {
        seq: 0,
        webhook_id: w.id,
        ping: false,
        url: w.delivery_url.clone(),
        topic: w.topic.clone(),
        resource_id: job.resource_id,
        delivery_id,
        body,
        signature: sig,
        status,
        error,
        success,
        attempted_at: started,
        duration,
    });
}

/// `WC_Webhook::deliver_ping`: POST `webhook_id=N`; only a 200 clears
/// `pending_delivery`. Returns the status (None on transport error).
pub(crate) async fn ping(sh: &Arc<Shared>, webhook_id: u64) -> Option<u16> {
    let url = sh.db().webhooks.get(&webhook_id)?.delivery_url.clone();
    let body = format!("webhook_id={webhook_id}").into_bytes();
    let started = Utc::now();
    let t0 = Instant::now();
    let result = match reqwest::Client::builder()
        .timeout(sh.cfg.ping_timeout)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
    {
        Ok(c) => c
            .post(&url)
            .header(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=UTF-8",
            )
            .header("User-Agent", user_agent(sh))
            .body(body.clone())
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let (status, error) = match result {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    if status == Some(200)
        && let Some(w) = sh.db().webhooks.get_mut(&webhook_id)
    {
        w.pending_delivery = false;
    }
    sh.bump(|s| s.pings += 1);
    sh.record_delivery(Delivery {
        seq: 0,
        webhook_id,
        ping: true,
        url,
        topic: String::new(),
        resource_id: 0,
        delivery_id: String::new(),
        body,
        signature: String::new(),
        status,
        error,
        success: status == Some(200),
        attempted_at: started,
        duration: t0.elapsed(),
    });
    status
}
