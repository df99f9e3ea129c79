-- Module records per plugin instance (issue 13, section 9; P7). They were
-- keyed by tenant and record type only, so one module could read and
-- overwrite another's records and two instances of one module mixed their
-- data. The key now includes the plugin and the instance.
--
-- Existing rows get plugin = '' and instance = '' ("unscoped"): no
-- instance reads them as they are. When an instance passes its health
-- check, the host copies the unscoped rows of the record types its module
-- declares into that instance's scope (`CrmStore::adopt_unscoped`), so
-- every instance keeps what it saw before the upgrade.
ALTER TABLE module_records
    ADD COLUMN plugin   TEXT NOT NULL DEFAULT '',
    ADD COLUMN instance TEXT NOT NULL DEFAULT '';
-- New rows must name their scope.
ALTER TABLE module_records
    ALTER COLUMN plugin DROP DEFAULT,
    ALTER COLUMN instance DROP DEFAULT;
ALTER TABLE module_records DROP CONSTRAINT module_records_pkey;
ALTER TABLE module_records ADD PRIMARY KEY (tenant, plugin, instance, record_type, id);
