//! H10 (issue 14 §8): the one-shot import of the last fiscal year's sales
//! invoices and returns, through the API and the engine, against the
//! Sepidar simulator: progress against the ledger's own count, the
//! license's word per kind, clear refusals, and a resume after SIGKILL.
//!
//! The routine pull of these rigs reads from 1404/01/01
//! (`documents_from = 2025-03-21`); fiscal year 1403 lies before it, as a
//! closed year does at a real site.

use crate::sync_sepidar::{Options, Rig, TENANT, today, write_config};
use hamgam::crm::kinds::ImportState;
use hamgam::store::Db;
use hamgam::store::history as jobs;
use hamgam_sepidar_sim::{
    NewCustomer, NewDocument, NewItem, NewLine, ReturnLine, Sepidar, SimConfig, refs,
};
use hamgam_trust::keys::SecretKey;
use hamgam_trust::license::{Entitlement, License, LicenseLimits};
use hamgam_trust::manifest::Tier;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const INSTANCE: &str = "sepidar-300";
const INVOICES: &str = "sales-invoice-history-import";
const RETURNS: &str = "sales-return-history-import";

/// What the simulator holds: counts per fiscal year.
struct Seeded {
    past_invoices: usize,
    past_returns: usize,
    current_invoices: usize,
}

/// Customers, items, `past` invoices in 1403 (every tenth with a return
/// of one piece) and `current` invoices in 1404.
fn seed(sim: &Sepidar, past: usize, current: usize) -> Seeded {
    let customers: Vec<i32> = (0..12)
        .map(|i| {
            sim.create_customer(
                NewCustomer::person("مشتری", format!("قدیمی{i}"))
                    .address(refs::CITY_TEHRAN, "خیابان آزادی"),
            )
            .unwrap()
            .customer_id
        })
        .collect();
    let items: Vec<i32> = (0..4)
        .map(|i| {
            let it = sim
                .create_item(NewItem::product(format!("H{i}"), format!("کالا {i}")))
                .unwrap();
            sim.set_price(
                it.item_id,
                refs::SALE_TYPE_DOMESTIC,
                rust_decimal::Decimal::from(250_000),
            )
            .unwrap();
            it.item_id
        })
        .collect();
    // 1403/01/01 = 2024-03-20 … 1403/12/30 = 2025-03-20.
    let first = chrono::NaiveDate::from_ymd_opt(2024, 3, 20).unwrap();
    let doc = |i: usize, date| {
        NewDocument::new(
            customers[i % customers.len()],
            date,
            vec![
                NewLine::new(items[i % items.len()], 2, 150_000),
                NewLine::new(items[(i + 1) % items.len()], 1, 99_000),
            ],
        )
    };
    let past_ids = sim
        .create_invoices_bulk(
            (0..past).map(|i| doc(i, first + chrono::Days::new((i % 360) as u64))),
        )
        .unwrap();
    let mut past_returns = 0;
    for id in past_ids.iter().step_by(10) {
        let invoice = sim.invoice(*id).unwrap();
        sim.create_returned_invoice(
            *id,
            invoice.date,
            &[ReturnLine {
                invoice_item_id: invoice.invoice_items[0].invoice_item_id,
                quantity: 1.into(),
            }],
        )
        .unwrap();
        past_returns += 1;
    }
    sim.create_invoices_bulk((0..current).map(|i| doc(i, today())))
        .unwrap();
    Seeded {
        past_invoices: past,
        past_returns,
        current_invoices: current,
    }
}

/// A vendor key, a license for `modules`, and the `[trust]` lines.
fn licensed(dir: &Path, modules: &[&str]) -> Vec<String> {
    let vendor = SecretKey::generate().unwrap();
    let today = chrono::Utc::now().date_naive();
    let license = License {
        license_id: "L-HISTORY".into(),
        customer: "acme".into(),
        installation: "acme-test".into(),
        tenants: vec![TENANT.into()],
        modules: modules
            .iter()
            .map(|m| Entitlement {
                module: m.to_string(),
                tier: Tier::Orderable,
                expires: None,
            })
            .collect(),
        limits: LicenseLimits::default(),
        issued: today - chrono::Days::new(30),
        expires: today + chrono::Days::new(300),
        grace_days: 7,
    };
    let path = dir.join("license.json");
    std::fs::write(&path, license.sign(&vendor).unwrap()).unwrap();
    vec![
        format!("vendor_keys = [\"{}\"]", vendor.public()),
        format!("license = \"{}\"", path.display()),
        "customer = \"acme\"".into(),
        "installation = \"acme-test\"".into(),
    ]
}

fn options(trust: Vec<String>) -> Options {
    Options {
        settings: vec![("documents_from".into(), "2025-03-21".into())],
        sync: vec!["page_size = 50".into()],
        trust,
        ..Options::default()
    }
}

async fn sim() -> Sepidar {
    Sepidar::start(SimConfig::new(300).today(today()))
        .await
        .unwrap()
}

/// A rig whose license sits in `dir` (kept for the rig's lifetime).
async fn rig(sim: Sepidar, dir: &Path, modules: &[&str]) -> Rig {
    Rig::over(vec![(300, sim)], options(licensed(dir, modules))).await
}

/// Routine runs until one moves nothing; the last run's `pulled`.
async fn routine(rig: &Rig) -> usize {
    for _ in 0..50 {
        let r = rig.sync(300).await;
        if r.applied + r.deleted + r.refused + r.delivered == 0 {
            return r.pulled;
        }
    }
    panic!("the routine sync did not settle");
}

async fn count(rig: &Rig, collection: &str) -> usize {
    let mut n = 0;
    let mut cursor = String::new();
    loop {
        let v = rig
            .ok("GET", &format!("{collection}?limit=500{cursor}"), None)
            .await;
        n += v["items"].as_array().unwrap().len();
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return n,
        }
    }
}

fn start_path() -> String {
    format!("sync/instances/{INSTANCE}/history-imports")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h10_one_shot_import_of_the_last_fiscal_year_brings_its_invoices_and_returns_with_progress()
{
    let sim = sim().await;
    let seeded = seed(&sim, 230, 7);
    let dir = tempfile::tempdir().unwrap();
    let rig = rig(sim, dir.path(), &[INVOICES, RETURNS]).await;
    let routine_before = routine(&rig).await;
    assert_eq!(
        count(&rig, "sales-invoices").await,
        seeded.current_invoices,
        "the routine pull reads the current year only"
    );

    let started = rig
        .ok("POST", &start_path(), Some(json!({"fiscal_year": 1403})))
        .await;
    let total = (seeded.past_invoices + seeded.past_returns) as u64;
    assert_eq!(started["state"], "running");
    assert_eq!(started["total"], total, "{started}");
    assert_eq!(started["done"], 0);
    assert_eq!(
        (started["from"].as_str(), started["to"].as_str()),
        (Some("1403/01/01"), Some("1403/12/30"))
    );
    let id = started["id"].as_i64().unwrap();

    let mut seen = Vec::new();
    let job = rig
        .engine
        .run_history_import(TENANT, id, |j| seen.push((j.done, j.step)))
        .await
        .expect("the import runs to its end");
    assert_eq!(job.state, ImportState::Done);
    assert!(
        seen.windows(2).all(|w| w[0].0 <= w[1].0),
        "progress only grows: {seen:?}"
    );
    assert!(
        seen.len() >= (total as usize).div_ceil(50),
        "one report per page of 50: {seen:?}"
    );

    let done = rig
        .ok("GET", &format!("sync/history-imports/{id}"), None)
        .await;
    assert_eq!(done["state"], "done");
    assert_eq!(done["done"], total, "{done}");
    assert_eq!(done["refused"], 0, "{done}");
    assert_eq!(done["percent"], 100.0);
    assert!(done["finished_at"].is_string());
    assert_eq!(
        count(&rig, "sales-invoices").await,
        seeded.past_invoices + seeded.current_invoices
    );
    assert_eq!(count(&rig, "sales-returns").await, seeded.past_returns);
    let list = rig.ok("GET", "sync/history-imports", None).await;
    assert_eq!(list["items"][0]["id"], id);

    // The routine full scans do not ask the ledger about a closed year's
    // records one by one: a routine run reads what it read before.
    assert_eq!(routine(&rig).await, routine_before);
    assert_eq!(
        count(&rig, "sales-invoices").await,
        seeded.past_invoices + seeded.current_invoices,
        "and deletes none of them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h10_two_runners_of_one_import_count_each_record_once() {
    // A server's worker and `hamgam sync import-history` on the same
    // database both take up a running job: each page counts once.
    let sim = sim().await;
    let seeded = seed(&sim, 180, 0);
    let dir = tempfile::tempdir().unwrap();
    let rig = rig(sim, dir.path(), &[INVOICES, RETURNS]).await;
    let started = rig
        .ok("POST", &start_path(), Some(json!({"fiscal_year": 1403})))
        .await;
    let id = started["id"].as_i64().unwrap();
    rig.sim(300).clear_request_log();
    let (a, b) = tokio::join!(
        rig.engine.run_history_import(TENANT, id, |_| {}),
        rig.engine.run_history_import(TENANT, id, |_| {}),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.state, b.state), (ImportState::Done, ImportState::Done));
    let total = (seeded.past_invoices + seeded.past_returns) as u64;
    assert_eq!((a.done, a.refused), (total, 0), "{a:?}");
    assert_eq!(count(&rig, "sales-invoices").await, seeded.past_invoices);
    // And each page was read from the ledger once.
    let pages: Vec<String> = rig
        .sim(300)
        .request_log()
        .into_iter()
        .filter(|e| e.path.to_ascii_lowercase().contains("basedondate"))
        .map(|e| format!("{} {}", e.path, e.query.unwrap_or_default()))
        .collect();
    let unique: std::collections::HashSet<&String> = pages.iter().collect();
    assert_eq!(unique.len(), pages.len(), "a page read twice: {pages:#?}");
    assert_eq!(
        pages.len(),
        seeded.past_invoices.div_ceil(50) + seeded.past_returns.div_ceil(50)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h10_each_kind_of_the_import_needs_its_orderable_entitlement() {
    let sim = sim().await;
    let seeded = seed(&sim, 20, 1);
    let dir = tempfile::tempdir().unwrap();
    let rig = rig(sim, dir.path(), &[INVOICES]).await;
    routine(&rig).await;
    let (status, refused) = rig
        .api("POST", &start_path(), Some(json!({"fiscal_year": 1403})))
        .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "not-licensed");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains(RETURNS),
        "{refused}"
    );
    let started = rig
        .ok(
            "POST",
            &start_path(),
            Some(json!({"fiscal_year": 1403, "kinds": ["sales_invoice"]})),
        )
        .await;
    assert_eq!(started["total"], seeded.past_invoices as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h10_a_bad_import_request_is_refused_naming_the_field_and_nothing_is_started() {
    let sim = sim().await;
    seed(&sim, 10, 1);
    let dir = tempfile::tempdir().unwrap();
    let rig = rig(sim, dir.path(), &[INVOICES, RETURNS]).await;
    routine(&rig).await;
    let refusal = async |body: Value| {
        let (status, v) = rig.api("POST", &start_path(), Some(body)).await;
        (status, v["error"]["field"].clone(), v)
    };
    // The routine pull already reads 1404: the connector says so.
    let (status, field, v) = refusal(json!({"from": "1403/06/01", "to": "1404/02/01"})).await;
    assert_eq!((status, field), (422, json!("to")), "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("documents_from"),
        "{v}"
    );
    let (status, field, v) = refusal(json!({"from": "1403/13/01", "to": "1403/12/01"})).await;
    assert_eq!((status, field), (422, json!("from")), "{v}");
    let (status, field, v) = refusal(json!({"from": "1403/05/01", "to": "1403/02/01"})).await;
    assert_eq!((status, field), (422, json!("from")), "{v}");
    let (status, field, v) = refusal(json!({})).await;
    assert_eq!((status, field), (422, json!("fiscal_year")), "{v}");
    let (status, _, v) = refusal(json!({"fiscal_year": 1403, "kinds": ["receipt"]})).await;
    assert_eq!(status, 422, "{v}");
    let (status, v) = rig
        .api(
            "POST",
            "sync/instances/nowhere/history-imports",
            Some(json!({"fiscal_year": 1403})),
        )
        .await;
    assert_eq!(status, 404, "{v}");
    let list = rig.ok("GET", "sync/history-imports", None).await;
    assert_eq!(list["items"], json!([]), "nothing was started");

    // One import at a time per instance; a cancelled one frees it.
    let first = rig
        .ok("POST", &start_path(), Some(json!({"fiscal_year": 1403})))
        .await;
    let (status, _, v) = refusal(json!({"fiscal_year": 1403})).await;
    assert_eq!(status, 409, "{v}");
    let cancelled = rig
        .ok(
            "POST",
            &format!("sync/history-imports/{}/cancel", first["id"]),
            None,
        )
        .await;
    assert_eq!(cancelled["state"], "cancelled");
    let (status, v) = rig
        .api(
            "POST",
            &format!("sync/history-imports/{}/cancel", first["id"]),
            None,
        )
        .await;
    assert_eq!(status, 409, "{v}");
    rig.ok("POST", &start_path(), Some(json!({"fiscal_year": 1403})))
        .await;
}

/// How many CRM sales invoices the host's database holds.
async fn crm_invoices(db: &Db) -> i64 {
    let sql = "SELECT COUNT(*) FROM crm_documents WHERE tenant = $1 AND kind = $2";
    let kind = hamgam::crm::kinds::EntityKind::SalesInvoice;
    match db {
        Db::Sqlite(p) => sqlx::query_scalar(sql)
            .bind(TENANT)
            .bind(kind)
            .fetch_one(p)
            .await
            .unwrap(),
        Db::Postgres(p) => sqlx::query_scalar(sql)
            .bind(TENANT)
            .bind(kind)
            .fetch_one(p)
            .await
            .unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h10_one_shot_import_resumes_after_sigkill_and_loses_and_duplicates_nothing() {
    let sim = sim().await;
    let seeded = seed(&sim, 2_400, 0);
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        sync: vec!["page_size = 25".into()],
        server: vec![format!(
            "compile_cache = \"{}\"",
            dir.path().join("cache").display()
        )],
        ..options(licensed(dir.path(), &[INVOICES, RETURNS]))
    };
    let config = write_config(dir.path(), &[(300, sim.clone())], &opts);
    let db_url = format!("sqlite://{}", dir.path().join("hamgam.db").display());
    // The import is started here; the child hosts' worker runs it.
    let id = {
        let (server, _) = hamgam::server::Server::start(&config).await.unwrap();
        let engine = server.sync_engine(false);
        let request = hamgam::sync::history::ImportRequest::fiscal_year(
            1403,
            vec![
                hamgam::crm::kinds::EntityKind::SalesInvoice,
                hamgam::crm::kinds::EntityKind::SalesReturn,
            ],
        )
        .unwrap();
        engine
            .start_history_import(TENANT, INSTANCE, &request)
            .await
            .unwrap()
            .id
    };
    let db = Db::connect(&db_url).await.unwrap();
    let total = (seeded.past_invoices + seeded.past_returns) as u64;
    let mut rng = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill points seeded with {rng}");
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut killed_midway = 0;
    let mut last = jobs::get(&db, TENANT, id).await.unwrap();
    for kill in 0..5 {
        let mut host = crate::sync_crash::spawn_host(&config);
        // Kill once the import has moved on since the last kill, then a
        // random moment later: always while records are being applied.
        let since = Instant::now();
        loop {
            let now = jobs::get(&db, TENANT, id).await.unwrap();
            if now.done > last.done || now.state != ImportState::Running {
                break;
            }
            assert!(
                since.elapsed() < Duration::from_secs(120),
                "the child host made no progress; rerun with HAMGAM_CRASH_DEBUG=1"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(next() % 400)).await;
        host.kill().unwrap();
        host.wait().unwrap();
        let now = jobs::get(&db, TENANT, id).await.unwrap();
        assert!(now.done >= last.done, "progress is never lost");
        assert_eq!(
            crm_invoices(&db).await as u64,
            (now.done + now.refused).min(seeded.past_invoices as u64),
            "the stored counts and the stored records agree at kill {kill}"
        );
        eprintln!("kill {kill}: {} / {total}", now.done);
        if now.state == ImportState::Running {
            killed_midway += 1;
        }
        last = now;
    }
    assert!(killed_midway >= 1, "no kill landed inside the import");
    let mut host = crate::sync_crash::spawn_host(&config);
    let since = Instant::now();
    let end = loop {
        let now = jobs::get(&db, TENANT, id).await.unwrap();
        if now.state != ImportState::Running {
            break now;
        }
        assert!(
            since.elapsed() < Duration::from_secs(300),
            "the import did not finish: {} / {total}",
            now.done
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    host.kill().unwrap();
    host.wait().unwrap();
    assert_eq!(end.state, ImportState::Done, "{end:?}");
    assert_eq!((end.done, end.refused), (total, 0));
    assert_eq!(crm_invoices(&db).await as usize, seeded.past_invoices);
}
