//! The sync engine's tables on SQLite and PostgreSQL: links (one per ledger
//! record, one per CRM record and instance), cursors committed with their
//! page, outbox routing, settling and the F2 retry, and the ledger-side
//! writes that keep a ledger document's number and state.

use crate::common::for_each_db;
use hamgam::crm::kinds::{EntityKind, OutboxStatus};
use hamgam::crm::settings::CrmSettings;
use hamgam::crm::{Actor, DocumentKind, DocumentRequest, PartyInput, Status};
use hamgam::store::journal::outbox::{self, Route, Settlement};
use hamgam::store::sync::{self as links, Cursor, Link, LinkOrigin};
use hamgam::store::{document, party};
use serde_json::json;
use std::collections::HashMap;

fn link(kind: &str, remote: &str, local: Option<i64>) -> Link {
    Link {
        tenant: "acme".into(),
        instance: "sepidar-300".into(),
        kind: kind.into(),
        remote_id: remote.into(),
        local_kind: kind.into(),
        local_id: local,
        remote_version: Some("1".into()),
        remote_number: None,
        content_hash: Some("h1".into()),
        origin: LinkOrigin::Ledger,
        status: "synced".into(),
        error: None,
        seen_scan: 1,
        last_synced: "2026-11-22T00:00:00Z".into(),
    }
}

#[tokio::test]
async fn links_are_unique_per_remote_record_and_per_local_record() {
    for_each_db(async |db| {
        let mut tx = db.begin().await.unwrap();
        links::put_link(&mut tx, &link("quote", "10", Some(5)))
            .await
            .unwrap();
        // The same CRM quote re-created in the ledger under a new id (the web
        // service has no quote edit): the old link goes, the new one stays.
        links::put_link(&mut tx, &link("quote", "11", Some(5)))
            .await
            .unwrap();
        let mut changed = link("party", "7", Some(1));
        links::put_link(&mut tx, &changed).await.unwrap();
        changed.content_hash = Some("h2".into());
        links::put_link(&mut tx, &changed).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = db.begin().await.unwrap();
        assert!(
            links::link_by_remote(&mut tx, "acme", "sepidar-300", "quote", "10")
                .await
                .unwrap()
                .is_none()
        );
        let party = links::link_by_remote(&mut tx, "acme", "sepidar-300", "party", "7")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(party.content_hash.as_deref(), Some("h2"));
        // Another tenant sees nothing.
        assert!(
            links::link_by_remote(&mut tx, "globex", "sepidar-300", "party", "7")
                .await
                .unwrap()
                .is_none()
        );
        drop(tx);
        let by_local = links::link_by_local(&db, "acme", "sepidar-300", "quote", 5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_local.remote_id, "11");
        let unseen = links::unseen(&db, "acme", "sepidar-300", "party", 2)
            .await
            .unwrap();
        assert_eq!(unseen.len(), 1, "seen in scan 1, not in scan 2");
        assert!(
            links::unseen(&db, "acme", "sepidar-300", "party", 1)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn a_cursor_is_kept_only_when_its_transaction_commits() {
    for_each_db(async |db| {
        let mut tx = db.begin().await.unwrap();
        let c = Cursor {
            cursor: Some("page-2".into()),
            scan: 3,
            scanning: true,
        };
        links::save_cursor(&mut tx, "acme", "i", "party", &c, "t")
            .await
            .unwrap();
        drop(tx); // rolled back: a crash before commit
        assert_eq!(
            links::read_cursor(&db, "acme", "i", "party").await.unwrap(),
            Cursor::default()
        );
        let mut tx = db.begin().await.unwrap();
        links::save_cursor(&mut tx, "acme", "i", "party", &c, "t")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            links::read_cursor(&db, "acme", "i", "party").await.unwrap(),
            c
        );
    })
    .await;
}

#[tokio::test]
async fn f2_outbox_rows_are_routed_settled_and_retried() {
    for_each_db(async |db| {
        let a = Actor::api("acme");
        let party = serde_json::from_value::<PartyInput>(json!({
            "kind": "organisation", "name": "پارس", "customer_number": "12-300"
        }))
        .unwrap()
        .validate()
        .unwrap();
        let p = party::create_party(&db, &a, &party).await.unwrap();
        let rows = outbox::unrouted(&db, "acme", 10).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].entity_kind.as_str(), rows[0].entity_id),
            ("party", p.id)
        );
        assert_eq!(
            links::company_of(&db, "acme", EntityKind::Party, p.id)
                .await
                .unwrap(),
            Some(300)
        );
        let id = rows[0].id;
        let to = Route::To {
            target: "sepidar-300",
            key: "0b6d3c3e-5a4f-8d2e-9c1a-7f00aa11bb22",
        };
        outbox::route(&db, "acme", id, to, "2026-01-01T00:00:00Z")
            .await
            .unwrap();
        // The pushed record is found by the key its ledger kept.
        let mut tx = db.begin().await.unwrap();
        assert_eq!(
            outbox::change_by_key(&mut tx, "acme", "0B6D3C3E-5A4F-8D2E-9C1A-7F00AA11BB22")
                .await
                .unwrap(),
            Some((EntityKind::Party, p.id))
        );
        assert_eq!(
            outbox::change_by_key(&mut tx, "globex", "0b6d3c3e-5a4f-8d2e-9c1a-7f00aa11bb22")
                .await
                .unwrap(),
            None
        );
        drop(tx);
        assert!(outbox::unrouted(&db, "acme", 10).await.unwrap().is_empty());
        let due = outbox::due(&db, "acme", "sepidar-300", "2026-01-01T00:00:01Z", 10)
            .await
            .unwrap();
        assert_eq!(due.len(), 1);
        assert!(
            outbox::due(&db, "acme", "sepidar-400", "2026-01-01T00:00:01Z", 10)
                .await
                .unwrap()
                .is_empty(),
            "routed to company 300 only"
        );
        // A backed-off row is not due before its time.
        let mut tx = db.begin().await.unwrap();
        outbox::settle(
            &mut tx,
            "acme",
            &[id],
            Settlement {
                status: OutboxStatus::Pending,
                attempts: 1,
                next_attempt_at: Some("2026-01-01T00:05:00Z"),
                error: Some("down"),
            },
            "t",
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert!(
            outbox::due(&db, "acme", "sepidar-300", "2026-01-01T00:00:02Z", 10)
                .await
                .unwrap()
                .is_empty()
        );
        // A pending row cannot be "retried"; a failed one can, once.
        assert!(!outbox::retry(&db, "acme", id, "t").await.unwrap());
        let mut tx = db.begin().await.unwrap();
        outbox::settle(
            &mut tx,
            "acme",
            &[id],
            Settlement {
                status: OutboxStatus::Failed,
                attempts: 8,
                next_attempt_at: None,
                error: Some("Sepidar: CityRef"),
            },
            "t",
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            outbox::outbox_with_status(&db, "acme", OutboxStatus::Failed, 10)
                .await
                .unwrap()[0]
                .last_error
                .as_deref(),
            Some("Sepidar: CityRef")
        );
        assert!(outbox::retry(&db, "acme", id, "t").await.unwrap());
        let item = outbox::outbox_item(&db, "acme", id).await.unwrap().unwrap();
        assert_eq!((item.status.as_str(), item.attempts), ("pending", 0));
        assert!(
            outbox::retry(&db, "globex", id, "t")
                .await
                .is_ok_and(|r| !r)
        );
    })
    .await;
}

#[tokio::test]
async fn ledger_documents_arrive_approved_with_their_number_and_leave_when_deleted() {
    for_each_db(async |db| {
        let actor = Actor::connector("acme", "sepidar-300");
        let party = serde_json::from_value::<PartyInput>(json!({
            "kind": "organisation", "name": "پارس", "customer_number": "12-300"
        }))
        .unwrap()
        .validate()
        .unwrap();
        let mut tx = db.begin().await.unwrap();
        let p = party::create_party_in_op(&mut tx, &actor, &party)
            .await
            .unwrap();
        let new = serde_json::from_value::<DocumentRequest>(json!({
            "party_id": p.id, "date": "1404/01/01",
            "lines": [{"quantity": "2", "unit_price": "1000000"}]
        }))
        .unwrap()
        .prepare(
            DocumentKind::SalesInvoice,
            &HashMap::new(),
            &CrmSettings::default().rates,
        )
        .unwrap();
        let doc = document::create_ledger_document_in_op(&mut tx, &actor, &new, "1404/15-300")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let stored = document::get_document(&db, "acme", DocumentKind::SalesInvoice, doc.id)
            .await
            .unwrap();
        assert_eq!(stored.status, Status::Approved);
        assert_eq!(stored.number.as_deref(), Some("1404/15-300"));
        assert_eq!(stored.sync_status, "synced");
        assert_eq!(stored.origin, "connector:sepidar-300");
        let mut tx = db.begin().await.unwrap();
        assert_eq!(
            links::find_by_key(&mut tx, "acme", EntityKind::SalesInvoice, "1404/15-300")
                .await
                .unwrap()
                .map(|(id, _)| id),
            Some(doc.id)
        );
        // An approved invoice is immutable through the API (F1) ...
        drop(tx);
        assert!(
            document::delete_document(&db, &Actor::api("acme"), DocumentKind::SalesInvoice, doc.id)
                .await
                .is_err()
        );
        // ... but the ledger that booked it may delete it (S14).
        let mut tx = db.begin().await.unwrap();
        document::remove_ledger_document_in_op(&mut tx, &actor, DocumentKind::SalesInvoice, doc.id)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(
            document::get_document(&db, "acme", DocumentKind::SalesInvoice, doc.id)
                .await
                .is_err()
        );
    })
    .await;
}
