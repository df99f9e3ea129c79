//! Issue 13 §7, engine level: whatever the connector, an older remote
//! version of a record never rolls back a newer one already applied. A
//! scripted connector (the `Ledger` trait the wasm instances implement)
//! hands the engine pages in the order a late webhook or an overlapping
//! page would.

use crate::sync_sepidar::{Rig, TENANT};
use async_trait::async_trait;
use hamgam::runtime::bindings::connector::exports::hamgam::ledger0_1_0::connector as ledger;
use hamgam::runtime::bindings::types as wit;
use hamgam::runtime::error::CallError;
use hamgam::sync::Ledger;
use std::collections::VecDeque;
use std::sync::Mutex;

const INSTANCE: &str = "scripted";

/// A connector that answers each pull with the next scripted page.
#[derive(Default)]
struct Scripted {
    pages: Mutex<VecDeque<Vec<ledger::Change>>>,
}

impl Scripted {
    fn then(&self, changes: Vec<ledger::Change>) {
        self.pages.lock().unwrap().push_back(changes);
    }
}

#[async_trait]
impl Ledger for Scripted {
    async fn describe(&self) -> Result<ledger::ConnectorInfo, CallError> {
        unreachable!("import_kind does not describe")
    }

    async fn pull(
        &self,
        _kind: wit::EntityKind,
        _cursor: Option<String>,
        _limit: u32,
    ) -> Result<Result<ledger::ChangePage, wit::Error>, CallError> {
        let changes = self.pages.lock().unwrap().pop_front().unwrap_or_default();
        Ok(Ok(ledger::ChangePage {
            changes,
            next_cursor: Some("next".into()),
            has_more: false,
            full_scan: false,
        }))
    }

    async fn fetch(
        &self,
        _kind: wit::EntityKind,
        _remote_id: String,
    ) -> Result<Result<Option<ledger::RemoteRecord>, wit::Error>, CallError> {
        Ok(Err(wit::Error::Unsupported("scripted".into())))
    }

    async fn push(
        &self,
        _kind: wit::EntityKind,
        _item: wit::Entity,
        _remote_id: Option<String>,
        _version: Option<String>,
        _key: String,
    ) -> Result<Result<ledger::PushOutcome, wit::Error>, CallError> {
        Ok(Err(wit::Error::Unsupported("scripted".into())))
    }
}

/// Party `remote_id` named `last_name`, at `version`.
fn party(remote_id: &str, number: &str, last_name: &str, version: &str) -> ledger::Change {
    ledger::Change::Upsert(ledger::RemoteRecord {
        remote_id: remote_id.into(),
        version: Some(version.into()),
        origin_key: None,
        entity: wit::Entity::Party(wit::Party {
            kind: wit::PartyKind::Person,
            first_name: Some("مینا".into()),
            last_name: Some(last_name.into()),
            name: None,
            customer_number: Some(number.into()),
            national_id: None,
            registration_number: None,
            economic_code: None,
            birth_date: None,
            is_employee: false,
            phones: Vec::new(),
            addresses: Vec::new(),
        }),
    })
}

#[tokio::test]
async fn s19_an_older_remote_version_never_rolls_back_a_newer_one_for_any_connector() {
    let rig = Rig::start().await;
    let ledger = Scripted::default();
    let import = async || {
        rig.engine
            .import_kind(TENANT, INSTANCE, &ledger, wit::EntityKind::Party, 300)
            .await
            .expect("import")
    };
    let last_name = async |number: &str| {
        rig.party_by_number(number).await.expect("the party")["last_name"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // Row stamps (Sepidar's `Version`), and modification times
    // (WooCommerce's `date_modified_gmt`).
    ledger.then(vec![
        party("7", "701", "جدید", "12"),
        party("8", "801", "جدید", "2025-03-21T10:05:00"),
    ]);
    let r = import().await;
    assert_eq!((r.applied, r.stale), (2, 0), "{r:?}");

    // Older versions arrive late: nothing is rolled back.
    ledger.then(vec![
        party("7", "701", "قدیمی", "9"),
        party("8", "801", "قدیمی", "2025-03-21T10:00:00"),
    ]);
    let r = import().await;
    assert_eq!((r.applied, r.stale), (0, 2), "{r:?}");
    assert_eq!(last_name("701-300").await, "جدید");
    assert_eq!(last_name("801-300").await, "جدید");

    // Newer ones still apply, and so do records whose versions have no
    // order (the content hash decides, as before).
    ledger.then(vec![
        party("7", "701", "تازه‌تر", "13"),
        party("8", "801", "تازه‌تر", "2025-03-21T10:06:00"),
        party("9", "901", "یک", "rev-b"),
    ]);
    let r = import().await;
    assert_eq!((r.applied, r.stale), (3, 0), "{r:?}");
    ledger.then(vec![party("9", "901", "دو", "rev-a")]);
    let r = import().await;
    assert_eq!((r.applied, r.stale), (1, 0), "{r:?}");
    assert_eq!(last_name("701-300").await, "تازه‌تر");
    assert_eq!(last_name("801-300").await, "تازه‌تر");
    assert_eq!(last_name("901-300").await, "دو");
}
