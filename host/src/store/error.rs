//! The error of every CRM repository call, shared by the aggregates so
//! the API and the sync engine match one type (`api::error`, `sync`).

use super::numbering::AllocateError;
use hamgam_domain::ValidationError;

/// Why a repository call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such record in this tenant.
    #[error("{kind} {id} not found")]
    NotFound {
        /// Entity kind.
        kind: &'static str,
        /// Id asked for.
        id: i64,
    },
    /// The change collides with the record's state or another record.
    #[error("{message}")]
    Conflict {
        /// The field at fault, if one.
        field: Option<String>,
        /// What collided.
        message: String,
    },
    /// The input refers to something that does not exist or does not fit.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No number could be allocated.
    #[error(transparent)]
    Numbering(#[from] AllocateError),
    /// A stored value could not be read back.
    #[error("stored {what} is unreadable: {message}")]
    Corrupt {
        /// Which column.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Result of a repository call.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub(super) fn corrupt(what: &'static str, message: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what,
        message: message.to_string(),
    }
}

pub(super) fn conflict_on_unique(e: sqlx::Error, field: &str, message: String) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict {
            field: Some(field.to_owned()),
            message,
        },
        _ => StoreError::Db(e),
    }
}
