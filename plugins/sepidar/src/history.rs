//! One-shot reads of a past period (`hamgam:ledger/history@0.1.1`): the
//! orderable import of a closed fiscal year's sales invoices and returns.
//!
//! Sepidar's `Invoices/Paginated` covers the current fiscal year only; the
//! `…/BasedOnDate/Paginated` lists take any `fromDate`/`toDate` range and
//! report the range's `Total`, which the host shows as the import's
//! progress. Pages are read by `offset` in ascending id order: a closed
//! year gains no records, so offsets do not shift under the import.
//!
//! The period must end before `documents_from`, where the routine pull
//! starts: records in both would be followed twice, and the routine full
//! scan would ask about every imported record it does not see.

use hamgam_sdk::{Date, EntityKind, Error, HistoryPage, Result};

use crate::client::Client;
use crate::mapping;
use crate::model::Page;
use crate::settings::Settings;
use crate::{WebList, load_settings, web_changes};

/// The web list a period read of `kind` uses.
fn list_of(kind: EntityKind) -> Result<WebList> {
    match kind {
        EntityKind::SalesInvoice => Ok(WebList::Invoices),
        EntityKind::SalesReturn => Ok(WebList::ReturnedInvoices),
        other => Err(Error::invalid(
            "kind",
            format!(
                "the Sepidar connector reads past periods of sales invoices and returns only, not {other:?}"
            ),
        )),
    }
}

fn key(d: &Date) -> (i32, u8, u8) {
    (d.year, d.month, d.day)
}

/// The period, checked against the routine pull's start.
fn check_period(settings: &Settings, from: &Date, to: &Date) -> Result<()> {
    if key(from) > key(to) {
        return Err(Error::invalid(
            "from",
            format!("the period starts ({from}) after it ends ({to})"),
        ));
    }
    if key(to) >= key(&settings.documents_from) {
        return Err(Error::invalid(
            "to",
            format!(
                "the routine sync of this instance reads documents from {} (setting \
                 documents_from); a one-shot import covers what lies before it, so the period \
                 must end by the day before",
                settings.documents_from
            ),
        ));
    }
    Ok(())
}

fn path(list: WebList, from: &Date, to: &Date, limit: u32, offset: u64) -> String {
    let (resource, id) = match list {
        WebList::Invoices => ("Invoices", "InvoiceID"),
        _ => ("ReturnedInvoices", "ReturnedInvoiceID"),
    };
    format!(
        "{resource}/BasedOnDate/Paginated?fromDate={}&toDate={}&limit={limit}&offset={offset}&orderBy={id}",
        mapping::format_date(from),
        mapping::format_date(to),
    )
}

/// `history.count-period`: the range's `Total`.
pub fn count(kind: EntityKind, from: Date, to: Date) -> Result<Option<u64>> {
    let settings = load_settings()?;
    let list = list_of(kind)?;
    check_period(&settings, &from, &to)?;
    let mut client = Client::connect(settings)?;
    let page: Page<serde_json::Value> = client.get(&path(list, &from, &to, 1, 0))?;
    Ok(page.total)
}

/// `history.pull-period`: the page at the cursor's offset.
pub fn page(
    kind: EntityKind,
    from: Date,
    to: Date,
    cursor: Option<String>,
    limit: u32,
) -> Result<HistoryPage> {
    let settings = load_settings()?;
    let list = list_of(kind)?;
    check_period(&settings, &from, &to)?;
    let offset = match cursor.as_deref() {
        None => 0,
        Some(c) => c
            .trim()
            .parse::<u64>()
            .map_err(|_| Error::invalid("cursor", format!("`{c}` is not a period-read offset")))?,
    };
    let limit = limit.clamp(1, 1000);
    let mut client = Client::connect(settings)?;
    let raw: Page<serde_json::Value> = client.get(&path(list, &from, &to, limit, offset))?;
    let read = raw.result.len() as u64;
    let has_more = match raw.total {
        Some(total) => offset + read < total,
        None => read == u64::from(limit),
    };
    let changes = web_changes(&mut client, list, raw.result)?;
    Ok(HistoryPage {
        changes,
        next_cursor: Some((offset + read).to_string()),
        has_more: has_more && read > 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn a_period_reads_the_dated_list_by_offset_in_id_order() {
        assert_eq!(
            path(
                WebList::ReturnedInvoices,
                &date(2023, 3, 21),
                &date(2024, 3, 19),
                200,
                400
            ),
            "ReturnedInvoices/BasedOnDate/Paginated?fromDate=2023-03-21T00:00:00&toDate=2024-03-19T00:00:00&limit=200&offset=400&orderBy=ReturnedInvoiceID"
        );
    }

    #[test]
    fn only_sales_invoices_and_returns_have_periods() {
        assert!(list_of(EntityKind::SalesInvoice).is_ok());
        assert!(list_of(EntityKind::SalesReturn).is_ok());
        let Err(Error::InvalidInput(e)) = list_of(EntityKind::Party) else {
            panic!("parties have no period read");
        };
        assert_eq!(e.field, "kind");
    }
}
