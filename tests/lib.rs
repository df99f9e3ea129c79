//! Shared pieces of the integration tests and, later, the simulators of
//! external systems (Sepidar, WooCommerce, gateways) that the demo also
//! runs. The tests themselves live in `all/`.

/// Helpers the benchmarks share.
pub mod bench {
    use hamgam::crm::settings::CrmSettings;
    use hamgam::crm::{Actor, DocumentKind, DocumentRequest, NewDocument, PartyInput};
    use hamgam::store::{Db, Dec, party};
    use hamgam_domain::Decimal;
    use serde_json::json;
    use std::collections::HashMap;
    use std::time::{Duration, Instant};

    /// `n` sales invoices × 5 lines of party `party_id`, prepared as the API
    /// would (totals computed).
    pub fn invoices(n: usize, party_id: i64) -> Vec<NewDocument> {
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

    /// One organisation to hang benchmark invoices on.
    pub async fn party(db: &Db, actor: &Actor) -> i64 {
        let p = serde_json::from_value::<PartyInput>(
            json!({"kind": "organisation", "name": "Bench", "customer_number": "1-300"}),
        )
        .expect("party")
        .validate()
        .expect("valid");
        party::create_party(db, actor, &p)
            .await
            .expect("create party")
            .id
    }

    /// The same statement shapes as the repository: `?` on SQLite (binding
    /// numbered parameters is quadratic there, see `store::sql`), `$N` on
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
        ($pool:expr, $docs:expr, $tenant:expr, $sqlite:expr, $per_tx:expr) => {{
            let start = Instant::now();
            for tx_docs in $docs.chunks($per_tx) {
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

    /// The store's ceiling: the same header and line INSERTs as the
    /// repository, raw sqlx (multi-row, 100 rows per statement, `per_tx`
    /// invoices per transaction; no audit, outbox or checks). Invoices per
    /// second.
    pub async fn raw_insert_rate(
        db: &Db,
        docs: &[NewDocument],
        tenant: &str,
        per_tx: usize,
    ) -> f64 {
        match db {
            Db::Sqlite(p) => raw_insert!(p, docs, tenant, true, per_tx),
            Db::Postgres(p) => raw_insert!(p, docs, tenant, false, per_tx),
        }
    }

    /// A size from the environment variable `name`, else `default`.
    pub fn size_from_env(name: &str, default: usize) -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// The `p` quantile (0..=1) of sorted samples.
    pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[i]
    }

    /// Sales invoices in the CRM (every tenant).
    pub async fn count_invoices(db: &Db) -> i64 {
        let sql = "SELECT COUNT(*) FROM crm_documents WHERE kind = 'sales_invoice'";
        match db {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    /// How long until one more sales invoice is in the CRM than `before`,
    /// counted from `since`, polling every `every`; panics after 30 s.
    pub async fn until_one_more_invoice(
        db: &Db,
        before: i64,
        since: Instant,
        every: Duration,
    ) -> Duration {
        loop {
            if count_invoices(db).await > before {
                return since.elapsed();
            }
            assert!(
                since.elapsed() < Duration::from_secs(30),
                "the invoice never arrived"
            );
            tokio::time::sleep(every).await;
        }
    }
}

/// A signed license for hosts the tests start, so an orderable plugin
/// (WooCommerce, P3) runs as it does at a customer: entitled.
pub mod entitled {
    use hamgam_trust::keys::SecretKey;
    use hamgam_trust::license::{Entitlement, License, LicenseLimits};
    use hamgam_trust::manifest::Tier;
    use std::path::Path;

    /// Writes a vendor key's license for `tenants` and `modules` (orderable,
    /// a year either side of today) into `dir` and returns the `[trust]`
    /// lines that make a host check it: the key, the file, the binding.
    pub fn trust_lines(dir: &Path, tenants: &[&str], modules: &[&str]) -> Vec<String> {
        let vendor = SecretKey::generate().expect("a vendor key");
        let today = chrono::Utc::now().date_naive();
        let year = chrono::Duration::days(365);
        let license = License {
            license_id: "L-TESTS".into(),
            customer: "tests".into(),
            installation: "tests-host".into(),
            tenants: tenants.iter().map(|t| (*t).to_owned()).collect(),
            modules: modules
                .iter()
                .map(|m| Entitlement {
                    module: (*m).to_owned(),
                    tier: Tier::Orderable,
                    expires: None,
                })
                .collect(),
            limits: LicenseLimits::default(),
            issued: today - year,
            expires: today + year,
            grace_days: 14,
        };
        let path = dir.join("license.json");
        std::fs::write(&path, license.sign(&vendor).expect("signed")).expect("license written");
        vec![
            format!("vendor_keys = [\"{}\"]", vendor.public()),
            format!("license = \"{}\"", path.display()),
            "customer = \"tests\"".into(),
            "installation = \"tests-host\"".into(),
        ]
    }
}
