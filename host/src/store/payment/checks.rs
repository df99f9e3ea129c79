//! What a receipt or payment must satisfy to be stored beyond its own
//! input checks (`crm::PaymentRequest::validate`): its party exists, and
//! the invoice it settles is of the kind it may settle, the same party's,
//! in the same currency.

use crate::crm::NewPayment;
use crate::crm::kinds::EntityKind;
use crate::store::Tx;
use crate::store::document::checks::check_refs;
use crate::store::error::Result;
use hamgam_domain::{Rule, ValidationError};

pub(super) async fn check_payment_refs(tx: &mut Tx, tenant: &str, p: &NewPayment) -> Result<()> {
    check_refs(
        tx,
        tenant,
        "crm_parties",
        "",
        &mut vec![p.party_id],
        "party_id",
        EntityKind::Party.as_str(),
    )
    .await?;
    if let Some(inv) = p.invoice_id {
        let kind = p.kind.settles();
        let row: Option<(i64, String)> = on_tx!(tx, c => sqlx::query_as(
            "SELECT party_id, currency FROM crm_documents WHERE tenant = $1 AND kind = $2 AND id = $3")
            .bind(tenant).bind(kind.as_str()).bind(inv).fetch_optional(&mut *c).await)?;
        let (party, cur) = row.ok_or_else(|| {
            ValidationError::new(
                "invoice_id",
                Rule::Required,
                format!("{} {inv} does not exist", kind.as_str()),
            )
        })?;
        if party != p.party_id {
            return Err(ValidationError::new(
                "invoice_id",
                Rule::Mismatch,
                format!("{} {inv} belongs to another party", kind.as_str()),
            )
            .into());
        }
        if cur != p.currency.code() {
            return Err(ValidationError::new(
                "currency",
                Rule::Mismatch,
                format!("{} {inv} is in {cur}, not {}", kind.as_str(), p.currency),
            )
            .into());
        }
    }
    Ok(())
}
