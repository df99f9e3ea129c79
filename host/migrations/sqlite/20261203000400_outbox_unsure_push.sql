-- Issue 13 §8: the newest change an attempt whose answer was lost (a
-- timeout, a 5xx after the ledger processed it) may have delivered. The
-- ledger may have kept that attempt's content, so when a retry with the
-- same idempotency key succeeds, only the changes up to here count as
-- delivered; later edits are then sent as their own push.
ALTER TABLE crm_outbox ADD COLUMN unsure_upto BIGINT;
