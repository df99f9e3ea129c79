//! The `connector` world: a ledger connector (Sepidar, Tadbir, a shop…).

use core::marker::PhantomData;

use crate::wit::exports::hamgam::ledger0_1_0::connector as wit_connector;
use crate::wit::exports::hamgam::ledger0_1_1::history as wit_history;
pub use wit_connector::{
    Balance, Change, ChangePage, ConnectorInfo, ConnectorRole, Direction, EntitySupport,
    PushOutcome, RemoteRecord, StockLevel, WebhookChange, WebhookIntake,
};
pub use wit_history::HistoryPage;

use crate::{Date, Entity, EntityKind, Error, HttpRequest, Result};

/// A ledger connector. It translates records and speaks the ledger's
/// protocol; the host's sync engine owns links, cursors, the outbox and
/// retries. Only [`describe`](Connector::describe) is required; every other
/// method answers `unsupported` until implemented.
///
/// Methods are associated functions (no `self`) because the host may run
/// each call in a fresh instance: keep anything that must outlive a call in
/// [`state`](crate::state).
pub trait Connector {
    /// The ledger's name, the company code this instance serves and the
    /// entity kinds it moves in which direction.
    fn describe() -> ConnectorInfo;

    /// Changes of `kind` after `cursor` (`None` = from the beginning), at
    /// most `limit`. The host stores `next_cursor` in the same transaction
    /// as the page.
    fn pull(kind: EntityKind, cursor: Option<String>, limit: u32) -> Result<ChangePage> {
        let _ = (kind, cursor, limit);
        Err(Error::not_implemented("pull"))
    }

    /// Create (`remote_id` `None`) or update a record. Pushing the same
    /// `idempotency_key` twice must not create a second record.
    fn push(
        kind: EntityKind,
        record: Entity,
        remote_id: Option<String>,
        version: Option<String>,
        idempotency_key: String,
    ) -> Result<PushOutcome> {
        let _ = (kind, record, remote_id, version, idempotency_key);
        Err(Error::not_implemented("push"))
    }

    /// Delete a record in the ledger.
    fn delete(kind: EntityKind, remote_id: String) -> Result<()> {
        let _ = (kind, remote_id);
        Err(Error::not_implemented("delete"))
    }

    /// One record by its remote id, `None` when the ledger no longer has
    /// it. The host calls it to confirm deletions found by a full scan.
    fn fetch(kind: EntityKind, remote_id: String) -> Result<Option<RemoteRecord>> {
        let _ = (kind, remote_id);
        Err(Error::not_implemented("fetch"))
    }

    /// Live lookup of a party's balance (S7).
    fn party_balance(remote_id: String) -> Result<Balance> {
        let _ = remote_id;
        Err(Error::not_implemented("party_balance"))
    }

    /// Live lookup of a product's stock per warehouse (S13).
    fn product_stock(remote_id: String) -> Result<Vec<StockLevel>> {
        let _ = remote_id;
        Err(Error::not_implemented("product_stock"))
    }

    /// First look at a webhook delivered to `/hooks/{tenant}/{instance}`,
    /// while the sender waits: is it authentic and well-formed? No network
    /// calls here; only accepted deliveries are stored and queued.
    fn accept_webhook(request: HttpRequest) -> Result<WebhookIntake> {
        let _ = request;
        Err(Error::not_implemented("accept_webhook"))
    }

    /// The changes a queued delivery carries, each with its kind. Called at
    /// least once per accepted delivery.
    fn handle_webhook(request: HttpRequest) -> Result<Vec<WebhookChange>> {
        let _ = request;
        Err(Error::not_implemented("handle_webhook"))
    }

    /// How many records of `kind` dated `from` through `to` the ledger
    /// holds, when it can say (`history.count-period`, WIT 0.1.1): the
    /// host shows a one-shot import's progress against it.
    fn count_period(kind: EntityKind, from: Date, to: Date) -> Result<Option<u64>> {
        let _ = (kind, from, to);
        Err(Error::not_implemented("count_period"))
    }

    /// Records of `kind` dated `from` through `to`, after `cursor`, at
    /// most `limit`, in an order that is stable while the period is closed
    /// (`history.pull-period`): the one-shot import of a past fiscal year.
    fn pull_period(
        kind: EntityKind,
        from: Date,
        to: Date,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<HistoryPage> {
        let _ = (kind, from, to, cursor, limit);
        Err(Error::not_implemented("pull_period"))
    }
}

/// Adapts a [`Connector`] to the generated `Guest` trait.
#[doc(hidden)]
pub struct ConnectorExport<T>(PhantomData<T>);

impl<T: Connector> wit_connector::Guest for ConnectorExport<T> {
    fn describe() -> ConnectorInfo {
        T::describe()
    }

    fn pull(kind: EntityKind, cursor: Option<String>, limit: u32) -> Result<ChangePage> {
        T::pull(kind, cursor, limit)
    }

    fn push(
        kind: EntityKind,
        record: Entity,
        remote_id: Option<String>,
        version: Option<String>,
        idempotency_key: String,
    ) -> Result<PushOutcome> {
        T::push(kind, record, remote_id, version, idempotency_key)
    }

    fn delete(kind: EntityKind, remote_id: String) -> Result<()> {
        T::delete(kind, remote_id)
    }

    fn fetch(kind: EntityKind, remote_id: String) -> Result<Option<RemoteRecord>> {
        T::fetch(kind, remote_id)
    }

    fn party_balance(remote_id: String) -> Result<Balance> {
        T::party_balance(remote_id)
    }

    fn product_stock(remote_id: String) -> Result<Vec<StockLevel>> {
        T::product_stock(remote_id)
    }

    fn accept_webhook(request: HttpRequest) -> Result<WebhookIntake> {
        T::accept_webhook(request)
    }

    fn handle_webhook(request: HttpRequest) -> Result<Vec<WebhookChange>> {
        T::handle_webhook(request)
    }
}

impl<T: Connector> wit_history::Guest for ConnectorExport<T> {
    fn count_period(kind: EntityKind, from: Date, to: Date) -> Result<Option<u64>> {
        T::count_period(kind, from, to)
    }

    fn pull_period(
        kind: EntityKind,
        from: Date,
        to: Date,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<HistoryPage> {
        T::pull_period(kind, from, to, cursor, limit)
    }
}

/// Export a [`Connector`] implementation as this component's `connector`
/// world. Call it once, at the crate root of the plugin.
#[macro_export]
macro_rules! export_connector {
    ($ty:ty) => {
        const _: () = {
            type __HamgamExport = $crate::__private::ConnectorExport<$ty>;
    $crate::wit::export!(__HamgamExport with_types_in $crate::wit);
        };
    };
}
