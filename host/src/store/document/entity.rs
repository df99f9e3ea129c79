//! A document as stored: its header row and its line rows, their
//! columns, and the conversions to the document the API shows.

use crate::crm::kinds::{LinkStatus, SyncStatus};
use crate::crm::{Document, DocumentKind, Line, NewDocument, Status, Totals};
use crate::store::Dec;
use crate::store::error::{Result, corrupt};
use crate::store::sql::{currency, jalali};
use hamgam_domain::Decimal;
use std::sync::LazyLock;

/// The columns of a document, with the number the ledger gave it: its
/// synced link's. Built once, so the link status is spelled by its enum.
pub(super) fn doc_cols() -> &'static str {
    static COLS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "id, kind, party_id, doc_date, currency, status, number, related_id, \
    description, discount, additions, gross, discount_total, additions_total, net, tax_total, \
    toll_total, grand_total, paid_amount, paid, sync_status, origin, version, created_at, updated_at, \
    (SELECT MIN(l.remote_number) FROM sync_links l WHERE l.tenant = crm_documents.tenant \
    AND l.local_kind = crm_documents.kind AND l.local_id = crm_documents.id \
    AND l.status = '{}') AS ledger_number",
            LinkStatus::Synced.as_str()
        )
    });
    &COLS
}

#[derive(sqlx::FromRow)]
pub(super) struct DocRow {
    pub(super) id: i64,
    kind: String,
    party_id: i64,
    doc_date: String,
    currency: String,
    status: String,
    number: Option<String>,
    related_id: Option<i64>,
    description: Option<String>,
    discount: Dec,
    additions: Dec,
    gross: Dec,
    discount_total: Dec,
    additions_total: Dec,
    net: Dec,
    tax_total: Dec,
    toll_total: Dec,
    grand_total: Dec,
    paid_amount: Dec,
    paid: bool,
    sync_status: String,
    origin: String,
    version: i64,
    created_at: String,
    updated_at: String,
    /// The number the ledger gave the document (its link), S10/S11.
    ledger_number: Option<String>,
}

pub(super) const LINE_COLS: &str = "document_id, line_no, product_id, description, quantity, unit_price, \
    discount, additions, tax_exempt, tax_percent, toll_percent, gross, net, tax, toll, total";

#[derive(sqlx::FromRow)]
pub(super) struct LineRow {
    pub(super) document_id: i64,
    #[allow(dead_code)]
    line_no: i32,
    product_id: Option<i64>,
    description: Option<String>,
    quantity: Dec,
    unit_price: Dec,
    discount: Dec,
    additions: Dec,
    tax_exempt: bool,
    tax_percent: Dec,
    toll_percent: Dec,
    gross: Dec,
    net: Dec,
    tax: Dec,
    toll: Dec,
    total: Dec,
}

impl From<LineRow> for Line {
    fn from(r: LineRow) -> Line {
        Line {
            product_id: r.product_id,
            description: r.description,
            quantity: r.quantity.0,
            unit_price: r.unit_price.0,
            discount: r.discount.0,
            additions: r.additions.0,
            tax_exempt: r.tax_exempt,
            tax_percent: r.tax_percent.0,
            toll_percent: r.toll_percent.0,
            gross: r.gross.0,
            net: r.net.0,
            tax: r.tax.0,
            toll: r.toll.0,
            total: r.total.0,
        }
    }
}

pub(super) fn doc_from_row(r: DocRow, lines: Vec<Line>) -> Result<Document> {
    Ok(Document {
        id: r.id,
        kind: DocumentKind::parse(&r.kind).ok_or_else(|| corrupt("document kind", &r.kind))?,
        party_id: r.party_id,
        date: jalali("doc_date", &r.doc_date)?,
        currency: currency(&r.currency)?,
        status: Status::parse(&r.status).ok_or_else(|| corrupt("status", &r.status))?,
        number: r.number,
        related_id: r.related_id,
        description: r.description,
        discount: r.discount.0,
        additions: r.additions.0,
        lines,
        totals: Totals {
            gross: r.gross.0,
            discount: r.discount_total.0,
            additions: r.additions_total.0,
            net: r.net.0,
            tax_total: r.tax_total.0,
            toll_total: r.toll_total.0,
            grand_total: r.grand_total.0,
        },
        paid_amount: r.paid_amount.0,
        paid: r.paid,
        sync_status: r.sync_status,
        origin: r.origin,
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
        ledger_number: r.ledger_number,
    })
}

pub(super) fn doc_from_new(id: i64, d: &NewDocument, origin: &str, at: &str) -> Document {
    Document {
        id,
        kind: d.kind,
        party_id: d.party_id,
        date: d.date,
        currency: d.currency,
        status: Status::Pending,
        number: None,
        related_id: d.related_id,
        description: d.description.clone(),
        discount: d.discount,
        additions: d.additions,
        lines: d.lines.clone(),
        totals: d.totals.clone(),
        paid_amount: Decimal::ZERO,
        paid: false,
        sync_status: SyncStatus::Pending.as_str().into(),
        origin: origin.to_owned(),
        version: 1,
        created_at: at.to_owned(),
        updated_at: at.to_owned(),
        ledger_number: None,
    }
}
