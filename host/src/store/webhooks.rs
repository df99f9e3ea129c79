//! The durable queue of inbound webhook deliveries: each delivery a
//! connector accepted is written here before its sender gets the 200, and
//! the queue worker takes it from here. Processing marks it `done` in the
//! same transaction that applies its changes.

use super::{Db, Tx};
use crate::crm::kinds::DeliveryStatus;

/// Result of a queue call.
pub type Result<T> = std::result::Result<T, sqlx::Error>;

/// One stored delivery.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Queue id.
    pub id: i64,
    /// Tenant.
    pub tenant: String,
    /// Connector instance it was addressed to.
    pub instance: String,
    /// RFC 3339 UTC.
    pub received_at: String,
    /// The request headers, as received (JSON array of `[name, value]`).
    #[serde(skip)]
    pub headers: String,
    /// The raw body, byte for byte (signatures are over these bytes).
    #[serde(skip)]
    pub body: Vec<u8>,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Processing attempts so far.
    pub attempts: i32,
    /// Not before (pending rows that failed transiently).
    pub next_attempt_at: Option<String>,
    /// What it came to, or why it failed.
    pub outcome: Option<String>,
    /// When it was processed.
    pub processed_at: Option<String>,
}

impl Delivery {
    /// The stored headers as pairs.
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        serde_json::from_str(&self.headers).unwrap_or_default()
    }
}

const COLS: &str = "id, tenant, instance, received_at, headers, body, status, attempts, next_attempt_at, outcome, processed_at";

/// Store an accepted delivery; returns its queue id.
pub async fn enqueue(
    db: &Db,
    tenant: &str,
    instance: &str,
    headers: &[(String, String)],
    body: &[u8],
    at: &str,
) -> Result<i64> {
    let headers = serde_json::to_string(headers).unwrap_or_else(|_| "[]".into());
    on_pool!(db, p => sqlx::query_scalar("INSERT INTO webhook_deliveries (tenant, instance, received_at, headers, body) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(tenant).bind(instance).bind(at).bind(&headers).bind(body)
        .fetch_one(p).await)
}

/// Pending deliveries that are due, oldest first (every tenant).
pub async fn due(db: &Db, now: &str, limit: u32) -> Result<Vec<Delivery>> {
    let sql = format!(
        "SELECT {COLS} FROM webhook_deliveries WHERE status = $2 \
         AND (next_attempt_at IS NULL OR next_attempt_at <= $1) ORDER BY id LIMIT {limit}"
    );
    on_pool!(db, p => sqlx::query_as(&sql).bind(now).bind(DeliveryStatus::Pending).fetch_all(p).await)
}

/// One delivery, if it is still pending (read again under the instance's
/// lock, so two workers never process it twice).
pub async fn pending(tx: &mut Tx, id: i64) -> Result<Option<Delivery>> {
    let sql = format!("SELECT {COLS} FROM webhook_deliveries WHERE id = $1 AND status = $2");
    on_tx!(tx, c => sqlx::query_as(&sql).bind(id).bind(DeliveryStatus::Pending).fetch_optional(&mut *c).await)
}

/// Deliveries of a tenant, newest first, optionally of one status.
pub async fn list(
    db: &Db,
    tenant: &str,
    status: Option<DeliveryStatus>,
    limit: u32,
) -> Result<Vec<Delivery>> {
    let sql = format!(
        "SELECT {COLS} FROM webhook_deliveries WHERE tenant = $1 AND ($2 IS NULL OR status = $2) \
         ORDER BY id DESC LIMIT {limit}"
    );
    on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(status).fetch_all(p).await)
}

/// How processing a delivery ended.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// Pending (again later), done or failed.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: i32,
    /// Not before, for `pending`.
    pub next_attempt_at: Option<&'a str>,
    /// What it came to, or why it failed.
    pub outcome: &'a str,
}

/// Record how processing delivery `id` ended, in the transaction that
/// applied its changes (for `done`).
pub async fn finish(tx: &mut Tx, id: i64, o: Outcome<'_>, at: &str) -> Result<()> {
    on_tx!(tx, c => sqlx::query("UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, outcome = $4, processed_at = $5 WHERE id = $6")
        .bind(o.status).bind(o.attempts).bind(o.next_attempt_at).bind(o.outcome).bind(at).bind(id)
        .execute(&mut *c).await.map(|_| ()))
}

/// Put a failed delivery back in the queue (F2: someone fixed the cause).
/// Returns false when the tenant has no failed delivery `id`.
pub async fn retry(db: &Db, tenant: &str, id: i64) -> Result<bool> {
    let done = on_pool!(db, p => sqlx::query("UPDATE webhook_deliveries SET status = $3, attempts = 0, next_attempt_at = NULL WHERE tenant = $1 AND id = $2 AND status = $4")
        .bind(tenant).bind(id).bind(DeliveryStatus::Pending).bind(DeliveryStatus::Failed)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}
