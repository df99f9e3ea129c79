//! A party's statement (F1, C2, C5): its approved financial documents,
//! receipts and payments as debits and credits with a running balance.
//! A read across the document and payment tables; it writes nothing.

use super::error::{Result, StoreError, corrupt};
use super::sql::{currency, jalali};
use super::{Db, Dec, party};
use crate::crm::{BalanceEffect, DocumentKind, PaymentKind, Statement, StatementEntry, Status};
use hamgam_domain::{Currency, Decimal, Money, Rule, ValidationError};

/// Amount in the statement currency: exact for the same currency, Toman ×10
/// into a Rial statement (C5); `None` for anything else.
fn in_currency(amount: Decimal, from: Currency, to: Currency) -> Option<Decimal> {
    if from == to {
        Some(amount)
    } else if to == Currency::IRR && from == Currency::IRT {
        Money::toman(amount).to_rial().ok().map(|m| m.amount)
    } else {
        None
    }
}

/// F1/C2: the party's approved financial items with debits, credits and a
/// running balance, in `currency` (an IRR statement includes Toman items
/// converted exactly; other currencies are kept apart).
pub async fn statement(
    db: &Db,
    tenant: &str,
    party_id: i64,
    target: Currency,
) -> Result<Statement> {
    party::get_party(db, tenant, party_id).await?;
    let approved = Status::Approved.as_str();
    let sql = "SELECT id, kind, doc_date, currency, number, grand_total FROM crm_documents \
               WHERE tenant = $1 AND party_id = $2 AND status = $3 ORDER BY doc_date, id";
    let docs: Vec<(i64, String, String, String, Option<String>, Dec)> = on_pool!(db, p => sqlx::query_as(sql)
        .bind(tenant).bind(party_id).bind(approved).fetch_all(p).await)?;
    let sql = "SELECT id, kind, doc_date, currency, number, amount FROM crm_payments \
               WHERE tenant = $1 AND party_id = $2 AND status = $3 ORDER BY doc_date, id";
    let pays: Vec<(i64, String, String, String, Option<String>, Dec)> = on_pool!(db, p => sqlx::query_as(sql)
        .bind(tenant).bind(party_id).bind(approved).fetch_all(p).await)?;
    let mut entries = Vec::new();
    for (id, kind, date, cur, number, amount) in docs {
        let effect = DocumentKind::parse(&kind)
            .ok_or_else(|| corrupt("document kind", &kind))?
            .balance_effect();
        let Some(v) = in_currency(amount.0, currency(&cur)?, target) else {
            continue;
        };
        let (debit, credit) = match effect {
            BalanceEffect::Debit => (v, Decimal::ZERO),
            BalanceEffect::Credit => (Decimal::ZERO, v),
            BalanceEffect::None => continue,
        };
        entries.push((
            jalali("doc_date", &date)?,
            0u8,
            id,
            kind,
            number,
            debit,
            credit,
        ));
    }
    for (id, kind, date, cur, number, amount) in pays {
        let Some(v) = in_currency(amount.0, currency(&cur)?, target) else {
            continue;
        };
        let (debit, credit) = match PaymentKind::parse(&kind) {
            Some(PaymentKind::Receipt) => (Decimal::ZERO, v),
            Some(PaymentKind::Payment) => (v, Decimal::ZERO),
            None => return Err(corrupt("payment kind", kind)),
        };
        entries.push((
            jalali("doc_date", &date)?,
            1u8,
            id,
            kind,
            number,
            debit,
            credit,
        ));
    }
    // Same day: documents before the money that settles them, then by id.
    entries.sort_by_key(|e| (e.0, e.1, e.2));
    let overflow = || {
        StoreError::Invalid(ValidationError::new(
            "balance",
            Rule::Range,
            "statement total overflows",
        ))
    };
    let (mut balance, mut total_debit, mut total_credit) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let mut out = Vec::with_capacity(entries.len());
    for (date, _, id, kind, number, debit, credit) in entries {
        total_debit = total_debit.checked_add(debit).ok_or_else(overflow)?;
        total_credit = total_credit.checked_add(credit).ok_or_else(overflow)?;
        balance = balance
            .checked_add(debit)
            .and_then(|b| b.checked_sub(credit))
            .ok_or_else(overflow)?;
        out.push(StatementEntry {
            date,
            kind,
            id,
            number,
            debit,
            credit,
            balance,
        });
    }
    Ok(Statement {
        party_id,
        currency: target,
        entries: out,
        total_debit,
        total_credit,
        balance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c5_toman_joins_a_rial_statement_exactly() {
        assert_eq!(
            in_currency(Decimal::from(5), Currency::IRT, Currency::IRR),
            Some(Decimal::from(50))
        );
        assert_eq!(
            in_currency(Decimal::ONE, Currency::USD, Currency::IRR),
            None
        );
        assert_eq!(
            in_currency(Decimal::ONE, Currency::IRR, Currency::IRT),
            None
        );
    }
}
