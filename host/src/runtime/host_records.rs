//! The host side of `hamgam:crm/records@0.1.1`: queries of a module's own
//! typed records by their indexed fields, in the calling instance's scope.

use super::bindings::module::hamgam::crm0_1_1::records::{
    self, FieldFilter, RecordPage, TypedRecord,
};
use super::bindings::types;
use super::host::HostState;
use hamgam_trust::manifest::CrmAccess;
use wasmtime::Result;

/// The most records one `query` answers.
const MAX_PAGE: u32 = 500;

fn field_error(field: impl Into<String>, message: impl Into<String>) -> types::Error {
    types::Error::InvalidInput(types::FieldError {
        field: field.into(),
        message: message.into(),
    })
}

impl records::Host for HostState {
    async fn query(
        &mut self,
        record_type: String,
        filters: Vec<FieldFilter>,
        after: Option<String>,
        limit: u32,
    ) -> Result<Result<RecordPage, types::Error>> {
        if self.ctx.effective.crm < CrmAccess::Read {
            return Ok(Err(self.denied(
                "crm.query-records",
                &record_type,
                "CRM read access is not granted".into(),
            )));
        }
        let Some(schema) = self.ctx.records.get(&record_type) else {
            self.record("crm.query-records", &record_type, false);
            return Ok(Err(field_error(
                "record-type",
                format!("`{record_type}` is not a record type this module declares"),
            )));
        };
        if let Some(f) = filters.iter().find(|f| !schema.index.contains(&f.field)) {
            self.record("crm.query-records", &record_type, false);
            return Ok(Err(field_error(
                f.field.clone(),
                format!(
                    "`{}` is not indexed for `{record_type}` (indexed: {})",
                    f.field,
                    schema.index.join(", ")
                ),
            )));
        }
        if !(1..=MAX_PAGE).contains(&limit) {
            return Ok(Err(field_error("limit", format!("must be 1..={MAX_PAGE}"))));
        }
        self.record("crm.query-records", &record_type, true);
        let pairs: Vec<(String, String)> =
            filters.into_iter().map(|f| (f.field, f.value)).collect();
        let rows = self
            .ctx
            .services
            .crm
            .query_records(
                &self.ctx.record_scope(),
                &record_type,
                &pairs,
                after.as_deref().unwrap_or(""),
                limit,
            )
            .await?;
        let next_after = (rows.len() == limit as usize)
            .then(|| rows.last().map(|r| r.id.clone()))
            .flatten();
        Ok(Ok(RecordPage {
            items: rows
                .into_iter()
                .map(|r| TypedRecord {
                    record_type: r.record_type,
                    id: r.id,
                    body: r.body,
                })
                .collect(),
            next_after,
        }))
    }
}
