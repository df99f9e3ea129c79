-- S16: a receipt or payment keeps every settlement (the cash, each cheque,
-- each card payment, each bank draft) with its method, amount and
-- reference, as a JSON list: settlements are always read and written with
-- their payment as a whole and nothing queries one on its own.
--
-- Rows written before keep NULL: they had exactly one settlement, which
-- `method`, `amount`, `cheque_number`, `cheque_due` and `reference` still
-- describe, and the store reads them as that one.
ALTER TABLE crm_payments ADD COLUMN settlements TEXT;

-- S10/S11: a document shows its ledger number (`ledger_number`, read from
-- its link by CRM kind and id, whatever the instance); this index serves
-- that lookup for every row of a list page.
CREATE INDEX sync_links_by_local ON sync_links (tenant, local_kind, local_id);
