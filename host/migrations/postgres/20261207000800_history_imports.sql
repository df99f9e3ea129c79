-- Issue 14 §8 (H10): one-shot imports of a past period's sales invoices
-- and returns. A job reads each kind of `kinds` in turn, page by page;
-- `step` (the index into `kinds`), `cursor` and the counts are written in
-- the same transaction as the page they follow, so an import killed at
-- any point resumes where it stood and applies at most one page again
-- (as a no-op: the links carry a content hash).
CREATE TABLE sync_history_imports (
    id               BIGSERIAL PRIMARY KEY,
    tenant           TEXT NOT NULL,
    instance         TEXT NOT NULL,
    -- The period, Gregorian YYYY-MM-DD, both days included.
    period_from      TEXT NOT NULL,
    period_to        TEXT NOT NULL,
    -- JSON array of entity kinds, in the order they are read.
    kinds            TEXT NOT NULL,
    -- JSON array: the ledger's count per kind (null where it cannot say).
    totals           TEXT NOT NULL,
    step             BIGINT NOT NULL DEFAULT 0,
    cursor           TEXT,
    state            TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed', 'cancelled')),
    -- Records read and stored (or found already there), and refused.
    done             BIGINT NOT NULL DEFAULT 0,
    refused          BIGINT NOT NULL DEFAULT 0,
    -- Where the current stretch of work began (the start or the last
    -- resume), for the rate and the ETA.
    resumed_at       TEXT NOT NULL,
    done_at_resume   BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    finished_at      TEXT
);
-- One import at a time per connector instance.
CREATE UNIQUE INDEX sync_history_imports_running ON sync_history_imports (tenant, instance)
    WHERE state = 'running';
