-- Operators' on/off switches for installable modules, set through the
-- admin API; they win over `enabled` in the config file.
CREATE TABLE instance_overrides (
    tenant     TEXT NOT NULL,
    instance   TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (tenant, instance)
);
