//! The number allocator (S10, S11, S17, S18, F1).
//!
//! A counter row per `(tenant, sequence, period)`; the period comes from the
//! template (`1404` for a `{SHYY}` template, so counters restart at Nowruz).
//! Allocation is one statement, an upsert that bumps the row and returns the
//! new value:
//!
//! * on PostgreSQL the `ON CONFLICT … DO UPDATE` takes the row lock, so a
//!   concurrent allocator waits until this transaction ends and then sees
//!   the bumped value;
//! * on SQLite the transaction already holds the database write lock
//!   (`BEGIN IMMEDIATE`).
//!
//! Because the bump happens inside the caller's transaction (the one that
//! writes the numbered document), a number is handed out exactly once: a
//! rolled-back write returns it, a committed one keeps it, so numbers are
//! gap-free and never reused per template.

use super::error::{Result, StoreError};
use super::{Db, Tx};
use hamgam_domain::{CompanyCode, JalaliDate, NumberTemplate, NumberingError};

/// Why no number could be allocated.
#[derive(Debug, thiserror::Error)]
pub enum AllocateError {
    /// The template cannot render the counter (fixed width exhausted).
    #[error("numbering sequence {sequence}: {source}")]
    Template {
        /// The sequence.
        sequence: String,
        /// The rendering error.
        source: NumberingError,
    },
    /// The database failed.
    #[error("numbering sequence {sequence}: {source}")]
    Db {
        /// The sequence.
        sequence: String,
        /// The sqlx error.
        source: sqlx::Error,
    },
}

/// Bump the counter of `sequence` for `date`'s period inside `tx` and render
/// the number.
pub async fn allocate_in_op(
    tx: &mut Tx,
    tenant: &str,
    sequence: &str,
    template: &NumberTemplate,
    date: JalaliDate,
    company: CompanyCode,
) -> Result<String, AllocateError> {
    let period = template.period_key(date);
    let sql = "INSERT INTO crm_counters (tenant, sequence, period, value) VALUES ($1, $2, $3, 1) \
               ON CONFLICT (tenant, sequence, period) \
               DO UPDATE SET value = crm_counters.value + 1 RETURNING value";
    let value: i64 = on_tx!(tx, c => sqlx::query_scalar(sql)
        .bind(tenant).bind(sequence).bind(&period)
        .fetch_one(&mut *c).await)
    .map_err(|source| AllocateError::Db {
        sequence: sequence.to_owned(),
        source,
    })?;
    // The counter starts at 1 and only grows, so it is never negative.
    let counter = u64::try_from(value).unwrap_or(0);
    template
        .render(counter, date, company)
        .map_err(|source| AllocateError::Template {
            sequence: sequence.to_owned(),
            source,
        })
}

/// Allocate one number in its own transaction.
pub async fn allocate(
    db: &Db,
    tenant: &str,
    sequence: &str,
    template: &NumberTemplate,
    date: JalaliDate,
    company: CompanyCode,
) -> Result<String, AllocateError> {
    let db_err = |source| AllocateError::Db {
        sequence: sequence.to_owned(),
        source,
    };
    let mut tx = db.begin().await.map_err(db_err)?;
    let number = allocate_in_op(&mut tx, tenant, sequence, template, date, company).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(number)
}

// ----------------------------------------------- a number no record has yet

/// The next number of `template` that no document of the kind has yet. A
/// number the ledger already used (a quote that came from Sepidar with the
/// same number) is skipped, never reused (S10).
pub(super) async fn free_number(
    tx: &mut Tx,
    tenant: &str,
    table: Numbered,
    kind: &str,
    template: &NumberTemplate,
    date: JalaliDate,
    company: CompanyCode,
) -> Result<String> {
    let sql = match table {
        Numbered::Documents => {
            "SELECT id FROM crm_documents WHERE tenant = $1 AND kind = $2 AND number = $3"
        }
        Numbered::Payments => {
            "SELECT id FROM crm_payments WHERE tenant = $1 AND kind = $2 AND number = $3"
        }
    };
    for _ in 0..1000 {
        let number = allocate_in_op(tx, tenant, kind, template, date, company).await?;
        let taken: Option<i64> = on_tx!(tx, c => sqlx::query_scalar(sql)
            .bind(tenant).bind(kind).bind(&number).fetch_optional(&mut *c).await)?;
        if taken.is_none() {
            return Ok(number);
        }
    }
    Err(StoreError::Conflict {
        field: Some("number".into()),
        message: format!(
            "the next 1000 {kind} numbers of this template are all taken; change the numbering template"
        ),
    })
}

/// Which table a number must be free in. A template's year placeholder
/// shows two digits, so dates a century apart (1300 and 1400) render the
/// same numbers from their separate counters: a number is checked before
/// it is given.
#[derive(Clone, Copy)]
pub(super) enum Numbered {
    Documents,
    Payments,
}
