//! The backends of the plugin imports (state, module records, events)
//! over the host's database. The runtime owns the traits and implements
//! them here on top of `store::modules`, so the store stays a floor below
//! the runtime and knows nothing of it.

use super::backends::{CrmStore, ModuleRecord, RecordMeta, RecordScope, Scope, StateStore};
use crate::store::Db;
use crate::store::modules::{self, Owner};
use async_trait::async_trait;

fn owner(scope: &RecordScope) -> Owner<'_> {
    Owner {
        tenant: &scope.tenant,
        plugin: &scope.plugin,
        instance: &scope.instance,
    }
}

#[async_trait]
impl StateStore for Db {
    async fn get(&self, scope: &Scope, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(modules::state_get(self, &scope.tenant, &scope.instance, key).await?)
    }

    async fn set(&self, scope: &Scope, key: &str, value: &[u8]) -> anyhow::Result<()> {
        Ok(modules::state_set(self, &scope.tenant, &scope.instance, key, value).await?)
    }

    async fn delete(&self, scope: &Scope, key: &str) -> anyhow::Result<()> {
        Ok(modules::state_delete(self, &scope.tenant, &scope.instance, key).await?)
    }
}

#[async_trait]
impl CrmStore for Db {
    async fn get_record(
        &self,
        scope: &RecordScope,
        record_type: &str,
        id: &str,
    ) -> anyhow::Result<Option<ModuleRecord>> {
        let body = modules::record_get(self, owner(scope), record_type, id).await?;
        Ok(body.map(|body| ModuleRecord {
            record_type: record_type.into(),
            id: id.into(),
            body,
        }))
    }

    async fn put_record(
        &self,
        scope: &RecordScope,
        r: ModuleRecord,
        meta: RecordMeta,
    ) -> anyhow::Result<()> {
        let actor = format!("module:{}", scope.instance);
        let write = modules::RecordWrite {
            schema_version: meta.schema_version,
            index: &meta.index,
            actor: &actor,
        };
        Ok(modules::record_put(self, owner(scope), &r.record_type, &r.id, &r.body, &write).await?)
    }

    async fn query_records(
        &self,
        scope: &RecordScope,
        record_type: &str,
        filters: &[(String, String)],
        after: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<ModuleRecord>> {
        let rows =
            modules::records_query(self, owner(scope), record_type, filters, after, limit).await?;
        Ok(rows
            .into_iter()
            .map(|(id, body, _)| ModuleRecord {
                record_type: record_type.into(),
                id,
                body,
            })
            .collect())
    }

    async fn records_below_version(
        &self,
        scope: &RecordScope,
        record_type: &str,
        version: u32,
        limit: u32,
    ) -> anyhow::Result<Vec<(ModuleRecord, u32)>> {
        let rows =
            modules::records_below_version(self, owner(scope), record_type, version, limit).await?;
        Ok(rows
            .into_iter()
            .map(|(id, body, v)| {
                let record = ModuleRecord {
                    record_type: record_type.into(),
                    id,
                    body,
                };
                (record, u32::try_from(v).unwrap_or(0))
            })
            .collect())
    }

    async fn list_records(
        &self,
        scope: &RecordScope,
        record_type: &str,
        prefix: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<ModuleRecord>> {
        let rows = modules::records_list(self, owner(scope), record_type, prefix, limit).await?;
        Ok(rows
            .into_iter()
            .map(|(id, body)| ModuleRecord {
                record_type: record_type.into(),
                id,
                body,
            })
            .collect())
    }

    async fn adopt_unscoped(
        &self,
        scope: &RecordScope,
        record_types: &[String],
    ) -> anyhow::Result<u64> {
        Ok(modules::adopt_unscoped(self, owner(scope), record_types).await?)
    }

    async fn emit(
        &self,
        tenant: &str,
        source: &str,
        name: &str,
        payload: &str,
    ) -> anyhow::Result<()> {
        Ok(modules::emit(self, tenant, source, name, payload).await?)
    }
}
