-- Issue 15 §3: typed module records. A module's manifest declares its
-- record types with a JSON Schema, a version and the fields to index; the
-- host checks every write, keeps the schema version each record was
-- written under (0: before types were declared), the indexed fields for
-- queries, and an audit row per change (before and after), written in the
-- transaction of the change with its event.
ALTER TABLE module_records ADD COLUMN schema_version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE module_record_index (
    tenant      TEXT NOT NULL,
    plugin      TEXT NOT NULL,
    instance    TEXT NOT NULL,
    record_type TEXT NOT NULL,
    field       TEXT NOT NULL,
    value       TEXT NOT NULL,
    id          TEXT NOT NULL,
    PRIMARY KEY (tenant, plugin, instance, record_type, field, value, id)
);
CREATE INDEX module_record_index_record ON module_record_index (tenant, plugin, instance, record_type, id);

CREATE TABLE module_record_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    plugin      TEXT NOT NULL,
    instance    TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX module_record_audit_record ON module_record_audit (tenant, plugin, instance, record_type, record_id, id);
