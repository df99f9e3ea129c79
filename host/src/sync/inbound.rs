//! Ledger → CRM: pull pages, apply each page with its links and cursor in
//! one transaction, and confirm deletions found by full scans.

use super::map::{self, Refs};
use super::version;
use super::{Ctx, RunReport, SyncError, now};
use crate::crm::NewDocument;
use crate::crm::kinds::{Aggregate, CompanyCode, EntityKind, LinkStatus};
use crate::runtime::bindings::connector::exports::hamgam::ledger0_1_0::connector as ledger;
use crate::runtime::bindings::types as wit;
use crate::store::Tx;
use crate::store::error::StoreError;
use crate::store::journal::outbox;
use crate::store::sync::{self as links, Link, LinkOrigin};
use crate::store::{document, party, payment, product};
use std::collections::{HashMap, HashSet};

/// Pull every kind the connector sends to the CRM, parties and products
/// first. A kind that fails stops the kinds after it (documents would only
/// fail on missing parties); the error is reported and the next run
/// resumes from the stored cursors.
pub(crate) async fn pull_all(
    ctx: &Ctx<'_>,
    info: &ledger::ConnectorInfo,
    report: &mut RunReport,
) -> Result<(), SyncError> {
    let mut kinds: Vec<wit::EntityKind> = info
        .entities
        .iter()
        .filter(|e| {
            matches!(
                e.direction,
                ledger::Direction::LedgerToCrm | ledger::Direction::Both
            )
        })
        .map(|e| e.kind)
        .filter(|k| map::local_kind(*k).is_some())
        .collect();
    kinds.sort_by_key(|k| map::order(*k));
    let Some(company) = ctx.company else {
        report.errors.push(format!(
            "connector {} reports no company code; nothing pulled (S17 needs one per ledger company)",
            ctx.instance
        ));
        return Ok(());
    };
    for kind in kinds {
        match pull_kind(ctx, kind, company, report).await {
            Ok(()) => {}
            Err(SyncError::Db(e)) => return Err(SyncError::Db(e)),
            Err(e) => {
                tracing::warn!(
                    tenant = ctx.tenant,
                    instance = ctx.instance,
                    kind = map::kind_name(kind),
                    "pull stopped: {e}"
                );
                report.errors.push(format!("{}: {e}", map::kind_name(kind)));
                break;
            }
        }
    }
    Ok(())
}

pub(crate) async fn pull_kind(
    ctx: &Ctx<'_>,
    kind: wit::EntityKind,
    company: CompanyCode,
    report: &mut RunReport,
) -> Result<(), SyncError> {
    use tracing::Instrument;
    let name = map::kind_name(kind);
    let span = tracing::info_span!(
        "sync_pull",
        tenant = ctx.tenant,
        instance = ctx.instance,
        kind = name
    );
    pull_pages(ctx, kind, company, report)
        .instrument(span)
        .await
}

async fn pull_pages(
    ctx: &Ctx<'_>,
    kind: wit::EntityKind,
    company: CompanyCode,
    report: &mut RunReport,
) -> Result<(), SyncError> {
    let name = map::kind_name(kind);
    let pages = ctx.settings.max_pages_per_run.max(1);
    let stored = links::read_cursor(ctx.db, ctx.tenant, ctx.instance, name).await?;
    // The connector is called outside any transaction: no database lock
    // is held across the network.
    let mut page = pull_one(ctx, kind, stored.cursor).await?;
    for taken in 1..=pages {
        let has_more = page.has_more;
        let full_scan = page.full_scan;
        let next_cursor = page.next_cursor.take();
        let ahead = next_cursor.clone();
        let changes = std::mem::take(&mut page.changes);
        let written = &mut *report;
        let apply = async move {
            let mut tx = ctx.db.begin().await?;
            let mut cursor = links::cursor(&mut tx, ctx.tenant, ctx.instance, name).await?;
            if full_scan && !cursor.scanning {
                cursor.scan += 1;
                cursor.scanning = true;
            }
            apply_page(ctx, &mut tx, kind, company, changes, cursor.scan, written).await?;
            cursor.cursor = next_cursor;
            if full_scan && !has_more {
                cursor.scanning = false;
            }
            links::save_cursor(&mut tx, ctx.tenant, ctx.instance, name, &cursor, &now()).await?;
            tx.commit().await?;
            Ok::<i64, SyncError>(cursor.scan)
        };
        if !has_more || taken == pages {
            let scan = apply.await?;
            if full_scan && !has_more {
                sweep(ctx, kind, company, scan, report).await?;
            }
            return Ok(());
        }
        // The next page is read while this one is written: the connector
        // (wasm, the network) and the database (SQLite's own thread, or
        // PostgreSQL) work at once instead of in turn. The stored cursor
        // moves only with a committed page, so a failure of either leaves
        // the next run to start after the last page written; a page read
        // ahead and not written is read again then.
        let (applied, next) = tokio::join!(apply, pull_one(ctx, kind, ahead));
        applied?;
        page = next?;
    }
    Ok(())
}

/// One page from the connector.
async fn pull_one(
    ctx: &Ctx<'_>,
    kind: wit::EntityKind,
    cursor: Option<String>,
) -> Result<ledger::ChangePage, SyncError> {
    ctx.plugin
        .pull(kind, cursor, ctx.settings.page_size)
        .await
        .map_err(|e| ctx.call_error(e))?
        .map_err(|e| ctx.connector_error(e))
}

/// Links of `kind` that a finished full scan did not see are asked about
/// one by one: gone → the deletion is applied; still there (the scan's
/// pages shifted under it) → applied as an upsert. A connector that cannot
/// `fetch` leaves deletions undetected rather than guessing.
async fn sweep(
    ctx: &Ctx<'_>,
    kind: wit::EntityKind,
    company: CompanyCode,
    scan: i64,
    report: &mut RunReport,
) -> Result<(), SyncError> {
    let name = map::kind_name(kind);
    for link in links::unseen(ctx.db, ctx.tenant, ctx.instance, name, scan).await? {
        let found = ctx
            .plugin
            .fetch(kind, link.remote_id.clone())
            .await
            .map_err(|e| ctx.call_error(e))?;
        let change = match found {
            Ok(Some(record)) => ledger::Change::Upsert(record),
            Ok(None) => ledger::Change::Deleted(link.remote_id.clone()),
            Err(wit::Error::Unsupported(_)) => return Ok(()),
            Err(e) => return Err(ctx.connector_error(e)),
        };
        let mut tx = ctx.db.begin().await?;
        apply_change(ctx, &mut tx, kind, company, change, scan, report).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// What applying one record came to.
enum Applied {
    /// Stored in the CRM as this id, with warnings.
    Stored(i64, Vec<String>),
    /// A ledger edit of a CRM-origin record: not applied (S8, S11).
    Ignored(i64),
    /// The CRM's own record, pushed earlier (found by its idempotency
    /// key): linked, not copied back; with the warning of a ledger code
    /// the party could not take.
    Ours(i64, Option<String>),
}

/// Apply one change inside the page's transaction. Business failures
/// (validation, missing references, duplicate numbers) are recorded on the
/// link and do not stop the page; database failures abort it.
pub(crate) async fn apply_change(
    ctx: &Ctx<'_>,
    tx: &mut Tx,
    kind: wit::EntityKind,
    company: CompanyCode,
    change: ledger::Change,
    scan: i64,
    report: &mut RunReport,
) -> Result<(), SyncError> {
    let name = map::kind_name(kind);
    let Some(local_kind) = map::local_kind(kind) else {
        return Ok(());
    };
    match change {
        ledger::Change::Upsert(record) => {
            report.pulled += 1;
            let hash = map::content_hash(&record.entity, record.version.as_deref());
            let link = links::link_by_remote(tx, ctx.tenant, ctx.instance, name, &record.remote_id)
                .await?;
            if let Some(l) = &link
                && already_applied(ctx, name, l, &record, &hash, report)
            {
                if l.seen_scan != scan {
                    let mut seen = l.clone();
                    seen.seen_scan = scan;
                    links::put_link(tx, &seen).await?;
                }
                return Ok(());
            }
            let outcome = upsert(ctx, tx, kind, local_kind, company, &record, link.as_ref()).await;
            let mut new = new_link(ctx, name, local_kind, &record, hash, scan, link.as_ref());
            match outcome {
                Ok(Applied::Stored(id, warnings)) => {
                    report.applied += 1;
                    new.local_id = Some(id);
                    new.error = (!warnings.is_empty()).then(|| warnings.join("; "));
                }
                Ok(Applied::Ignored(id)) => {
                    report.ignored += 1;
                    new.local_id = Some(id);
                }
                Ok(Applied::Ours(id, warning)) => {
                    report.ignored += 1;
                    new.local_id = Some(id);
                    new.origin = LinkOrigin::Crm;
                    new.error = warning;
                }
                // Refused again, unchanged and for the same reason: nothing
                // new to report.
                Err(Refusal::Business(message))
                    if link.as_ref().is_some_and(|l| {
                        l.status == LinkStatus::Failed.as_str()
                            && l.content_hash == new.content_hash
                            && l.error.as_deref() == Some(message.as_str())
                    }) =>
                {
                    report.unchanged += 1;
                    new.status = LinkStatus::Failed.as_str().into();
                    new.error = Some(message);
                }
                Err(Refusal::Business(message)) => {
                    report.refused += 1;
                    tracing::warn!(tenant = ctx.tenant, instance = ctx.instance, kind = name, remote_id = %record.remote_id, "ledger record refused: {message}");
                    let event = refused_event(ctx, name, &record.remote_id, &message);
                    crate::store::event::append_in_op(tx, &[event]).await?;
                    new.status = LinkStatus::Failed.as_str().into();
                    new.error = Some(message);
                }
                Err(Refusal::Db(e)) => return Err(SyncError::Db(e)),
            }
            links::put_link(tx, &new).await?;
        }
        ledger::Change::Deleted(remote_id) => {
            let Some(link) =
                links::link_by_remote(tx, ctx.tenant, ctx.instance, name, &remote_id).await?
            else {
                return Ok(());
            };
            if link.status == LinkStatus::Deleted.as_str() {
                return Ok(());
            }
            let mut gone = link.clone();
            gone.status = LinkStatus::Deleted.as_str().into();
            gone.seen_scan = scan;
            gone.last_synced = now();
            if let Some(id) = link.local_id
                && deletion_propagates(local_kind, link.origin)
            {
                let actor = ctx.actor();
                let removed = match local_kind.aggregate() {
                    // Identity deletions never propagate (deletion_propagates).
                    Aggregate::Party => Ok(()),
                    Aggregate::Product => product::delete_product_in_op(tx, &actor, id).await,
                    Aggregate::Payment(k) => {
                        payment::remove_ledger_payment_in_op(tx, &actor, k, id).await
                    }
                    Aggregate::Document(k) => {
                        document::remove_ledger_document_in_op(tx, &actor, k, id).await
                    }
                };
                match removed {
                    Ok(()) | Err(StoreError::NotFound { .. }) => {
                        report.deleted += 1;
                        gone.local_id = None;
                    }
                    Err(StoreError::Db(e)) => return Err(SyncError::Db(e)),
                    Err(other) => {
                        gone.status = LinkStatus::Failed.as_str().into();
                        gone.error = Some(format!("deleted in the ledger, but: {other}"));
                    }
                }
            }
            links::put_link(tx, &gone).await?;
        }
    }
    Ok(())
}

/// Whether a record needs no applying, counted as such: older than the
/// version its link holds, or unchanged since it was applied.
fn already_applied(
    ctx: &Ctx<'_>,
    name: &str,
    link: &Link,
    record: &ledger::RemoteRecord,
    hash: &str,
    report: &mut RunReport,
) -> bool {
    // An older version than the one already applied (a late webhook, an
    // overlapping page) never rolls the record back, whatever the
    // connector (issue 13 §7; see `version`).
    if version::is_older(record.version.as_deref(), link.remote_version.as_deref()) {
        report.stale += 1;
        tracing::info!(tenant = ctx.tenant, instance = ctx.instance, kind = name, remote_id = %record.remote_id,
            incoming = record.version.as_deref().unwrap_or(""), known = link.remote_version.as_deref().unwrap_or(""),
            "older version of a ledger record not applied");
        return true;
    }
    // A record refused earlier (a missing party or product) is tried again
    // whenever it is seen, even unchanged.
    if link.content_hash.as_deref() == Some(hash) && link.status == LinkStatus::Synced.as_str() {
        report.unchanged += 1;
        return true;
    }
    false
}

/// The link a ledger record gets once applied (`synced`; the caller sets
/// the outcome), keeping the origin of the link it had.
fn new_link(
    ctx: &Ctx<'_>,
    name: &str,
    local_kind: EntityKind,
    record: &ledger::RemoteRecord,
    hash: String,
    scan: i64,
    link: Option<&Link>,
) -> Link {
    Link {
        tenant: ctx.tenant.to_owned(),
        instance: ctx.instance.to_owned(),
        kind: name.to_owned(),
        remote_id: record.remote_id.clone(),
        local_kind: local_kind.as_str().to_owned(),
        local_id: link.and_then(|l| l.local_id),
        remote_version: record.version.clone(),
        remote_number: remote_number(&record.entity),
        content_hash: Some(hash),
        origin: link.map(|l| l.origin).unwrap_or(LinkOrigin::Ledger),
        status: LinkStatus::Synced.as_str().into(),
        error: None,
        seen_scan: scan,
        last_synced: now(),
    }
}

/// Apply a pulled page inside its transaction with batched reads and
/// writes: one query for the links of all its records; unchanged and stale
/// records only marked seen (one statement); documents new to the CRM
/// mapped against one lookup of their parties, products and related
/// documents and stored with multi-row INSERTs, their links with them.
/// Everything else (edits, deletions, a record that claims an existing
/// CRM record, a remote id twice in the page) goes through
/// [`apply_change`] one by one, after the batch. The outcome per record
/// is what [`apply_change`] alone would give.
pub(crate) async fn apply_page(
    ctx: &Ctx<'_>,
    tx: &mut Tx,
    kind: wit::EntityKind,
    company: CompanyCode,
    changes: Vec<ledger::Change>,
    scan: i64,
    report: &mut RunReport,
) -> Result<(), SyncError> {
    let name = map::kind_name(kind);
    let Some(local_kind) = map::local_kind(kind) else {
        return Ok(());
    };
    let remote_of = |c: &ledger::Change| match c {
        ledger::Change::Upsert(r) => r.remote_id.clone(),
        ledger::Change::Deleted(id) => id.clone(),
    };
    let mut times: HashMap<String, usize> = HashMap::with_capacity(changes.len());
    for c in &changes {
        *times.entry(remote_of(c)).or_default() += 1;
    }
    let ids: Vec<String> = times.keys().cloned().collect();
    let known = links::links_by_remote(tx, ctx.tenant, ctx.instance, name, &ids).await?;
    let batchable = local_kind.document().is_some();
    let mut seen = Vec::new();
    let mut fresh = Vec::new();
    let mut one_by_one = Vec::new();
    for change in changes {
        let record = match change {
            ledger::Change::Upsert(r) if times.get(&r.remote_id) == Some(&1) => r,
            other => {
                one_by_one.push(other);
                continue;
            }
        };
        match known.get(&record.remote_id) {
            Some(link) => {
                let hash = map::content_hash(&record.entity, record.version.as_deref());
                if already_applied(ctx, name, link, &record, &hash, report) {
                    report.pulled += 1;
                    if link.seen_scan != scan {
                        seen.push(record.remote_id);
                    }
                } else {
                    one_by_one.push(ledger::Change::Upsert(record));
                }
            }
            None if batchable && matches!(record.entity, wit::Entity::Document(_)) => {
                fresh.push(record)
            }
            None => one_by_one.push(ledger::Change::Upsert(record)),
        }
    }
    links::mark_seen(tx, ctx.tenant, ctx.instance, name, &seen, scan).await?;
    let rest = create_fresh(ctx, tx, kind, local_kind, company, fresh, scan, report).await?;
    for record in rest {
        apply_change(
            ctx,
            tx,
            kind,
            company,
            ledger::Change::Upsert(record),
            scan,
            report,
        )
        .await?;
    }
    for change in one_by_one {
        apply_change(ctx, tx, kind, company, change, scan, report).await?;
    }
    Ok(())
}

/// A ledger document mapped for the CRM: the new record and its number,
/// or why the CRM refuses it.
type Mapped = Result<(NewDocument, String), String>;

/// Store ledger documents the CRM has no link for, batched. Returns the
/// records that need [`apply_change`]'s care instead: one whose number a
/// CRM record already has (claimed, or refused), one the CRM pushed itself
/// (its idempotency key), a number twice in the page.
#[allow(clippy::too_many_arguments)]
async fn create_fresh(
    ctx: &Ctx<'_>,
    tx: &mut Tx,
    kind: wit::EntityKind,
    local_kind: EntityKind,
    company: CompanyCode,
    fresh: Vec<ledger::RemoteRecord>,
    scan: i64,
    report: &mut RunReport,
) -> Result<Vec<ledger::RemoteRecord>, SyncError> {
    let Some(dkind) = local_kind.document() else {
        return Ok(fresh);
    };
    if fresh.is_empty() {
        return Ok(fresh);
    }
    let name = map::kind_name(kind);
    let keys: Vec<String> = fresh.iter().filter_map(|r| r.origin_key.clone()).collect();
    let ours = if keys.is_empty() {
        HashMap::new()
    } else {
        outbox::changes_by_keys(tx, ctx.tenant, &keys).await?
    };
    let docs: Vec<&wit::Document> = fresh
        .iter()
        .filter_map(|r| match &r.entity {
            wit::Entity::Document(d) => Some(d),
            _ => None,
        })
        .collect();
    let known = Known::load(ctx, tx, kind, &docs).await?;
    // Map every record; set aside the ones that need a closer look.
    let mut rest = Vec::new();
    let mut mapped: Vec<(ledger::RemoteRecord, Mapped)> = Vec::with_capacity(fresh.len());
    for record in fresh {
        let ours = record
            .origin_key
            .as_ref()
            .and_then(|k| ours.get(&k.to_ascii_lowercase()))
            .is_some_and(|(k, _)| *k == local_kind);
        let wit::Entity::Document(d) = &record.entity else {
            rest.push(record);
            continue;
        };
        if ours {
            rest.push(record);
            continue;
        }
        let outcome = match known
            .refs(d)
            .and_then(|refs| Ok(map::document_from_ledger(d, dkind, &refs)?))
        {
            Ok(new) => {
                let number = map::ledger_document_number(
                    new.date,
                    d.number.as_deref().unwrap_or(&record.remote_id),
                    company,
                );
                Ok((new, number))
            }
            Err(Refusal::Business(message)) => Err(message),
            Err(Refusal::Db(e)) => return Err(SyncError::Db(e)),
        };
        mapped.push((record, outcome));
    }
    let numbers: Vec<String> = mapped
        .iter()
        .filter_map(|(_, m)| m.as_ref().ok().map(|(_, n)| n.clone()))
        .collect();
    let taken = links::find_by_keys(tx, ctx.tenant, local_kind, &numbers).await?;
    let mut in_page = HashSet::new();
    let mut stored: Vec<(ledger::RemoteRecord, NewDocument, String)> = Vec::new();
    let mut refused: Vec<(ledger::RemoteRecord, String)> = Vec::new();
    for (record, outcome) in mapped {
        match outcome {
            Ok((new, number)) => {
                if taken.contains_key(&number) || !in_page.insert(number.clone()) {
                    rest.push(record);
                } else {
                    stored.push((record, new, number));
                }
            }
            Err(message) => refused.push((record, message)),
        }
    }
    let actor = ctx.actor();
    let new_docs: Vec<NewDocument> = stored.iter().map(|(_, d, _)| d.clone()).collect();
    let new_numbers: Vec<String> = stored.iter().map(|(_, _, n)| n.clone()).collect();
    let created = if new_docs.is_empty() {
        Vec::new()
    } else {
        match document::create_ledger_documents_in_op(tx, &actor, &new_docs, &new_numbers).await {
            Ok(created) => created,
            Err(StoreError::Db(e)) => return Err(SyncError::Db(e)),
            // A reference the batch check found missing (nothing was
            // written): each record then gets its own verdict.
            Err(_) => {
                rest.extend(stored.drain(..).map(|(r, _, _)| r));
                Vec::new()
            }
        }
    };
    let mut new_links = Vec::with_capacity(created.len() + refused.len());
    for ((record, _, _), doc) in stored.iter().zip(&created) {
        report.pulled += 1;
        report.applied += 1;
        let hash = map::content_hash(&record.entity, record.version.as_deref());
        let mut link = new_link(ctx, name, local_kind, record, hash, scan, None);
        link.local_id = Some(doc.id);
        new_links.push(link);
    }
    let events: Vec<_> = refused
        .iter()
        .map(|(record, message)| refused_event(ctx, name, &record.remote_id, message))
        .collect();
    crate::store::event::append_in_op(tx, &events).await?;
    for (record, message) in refused {
        report.pulled += 1;
        report.refused += 1;
        tracing::warn!(tenant = ctx.tenant, instance = ctx.instance, kind = name, remote_id = %record.remote_id, "ledger record refused: {message}");
        let hash = map::content_hash(&record.entity, record.version.as_deref());
        let mut link = new_link(ctx, name, local_kind, &record, hash, scan, None);
        link.status = LinkStatus::Failed.as_str().into();
        link.error = Some(message);
        new_links.push(link);
    }
    links::put_new_links(tx, &new_links).await?;
    Ok(rest)
}

/// `sync.refused` (S20): a ledger record the CRM refused, about the
/// ledger record (`<instance>/<kind>/<remote id>`), so a module can show or
/// chase it; it is applied again when it changes or is retried (F2).
fn refused_event(
    ctx: &Ctx<'_>,
    kind: &str,
    remote_id: &str,
    message: &str,
) -> crate::store::event::NewEvent {
    let payload = serde_json::json!({
        "connector": ctx.instance,
        "kind": kind,
        "remote_id": remote_id,
        "error": message,
    });
    crate::store::event::NewEvent {
        tenant: ctx.tenant.to_owned(),
        name: "sync.refused".to_owned(),
        subject: format!("{}/{kind}/{remote_id}", ctx.instance),
        actor: format!("connector:{}", ctx.instance),
        payload: payload.to_string(),
    }
}

/// Deletion rules (S12, S14–S16; the incumbent's: identity deletions never
/// propagate). A CRM-origin quote deleted in the ledger stays in the CRM.
fn deletion_propagates(local_kind: EntityKind, origin: LinkOrigin) -> bool {
    match local_kind.aggregate() {
        Aggregate::Party => false,
        Aggregate::Product | Aggregate::Document(_) | Aggregate::Payment(_) => {
            origin == LinkOrigin::Ledger
        }
    }
}

fn remote_number(e: &wit::Entity) -> Option<String> {
    match e {
        wit::Entity::Party(p) => p.customer_number.clone(),
        wit::Entity::Product(p) => Some(p.code.clone()),
        wit::Entity::Document(d) => d.number.clone(),
    }
}

enum Refusal {
    Business(String),
    Db(sqlx::Error),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Db(e) => Refusal::Db(e),
            other => Refusal::Business(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        Refusal::Db(e)
    }
}

impl From<hamgam_domain::ValidationError> for Refusal {
    fn from(e: hamgam_domain::ValidationError) -> Self {
        Refusal::Business(format!("{}: {}", e.field, e.message))
    }
}

fn mismatch(local_kind: EntityKind, record: &ledger::RemoteRecord) -> Refusal {
    Refusal::Business(format!(
        "the connector sent a {} record for {local_kind} {}",
        match record.entity {
            wit::Entity::Party(_) => EntityKind::Party.as_str(),
            wit::Entity::Product(_) => EntityKind::Product.as_str(),
            wit::Entity::Document(_) => "document",
        },
        record.remote_id
    ))
}

/// Create or update the CRM record of one ledger record.
async fn upsert(
    ctx: &Ctx<'_>,
    tx: &mut Tx,
    kind: wit::EntityKind,
    local_kind: EntityKind,
    company: CompanyCode,
    record: &ledger::RemoteRecord,
    link: Option<&Link>,
) -> Result<Applied, Refusal> {
    let actor = ctx.actor();
    let linked = link.and_then(|l| l.local_id.map(|id| (id, l.origin)));
    // S8, S11: the record was created in the CRM; the ledger's edits of it
    // do not travel back.
    if let Some((id, LinkOrigin::Crm)) = linked {
        return Ok(Applied::Ignored(id));
    }
    // Pushed by us, but the push's answer was lost before the link was
    // written (a crash, a dropped response): the ledger kept our key.
    if linked.is_none()
        && let Some(key) = &record.origin_key
        && let Some((kind, id)) = outbox::change_by_key(tx, ctx.tenant, key).await?
        && kind == local_kind
    {
        // The push's answer carried the ledger's number for the party;
        // the lost answer is read here instead, so the party takes it as
        // it would have then (S1). The retry finds the link and will not.
        let warning = match &record.entity {
            wit::Entity::Party(p) if local_kind == EntityKind::Party => {
                super::outbound::adopt_ledger_code(ctx, tx, id, p.customer_number.as_deref())
                    .await?
            }
            _ => None,
        };
        return Ok(Applied::Ours(id, warning));
    }
    let existing = linked.map(|(id, _)| id);
    match (&record.entity, local_kind.aggregate()) {
        (wit::Entity::Party(p), Aggregate::Party) => {
            let new = map::party_from_ledger(p, company)?;
            // The warnings live on the party; the link repeats them so the
            // sync view shows what arrived imperfect (issue 14 §7).
            let warnings = new.warnings.iter().map(ToString::to_string).collect();
            let id = match existing.or(claim(ctx, tx, local_kind, &new.customer_number).await?) {
                Some(id) => {
                    ensure_key_free(ctx, tx, local_kind, &new.customer_number, id).await?;
                    match party::update_party_in_op(tx, &actor, id, &new).await {
                        Err(StoreError::NotFound { .. }) => {
                            party::create_party_in_op(tx, &actor, &new).await?.id
                        }
                        other => other?.id,
                    }
                }
                None => party::create_party_in_op(tx, &actor, &new).await?.id,
            };
            Ok(Applied::Stored(id, warnings))
        }
        (wit::Entity::Product(p), Aggregate::Product) => {
            let new = map::product_from_ledger(p, company)?;
            let found = existing.or(claim(ctx, tx, local_kind, &new.code).await?);
            // A sales channel's product with the code of a product the
            // books (or the CRM) own is the same product: linked, so the
            // channel's orders find it, but never overwritten (S13).
            if ctx.role == ledger::ConnectorRole::SalesChannel
                && let Some(id) = found
                && let Some((_, origin)) =
                    links::find_by_key(tx, ctx.tenant, local_kind, &new.code).await?
                && origin != actor.origin
            {
                return Ok(Applied::Ignored(id));
            }
            let id = match found {
                Some(id) => {
                    ensure_key_free(ctx, tx, local_kind, &new.code, id).await?;
                    match product::update_product_in_op(tx, &actor, id, &new).await {
                        Err(StoreError::NotFound { .. }) => {
                            product::create_product_in_op(tx, &actor, &new).await?.id
                        }
                        other => other?.id,
                    }
                }
                None => product::create_product_in_op(tx, &actor, &new).await?.id,
            };
            let warnings = new.warnings.iter().map(ToString::to_string).collect();
            Ok(Applied::Stored(id, warnings))
        }
        (wit::Entity::Document(d), Aggregate::Payment(pkind)) => {
            let refs = resolve(ctx, tx, kind, d).await?;
            let new = map::payment_from_ledger(d, pkind, &refs)?;
            let number = map::ledger_document_number(
                new.date,
                d.number.as_deref().unwrap_or(&record.remote_id),
                company,
            );
            let id = match existing.or(claim(ctx, tx, local_kind, &number).await?) {
                Some(id) => {
                    ensure_key_free(ctx, tx, local_kind, &number, id).await?;
                    match payment::replace_ledger_payment_in_op(tx, &actor, id, &new, &number).await
                    {
                        Err(StoreError::NotFound { .. }) => {
                            payment::create_ledger_payment_in_op(tx, &actor, &new, &number)
                                .await?
                                .id
                        }
                        other => other?.id,
                    }
                }
                None => {
                    payment::create_ledger_payment_in_op(tx, &actor, &new, &number)
                        .await?
                        .id
                }
            };
            Ok(Applied::Stored(id, Vec::new()))
        }
        (wit::Entity::Document(d), Aggregate::Document(dkind)) => {
            let refs = resolve(ctx, tx, kind, d).await?;
            let new = map::document_from_ledger(d, dkind, &refs)?;
            let number = map::ledger_document_number(
                new.date,
                d.number.as_deref().unwrap_or(&record.remote_id),
                company,
            );
            let id = match existing.or(claim(ctx, tx, local_kind, &number).await?) {
                Some(id) => {
                    ensure_key_free(ctx, tx, local_kind, &number, id).await?;
                    match document::replace_ledger_document_in_op(tx, &actor, id, &new, &number)
                        .await
                    {
                        Err(StoreError::NotFound { .. }) => {
                            document::create_ledger_document_in_op(tx, &actor, &new, &number)
                                .await?
                                .id
                        }
                        other => other?.id,
                    }
                }
                None => {
                    document::create_ledger_document_in_op(tx, &actor, &new, &number)
                        .await?
                        .id
                }
            };
            Ok(Applied::Stored(id, Vec::new()))
        }
        _ => Err(mismatch(local_kind, record)),
    }
}

/// A CRM record with the same natural key and no link in this instance yet
/// is taken over by the ledger record (first sync of data that exists on
/// both sides: customer number, product code, document number). One that
/// came from the CRM keeps its content: the CRM is its origin (S8).
async fn claim(
    ctx: &Ctx<'_>,
    tx: &mut Tx,
    local_kind: EntityKind,
    key: &str,
) -> Result<Option<i64>, Refusal> {
    let Some((id, origin)) = links::find_by_key(tx, ctx.tenant, local_kind, key).await? else {
        return Ok(None);
    };
    // Created in the CRM (through the API or by a module), not by a ledger.
    if origin.starts_with("api:") || origin.starts_with("module:") {
        return Err(Refusal::Business(format!(
            "{local_kind} {key} already exists in the CRM (id {id}, created there); numbers are \
             never reused (S10): renumber the ledger's record, or send the CRM's from the CRM"
        )));
    }
    Ok(Some(id))
}

/// The key the ledger record now has must not belong to another CRM
/// record (checked before writing, so PostgreSQL never sees a unique
/// violation that would abort the page's transaction).
async fn ensure_key_free(
    ctx: &Ctx<'_>,
    tx: &mut Tx,
    local_kind: EntityKind,
    key: &str,
    id: i64,
) -> Result<(), Refusal> {
    match links::find_by_key(tx, ctx.tenant, local_kind, key).await? {
        Some((other, _)) if other != id => Err(Refusal::Business(format!(
            "{local_kind} number {key} is already used by CRM record {other} (S10: numbers are never reused)"
        ))),
        _ => Ok(()),
    }
}

/// The CRM ids a ledger document refers to: its party (required), its
/// products (each line), and the invoice a return or receipt belongs to.
async fn resolve(
    ctx: &Ctx<'_>,
    tx: &mut Tx,
    kind: wit::EntityKind,
    d: &wit::Document,
) -> Result<Refs, Refusal> {
    let known = Known::load(ctx, tx, kind, std::slice::from_ref(&d)).await?;
    known.refs(d)
}

/// The ledger kinds a document's `related_ref` may name, most likely first.
fn related_kinds(kind: wit::EntityKind) -> &'static [wit::EntityKind] {
    use wit::EntityKind as K;
    match kind {
        K::PurchaseReturn | K::WarehouseReturn | K::Payment => {
            &[K::PurchaseInvoice, K::WarehouseReceipt]
        }
        _ => &[K::SalesInvoice],
    }
}

/// The CRM ids of the records some ledger documents refer to, read with
/// one query per referenced kind.
struct Known {
    parties: HashMap<String, i64>,
    products: HashMap<String, i64>,
    /// Per candidate kind of `related_kinds`, in its order.
    related: Vec<HashMap<String, i64>>,
}

impl Known {
    async fn load(
        ctx: &Ctx<'_>,
        tx: &mut Tx,
        kind: wit::EntityKind,
        docs: &[&wit::Document],
    ) -> Result<Known, sqlx::Error> {
        let party_refs: Vec<String> = docs.iter().map(|d| d.party_ref.clone()).collect();
        let product_refs: Vec<String> = docs
            .iter()
            .flat_map(|d| d.lines.iter())
            .filter(|l| !l.product_ref.is_empty())
            .map(|l| l.product_ref.clone())
            .collect();
        let related_refs: Vec<String> = docs.iter().filter_map(|d| d.related_ref.clone()).collect();
        // Links carry the ledger's kind names (`map::kind_name`).
        let party = map::kind_name(wit::EntityKind::Party);
        let product = map::kind_name(wit::EntityKind::Product);
        let parties = links::local_ids(tx, ctx.tenant, ctx.instance, party, &party_refs).await?;
        let products =
            links::local_ids(tx, ctx.tenant, ctx.instance, product, &product_refs).await?;
        let mut related = Vec::new();
        if !related_refs.is_empty() {
            for c in related_kinds(kind) {
                let c = map::kind_name(*c);
                related
                    .push(links::local_ids(tx, ctx.tenant, ctx.instance, c, &related_refs).await?);
            }
        }
        Ok(Known {
            parties,
            products,
            related,
        })
    }

    fn refs(&self, d: &wit::Document) -> Result<Refs, Refusal> {
        let party_id = self.parties.get(&d.party_ref).copied().ok_or_else(|| {
            Refusal::Business(format!(
                "party_ref: party {} of the ledger is not in the CRM (not synced yet, or refused — see the failed links)",
                d.party_ref
            ))
        })?;
        let products = d
            .lines
            .iter()
            .filter_map(|l| {
                self.products
                    .get(&l.product_ref)
                    .map(|id| (l.product_ref.clone(), *id))
            })
            .collect();
        let related_id = d
            .related_ref
            .as_ref()
            .and_then(|r| self.related.iter().find_map(|m| m.get(r).copied()));
        Ok(Refs {
            party_id,
            products,
            related_id,
        })
    }
}
