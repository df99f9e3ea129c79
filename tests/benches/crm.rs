//! `cargo xtask bench` (after `platform`) — CRM inserts: N invoices × 5
//! lines (default 100 000; `HAMGAM_BENCH_INVOICES` to change) per second,
//! on SQLite and, when `HAMGAM_TEST_POSTGRES` is set, on PostgreSQL, each
//! beside a raw sqlx baseline doing the same header and line INSERTs
//! (multi-row, 100 rows per statement, 1 000 invoices per transaction).
//!
//! The repository path does more than the baseline by design: it checks the
//! parties exist and writes an audit row and an outbox row per invoice in the
//! same transaction (C6). The ratio printed is that price.
//! Figures are for comparing side by side, never asserted.

use hamgam::crm::{Actor, NewDocument};
use hamgam::store::Db;
use hamgam::store::document;
use hamgam_tests::bench::{invoices, party, raw_insert_rate};
use std::time::Instant;

const PER_TX: usize = 1000;

async fn repository(db: &Db, docs: &[NewDocument], actor: &Actor) -> f64 {
    let start = Instant::now();
    for chunk in docs.chunks(PER_TX) {
        document::create_documents(db, actor, chunk)
            .await
            .expect("insert");
    }
    docs.len() as f64 / start.elapsed().as_secs_f64()
}

async fn raw(db: &Db, docs: &[NewDocument]) -> f64 {
    raw_insert_rate(db, docs, "bench-raw", PER_TX).await
}

async fn run(name: &str, db: Db, n: usize) {
    let actor = Actor::api("bench");
    let pid = party(&db, &actor).await;
    let docs = invoices(n, pid);
    let raw_rate = raw(&db, &docs).await;
    let repo_rate = repository(&db, &docs, &actor).await;
    println!(
        "{name:<10} {n} invoices x 5 lines: repository {repo_rate:>9.0} invoices/s | raw sqlx {raw_rate:>9.0} invoices/s | repository/raw {:.2}",
        repo_rate / raw_rate
    );
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("HAMGAM_BENCH_INVOICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!(
        "CRM inserts (multi-row INSERTs, {PER_TX} invoices per transaction; repository adds party check + audit + outbox per invoice)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Db::connect(&format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ))
    .await
    .expect("sqlite");
    run("sqlite", sqlite, n).await;
    match std::env::var("HAMGAM_TEST_POSTGRES") {
        Ok(base) if !base.is_empty() => {
            // A plain pool, not Db::connect: the bench's tables live in their
            // own schema and the shared public schema is never migrated.
            let admin = sqlx::PgPool::connect(&base).await.expect("postgres");
            let schema = format!("bench_{}", std::process::id());
            sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
                .execute(&admin)
                .await
                .expect("schema");
            let sep = if base.contains('?') { '&' } else { '?' };
            let db = Db::connect(&format!("{base}{sep}options=-c%20search_path%3D{schema}"))
                .await
                .expect("postgres schema");
            run("postgres", db, n).await;
            sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .expect("drop schema");
        }
        _ => println!("postgres   skipped: set HAMGAM_TEST_POSTGRES"),
    }
}
