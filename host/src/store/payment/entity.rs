//! A receipt or payment as stored: its row, its columns, and the
//! conversions between the row, the new payment and the payment the API
//! shows.

use crate::crm::kinds::SyncStatus;
use crate::crm::{
    NewPayment, Payment, PaymentKind, PaymentMethod, Settlement, Status, check_settlements,
};
use crate::store::Dec;
use crate::store::error::{Result, StoreError, corrupt};
use crate::store::sql::{Arg, currency, jalali, json};

pub(super) const PAY_COLS: &str = "id, kind, party_id, doc_date, currency, amount, method, invoice_id, \
    cheque_number, cheque_due, reference, description, status, number, sync_status, origin, \
    version, created_at, updated_at, settlements";

#[derive(sqlx::FromRow)]
pub(super) struct PayRow {
    id: i64,
    kind: String,
    party_id: i64,
    doc_date: String,
    currency: String,
    amount: Dec,
    method: String,
    invoice_id: Option<i64>,
    cheque_number: Option<String>,
    cheque_due: Option<String>,
    reference: Option<String>,
    description: Option<String>,
    status: String,
    number: Option<String>,
    sync_status: String,
    origin: String,
    version: i64,
    created_at: String,
    updated_at: String,
    /// JSON list; `NULL` on rows written before settlements were kept,
    /// which had exactly one: `method` with its cheque fields or reference.
    settlements: Option<String>,
}

impl TryFrom<PayRow> for Payment {
    type Error = StoreError;
    fn try_from(r: PayRow) -> Result<Payment> {
        let amount = r.amount.0;
        let method = PaymentMethod::parse(&r.method).ok_or_else(|| corrupt("method", &r.method))?;
        let cheque_due = r.cheque_due.map(|d| jalali("cheque_due", &d)).transpose()?;
        let settlements = match &r.settlements {
            Some(text) => {
                let list: Vec<Settlement> =
                    serde_json::from_str(text).map_err(|e| corrupt("settlements", e))?;
                // S16: a stored payment whose parts do not make its amount
                // is not shown as if it were whole.
                check_settlements("settlements", amount, &list)
                    .map_err(|e| corrupt("settlements", e.message))?;
                list
            }
            None => vec![Settlement {
                method,
                amount,
                reference: if method == PaymentMethod::Cheque {
                    r.cheque_number.clone()
                } else {
                    r.reference.clone()
                },
                due_date: cheque_due,
                bank: None,
            }],
        };
        Ok(Payment {
            id: r.id,
            kind: PaymentKind::parse(&r.kind).ok_or_else(|| corrupt("payment kind", &r.kind))?,
            party_id: r.party_id,
            date: jalali("doc_date", &r.doc_date)?,
            currency: currency(&r.currency)?,
            amount,
            method,
            invoice_id: r.invoice_id,
            cheque_number: r.cheque_number,
            cheque_due,
            reference: r.reference,
            settlements,
            description: r.description,
            status: Status::parse(&r.status).ok_or_else(|| corrupt("status", &r.status))?,
            number: r.number,
            sync_status: r.sync_status,
            origin: r.origin,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

pub(super) fn payment_args(p: &NewPayment) -> Result<Vec<Arg>> {
    Ok(vec![
        Arg::I64(p.party_id),
        Arg::Text(p.date.to_string()),
        Arg::Text(p.currency.code().into()),
        Arg::Dec(p.amount),
        Arg::Text(p.method.as_str().into()),
        Arg::OptI64(p.invoice_id),
        Arg::OptText(p.cheque_number.clone()),
        Arg::OptText(p.cheque_due.map(|d| d.to_string())),
        Arg::OptText(p.reference.clone()),
        Arg::OptText(p.description.clone()),
        Arg::Text(json(&p.settlements)?),
    ])
}

pub(super) fn payment_from_new(id: i64, p: &NewPayment, origin: &str, at: &str) -> Payment {
    Payment {
        id,
        kind: p.kind,
        party_id: p.party_id,
        date: p.date,
        currency: p.currency,
        amount: p.amount,
        method: p.method,
        invoice_id: p.invoice_id,
        cheque_number: p.cheque_number.clone(),
        cheque_due: p.cheque_due,
        reference: p.reference.clone(),
        settlements: p.settlements.clone(),
        description: p.description.clone(),
        status: Status::Pending,
        number: None,
        sync_status: SyncStatus::Pending.as_str().into(),
        origin: origin.to_owned(),
        version: 1,
        created_at: at.to_owned(),
        updated_at: at.to_owned(),
    }
}
