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

/// What the host knows of a record it writes beyond its body.
#[derive(Debug, Clone, Default)]
pub struct RecordWrite<'a> {
    /// The schema version it was checked against (0: an untyped record).
    pub schema_version: u32,
    /// Its indexed fields, (field, value).
    pub index: &'a [(String, String)],
    /// Who writes it (`module:<instance>`), for the audit trail.
    pub actor: &'a str,
}

/// Insert or replace one module record, in one transaction with its
/// index rows, its audit row (before and after) and its event
/// (`module.<instance>.<type>.created|updated`).
pub async fn record_put(
    db: &Db,
    owner: Owner<'_>,
    record_type: &str,
    id: &str,
    body: &str,
    write: &RecordWrite<'_>,
) -> Result<()> {
    let read = "SELECT body FROM module_records WHERE tenant = $1 AND plugin = $2 \
                AND instance = $3 AND record_type = $4 AND id = $5";
    let upsert = "INSERT INTO module_records (tenant, plugin, instance, record_type, id, body, schema_version) \
               VALUES ($1, $2, $3, $4, $5, $6, $7) \
               ON CONFLICT (tenant, plugin, instance, record_type, id) \
               DO UPDATE SET body = excluded.body, schema_version = excluded.schema_version";
    let unindex = "DELETE FROM module_record_index WHERE tenant = $1 AND plugin = $2 \
                   AND instance = $3 AND record_type = $4 AND id = $5";
    let index = "INSERT INTO module_record_index (tenant, plugin, instance, record_type, field, value, id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let audit = "INSERT INTO module_record_audit (tenant, plugin, instance, record_type, record_id, actor, before_json, after_json, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    let version = i64::from(write.schema_version);
    let mut tx = db.begin().await?;
    let before: Option<String> = on_tx!(&mut tx, c => sqlx::query_scalar(read)
        .bind(owner.tenant).bind(owner.plugin).bind(owner.instance).bind(record_type).bind(id)
        .fetch_optional(&mut *c).await)?;
    on_tx!(&mut tx, c => sqlx::query(upsert)
        .bind(owner.tenant).bind(owner.plugin).bind(owner.instance)
        .bind(record_type).bind(id).bind(body).bind(version)
        .execute(&mut *c).await.map(|_| ()))?;
    on_tx!(&mut tx, c => sqlx::query(unindex)
        .bind(owner.tenant).bind(owner.plugin).bind(owner.instance).bind(record_type).bind(id)
        .execute(&mut *c).await.map(|_| ()))?;
    for (field, value) in write.index {
        on_tx!(&mut tx, c => sqlx::query(index)
            .bind(owner.tenant).bind(owner.plugin).bind(owner.instance).bind(record_type)
            .bind(field).bind(value).bind(id)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    on_tx!(&mut tx, c => sqlx::query(audit)
        .bind(owner.tenant).bind(owner.plugin).bind(owner.instance).bind(record_type).bind(id)
        .bind(write.actor).bind(&before).bind(body).bind(super::sql::now())
        .execute(&mut *c).await.map(|_| ()))?;
    let verb = if before.is_some() {
        "updated"
    } else {
        "created"
    };
    let event = super::event::NewEvent {
        tenant: owner.tenant.to_owned(),
        name: format!("module.{}.{record_type}.{verb}", owner.instance),
        subject: format!("module:{}:{record_type}:{id}", owner.instance),
        actor: write.actor.to_owned(),
        payload: format!(
            r#"{{"type":{},"id":{},"before":{},"after":{body}}}"#,
            serde_json::Value::from(record_type),
            serde_json::Value::from(id),
            before.as_deref().unwrap_or("null"),
        ),
    };
    super::event::append_in_op(&mut tx, &[event]).await?;
    tx.commit().await?;
    Ok(())
}

/// A module record's audit trail, oldest first: (actor, before, after, at).
pub async fn record_audit(
    db: &Db,
    owner: Owner<'_>,
    record_type: &str,
    id: &str,
) -> Result<Vec<(String, Option<String>, String, String)>> {
    let sql = "SELECT actor, before_json, after_json, at FROM module_record_audit \
               WHERE tenant = $1 AND plugin = $2 AND instance = $3 AND record_type = $4 AND record_id = $5 \
               ORDER BY id";
    on_pool!(db, p => sqlx::query_as(sql)
        .bind(owner.tenant).bind(owner.plugin).bind(owner.instance).bind(record_type).bind(id)
        .fetch_all(p).await)
}

/// Records of one type whose indexed fields equal every `filters` value,
/// after id `after`, by id, as (id, body, schema version).
pub async fn records_query(
    db: &Db,
    owner: Owner<'_>,
    record_type: &str,
    filters: &[(String, String)],
    after: &str,
    limit: u32,
) -> Result<Vec<(String, String, i64)>> {
    let mut sql = String::from(
        "SELECT r.id, r.body, CAST(r.schema_version AS BIGINT) FROM module_records r \
         WHERE r.tenant = $1 AND r.plugin = $2 AND r.instance = $3 AND r.record_type = $4 AND r.id > $5",
    );
    for n in 0..filters.len() {
        let (f, v) = (6 + 2 * n, 7 + 2 * n);
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM module_record_index i WHERE i.tenant = r.tenant \
             AND i.plugin = r.plugin AND i.instance = r.instance AND i.record_type = r.record_type \
             AND i.id = r.id AND i.field = ${f} AND i.value = ${v})"
        ));
    }
    sql.push_str(&format!(" ORDER BY r.id LIMIT ${}", 6 + 2 * filters.len()));
    on_pool!(db, p => {
        let mut q = sqlx::query_as(&sql)
            .bind(owner.tenant).bind(owner.plugin).bind(owner.instance).bind(record_type).bind(after);
        for (field, value) in filters {
            q = q.bind(field).bind(value);
        }
        q.bind(i64::from(limit)).fetch_all(p).await
    })
}

/// Records of one type written under a schema version older than
/// `version`, by id, as (id, body, schema version).
pub async fn records_below_version(
    db: &Db,
    owner: Owner<'_>,
    record_type: &str,
    version: u32,
    limit: u32,
) -> Result<Vec<(String, String, i64)>> {
    let sql = "SELECT id, body, CAST(schema_version AS BIGINT) FROM module_records WHERE tenant = $1 AND plugin = $2 \
               AND instance = $3 AND record_type = $4 AND schema_version < $5 ORDER BY id LIMIT $6";
    on_pool!(db, p => sqlx::query_as(sql)
        .bind(owner.tenant).bind(owner.plugin).bind(owner.instance).bind(record_type)
        .bind(i64::from(version)).bind(i64::from(limit))
        .fetch_all(p).await)
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
