-- Issue 14 §7: a record from a ledger that breaks a rule the CRM applies
-- to its own input, but corrupts nothing (an ID's check digit, a phone's
-- format), is stored as the ledger has it, with one row here per broken
-- rule. The record's API JSON shows them (`warnings`) and the list
-- endpoints filter on them (`has_warnings`, `warning=<rule>`). A record
-- written through the API is strict (S6) and has none; writing a record
-- replaces its rows.
CREATE TABLE crm_warnings (
    tenant      TEXT NOT NULL,
    entity_kind TEXT NOT NULL,
    entity_id   BIGINT NOT NULL,
    ordinal     BIGINT NOT NULL,
    field       TEXT NOT NULL,
    rule        TEXT NOT NULL,
    message     TEXT NOT NULL,
    PRIMARY KEY (tenant, entity_kind, entity_id, ordinal)
);
CREATE INDEX crm_warnings_rule ON crm_warnings (tenant, entity_kind, rule, entity_id);
