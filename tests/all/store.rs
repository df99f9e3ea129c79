//! P7, P9 (storage part): the platform tables behave the same on SQLite
//! (the embedded default) and PostgreSQL, and keep tenants apart.

use crate::common::{for_each_db, fresh_postgres, postgres_url};
use hamgam::runtime::backends::{CrmStore, ModuleRecord, RecordScope, Scope, StateStore};

fn records(tenant: &str, plugin: &str, instance: &str) -> RecordScope {
    RecordScope {
        tenant: tenant.into(),
        plugin: plugin.into(),
        instance: instance.into(),
    }
}

fn rec(record_type: &str, id: &str, body: &str) -> ModuleRecord {
    ModuleRecord {
        record_type: record_type.into(),
        id: id.into(),
        body: body.into(),
    }
}

fn scope(tenant: &str) -> Scope {
    Scope {
        tenant: tenant.into(),
        instance: "main".into(),
    }
}

#[tokio::test]
async fn p7_state_store_is_scoped_per_tenant_on_every_backend() {
    for_each_db(async |db| {
        let (a, b) = (scope("a"), scope("b"));
        db.set(&a, "cursor", b"41").await.unwrap();
        db.set(&a, "cursor", b"42").await.unwrap();
        assert_eq!(
            db.get(&a, "cursor").await.unwrap().as_deref(),
            Some(&b"42"[..])
        );
        assert_eq!(db.get(&b, "cursor").await.unwrap(), None);
        db.delete(&a, "cursor").await.unwrap();
        assert_eq!(db.get(&a, "cursor").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn p7_module_records_are_scoped_per_tenant_on_every_backend() {
    for_each_db(async |db| {
        let rec = |id: &str, body: &str| rec("petty-cash-bill", id, body);
        let (a, b) = (
            records("a", "petty-cash", "main"),
            records("b", "petty-cash", "main"),
        );
        db.put_record(&a, rec("b-1", "{\"n\":1}"), Default::default())
            .await
            .unwrap();
        db.put_record(&a, rec("b-2", "{\"n\":2}"), Default::default())
            .await
            .unwrap();
        db.put_record(&a, rec("c-1", "{}"), Default::default())
            .await
            .unwrap();
        db.put_record(&a, rec("b-1", "{\"n\":3}"), Default::default())
            .await
            .unwrap();
        db.put_record(&b, rec("b-9", "{}"), Default::default())
            .await
            .unwrap();
        let got = db
            .get_record(&a, "petty-cash-bill", "b-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.body, "{\"n\":3}");
        assert!(
            db.get_record(&b, "petty-cash-bill", "b-1")
                .await
                .unwrap()
                .is_none()
        );
        let ids: Vec<String> = db
            .list_records(&a, "petty-cash-bill", "b-", 10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["b-1", "b-2"]);
        // `%` and `_` in a prefix are literal, not patterns.
        assert!(
            db.list_records(&a, "petty-cash-bill", "%", 10)
                .await
                .unwrap()
                .is_empty()
        );
        db.emit("a", "petty-cash", "petty-cash.bill-approved", "{}")
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn p7_module_records_are_scoped_per_plugin_and_instance_on_every_backend() {
    for_each_db(async |db| {
        let owner = records("t", "petty-cash", "north");
        let other_instance = records("t", "petty-cash", "south");
        // Same tenant and instance name, another plugin (an instance
        // re-pointed at a different plugin, or a module guessing names).
        let other_plugin = records("t", "hostile", "north");
        db.put_record(
            &owner,
            rec("petty-cash-bill", "bill-1", "{\"mine\":true}"),
            Default::default(),
        )
        .await
        .unwrap();
        for stranger in [&other_instance, &other_plugin] {
            assert!(
                db.get_record(stranger, "petty-cash-bill", "bill-1")
                    .await
                    .unwrap()
                    .is_none(),
                "{stranger:?}"
            );
            assert!(
                db.list_records(stranger, "petty-cash-bill", "", 10)
                    .await
                    .unwrap()
                    .is_empty(),
                "{stranger:?}"
            );
            // Writing the same key lands in the stranger's own scope.
            db.put_record(
                stranger,
                rec("petty-cash-bill", "bill-1", "{\"forged\":true}"),
                Default::default(),
            )
            .await
            .unwrap();
        }
        let mine = db
            .get_record(&owner, "petty-cash-bill", "bill-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(mine.body, "{\"mine\":true}");
    })
    .await;
}

/// The schema as it was before migration 20261203000420, with rows in it,
/// then the host's own start-up (`Db::connect`) brings it up to date.
async fn legacy_rows_then_upgrade(url: &str, sqlite: bool) -> hamgam::store::Db {
    // The migrations folder as it was: every file older than the scope
    // migration, loaded through sqlx's public directory source.
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../host/migrations")
        .join(if sqlite { "sqlite" } else { "postgres" });
    let old = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.as_str() < "20261203000420" {
            std::fs::copy(&path, old.path().join(&name)).unwrap();
        }
    }
    let before = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
    let insert = "INSERT INTO module_records (tenant, record_type, id, body) VALUES \
                  ('t', 'petty-cash-bill', 'bill-000001', '{\"old\":1}'), \
                  ('t', 'petty-cash-bill', 'bill-000002', '{\"old\":2}'), \
                  ('t', 'other-type', 'x', '{}'), \
                  ('u', 'petty-cash-bill', 'bill-000001', '{\"other tenant\":1}')";
    if sqlite {
        let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=rwc"))
            .await
            .unwrap();
        before.run(&pool).await.unwrap();
        sqlx::raw_sql(insert).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        before.run(&pool).await.unwrap();
        sqlx::raw_sql(insert).execute(&pool).await.unwrap();
        pool.close().await;
    }
    hamgam::store::Db::connect(url).await.expect("upgrade")
}

#[tokio::test]
async fn p7_records_from_before_the_scope_migration_keep_working_for_the_modules_that_declare_them()
{
    let dir = tempfile::tempdir().unwrap();
    let mut dbs = vec![
        legacy_rows_then_upgrade(
            &format!("sqlite://{}", dir.path().join("legacy.db").display()),
            true,
        )
        .await,
    ];
    if let Some(base) = postgres_url() {
        dbs.push(legacy_rows_then_upgrade(&fresh_postgres(&base).await, false).await);
    }
    for db in dbs {
        let backend = db.backend();
        let north = records("t", "petty-cash", "north");
        let south = records("t", "petty-cash", "south");
        let thief = records("t", "hostile", "main");
        // Until adopted, no instance sees the unscoped rows.
        assert!(
            db.list_records(&north, "petty-cash-bill", "", 10)
                .await
                .unwrap()
                .is_empty(),
            "{backend}"
        );
        // North already wrote bill-000002 after the upgrade: its own
        // version wins over the old copy.
        db.put_record(
            &north,
            rec("petty-cash-bill", "bill-000002", "{\"new\":2}"),
            Default::default(),
        )
        .await
        .unwrap();
        let types = vec!["petty-cash-bill".to_string()];
        assert_eq!(
            db.adopt_unscoped(&north, &types).await.unwrap(),
            1,
            "{backend}"
        );
        assert_eq!(
            db.adopt_unscoped(&south, &types).await.unwrap(),
            2,
            "{backend}"
        );
        // Adopting again (every health check does) changes nothing.
        assert_eq!(
            db.adopt_unscoped(&north, &types).await.unwrap(),
            0,
            "{backend}"
        );
        let bodies = async |s: &RecordScope| -> Vec<String> {
            db.list_records(s, "petty-cash-bill", "", 10)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.body)
                .collect()
        };
        assert_eq!(
            bodies(&north).await,
            ["{\"old\":1}", "{\"new\":2}"],
            "{backend}"
        );
        assert_eq!(
            bodies(&south).await,
            ["{\"old\":1}", "{\"old\":2}"],
            "{backend}"
        );
        // A module that does not declare the type gets nothing.
        assert_eq!(
            db.adopt_unscoped(&thief, &["other-type".to_string()])
                .await
                .unwrap(),
            1,
            "{backend}"
        );
        assert!(bodies(&thief).await.is_empty(), "{backend}");
        // Another tenant's old rows stay with that tenant.
        assert!(
            !bodies(&south)
                .await
                .iter()
                .any(|b| b.contains("other tenant"))
        );
    }
}
