-- CRM data core (issue #3): parties, products, documents with lines,
-- receipts/payments, number counters, audit and outbox.
-- Money and quantities: decimal TEXT (SQLite has no exact decimal type;
-- a NUMERIC column would turn values into floats). Dates are Jalali
-- 'YYYY/MM/DD' text, which sorts chronologically. Timestamps are RFC 3339
-- UTC text written by the host's clock, so both backends read them alike.
-- Every row carries its tenant; every lookup filters on it.

CREATE TABLE crm_parties (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant              TEXT NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('person', 'organisation')),
    first_name          TEXT,
    last_name           TEXT,
    name                TEXT,
    customer_number     TEXT NOT NULL,
    company_code        INTEGER NOT NULL,
    national_id         TEXT,
    registration_number TEXT,
    economic_code       TEXT,
    birth_date          TEXT,
    email               TEXT,
    phones              TEXT NOT NULL,
    addresses           TEXT NOT NULL,
    origin              TEXT NOT NULL,
    version             BIGINT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    UNIQUE (tenant, customer_number)
);
CREATE INDEX crm_parties_tenant ON crm_parties (tenant, id);

CREATE TABLE crm_products (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant       TEXT NOT NULL,
    code         TEXT NOT NULL,
    name         TEXT NOT NULL,
    unit         TEXT NOT NULL,
    sales_price  TEXT NOT NULL,
    currency     TEXT NOT NULL,
    tax_percent  TEXT,
    toll_percent TEXT,
    tax_exempt   BOOLEAN NOT NULL,
    origin       TEXT NOT NULL,
    version      BIGINT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (tenant, code)
);
CREATE INDEX crm_products_tenant ON crm_products (tenant, id);

-- Quotes, sales orders, sales/purchase invoices and returns, correction notes.
CREATE TABLE crm_documents (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant         TEXT NOT NULL,
    kind           TEXT NOT NULL,
    party_id       BIGINT NOT NULL,
    doc_date       TEXT NOT NULL,
    currency       TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    number         TEXT,
    related_id     BIGINT,
    description    TEXT,
    discount       TEXT NOT NULL,
    additions      TEXT NOT NULL,
    gross          TEXT NOT NULL,
    discount_total TEXT NOT NULL,
    additions_total TEXT NOT NULL,
    net            TEXT NOT NULL,
    tax_total      TEXT NOT NULL,
    toll_total     TEXT NOT NULL,
    grand_total    TEXT NOT NULL,
    paid_amount    TEXT NOT NULL,
    paid           BOOLEAN NOT NULL,
    sync_status    TEXT NOT NULL,
    origin         TEXT NOT NULL,
    version        BIGINT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (tenant, kind, number)
);
CREATE INDEX crm_documents_list ON crm_documents (tenant, kind, id);
CREATE INDEX crm_documents_party ON crm_documents (tenant, party_id, id);

CREATE TABLE crm_document_lines (
    tenant       TEXT NOT NULL,
    document_id  BIGINT NOT NULL,
    line_no      INTEGER NOT NULL,
    product_id   BIGINT,
    description  TEXT,
    quantity     TEXT NOT NULL,
    unit_price   TEXT NOT NULL,
    discount     TEXT NOT NULL,
    additions    TEXT NOT NULL,
    tax_exempt   BOOLEAN NOT NULL,
    tax_percent  TEXT NOT NULL,
    toll_percent TEXT NOT NULL,
    gross        TEXT NOT NULL,
    net          TEXT NOT NULL,
    tax          TEXT NOT NULL,
    toll         TEXT NOT NULL,
    total        TEXT NOT NULL,
    PRIMARY KEY (tenant, document_id, line_no)
);

-- Receipts (money in) and payments (money out).
CREATE TABLE crm_payments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('receipt', 'payment')),
    party_id    BIGINT NOT NULL,
    doc_date    TEXT NOT NULL,
    currency    TEXT NOT NULL,
    amount      TEXT NOT NULL,
    method      TEXT NOT NULL CHECK (method IN ('cash', 'cheque', 'card', 'bank_draft')),
    invoice_id  BIGINT,
    cheque_number TEXT,
    cheque_due  TEXT,
    reference   TEXT,
    description TEXT,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    number      TEXT,
    sync_status TEXT NOT NULL,
    origin      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (tenant, kind, number)
);
CREATE INDEX crm_payments_list ON crm_payments (tenant, kind, id);
CREATE INDEX crm_payments_party ON crm_payments (tenant, party_id, id);

-- Number allocation: one row per (tenant, sequence, period). The row is
-- locked by the UPDATE that bumps it, inside the document's transaction,
-- so a number is handed out once and a rolled-back write gives it back.
CREATE TABLE crm_counters (
    tenant   TEXT NOT NULL,
    sequence TEXT NOT NULL,
    period   TEXT NOT NULL,
    value    BIGINT NOT NULL,
    PRIMARY KEY (tenant, sequence, period)
);

-- C6: who changed what, before and after.
CREATE TABLE crm_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    entity_kind TEXT NOT NULL,
    entity_id   BIGINT NOT NULL,
    operation   TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX crm_audit_entity ON crm_audit (tenant, entity_kind, entity_id);

-- The sync engine's input: one row per change, written with the change.
CREATE TABLE crm_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    entity_kind TEXT NOT NULL,
    entity_id   BIGINT NOT NULL,
    operation   TEXT NOT NULL,
    payload     TEXT NOT NULL,
    origin      TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);
CREATE INDEX crm_outbox_pending ON crm_outbox (status, tenant, id);
