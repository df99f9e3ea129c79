//! The CRM repositories on SQLite and PostgreSQL (the same suite on both):
//! tenant scoping (P7), audit and outbox in the same transaction (C6),
//! approval and numbering (F1, S17, S18), statements (C2), batch writes, and
//! the number allocator under concurrency.

use crate::common::{for_each_db, fresh_postgres, postgres_url};
use hamgam::crm::kinds::EntityKind;
use hamgam::crm::settings::CrmSettings;
use hamgam::crm::{
    Actor, DocumentKind, DocumentRequest, NewDocument, PartyInput, PaymentKind, PaymentRequest,
    Status,
};
use hamgam::store::Db;
use hamgam::store::document::{self, DocFilter};
use hamgam::store::error::StoreError;
use hamgam::store::journal::{audit, outbox};
use hamgam::store::numbering::allocate;
use hamgam::store::{self, party, payment, statement};
use hamgam_domain::{CompanyCode, Currency, Decimal, JalaliDate, NumberTemplate};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};

fn party(customer_number: &str) -> hamgam::crm::NewParty {
    serde_json::from_value::<PartyInput>(json!({
        "kind": "person",
        "first_name": "علی",
        "last_name": "رضایی",
        "customer_number": customer_number,
        "national_id": "0012345679",
        "phones": [{"type": "mobile", "number": "+98 912 123 4567", "default": true}],
        "addresses": [{"city": "تهران", "line": "خیابان آزادی", "default": true}]
    }))
    .unwrap()
    .validate()
    .unwrap()
}

fn invoice(kind: DocumentKind, party_id: i64, date: &str, price: i64) -> NewDocument {
    serde_json::from_value::<DocumentRequest>(json!({
        "party_id": party_id,
        "date": date,
        "lines": [
            {"quantity": "2", "unit_price": price.to_string()},
            {"quantity": "1", "unit_price": "500000", "tax_exempt": true}
        ]
    }))
    .unwrap()
    .prepare(kind, &HashMap::new(), &CrmSettings::default().rates)
    .unwrap()
}

fn template(kind: &str) -> NumberTemplate {
    CrmSettings::default().template(kind).unwrap().clone()
}

#[tokio::test]
async fn c6_every_change_writes_audit_and_outbox_in_the_same_transaction() {
    for_each_db(async |db| {
        let a = Actor::api("acme");
        let p = party::create_party(&db, &a, &party("625-300"))
            .await
            .unwrap();
        assert_eq!(p.phones[0].number, "09121234567");
        let mut changed = party("625-300");
        changed.last_name = Some("کریمی".into());
        let p2 = party::update_party(&db, &a, p.id, &changed).await.unwrap();
        assert_eq!(p2.version, 2);

        // A write that fails (duplicate customer number) leaves no trace.
        let before = store::row_counts(&db).await.unwrap();
        let err = party::create_party(&db, &a, &party("625-300"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
        assert_eq!(store::row_counts(&db).await.unwrap(), before);

        let trail = audit::audit_trail(&db, "acme", EntityKind::Party, p.id)
            .await
            .unwrap();
        let ops: Vec<&str> = trail.iter().map(|r| r.operation.as_str()).collect();
        assert_eq!(ops, ["create", "update"]);
        assert_eq!(trail[1].actor, "api:acme");
        assert!(trail[1].before_json.as_deref().unwrap().contains("رضایی"));
        assert!(trail[1].after_json.as_deref().unwrap().contains("کریمی"));

        let sync = Actor::connector("acme", "sepidar-300");
        let d = sync
            .create_document_on(
                &db,
                &invoice(DocumentKind::SalesInvoice, p.id, "1403/05/01", 1000),
            )
            .await;
        let outbox = outbox::outbox(&db, "acme").await.unwrap();
        let last = outbox.last().unwrap();
        assert_eq!(
            (
                last.entity_kind.as_str(),
                last.entity_id,
                last.operation.as_str()
            ),
            ("sales_invoice", d.id, "create")
        );
        // The origin tag is what later stops an echo back to the ledger.
        assert_eq!(last.origin.to_string(), "connector:sepidar-300");
        assert_eq!(last.status, "pending");
        assert_eq!(outbox[0].origin.to_string(), "api:acme");
        assert_eq!(outbox.len(), 3);
        assert!(outbox::outbox(&db, "globex").await.unwrap().is_empty());
    })
    .await;
}

// `create_document` takes the db first; keep the call sites short.
trait CreateDoc {
    async fn create_document_on(&self, db: &Db, d: &NewDocument) -> hamgam::crm::Document;
}

impl CreateDoc for Actor {
    async fn create_document_on(&self, db: &Db, d: &NewDocument) -> hamgam::crm::Document {
        document::create_document(db, self, d).await.unwrap()
    }
}

#[tokio::test]
async fn p7_a_tenant_never_reads_or_changes_another_tenants_crm_rows() {
    for_each_db(async |db| {
        let a = Actor::api("acme");
        let b = Actor::api("globex");
        let p = party::create_party(&db, &a, &party("1-300")).await.unwrap();
        let d = a
            .create_document_on(&db, &invoice(DocumentKind::Quote, p.id, "1403/05/01", 1000))
            .await;
        let nf = |e: StoreError| matches!(e, StoreError::NotFound { .. });
        assert!(nf(party::get_party(&db, "globex", p.id).await.unwrap_err()));
        assert!(nf(party::update_party(&db, &b, p.id, &party("2-300"))
            .await
            .unwrap_err()));
        assert!(nf(party::delete_party(&db, &b, p.id).await.unwrap_err()));
        assert!(nf(document::get_document(
            &db,
            "globex",
            DocumentKind::Quote,
            d.id
        )
        .await
        .unwrap_err()));
        // The right tenant but the wrong kind is not found either.
        assert!(nf(document::get_document(
            &db,
            "acme",
            DocumentKind::SalesInvoice,
            d.id
        )
        .await
        .unwrap_err()));
        let t = template("quote");
        assert!(nf(document::decide_document(
            &db,
            &b,
            DocumentKind::Quote,
            d.id,
            true,
            &t
        )
        .await
        .unwrap_err()));
        assert!(nf(document::delete_document(
            &db,
            &b,
            DocumentKind::Quote,
            d.id
        )
        .await
        .unwrap_err()));
        // B cannot hang its documents on A's party.
        let err = document::create_document(
            &db,
            &b,
            &invoice(DocumentKind::Quote, p.id, "1403/05/01", 1),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(v) if v.field == "party_id"),
            "{err:?}"
        );
        assert!(
            party::list_parties(&db, "globex", &Default::default(), 0, 50)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            document::list_documents(
                &db,
                "globex",
                DocumentKind::Quote,
                &DocFilter::default(),
                0,
                50
            )
            .await
            .unwrap()
            .is_empty()
        );
        // The same customer number may exist in two tenants.
        party::create_party(&db, &b, &party("1-300")).await.unwrap();
        assert_eq!(
            party::get_party(&db, "acme", p.id).await.unwrap().version,
            1
        );
    })
    .await;
}

#[tokio::test]
async fn f1_approval_numbers_items_and_only_approved_amounts_count_in_the_statement() {
    for_each_db(async |db| {
        let a = Actor::api("acme");
        let p = party::create_party(&db, &a, &party("625-300"))
            .await
            .unwrap();
        let inv = a
            .create_document_on(
                &db,
                &invoice(DocumentKind::SalesInvoice, p.id, "1403/05/01", 1_000_000),
            )
            .await;
        // 2 × 1 000 000 taxed 7 % + 3 % on 1403 + 500 000 exempt.
        assert_eq!(inv.totals.grand_total, Decimal::from(2_700_000));
        let other = a
            .create_document_on(
                &db,
                &invoice(DocumentKind::SalesInvoice, p.id, "1403/05/02", 10),
            )
            .await;
        let t = template("sales_invoice");
        let approved =
            document::decide_document(&db, &a, DocumentKind::SalesInvoice, inv.id, true, &t)
                .await
                .unwrap();
        assert_eq!(approved.status, Status::Approved);
        assert_eq!(approved.number.as_deref(), Some("SI-03-000001-300"));
        let rejected =
            document::decide_document(&db, &a, DocumentKind::SalesInvoice, other.id, false, &t)
                .await
                .unwrap();
        assert_eq!((rejected.status, rejected.number), (Status::Rejected, None));
        // Decided items are final: no second decision, no edit, no delete.
        let again =
            document::decide_document(&db, &a, DocumentKind::SalesInvoice, inv.id, true, &t).await;
        assert!(matches!(again, Err(StoreError::Conflict { .. })));
        assert!(matches!(
            document::delete_document(&db, &a, DocumentKind::SalesInvoice, inv.id).await,
            Err(StoreError::Conflict { .. })
        ));

        let receipt = |amount: &str, method: &str| {
            serde_json::from_value::<PaymentRequest>(json!({
                "party_id": p.id, "date": "1403/05/10", "amount": amount,
                "method": method, "invoice_id": inv.id, "cheque_number": "۱۲۳۴۵"
            }))
            .unwrap()
            .validate(PaymentKind::Receipt)
            .unwrap()
        };
        let r1 = payment::create_payment(&db, &a, &receipt("700000", "cheque"))
            .await
            .unwrap();
        assert_eq!(r1.cheque_number.as_deref(), Some("12345"));
        let r2 = payment::create_payment(&db, &a, &receipt("2000000", "card"))
            .await
            .unwrap();
        let rt = template("receipt");
        payment::decide_payment(&db, &a, PaymentKind::Receipt, r1.id, true, &rt)
            .await
            .unwrap();
        let s = statement::statement(&db, "acme", p.id, Currency::IRR)
            .await
            .unwrap();
        // r2 is still pending: it does not count yet.
        assert_eq!(s.entries.len(), 2);
        assert_eq!(
            (s.total_debit, s.total_credit, s.balance),
            (
                Decimal::from(2_700_000),
                Decimal::from(700_000),
                Decimal::from(2_000_000)
            )
        );
        let unpaid = document::get_document(&db, "acme", DocumentKind::SalesInvoice, inv.id)
            .await
            .unwrap();
        assert!(!unpaid.paid);
        let r2 = payment::decide_payment(&db, &a, PaymentKind::Receipt, r2.id, true, &rt)
            .await
            .unwrap();
        assert_eq!(r2.number.as_deref(), Some("RC-03-000002-300"));
        let paid = document::get_document(&db, "acme", DocumentKind::SalesInvoice, inv.id)
            .await
            .unwrap();
        assert!(paid.paid);
        assert_eq!(paid.paid_amount, Decimal::from(2_700_000));
        // The invoice's `settle` change is an outbox row the sync engine
        // reads back like any other: one it could not decode would stop
        // the tenant's every run.
        let pending = hamgam::store::journal::outbox::outbox_with_status(
            &db,
            "acme",
            hamgam::crm::kinds::OutboxStatus::Pending,
            500,
        )
        .await
        .expect("every outbox row decodes");
        assert!(
            pending.iter().any(|row| row.entity_id == inv.id
                && row.operation == hamgam::crm::kinds::Operation::Settle),
            "the settlement is recorded on the invoice: {pending:?}"
        );
        let s = statement::statement(&db, "acme", p.id, Currency::IRR)
            .await
            .unwrap();
        let balances: Vec<Decimal> = s.entries.iter().map(|e| e.balance).collect();
        assert_eq!(
            balances,
            [
                Decimal::from(2_700_000),
                Decimal::from(2_000_000),
                Decimal::ZERO
            ]
        );
        let filter = DocFilter {
            paid: Some(true),
            ..DocFilter::default()
        };
        let ids: Vec<i64> =
            document::list_documents(&db, "acme", DocumentKind::SalesInvoice, &filter, 0, 10)
                .await
                .unwrap()
                .iter()
                .map(|d| d.id)
                .collect();
        assert_eq!(ids, [inv.id]);
    })
    .await;
}

#[tokio::test]
async fn s18_shyy_switches_at_nowruz_and_the_counter_restarts() {
    for_each_db(async |db| {
        let t = NumberTemplate::parse("QT-{SHYY}-{counter:5}-{company}").unwrap();
        let c = CompanyCode::new(300).unwrap();
        let last_day = JalaliDate::new(1403, 12, 30).unwrap(); // 1403 is a leap year
        let day_before = JalaliDate::new(1403, 12, 29).unwrap();
        let nowruz = JalaliDate::new(1404, 1, 1).unwrap();
        assert_eq!(nowruz.to_gregorian().to_string(), "2025-03-21");
        let mut got = Vec::new();
        for d in [day_before, last_day, nowruz, nowruz] {
            got.push(allocate(&db, "acme", "quote", &t, d, c).await.unwrap());
        }
        assert_eq!(
            got,
            [
                "QT-03-00001-300",
                "QT-03-00002-300",
                "QT-04-00001-300",
                "QT-04-00002-300"
            ]
        );
        // Another tenant and another sequence have their own counters.
        assert_eq!(
            allocate(&db, "globex", "quote", &t, nowruz, c)
                .await
                .unwrap(),
            "QT-04-00001-300"
        );
        assert_eq!(
            allocate(&db, "acme", "sales_order", &t, nowruz, c)
                .await
                .unwrap(),
            "QT-04-00001-300"
        );
    })
    .await;
}

async fn allocate_concurrently(db: &Db, clients: usize, each: usize) -> Vec<String> {
    let t = NumberTemplate::parse("SI-{SHYY}-{counter:6}-{company}").unwrap();
    let date = JalaliDate::new(1404, 3, 1).unwrap();
    let c = CompanyCode::new(300).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (db, t) = (db.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(each);
            for _ in 0..each {
                out.push(
                    allocate(&db, "acme", "sales_invoice", &t, date, c)
                        .await
                        .unwrap(),
                );
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

fn assert_gap_free(numbers: &[String], n: usize) {
    let distinct: BTreeSet<&String> = numbers.iter().collect();
    assert_eq!(distinct.len(), n, "numbers repeat");
    let expected: BTreeSet<String> = (1..=n).map(|i| format!("SI-04-{i:06}-300")).collect();
    assert_eq!(
        distinct.into_iter().cloned().collect::<BTreeSet<_>>(),
        expected,
        "gaps"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s10_numbering_8_clients_x_1000_get_8000_distinct_gap_free_numbers_on_postgres() {
    let Some(base) = postgres_url() else { return };
    let db = Db::connect(&fresh_postgres(&base).await).await.unwrap();
    let numbers = allocate_concurrently(&db, 8, 1000).await;
    assert_gap_free(&numbers, 8000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s10_numbering_concurrent_clients_are_gap_free_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("n.db").display()))
        .await
        .unwrap();
    let numbers = allocate_concurrently(&db, 8, 100).await;
    assert_gap_free(&numbers, 800);
}

#[tokio::test]
async fn batch_writes_pair_ids_with_their_documents_on_every_backend() {
    for_each_db(async |db| {
        let a = Actor::api("acme");
        let p = party::create_party(&db, &a, &party("7-300")).await.unwrap();
        let docs: Vec<NewDocument> = (0..250)
            .map(|i| invoice(DocumentKind::SalesInvoice, p.id, "1403/01/15", 1000 + i))
            .collect();
        let ids = document::create_documents(&db, &a, &docs).await.unwrap();
        assert_eq!(ids.len(), 250);
        for i in [0usize, 99, 100, 137, 249] {
            let got = document::get_document(&db, "acme", DocumentKind::SalesInvoice, ids[i])
                .await
                .unwrap();
            assert_eq!(got.lines, docs[i].lines, "document {i}");
            assert_eq!(got.totals, docs[i].totals, "document {i}");
        }
        // Cursor pagination: stable order by id, no overlaps, no gaps.
        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            let mut page = document::list_documents(
                &db,
                "acme",
                DocumentKind::SalesInvoice,
                &DocFilter::default(),
                after,
                100,
            )
            .await
            .unwrap();
            let more = page.len() > 100;
            page.truncate(100);
            after = page.last().map_or(after, |d| d.id);
            seen.extend(page.iter().map(|d| d.id));
            if !more {
                break;
            }
        }
        assert_eq!(seen, ids);
        let outbox = outbox::outbox(&db, "acme").await.unwrap();
        assert_eq!(outbox.len(), 251);
    })
    .await;
}

#[tokio::test]
async fn c5_decimals_round_trip_exactly_on_every_backend() {
    for_each_db(async |db| {
        let a = Actor::api("acme");
        let p = party::create_party(&db, &a, &party("8-300")).await.unwrap();
        let doc = serde_json::from_value::<DocumentRequest>(json!({
            "party_id": p.id, "date": "1403/01/15", "currency": "IRT",
            "lines": [{"quantity": "0.125", "unit_price": "999999999999.9", "tax_exempt": true}]
        }))
        .unwrap()
        .prepare(
            DocumentKind::Quote,
            &HashMap::new(),
            &CrmSettings::default().rates,
        )
        .unwrap();
        let stored = document::create_document(&db, &a, &doc).await.unwrap();
        let got = document::get_document(&db, "acme", DocumentKind::Quote, stored.id)
            .await
            .unwrap();
        assert_eq!(got.currency, Currency::IRT);
        assert_eq!(got.lines[0].quantity.to_string(), "0.125");
        // 0.125 × 999 999 999 999.9 = 124 999 999 999.9875 → 1 decimal (Toman).
        assert_eq!(got.totals.grand_total.to_string(), "125000000000.0");
        assert_eq!(got.lines, doc.lines);
    })
    .await;
}
