//! Live lookups through the connectors (S7 balance, S13 stock): read from
//! the ledger, not copied, with a short cache so a quote screen that asks
//! for every line's stock does not hammer the ledger's desktop server.

use super::{SyncEngine, is_transient, render};
use crate::crm::kinds::{EntityKind, LinkStatus};
use crate::runtime::bindings::connector::exports::hamgam::ledger0_1_0::connector as ledger;
use crate::runtime::bindings::types as wit;
use crate::runtime::error::CallError;
use crate::runtime::sql::from_wit_decimal;
use crate::store::sync as links;
use hamgam_domain::Decimal;
use std::time::{Duration, Instant};

/// How long a looked-up value is served from memory.
pub const LOOKUP_TTL: Duration = Duration::from_secs(10);

/// A party's balance in one ledger (S7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// Connector instance (one ledger company).
    pub instance: String,
    /// The party's id in that ledger.
    pub remote_id: String,
    /// Debit total.
    pub debit: Decimal,
    /// Credit total.
    pub credit: Decimal,
    /// Positive: the party owes us.
    pub balance: Decimal,
    /// Currency of the amounts.
    pub currency: String,
}

/// A product's stock in one warehouse of one ledger (S13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockLevel {
    /// Connector instance.
    pub instance: String,
    /// Warehouse.
    pub warehouse: String,
    /// Quantity on hand.
    pub quantity: Decimal,
}

/// Why a live lookup has no answer.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The record is in no ledger that keeps the value, or the ledger has
    /// no such value for it: the question has no answer in this state.
    #[error("{0}")]
    NoAnswer(String),
    /// The connector is not running or its ledger cannot be reached now.
    #[error("{0}")]
    Unreachable(String),
    /// The ledger or its connector answered with an error or garbage.
    #[error("{0}")]
    Upstream(String),
    /// The plugin trapped, timed out or broke a limit.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Values by (tenant, record id), with when they were read.
type Cache<T> = std::sync::Mutex<std::collections::HashMap<(String, i64), (Instant, T)>>;

/// Cached lookups by key.
#[derive(Debug, Default)]
pub(crate) struct LookupCache {
    balances: Cache<Vec<Balance>>,
    stock: Cache<Vec<StockLevel>>,
}

fn fresh<T: Clone>(map: &Cache<T>, key: &(String, i64)) -> Option<T> {
    let map = map.lock().unwrap_or_else(|e| e.into_inner());
    map.get(key)
        .filter(|(at, _)| at.elapsed() < LOOKUP_TTL)
        .map(|(_, v)| v.clone())
}

fn keep<T>(map: &Cache<T>, key: (String, i64), value: T) {
    map.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, (Instant::now(), value));
}

fn lookup_error(instance: &str, e: &wit::Error) -> LookupError {
    // The ledger has no such value for this record (deleted there, or a
    // lookup this ledger does not offer): the caller asked about a record
    // in a state that has no answer, not a failure of ours or the ledger's.
    if matches!(e, wit::Error::NotFound(_) | wit::Error::Unsupported(_)) {
        return LookupError::NoAnswer(format!(
            "the ledger behind {instance} has no answer: {}",
            render(e)
        ));
    }
    if is_transient(e) {
        LookupError::Unreachable(format!(
            "the ledger behind {instance} cannot be reached: {}",
            render(e)
        ))
    } else {
        LookupError::Upstream(format!(
            "the ledger behind {instance} answered: {}",
            render(e)
        ))
    }
}

fn amount(d: &wit::Decimal) -> Result<Decimal, LookupError> {
    from_wit_decimal(d)
        .map_err(|_| LookupError::Upstream("the connector sent an invalid decimal".into()))
}

impl SyncEngine {
    async fn linked(
        &self,
        tenant: &str,
        local_kind: EntityKind,
        id: i64,
    ) -> Result<Vec<links::Link>, LookupError> {
        let all = links::links_of_local(self.state.db(), tenant, local_kind.as_str(), id).await?;
        let linked: Vec<_> = all
            .into_iter()
            .filter(|l| l.status == LinkStatus::Synced.as_str())
            .collect();
        if linked.is_empty() {
            return Err(LookupError::NoAnswer(format!(
                "{local_kind} {id} is not in any ledger yet (not synced)"
            )));
        }
        Ok(linked)
    }

    /// The party's balance in every ledger it is linked in (S7).
    pub async fn party_balances(
        &self,
        tenant: &str,
        party_id: i64,
    ) -> Result<Vec<Balance>, LookupError> {
        let key = (tenant.to_owned(), party_id);
        if let Some(hit) = fresh(&self.lookups.balances, &key) {
            return Ok(hit);
        }
        let snapshot = self.state.snapshot();
        // A balance is the books' (S7): a sales channel (the shop a party
        // came from) keeps no account for it, so only links to connectors
        // that describe themselves as `books` are asked.
        let mut books = Vec::new();
        for link in self.linked(tenant, EntityKind::Party, party_id).await? {
            let plugin = snapshot
                .registry
                .get(tenant, &link.instance)
                .ok_or_else(|| {
                    LookupError::Unreachable(format!("connector {} is not running", link.instance))
                })?;
            if plugin.describe_connector().await?.role == ledger::ConnectorRole::Books {
                books.push((link, plugin));
            }
        }
        if books.is_empty() {
            return Err(LookupError::NoAnswer(format!(
                "party {party_id} is in no books ledger yet, so it has no ledger balance \
                 (a sales channel keeps none); it gets one once it is synced to the books"
            )));
        }
        let mut out = Vec::new();
        for (link, plugin) in books {
            let b = plugin
                .party_balance(link.remote_id.clone())
                .await?
                .map_err(|e| lookup_error(&link.instance, &e))?;
            out.push(Balance {
                instance: link.instance.clone(),
                remote_id: link.remote_id.clone(),
                debit: amount(&b.debit.amount)?,
                credit: amount(&b.credit.amount)?,
                balance: amount(&b.balance.amount)?,
                currency: b.balance.currency.clone(),
            });
        }
        keep(&self.lookups.balances, key, out.clone());
        Ok(out)
    }

    /// The product's stock per warehouse in its ledger (S13).
    pub async fn product_stock(
        &self,
        tenant: &str,
        product_id: i64,
    ) -> Result<Vec<StockLevel>, LookupError> {
        let key = (tenant.to_owned(), product_id);
        if let Some(hit) = fresh(&self.lookups.stock, &key) {
            return Ok(hit);
        }
        let snapshot = self.state.snapshot();
        let mut out = Vec::new();
        for link in self.linked(tenant, EntityKind::Product, product_id).await? {
            let plugin = snapshot
                .registry
                .get(tenant, &link.instance)
                .ok_or_else(|| {
                    LookupError::Unreachable(format!("connector {} is not running", link.instance))
                })?;
            let levels = plugin
                .product_stock(link.remote_id.clone())
                .await?
                .map_err(|e| lookup_error(&link.instance, &e))?;
            for l in levels {
                out.push(StockLevel {
                    instance: link.instance.clone(),
                    warehouse: l.warehouse,
                    quantity: amount(&l.quantity)?,
                });
            }
        }
        keep(&self.lookups.stock, key, out.clone());
        Ok(out)
    }
}
