//! P7, P9 (storage part): the platform tables behave the same on SQLite
//! (the embedded default) and PostgreSQL, and keep tenants apart.

use crate::common::for_each_db;
use hamgam::runtime::backends::{CrmStore, ModuleRecord, Scope, StateStore};

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
        let rec = |id: &str, body: &str| ModuleRecord {
            record_type: "petty-cash-bill".into(),
            id: id.into(),
            body: body.into(),
        };
        db.put_record("a", rec("b-1", "{\"n\":1}")).await.unwrap();
        db.put_record("a", rec("b-2", "{\"n\":2}")).await.unwrap();
        db.put_record("a", rec("c-1", "{}")).await.unwrap();
        db.put_record("a", rec("b-1", "{\"n\":3}")).await.unwrap();
        db.put_record("b", rec("b-9", "{}")).await.unwrap();
        let got = db
            .get_record("a", "petty-cash-bill", "b-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.body, "{\"n\":3}");
        assert!(
            db.get_record("b", "petty-cash-bill", "b-1")
                .await
                .unwrap()
                .is_none()
        );
        let ids: Vec<String> = db
            .list_records("a", "petty-cash-bill", "b-", 10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["b-1", "b-2"]);
        // `%` and `_` in a prefix are literal, not patterns.
        assert!(
            db.list_records("a", "petty-cash-bill", "%", 10)
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
