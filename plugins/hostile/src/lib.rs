//! TEST ONLY: a module that misbehaves on request, so the host's sandbox
//! tests can prove each limit and each capability check holds.
//!
//! `handle-request` dispatches on the path; query values are
//! percent-decoded. Every probe answers 200 with JSON and reports failures
//! in the body rather than as an error, so a test sees exactly what the
//! guest saw.
//!
//! | path | behaviour |
//! |---|---|
//! | `/ok` | 200 `ok` |
//! | `/loop` | spins forever (epoch deadline test) |
//! | `/alloc` | allocates and touches 1 MiB chunks forever (memory limit) |
//! | `/recurse` | unbounded non-tail recursion (stack limit) |
//! | `/panic` | `panic!("hostile panic")` (trap) |
//! | `/http?url=U` | GET U: `{"status":N}` or `{"error":"…"}` |
//! | `/http-follow?url=U` | GET U, follow one redirect by hand, report the final outcome |
//! | `/file-read?path=P` | `{"len":N}` or `{"error":"…"}` |
//! | `/file-write?path=P&data=D` | `{"ok":true}` or `{"error":"…"}` |
//! | `/state-get?key=K` | `{"value":"…"}` or `{"value":null}` |
//! | `/state-set?key=K&value=V` | `{"ok":true}` or `{"error":"…"}` |
//! | `/config?key=K` | `{"value":"…"}` or `{"value":null}` |
//! | `/secret?name=N` | `{"value":"…"}` or `{"error":"…"}` |
//! | `/sleep-loop?ms=N` | busy-waits on the host clock for N ms, then 200 |
//! | `/http-post?url=U&bytes=N[&declare=1]` | POST N bytes to U, with a `Content-Length` if `declare`: `{"status":N}` or `{"error":"…"}` |
//! | `/log?msg=M` | logs M at info level: `{"ok":true}` |
//! | `/stderr?msg=M` | writes M and a newline to stderr: `{"ok":true}` |
//! | `/record-put?type=T&id=I&body=B` | stores a module record: `{"ok":true}` or `{"error":"…"}` |
//! | `/record-get?type=T&id=I` | `{"body":"…"}`, `{"body":null}` or `{"error":"…"}` |
//! | `/record-list?type=T` | `{"ids":[…]}` or `{"error":"…"}` |
//! | `/respond?status=N&header=name:value…` | answers status N with those headers, body `hostile` |
//! | `/sql-text?db=D&sql=S` | SQL text of its own through the 0.1.0 `sql.query`: rows or `{"error":…}` |
//! | `/sql-read?db=D&name=N&p1=…` | a declared read by name: `{"columns":…,"rows":…}` or `{"error":…}` |
//! | `/sql-write?db=D&name=N&p1=…` | a declared write by name: `{"affected":N}` or `{"error":…}` |
//! | `/record-query?type=T[&field=F&value=V][&after=A][&limit=N]` | a typed query: `{"ids":[…],"bodies":[…],"next":…}` or `{"error":"…","field":"…"}` |
//! | `/emit?name=N&payload=P` | emits event N: `{"ok":true}` or `{"error":"…"}` |
//! | `/events` | the events `on-event` took, in order (the first 200): `{"events":[{"id","name","subject"}…]}` |
//!
//! Events: it subscribes to `party.*` and `module.hostile.*` and keeps each
//! event it takes in its state (`events`, the first 200) and a tally per
//! subject (`p:<subject>`: last place, count, sum of ids), taking each
//! event's effect once however often it is handed over. While the state key
//! `fail` holds an event's subject (or `*`), it refuses that subject's
//! events.

use std::hint::black_box;

use hamgam_sdk::crm::{self, ModuleRecord};
use hamgam_sdk::http;
use hamgam_sdk::{
    Error, Event, EventEnvelope, HttpRequest, HttpResponse, Module, ModuleInfo, Result, Route,
    clock, config, state,
};
use serde_json::{Value, json};

mod sql_probe;

const ROUTES: &[&str] = &[
    "/ok",
    "/loop",
    "/alloc",
    "/recurse",
    "/panic",
    "/http",
    "/http-follow",
    "/file-read",
    "/file-write",
    "/state-get",
    "/state-set",
    "/config",
    "/secret",
    "/sleep-loop",
    "/http-post",
    "/log",
    "/stderr",
    "/record-put",
    "/record-get",
    "/record-list",
    "/respond",
    "/sql-text",
    "/sql-read",
    "/sql-write",
    "/record-query",
    "/emit",
    "/events",
    "/entity",
];

/// Every probe takes any method: a test picks the one it needs.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

struct Hostile;

/// A refusal as the probes report it: the field too, where one is named.
fn error_json(e: &Error) -> Value {
    match e {
        Error::InvalidInput(f) => json!({ "error": f.message, "field": f.field }),
        other => json!({ "error": other.message() }),
    }
}

/// Events kept by name and subject for `/events` (the rest only count).
const KEPT: usize = 200;

/// What `on-event` has taken of one subject (state key `p:<subject>`):
/// the last place, how many, the sum of ids.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Progress {
    last_seq: i64,
    count: i64,
    id_sum: i64,
}

/// The first [`KEPT`] events `on-event` took.
fn taken() -> Vec<Value> {
    state::get("events")
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

impl Module for Hostile {
    fn describe() -> ModuleInfo {
        ModuleInfo {
            record_types: Vec::new(),
            routes: ROUTES
                .iter()
                .flat_map(|path| METHODS.iter().map(|m| Route::new(m, path)))
                .collect(),
            subscriptions: vec!["party.*".into(), "module.hostile.*".into()],
        }
    }

    fn on_event(event: Event) -> Result<()> {
        let delivery: EventEnvelope<Value> = event.envelope()?;
        let fail = state::get("fail")
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        if !fail.is_empty() && (fail == "*" || fail == delivery.subject) {
            return Err(Error::Other(format!("told to fail {}", delivery.subject)));
        }
        // Exactly-once effect over at-least-once delivery: a subject's
        // events come in log order, so one handed again is one at or
        // before the last place taken for its subject. That place, the
        // count and the sum of ids are one state value per subject,
        // written at once: a crash leaves them all before or all after.
        let key = format!("p:{}", delivery.subject);
        let mut progress: Progress = state::get(&key)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if delivery.seq <= progress.last_seq {
            return Ok(());
        }
        progress.last_seq = delivery.seq;
        progress.count += 1;
        progress.id_sum += delivery.id;
        if state::get("full").is_none() {
            let mut seen = taken();
            if seen.len() < KEPT {
                seen.push(json!({ "id": delivery.id, "name": delivery.name, "subject": delivery.subject }));
                state::set("events", json!(seen).to_string().as_bytes())?;
            } else {
                state::set("full", b"1")?;
            }
        }
        state::set(&key, json!(progress).to_string().as_bytes())
    }

    /// `note` version 1 → 2: the owner becomes a required field. A note
    /// about `unmigratable` is refused, so the tests see a failed
    /// migration keep the older version.
    fn migrate_record(record_type: String, from_version: u32, body: String) -> Result<String> {
        let mut note: Value = serde_json::from_str(&body)
            .map_err(|e| Error::Other(format!("stored {record_type} is not JSON: {e}")))?;
        if note["topic"] == "unmigratable" {
            return Err(Error::Other(format!(
                "cannot migrate this {record_type} from version {from_version}"
            )));
        }
        if note.get("owner").is_none() {
            note["owner"] = json!("migrated");
        }
        Ok(note.to_string())
    }

    fn handle_request(request: HttpRequest) -> Result<HttpResponse> {
        let arg = |name: &str| request.query(name).unwrap_or_default();
        let body = match request.path_only() {
            "/ok" => return Ok(HttpResponse::text(200, "ok")),
            "/loop" => spin(),
            "/alloc" => hoard(),
            "/recurse" => json!({ "depth": recurse(black_box(0)) }),
            "/panic" => panic!("hostile panic"),
            "/http" => outcome(http::get(&arg("url"))),
            "/http-follow" => outcome(follow_once(&arg("url"))),
            "/file-read" => match std::fs::read_to_string(arg("path")) {
                Ok(text) => json!({ "len": text.len() }),
                Err(e) => json!({ "error": e.to_string() }),
            },
            "/file-write" => match std::fs::write(arg("path"), arg("data")) {
                Ok(()) => json!({ "ok": true }),
                Err(e) => json!({ "error": e.to_string() }),
            },
            "/state-get" => match state::get(&arg("key")) {
                Some(bytes) => json!({ "value": String::from_utf8_lossy(&bytes) }),
                None => json!({ "value": null }),
            },
            "/state-set" => match state::set(&arg("key"), arg("value").as_bytes()) {
                Ok(()) => json!({ "ok": true }),
                Err(e) => json!({ "error": e.message() }),
            },
            "/config" => json!({ "value": config::get(&arg("key")) }),
            "/secret" => match config::secret(&arg("name")) {
                Ok(value) => json!({ "value": value }),
                Err(e) => json!({ "error": e.message() }),
            },
            "/sleep-loop" => {
                let ms: i64 = arg("ms").parse().unwrap_or(0);
                let start = clock::now_millis();
                let mut spins = 0u64;
                while clock::now_millis() - start < ms {
                    spins = black_box(spins + 1);
                }
                json!({ "slept_ms": clock::now_millis() - start, "spins": spins })
            }
            "/http-post" => {
                let size: usize = arg("bytes").parse().unwrap_or(0);
                let mut post = http::Request::post(arg("url")).body(vec![b'x'; size]);
                if arg("declare") == "1" {
                    post = post.header("Content-Length", size.to_string());
                }
                outcome(http::send(post))
            }
            "/record-query" => {
                let filters: Vec<(String, String)> = request
                    .query("field")
                    .map(|f| vec![(f, arg("value"))])
                    .unwrap_or_default();
                let filters: Vec<(&str, &str)> = filters
                    .iter()
                    .map(|(f, v)| (f.as_str(), v.as_str()))
                    .collect();
                let after = request.query("after");
                let limit = arg("limit").parse().unwrap_or(100);
                match crm::query_records::<Value>(&arg("type"), &filters, after.as_deref(), limit) {
                    Ok((items, next)) => json!({
                        "ids": items.iter().map(|(id, _)| id).collect::<Vec<_>>(),
                        "bodies": items.iter().map(|(_, b)| b).collect::<Vec<_>>(),
                        "next": next,
                    }),
                    Err(e) => error_json(&e),
                }
            }
            "/emit" => match crm::emit(&arg("name"), &arg("payload")) {
                Ok(()) => json!({ "ok": true }),
                Err(e) => json!({ "error": e.message() }),
            },
            "/events" => json!({ "events": taken() }),
            "/log" => {
                hamgam_sdk::log::info(&arg("msg"));
                json!({ "ok": true })
            }
            "/stderr" => {
                eprintln!("{}", arg("msg"));
                json!({ "ok": true })
            }
            "/record-put" => {
                let record = ModuleRecord {
                    record_type: arg("type"),
                    id: arg("id"),
                    body: arg("body"),
                };
                match crm::put_record(&record) {
                    Ok(()) => json!({ "ok": true }),
                    Err(e) => error_json(&e),
                }
            }
            "/record-get" => match crm::get_record(&arg("type"), &arg("id")) {
                Ok(Some(record)) => json!({ "body": record.body }),
                Ok(None) => json!({ "body": null }),
                Err(e) => json!({ "error": e.message() }),
            },
            "/record-list" => match crm::list_records(&arg("type"), "", 1000) {
                Ok(records) => {
                    json!({ "ids": records.into_iter().map(|r| r.id).collect::<Vec<_>>() })
                }
                Err(e) => json!({ "error": e.message() }),
            },
            "/respond" => {
                let status: u16 = arg("status").parse().unwrap_or(200);
                let headers = request
                    .query_pairs()
                    .into_iter()
                    .filter(|(k, _)| k == "header")
                    .filter_map(|(_, v)| {
                        let (name, value) = v.split_once(':')?;
                        Some((name.to_owned(), value.trim_start().to_owned()))
                    })
                    .collect();
                return Ok(HttpResponse {
                    status,
                    headers,
                    body: b"hostile".to_vec(),
                });
            }
            "/entity" => entity_probe(&request),
            "/sql-text" => sql_probe::text(&request),
            "/sql-read" => sql_probe::read(&request),
            "/sql-write" => sql_probe::write(&request),
            other => {
                return Ok(HttpResponse::json(
                    404,
                    &json!({ "error": format!("no route {other}") }),
                ));
            }
        };
        Ok(HttpResponse::json(200, &body))
    }
}

hamgam_sdk::export_module!(Hostile);

/// Never returns; `black_box` keeps the optimiser from proving the loop
/// has no effect and deleting it.
fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// Allocates 1 MiB chunks forever, writing to each so the pages are really
/// committed rather than lazily mapped.
fn hoard() -> ! {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        for page in chunk.chunks_mut(4096) {
            page[0] = black_box(1);
        }
        chunks.push(black_box(chunk));
    }
}

/// Recursion with work after the call (not a tail call) and a stack
/// buffer per frame, so the stack grows until the host's limit traps.
fn recurse(depth: u64) -> u64 {
    // An exit the optimiser cannot see through, so the recursion is not
    // flagged (or folded) as unconditional; it is never taken.
    if black_box(depth) == u64::MAX {
        return 0;
    }
    let frame = black_box([depth; 16]);
    let below = recurse(black_box(depth + 1));
    black_box(below.wrapping_add(frame[(depth % 16) as usize]))
}

/// GET `url`; on a 3xx follow `Location` once with a second request, which
/// the host checks against the grant again.
fn follow_once(url: &str) -> Result<http::Response> {
    let first = http::get(url)?;
    if !first.is_redirect() {
        return Ok(first);
    }
    match first.location() {
        Some(location) => http::get(&resolve(url, location)),
        None => Ok(first),
    }
}

/// A `Location` may be absolute or relative to the origin.
fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let origin_end = base
        .find("://")
        .and_then(|i| base[i + 3..].find('/').map(|j| i + 3 + j))
        .unwrap_or(base.len());
    format!(
        "{}/{}",
        &base[..origin_end],
        location.trim_start_matches('/')
    )
}

fn outcome(result: Result<http::Response>) -> Value {
    match result {
        Ok(response) => json!({ "status": response.status }),
        Err(e) => json!({ "error": e.message() }),
    }
}

/// `/entity?op=get|create|update|decide|query&kind=party&id=…`: one call
/// of `hamgam:crm/entities`, its answer or its error as JSON, so the tests
/// can walk every operation on every kind with and without the grant.
fn entity_probe(request: &HttpRequest) -> serde_json::Value {
    use hamgam_sdk::crm::Kind;
    let arg = |name: &str| request.query(name).unwrap_or_default();
    let kind = match arg("kind").as_str() {
        "party" => Kind::Party,
        "product" => Kind::Product,
        "quote" => Kind::Quote,
        "sales-order" => Kind::SalesOrder,
        "sales-invoice" => Kind::SalesInvoice,
        "sales-return" => Kind::SalesReturn,
        "purchase-invoice" => Kind::PurchaseInvoice,
        "purchase-return" => Kind::PurchaseReturn,
        "correction-note" => Kind::CorrectionNote,
        "receipt" => Kind::Receipt,
        "payment" => Kind::Payment,
        other => return json!({ "error": { "probe": format!("no kind {other}") } }),
    };
    let id: i64 = arg("id").parse().unwrap_or(0);
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or(json!({}));
    let answer: hamgam_sdk::Result<serde_json::Value> = match arg("op").as_str() {
        "get" => crm::get(kind, id).map(|r: Option<serde_json::Value>| json!(r)),
        "create" => crm::create(kind, &body),
        "update" => crm::update(kind, id, &body),
        "decide" => crm::decide(kind, id, arg("approve") == "1"),
        "query" => {
            let pairs: Vec<(String, String)> = request
                .query_pairs()
                .into_iter()
                .filter(|(k, _)| k == "filter")
                .filter_map(|(_, v)| {
                    let (n, val) = v.split_once(':')?;
                    Some((n.to_owned(), val.to_owned()))
                })
                .collect();
            let filters: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let after: i64 = arg("after").parse().unwrap_or(0);
            let limit: u32 = arg("limit").parse().unwrap_or(50);
            crm::query::<serde_json::Value>(kind, &filters, after, limit)
                .map(|(items, next)| json!({ "items": items, "next_after": next }))
        }
        other => return json!({ "error": { "probe": format!("no op {other}") } }),
    };
    match answer {
        Ok(record) => json!({ "record": record }),
        Err(hamgam_sdk::Error::InvalidInput(f)) => {
            json!({ "error": { "invalid": f.field, "message": f.message } })
        }
        Err(hamgam_sdk::Error::Denied(m)) => json!({ "error": { "denied": m } }),
        Err(hamgam_sdk::Error::NotFound(m)) => json!({ "error": { "not_found": m } }),
        Err(hamgam_sdk::Error::Conflict(m)) => json!({ "error": { "conflict": m } }),
        Err(e) => json!({ "error": { "other": e.message() } }),
    }
}
