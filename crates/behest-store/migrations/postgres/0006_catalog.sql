-- The admin's provider catalog: the built-in providers and any the operator adds, and
-- the models a sync discovered at each provider's models endpoint (routing still comes
-- from the model registry; discovered ids are reachable as `<slug>:<model id>`).
CREATE TABLE catalog_providers (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL UNIQUE,
    slug                      TEXT NOT NULL UNIQUE,
    display_name              TEXT NOT NULL,
    is_active                 BOOLEAN NOT NULL,
    models_endpoint_url       TEXT,
    models_endpoint_auth_type TEXT,
    auth_config_schema        JSONB,
    supported_features        JSONB,
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL
);

CREATE TABLE catalog_models (
    provider_id       TEXT NOT NULL REFERENCES catalog_providers (id) ON DELETE CASCADE,
    model_id          TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    context_window    BIGINT,
    max_output_tokens BIGINT,
    synced_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider_id, model_id)
);
