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

use hamgam::crm::settings::CrmSettings;
use hamgam::crm::{Actor, DocumentKind, DocumentRequest, NewDocument, PartyInput};
use hamgam::store::crm as repo;
use hamgam::store::{Db, Dec};
use hamgam_domain::Decimal;
use serde_json::json;
use std::collections::HashMap;
use std::time::Instant;

const PER_TX: usize = 1000;

fn invoices(n: usize, party_id: i64) -> Vec<NewDocument> {
    let rates = CrmSettings::default().rates;
    (0..n)
        .map(|i| {
            let lines: Vec<_> = (0..5)
                .map(|l| json!({"quantity": format!("{}", 1 + l), "unit_price": format!("{}", 10_000 + (i % 997) * 10 + l), "tax_exempt": l == 4}))
                .collect();
            serde_json::from_value::<DocumentRequest>(json!({"party_id": party_id, "date": "1403/06/01", "lines": lines}))
                .expect("request")
                .prepare(DocumentKind::SalesInvoice, &HashMap::new(), &rates)
                .expect("prepare")
        })
        .collect()
}

async fn party(db: &Db, actor: &Actor) -> i64 {
    let p = serde_json::from_value::<PartyInput>(
        json!({"kind": "organisation", "name": "Bench", "customer_number": "1-300"}),
    )
    .expect("party")
    .validate()
    .expect("valid");
    repo::create_party(db, actor, &p)
        .await
        .expect("create party")
        .id
}

async fn repository(db: &Db, docs: &[NewDocument], actor: &Actor) -> f64 {
    let start = Instant::now();
    for chunk in docs.chunks(PER_TX) {
        repo::create_documents(db, actor, chunk)
            .await
            .expect("insert");
    }
    docs.len() as f64 / start.elapsed().as_secs_f64()
}

/// The same statement shapes as the repository: `?` on SQLite (binding
/// numbered parameters is quadratic there, see `store::crm`), `$N` on
/// PostgreSQL.
fn placeholders(rows: usize, cols: usize, sqlite: bool) -> String {
    if sqlite {
        return vec![format!("({})", vec!["?"; cols].join(", ")); rows].join(", ");
    }
    (0..rows)
        .map(|r| {
            format!(
                "({})",
                (0..cols)
                    .map(|c| format!("${}", r * cols + c + 1))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

macro_rules! raw_insert {
    ($pool:expr, $docs:expr, $tenant:expr, $sqlite:expr) => {{
        let start = Instant::now();
        for tx_docs in $docs.chunks(PER_TX) {
            let mut tx = $pool.begin().await.expect("begin");
            for chunk in tx_docs.chunks(100) {
                let sql = format!(
                    "INSERT INTO crm_documents (tenant, kind, party_id, doc_date, currency, status, discount, additions, gross, \
                     discount_total, additions_total, net, tax_total, toll_total, grand_total, paid_amount, paid, sync_status, origin, \
                     version, created_at, updated_at) VALUES {} RETURNING id",
                    placeholders(chunk.len(), 22, $sqlite)
                );
                let mut q = sqlx::query_scalar::<_, i64>(&sql);
                for d in chunk {
                    q = q.bind($tenant).bind("sales_invoice").bind(d.party_id).bind(d.date.to_string()).bind("IRR")
                        .bind("pending").bind(Dec(d.discount)).bind(Dec(d.additions)).bind(Dec(d.totals.gross))
                        .bind(Dec(d.totals.discount)).bind(Dec(d.totals.additions)).bind(Dec(d.totals.net))
                        .bind(Dec(d.totals.tax_total)).bind(Dec(d.totals.toll_total)).bind(Dec(d.totals.grand_total))
                        .bind(Dec(Decimal::ZERO)).bind(false).bind("pending").bind("bench").bind(1i64)
                        .bind("2025-01-01T00:00:00Z").bind("2025-01-01T00:00:00Z");
                }
                let mut ids = q.fetch_all(&mut *tx).await.expect("headers");
                ids.sort_unstable();
                let all: Vec<_> = ids.iter().zip(chunk).flat_map(|(id, d)| d.lines.iter().enumerate().map(move |(n, l)| (*id, n, l))).collect();
                for rows in all.chunks(100) {
                let sql = format!(
                    "INSERT INTO crm_document_lines (tenant, document_id, line_no, product_id, description, quantity, unit_price, \
                     discount, additions, tax_exempt, tax_percent, toll_percent, gross, net, tax, toll, total) VALUES {}",
                    placeholders(rows.len(), 17, $sqlite)
                );
                let mut q = sqlx::query(&sql);
                for &(id, n, l) in rows {
                    q = q.bind($tenant).bind(id).bind(n as i64).bind(l.product_id).bind(l.description.clone())
                        .bind(Dec(l.quantity)).bind(Dec(l.unit_price)).bind(Dec(l.discount)).bind(Dec(l.additions))
                        .bind(l.tax_exempt).bind(Dec(l.tax_percent)).bind(Dec(l.toll_percent)).bind(Dec(l.gross))
                        .bind(Dec(l.net)).bind(Dec(l.tax)).bind(Dec(l.toll)).bind(Dec(l.total));
                }
                q.execute(&mut *tx).await.expect("lines");
                }
            }
            tx.commit().await.expect("commit");
        }
        $docs.len() as f64 / start.elapsed().as_secs_f64()
    }};
}

async fn raw(db: &Db, docs: &[NewDocument]) -> f64 {
    match db {
        Db::Sqlite(p) => raw_insert!(p, docs, "bench-raw", true),
        Db::Postgres(p) => raw_insert!(p, docs, "bench-raw", false),
    }
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
