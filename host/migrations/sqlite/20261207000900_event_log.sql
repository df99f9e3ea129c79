-- Issue 15 §2 (S20, C6): the event log. Every committed CRM change, every
-- sync outcome of a record and every event a module emits is a row here,
-- written in the transaction that makes the change, so an event that did
-- not happen is never delivered and one that did is never lost.
--
-- `id` is the event's identity (the idempotency key a module receives).
-- `seq` is the delivery order: NULL when written, assigned by one
-- sequencer at a time to rows that have committed, in id order. Ids are
-- taken when a transaction writes, not when it commits, so a cursor over
-- ids could step past a row that commits later; a cursor over `seq`
-- cannot, because a row gets its seq only once it is visible. Two changes
-- of one record are serialised by the record's row lock, so they keep
-- their order either way.
CREATE TABLE events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    seq      BIGINT,
    tenant   TEXT NOT NULL,
    -- `party.created`, `sales_invoice.approved`, `receipt.sync_failed`,
    -- `module.<instance>.<name>`.
    name     TEXT NOT NULL,
    -- What the event is about (`party:12`): a failing event holds back the
    -- later events of its subject for that subscriber, and only those.
    subject  TEXT NOT NULL,
    actor    TEXT NOT NULL,
    -- JSON.
    payload  TEXT NOT NULL,
    at       TEXT NOT NULL
);
CREATE UNIQUE INDEX events_seq ON events (seq);
CREATE INDEX events_unsequenced ON events (id) WHERE seq IS NULL;
CREATE INDEX events_tenant_seq ON events (tenant, seq);

-- Where each subscriber (a module instance) stands: the last seq it was
-- handed. A subscriber starts at the head of the log when it first runs.
CREATE TABLE event_cursors (
    tenant     TEXT NOT NULL,
    subscriber TEXT NOT NULL,
    position   BIGINT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, subscriber)
);

-- Events a subscriber has not taken yet although its cursor is past them:
-- `retrying` (failed, next attempt at next_attempt_at), `parked` (failed
-- too often; waits for someone to retry it through the API) and `held`
-- (behind an earlier failing event of the same subject).
CREATE TABLE event_failures (
    tenant          TEXT NOT NULL,
    subscriber      TEXT NOT NULL,
    event_id        BIGINT NOT NULL,
    seq             BIGINT NOT NULL,
    subject         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('retrying', 'parked', 'held')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (tenant, subscriber, event_id)
);
CREATE INDEX event_failures_subject ON event_failures (tenant, subscriber, subject, seq);
CREATE INDEX event_failures_due ON event_failures (tenant, subscriber, status, next_attempt_at);

-- What modules emitted before the log existed joins it (nobody read it).
INSERT INTO events (tenant, name, subject, actor, payload, at)
SELECT tenant, 'module.' || source || '.' || name, 'module:' || source, 'module:' || source,
       payload, CAST(created_at AS TEXT)
FROM module_events ORDER BY id;
DROP TABLE module_events;
