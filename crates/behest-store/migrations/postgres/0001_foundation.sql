-- Accounts, tenants, projects, keys and jobs: the foundation schema (PostgreSQL).

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE tenants (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    plan       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE tenant_members (
    tenant_id  UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX tenant_members_user ON tenant_members (user_id);

CREATE TABLE projects (
    id             UUID PRIMARY KEY,
    tenant_id      UUID NOT NULL REFERENCES tenants (id),
    name           TEXT NOT NULL,
    slug           TEXT NOT NULL UNIQUE,
    status         TEXT NOT NULL,
    dns_status     TEXT NOT NULL,
    dns_last_error TEXT,
    dns_updated_at TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX projects_tenant ON projects (tenant_id);

CREATE TABLE project_settings (
    id                   UUID PRIMARY KEY,
    project_id           UUID NOT NULL UNIQUE REFERENCES projects (id) ON DELETE CASCADE,
    draft                JSONB NOT NULL,
    deployed             JSONB,
    draft_provider_model TEXT,
    draft_saved_at       TIMESTAMPTZ,
    deployed_at          TIMESTAMPTZ,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

CREATE TABLE project_tiers (
    id         UUID PRIMARY KEY,
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    sort_order BIGINT NOT NULL DEFAULT 0,
    overrides  JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE api_keys (
    id         UUID PRIMARY KEY,
    project_id UUID NOT NULL REFERENCES projects (id),
    name       TEXT,
    role       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX api_keys_project ON api_keys (project_id);

CREATE TABLE platform_signing_keys (
    kid             TEXT PRIMARY KEY,
    private_key_pem TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    retired_at      TIMESTAMPTZ
);

CREATE TABLE tenant_signing_keys (
    kid            TEXT PRIMARY KEY,
    tenant_id      UUID NOT NULL REFERENCES tenants (id),
    name           TEXT,
    public_key_pem TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    revoked_at     TIMESTAMPTZ
);
CREATE INDEX tenant_signing_keys_tenant ON tenant_signing_keys (tenant_id);

CREATE TABLE jobs (
    id           UUID PRIMARY KEY,
    kind         TEXT NOT NULL,
    project_id   UUID NOT NULL,
    status       TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    run_at       TIMESTAMPTZ NOT NULL,
    locked_until TIMESTAMPTZ,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);
