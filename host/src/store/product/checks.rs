//! What a product must satisfy to be stored beyond its own input checks
//! (`crm::ProductInput::validate`): an item code no other product of the tenant has.

use crate::crm::NewProduct;
use crate::store::error::{StoreError, conflict_on_unique};

/// A unique violation on the item code, as the conflict that names the
/// field; any other failure stays a database error.
pub(super) fn duplicate_code(e: sqlx::Error, p: &NewProduct) -> StoreError {
    conflict_on_unique(
        e,
        "code",
        format!("product code {} is already in use", p.code),
    )
}
