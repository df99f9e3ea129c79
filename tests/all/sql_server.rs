//! The host's SQL Server path (the ledgers' databases) over the TDS wire,
//! against Microsoft's `mssql-mock-tds` server: connect, log in, run a
//! query, decode the rows. The mock knows integer columns and NULL only
//! (no strings), so this proves the wire path, not a ledger schema; the
//! plugin-facing SQL behaviour is covered on PostgreSQL in `examples.rs`.

use hamgam::config::{SecretRef, SqlBackendKind, SqlGrant};
use hamgam::runtime::bindings::platform::sql::Value;
use hamgam::runtime::bindings::types;
use hamgam::runtime::sql::{SqlConnections, SqlHub};
use mssql_mock_tds::{
    ColumnDefinition, ColumnValue, MockTdsServer, QueryResponse, Row, SqlDataType,
};

const QUERY: &str = "SELECT CAST(42 AS BIGINT) AS answer, 7 AS seven, NULL AS nothing";

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

    let grant = SqlGrant {
        backend: SqlBackendKind::SqlServer,
        connection: SecretRef::Value(format!(
            "server=tcp:{},{};user=sa;password=secret;encrypt=DANGER_PLAINTEXT;TrustServerCertificate=true",
            addr.ip(),
            addr.port()
        )),
        max_rows: 10,
    };
    let hub = SqlConnections::default();
    let rows = hub
        .query("ledger", &grant, QUERY, vec![])
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
        .query("ledger", &grant, QUERY, vec![])
        .await
        .expect("second query");
    assert_eq!(again.rows.len(), 1);
    // Writes are refused by the host before anything is sent.
    let write = hub
        .query("ledger", &grant, "DELETE FROM Sls.Invoice", vec![])
        .await;
    assert!(
        matches!(write, Err(types::Error::InvalidInput(ref f)) if f.field == "statement"),
        "{write:?}"
    );
    let _ = stop.send(());
}

#[tokio::test]
async fn p2_unreachable_sql_server_is_unavailable_not_a_hang() {
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let grant = SqlGrant {
        backend: SqlBackendKind::SqlServer,
        connection: SecretRef::Value(format!(
            "server=tcp:127.0.0.1,{port};user=sa;password=x;encrypt=DANGER_PLAINTEXT"
        )),
        max_rows: 10,
    };
    let err = SqlConnections::default()
        .query("ledger", &grant, "SELECT 1", vec![])
        .await
        .unwrap_err();
    assert!(matches!(err, types::Error::Unavailable(_)), "{err:?}");
}
