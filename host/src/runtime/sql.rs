//! Host-mediated SQL (`hamgam:platform/sql`): SQL Server over TDS
//! (tiberius) for the ledgers, PostgreSQL (sqlx) for everything else.
//!
//! The plugin names a database and a statement its manifest declares
//! (`sql_gate.rs` decides whether it may run); the operator's grant says
//! where the database is and with which credentials, which the plugin never
//! sees. Here the cleared statement runs:
//!
//! - always with its parameters sent as values, never spliced into the text;
//! - a read inside a transaction that is rolled back (on PostgreSQL also
//!   `READ ONLY`, so the server refuses a write outright);
//! - a write inside a transaction that commits only if it succeeded;
//! - rows streamed and counted as they arrive (`sql_convert::RowsBuilder`):
//!   the read is refused at the row that crosses `max_rows` or
//!   `max_result_kib`, and that connection is closed rather than drained.

pub use super::sql_convert::{from_wit_decimal, to_wit_decimal};

use super::bindings::platform::sql::{Rows, Value};
use super::bindings::types;
use super::sql_convert::{Caps, Cell, Param, RowsBuilder, params_from_wit};
use crate::config::{SqlBackendKind, SqlGrant};
use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};
use futures::TryStreamExt;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Runs statements the gate cleared.
#[async_trait]
pub trait SqlHub: Send + Sync {
    /// Run a read in a transaction that is rolled back, under the grant's
    /// row and byte caps.
    async fn read(
        &self,
        database: &str,
        grant: &SqlGrant,
        statement: &str,
        params: Vec<Value>,
    ) -> Result<Rows, types::Error>;

    /// Run a write in a transaction; the number of rows it changed.
    async fn write(
        &self,
        database: &str,
        grant: &SqlGrant,
        statement: &str,
        params: Vec<Value>,
    ) -> Result<u64, types::Error>;
}

/// Connections kept per connection string.
#[derive(Default)]
pub struct SqlConnections {
    postgres: Mutex<HashMap<String, sqlx::PgPool>>,
    sqlserver: Mutex<HashMap<String, Arc<Mutex<TdsClient>>>>,
}

type TdsClient = tiberius::Client<tokio_util::compat::Compat<tokio::net::TcpStream>>;

#[async_trait]
impl SqlHub for SqlConnections {
    async fn read(
        &self,
        database: &str,
        grant: &SqlGrant,
        statement: &str,
        params: Vec<Value>,
    ) -> Result<Rows, types::Error> {
        let (params, conn) = prepare(database, grant, params)?;
        let caps = Caps::of(grant);
        match grant.backend {
            SqlBackendKind::Postgres => {
                let pool = self.pool(conn.expose()).await?;
                let mut pooled = pool.acquire().await.map_err(unavailable)?;
                let result = pg_read(&mut pooled, statement, params, caps).await;
                if result.is_err() {
                    // The server may still be sending rows: close the
                    // connection instead of reading them to the end.
                    drop(pooled.detach());
                }
                result
            }
            SqlBackendKind::SqlServer => {
                let text = super::sql_convert::sqlserver_placeholders(statement);
                self.with_tds(conn.expose(), |client| {
                    Box::pin(tds_read(client, text, params, caps))
                })
                .await
            }
        }
    }

    async fn write(
        &self,
        database: &str,
        grant: &SqlGrant,
        statement: &str,
        params: Vec<Value>,
    ) -> Result<u64, types::Error> {
        let (params, conn) = prepare(database, grant, params)?;
        match grant.backend {
            SqlBackendKind::Postgres => {
                use sqlx::Connection;
                let pool = self.pool(conn.expose()).await?;
                let mut pooled = pool.acquire().await.map_err(unavailable)?;
                let mut tx = pooled.begin().await.map_err(unavailable)?;
                let done = bind_pg(sqlx::query(statement), params)
                    .execute(&mut *tx)
                    .await
                    .map_err(pg_error)?;
                tx.commit().await.map_err(unavailable)?;
                Ok(done.rows_affected())
            }
            SqlBackendKind::SqlServer => {
                let text = super::sql_convert::sqlserver_placeholders(statement);
                self.with_tds(conn.expose(), |client| {
                    Box::pin(tds_write(client, text, params))
                })
                .await
            }
        }
    }
}

/// What a read and a write both need first: the plugin's parameters as
/// driver values (refused before any connection is opened) and the
/// grant's connection string.
fn prepare(
    database: &str,
    grant: &SqlGrant,
    params: Vec<Value>,
) -> Result<(Vec<Param>, crate::config::Secret), types::Error> {
    let params = params_from_wit(params)?;
    let conn = grant.connection.resolve(database).map_err(unavailable)?;
    Ok((params, conn))
}

fn unavailable(e: impl std::fmt::Display) -> types::Error {
    types::Error::Unavailable(e.to_string())
}

fn pg_error(e: sqlx::Error) -> types::Error {
    match e {
        sqlx::Error::Database(db) => types::Error::Other(db.message().to_string()),
        other => unavailable(other),
    }
}

type TdsFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, types::Error>> + Send + 'a>>;

impl SqlConnections {
    async fn pool(&self, url: &str) -> Result<sqlx::PgPool, types::Error> {
        let mut pools = self.postgres.lock().await;
        if let Some(p) = pools.get(url) {
            return Ok(p.clone());
        }
        let p = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(unavailable)?;
        pools.insert(url.to_string(), p.clone());
        Ok(p)
    }

    /// Run `f` on the connection for `ado`. After any error the connection
    /// is dropped (the server rolls back what it had open and stops sending
    /// rows); the next statement reconnects.
    async fn with_tds<T>(
        &self,
        ado: &str,
        f: impl for<'c> FnOnce(&'c mut TdsClient) -> TdsFuture<'c, T>,
    ) -> Result<T, types::Error> {
        let client = {
            let mut clients = self.sqlserver.lock().await;
            match clients.get(ado) {
                Some(c) => c.clone(),
                None => {
                    let c = Arc::new(Mutex::new(connect_tds(ado).await?));
                    clients.insert(ado.to_string(), c.clone());
                    c
                }
            }
        };
        let mut guard = client.lock().await;
        let result = f(&mut guard).await;
        if result.is_err() {
            let mut clients = self.sqlserver.lock().await;
            if clients.get(ado).is_some_and(|c| Arc::ptr_eq(c, &client)) {
                clients.remove(ado);
            }
        }
        result
    }
}

/// A read on PostgreSQL: READ ONLY transaction, rows streamed into the
/// builder, rolled back.
async fn pg_read(
    conn: &mut sqlx::PgConnection,
    statement: &str,
    params: Vec<Param>,
    caps: Caps,
) -> Result<Rows, types::Error> {
    use sqlx::{Column, Connection, Row};
    let mut tx = conn.begin().await.map_err(unavailable)?;
    sqlx::query("SET TRANSACTION READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    let mut builder = RowsBuilder::new(caps);
    {
        let mut stream = bind_pg(sqlx::query(statement), params).fetch(&mut *tx);
        while let Some(row) = stream.try_next().await.map_err(pg_error)? {
            if !builder.has_columns() {
                builder
                    .set_columns(row.columns().iter().map(|c| c.name().to_string()).collect())?;
            }
            builder.push(pg_cells(&row)?)?;
        }
    }
    tx.rollback().await.map_err(unavailable)?;
    Ok(builder.finish())
}

fn bind_pg(
    mut q: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    params: Vec<Param>,
) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
    for p in params {
        q = match p {
            Param::Null => q.bind(None::<String>),
            Param::Bool(b) => q.bind(b),
            Param::Int(i) => q.bind(i),
            Param::Decimal(d) => q.bind(d),
            Param::Text(t) => q.bind(t),
            Param::Bytes(b) => q.bind(b),
            Param::Date(d) => q.bind(d),
            Param::Timestamp(t) => q.bind(t.and_utc()),
        };
    }
    q
}

/// One PostgreSQL row as cells.
fn pg_cells(row: &sqlx::postgres::PgRow) -> Result<Vec<Cell>, types::Error> {
    use sqlx::{Column, Row, TypeInfo};
    let mut cells = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let ty = col.type_info().name().to_string();
        let get_err = |e: sqlx::Error| types::Error::Other(format!("column {}: {e}", col.name()));
        let cell = match ty.as_str() {
            "BOOL" => row
                .try_get::<Option<bool>, _>(i)
                .map_err(get_err)?
                .map(Cell::Bool),
            "INT2" => row
                .try_get::<Option<i16>, _>(i)
                .map_err(get_err)?
                .map(|v| Cell::Int(v.into())),
            "INT4" => row
                .try_get::<Option<i32>, _>(i)
                .map_err(get_err)?
                .map(|v| Cell::Int(v.into())),
            "INT8" => row
                .try_get::<Option<i64>, _>(i)
                .map_err(get_err)?
                .map(Cell::Int),
            "NUMERIC" => row
                .try_get::<Option<Decimal>, _>(i)
                .map_err(get_err)?
                .map(Cell::Decimal),
            "BYTEA" => row
                .try_get::<Option<Vec<u8>>, _>(i)
                .map_err(get_err)?
                .map(Cell::Bytes),
            "DATE" => row
                .try_get::<Option<NaiveDate>, _>(i)
                .map_err(get_err)?
                .map(Cell::Date),
            "TIMESTAMP" => row
                .try_get::<Option<NaiveDateTime>, _>(i)
                .map_err(get_err)?
                .map(Cell::Timestamp),
            "TIMESTAMPTZ" => row
                .try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(i)
                .map_err(get_err)?
                .map(|t| Cell::Timestamp(t.naive_utc())),
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => row
                .try_get::<Option<String>, _>(i)
                .map_err(get_err)?
                .map(Cell::Text),
            other => {
                return Err(types::Error::Unsupported(format!(
                    "column `{}` has type {other}; cast it to text or numeric in the statement",
                    col.name()
                )));
            }
        };
        cells.push(cell.unwrap_or(Cell::Null));
    }
    Ok(cells)
}

async fn connect_tds(ado: &str) -> Result<TdsClient, types::Error> {
    use tokio_util::compat::TokioAsyncWriteCompatExt;
    let config = tiberius::Config::from_ado_string(ado)
        .map_err(|e| super::sql_convert::invalid("connection", &e.to_string()))?;
    let tcp = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::net::TcpStream::connect(config.get_addr()),
    )
    .await
    .map_err(|_| unavailable("SQL Server connect timed out"))?
    .map_err(unavailable)?;
    tcp.set_nodelay(true).map_err(unavailable)?;
    tiberius::Client::connect(config, tcp.compat_write())
        .await
        .map_err(unavailable)
}

/// The parameters as tiberius values.
fn tds_params(params: Vec<Param>) -> Vec<Box<dyn tiberius::ToSql>> {
    params
        .into_iter()
        .map(|p| -> Box<dyn tiberius::ToSql> {
            match p {
                Param::Null => Box::new(Option::<String>::None),
                Param::Bool(b) => Box::new(b),
                Param::Int(i) => Box::new(i),
                Param::Decimal(d) => Box::new(d),
                Param::Text(t) => Box::new(t),
                Param::Bytes(b) => Box::new(b),
                Param::Date(d) => Box::new(d),
                Param::Timestamp(t) => Box::new(t),
            }
        })
        .collect()
}

/// Run a batch of the host's own (no plugin input) and read it to the end.
async fn tds_batch(client: &mut TdsClient, sql: &str) -> Result<(), types::Error> {
    client
        .simple_query(sql)
        .await
        .map_err(tds_error)?
        .into_results()
        .await
        .map_err(tds_error)?;
    Ok(())
}

/// A read on SQL Server: inside a transaction that is rolled back; the
/// first result set goes to the plugin, later ones are only counted.
async fn tds_read(
    client: &mut TdsClient,
    statement: String,
    params: Vec<Param>,
    caps: Caps,
) -> Result<Rows, types::Error> {
    use tiberius::QueryItem;
    tds_batch(client, "SET XACT_ABORT ON; BEGIN TRANSACTION").await?;
    let owned = tds_params(params);
    let refs: Vec<&dyn tiberius::ToSql> = owned.iter().map(|b| b.as_ref()).collect();
    let mut builder = RowsBuilder::new(caps);
    {
        // Without parameters a plain batch does; with them, tiberius goes
        // through sp_executesql so values never become SQL text.
        let mut stream = if refs.is_empty() {
            client.simple_query(statement.as_str()).await
        } else {
            client.query(statement.as_str(), &refs).await
        }
        .map_err(tds_error)?;
        while let Some(item) = stream.try_next().await.map_err(tds_error)? {
            match item {
                QueryItem::Metadata(meta) if meta.result_index() == 0 => {
                    builder.set_columns(
                        meta.columns()
                            .iter()
                            .map(|c| c.name().to_string())
                            .collect(),
                    )?;
                }
                QueryItem::Metadata(_) => {}
                QueryItem::Row(row) => {
                    let first = row.result_index() == 0;
                    let cells = row
                        .into_iter()
                        .map(super::sql_convert::tds_cell)
                        .collect::<Result<Vec<_>, _>>()?;
                    if first {
                        builder.push(cells)?;
                    } else {
                        builder.count(&cells)?;
                    }
                }
            }
        }
    }
    tds_batch(client, "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION").await?;
    Ok(builder.finish())
}

/// A write on SQL Server: inside a transaction that commits only if the
/// statement succeeded (`XACT_ABORT`: any error rolls it back).
async fn tds_write(
    client: &mut TdsClient,
    statement: String,
    params: Vec<Param>,
) -> Result<u64, types::Error> {
    tds_batch(client, "SET XACT_ABORT ON; BEGIN TRANSACTION").await?;
    let owned = tds_params(params);
    let refs: Vec<&dyn tiberius::ToSql> = owned.iter().map(|b| b.as_ref()).collect();
    let done = client
        .execute(statement.as_str(), &refs)
        .await
        .map_err(tds_error)?;
    tds_batch(client, "COMMIT TRANSACTION").await?;
    Ok(done.total())
}

fn tds_error(e: tiberius::error::Error) -> types::Error {
    match e {
        tiberius::error::Error::Server(token) => types::Error::Other(token.message().to_string()),
        other => unavailable(other),
    }
}
