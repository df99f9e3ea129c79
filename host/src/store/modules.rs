//! What plugins keep in the host's database: their key-value state
//! (`plugin_state`, per tenant and instance), module records
//! (`module_records`, per tenant, plugin and instance); the events modules
//! emit go to the event log ([`super::event`]). The runtime's backend traits are implemented over these
//! in `runtime::backends_db`, so the store knows nothing of the runtime.

use super::Db;

/// Result of a module-table call.
pub type Result<T> = std::result::Result<T, sqlx::Error>;

/// Whose records: the tenant, the plugin and its instance.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Plugin id.
    pub plugin: &'a str,
    /// Instance name.
    pub instance: &'a str,
}

/// A state value of one instance.
pub async fn state_get(
    db: &Db,
    tenant: &str,
    instance: &str,
    key: &str,
) -> Result<Option<Vec<u8>>> {
    let sql = "SELECT value FROM plugin_state WHERE tenant = $1 AND instance = $2 AND key = $3";
    on_pool!(db, p => sqlx::query_scalar(sql)
        .bind(tenant).bind(instance).bind(key)
        .fetch_optional(p).await)
}

/// Set a state value of one instance.
pub async fn state_set(
    db: &Db,
    tenant: &str,
    instance: &str,
    key: &str,
    value: &[u8],
) -> Result<()> {
    let sql = "INSERT INTO plugin_state (tenant, instance, key, value) VALUES ($1, $2, $3, $4) \
               ON CONFLICT (tenant, instance, key) DO UPDATE SET value = excluded.value";
    on_pool!(db, p => sqlx::query(sql)
        .bind(tenant).bind(instance).bind(key).bind(value)
        .execute(p).await.map(|_| ()))
}

/// Delete a state value of one instance.
pub async fn state_delete(db: &Db, tenant: &str, instance: &str, key: &str) -> Result<()> {
    let sql = "DELETE FROM plugin_state WHERE tenant = $1 AND instance = $2 AND key = $3";
    on_pool!(db, p => sqlx::query(sql)
        .bind(tenant).bind(instance).bind(key)
        .execute(p).await.map(|_| ()))
}

/// The body of one module record.
pub async fn record_get(
    db: &Db,
    owner: Owner<'_>,
    record_type: &str,
    id: &str,
) -> Result<Option<String>> {
    let sql = "SELECT body FROM module_records WHERE tenant = $1 AND plugin = $2 \
               AND instance = $3 AND record_type = $4 AND id = $5";
    on_pool!(db, p => sqlx::query_scalar(sql)
        .bind(owner.tenant).bind(owner.plugin).bind(owner.instance)
        .bind(record_type).bind(id)
        .fetch_optional(p).await)
}

/// Insert or replace one module record.
pub async fn record_put(
    db: &Db,
    owner: Owner<'_>,
    record_type: &str,
    id: &str,
    body: &str,
) -> Result<()> {
    let sql = "INSERT INTO module_records (tenant, plugin, instance, record_type, id, body) \
               VALUES ($1, $2, $3, $4, $5, $6) \
               ON CONFLICT (tenant, plugin, instance, record_type, id) \
               DO UPDATE SET body = excluded.body";
    on_pool!(db, p => sqlx::query(sql)
        .bind(owner.tenant).bind(owner.plugin).bind(owner.instance)
        .bind(record_type).bind(id).bind(body)
        .execute(p).await.map(|_| ()))
}

/// Module records of one type whose id starts with `prefix`, by id, as
/// (id, body).
pub async fn records_list(
    db: &Db,
    owner: Owner<'_>,
    record_type: &str,
    prefix: &str,
    limit: u32,
) -> Result<Vec<(String, String)>> {
    // Prefix match by range, not LIKE: ids may contain `%` or `_`.
    let sql = "SELECT id, body FROM module_records WHERE tenant = $1 AND plugin = $2 \
               AND instance = $3 AND record_type = $4 AND id >= $5 ORDER BY id LIMIT $6";
    let rows: Vec<(String, String)> = on_pool!(db, p => sqlx::query_as(sql)
        .bind(owner.tenant).bind(owner.plugin).bind(owner.instance)
        .bind(record_type).bind(prefix).bind(i64::from(limit))
        .fetch_all(p).await)?;
    Ok(rows
        .into_iter()
        .take_while(|(id, _)| id.starts_with(prefix))
        .collect())
}

/// Copy the tenant's records from before the scope columns to `owner`;
/// returns how many were copied.
pub async fn adopt_unscoped(db: &Db, owner: Owner<'_>, record_types: &[String]) -> Result<u64> {
    // Rows from before the scope columns carry plugin = instance = ''
    // (migration 20261203000420). Every instance whose module declares
    // their type gets its own copy, so each keeps seeing what it saw
    // before the upgrade and from then on only its own writes; a copy
    // never overwrites a record the instance already has.
    let sql = "INSERT INTO module_records (tenant, plugin, instance, record_type, id, body, updated_at) \
               SELECT tenant, $2, $3, record_type, id, body, updated_at FROM module_records \
               WHERE tenant = $1 AND plugin = '' AND instance = '' AND record_type = $4 \
               ON CONFLICT (tenant, plugin, instance, record_type, id) DO NOTHING";
    let mut copied = 0;
    for record_type in record_types {
        copied += on_pool!(db, p => sqlx::query(sql)
            .bind(owner.tenant).bind(owner.plugin).bind(owner.instance).bind(record_type)
            .execute(p).await.map(|r| r.rows_affected()))?;
    }
    Ok(copied)
}

/// Append an event module instance `source` emitted to the event log, as
/// `module.<source>.<name>`. Its subject is `module:<source>:<id>` when the
/// payload is an object with an `id` (the module's record it tells of), so
/// one record's failing event holds back only that record's later events;
/// otherwise `module:<source>`.
pub async fn emit(db: &Db, tenant: &str, source: &str, name: &str, payload: &str) -> Result<()> {
    let id = serde_json::from_str::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| match v.get("id")? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
    let subject = match id {
        Some(id) => format!("module:{source}:{id}"),
        None => format!("module:{source}"),
    };
    let event = super::event::NewEvent {
        tenant: tenant.to_owned(),
        name: format!("module.{source}.{name}"),
        subject,
        actor: format!("module:{source}"),
        payload: payload.to_owned(),
    };
    super::event::append(db, &event).await
}
