//! What a party must satisfy to be stored beyond its own input checks
//! (`crm::PartyInput::validate`): a customer number no other party of the
//! tenant has.

use crate::crm::NewParty;
use crate::store::error::{StoreError, conflict_on_unique};

/// A unique violation on the customer number, as the conflict that names
/// the field; any other failure stays a database error.
pub(super) fn duplicate_customer(e: sqlx::Error, p: &NewParty) -> StoreError {
    conflict_on_unique(
        e,
        "customer_number",
        format!("customer number {} is already in use", p.customer_number),
    )
}
