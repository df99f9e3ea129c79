//! The event log (`events`) and where each subscriber stands in it
//! (`event_cursors`, `event_failures`), S20 and C6.
//!
//! Writers append in the transaction of their change ([`append_in_op`]:
//! the journal for every CRM change, the sync engine for a record's sync
//! outcome, [`append`] for what a module emits). [`sequence`] gives
//! committed events their delivery order; the dispatcher (`crate::events`)
//! reads each subscriber's events after its cursor and keeps here what it
//! could not deliver.

mod entity;

pub use entity::{Event, Holdup, NewEvent, subject};

use super::sql::{Arg, CHUNK, bind_args, insert_placeholders, now};
use super::{Db, Tx};
use crate::crm::kinds::EventHold;

/// Result of an event-log call.
pub type Result<T> = std::result::Result<T, sqlx::Error>;

/// Append events in the caller's transaction (multi-row INSERTs).
pub async fn append_in_op(tx: &mut Tx, events: &[NewEvent]) -> Result<()> {
    let at = now();
    for chunk in events.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO events (tenant, name, subject, actor, payload, at) VALUES {}",
            insert_placeholders(tx, chunk.len(), 6)
        );
        let mut args = Vec::with_capacity(chunk.len() * 6);
        for e in chunk {
            args.extend([
                Arg::Text(e.tenant.clone()),
                Arg::Text(e.name.clone()),
                Arg::Text(e.subject.clone()),
                Arg::Text(e.actor.clone()),
                Arg::Text(e.payload.clone()),
                Arg::Text(at.clone()),
            ]);
        }
        on_tx!(tx, c => bind_args!(sqlx::query(&sql), &args).execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// Append one event in its own transaction (a module's `emit`).
pub async fn append(db: &Db, event: &NewEvent) -> Result<()> {
    let mut tx = db.begin().await?;
    append_in_op(&mut tx, std::slice::from_ref(event)).await?;
    tx.commit().await?;
    Ok(())
}

/// Give up to `limit` committed events without a delivery order the next
/// places, in id order; returns how many. One sequencer runs at a time
/// (SQLite's write lock; an advisory lock on PostgreSQL), and it only sees
/// committed rows, so no event is ever given a place before one that
/// already has its place: a cursor over `seq` never steps past an event
/// that turns up later.
pub async fn sequence(db: &Db, limit: u32) -> Result<u64> {
    const SQL: &str = "UPDATE events SET seq = b.base + r.n \
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM \
              (SELECT id FROM events WHERE seq IS NULL ORDER BY id LIMIT $1) AS todo) AS r, \
             (SELECT COALESCE(MAX(seq), 0) AS base FROM events) AS b \
        WHERE events.id = r.id";
    let mut tx = db.begin().await?;
    let placed = on_tx!(&mut tx, c => {
        if let Db::Postgres(_) = db {
            // The key is arbitrary; it names "the event sequencer".
            sqlx::query("SELECT pg_advisory_xact_lock(7215020001)")
                .execute(&mut *c)
                .await?;
        }
        sqlx::query(SQL).bind(i64::from(limit)).execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok(placed)
}

/// The last place given so far (0 for an empty log).
pub async fn head(db: &Db) -> Result<i64> {
    let head: Option<i64> = on_pool!(db, p => sqlx::query_scalar("SELECT MAX(seq) FROM events")
        .fetch_one(p).await)?;
    Ok(head.unwrap_or(0))
}

/// A tenant's events after place `after`, in delivery order.
pub async fn after(db: &Db, tenant: &str, after: i64, limit: u32) -> Result<Vec<Event>> {
    let sql = "SELECT id, seq, name, subject, actor, payload, at FROM events \
               WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3";
    Ok(on_pool!(db, p => sqlx::query_as(sql)
        .bind(tenant).bind(after).bind(i64::from(limit)).fetch_all(p).await)?)
}

/// One event of a tenant by id, if it has its place.
pub async fn event(db: &Db, tenant: &str, id: i64) -> Result<Option<Event>> {
    let sql = "SELECT id, seq, name, subject, actor, payload, at FROM events \
               WHERE tenant = $1 AND id = $2 AND seq IS NOT NULL";
    Ok(on_pool!(db, p => sqlx::query_as(sql)
        .bind(tenant).bind(id).fetch_optional(p).await)?)
}

/// Where a subscriber stands; one that has none starts at `start`.
pub async fn cursor(db: &Db, tenant: &str, subscriber: &str, start: i64) -> Result<i64> {
    let insert = "INSERT INTO event_cursors (tenant, subscriber, position, updated_at) \
                  VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, subscriber) DO NOTHING";
    let read = "SELECT position FROM event_cursors WHERE tenant = $1 AND subscriber = $2";
    on_pool!(db, p => sqlx::query(insert)
        .bind(tenant).bind(subscriber).bind(start).bind(now())
        .execute(p).await.map(|_| ()))?;
    Ok(on_pool!(db, p => sqlx::query_scalar(read)
        .bind(tenant).bind(subscriber).fetch_one(p).await)?)
}

/// Move a subscriber's cursor forward to `position`.
pub async fn advance(db: &Db, tenant: &str, subscriber: &str, position: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    advance_in_op(&mut tx, tenant, subscriber, position).await?;
    tx.commit().await?;
    Ok(())
}

async fn advance_in_op(tx: &mut Tx, tenant: &str, subscriber: &str, position: i64) -> Result<()> {
    let sql = "UPDATE event_cursors SET position = $1, updated_at = $2 \
               WHERE tenant = $3 AND subscriber = $4 AND position < $1";
    on_tx!(tx, c => sqlx::query(sql)
        .bind(position).bind(now()).bind(tenant).bind(subscriber)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// What to keep of an event a subscriber did not take.
#[derive(Debug, Clone, Copy)]
pub struct Hold<'a> {
    /// Why it waits.
    pub status: EventHold,
    /// Deliveries tried so far.
    pub attempts: i32,
    /// The next try (retrying).
    pub next_attempt_at: Option<&'a str>,
    /// The module's answer.
    pub error: Option<&'a str>,
}

/// Keep an event the subscriber did not take and move its cursor past it,
/// in one transaction: the event waits in `event_failures` from then on.
pub async fn hold(
    db: &Db,
    tenant: &str,
    subscriber: &str,
    event: &Event,
    hold: Hold<'_>,
) -> Result<()> {
    let sql = "INSERT INTO event_failures (tenant, subscriber, event_id, seq, subject, status, \
               attempts, next_attempt_at, last_error, updated_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
               ON CONFLICT (tenant, subscriber, event_id) DO NOTHING";
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(sql)
        .bind(tenant).bind(subscriber).bind(event.id).bind(event.seq).bind(&event.subject)
        .bind(hold.status).bind(hold.attempts).bind(hold.next_attempt_at).bind(hold.error).bind(now())
        .execute(&mut *c).await.map(|_| ()))?;
    advance_in_op(&mut tx, tenant, subscriber, event.seq).await?;
    tx.commit().await?;
    Ok(())
}

/// The subjects a subscriber has events waiting for: their later events
/// wait behind them.
pub async fn waiting_subjects(
    db: &Db,
    tenant: &str,
    subscriber: &str,
) -> Result<std::collections::HashSet<String>> {
    let sql = "SELECT DISTINCT subject FROM event_failures WHERE tenant = $1 AND subscriber = $2";
    let rows: Vec<String> = on_pool!(db, p => sqlx::query_scalar(sql)
        .bind(tenant).bind(subscriber).fetch_all(p).await)?;
    Ok(rows.into_iter().collect())
}

/// A subscriber's events due for another try at `at`, in log order.
pub async fn due(
    db: &Db,
    tenant: &str,
    subscriber: &str,
    at: &str,
    limit: u32,
) -> Result<Vec<(Event, i32)>> {
    let sql = "SELECT e.id, e.seq, e.name, e.subject, e.actor, e.payload, e.at, f.attempts \
               FROM event_failures f JOIN events e ON e.id = f.event_id \
               WHERE f.tenant = $1 AND f.subscriber = $2 AND f.status = $3 AND f.next_attempt_at <= $4 \
               ORDER BY f.seq LIMIT $5";
    type Row = (i64, i64, String, String, String, String, String, i32);
    let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(sql)
        .bind(tenant).bind(subscriber).bind(EventHold::Retrying).bind(at).bind(i64::from(limit))
        .fetch_all(p).await)?;
    Ok(rows
        .into_iter()
        .map(|(id, seq, name, subject, actor, payload, at, attempts)| {
            let event = Event {
                id,
                seq,
                name,
                subject,
                actor,
                payload,
                at,
            };
            (event, attempts)
        })
        .collect())
}

/// A waiting event was delivered: forget it, and let the next event of
/// its subject (held behind it) be tried now.
pub async fn delivered(
    db: &Db,
    tenant: &str,
    subscriber: &str,
    event: &Event,
    at: &str,
) -> Result<()> {
    let forget =
        "DELETE FROM event_failures WHERE tenant = $1 AND subscriber = $2 AND event_id = $3";
    let next = "UPDATE event_failures SET status = $1, next_attempt_at = $2, updated_at = $2 \
                WHERE tenant = $3 AND subscriber = $4 AND event_id = \
                (SELECT event_id FROM event_failures WHERE tenant = $3 AND subscriber = $4 \
                 AND subject = $5 AND status = $6 ORDER BY seq LIMIT 1)";
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(forget)
        .bind(tenant).bind(subscriber).bind(event.id)
        .execute(&mut *c).await.map(|_| ()))?;
    // Only when nothing else of the subject still fails before it (a
    // retry through the API of a later event cannot overtake).
    let before: i64 = on_tx!(&mut tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM event_failures WHERE tenant = $1 AND subscriber = $2 AND subject = $3 AND status <> $4")
        .bind(tenant).bind(subscriber).bind(&event.subject).bind(EventHold::Held)
        .fetch_one(&mut *c).await)?;
    if before == 0 {
        on_tx!(&mut tx, c => sqlx::query(next)
            .bind(EventHold::Retrying).bind(at).bind(tenant).bind(subscriber)
            .bind(&event.subject).bind(EventHold::Held)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    tx.commit().await?;
    Ok(())
}

/// A waiting event failed again: its next try, or parked.
pub async fn failed_again(
    db: &Db,
    tenant: &str,
    subscriber: &str,
    event_id: i64,
    hold: Hold<'_>,
) -> Result<()> {
    let sql = "UPDATE event_failures SET status = $1, attempts = $2, next_attempt_at = $3, \
               last_error = $4, updated_at = $5 \
               WHERE tenant = $6 AND subscriber = $7 AND event_id = $8";
    on_pool!(db, p => sqlx::query(sql)
        .bind(hold.status).bind(hold.attempts).bind(hold.next_attempt_at).bind(hold.error).bind(now())
        .bind(tenant).bind(subscriber).bind(event_id)
        .execute(p).await.map(|_| ()))?;
    Ok(())
}

/// A tenant's waiting events (all of them, or those with `status`), in
/// log order.
pub async fn holdups(db: &Db, tenant: &str, status: Option<EventHold>) -> Result<Vec<Holdup>> {
    let sql = "SELECT f.subscriber, f.event_id, f.seq, e.name, f.subject, f.status, f.attempts, \
               f.next_attempt_at, f.last_error, f.updated_at \
               FROM event_failures f JOIN events e ON e.id = f.event_id \
               WHERE f.tenant = $1 AND (CAST($2 AS TEXT) IS NULL OR f.status = CAST($2 AS TEXT)) ORDER BY f.seq, f.subscriber";
    Ok(on_pool!(db, p => sqlx::query_as(sql)
        .bind(tenant).bind(status).fetch_all(p).await)?)
}

/// Try a parked event again now, from a first attempt; false when the
/// subscriber has no such parked event.
pub async fn retry(
    db: &Db,
    tenant: &str,
    subscriber: &str,
    event_id: i64,
    at: &str,
) -> Result<bool> {
    let sql = "UPDATE event_failures SET status = $1, attempts = 0, next_attempt_at = $2, \
               updated_at = $2 WHERE tenant = $3 AND subscriber = $4 AND event_id = $5 AND status = $6";
    let done = on_pool!(db, p => sqlx::query(sql)
        .bind(EventHold::Retrying).bind(at).bind(tenant).bind(subscriber).bind(event_id)
        .bind(EventHold::Parked)
        .execute(p).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}
