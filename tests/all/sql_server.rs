//! The host's SQL Server path (the ledgers' databases) over the TDS wire,
//! against Microsoft's `mssql-mock-tds` server: connect, log in, run a
//! query, decode the rows. The mock knows integer columns and NULL only
//! (no strings), so this proves the wire path, not a ledger schema; the
//! plugin-facing SQL behaviour is covered on PostgreSQL in `examples.rs`
//! and `sql_gate.rs`.

use hamgam::config::{SecretRef, SqlBackendKind, SqlGrant};
use hamgam::runtime::bindings::platform::sql::Value;
use hamgam::runtime::bindings::types;
use hamgam::runtime::sql::{SqlConnections, SqlHub};
use hamgam::runtime::sql_gate::SqlGate;
use hamgam_trust::sql_statements::{SqlAccess, SqlCapability, SqlStatement};
use mssql_mock_tds::{
    ColumnDefinition, ColumnValue, MockTdsServer, QueryResponse, Row, SqlDataType,
};

const QUERY: &str = "SELECT CAST(42 AS BIGINT) AS answer, 7 AS seven, NULL AS nothing";

fn mock_grant(addr: std::net::SocketAddr, max_rows: u32) -> SqlGrant {
    let mut grant = SqlGrant::new(
        SqlBackendKind::SqlServer,
        SecretRef::Value(format!(
            "server=tcp:{},{};user=sa;password=secret;encrypt=DANGER_PLAINTEXT;TrustServerCertificate=true",
            addr.ip(),
            addr.port()
        )),
    );
    grant.max_rows = max_rows;
    grant
}

/// A gate declaring `text` as the read `q` on database `ledger`.
fn gate(grant: &SqlGrant, text: &str) -> SqlGate {
    let declared = SqlCapability {
        databases: vec!["ledger".into()],
        statements: vec![SqlStatement {
            name: "q".into(),
            text: text.into(),
            access: SqlAccess::Read,
        }],
    };
    SqlGate::new(&declared, &[("ledger".to_string(), grant.clone())].into())
}

fn int_rows(n: i64) -> QueryResponse {
    QueryResponse::new(
        vec![ColumnDefinition::new("ID", SqlDataType::BigInt)],
        (1..=n)
            .map(|i| Row::new(vec![ColumnValue::BigInt(i)]))
            .collect(),
    )
}

#[tokio::test]
async fn p2_sql_server_query_over_tds() {
    let server = MockTdsServer::new("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    server.query_registry().lock().await.register(
        QUERY,
        QueryResponse::new(
            vec![
                ColumnDefinition::new("answer", SqlDataType::BigInt),
                ColumnDefinition::new("seven", SqlDataType::Int),
                ColumnDefinition::new("nothing", SqlDataType::Int),
            ],
            vec![Row::new(vec![
                ColumnValue::BigInt(42),
                ColumnValue::Int(7),
                ColumnValue::Null,
            ])],
        ),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel();
    tokio::spawn(async move { server.run_with_shutdown(stopped).await });

    let grant = mock_grant(addr, 10);
    let hub = SqlConnections::default();
    let rows = hub
        .read("ledger", &grant, QUERY, vec![])
        .await
        .expect("query over TDS");
    assert_eq!(rows.columns, ["answer", "seven", "nothing"]);
    assert_eq!(rows.rows.len(), 1);
    assert!(
        matches!(
            rows.rows[0][..],
            [Value::Integer(42), Value::Integer(7), Value::Null]
        ),
        "{:?}",
        rows.rows
    );
    // The same connection serves a second query.
    let again = hub
        .read("ledger", &grant, QUERY, vec![])
        .await
        .expect("second query");
    assert_eq!(again.rows.len(), 1);
    // Text that is not a declared statement is refused by the host before
    // anything is sent.
    let gate = gate(&grant, QUERY);
    assert!(gate.read_text("ledger", QUERY).is_ok());
    assert!(gate.read_text("ledger", "DELETE FROM Sls.Invoice").is_err());
    let _ = stop.send(());
}

#[tokio::test]
async fn p2_unreachable_sql_server_is_unavailable_not_a_hang() {
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let grant = SqlGrant::new(
        SqlBackendKind::SqlServer,
        SecretRef::Value(format!(
            "server=tcp:127.0.0.1,{port};user=sa;password=x;encrypt=DANGER_PLAINTEXT"
        )),
    );
    let err = SqlConnections::default()
        .read("ledger", &grant, "SELECT 1", vec![])
        .await
        .unwrap_err();
    assert!(matches!(err, types::Error::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn p2_sql_server_declared_read_sends_parameters_as_values() {
    let server = MockTdsServer::new("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    // The declared text numbers parameters `$1`; SQL Server receives
    // `@P1` through sp_executesql, with the value beside the text.
    server
        .query_registry()
        .lock()
        .await
        .register("SELECT ID FROM LEDGER_ROWS WHERE ID <= @P1", int_rows(2));
    let (stop, stopped) = tokio::sync::oneshot::channel();
    tokio::spawn(async move { server.run_with_shutdown(stopped).await });
    let rows = SqlConnections::default()
        .read(
            "ledger",
            &mock_grant(addr, 10),
            "SELECT ID FROM LEDGER_ROWS WHERE ID <= $1",
            vec![Value::Integer(2)],
        )
        .await
        .expect("parameterised read over TDS");
    assert_eq!(rows.columns, ["ID"]);
    assert!(
        matches!(rows.rows[..], [ref a, ref b] if matches!(a[..], [Value::Integer(1)]) && matches!(b[..], [Value::Integer(2)])),
        "{:?}",
        rows.rows
    );
    let _ = stop.send(());
}

#[tokio::test]
async fn p8_sql_server_rows_past_the_limit_are_refused_and_the_connection_replaced() {
    let server = MockTdsServer::new("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    server
        .query_registry()
        .lock()
        .await
        .register("SELECT ID FROM MANY_ROWS", int_rows(50));
    server.query_registry().lock().await.register(
        QUERY,
        QueryResponse::new(
            vec![ColumnDefinition::new("answer", SqlDataType::BigInt)],
            vec![Row::new(vec![ColumnValue::BigInt(42)])],
        ),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel();
    tokio::spawn(async move { server.run_with_shutdown(stopped).await });
    let hub = SqlConnections::default();
    let grant = mock_grant(addr, 10);
    let err = hub
        .read("ledger", &grant, "SELECT ID FROM MANY_ROWS", vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, types::Error::InvalidInput(f) if f.message.contains("max_rows")),
        "{err:?}"
    );
    // The connection left mid-result was dropped; the next read gets a
    // fresh one and its own answer, not the rest of the old result.
    let rows = hub
        .read("ledger", &grant, QUERY, vec![])
        .await
        .expect("read after a refused one");
    assert!(
        matches!(rows.rows[..], [ref r] if matches!(r[..], [Value::Integer(42)])),
        "{:?}",
        rows.rows
    );
    let _ = stop.send(());
}
