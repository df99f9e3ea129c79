//! CRM → ledger: route outbox rows to the instance of their company (S17),
//! apply the origin rules, and deliver with idempotency keys, backoff and
//! parking.

use super::map;
use super::policy;
use super::{Ctx, RunReport, SyncEngine, SyncError, is_transient, now, render};
use crate::crm::kinds::{CompanyCode, EntityKind, LinkStatus, OutboxStatus, SyncStatus};
use crate::crm::{Actor, Document, Party, Product};
use crate::runtime::bindings::types as wit;
use crate::store::error::StoreError;
use crate::store::journal::audit;
use crate::store::journal::outbox::{self, OutboxItem, Route, Settlement};
use crate::store::sync::{self as links, Link, LinkOrigin};
use crate::store::{document, party, product};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// Rows routed per run; the rest wait for the next run.
const ROUTE_BATCH: u32 = 500;
/// Rows delivered per run and instance.
const DELIVER_BATCH: u32 = 200;

/// Give every new outbox row of the tenant a target instance (by the
/// company code its record carries, S17) or settle it as skipped with the
/// rule that says why.
pub(crate) async fn route(
    engine: &SyncEngine,
    tenant: &str,
    installation: &str,
    report: &mut RunReport,
) -> Result<(), SyncError> {
    let db = engine.state.db();
    let rows = outbox::unrouted(db, tenant, ROUTE_BATCH).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let connectors = engine.connectors(tenant).await;
    let running: Vec<policy::Connector<'_>> = connectors
        .iter()
        .filter_map(|(name, _, info)| {
            let info = info.as_ref()?;
            Some(policy::Connector {
                instance: name,
                role: info.role,
                company: info.company_code.as_deref().and_then(CompanyCode::parse),
                entities: &info.entities,
            })
        })
        .collect();
    let at = now();
    for row in rows {
        let change = policy::Change {
            kind: row.entity_kind,
            id: row.entity_id,
            operation: row.operation,
            origin: &row.origin,
        };
        // The record's company is read only once a rule sends it somewhere.
        let mut stage = policy::Stage::Route {
            company: policy::Company::Unread,
            connectors: &running,
        };
        if policy::decide(&change, &stage) == policy::Decision::ReadCompany {
            let company = links::company_of(db, tenant, row.entity_kind, row.entity_id).await?;
            stage = policy::Stage::Route {
                company: match company {
                    // A code no connector could declare serves no instance.
                    Some(c) => {
                        policy::Company::Is(CompanyCode(u16::try_from(c).unwrap_or(u16::MAX)))
                    }
                    None => policy::Company::Gone,
                },
                connectors: &running,
            };
        }
        match policy::decide(&change, &stage) {
            policy::Decision::Travel { to, .. } => {
                let key = idempotency_key(installation, tenant, row.id);
                let to = Route::To {
                    target: to,
                    key: &key,
                };
                outbox::route(db, tenant, row.id, to, &at).await?
            }
            policy::Decision::Stay(why) => {
                let why = why.to_string();
                outbox::route(db, tenant, row.id, Route::Skip(&why), &at).await?;
                report.skipped += 1;
            }
            // Routing looks at no link, and it gave the company.
            policy::Decision::AlreadyThere | policy::Decision::ReadCompany => {
                let why = "the sync policy could not route this change";
                outbox::route(db, tenant, row.id, Route::Skip(why), &at).await?;
                report.skipped += 1;
            }
        }
    }
    Ok(())
}

/// How one delivery attempt ended.
enum Outcome {
    /// Pushed. `complete`: every change of the record up to now is in the
    /// ledger; otherwise later changes still have to go (issue 13 §8).
    Delivered {
        complete: bool,
    },
    /// The ledger already has the record this row creates: an earlier
    /// attempt registered it and its answer was lost, and a pull has since
    /// recognised it by the idempotency key.
    AlreadyThere,
    Skipped(String),
    /// Try again later (the ledger is down, a dependency is not there yet).
    Later(String),
    /// Try again later, but the push was sent and its answer lost (a
    /// timeout, an error after the ledger processed it): the ledger may
    /// already hold the record's content up to change `upto`.
    Unsure {
        reason: String,
        upto: i64,
    },
    /// Will not succeed until someone changes something.
    Failed(String),
}

/// Deliver the due rows routed to this instance, oldest first. A row that
/// waits or fails blocks later rows of the same record, so an update never
/// overtakes its create.
pub(crate) async fn deliver(
    ctx: &Ctx<'_>,
    installation: &str,
    report: &mut RunReport,
) -> Result<(), SyncError> {
    let rows = outbox::due(ctx.db, ctx.tenant, ctx.instance, &now(), DELIVER_BATCH).await?;
    let mut blocked: HashSet<(EntityKind, i64)> = HashSet::new();
    // Records pushed in this run: their older rows were settled with them.
    let mut covered: HashSet<(EntityKind, i64)> = HashSet::new();
    for row in rows {
        let entity = (row.entity_kind, row.entity_id);
        if blocked.contains(&entity) || covered.contains(&entity) {
            continue;
        }
        // A panic on one row parks that row; the rows after it still go.
        let outcome = match super::guard::contained(deliver_one(ctx, installation, &row)).await {
            Ok(delivered) => delivered?,
            Err(panicked) => Outcome::Failed(panicked.to_string()),
        };
        let (settlement, record_status) = match &outcome {
            Outcome::Delivered { complete } => {
                // The link and the row's status were written by
                // deliver_one's transaction; nothing more to record. When
                // an earlier attempt's content may be what landed, the
                // record's later rows still go, with its content as now.
                report.delivered += 1;
                if *complete {
                    covered.insert(entity);
                }
                continue;
            }
            Outcome::AlreadyThere => {
                report.delivered += 1;
                (
                    settled(OutboxStatus::Delivered, row.attempts, None, None),
                    Some(SyncStatus::Synced),
                )
            }
            Outcome::Skipped(reason) => {
                report.skipped += 1;
                (
                    settled(OutboxStatus::Skipped, row.attempts, None, Some(reason)),
                    None,
                )
            }
            Outcome::Later(reason) | Outcome::Unsure { reason, .. } => {
                blocked.insert(entity);
                let attempts = row.attempts + 1;
                if attempts >= ctx.settings.max_attempts as i32 {
                    report.failed += 1;
                    let why = format!("gave up after {attempts} attempts: {reason}");
                    (
                        settled(OutboxStatus::Failed, attempts, None, Some(&why)),
                        Some(SyncStatus::Failed),
                    )
                } else {
                    report.retrying += 1;
                    let next = next_attempt(ctx, attempts, row.id);
                    (
                        settled(OutboxStatus::Pending, attempts, Some(&next), Some(reason)),
                        None,
                    )
                }
            }
            Outcome::Failed(reason) => {
                blocked.insert(entity);
                report.failed += 1;
                (
                    settled(OutboxStatus::Failed, row.attempts + 1, None, Some(reason)),
                    Some(SyncStatus::Failed),
                )
            }
        };
        let at = now();
        let mut tx = ctx.db.begin().await?;
        let settlement = Settlement {
            status: settlement.0,
            attempts: settlement.1,
            next_attempt_at: settlement.2.as_deref(),
            error: settlement.3.as_deref(),
        };
        outbox::settle(&mut tx, ctx.tenant, &[row.id], settlement, &at).await?;
        if let Outcome::Unsure { upto, .. } = &outcome {
            outbox::mark_unsure(&mut tx, ctx.tenant, row.id, *upto).await?;
        }
        if let Some(status) = record_status {
            let outcome = links::SyncOutcome {
                status,
                via: ctx.instance,
                why: settlement.error,
            };
            links::set_sync_status(&mut tx, ctx.tenant, row.entity_kind, row.entity_id, outcome)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// A row's new delivery state: status, attempts, not before, why (owned,
/// so each outcome can build its message in place).
type Settled = (OutboxStatus, i32, Option<String>, Option<String>);

fn settled(status: OutboxStatus, attempts: i32, next: Option<&str>, why: Option<&str>) -> Settled {
    (
        status,
        attempts,
        next.map(str::to_owned),
        why.map(str::to_owned),
    )
}

/// Exponential backoff from `backoff_base_ms`, capped at `backoff_max_s`,
/// with ±25 % jitter so instances recovering together do not retry in step.
fn next_attempt(ctx: &Ctx<'_>, attempts: i32, salt: i64) -> String {
    let base = ctx.settings.backoff_base_ms.max(1) as f64;
    let cap = (ctx.settings.backoff_max_s.max(1) * 1000) as f64;
    let exp = (base * 2f64.powi(attempts.saturating_sub(1).min(30))).min(cap);
    // Jitter from the clock's nanoseconds and the row id: no RNG state.
    let nanos = chrono::Utc::now().timestamp_subsec_nanos() as i64;
    let spread = ((nanos ^ salt.wrapping_mul(0x9E37_79B9)) % 1000) as f64 / 1000.0; // 0..1
    let ms = exp * (0.75 + 0.5 * spread.abs());
    (chrono::Utc::now() + chrono::Duration::milliseconds(ms as i64))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The idempotency key of an outbox row: stable across retries and
/// restarts, unique per installation (a UUID, as Sepidar's `GUID` field
/// wants one).
pub fn idempotency_key(installation: &str, tenant: &str, row_id: i64) -> String {
    let digest = Sha256::digest(format!("hamgam/{installation}/{tenant}/{row_id}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    // RFC 9562 version 8 (custom) and the RFC 4122 variant.
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The record in the ledger's terms, with the link it already has.
struct Prepared {
    kind: wit::EntityKind,
    entity: wit::Entity,
    link: Option<Link>,
}

async fn deliver_one(
    ctx: &Ctx<'_>,
    installation: &str,
    row: &OutboxItem,
) -> Result<Outcome, SyncError> {
    // Every change of the record up to now is covered by pushing its
    // current state; read the watermark before the record.
    let upto = outbox::last_change(ctx.db, ctx.tenant, row.entity_kind, row.entity_id)
        .await?
        .max(row.id);
    let prepared = match prepare(ctx, row).await? {
        Ok(p) => p,
        Err(outcome) => return Ok(outcome),
    };
    let key = idempotency_key(installation, ctx.tenant, row.id);
    // An earlier attempt whose answer was lost may have landed; a ledger
    // that recognises the key then answers with that record as it was
    // then, not with what this attempt sends.
    let unsure = outbox::unsure_upto(ctx.db, ctx.tenant, row.id).await?;
    let (remote_id, version) = match &prepared.link {
        Some(l) if l.status != LinkStatus::Deleted.as_str() => {
            (Some(l.remote_id.clone()), l.remote_version.clone())
        }
        _ => (None, None),
    };
    let pushed = ctx
        .plugin
        .push(prepared.kind, prepared.entity, remote_id, version, key)
        .await;
    let outcome = match pushed {
        Err(call) => {
            return Ok(Outcome::Unsure {
                reason: call.to_string(),
                upto,
            });
        }
        Ok(Err(e)) if is_transient(&e) => {
            return Ok(Outcome::Unsure {
                reason: render(&e),
                upto,
            });
        }
        Ok(Err(e)) => return Ok(Outcome::Failed(render(&e))),
        Ok(Ok(outcome)) => outcome,
    };
    let at = now();
    let mut tx = ctx.db.begin().await?;
    let first_push = prepared
        .link
        .as_ref()
        .is_none_or(|l| l.status == LinkStatus::Deleted.as_str());
    let mut warning = None;
    if prepared.kind == wit::EntityKind::Party && first_push {
        warning = adopt_ledger_code(ctx, &mut tx, row.entity_id, outcome.number.as_deref()).await?;
    }
    // S11: a ledger that replaces a record on edit numbers the new one;
    // the CRM shows the current number and the audit keeps the earlier.
    if let Some(l) = prepared.link.as_ref().filter(|_| !first_push)
        && let (Some(old), Some(new)) = (l.remote_number.as_deref(), outcome.number.as_deref())
        && old != new
    {
        let actor = Actor::connector(ctx.tenant, ctx.instance);
        audit::record_ledger_number_in_op(
            &mut tx,
            &actor,
            row.entity_kind,
            row.entity_id,
            old,
            new,
        )
        .await?;
    }
    links::put_link(
        &mut tx,
        &Link {
            tenant: ctx.tenant.to_owned(),
            instance: ctx.instance.to_owned(),
            kind: map::kind_name(prepared.kind).to_owned(),
            remote_id: outcome.remote_id,
            local_kind: row.entity_kind.as_str().to_owned(),
            local_id: Some(row.entity_id),
            remote_version: outcome.version,
            remote_number: outcome.number,
            // Unknown until the ledger's form of it is pulled; the pull then
            // records it without touching the CRM record (origin: CRM).
            content_hash: None,
            // A record already linked keeps its origin (a shop product
            // that got a price stays the shop's record).
            origin: prepared
                .link
                .as_ref()
                .map(|l| l.origin)
                .unwrap_or(LinkOrigin::Crm),
            status: LinkStatus::Synced.as_str().to_owned(),
            error: warning,
            seen_scan: prepared.link.as_ref().map(|l| l.seen_scan).unwrap_or(0),
            last_synced: at.clone(),
        },
    )
    .await?;
    outbox::settle(
        &mut tx,
        ctx.tenant,
        &[row.id],
        Settlement {
            status: OutboxStatus::Delivered,
            attempts: row.attempts + 1,
            next_attempt_at: None,
            error: None,
        },
        &at,
    )
    .await?;
    // Settle only what is surely in the ledger: with a lost answer behind
    // it, what landed may be the first such attempt's content (issue 13 §8).
    let delivered_upto = unsure.map_or(upto, |first| first.min(upto));
    outbox::settle_covered(
        &mut tx,
        ctx.tenant,
        row.entity_kind,
        row.entity_id,
        ctx.instance,
        delivered_upto,
        &at,
    )
    .await?;
    let outcome = links::SyncOutcome {
        status: SyncStatus::Synced,
        via: ctx.instance,
        why: None,
    };
    links::set_sync_status(&mut tx, ctx.tenant, row.entity_kind, row.entity_id, outcome).await?;
    tx.commit().await?;
    Ok(Outcome::Delivered {
        complete: delivered_upto >= upto,
    })
}

/// S1: the customer number is the ledger's detail-account code. A ledger
/// that numbers parties itself (Sepidar's web service assigns `Code`)
/// answers the first push with its number, and the CRM's party takes it,
/// with the company code (S17); the audit keeps the number the CRM asked
/// for. A ledger that takes the CRM's number (a database connector)
/// answers with it, or with none, and nothing changes. `Some`: the
/// ledger's number is another party's, so the party keeps its own (the
/// link says why). The pull calls it too: a push whose answer was lost
/// in a crash is found there by its key before the retry (issue 14 §3).
pub(super) async fn adopt_ledger_code(
    ctx: &Ctx<'_>,
    tx: &mut crate::store::Tx,
    party: i64,
    number: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let (Some(code), Some(company)) =
        (number.map(str::trim).filter(|n| !n.is_empty()), ctx.company)
    else {
        return Ok(None);
    };
    let actor = Actor::connector(ctx.tenant, ctx.instance);
    let number = map::with_company(code, company);
    match party::adopt_ledger_customer_number_in_op(tx, &actor, party, &number).await {
        Ok(_) => Ok(None),
        Err(StoreError::Conflict { message, .. }) => Ok(Some(format!(
            "S1: the party keeps its customer number: {message}"
        ))),
        // Deleted since it was pushed: no party left to take the number.
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The record as it is now; a record deleted since its change was
/// written does not travel (`why`).
fn current<T>(loaded: Result<T, StoreError>, why: &str) -> Result<Result<T, Outcome>, SyncError> {
    match loaded {
        Ok(record) => Ok(Ok(record)),
        Err(StoreError::NotFound { .. }) => Ok(Err(Outcome::Skipped(why.to_owned()))),
        Err(e) => Err(e.into()),
    }
}

/// Load the record as it is now and decide whether it travels; `Err`
/// carries the outcome when it does not (or cannot yet).
async fn prepare(ctx: &Ctx<'_>, row: &OutboxItem) -> Result<Result<Prepared, Outcome>, SyncError> {
    let kind = row.entity_kind;
    let change = policy::Change {
        kind,
        id: row.entity_id,
        operation: row.operation,
        origin: &row.origin,
    };
    let link = links::link_by_local(
        ctx.db,
        ctx.tenant,
        ctx.instance,
        kind.as_str(),
        row.entity_id,
    )
    .await?;
    let facts = match &link {
        Some(l) => Some(policy::LinkFacts {
            origin: l.origin,
            status: match LinkStatus::parse(&l.status) {
                Ok(status) => status,
                Err(corrupt) => return Ok(Err(Outcome::Failed(corrupt.to_string()))),
            },
        }),
        None => None,
    };
    // The record as it is now: a document's approval is one of the facts.
    let record = match kind {
        EntityKind::Party => current(
            party::get_party(ctx.db, ctx.tenant, row.entity_id).await,
            "the party was deleted before it was sent",
        )?
        .map(Record::Party),
        EntityKind::Product => current(
            product::get_product(ctx.db, ctx.tenant, row.entity_id).await,
            "the product was deleted before its price was sent",
        )?
        .map(Record::Product),
        other => match other.document() {
            Some(doc_kind) => current(
                document::get_document(ctx.db, ctx.tenant, doc_kind, row.entity_id).await,
                "the document was deleted before it was sent",
            )?
            .map(Record::Document),
            // Receipts and payments: the routing rules keep them (S16).
            None => Err(Outcome::Skipped(format!(
                "{other} records do not travel to a ledger"
            ))),
        },
    };
    if kind == EntityKind::Product && ctx.company.is_none() {
        return Ok(Err(Outcome::Failed(format!(
            "connector {} reports no company code",
            ctx.instance
        ))));
    }
    let stage = policy::Stage::Deliver {
        instance: ctx.instance,
        link: facts,
        status: match &record {
            Ok(Record::Document(doc)) => Some(doc.status),
            _ => None,
        },
    };
    // The rules first: a change that stays says why even when its record
    // has since gone.
    match policy::decide(&change, &stage) {
        policy::Decision::Travel { .. } => {}
        policy::Decision::AlreadyThere => return Ok(Err(Outcome::AlreadyThere)),
        policy::Decision::Stay(why) => return Ok(Err(Outcome::Skipped(why.to_string()))),
        policy::Decision::ReadCompany => {
            return Ok(Err(Outcome::Failed(
                "the sync policy asked for a company at delivery".into(),
            )));
        }
    }
    let record = match record {
        Ok(record) => record,
        Err(gone) => return Ok(Err(gone)),
    };
    match record {
        Record::Party(party) => Ok(Ok(Prepared {
            kind: wit::EntityKind::Party,
            entity: wit::Entity::Party(map::party_to_ledger(&party)),
            link,
        })),
        Record::Document(doc) => {
            let parties = links::remote_ids(
                ctx.db,
                ctx.tenant,
                ctx.instance,
                EntityKind::Party.as_str(),
                &[doc.party_id],
            )
            .await?;
            let Some(party_ref) = parties.get(&doc.party_id).cloned() else {
                return Ok(Err(Outcome::Later(format!(
                    "waiting for party {} to reach the ledger first",
                    doc.party_id
                ))));
            };
            let product_ids: Vec<i64> = doc.lines.iter().filter_map(|l| l.product_id).collect();
            let products = links::remote_ids(
                ctx.db,
                ctx.tenant,
                ctx.instance,
                EntityKind::Product.as_str(),
                &product_ids,
            )
            .await?;
            let entity = match map::document_to_ledger(&doc, party_ref, &products) {
                Ok(d) => d,
                Err(e) => return Ok(Err(Outcome::Failed(format!("{}: {}", e.field, e.message)))),
            };
            Ok(Ok(Prepared {
                kind: policy::wit_kind(kind),
                entity: wit::Entity::Document(entity),
                link,
            }))
        }
        Record::Product(product) => Ok(Ok(Prepared {
            kind: wit::EntityKind::Product,
            entity: wit::Entity::Product(map::product_to_ledger(
                &product,
                // A connector without one was refused above.
                ctx.company.unwrap_or(CompanyCode(0)),
            )),
            link,
        })),
    }
}

/// A record loaded for delivery.
enum Record {
    Party(Party),
    Product(Product),
    Document(Document),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_stable_uuids_per_row_and_installation() {
        let a = idempotency_key("inst-1", "acme", 7);
        assert_eq!(a, idempotency_key("inst-1", "acme", 7));
        assert_ne!(a, idempotency_key("inst-1", "acme", 8));
        assert_ne!(a, idempotency_key("inst-2", "acme", 7));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }
}
