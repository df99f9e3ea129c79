//! Shared pieces of the integration tests and, later, the simulators of
//! external systems (Sepidar, WooCommerce, gateways) that the demo also
//! runs. The tests themselves live in `all/`.

/// Helpers the benchmarks share.
pub mod bench {
    use hamgam::store::Db;
    use std::time::{Duration, Instant};

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
