-- Accounts, tenants, projects, keys and jobs: the foundation schema (SQLite).
-- Ids are UUIDs stored as 16-byte blobs, timestamps as RFC 3339 UTC text (sqlx's
-- encoding), JSON as text.

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE tenants (
    id         BLOB PRIMARY KEY,
    name       TEXT NOT NULL,
    plan       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE tenant_members (
    tenant_id  BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX tenant_members_user ON tenant_members (user_id);

CREATE TABLE projects (
    id             BLOB PRIMARY KEY,
    tenant_id      BLOB NOT NULL REFERENCES tenants (id),
    name           TEXT NOT NULL,
    slug           TEXT NOT NULL UNIQUE,
    status         TEXT NOT NULL,
    dns_status     TEXT NOT NULL,
    dns_last_error TEXT,
    dns_updated_at TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX projects_tenant ON projects (tenant_id);

CREATE TABLE project_settings (
    id                   BLOB PRIMARY KEY,
    project_id           BLOB NOT NULL UNIQUE REFERENCES projects (id) ON DELETE CASCADE,
    draft                TEXT NOT NULL,
    deployed             TEXT,
    draft_provider_model TEXT,
    draft_saved_at       TEXT,
    deployed_at          TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

CREATE TABLE project_tiers (
    id         BLOB PRIMARY KEY,
    project_id BLOB NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0,
    overrides  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE api_keys (
    id         BLOB PRIMARY KEY,
    project_id BLOB NOT NULL REFERENCES projects (id),
    name       TEXT,
    role       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX api_keys_project ON api_keys (project_id);

CREATE TABLE platform_signing_keys (
    kid             TEXT PRIMARY KEY,
    private_key_pem TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    retired_at      TEXT
);

CREATE TABLE tenant_signing_keys (
    kid            TEXT PRIMARY KEY,
    tenant_id      BLOB NOT NULL REFERENCES tenants (id),
    name           TEXT,
    public_key_pem TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    revoked_at     TEXT
);
CREATE INDEX tenant_signing_keys_tenant ON tenant_signing_keys (tenant_id);

CREATE TABLE jobs (
    id           BLOB PRIMARY KEY,
    kind         TEXT NOT NULL,
    project_id   BLOB NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    run_at       TEXT NOT NULL,
    locked_until TEXT,
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);
