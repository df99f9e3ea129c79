//! Helpers shared by the test modules.

use hamgam::runtime::bindings::types::HttpResponse;
use hamgam::runtime::instance::PluginInstance;
use serde_json::Value;

/// Path of a built plugin; fails with a hint when plugins were not built.
pub fn plugin(id: &str) -> std::path::PathBuf {
    let path = hamgam::testing::plugin_path(id);
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask build-plugins` first",
        path.display()
    );
    path
}

/// Percent-encode a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Call a hostile-plugin route that must succeed and answer JSON.
pub async fn json(p: &PluginInstance, path: &str) -> Value {
    let resp: HttpResponse = p
        .request("GET", path, b"")
        .await
        .unwrap_or_else(|e| panic!("{path}: call failed: {e}"))
        .unwrap_or_else(|e| panic!("{path}: plugin error: {e:?}"));
    assert_eq!(
        resp.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&resp.body)
    );
    serde_json::from_slice(&resp.body).unwrap_or_else(|e| {
        panic!(
            "{path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&resp.body)
        )
    })
}

/// PostgreSQL URL for tests: `HAMGAM_TEST_POSTGRES`. In CI (`CI=true`) it
/// must be set — a storage test that silently skipped PostgreSQL there
/// would prove nothing about it.
pub fn postgres_url() -> Option<String> {
    match std::env::var("HAMGAM_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "HAMGAM_TEST_POSTGRES must be set in CI (cargo xtask ci sets it up)"
            );
            eprintln!("note: HAMGAM_TEST_POSTGRES not set; PostgreSQL half skipped");
            None
        }
    }
}

/// A fresh PostgreSQL schema for one test, so tests can run in parallel
/// and leave nothing behind that the next run trips over.
pub async fn fresh_postgres(base: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let schema = format!(
        "t_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    // A plain connection, not `Db::connect`: that would run the migrations
    // in the base (public) schema, which other checkouts sharing this
    // server may have shaped differently.
    let pool = sqlx::PgPool::connect(base)
        .await
        .expect("connect to PostgreSQL");
    sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .expect("create schema");
    pool.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// Run `f` against a fresh SQLite database and, where configured, a fresh
/// PostgreSQL schema.
pub async fn for_each_db(f: impl AsyncFn(hamgam::store::Db)) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("t.db").display());
    f(hamgam::store::Db::connect(&sqlite).await.expect("sqlite")).await;
    if let Some(base) = postgres_url() {
        let url = fresh_postgres(&base).await;
        f(hamgam::store::Db::connect(&url).await.expect("postgres")).await;
    }
}
