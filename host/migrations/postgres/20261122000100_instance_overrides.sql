-- Operators' on/off switches for installable modules, set through the
-- admin API; they win over `enabled` in the config file.
CREATE TABLE instance_overrides (
    tenant     TEXT NOT NULL,
    instance   TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, instance)
);
