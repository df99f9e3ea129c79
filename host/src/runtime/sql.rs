//! Host-mediated SQL (`hamgam:platform/sql`): SQL Server over TDS
//! (tiberius) for the ledgers, PostgreSQL (sqlx) for everything else.
//!
//! The plugin names a database; the operator's grant says where it is and
//! with which credentials, which the plugin never sees. Only reads are
//! accepted: the statement must be a SELECT (or WITH … SELECT), and on
//! PostgreSQL it also runs in a READ ONLY transaction so the server itself
//! refuses writes. On SQL Server the grant's login should be read-only too;
//! the statement check is the host's half of that.

use super::bindings::platform::sql::{Rows, Value};
use super::bindings::types;
use crate::config::{SqlBackendKind, SqlGrant};
use async_trait::async_trait;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Runs granted queries.
#[async_trait]
pub trait SqlHub: Send + Sync {
    /// Run one read query against the granted database.
    async fn query(
        &self,
        database: &str,
        grant: &SqlGrant,
        statement: &str,
        params: Vec<Value>,
    ) -> Result<Rows, types::Error>;
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
    async fn query(
        &self,
        database: &str,
        grant: &SqlGrant,
        statement: &str,
        params: Vec<Value>,
    ) -> Result<Rows, types::Error> {
        check_read_only(statement)?;
        let conn = grant
            .connection
            .resolve(database)
            .map_err(|e| types::Error::Unavailable(e.to_string()))?;
        let max_rows = grant.max_rows as usize;
        match grant.backend {
            SqlBackendKind::Postgres => {
                self.postgres(conn.expose(), statement, params, max_rows)
                    .await
            }
            SqlBackendKind::SqlServer => {
                self.sqlserver(conn.expose(), statement, params, max_rows)
                    .await
            }
        }
    }
}

/// Accept only statements that read.
pub fn check_read_only(statement: &str) -> Result<(), types::Error> {
    let s = strip_leading_comments(statement);
    let word: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    let body = s.trim_end().trim_end_matches(';');
    if !(word == "SELECT" || word == "WITH") || body.contains(';') {
        return Err(types::Error::InvalidInput(types::FieldError {
            field: "statement".into(),
            message: "only a single SELECT statement is allowed".into(),
        }));
    }
    Ok(())
}

fn strip_leading_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r);
        } else {
            return s;
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> types::Error {
    types::Error::Unavailable(e.to_string())
}

impl SqlConnections {
    async fn postgres(
        &self,
        url: &str,
        statement: &str,
        params: Vec<Value>,
        max_rows: usize,
    ) -> Result<Rows, types::Error> {
        use sqlx::{Column, Row, TypeInfo};
        let pool = {
            let mut pools = self.postgres.lock().await;
            match pools.get(url) {
                Some(p) => p.clone(),
                None => {
                    let p = sqlx::postgres::PgPoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(std::time::Duration::from_secs(5))
                        .connect(url)
                        .await
                        .map_err(unavailable)?;
                    pools.insert(url.to_string(), p.clone());
                    p
                }
            }
        };
        let mut tx = pool.begin().await.map_err(unavailable)?;
        sqlx::query("SET TRANSACTION READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let mut q = sqlx::query(statement);
        for p in params {
            q = match p {
                Value::Null => q.bind(None::<String>),
                Value::Boolean(b) => q.bind(b),
                Value::Integer(i) => q.bind(i),
                Value::Number(d) => q.bind(from_wit_decimal(&d)?),
                Value::Text(t) => q.bind(t),
                Value::Bytes(b) => q.bind(b),
                Value::Date(d) => q.bind(from_wit_date(&d)?),
                Value::Timestamp(t) => q.bind(
                    chrono::DateTime::from_timestamp(t.seconds, t.nanoseconds)
                        .ok_or_else(|| invalid("params", "timestamp out of range"))?,
                ),
            };
        }
        let rows = q.fetch_all(&mut *tx).await.map_err(|e| match e {
            sqlx::Error::Database(db) => types::Error::Other(db.message().to_string()),
            other => unavailable(other),
        })?;
        tx.rollback().await.map_err(unavailable)?;
        if rows.len() > max_rows {
            return Err(invalid(
                "statement",
                &format!("returned more than {max_rows} rows"),
            ));
        }
        let columns = rows
            .first()
            .map(|r| r.columns().iter().map(|c| c.name().to_string()).collect())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut values = Vec::with_capacity(row.len());
            for (i, col) in row.columns().iter().enumerate() {
                let ty = col.type_info().name().to_string();
                let get_err =
                    |e: sqlx::Error| types::Error::Other(format!("column {}: {e}", col.name()));
                let v = match ty.as_str() {
                    "BOOL" => row
                        .try_get::<Option<bool>, _>(i)
                        .map_err(get_err)?
                        .map(Value::Boolean),
                    "INT2" => row
                        .try_get::<Option<i16>, _>(i)
                        .map_err(get_err)?
                        .map(|v| Value::Integer(v.into())),
                    "INT4" => row
                        .try_get::<Option<i32>, _>(i)
                        .map_err(get_err)?
                        .map(|v| Value::Integer(v.into())),
                    "INT8" => row
                        .try_get::<Option<i64>, _>(i)
                        .map_err(get_err)?
                        .map(Value::Integer),
                    "NUMERIC" => row
                        .try_get::<Option<Decimal>, _>(i)
                        .map_err(get_err)?
                        .map(|d| Value::Number(to_wit_decimal(d))),
                    "BYTEA" => row
                        .try_get::<Option<Vec<u8>>, _>(i)
                        .map_err(get_err)?
                        .map(Value::Bytes),
                    "DATE" => row
                        .try_get::<Option<NaiveDate>, _>(i)
                        .map_err(get_err)?
                        .map(|d| Value::Date(to_wit_date(d))),
                    "TIMESTAMP" => row
                        .try_get::<Option<NaiveDateTime>, _>(i)
                        .map_err(get_err)?
                        .map(|t| Value::Timestamp(to_wit_ts(t))),
                    "TIMESTAMPTZ" => row
                        .try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(i)
                        .map_err(get_err)?
                        .map(|t| Value::Timestamp(to_wit_ts(t.naive_utc()))),
                    "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => row
                        .try_get::<Option<String>, _>(i)
                        .map_err(get_err)?
                        .map(Value::Text),
                    other => {
                        return Err(types::Error::Unsupported(format!(
                            "column `{}` has type {other}; cast it to text or numeric in the query",
                            col.name()
                        )));
                    }
                };
                values.push(v.unwrap_or(Value::Null));
            }
            out.push(values);
        }
        Ok(Rows { columns, rows: out })
    }

    async fn sqlserver(
        &self,
        ado: &str,
        statement: &str,
        params: Vec<Value>,
        max_rows: usize,
    ) -> Result<Rows, types::Error> {
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
        let mut client = client.lock().await;
        let result = run_tds(&mut client, statement, &params, max_rows).await;
        if matches!(result, Err(types::Error::Unavailable(_))) {
            // The connection may be dead; the next query reconnects.
            self.sqlserver.lock().await.remove(ado);
        }
        result
    }
}

async fn connect_tds(ado: &str) -> Result<TdsClient, types::Error> {
    use tokio_util::compat::TokioAsyncWriteCompatExt;
    let config = tiberius::Config::from_ado_string(ado)
        .map_err(|e| invalid("connection", &e.to_string()))?;
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

async fn run_tds(
    client: &mut TdsClient,
    statement: &str,
    params: &[Value],
    max_rows: usize,
) -> Result<Rows, types::Error> {
    use tiberius::ToSql;
    let mut owned: Vec<Box<dyn ToSql>> = Vec::with_capacity(params.len());
    for p in params {
        owned.push(match p {
            Value::Null => Box::new(Option::<String>::None),
            Value::Boolean(b) => Box::new(*b),
            Value::Integer(i) => Box::new(*i),
            Value::Number(d) => Box::new(from_wit_decimal(d)?),
            Value::Text(t) => Box::new(t.clone()),
            Value::Bytes(b) => Box::new(b.clone()),
            Value::Date(d) => Box::new(from_wit_date(d)?),
            Value::Timestamp(t) => Box::new(
                chrono::DateTime::from_timestamp(t.seconds, t.nanoseconds)
                    .ok_or_else(|| invalid("params", "timestamp out of range"))?
                    .naive_utc(),
            ),
        });
    }
    let refs: Vec<&dyn ToSql> = owned.iter().map(|b| b.as_ref()).collect();
    // Without parameters a plain SQL batch does; with them, tiberius goes
    // through sp_executesql so values never become SQL text.
    let stream = if refs.is_empty() {
        client.simple_query(statement).await
    } else {
        client.query(statement, &refs).await
    }
    .map_err(tds_error)?;
    let rows = stream.into_first_result().await.map_err(tds_error)?;
    if rows.len() > max_rows {
        return Err(invalid(
            "statement",
            &format!("returned more than {max_rows} rows"),
        ));
    }
    let columns = rows
        .first()
        .map(|r| r.columns().iter().map(|c| c.name().to_string()).collect())
        .unwrap_or_default();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(
            row.into_iter()
                .map(tds_value)
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    Ok(Rows { columns, rows: out })
}

fn tds_error(e: tiberius::error::Error) -> types::Error {
    match e {
        tiberius::error::Error::Server(token) => types::Error::Other(token.message().to_string()),
        other => unavailable(other),
    }
}

fn tds_value(data: tiberius::ColumnData<'static>) -> Result<Value, types::Error> {
    use tiberius::ColumnData as C;
    let sql_epoch = |days: i64| {
        NaiveDate::from_ymd_opt(1, 1, 1)
            .and_then(|d| d.checked_add_signed(chrono::Duration::days(days)))
    };
    Ok(match data {
        C::U8(v) => v.map_or(Value::Null, |v| Value::Integer(v.into())),
        C::I16(v) => v.map_or(Value::Null, |v| Value::Integer(v.into())),
        C::I32(v) => v.map_or(Value::Null, |v| Value::Integer(v.into())),
        C::I64(v) => v.map_or(Value::Null, Value::Integer),
        // Floats are not money; they arrive as their shortest exact decimal.
        C::F32(v) => v.map_or(Ok(Value::Null), |v| float_value(v.into()))?,
        C::F64(v) => v.map_or(Ok(Value::Null), float_value)?,
        C::Bit(v) => v.map_or(Value::Null, Value::Boolean),
        C::String(v) => v.map_or(Value::Null, |s| Value::Text(s.into_owned())),
        C::Guid(v) => v.map_or(Value::Null, |g| Value::Text(g.to_string())),
        C::Binary(v) => v.map_or(Value::Null, |b| Value::Bytes(b.into_owned())),
        C::Numeric(v) => match v {
            None => Value::Null,
            Some(n) => Value::Number(to_wit_decimal(
                Decimal::try_from_i128_with_scale(n.value(), n.scale().into())
                    .map_err(|e| types::Error::Other(format!("numeric out of range: {e}")))?,
            )),
        },
        C::Xml(v) => v.map_or(Value::Null, |x| Value::Text(x.as_ref().to_string())),
        C::Date(v) => match v.and_then(|d| sql_epoch(d.days().into())) {
            Some(d) => Value::Date(to_wit_date(d)),
            None => Value::Null,
        },
        C::DateTime(v) => match v {
            None => Value::Null,
            Some(dt) => {
                let date = NaiveDate::from_ymd_opt(1900, 1, 1)
                    .and_then(|d| d.checked_add_signed(chrono::Duration::days(dt.days().into())));
                let nanos = i64::from(dt.seconds_fragments()) * 1_000_000_000 / 300;
                match date {
                    Some(d) => Value::Timestamp(to_wit_ts(
                        d.and_time(NaiveTime::MIN) + chrono::Duration::nanoseconds(nanos),
                    )),
                    None => Value::Null,
                }
            }
        },
        C::SmallDateTime(v) => match v {
            None => Value::Null,
            Some(dt) => {
                let date = NaiveDate::from_ymd_opt(1900, 1, 1)
                    .and_then(|d| d.checked_add_signed(chrono::Duration::days(dt.days().into())));
                match date {
                    Some(d) => Value::Timestamp(to_wit_ts(
                        d.and_time(NaiveTime::MIN)
                            + chrono::Duration::minutes(dt.seconds_fragments().into()),
                    )),
                    None => Value::Null,
                }
            }
        },
        C::DateTime2(v) => match v {
            None => Value::Null,
            Some(dt) => {
                let t = dt.time();
                let nanos = t.increments() as i128 * 10i128.pow(9 - u32::from(t.scale()));
                match sql_epoch(dt.date().days().into()) {
                    Some(d) => Value::Timestamp(to_wit_ts(
                        d.and_time(NaiveTime::MIN) + chrono::Duration::nanoseconds(nanos as i64),
                    )),
                    None => Value::Null,
                }
            }
        },
        other => {
            return Err(types::Error::Unsupported(format!(
                "SQL Server column type {other:?} is not supported; cast it in the query"
            )));
        }
    })
}

fn float_value(v: f64) -> Result<Value, types::Error> {
    Decimal::from_f64_retain(v)
        .map(|d| Value::Number(to_wit_decimal(d.normalize())))
        .ok_or_else(|| types::Error::Other(format!("float {v} does not fit a decimal")))
}

fn invalid(field: &str, message: &str) -> types::Error {
    types::Error::InvalidInput(types::FieldError {
        field: field.into(),
        message: message.into(),
    })
}

/// WIT `decimal` → `rust_decimal::Decimal`, refusing out-of-range parts.
pub fn from_wit_decimal(d: &types::Decimal) -> Result<Decimal, types::Error> {
    if d.scale > 28 {
        return Err(invalid("decimal.scale", "must be 0..=28"));
    }
    let lo = d.mantissa_lo as u32;
    let mid = (d.mantissa_lo >> 32) as u32;
    Ok(Decimal::from_parts(
        lo,
        mid,
        d.mantissa_hi,
        d.negative,
        d.scale.into(),
    ))
}

/// `rust_decimal::Decimal` → WIT `decimal`, exactly.
pub fn to_wit_decimal(d: Decimal) -> types::Decimal {
    let m = d.mantissa().unsigned_abs();
    types::Decimal {
        mantissa_lo: m as u64,
        mantissa_hi: (m >> 64) as u32,
        negative: d.is_sign_negative(),
        scale: d.scale() as u8,
    }
}

fn from_wit_date(d: &types::Date) -> Result<NaiveDate, types::Error> {
    NaiveDate::from_ymd_opt(d.year, d.month.into(), d.day.into())
        .ok_or_else(|| invalid("date", "not a calendar date"))
}

fn to_wit_date(d: NaiveDate) -> types::Date {
    types::Date {
        year: d.year(),
        month: d.month() as u8,
        day: d.day() as u8,
    }
}

fn to_wit_ts(t: NaiveDateTime) -> types::Timestamp {
    let utc = t.and_utc();
    types::Timestamp {
        seconds: utc.timestamp(),
        nanoseconds: t.nanosecond(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_selects() {
        assert!(check_read_only("select 1").is_ok());
        assert!(check_read_only("  -- c\n /* x */ WITH a AS (SELECT 1) SELECT * FROM a;").is_ok());
        for bad in [
            "DELETE FROM t",
            "select 1; drop table t",
            "update t set a=1",
            "/* */",
            "exec sp_x",
        ] {
            assert!(check_read_only(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decimals_round_trip() {
        for s in [
            "0",
            "-1.5",
            "123456789012345678901234.5678",
            "79228162514264337593543950335",
            "-0.0000000000000000000000000001",
        ] {
            let d: Decimal = s.parse().unwrap();
            assert_eq!(from_wit_decimal(&to_wit_decimal(d)).unwrap(), d, "{s}");
        }
        let bad = types::Decimal {
            mantissa_lo: 1,
            mantissa_hi: 0,
            negative: false,
            scale: 29,
        };
        assert!(from_wit_decimal(&bad).is_err());
    }
}
