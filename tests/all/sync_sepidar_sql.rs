//! S3, S15, S16: what Sepidar's web service does not offer (employees,
//! purchases, warehouse receipts, receipts and payments) is read from
//! Sepidar's database through the host's SQL capability. Sepidar's schema
//! (plugins/sepidar/sql/sepidar-schema.postgres.sql, the real table and
//! column names) is loaded into a fresh PostgreSQL database per test and
//! rows are written as Sepidar would write them; the web-service side of the
//! same company is the simulator, kept consistent with the rows (a customer's
//! `CustomerID` is its `GNR.Party.PartyId`).

use crate::common::postgres_url;
use crate::sync_sepidar::{Options, Rig, dec};
use hamgam_sepidar_sim::{NewCustomer, NewItem, refs};
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgPool;

/// A fresh database holding Sepidar's schema; none without PostgreSQL.
async fn sepidar_database() -> Option<(PgPool, String)> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let base = postgres_url()?;
    let name = format!(
        "sepidar_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let admin = PgPool::connect(&base).await.expect("PostgreSQL");
    drop_leftovers_of_ended_runs(&admin).await;
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create database");
    admin.close().await;
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h.to_owned(), format!("?{q}")),
        None => (base.clone(), String::new()),
    };
    let url = format!("{}/{name}{query}", head.rsplit_once('/').unwrap().0);
    let pool = PgPool::connect(&url)
        .await
        .expect("connect to the Sepidar database");
    let schema = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../plugins/sepidar/sql/sepidar-schema.postgres.sql"),
    )
    .unwrap();
    sqlx::raw_sql(&schema)
        .execute(&pool)
        .await
        .expect("Sepidar's schema loads");
    Some((pool, url))
}

/// A test cannot drop its database when it ends (no async drop), so each
/// run drops those of earlier runs whose process has ended: a developer's
/// PostgreSQL does not fill up with one database per test ever run. A run
/// still going (another `cargo test`) keeps its own.
async fn drop_leftovers_of_ended_runs(admin: &PgPool) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SWEPT: AtomicBool = AtomicBool::new(false);
    // Whether a run has ended is read from /proc.
    if !cfg!(target_os = "linux") || SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'sepidar\\_%'",
    )
    .fetch_all(admin)
    .await
    .expect("list databases");
    for name in names {
        let Some(pid) = name.split('_').nth(1).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        // A leftover that cannot be dropped (someone connected to it) is
        // left for the next run; it is not this test's concern.
        let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(admin)
            .await;
    }
}

/// INSERT a row, filling the NOT NULL columns the test does not care about
/// with neutral values (0, false, '', the test's day), so each test names
/// only what matters to it.
async fn insert(pool: &PgPool, table: &str, given: &[(&str, String)]) {
    let (schema, name) = table.split_once('.').unwrap();
    let required: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = $2 AND is_nullable = 'NO' \
         AND column_default IS NULL AND is_generated = 'NEVER'",
    )
    .bind(schema)
    .bind(name)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut cols: Vec<String> = Vec::new();
    let mut vals: Vec<String> = Vec::new();
    for (c, v) in given {
        cols.push(format!("\"{c}\""));
        vals.push(v.clone());
    }
    for (c, ty) in required {
        if given.iter().any(|(g, _)| *g == c) {
            continue;
        }
        cols.push(format!("\"{c}\""));
        vals.push(
            match ty.as_str() {
                "boolean" => "false",
                "integer" | "numeric" | "bigint" | "smallint" => "0",
                t if t.starts_with("timestamp") => "'2025-06-01'",
                _ => "''",
            }
            .to_owned(),
        );
    }
    let sql = format!(
        "INSERT INTO \"{schema}\".\"{name}\" ({}) VALUES ({})",
        cols.join(", "),
        vals.join(", ")
    );
    sqlx::raw_sql(&sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn n(v: impl ToString) -> String {
    v.to_string()
}

/// A customer in both views of one Sepidar company: the web service
/// (simulator) and `GNR.Party` with its detail account.
async fn customer(rig: &Rig, pool: &PgPool, first: &str, last: &str) -> (i32, String, i32) {
    let c = rig
        .sim(300)
        .create_customer(
            NewCustomer::person(first, last).address(refs::CITY_TEHRAN, "خیابان آزادی"),
        )
        .unwrap();
    let dl = 1000 + c.customer_id;
    insert(
        pool,
        "ACC.DL",
        &[
            ("DLId", n(dl)),
            ("Code", q(&c.code)),
            ("Title", q(last)),
            ("Type", n(1)),
        ],
    )
    .await;
    insert(
        pool,
        "GNR.Party",
        &[
            ("PartyId", n(c.customer_id)),
            ("Type", n(1)),
            ("Name", q(first)),
            ("LastName", q(last)),
            ("DLRef", n(dl)),
            ("IsActive", n(true)),
            ("IsCustomer", n(true)),
            ("Version", n(1)),
        ],
    )
    .await;
    (c.customer_id, c.code, dl)
}

/// A rig whose instances may read the Sepidar database `url` (the grant's
/// connection is a secret file in the returned directory).
async fn rig_with_sql(
    url: &str,
    employees: bool,
    sims: Option<Vec<(u16, hamgam_sepidar_sim::Sepidar)>>,
) -> (Rig, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let conn = dir.path().join("sepidar.url");
    std::fs::write(&conn, url).unwrap();
    let opts = Options {
        settings: vec![
            ("database".into(), "sepidar".into()),
            ("sync_employees".into(), employees.to_string()),
        ],
        grants: vec![format!(
            "sql = {{ sepidar = {{ backend = \"postgres\", connection = {{ file = \"{}\" }} }} }}",
            conn.display()
        )],
        ..Options::default()
    };
    let rig = match sims {
        Some(s) => Rig::over(s, opts).await,
        None => Rig::with(opts).await,
    };
    (rig, dir)
}

fn find<'a>(items: &'a [Value], number: &str) -> Option<&'a Value> {
    items.iter().find(|i| i["number"] == number)
}

#[tokio::test]
async fn s3_employees_are_synced_only_when_enabled() {
    let Some((pool, url)) = sepidar_database().await else {
        return;
    };
    let (off, _secrets) = rig_with_sql(&url, false, None).await;
    let (_, code, _) = customer(&off, &pool, "علی", "مشتری").await;
    // An employee who is not a customer: only in the database.
    insert(
        &pool,
        "ACC.DL",
        &[
            ("DLId", n(900)),
            ("Code", q("9001")),
            ("Title", q("کارمند")),
            ("Type", n(1)),
        ],
    )
    .await;
    insert(
        &pool,
        "GNR.Party",
        &[
            ("PartyId", n(9001)),
            ("Type", n(1)),
            ("Name", q("مریم")),
            ("LastName", q("کارمند")),
            ("DLRef", n(900)),
            ("IsActive", n(true)),
            ("IsEmployee", n(true)),
            ("Version", n(1)),
        ],
    )
    .await;
    insert(
        &pool,
        "GNR.PartyPhone",
        &[
            ("PartyPhoneId", n(1)),
            ("PartyRef", n(9001)),
            ("IsMain", n(1)),
            ("Type", n(2)),
            ("Phone", q("09123334444")),
            ("Version", n(1)),
        ],
    )
    .await;
    off.settle().await;
    assert!(off.party_by_number(&format!("{code}-300")).await.is_some());
    assert!(
        off.party_by_number("9001-300").await.is_none(),
        "S3: employees stay out unless enabled"
    );

    let sims = off.sims.clone();
    drop(off);
    // A second host with a fresh database has no device key: the operator
    // resets the device in Sepidar, as the connector's error tells them.
    for (_, sim) in &sims {
        sim.reset_device();
    }
    let (on, _secrets2) = rig_with_sql(&url, true, Some(sims)).await;
    on.settle().await;
    let e = on
        .party_by_number("9001-300")
        .await
        .expect("S3: with employees enabled, the employee arrives");
    assert_eq!(e["last_name"], "کارمند");
    assert_eq!(
        e["phones"][0]["type"], "mobile",
        "S5 from GNR.PartyPhone type 2"
    );
}

#[tokio::test]
async fn s15_purchase_invoices_warehouse_receipts_and_returns_come_from_the_database() {
    let Some((pool, url)) = sepidar_database().await else {
        return;
    };
    let (rig, _secrets) = rig_with_sql(&url, false, None).await;
    let sim = rig.sim(300);
    let (_, _, dl) = customer(&rig, &pool, "شرکت", "تامین").await;
    let item = sim
        .create_item(NewItem::product("P1", "قطعه"))
        .unwrap()
        .item_id;
    insert(
        &pool,
        "FMK.FiscalYear",
        &[
            ("FiscalYearId", n(2)),
            ("Title", q("1404")),
            ("StartDate", q("2025-03-21")),
            ("EndDate", q("2026-03-20")),
        ],
    )
    .await;
    // A warehouse receipt (رسید انبار) of 2 × 2,000,000 with 10 % VAT ...
    insert(
        &pool,
        "INV.InventoryReceipt",
        &[
            ("InventoryReceiptID", n(1)),
            ("Number", n(31)),
            ("Date", q("2025-06-01")),
            ("DelivererDLRef", n(dl)),
            ("IsReturn", n(false)),
            ("TotalPrice", n(4_000_000)),
            ("TotalTax", n(400_000)),
            ("TotalDuty", n(0)),
            ("TotalNetPrice", n(4_400_000)),
            ("FiscalYearRef", n(2)),
            ("Version", n(1)),
        ],
    )
    .await;
    insert(
        &pool,
        "INV.InventoryReceiptItem",
        &[
            ("InventoryReceiptItemID", n(11)),
            ("InventoryReceiptRef", n(1)),
            ("RowNumber", n(1)),
            ("ItemRef", n(item)),
            ("Quantity", n(2)),
            ("Price", n(4_000_000)),
            ("Tax", n(400_000)),
            ("Duty", n(0)),
        ],
    )
    .await;
    // ... its return (برگشت رسید) of one piece ...
    insert(
        &pool,
        "INV.InventoryReceipt",
        &[
            ("InventoryReceiptID", n(2)),
            ("Number", n(32)),
            ("Date", q("2025-06-01")),
            ("DelivererDLRef", n(dl)),
            ("IsReturn", n(true)),
            ("TotalPrice", n(2_000_000)),
            ("TotalTax", n(200_000)),
            ("TotalDuty", n(0)),
            ("TotalNetPrice", n(2_200_000)),
            ("FiscalYearRef", n(2)),
            ("Version", n(1)),
        ],
    )
    .await;
    insert(
        &pool,
        "INV.InventoryReceiptItem",
        &[
            ("InventoryReceiptItemID", n(21)),
            ("InventoryReceiptRef", n(2)),
            ("RowNumber", n(1)),
            ("ItemRef", n(item)),
            ("Quantity", n(1)),
            ("Price", n(2_000_000)),
            ("Tax", n(200_000)),
            ("Duty", n(0)),
            ("IsReturn", n(true)),
            ("ReturnBase", n(11)),
        ],
    )
    .await;
    // ... and a service purchase invoice.
    insert(
        &pool,
        "INV.InventoryPurchaseInvoice",
        &[
            ("InventoryPurchaseInvoiceID", n(5)),
            ("Number", n(7)),
            ("Date", q("2025-06-01")),
            ("VendorDLRef", n(dl)),
            ("Type", n(2)),
            ("TotalPrice", n(1_500_000)),
            ("TotalTax", n(150_000)),
            ("TotalDuty", n(0)),
            ("TotalNetPrice", n(1_650_000)),
            ("FiscalYearRef", n(2)),
            ("Version", n(1)),
        ],
    )
    .await;
    insert(
        &pool,
        "INV.InventoryPurchaseInvoiceItem",
        &[
            ("InventoryPurchaseInvoiceItemID", n(51)),
            ("InventoryPurchaseInvoiceRef", n(5)),
            ("RowNumber", n(1)),
            ("ItemRef", n(item)),
            ("Quantity", n(1)),
            ("Fee", n(1_500_000)),
            ("Price", n(1_500_000)),
            ("Tax", n(150_000)),
            ("Duty", n(0)),
            ("CurrencyRate", n(1)),
        ],
    )
    .await;
    rig.settle().await;
    let purchases = rig.list("purchase-invoices").await;
    assert_eq!(purchases.len(), 2, "{purchases:?}");
    let receipt = find(&purchases, "1404/31-300").expect("the warehouse receipt");
    assert_eq!(
        dec(&receipt["totals"]["grand_total"]),
        Decimal::from(4_400_000)
    );
    let service = find(&purchases, "1404/7-300").expect("the service invoice");
    assert_eq!(
        dec(&service["totals"]["grand_total"]),
        Decimal::from(1_650_000)
    );
    let returns = rig.list("purchase-returns").await;
    assert_eq!(returns.len(), 1);
    assert_eq!(returns[0]["related_id"], receipt["id"]);

    // Edits and deletions made in Sepidar propagate.
    sqlx::raw_sql(
        r#"UPDATE "INV"."InventoryPurchaseInvoice" SET "Description" = 'اصلاح شد', "Version" = 2 WHERE "InventoryPurchaseInvoiceID" = 5;
           DELETE FROM "INV"."InventoryReceipt" WHERE "InventoryReceiptID" = 2;"#,
    )
    .execute(&pool)
    .await
    .unwrap();
    rig.settle().await;
    let purchases = rig.list("purchase-invoices").await;
    assert_eq!(
        find(&purchases, "1404/7-300").unwrap()["description"],
        "اصلاح شد"
    );
    assert!(rig.list("purchase-returns").await.is_empty());
}

#[tokio::test]
async fn s16_receipts_and_payments_come_from_the_database_with_edits_and_deletes() {
    let Some((pool, url)) = sepidar_database().await else {
        return;
    };
    let (rig, _secrets) = rig_with_sql(&url, false, None).await;
    let (_, _, dl) = customer(&rig, &pool, "علی", "پرداخت").await;
    insert(
        &pool,
        "FMK.FiscalYear",
        &[
            ("FiscalYearId", n(2)),
            ("Title", q("1404")),
            ("StartDate", q("2025-03-21")),
            ("EndDate", q("2026-03-20")),
        ],
    )
    .await;
    insert(
        &pool,
        "RPA.ReceiptHeader",
        &[
            ("ReceiptHeaderId", n(1)),
            ("DlRef", n(dl)),
            ("Number", n(12)),
            ("Date", q("2025-06-01")),
            ("CurrencyRef", n(1)),
            ("TotalAmount", n(5_000_000)),
            ("Discount", n(0)),
            ("ItemType", n(8)),
            ("Rate", n(1)),
            ("AmountInBaseCurrency", n(5_000_000)),
            ("FiscalYearRef", n(2)),
            ("Version", n(1)),
        ],
    )
    .await;
    insert(
        &pool,
        "RPA.ReceiptDraft",
        &[
            ("ReceiptDraftId", n(1)),
            ("ReceiptHeaderRef", n(1)),
            ("Number", q("778899")),
            ("Date", q("2025-06-01")),
            ("Amount", n(5_000_000)),
        ],
    )
    .await;
    insert(
        &pool,
        "RPA.PaymentHeader",
        &[
            ("PaymentHeaderId", n(1)),
            ("DlRef", n(dl)),
            ("Number", n(4)),
            ("Date", q("2025-06-01")),
            ("CurrencyRef", n(1)),
            ("TotalAmount", n(750_000)),
            ("Discount", n(0)),
            ("Amount", n(750_000)),
            ("Rate", n(1)),
            ("FiscalYearRef", n(2)),
            ("Version", n(1)),
        ],
    )
    .await;
    rig.settle().await;
    let receipts = rig.list("receipts").await;
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    assert_eq!(receipts[0]["number"], "1404/12-300");
    assert_eq!(dec(&receipts[0]["amount"]), Decimal::from(5_000_000));
    assert_eq!(receipts[0]["method"], "bank_draft");
    assert_eq!(receipts[0]["reference"], "778899");
    let payments = rig.list("payments").await;
    assert_eq!(payments.len(), 1);
    assert_eq!(dec(&payments[0]["amount"]), Decimal::from(750_000));

    sqlx::raw_sql(
        r#"UPDATE "RPA"."ReceiptHeader" SET "TotalAmount" = 5500000, "Version" = 2 WHERE "ReceiptHeaderId" = 1;
           UPDATE "RPA"."ReceiptDraft" SET "Amount" = 5500000 WHERE "ReceiptDraftId" = 1;
           DELETE FROM "RPA"."PaymentHeader" WHERE "PaymentHeaderId" = 1;"#,
    )
    .execute(&pool)
    .await
    .unwrap();
    rig.settle().await;
    let receipts = rig.list("receipts").await;
    assert_eq!(dec(&receipts[0]["amount"]), Decimal::from(5_500_000));
    assert!(
        rig.list("payments").await.is_empty(),
        "S16: deleted in Sepidar"
    );
}

#[tokio::test]
async fn s16_a_receipt_of_cash_two_cheques_and_a_card_arrives_whole_and_a_mismatch_is_refused() {
    let Some((pool, url)) = sepidar_database().await else {
        return;
    };
    let (rig, _secrets) = rig_with_sql(&url, false, None).await;
    let (_, _, dl) = customer(&rig, &pool, "مینا", "چک‌دار").await;
    insert(
        &pool,
        "FMK.FiscalYear",
        &[
            ("FiscalYearId", n(2)),
            ("Title", q("1404")),
            ("StartDate", q("2025-03-21")),
            ("EndDate", q("2026-03-20")),
        ],
    )
    .await;
    insert(
        &pool,
        "RPA.Bank",
        &[("BankId", n(1)), ("Title", q("ملت")), ("Version", n(1))],
    )
    .await;
    // Receipt 21: 1,000,000 cash (the header's `Amount`), two cheques and a
    // card payment; 5,000,000 in all.
    let header = |id: i64, number: i64, total: i64| {
        vec![
            ("ReceiptHeaderId", n(id)),
            ("DlRef", n(dl)),
            ("Number", n(number)),
            ("Date", q("2025-06-01")),
            ("CurrencyRef", n(1)),
            ("TotalAmount", n(total)),
            ("Amount", n(1_000_000)),
            ("Discount", n(0)),
            ("ItemType", n(8)),
            ("Rate", n(1)),
            ("AmountInBaseCurrency", n(total)),
            ("FiscalYearRef", n(2)),
            ("Version", n(1)),
        ]
    };
    insert(&pool, "RPA.ReceiptHeader", &header(1, 21, 5_000_000)).await;
    for (id, number, amount, due, bank) in [
        (1, "111111", 2_000_000, "2025-07-01", Some(1)),
        (2, "222222", 1_500_000, "2025-08-01", None),
    ] {
        let mut row = vec![
            ("ReceiptChequeId", n(id)),
            ("ReceiptHeaderRef", n(1)),
            ("Number", q(number)),
            ("Amount", n(amount)),
            ("Date", q(due)),
            ("Version", n(1)),
            ("DlRef", n(dl)),
        ];
        if let Some(b) = bank {
            row.push(("BankRef", n(b)));
        }
        insert(&pool, "RPA.ReceiptCheque", &row).await;
    }
    insert(
        &pool,
        "RPA.ReceiptPos",
        &[
            ("ReceiptPosId", n(1)),
            ("ReceiptHeaderRef", n(1)),
            ("Amount", n(500_000)),
            ("TrackingCode", q("TR-77")),
            ("Version", n(1)),
        ],
    )
    .await;
    // Receipt 22 says 9,000,000 but its parts make 1,000,000: refused, not
    // shown as if it were whole.
    insert(&pool, "RPA.ReceiptHeader", &header(2, 22, 9_000_000)).await;
    rig.settle().await;

    let receipts = rig.list("receipts").await;
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    let r = &receipts[0];
    assert_eq!(r["number"], "1404/21-300");
    assert_eq!(dec(&r["amount"]), Decimal::from(5_000_000));
    let parts = r["settlements"].as_array().expect("settlements");
    let shape: Vec<(&str, Decimal, Option<&str>)> = parts
        .iter()
        .map(|s| {
            (
                s["method"].as_str().unwrap(),
                dec(&s["amount"]),
                s["reference"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            ("cash", Decimal::from(1_000_000), None),
            ("cheque", Decimal::from(2_000_000), Some("111111")),
            ("cheque", Decimal::from(1_500_000), Some("222222")),
            ("card", Decimal::from(500_000), Some("TR-77")),
        ],
        "S16: every settlement with its method, amount and reference"
    );
    assert_eq!(parts[1]["due_date"], "1404/04/10");
    assert_eq!(parts[1]["bank"], "ملت");
    assert_eq!(parts[2]["due_date"], "1404/05/10");
    let sum: Decimal = parts.iter().map(|s| dec(&s["amount"])).sum();
    assert_eq!(sum, dec(&r["amount"]));
    // The single-method fields still describe the first settlement.
    assert_eq!(r["method"], "cash");

    let state = rig.ok("GET", "sync/links?status=failed", None).await;
    let text = state.to_string();
    assert!(
        text.contains("settlements add up to 1000000")
            && text.contains("not to the amount 9000000"),
        "S16: a receipt whose parts do not make its total is refused: {text}"
    );
}
