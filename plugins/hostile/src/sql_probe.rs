//! The SQL probes: the raw text a hostile plugin would like to run, and
//! calls of its declared statements by name, each reported as JSON.
//!
//! Parameters come from the query string as `p1`, `p2`, `p3`: a value that
//! parses as an integer is sent as one, anything else as text.

use hamgam_sdk::sql::{self, Rows, Value};
use hamgam_sdk::{HttpRequest, Result};
use serde_json::{Value as Json, json};

fn params(request: &HttpRequest) -> Vec<Value> {
    ["p1", "p2", "p3"]
        .iter()
        .map_while(|name| request.query(name))
        .map(|v| match v.parse::<i64>() {
            Ok(n) => Value::Integer(n),
            Err(_) => Value::Text(v),
        })
        .collect()
}

fn cell(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Boolean(b) => json!(b),
        Value::Integer(n) => json!(n),
        Value::Text(t) => json!(t),
        Value::Bytes(b) => json!({ "bytes": b.len() }),
        other => json!(format!("{other:?}")),
    }
}

fn error(e: hamgam_sdk::Error) -> Json {
    json!({ "error": e.message(), "code": e.code() })
}

fn rows(result: Result<Rows>) -> Json {
    match result {
        Ok(rows) => json!({
            "columns": rows.columns,
            "rows": rows
                .rows
                .iter()
                .map(|r| r.iter().map(cell).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
        }),
        Err(e) => error(e),
    }
}

/// `/sql-text?db=D&sql=S`: SQL text of the plugin's own, through the 0.1.0 call.
pub fn text(request: &HttpRequest) -> Json {
    let db = request.query("db").unwrap_or_default();
    let statement = request.query("sql").unwrap_or_default();
    rows(sql::query(&db, &statement, &params(request)))
}

/// `/sql-read?db=D&name=N&p1=…`: a declared read by name.
pub fn read(request: &HttpRequest) -> Json {
    let db = request.query("db").unwrap_or_default();
    let name = request.query("name").unwrap_or_default();
    rows(sql::read(&db, &name, &params(request)))
}

/// `/sql-write?db=D&name=N&p1=…`: a declared write by name.
pub fn write(request: &HttpRequest) -> Json {
    let db = request.query("db").unwrap_or_default();
    let name = request.query("name").unwrap_or_default();
    match sql::write(&db, &name, &params(request)) {
        Ok(n) => json!({ "affected": n }),
        Err(e) => error(e),
    }
}
