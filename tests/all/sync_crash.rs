//! Crash safety of the sync engine: the host process is killed with SIGKILL
//! at 20 random points of a two-way sync of 5,000 records (Sepidar → CRM:
//! customers, items, invoices; CRM → Sepidar: parties) and restarted each
//! time. The final CRM and Sepidar states must equal those of an
//! uninterrupted run of the same data: nothing lost, nothing twice.
//!
//! The host runs in a child process: this test binary re-executed on the
//! ignored test `crash_child_host`, which starts the real server with its
//! scheduler and never returns. The simulators live in this (parent)
//! process, so they survive every kill, as a real Sepidar would.

use crate::sync_sepidar::{Options, TENANT, today, write_config};
use hamgam::crm::{Actor, PartyInput};
use hamgam::store::Db;
use hamgam::store::{document, party};
use hamgam_sepidar_sim::{NewCustomer, NewDocument, NewItem, NewLine, Sepidar, SimConfig, refs};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const LEDGER_CUSTOMERS: usize = 100;
const ITEMS: usize = 20;
const INVOICES: usize = 2_900;
const CRM_PARTIES: usize = 1_980;
const KILLS: usize = 20;

/// Not a test of its own: the child host process of the crash test.
#[tokio::test]
#[ignore = "run by sync_crash::sigkill_… as its child process"]
async fn crash_child_host() {
    let Ok(config) = std::env::var("HAMGAM_CRASH_CONFIG") else {
        return;
    };
    let (server, _) = hamgam::server::Server::start(Path::new(&config))
        .await
        .expect("child host starts");
    let _engine = server.sync_engine(true);
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

pub(crate) fn spawn_host(config: &Path) -> Child {
    spawn_child(
        "sync_crash::crash_child_host",
        "HAMGAM_CRASH_CONFIG",
        config,
    )
}

/// This test binary re-executed on the ignored test `test` (a child host
/// body), with `config` in the environment variable `env`. Its stderr shows
/// with `HAMGAM_CRASH_DEBUG` set.
pub(crate) fn spawn_child(test: &str, env: &str, config: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            test,
            "--test-threads=1",
            "--nocapture",
        ])
        .env(env, config)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(if std::env::var_os("HAMGAM_CRASH_DEBUG").is_some() {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::null()
        })
        .spawn()
        .expect("spawn the child host")
}

/// The same 5,000 records every run: Sepidar's side in the simulator, the
/// CRM's side written into the host's database before it first starts.
async fn seed(sim: &Sepidar, db_url: &str) {
    let mut customers = Vec::new();
    for i in 0..LEDGER_CUSTOMERS {
        let c = sim
            .create_customer(
                NewCustomer::person("مشتری", format!("سپیدار{i}"))
                    .address(refs::CITY_TEHRAN, "خیابان آزادی"),
            )
            .unwrap();
        customers.push(c.customer_id);
    }
    let mut items = Vec::new();
    for i in 0..ITEMS {
        let it = sim
            .create_item(NewItem::product(format!("K{i}"), format!("کالا {i}")))
            .unwrap();
        sim.set_price(
            it.item_id,
            refs::SALE_TYPE_DOMESTIC,
            rust_decimal::Decimal::from(100_000 * (i as i64 + 1)),
        )
        .unwrap();
        items.push(it.item_id);
    }
    let docs = (0..INVOICES).map(|i| {
        NewDocument::new(
            customers[i % customers.len()],
            today(),
            vec![
                NewLine::new(items[i % items.len()], 1 + (i % 3) as i64, 150_000),
                NewLine::new(items[(i + 7) % items.len()], 2, 99_000),
            ],
        )
    });
    sim.create_invoices_bulk(docs).unwrap();

    let db = Db::connect(db_url).await.unwrap();
    let actor = Actor::api(TENANT);
    for i in 0..CRM_PARTIES {
        let p = serde_json::from_value::<PartyInput>(json!({
            "kind": "person",
            "first_name": "سارا",
            "last_name": format!("همگام{i}"),
            "customer_number": format!("{}-300", 50_000 + i),
            "addresses": [{"city": "تهران", "line": "خیابان ولیعصر", "default": true}]
        }))
        .unwrap()
        .validate()
        .unwrap();
        party::create_party(&db, &actor, &p).await.unwrap();
    }
}

/// What an observer compares: the CRM's parties and invoices, Sepidar's
/// customers — by content, not by ids or codes that depend on timing.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    crm_parties: BTreeMap<String, String>,
    crm_invoices: BTreeMap<String, String>,
    sepidar_customers: BTreeMap<String, usize>,
    pending: i64,
    failed: i64,
}

async fn observe(db: &Db, sim: &Sepidar) -> Outcome {
    let mut crm_parties = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = party::list_parties(db, TENANT, &Default::default(), after, 500)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().unwrap().id;
        for p in page {
            // Ledger codes depend on push order; CRM-origin numbers do not.
            let key = if p.origin.starts_with("api:") {
                p.customer_number.clone()
            } else {
                format!("ledger:{}", p.last_name.clone().unwrap_or_default())
            };
            crm_parties.insert(key, p.last_name.unwrap_or_default());
        }
    }
    let mut crm_invoices = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = document::list_documents(
            db,
            TENANT,
            hamgam::crm::DocumentKind::SalesInvoice,
            &Default::default(),
            after,
            500,
        )
        .await
        .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().unwrap().id;
        for d in page {
            crm_invoices.insert(
                d.number.clone().unwrap_or_default(),
                d.totals.grand_total.to_string(),
            );
        }
    }
    let mut sepidar_customers = BTreeMap::new();
    for c in sim.customers() {
        *sepidar_customers
            .entry(c.last_name.unwrap_or_default())
            .or_insert(0) += 1;
    }
    let count = |status: &'static str| async move {
        match db {
            Db::Sqlite(p) => sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM crm_outbox WHERE status = $1 AND entity_kind = 'party'",
            )
            .bind(status)
            .fetch_one(p)
            .await
            .unwrap(),
            Db::Postgres(p) => sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM crm_outbox WHERE status = $1 AND entity_kind = 'party'",
            )
            .bind(status)
            .fetch_one(p)
            .await
            .unwrap(),
        }
    };
    Outcome {
        crm_parties,
        crm_invoices,
        sepidar_customers,
        pending: count("pending").await,
        failed: count("failed").await,
    }
}

/// What two outcomes differ in, entry by entry: 5,000 records printed
/// whole would hide the one that matters.
fn differences(got: &Outcome, want: &Outcome) -> String {
    fn map<V: PartialEq + std::fmt::Debug>(
        out: &mut String,
        what: &str,
        got: &BTreeMap<String, V>,
        want: &BTreeMap<String, V>,
    ) {
        for (k, v) in got {
            match want.get(k) {
                None => out.push_str(&format!("  {what} {k}: {v:?} only in the crashed run\n")),
                Some(w) if w != v => {
                    out.push_str(&format!("  {what} {k}: {v:?} (crashed) vs {w:?}\n"))
                }
                Some(_) => {}
            }
        }
        for (k, w) in want {
            if !got.contains_key(k) {
                out.push_str(&format!(
                    "  {what} {k}: {w:?} missing from the crashed run\n"
                ));
            }
        }
    }
    let mut out = String::new();
    map(&mut out, "CRM party", &got.crm_parties, &want.crm_parties);
    map(
        &mut out,
        "CRM invoice",
        &got.crm_invoices,
        &want.crm_invoices,
    );
    map(
        &mut out,
        "Sepidar customer",
        &got.sepidar_customers,
        &want.sepidar_customers,
    );
    if got.pending != want.pending || got.failed != want.failed {
        out.push_str(&format!(
            "  outbox: {} pending, {} failed (crashed) vs {} pending, {} failed\n",
            got.pending, got.failed, want.pending, want.failed
        ));
    }
    out
}

fn done(o: &Outcome) -> bool {
    o.pending == 0
        && o.crm_invoices.len() >= INVOICES
        && o.crm_parties.len() >= LEDGER_CUSTOMERS + CRM_PARTIES
}

struct Run {
    sim: Sepidar,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    db_url: String,
}

async fn prepare() -> Run {
    let sim = Sepidar::start(SimConfig::new(300).today(today()))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("hamgam.db").display());
    let sims = vec![(300u16, sim.clone())];
    let opts = Options {
        schedule: true,
        sync: vec![
            "interval_s = 0.2".into(),
            "page_size = 100".into(),
            "max_pages_per_run = 3".into(),
        ],
        server: vec![format!(
            "compile_cache = \"{}\"",
            dir.path().join("cache").display()
        )],
        ..Options::default()
    };
    let config = write_config(dir.path(), &sims, &opts);
    seed(&sim, &db_url).await;
    Run {
        sim,
        dir,
        config,
        db_url,
    }
}

/// Waits (with a generous limit) until the sync has nothing left to do.
async fn until_settled(run: &Run, db: &Db, host: &mut Child) -> Outcome {
    let started = Instant::now();
    loop {
        if let Some(status) = host.try_wait().unwrap() {
            panic!(
                "the host exited by itself ({status}); rerun with HAMGAM_CRASH_DEBUG=1 to see why"
            );
        }
        let o = observe(db, &run.sim).await;
        if done(&o) {
            // One more interval to be sure nothing is still moving.
            tokio::time::sleep(Duration::from_millis(600)).await;
            let again = observe(db, &run.sim).await;
            if again == o {
                return o;
            }
            continue;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the sync did not finish: {} parties, {} invoices, {} pending",
            o.crm_parties.len(),
            o.crm_invoices.len(),
            o.pending
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_20_random_points_of_a_5000_record_two_way_sync_loses_and_duplicates_nothing() {
    // The uninterrupted run.
    let reference = prepare().await;
    let mut host = spawn_host(&reference.config);
    let db = Db::connect(&reference.db_url).await.unwrap();
    let expected = until_settled(&reference, &db, &mut host).await;
    host.kill().unwrap();
    host.wait().unwrap();
    assert_eq!(expected.failed, 0, "{expected:?}");
    assert_eq!(expected.crm_invoices.len(), INVOICES);
    assert_eq!(expected.crm_parties.len(), LEDGER_CUSTOMERS + CRM_PARTIES);
    assert_eq!(
        expected.sepidar_customers.len(),
        LEDGER_CUSTOMERS + CRM_PARTIES
    );
    assert!(expected.sepidar_customers.values().all(|n| *n == 1));

    // The same data, killed at 20 random points.
    let crashed = prepare().await;
    let db = Db::connect(&crashed.db_url).await.unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash points seeded with {seed}");
    let mut rng = seed | 1;
    let mut next = move || {
        // xorshift64: enough to spread the kill points.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut kills = 0;
    while kills < KILLS {
        let mut host = spawn_host(&crashed.config);
        // Between 0.3 s and 2.3 s of work: startup, pulls, pushes, commits.
        let wait = 300 + next() % 2_000;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        host.kill().unwrap(); // SIGKILL on Unix: no destructor, no flush
        host.wait().unwrap();
        kills += 1;
        let o = observe(&db, &crashed.sim).await;
        eprintln!(
            "kill {kills} after {wait} ms: {} parties, {} invoices in the CRM; {} customers in Sepidar; {} pending",
            o.crm_parties.len(),
            o.crm_invoices.len(),
            o.sepidar_customers.len(),
            o.pending
        );
    }
    let mut host = spawn_host(&crashed.config);
    let got = until_settled(&crashed, &db, &mut host).await;
    host.kill().unwrap();
    host.wait().unwrap();
    let dupes: Vec<_> = got
        .sepidar_customers
        .iter()
        .filter(|(_, n)| **n > 1)
        .collect();
    assert!(
        dupes.is_empty(),
        "customers created twice in Sepidar: {dupes:?}"
    );
    assert!(
        got == expected,
        "the crashed run ends where the uninterrupted one did; it differs in:\n{}",
        differences(&got, &expected)
    );
    let _ = (&reference.dir, &crashed.dir);
}
