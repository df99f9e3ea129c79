-- Inbound webhook deliveries (issue #6): every delivery a connector
-- accepted is stored here, raw, before the sender gets its 200, and
-- processed from here by the queue worker. A crash between the two loses
-- nothing: pending rows are picked up again on start.
CREATE TABLE webhook_deliveries (
    id          BIGSERIAL PRIMARY KEY,
    tenant      TEXT NOT NULL,
    instance    TEXT NOT NULL,
    received_at TEXT NOT NULL,
    -- JSON array of [name, value] pairs, as received.
    headers     TEXT NOT NULL,
    body        BYTEA NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    -- What the delivery came to (changes applied…) or why it failed.
    outcome     TEXT,
    processed_at TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at, id);
CREATE INDEX webhook_deliveries_instance ON webhook_deliveries (tenant, instance, id);
