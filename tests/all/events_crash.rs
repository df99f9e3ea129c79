//! Event delivery across crashes (issue 15 §2; S20): 10,000 CRM changes
//! while three module instances subscribe and the host is killed with
//! SIGKILL at 5 random points and restarted. Each module's effect of each
//! event happens exactly once, in log order: the host hands events at
//! least once and in order, and the module (the `hostile` test module)
//! keys its effect by the event's place.
//!
//! The host runs in a child process (this test binary on the ignored test
//! `events_child_host`); the changes are written by this process straight
//! through the store, as the API would, so every one of them is known to
//! have committed whatever the child is doing.

use hamgam::crm::{Actor, PartyInput};
use hamgam::store::{Db, party};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

const TENANT: &str = "acme";
const CHANGES: usize = 10_000;
const KILLS: usize = 5;
const SUBSCRIBERS: [&str; 3] = ["first", "second", "third"];

/// Not a test of its own: the child host process of the crash test.
#[tokio::test]
#[ignore = "run by events_crash::s20_… as its child process"]
async fn events_child_host() {
    let Ok(config) = std::env::var("HAMGAM_EVENTS_CONFIG") else {
        return;
    };
    let (server, _) = hamgam::server::Server::start(Path::new(&config))
        .await
        .expect("child host starts");
    let _events = server.events(Duration::from_millis(20));
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

fn spawn_host(config: &Path) -> Child {
    crate::sync_crash::spawn_child(
        "events_crash::events_child_host",
        "HAMGAM_EVENTS_CONFIG",
        config,
    )
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(dir.join("acme.token"), "unused-here\n").unwrap();
    std::fs::copy(
        crate::common::plugin("hostile"),
        plugins.join("hostile.wasm"),
    )
    .unwrap();
    let mut text = format!(
        r#"
[server]
database = "sqlite://{db}"
plugin_dir = "{plugins}"
reload_interval_s = 0
compile_cache = "{cache}"

[trust]
allow_unsigned = true

[tenants.{TENANT}]
api_token = {{ file = "{token}" }}
"#,
        token = dir.join("acme.token").display(),
        db = dir.join("hamgam.db").display(),
        plugins = plugins.display(),
        cache = dir.join("cache").display(),
    );
    for name in SUBSCRIBERS {
        text.push_str(&format!(
            "\n[tenants.{TENANT}.instances.{name}]\nplugin = \"hostile\"\nenabled = true\ngrants = {{ state = true }}\n"
        ));
    }
    let path = dir.join("hamgam.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// One change: parties are created, then edited, so both kinds of event
/// flow and one subject has several events in order.
async fn change(db: &Db, actor: &Actor, n: usize, ids: &mut Vec<i64>) {
    let input = |last: String| {
        serde_json::from_value::<PartyInput>(json!({
            "kind": "person",
            "first_name": "رضا",
            "last_name": last,
            "customer_number": format!("{}-300", 70_000 + n % (CHANGES / 2)),
        }))
        .unwrap()
        .validate()
        .unwrap()
    };
    if n < CHANGES / 2 {
        let p = party::create_party(db, actor, &input(format!("رویداد{n}")))
            .await
            .unwrap();
        ids.push(p.id);
    } else {
        let id = ids[n - CHANGES / 2];
        party::update_party(db, actor, id, &input(format!("ویرایش{n}")))
            .await
            .unwrap();
    }
}

/// A subscriber's tally as its `on-event` kept it: (events taken, sum of
/// their ids), summed over its per-subject values (`p:<subject>`).
async fn progress(db: &Db, subscriber: &str) -> (i64, i64) {
    let sql =
        "SELECT value FROM plugin_state WHERE tenant = $1 AND instance = $2 AND key LIKE 'p:%'";
    let Db::Sqlite(pool) = db else {
        unreachable!("this test runs on SQLite")
    };
    let values: Vec<Vec<u8>> = sqlx::query_scalar(sql)
        .bind(TENANT)
        .bind(subscriber)
        .fetch_all(pool)
        .await
        .unwrap();
    values.iter().fold((0, 0), |(count, sum), v| {
        let p: Value = serde_json::from_slice(v).unwrap();
        (
            count + p["count"].as_i64().unwrap(),
            sum + p["id_sum"].as_i64().unwrap(),
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s20_ten_thousand_changes_three_subscribers_five_sigkills_each_effect_exactly_once_in_order()
 {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let db = Db::connect(&format!(
        "sqlite://{}",
        dir.path().join("hamgam.db").display()
    ))
    .await
    .unwrap();
    let mut host = spawn_host(&config);
    // Let every subscriber take its place before the first change: a
    // subscriber starts at the head of the log when it first runs.
    let started = Instant::now();
    while progress_started(&db).await < SUBSCRIBERS.len() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the host did not start its subscribers"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash points seeded with {seed}");
    let mut rng = seed | 1;
    let mut next = || {
        // xorshift64: enough to spread the kill points.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    // Kill points: after a random number of changes, spread over the run
    // (the last ones while the subscribers are still catching up).
    let mut kill_at: Vec<usize> = (0..KILLS)
        .map(|_| (next() % (CHANGES as u64 + 2_000)) as usize)
        .collect();
    kill_at.sort_unstable();

    let actor = Actor::api(TENANT);
    let mut ids = Vec::with_capacity(CHANGES / 2);
    let mut kills = 0;
    for n in 0..CHANGES {
        while kills < KILLS && kill_at[kills] == n {
            host.kill().unwrap(); // SIGKILL on Unix: no destructor, no flush
            host.wait().unwrap();
            kills += 1;
            eprintln!("kill {kills} after {n} changes");
            host = spawn_host(&config);
        }
        change(&db, &actor, n, &mut ids).await;
    }
    // The rest of the kills while the subscribers catch up.
    while kills < KILLS {
        tokio::time::sleep(Duration::from_millis(300 + next() % 700)).await;
        host.kill().unwrap();
        host.wait().unwrap();
        kills += 1;
        eprintln!("kill {kills} after the last change");
        host = spawn_host(&config);
    }

    // What each subscriber must have taken: every party event of the log.
    let Db::Sqlite(pool) = &db else {
        unreachable!()
    };
    let (events, id_sum): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(id), 0) FROM events WHERE tenant = $1 AND name LIKE 'party.%'",
    )
    .bind(TENANT)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(events, CHANGES as i64, "one event per committed change");

    let started = Instant::now();
    loop {
        if let Some(status) = host.try_wait().unwrap() {
            panic!("the host exited by itself ({status}); rerun with HAMGAM_CRASH_DEBUG=1");
        }
        let mut all = Vec::new();
        for s in SUBSCRIBERS {
            all.push(progress(&db, s).await);
        }
        if all.iter().all(|(count, _)| *count >= events) {
            for (s, (count, sum)) in SUBSCRIBERS.iter().zip(&all) {
                assert_eq!(*count, events, "{s}: each event's effect once");
                assert_eq!(
                    *sum, id_sum,
                    "{s}: the same events, none twice and none missing"
                );
            }
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the subscribers did not catch up: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    host.kill().unwrap();
    host.wait().unwrap();
    // Nothing parked or failing: no event was given up on.
    let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM event_failures")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(waiting, 0);
}

/// How many subscribers have a cursor.
async fn progress_started(db: &Db) -> usize {
    let Db::Sqlite(pool) = db else { unreachable!() };
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM event_cursors WHERE tenant = $1")
        .bind(TENANT)
        .fetch_one(pool)
        .await
        .unwrap();
    n as usize
}
