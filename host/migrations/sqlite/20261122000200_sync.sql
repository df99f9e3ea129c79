-- The sync engine (issue #4): links between CRM records and ledger records,
-- pull cursors, and delivery state on the outbox.

-- Delivery of CRM changes to a ledger (CRM → ledger). `target` is the
-- connector instance the change was routed to by its company code (S17),
-- set once; `status` moves pending → delivered | skipped | failed.
ALTER TABLE crm_outbox ADD COLUMN target TEXT;
ALTER TABLE crm_outbox ADD COLUMN next_attempt_at TEXT;
ALTER TABLE crm_outbox ADD COLUMN last_error TEXT;
ALTER TABLE crm_outbox ADD COLUMN updated_at TEXT;
-- The idempotency key the change is pushed with (set when routed), so a
-- record the ledger created from it is recognised when pulled back.
ALTER TABLE crm_outbox ADD COLUMN idem_key TEXT;
CREATE INDEX crm_outbox_delivery ON crm_outbox (tenant, status, target, id);
CREATE INDEX crm_outbox_idem_key ON crm_outbox (tenant, idem_key);

-- One row per ledger record a connector instance has told us about or we
-- have written to it. `local_id` is NULL while the record could not be
-- applied (`status` failed, `error` says why).
CREATE TABLE sync_links (
    tenant         TEXT NOT NULL,
    instance       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    remote_id      TEXT NOT NULL,
    local_kind     TEXT NOT NULL,
    local_id       BIGINT,
    remote_version TEXT,
    remote_number  TEXT,
    content_hash   TEXT,
    origin         TEXT NOT NULL CHECK (origin IN ('ledger', 'crm')),
    status         TEXT NOT NULL CHECK (status IN ('synced', 'failed', 'deleted')),
    error          TEXT,
    seen_scan      BIGINT NOT NULL DEFAULT 0,
    last_synced    TEXT NOT NULL,
    PRIMARY KEY (tenant, instance, kind, remote_id)
);
CREATE UNIQUE INDEX sync_links_local ON sync_links (tenant, instance, local_kind, local_id);

-- Where each (instance, kind) pull stands. The cursor is the connector's
-- opaque text, written in the same transaction as the page it follows.
-- `scan` numbers full scans; `scanning` is set while one is under way.
CREATE TABLE sync_cursors (
    tenant     TEXT NOT NULL,
    instance   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    cursor     TEXT,
    scan       BIGINT NOT NULL DEFAULT 0,
    scanning   BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, instance, kind)
);

-- A random id of this installation: idempotency keys sent to ledgers
-- include it, so two Hamgam databases never share a key.
CREATE TABLE sync_installation (id TEXT NOT NULL);
INSERT INTO sync_installation (id) VALUES (lower(hex(randomblob(16))));
