//! Typed module records (issue 15 §3; P6, C6): a module's manifest
//! declares each record type with a JSON Schema, a version and the fields
//! to index; the host checks every write (field-named errors), answers
//! queries on the indexed fields, audits every change with its event, and
//! migrates stored records when a new plugin version raises the version.

use crate::common::json;
use hamgam::config::Config;
use hamgam::plugins::registry::{Catalog, Registry};
use hamgam::runtime::backends::TracingRecorder;
use hamgam::runtime::instance::{PluginInstance, Services, SystemClock};
use hamgam::store::Db;
use hamgam::store::modules::{self, Owner};
use serde_json::{Value, json};
use std::sync::Arc;

const CONFIG: &str = r#"
[tenants.acme.instances.hostile]
plugin = "hostile"
enabled = true
grants = { crm = "read-write" }
"#;

const OWNER: Owner<'static> = Owner {
    tenant: "acme",
    plugin: "hostile",
    instance: "hostile",
};

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The registry of one host over `db` with these plugin files installed.
async fn running(db: &Db, files: &[Vec<u8>]) -> (Registry, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let host = hamgam::testing::TestHost::new();
    let mut catalog = Catalog::default();
    for (n, bytes) in files.iter().enumerate() {
        let path = dir.path().join(format!("hostile-{n}.wasm"));
        std::fs::write(&path, bytes).unwrap();
        catalog.insert(Arc::new(host.runtime().load_file(&path).unwrap()));
    }
    let db = Arc::new(db.clone());
    let services = Services {
        state: db.clone(),
        crm: db.clone(),
        entities: db,
        sql: Arc::new(hamgam::runtime::sql::SqlConnections::default()),
        recorder: Arc::new(TracingRecorder),
        clock: Arc::new(SystemClock),
    };
    let license = hamgam::plugins::licensing::LicenseState {
        license: None,
        problem: Some("no license".into()),
        today: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    };
    let config = Config::parse(CONFIG).unwrap();
    let registry = Registry::build(host.runtime(), &catalog, &config, &services, &license).await;
    (registry, dir)
}

fn instance(registry: &Registry) -> Arc<PluginInstance> {
    registry
        .get("acme", "hostile")
        .unwrap_or_else(|| panic!("not running: {:?}", registry.statuses()))
        .clone()
}

async fn put(m: &PluginInstance, id: &str, body: &Value) -> Value {
    let path = format!(
        "/record-put?type=note&id={id}&body={}",
        enc(&body.to_string())
    );
    json(m, &path).await
}

async fn db() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("h.db").display());
    (Db::connect(&url).await.unwrap(), dir)
}

fn hostile() -> Vec<u8> {
    std::fs::read(crate::common::plugin("hostile")).unwrap()
}

/// The same module at 0.2.0, whose `note` (version 2) requires an owner.
fn hostile_v2() -> Vec<u8> {
    let manifest = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/hostile/plugin.toml"),
    )
    .unwrap();
    let v2 = manifest
        .replacen("version = \"0.1.0\"", "version = \"0.2.0\"", 1)
        .replace("[records.note]\nversion = 1", "[records.note]\nversion = 2")
        .replace(
            r#""required": ["topic", "amount"],"#,
            r#""required": ["topic", "amount", "owner"],"#,
        );
    assert_ne!(v2, manifest, "the manifest changed");
    hamgam_trust::manifest::replace_manifest(&hostile(), &v2).unwrap()
}

#[tokio::test]
async fn c6_a_typed_record_is_checked_indexed_queried_and_audited_with_its_event() {
    let (db, _d) = db().await;
    let (registry, _p) = running(&db, &[hostile()]).await;
    let m = instance(&registry);

    for (id, body) in [
        (
            "n1",
            json!({"topic": "rent", "amount": "1200", "done": false}),
        ),
        ("n2", json!({"topic": "rent", "amount": "5", "done": true})),
        (
            "n3",
            json!({"topic": "fuel", "amount": "7", "items": [{"qty": 2}]}),
        ),
    ] {
        assert_eq!(put(&m, id, &body).await, json!({ "ok": true }), "{id}");
    }

    // Each refusal names the field and the rule, and stores nothing.
    let refusals = [
        (json!({"topic": "rent", "amount": "12.5"}), "amount"),
        (json!({"amount": "1"}), "topic"),
        (
            json!({"topic": "x", "amount": "1", "items": [{"qty": 0}]}),
            "items.0.qty",
        ),
        (
            json!({"topic": "x", "amount": "1", "colour": "red"}),
            "body",
        ),
    ];
    for (body, field) in refusals {
        let refused = put(&m, "bad", &body).await;
        assert_eq!(refused["field"], field, "{body}: {refused}");
        assert!(
            !refused["error"].as_str().unwrap_or("").is_empty(),
            "{refused}"
        );
    }
    assert!(
        modules::record_get(&db, OWNER, "note", "bad")
            .await
            .unwrap()
            .is_none()
    );
    let undeclared = json(&m, "/record-put?type=other&id=o1&body=%7B%7D").await;
    assert_eq!(undeclared["field"], "record-type", "{undeclared}");

    // Queries on indexed fields, paged by id.
    let rent = json(&m, "/record-query?type=note&field=topic&value=rent").await;
    assert_eq!(rent["ids"], json!(["n1", "n2"]), "{rent}");
    let done = json(&m, "/record-query?type=note&field=done&value=true").await;
    assert_eq!(done["ids"], json!(["n2"]), "{done}");
    let page = json(&m, "/record-query?type=note&limit=2").await;
    assert_eq!(page["ids"], json!(["n1", "n2"]));
    assert_eq!(page["next"], "n2");
    let rest = json(&m, "/record-query?type=note&limit=2&after=n2").await;
    assert_eq!(rest["ids"], json!(["n3"]));
    let unindexed = json(&m, "/record-query?type=note&field=amount&value=5").await;
    assert_eq!(unindexed["field"], "amount", "{unindexed}");

    // An edit: the audit keeps before and after, and each change is an event.
    let edited = json!({"topic": "rent", "amount": "1300", "done": true});
    assert_eq!(put(&m, "n1", &edited).await, json!({ "ok": true }));
    let done = json(&m, "/record-query?type=note&field=done&value=true").await;
    assert_eq!(
        done["ids"],
        json!(["n1", "n2"]),
        "the index follows the edit"
    );
    let trail = modules::record_audit(&db, OWNER, "note", "n1")
        .await
        .unwrap();
    assert_eq!(trail.len(), 2, "{trail:?}");
    assert_eq!(trail[0].0, "module:hostile");
    assert!(trail[0].1.is_none(), "created from nothing");
    let before: Value = serde_json::from_str(trail[1].1.as_deref().unwrap()).unwrap();
    assert_eq!(before["amount"], "1200");
    let after: Value = serde_json::from_str(&trail[1].2).unwrap();
    assert_eq!(after["amount"], "1300");
    hamgam::store::event::sequence(&db, 1_000).await.unwrap();
    let names: Vec<String> = hamgam::store::event::after(&db, "acme", 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.subject == "module:hostile:note:n1")
        .map(|e| e.name)
        .collect();
    assert_eq!(
        names,
        ["module.hostile.note.created", "module.hostile.note.updated"]
    );
}

#[tokio::test]
async fn p6_a_schema_change_across_two_plugin_versions_migrates_the_stored_records() {
    let (db, _d) = db().await;
    {
        let (registry, _p) = running(&db, &[hostile()]).await;
        let m = instance(&registry);
        for id in ["n1", "n2"] {
            let body = json!({"topic": "rent", "amount": "10"});
            assert_eq!(put(&m, id, &body).await, json!({ "ok": true }));
        }
    }
    // The operator installs 0.2.0 beside 0.1.0: its health check migrates.
    let (registry, _p) = running(&db, &[hostile(), hostile_v2()]).await;
    let status = &registry.statuses()[0];
    assert_eq!(status.version.as_deref(), Some("0.2.0"), "{status:?}");
    let m = instance(&registry);
    let notes = json(&m, "/record-query?type=note&field=topic&value=rent").await;
    assert_eq!(
        notes["bodies"],
        json!([
            {"topic": "rent", "amount": "10", "owner": "migrated"},
            {"topic": "rent", "amount": "10", "owner": "migrated"}
        ]),
        "{notes}"
    );
    let trail = modules::record_audit(&db, OWNER, "note", "n1")
        .await
        .unwrap();
    assert_eq!(trail.len(), 2, "the migration is audited: {trail:?}");
    // Version 2's rule holds for new writes.
    let refused = put(&m, "n3", &json!({"topic": "rent", "amount": "1"})).await;
    assert_eq!(refused["field"], "owner", "{refused}");
}

#[tokio::test]
async fn p6_a_record_that_cannot_be_migrated_keeps_the_older_version_running_and_the_records_as_they_were()
 {
    let (db, _d) = db().await;
    {
        let (registry, _p) = running(&db, &[hostile()]).await;
        let m = instance(&registry);
        let good = json!({"topic": "rent", "amount": "10"});
        let stuck = json!({"topic": "unmigratable", "amount": "10"});
        assert_eq!(put(&m, "n1", &good).await, json!({ "ok": true }));
        assert_eq!(put(&m, "n2", &stuck).await, json!({ "ok": true }));
    }
    let (registry, _p) = running(&db, &[hostile(), hostile_v2()]).await;
    let status = &registry.statuses()[0];
    assert_eq!(status.version.as_deref(), Some("0.1.0"), "{status:?}");
    assert!(
        status
            .rolled_back
            .iter()
            .any(|why| why.contains("0.2.0") && why.contains("note/n2")),
        "{status:?}"
    );
    for id in ["n1", "n2"] {
        let body = modules::record_get(&db, OWNER, "note", id)
            .await
            .unwrap()
            .unwrap();
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(body.get("owner").is_none(), "{id} untouched: {body}");
    }
}
