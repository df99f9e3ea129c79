-- Module records per plugin instance (issue 13, section 9; P7). They were
-- keyed by tenant and record type only, so one module could read and
-- overwrite another's records and two instances of one module mixed their
-- data. The key now includes the plugin and the instance.
--
-- Existing rows keep plugin = '' and instance = '' ("unscoped"): no
-- instance reads them as they are. When an instance passes its health
-- check, the host copies the unscoped rows of the record types its module
-- declares into that instance's scope (`CrmStore::adopt_unscoped`), so
-- every instance keeps what it saw before the upgrade.
--
-- SQLite cannot change a primary key in place: rebuild the table.
CREATE TABLE module_records_scoped (
    tenant      TEXT NOT NULL,
    plugin      TEXT NOT NULL,
    instance    TEXT NOT NULL,
    record_type TEXT NOT NULL,
    id          TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (tenant, plugin, instance, record_type, id)
);

INSERT INTO module_records_scoped (tenant, plugin, instance, record_type, id, body, updated_at)
SELECT tenant, '', '', record_type, id, body, updated_at FROM module_records;

DROP TABLE module_records;
ALTER TABLE module_records_scoped RENAME TO module_records;
