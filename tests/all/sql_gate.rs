//! P2, P8 (issue 13 §4, §5): SQL from plugins is declared statements, not
//! a keyword check. The hostile plugin tries SQL text of its own (refused,
//! whatever it says) and runs its declared statements by name: reads in a
//! transaction that is rolled back, writes only when the operator granted
//! them by name, results cut off while streaming at the grant's row and
//! byte limits. The database half needs `HAMGAM_TEST_POSTGRES`.

use crate::common::{enc, fresh_postgres, json, plugin, postgres_url};
use hamgam::config::{Config, SecretRef, SqlBackendKind, SqlGrant};
use hamgam::plugins::registry::{Catalog, Registry};
use hamgam::runtime::instance::PluginInstance;
use hamgam::testing::TestHost;
use std::sync::Arc;

/// The four T-SQL strings a first-word check let through (issue 13 §4).
const ATTACKS: [&str; 4] = [
    "SELECT 1 DELETE FROM t",
    "WITH c AS (SELECT 1 a) DELETE FROM t",
    "SELECT * INTO t2 FROM t",
    "SELECT 1 EXEC xp_cmdshell 'whoami'",
];

fn hostile(host: &TestHost, grant: SqlGrant) -> Arc<PluginInstance> {
    host.plugin(plugin("hostile"))
        .unwrap()
        .grant_sql("db", grant)
        .build()
}

fn postgres(url: &str) -> SqlGrant {
    SqlGrant::new(SqlBackendKind::Postgres, SecretRef::Value(url.into()))
}

/// A fresh schema with a `victims` table holding one row.
async fn victims_database(base: &str) -> String {
    let url = fresh_postgres(base).await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE victims (name TEXT NOT NULL); INSERT INTO victims VALUES ('first');",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    url
}

async fn victims(url: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM victims")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

#[tokio::test]
async fn p2_t_sql_attack_strings_are_refused_because_they_are_not_declared() {
    // The database is granted (to a server nobody listens on): the refusal
    // comes from the gate, before any connection is tried.
    let host = TestHost::new();
    let p = hostile(
        &host,
        SqlGrant::new(
            SqlBackendKind::SqlServer,
            SecretRef::Value("server=tcp:127.0.0.1,1;user=sa;password=x".into()),
        ),
    );
    for attack in ATTACKS {
        let text = json(&p, &format!("/sql-text?db=db&sql={}", enc(attack))).await;
        assert_eq!(text["code"], "denied", "{attack}: {text}");
        assert!(
            text["error"].as_str().unwrap().contains("not accepted"),
            "{attack}: {text}"
        );
        let by_name = json(&p, &format!("/sql-read?db=db&name={}", enc(attack))).await;
        assert_eq!(by_name["code"], "denied", "{attack}: {by_name}");
        assert!(
            by_name["error"]
                .as_str()
                .unwrap()
                .contains("not a statement this plugin declares"),
            "{attack}: {by_name}"
        );
        let write = json(&p, &format!("/sql-write?db=db&name={}", enc(attack))).await;
        assert_eq!(write["code"], "denied", "{attack}: {write}");
    }
    // Every attempt is in the audit trail as refused; none as allowed.
    let calls = host.calls();
    let sql: Vec<_> = calls
        .iter()
        .filter(|c| c.call.starts_with("sql."))
        .collect();
    assert_eq!(sql.len(), 3 * ATTACKS.len());
    assert!(sql.iter().all(|c| !c.allowed));
}

#[tokio::test]
async fn p2_a_declared_read_runs_parameterised_in_a_rolled_back_transaction() {
    let Some(base) = postgres_url() else { return };
    let url = victims_database(&base).await;
    let host = TestHost::new();
    let p = hostile(&host, postgres(&url));

    // A parameter is a value, never SQL: an injection comes back as text.
    let injection = "'; DROP TABLE victims; --";
    let echo = json(
        &p,
        &format!("/sql-read?db=db&name=echo&p1={}&p2=42", enc(injection)),
    )
    .await;
    assert_eq!(echo["columns"], serde_json::json!(["said", "n"]), "{echo}");
    assert_eq!(echo["rows"], serde_json::json!([[injection, 42]]), "{echo}");
    assert_eq!(victims(&url).await, 1);

    // A statement declared as a read that deletes: refused by the READ
    // ONLY transaction, and whatever it did is rolled back.
    let sneaky = json(&p, "/sql-read?db=db&name=sneaky-read").await;
    assert!(sneaky["error"].is_string(), "{sneaky}");
    assert_eq!(victims(&url).await, 1, "a read left a change behind");
    let count = json(&p, "/sql-read?db=db&name=count-victims").await;
    assert_eq!(count["rows"], serde_json::json!([[1]]), "{count}");

    // A write's name called as a read is refused, naming the right call.
    let wrong = json(&p, "/sql-read?db=db&name=add-victim&p1=x").await;
    assert!(
        wrong["error"].as_str().unwrap().contains("sql.write"),
        "{wrong}"
    );
    assert_eq!(victims(&url).await, 1);
}

#[tokio::test]
async fn p2_a_declared_write_runs_only_when_granted_by_name_and_commits() {
    let Some(base) = postgres_url() else { return };
    let url = victims_database(&base).await;
    let host = TestHost::new();

    // Granted the database but no writes: refused, naming the statement.
    let reader = hostile(&host, postgres(&url));
    let refused = json(&reader, "/sql-write?db=db&name=add-victim&p1=second").await;
    assert_eq!(refused["code"], "denied", "{refused}");
    let message = refused["error"].as_str().unwrap();
    assert!(
        message.contains("`add-victim`") && message.contains("grants.sql.db.writes"),
        "{refused}"
    );
    assert_eq!(victims(&url).await, 1);

    // Granted `add-victim` only: it runs and commits; `purge-victims`,
    // declared but not granted, still does not.
    let mut grant = postgres(&url);
    grant.writes = vec!["add-victim".into()];
    let writer = hostile(&host, grant);
    let added = json(&writer, "/sql-write?db=db&name=add-victim&p1=second").await;
    assert_eq!(added["affected"], 1, "{added}");
    assert_eq!(victims(&url).await, 2);
    let purge = json(&writer, "/sql-write?db=db&name=purge-victims").await;
    assert!(
        purge["error"].as_str().unwrap().contains("`purge-victims`"),
        "{purge}"
    );
    assert_eq!(victims(&url).await, 2);

    // A write that fails leaves nothing: NOT NULL refuses the NULL.
    let null = json(&writer, "/sql-write?db=db&name=add-victim").await;
    assert!(null["error"].is_string(), "{null}");
    assert_eq!(victims(&url).await, 2);

    let audit = host.calls();
    assert!(
        audit
            .iter()
            .any(|c| c.call == "sql.write" && c.allowed && c.detail == "db: add-victim")
    );
    assert!(
        audit
            .iter()
            .any(|c| c.call == "sql.write" && !c.allowed && c.detail == "db: purge-victims")
    );
}

#[tokio::test]
async fn p2_an_operator_grant_of_an_undeclared_statement_fails_the_config_check() {
    let host = TestHost::new();
    let bytes = std::fs::read(plugin("hostile")).unwrap();
    let mut catalog = Catalog::default();
    catalog.insert(Arc::new(host.runtime().load(&bytes).unwrap()));
    let config = |writes: &str| {
        Config::parse(&format!(
            r#"
[tenants.acme.instances.probe]
plugin = "hostile"
enabled = true
[tenants.acme.instances.probe.grants.sql.db]
backend = "postgres"
connection = {{ env = "UNUSED" }}
writes = [{writes}]
"#
        ))
        .unwrap()
    };
    assert!(Registry::check(&catalog, &config(r#""add-victim""#)).is_empty());
    let errors = Registry::check(&catalog, &config(r#""add-victim", "drop-everything""#));
    let text = errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("grants.sql.db.writes") && text.contains("`drop-everything`"),
        "{text}"
    );
    // A declared read is not a write the operator can grant.
    let errors = Registry::check(&catalog, &config(r#""count-victims""#));
    assert_eq!(errors.len(), 1, "{errors:?}");
    // Strict keys: a misspelt grant key is an error naming it.
    let err = Config::parse(
        "[tenants.acme.instances.probe]\nplugin = \"hostile\"\n[tenants.acme.instances.probe.grants.sql.db]\nbackend = \"postgres\"\nconnection = { env = \"X\" }\nwrite = [\"add-victim\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("write"), "{err}");
}

#[tokio::test]
async fn p8_a_result_past_the_byte_limit_is_refused_while_streaming() {
    let Some(base) = postgres_url() else { return };
    let url = victims_database(&base).await;
    let host = TestHost::new();
    let mut grant = postgres(&url);
    grant.max_result_kib = 256;
    let p = hostile(&host, grant);
    // A million rows of 1 MiB each: about a terabyte if it were fetched
    // whole. The host reads the first row, finds it past 256 KiB, and
    // closes the connection.
    let big = json(&p, "/sql-read?db=db&name=big&p1=1048576&p2=1000000").await;
    assert_eq!(big["code"], "invalid-input", "{big}");
    assert!(
        big["error"].as_str().unwrap().contains("max_result_kib"),
        "{big}"
    );
    // Under the limit the same statement answers in full.
    let small = json(&p, "/sql-read?db=db&name=big&p1=1000&p2=100").await;
    assert_eq!(small["rows"].as_array().map(Vec::len), Some(100), "{small}");
}

#[tokio::test]
async fn p8_a_result_past_the_row_limit_is_refused_while_streaming() {
    let Some(base) = postgres_url() else { return };
    let url = victims_database(&base).await;
    let host = TestHost::new();
    let mut grant = postgres(&url);
    grant.max_rows = 1000;
    let p = hostile(&host, grant);
    // A billion one-byte rows; the host stops at row 1001.
    let many = json(&p, "/sql-read?db=db&name=big&p1=1&p2=1000000000").await;
    assert_eq!(many["code"], "invalid-input", "{many}");
    assert!(
        many["error"].as_str().unwrap().contains("max_rows"),
        "{many}"
    );
    // The connection that was cut off is not reused half-read: the next
    // read answers normally.
    let exact = json(&p, "/sql-read?db=db&name=big&p1=1&p2=1000").await;
    assert_eq!(exact["rows"].as_array().map(Vec::len), Some(1000));
    let count = json(&p, "/sql-read?db=db&name=count-victims").await;
    assert_eq!(count["rows"], serde_json::json!([[1]]), "{count}");
}
