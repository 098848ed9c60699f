-- A tenant's own provider keys (BYOK), sealed with the master key: only the sealed
-- value and the last four characters are stored, never the key.
CREATE TABLE provider_keys (
    tenant_id     UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    provider_type TEXT NOT NULL,
    sealed_key    TEXT NOT NULL,
    key_last4     TEXT NOT NULL,
    base_url      TEXT,
    key_set_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, provider_type)
);
