-- Usage records (one per data-plane request, refused ones included) and conversation
-- memory (threads of one end user of one project, and their messages).
CREATE TABLE usage_records (
    id                BLOB PRIMARY KEY,
    at                TEXT NOT NULL,
    hour              TEXT NOT NULL,
    day               TEXT NOT NULL,
    month             TEXT NOT NULL,
    project_id        BLOB NOT NULL,
    tenant_id         BLOB NOT NULL,
    uid               TEXT,
    session_id        TEXT,
    thread_id         TEXT,
    tier              TEXT,
    operation         TEXT NOT NULL,
    origin            TEXT NOT NULL,
    model             TEXT,
    provider          TEXT,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    total_tokens      BIGINT NOT NULL,
    tokens_counted    BOOLEAN NOT NULL,
    cost_usd          REAL NOT NULL,
    latency_ms        REAL NOT NULL,
    ttft_ms           REAL,
    status            INTEGER NOT NULL,
    error_code        TEXT,
    ending            TEXT NOT NULL,
    guard             TEXT NOT NULL
);
CREATE INDEX usage_records_project_at ON usage_records (project_id, at);
CREATE INDEX usage_records_project_uid_at ON usage_records (project_id, uid, at);

CREATE TABLE threads (
    project_id    BLOB NOT NULL,
    uid           TEXT NOT NULL,
    id            TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    message_count BIGINT NOT NULL,
    next_seq      BIGINT NOT NULL,
    PRIMARY KEY (project_id, uid, id)
);
CREATE INDEX threads_updated ON threads (project_id, uid, updated_at);

CREATE TABLE thread_messages (
    id           BLOB PRIMARY KEY,
    project_id   BLOB NOT NULL,
    uid          TEXT NOT NULL,
    thread_id    TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    role         TEXT NOT NULL,
    content      TEXT NOT NULL,
    tool_calls   TEXT,
    tool_call_id TEXT,
    created_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX thread_messages_seq ON thread_messages (project_id, uid, thread_id, seq);
CREATE INDEX thread_messages_created ON thread_messages (project_id, created_at);
