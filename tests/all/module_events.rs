//! The event log and its delivery to modules (issue 15 §2; S20, C6):
//! every committed CRM change is an event written with it; a subscribed
//! module gets each event at least once, in order, from a cursor that
//! survives a restart; a failing event is retried, parked and retried
//! through the API while the rest flows.

use crate::api::{send, state_with};
use crate::licensing::ManualClock;
use axum::http::StatusCode;
use hamgam::api::{AppState, app};
use hamgam::events::{Dispatcher, PassReport, RetryPolicy};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const SUBSCRIBED: &str = r#"
[tenants.acme.instances.hostile]
plugin = "hostile"
enabled = true
grants = { state = true, crm = "read-write" }
[tenants.globex.instances.hostile]
plugin = "hostile"
enabled = true
grants = { state = true, crm = "read-write" }
"#;

const POLICY: RetryPolicy = RetryPolicy {
    attempts: 3,
    first_delay: Duration::from_secs(10),
    max_delay: Duration::from_secs(60),
};

struct World {
    app: axum::Router,
    state: AppState,
    clock: Arc<ManualClock>,
    events: Arc<Dispatcher>,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let (state, dir) = state_with(SUBSCRIBED, &["hostile"]).await;
    let clock = ManualClock::new();
    let events = Dispatcher::new(state.shared().clone(), clock.clone(), POLICY);
    World {
        app: app(state.clone()),
        state,
        clock,
        events,
        _dir: dir,
    }
}

impl World {
    async fn call(&self, method: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        send(
            &self.app,
            method,
            path,
            Some("acme-token"),
            &body.to_string(),
        )
        .await
    }

    async fn party(&self, number: &str) -> i64 {
        let (status, created) = self
            .call("POST", "/api/v1/tenants/acme/parties", &party(number))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created["id"].as_i64().expect("an id")
    }

    async fn pass(&self) -> PassReport {
        self.events.run_once().await.expect("a pass")
    }

    /// What the module took, as (name, subject).
    async fn taken(&self) -> Vec<(String, String)> {
        let (status, body) = self
            .call(
                "GET",
                "/api/v1/tenants/acme/modules/hostile/events",
                &json!(null),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["events"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|e| (text(&e["name"]), text(&e["subject"])))
            .collect()
    }

    async fn module(&self, query: &str) -> Value {
        let path = format!("/api/v1/tenants/acme/modules/hostile/{query}");
        let (status, body) = self.call("GET", &path, &json!(null)).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        body
    }

    async fn held(&self, status: &str) -> Vec<Value> {
        let path = format!("/api/v1/tenants/acme/events/held?status={status}");
        let (code, body) = self.call("GET", &path, &json!(null)).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        body["items"].as_array().expect("items").clone()
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn party(number: &str) -> Value {
    json!({
        "kind": "person",
        "first_name": "مریم",
        "last_name": "احمدی",
        "customer_number": number,
    })
}

fn created(id: i64) -> (String, String) {
    ("party.created".into(), format!("party:{id}"))
}

#[tokio::test]
async fn s20_every_committed_crm_change_is_an_event_written_with_it() {
    let w = world().await;
    let id = w.party("1001-300").await;
    let mut edited = party("1001-300");
    edited["last_name"] = json!("احمدی‌نژاد");
    let (status, body) = w
        .call(
            "PUT",
            &format!("/api/v1/tenants/acme/parties/{id}"),
            &edited,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Refused: a customer number without its company code. Nothing of it
    // may reach the log.
    let (status, body) = w
        .call("POST", "/api/v1/tenants/acme/parties", &party("1002"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = w
        .call(
            "DELETE",
            &format!("/api/v1/tenants/acme/parties/{id}"),
            &json!(null),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    w.pass().await;

    let (status, log) = w
        .call("GET", "/api/v1/tenants/acme/events?after=0", &json!(null))
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let items = log["items"].as_array().expect("items");
    let names: Vec<String> = items.iter().map(|e| text(&e["name"])).collect();
    assert_eq!(
        names,
        ["party.created", "party.updated", "party.deleted"],
        "{log}"
    );
    for e in items {
        assert_eq!(e["subject"], format!("party:{id}"));
        assert_eq!(e["actor"], "api:acme", "the audit trail's actor");
    }
    let data: Value = serde_json::from_str(items[1]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(data["before"]["last_name"], "احمدی", "{data}");
    assert_eq!(data["after"]["last_name"], "احمدی‌نژاد", "{data}");
    let seqs: Vec<i64> = items.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");

    // Another tenant's log does not show them.
    let (status, other) = send(
        &w.app,
        "GET",
        "/api/v1/tenants/globex/events",
        Some("globex-token"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(other["items"], json!([]), "{other}");

    let (status, bad) = w
        .call("GET", "/api/v1/tenants/acme/events?after=-1", &json!(null))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["error"]["field"], "after", "{bad}");
}

#[tokio::test]
async fn s20_a_subscriber_gets_each_event_once_in_order_and_keeps_its_place_over_a_restart() {
    let w = world().await;
    let a = w.party("2001-300").await;
    let b = w.party("2002-300").await;
    let emitted = w
        .module("emit?name=stock_counted&payload=%7B%22id%22%3A7%7D")
        .await;
    assert_eq!(emitted, json!({ "ok": true }));
    let report = w.pass().await;
    assert_eq!(report.delivered, 3, "{report:?}");
    let first = vec![
        created(a),
        created(b),
        (
            "module.hostile.stock_counted".into(),
            "module:hostile:7".into(),
        ),
    ];
    assert_eq!(w.taken().await, first);

    // A second pass hands nothing again.
    let again = w.pass().await;
    assert_eq!(again.delivered, 0, "{again:?}");
    assert_eq!(w.taken().await, first);

    // The host restarts: a new dispatcher over the same database goes on
    // from the module's cursor.
    let restarted = Dispatcher::new(w.state.shared().clone(), w.clock.clone(), POLICY);
    let c = w.party("2003-300").await;
    let report = restarted.run_once().await.unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    let mut expected = first.clone();
    expected.push(created(c));
    assert_eq!(w.taken().await, expected);

    // A module names its events in its own namespace only, with a JSON
    // payload: what subscribers would otherwise choke on is refused.
    let bad_name = w.module("emit?name=Party%20Created&payload=%7B%7D").await;
    assert!(text(&bad_name["error"]).contains("name"), "{bad_name}");
    let bad_payload = w.module("emit?name=ok&payload=not-json").await;
    assert!(
        text(&bad_payload["error"]).contains("payload"),
        "{bad_payload}"
    );
}

#[tokio::test]
async fn s20_a_failing_event_is_retried_then_parked_holds_back_only_its_subject_and_is_retried_through_the_api()
 {
    let w = world().await;
    let a = w.party("3001-300").await;
    w.module(&format!("state-set?key=fail&value=party:{a}"))
        .await;
    let first = w.pass().await;
    assert_eq!((first.delivered, first.failed), (0, 1), "{first:?}");

    // Another record goes through; a's later change waits behind its
    // failing creation.
    let b = w.party("3002-300").await;
    let mut edited = party("3001-300");
    edited["first_name"] = json!("مینا");
    let (status, body) = w
        .call("PUT", &format!("/api/v1/tenants/acme/parties/{a}"), &edited)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = w.pass().await;
    assert_eq!((second.delivered, second.held), (1, 1), "{second:?}");
    assert_eq!(w.taken().await, vec![created(b)]);

    // Not due yet: nothing is tried.
    let early = w.pass().await;
    assert_eq!(early.failed + early.parked, 0, "{early:?}");
    // Tried again after 10 s, then after 20 s more: the third try parks it.
    let start = chrono::Utc::now();
    w.clock.set(start + chrono::Duration::seconds(11));
    assert_eq!(w.pass().await.failed, 1);
    w.clock.set(start + chrono::Duration::seconds(32));
    assert_eq!(w.pass().await.parked, 1);

    let parked = w.held("parked").await;
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0]["name"], "party.created");
    assert_eq!(parked[0]["subject"], format!("party:{a}"));
    assert_eq!(parked[0]["attempts"], 3);
    assert_eq!(
        parked[0]["last_error"],
        format!("told to fail party:{a}"),
        "the module's own message"
    );
    let held = w.held("held").await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["name"], "party.updated");
    w.clock.set(start + chrono::Duration::hours(1));
    assert_eq!(w.pass().await.delivered, 0, "parked stays parked");

    // Only a parked event can be retried, and only one that exists.
    let event_id = parked[0]["event_id"].as_i64().unwrap();
    let held_id = held[0]["event_id"].as_i64().unwrap();
    let retry = |id: i64| format!("/api/v1/tenants/acme/events/held/hostile/{id}/retry");
    let (status, body) = w.call("POST", &retry(held_id), &json!(null)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = w.call("POST", &retry(999_999), &json!(null)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // The module is fixed; the operator retries; a's events arrive in
    // their order.
    w.module("state-set?key=fail&value=").await;
    let (status, body) = w.call("POST", &retry(event_id), &json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "retrying", "{body}");
    w.pass().await;
    w.pass().await;
    assert_eq!(
        w.taken().await,
        vec![
            created(b),
            created(a),
            ("party.updated".into(), format!("party:{a}"))
        ]
    );
    assert!(w.held("parked").await.is_empty());
    assert!(w.held("held").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s20_on_both_databases_a_cursor_over_the_log_takes_every_committed_event_once_under_concurrent_writers()
 {
    use hamgam::crm::kinds::EventHold;
    use hamgam::store::event::{self, Hold};
    crate::common::for_each_db(async |db: hamgam::store::Db| {
        const WRITERS: usize = 4;
        const EACH: usize = 40;
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let actor = hamgam::crm::Actor::api("acme");
                for i in 0..EACH {
                    let input = serde_json::from_value::<hamgam::crm::PartyInput>(party(&format!(
                        "{}-300",
                        5_000 + w * EACH + i
                    )))
                    .unwrap()
                    .validate()
                    .unwrap();
                    hamgam::store::party::create_party(&db, &actor, &input)
                        .await
                        .unwrap();
                }
            }));
        }
        // A reader that follows the log while the writers write: what it
        // takes must be every event, each once.
        let mut taken = Vec::new();
        let mut position = 0;
        loop {
            let writing = tasks.iter().any(|t| !t.is_finished());
            event::sequence(&db, 1_000).await.unwrap();
            for e in event::after(&db, "acme", position, 500).await.unwrap() {
                assert!(e.seq > position, "places only grow");
                position = e.seq;
                taken.push(e.id);
            }
            if !writing {
                // One more round after the last writer finished.
                event::sequence(&db, 1_000).await.unwrap();
                let rest = event::after(&db, "acme", position, 500).await.unwrap();
                if rest.is_empty() {
                    break;
                }
                position = rest.last().unwrap().seq;
                taken.extend(rest.iter().map(|e| e.id));
            }
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut sorted = taken.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), taken.len(), "no event twice");
        assert_eq!(taken.len(), WRITERS * EACH, "no event missed");

        // What waits, on this backend too: a failure, parked, retried.
        let first = event::after(&db, "acme", 0, 1).await.unwrap().remove(0);
        let cursor = event::cursor(&db, "acme", "probe", 0).await.unwrap();
        assert_eq!(cursor, 0);
        let parked = Hold {
            status: EventHold::Parked,
            attempts: 3,
            next_attempt_at: None,
            error: Some("no"),
        };
        event::hold(&db, "acme", "probe", &first, parked)
            .await
            .unwrap();
        let waiting = event::holdups(&db, "acme", Some(EventHold::Parked))
            .await
            .unwrap();
        assert_eq!(waiting.len(), 1, "{waiting:?}");
        assert!(
            event::holdups(&db, "acme", Some(EventHold::Held))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(event::holdups(&db, "acme", None).await.unwrap().len(), 1);
        let at = "2026-12-07T00:00:00.000000Z";
        assert!(
            event::retry(&db, "acme", "probe", first.id, at)
                .await
                .unwrap()
        );
        assert!(
            !event::retry(&db, "acme", "probe", first.id, at)
                .await
                .unwrap()
        );
        let due = event::due(&db, "acme", "probe", at, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        event::delivered(&db, "acme", "probe", &first, at)
            .await
            .unwrap();
        assert!(event::holdups(&db, "acme", None).await.unwrap().is_empty());
    })
    .await;
}

/// S20, issue 15 §6: every event a run of the host writes (CRM changes of
/// each operation, a settlement, a module's records and its own event)
/// is in the catalogue SDK users read, and its data meets the schema the
/// catalogue gives for it.
#[tokio::test]
async fn s20_every_event_the_host_writes_is_catalogued_and_meets_its_schema() {
    let w = world().await;
    let acme = "/api/v1/tenants/acme";
    let ok = async |method: &str, path: &str, body: Value| -> Value {
        let (status, answer) = w.call(method, &format!("{acme}{path}"), &body).await;
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    };
    let id = w.party("1101-300").await;
    let gone = w.party("1102-300").await;
    let mut edited = party("1101-300");
    edited["last_name"] = json!("کریمی");
    ok("PUT", &format!("/parties/{id}"), edited).await;
    ok("DELETE", &format!("/parties/{gone}"), json!(null)).await;
    ok(
        "POST",
        "/products",
        json!({"code": "P-1", "name": "کالا", "unit": "عدد", "sales_price": "1000"}),
    )
    .await;
    let doc = json!({"party_id": id, "date": "1403/05/01", "lines": [{"quantity": "2", "unit_price": "1500000"}]});
    let invoice = ok("POST", "/sales-invoices", doc.clone()).await;
    let inv = invoice["id"].as_i64().unwrap();
    ok(
        "POST",
        &format!("/sales-invoices/{inv}/approve"),
        json!(null),
    )
    .await;
    let receipt = ok(
        "POST",
        "/receipts",
        json!({"party_id": id, "date": "1403/05/02", "amount": "1000000", "method": "cash", "invoice_id": inv}),
    )
    .await;
    let rid = receipt["id"].as_i64().unwrap();
    ok("POST", &format!("/receipts/{rid}/approve"), json!(null)).await;
    let quote = ok("POST", "/quotes", doc).await;
    let qid = quote["id"].as_i64().unwrap();
    ok("POST", &format!("/quotes/{qid}/reject"), json!(null)).await;
    let note = json!({"topic": "rent", "amount": "1200", "done": false});
    for body in [
        &note,
        &json!({"topic": "rent", "amount": "1300", "done": true}),
    ] {
        let put = w
            .module(&format!(
                "record-put?type=note&id=n1&body={}",
                crate::common::enc(&body.to_string())
            ))
            .await;
        assert_eq!(put, json!({"ok": true}));
    }
    let emitted = w
        .module(&format!(
            "emit?name=reminder_due&payload={}",
            crate::common::enc(r#"{"id":"n1","days":3}"#)
        ))
        .await;
    assert_eq!(emitted, json!({"ok": true}));
    w.pass().await;

    let (status, log) = w
        .call(
            "GET",
            &format!("{acme}/events?after=0&limit=500"),
            &json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let items = log["items"].as_array().expect("items");
    let mut names: Vec<String> = Vec::new();
    for e in items {
        let name = text(&e["name"]);
        hamgam::events::catalogue::check(&name, e["payload"].as_str().expect("payload"))
            .unwrap_or_else(|why| panic!("{why}"));
        names.push(name);
    }
    for expected in [
        "party.created",
        "party.updated",
        "party.deleted",
        "product.created",
        "sales_invoice.created",
        "sales_invoice.approved",
        "sales_invoice.settled",
        "receipt.created",
        "receipt.approved",
        "quote.rejected",
        "module.hostile.note.created",
        "module.hostile.note.updated",
        "module.hostile.reminder_due",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "no {expected} in {names:?}"
        );
    }
}
