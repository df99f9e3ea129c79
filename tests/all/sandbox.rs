//! P2, P7: a plugin that loops, allocates without end, recurses without
//! end or panics is stopped with a typed error within its limit; the host
//! keeps serving, the same instance recovers, and another tenant's calls
//! made during the fault succeed.

use crate::common::{enc, json, plugin};
use hamgam::plugins::manifest::{CrmAccess, CrmEntity};
use hamgam::runtime::error::CallError;
use hamgam::runtime::instance::PluginInstance;
use hamgam::testing::TestHost;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

fn hostile(host: &TestHost, tenant: &str) -> Arc<PluginInstance> {
    host.plugin(plugin("hostile"))
        .unwrap()
        .tenant(tenant)
        .grant_state()
        .limits(|l| {
            l.call_deadline_ms = 300;
            l.memory_mib = 32;
        })
        .build()
}

/// Run `fault` on tenant A while tenant B calls `/ok` in a loop; return
/// A's error and how many of B's calls succeeded while A was faulting.
async fn fault_while_other_tenant_works(path: &str) -> (CallError, u64) {
    let host = TestHost::new();
    let a = hostile(&host, "tenant-a");
    let b = hostile(&host, "tenant-b");
    // Warm both so instantiation is not part of the window.
    let warm = b
        .request("GET", "/ok", b"")
        .await
        .expect("warm-up")
        .expect("ok");
    assert_eq!(warm.body, b"ok");
    let done = Arc::new(AtomicBool::new(false));
    let ok_calls = Arc::new(AtomicU64::new(0));
    let worker = {
        let (b, done, ok_calls) = (b.clone(), done.clone(), ok_calls.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let r = b.request("GET", "/ok", b"").await;
                let resp = r
                    .expect("tenant B call failed during tenant A's fault")
                    .expect("business error");
                assert_eq!(resp.status, 200);
                assert_eq!(resp.body, b"ok");
                ok_calls.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        })
    };
    let err = a
        .request("GET", path, b"")
        .await
        .expect_err("hostile call must fail");
    let during = ok_calls.load(Ordering::SeqCst);
    done.store(true, Ordering::SeqCst);
    worker.await.expect("tenant B worker");
    // The faulting instance itself recovers on its next call.
    let resp = a
        .request("GET", "/ok", b"")
        .await
        .expect("recovered")
        .expect("ok");
    assert_eq!(resp.status, 200);
    assert!(
        a.stats.instantiations.load(Ordering::SeqCst) >= 2,
        "the poisoned store was replaced"
    );
    (err, during)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2_infinite_loop_hits_the_deadline() {
    let (err, during) = fault_while_other_tenant_works("/loop").await;
    assert!(
        matches!(err, CallError::Deadline { ms: 300, .. }),
        "{err:?}"
    );
    assert!(during > 0, "tenant B made no progress while A looped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2_memory_bomb_hits_the_cap() {
    let (err, _) = fault_while_other_tenant_works("/alloc").await;
    assert!(
        matches!(err, CallError::Memory { cap_mib: 32, .. }),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2_unbounded_recursion_traps() {
    let (err, _) = fault_while_other_tenant_works("/recurse").await;
    // Rust guests keep their frames on a shadow stack in linear memory, so
    // depending on frame sizes the wasm stack limit or the shadow stack's
    // bottom is hit first: a stack-overflow trap or an out-of-bounds access.
    match &err {
        CallError::StackOverflow { .. } => {}
        CallError::Trap { message, .. } => assert!(message.contains("out of bounds"), "{message}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2_panic_traps_and_poisons_only_that_instance() {
    let (err, _) = fault_while_other_tenant_works("/panic").await;
    assert!(matches!(err, CallError::Trap { .. }), "{err:?}");
}

#[tokio::test]
async fn p2_a_plugin_panic_message_reaches_the_log_tagged_with_its_tenant() {
    let host = TestHost::new();
    let a = hostile(&host, "tenant-a");
    let err = a.request("GET", "/panic", b"").await.expect_err("panics");
    assert!(matches!(err, CallError::Trap { .. }), "{err:?}");
    // The guest's panic message went to its stderr, which the host turns
    // into lines naming the tenant and instance, not raw host stderr.
    let lines: Vec<_> = host
        .calls()
        .into_iter()
        .filter(|c| c.call == "stderr")
        .collect();
    assert!(
        lines
            .iter()
            .any(|c| c.tenant == "tenant-a" && c.detail.contains("hostile panic")),
        "{lines:?}"
    );
    assert!(lines.iter().all(|c| !c.detail.contains('\n')), "{lines:?}");
}

#[tokio::test]
async fn p2_a_call_waiting_past_call_timeout_ms_is_cut_off_and_the_instance_recovers() {
    // A server that accepts and never answers: the plugin waits on I/O,
    // so no epoch deadline fires; only the wall-clock timeout can end it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let host = TestHost::new();
    let p = host
        .plugin(plugin("hostile"))
        .unwrap()
        .grant_http(&format!("http://127.0.0.1:{port}"))
        .limits(|l| l.call_timeout_ms = 300)
        .build();
    let url = format!("http://127.0.0.1:{port}/");
    let err = p
        .request("GET", &format!("/http?url={}", enc(&url)), b"")
        .await
        .expect_err("the call never gets an answer");
    assert!(matches!(err, CallError::Timeout { ms: 300, .. }), "{err:?}");
    let ok = p.request("GET", "/ok", b"").await.unwrap().unwrap();
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn p2_short_work_stays_inside_the_deadline() {
    let host = TestHost::new();
    let p = hostile(&host, "t");
    // 50 ms of busy work under a 300 ms deadline is fine: the deadline
    // counts wasm execution, not a fixed instruction budget.
    json(&p, "/sleep-loop?ms=50").await;
}

#[tokio::test]
async fn p7_state_is_private_to_the_tenant() {
    let host = TestHost::new();
    let a = hostile(&host, "tenant-a");
    let b = hostile(&host, "tenant-b");
    let set = json(
        &a,
        &format!("/state-set?key=secret&value={}", enc("a's data")),
    )
    .await;
    assert_eq!(set["ok"], true, "{set}");
    assert_eq!(json(&a, "/state-get?key=secret").await["value"], "a's data");
    // Same plugin, same instance name, same key: another tenant sees nothing.
    assert!(json(&b, "/state-get?key=secret").await["value"].is_null());
    // Keys are opaque: no path syntax climbs into another scope.
    for key in [
        "../tenant-a/secret",
        "tenant-a/main/secret",
        "tenant-a:main:secret",
    ] {
        assert!(
            json(&b, &format!("/state-get?key={}", enc(key))).await["value"].is_null(),
            "{key}"
        );
    }
}

#[tokio::test]
async fn p2_state_needs_a_grant() {
    let host = TestHost::new();
    let p = host.plugin(plugin("hostile")).unwrap().build();
    let set = json(&p, "/state-set?key=k&value=v").await;
    assert!(
        set["error"]
            .as_str()
            .is_some_and(|e| e.contains("not granted")),
        "{set}"
    );
    assert!(
        host.calls()
            .iter()
            .any(|c| c.call == "state.set" && !c.allowed)
    );
}

#[tokio::test]
async fn p2_files_only_under_the_granted_directory() {
    let host = TestHost::new();
    let inside = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
    let p = host
        .plugin(plugin("hostile"))
        .unwrap()
        .grant_dir("data", inside.path())
        .build();
    let w = json(
        &p,
        &format!("/file-write?path={}&data=hello", enc("/data/note.txt")),
    )
    .await;
    assert_eq!(w["ok"], true, "{w}");
    assert_eq!(
        std::fs::read_to_string(inside.path().join("note.txt")).unwrap(),
        "hello"
    );
    assert_eq!(
        json(&p, &format!("/file-read?path={}", enc("/data/note.txt"))).await["len"],
        5
    );
    let outside_file = outside.path().join("secret.txt");
    for path in [
        outside_file.to_string_lossy().to_string(),
        "/etc/passwd".to_string(),
        "/data/../../etc/passwd".to_string(),
        format!("/data/../{}", outside_file.display()),
    ] {
        let r = json(&p, &format!("/file-read?path={}", enc(&path))).await;
        assert!(r["error"].is_string(), "{path} was readable: {r}");
    }
    // Without a grant there is no directory at all.
    let bare = host.plugin(plugin("hostile")).unwrap().build();
    let r = json(&bare, &format!("/file-read?path={}", enc("/data/note.txt"))).await;
    assert!(r["error"].is_string(), "{r}");
}

#[tokio::test]
async fn p5_secrets_only_by_declared_name() {
    let host = TestHost::new();
    let p = host
        .plugin(plugin("hostile"))
        .unwrap()
        .secret("api_key", "s3cr3t")
        .build();
    assert_eq!(json(&p, "/secret?name=api_key").await["value"], "s3cr3t");
    let r = json(&p, "/secret?name=database_password").await;
    assert!(r["error"].is_string(), "{r}");
    // The audit trail names the secret, never its value.
    assert!(host.calls().iter().all(|c| !c.detail.contains("s3cr3t")));
}

#[tokio::test]
async fn p2_crm_access_needs_a_grant() {
    let host = TestHost::new();
    let p = host
        .plugin(plugin("petty-cash"))
        .unwrap()
        .grant_state()
        .build();
    let resp = p.request("GET", "/bills", b"").await.expect("call");
    // Without the CRM grant the module's store calls are refused, which it
    // reports as an error, not a trap.
    let failed = match resp {
        Ok(r) => r.status >= 400,
        Err(_) => true,
    };
    assert!(failed);
    assert!(
        host.calls()
            .iter()
            .any(|c| c.call.starts_with("crm.") && !c.allowed)
    );
    let granted = host
        .plugin(plugin("petty-cash"))
        .unwrap()
        .grant_state()
        .grant_crm(CrmAccess::ReadWrite)
        .build();
    let resp = granted
        .request("GET", "/bills", b"")
        .await
        .expect("call")
        .expect("ok");
    assert_eq!(resp.status, 200);
}

#[tokio::test]
async fn p8_a_plugin_log_message_cannot_forge_a_host_log_line() {
    let host = TestHost::new();
    let p = hostile(&host, "tenant-a");
    let forged = "bill paid\n2026-12-03T08:00:00.000000Z  INFO hamgam::audit: capability used tenant=tenant-b call=license.renew";
    assert_eq!(
        json(&p, &format!("/log?msg={}", enc(forged))).await["ok"],
        true
    );
    let logged: Vec<_> = host
        .calls()
        .into_iter()
        .filter(|c| c.call == "log")
        .collect();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(!logged[0].detail.contains('\n'), "{logged:?}");
    assert!(
        logged[0].detail.contains("bill paid\\n2026-12-03"),
        "{logged:?}"
    );
    // Stderr lines are split at newlines; what else a line carries
    // (carriage returns, terminal escapes, line separators) is escaped.
    let sneaky = "half\rINFO hamgam: forged \u{1b}[2K\u{2028}more";
    json(&p, &format!("/stderr?msg={}", enc(sneaky))).await;
    let lines: Vec<_> = host
        .calls()
        .into_iter()
        .filter(|c| c.call == "stderr")
        .collect();
    assert!(
        lines
            .iter()
            .any(|c| c.detail == "half\\rINFO hamgam: forged \\u{1b}[2K\\u{2028}more"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .all(|c| !c.detail.contains(['\r', '\u{1b}', '\u{2028}'])),
        "{lines:?}"
    );
}

fn petty_cash(host: &TestHost, instance: &str) -> Arc<PluginInstance> {
    host.plugin(plugin("petty-cash"))
        .unwrap()
        .tenant("t")
        .instance(instance)
        .grant_state()
        .grant_crm(CrmAccess::ReadWrite)
        .grant_entities(CrmEntity::Party, CrmAccess::Read)
        .grant_entities(CrmEntity::Payment, CrmAccess::ReadWrite)
        .build()
}

/// A bill of `amount` Rial in a fresh fund of `cash`, held by a new party
/// `customer_number` of tenant `t` in the harness's CRM.
async fn bill_of(
    host: &TestHost,
    cash: &PluginInstance,
    amount: &str,
    customer_number: &str,
) -> serde_json::Value {
    let db = host.crm_db().await.unwrap();
    let party = serde_json::from_value::<hamgam::crm::PartyInput>(serde_json::json!({
        "kind": "organisation", "name": "دفتر", "customer_number": customer_number
    }))
    .unwrap()
    .validate()
    .unwrap();
    let holder = hamgam::store::party::create_party(db, &hamgam::crm::Actor::api("t"), &party)
        .await
        .unwrap()
        .id;
    let fund =
        serde_json::json!({"title": "office", "holder_party_id": holder, "ceiling": "100000000"});
    let (status, fund) = module_json(cash, "POST", "/funds", &fund.to_string()).await;
    assert_eq!(status, 201, "{fund}");
    let bill = serde_json::json!({"items": [{"amount": amount, "description": "taxi"}]});
    let path = format!("/funds/{}/bills", fund["id"].as_str().unwrap());
    let (status, bill) = module_json(cash, "POST", &path, &bill.to_string()).await;
    assert_eq!(status, 201, "{bill}");
    bill
}

async fn module_json(
    p: &PluginInstance,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let resp = p
        .request(method, path, body.as_bytes())
        .await
        .expect("call")
        .expect("answer");
    (resp.status, serde_json::from_slice(&resp.body).unwrap())
}

#[tokio::test]
async fn p7_one_module_cannot_read_or_overwrite_another_modules_records() {
    let host = TestHost::new();
    let cash = petty_cash(&host, "cash");
    let bill = bill_of(&host, &cash, "250000", "7001-300").await;
    assert_eq!(bill["id"], "bill-000001");
    // Another module of the same tenant, with full CRM access.
    let thief = host
        .plugin(plugin("hostile"))
        .unwrap()
        .tenant("t")
        .grant_crm(CrmAccess::ReadWrite)
        .build();
    let got = json(&thief, "/record-get?type=bill&id=bill-000001").await;
    assert!(got["body"].is_null(), "read another module's record: {got}");
    let listed = json(&thief, "/record-list?type=bill").await;
    assert_eq!(listed["ids"], serde_json::json!([]), "{listed}");
    let forged = enc(
        r#"{"id":"bill-000001","fund":"fund-0001","date":"1404/01/01","items":[],"total":"1","status":"approved"}"#,
    );
    let put = json(
        &thief,
        &format!("/record-put?type=bill&id=bill-000001&body={forged}"),
    )
    .await;
    assert_eq!(put["ok"], true, "{put}");
    // The write landed in the thief's own records, not petty cash's.
    let (status, still) = module_json(&cash, "GET", "/bills/bill-000001", "").await;
    assert_eq!(status, 200);
    assert_eq!(still, bill);
}

#[tokio::test]
async fn p7_two_instances_of_one_module_do_not_see_each_others_records() {
    let host = TestHost::new();
    let north = petty_cash(&host, "north");
    let south = petty_cash(&host, "south");
    let north_bill = bill_of(&host, &north, "1000", "7002-300").await;
    let (status, south_bills) = module_json(&south, "GET", "/bills", "").await;
    assert_eq!(status, 200);
    assert_eq!(south_bills, serde_json::json!([]), "{south_bills}");
    // Each instance numbers its own bills: the same id in both must not
    // overwrite the other's.
    let south_bill = bill_of(&host, &south, "2000", "7003-300").await;
    assert_eq!(south_bill["id"], north_bill["id"]);
    let (_, north_bills) = module_json(&north, "GET", "/bills", "").await;
    assert_eq!(north_bills, serde_json::json!([north_bill]));
}
