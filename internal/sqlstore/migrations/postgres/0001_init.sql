-- Initial schema (PostgreSQL). Times are TIMESTAMPTZ (millisecond precision);
-- hashes are 32-byte BYTEAs: no clear token is ever stored.

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    plan       TEXT,                -- NULL: unset (the hosted gate reads it as pro)
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
    id         TEXT    NOT NULL,
    email      TEXT    NOT NULL,    -- lower-case
    first_name TEXT    NOT NULL DEFAULT '',
    last_name  TEXT    NOT NULL DEFAULT '',
    type       TEXT    NOT NULL,
    active     BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
);
CREATE INDEX users_email ON users (email);

CREATE TABLE web_sessions (
    id_hash    BYTEA PRIMARY KEY,
    tenant_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    provider   TEXT    NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

CREATE TABLE one_time_tokens (
    hash           BYTEA PRIMARY KEY,
    tenant_id      TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    session_hash   BYTEA   NOT NULL,
    state          TEXT    NOT NULL,
    code_challenge TEXT    NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    consumed_at    TIMESTAMPTZ
);
CREATE INDEX one_time_tokens_expires ON one_time_tokens (expires_at);

CREATE TABLE token_families (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    session_hash BYTEA   NOT NULL,
    device       TEXT    NOT NULL DEFAULT '{}',  -- JSON
    created_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX token_families_session ON token_families (session_hash);
CREATE INDEX token_families_revoked ON token_families (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    hash        BYTEA PRIMARY KEY,
    family_id   TEXT    NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    tenant_id   TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    rotated_at  TIMESTAMPTZ,
    replaced_by BYTEA,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT    NOT NULL,
    private_der BYTEA,
    public_der  BYTEA   NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    retired_at  TIMESTAMPTZ
);

CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      BYTEA   NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE audit_events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at    TIMESTAMPTZ NOT NULL,
    tenant_id      TEXT    NOT NULL DEFAULT '',
    user_id        TEXT    NOT NULL DEFAULT '',
    operation      TEXT    NOT NULL,
    record_id      TEXT    NOT NULL DEFAULT '',
    client_ip      TEXT    NOT NULL DEFAULT '',
    correlation_id TEXT    NOT NULL DEFAULT '',
    details        TEXT                          -- JSON object, NULL when empty
);
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id);
CREATE INDEX audit_events_user ON audit_events (user_id, id);

-- Fixed-window counters with a block; expires_at is when the row stops
-- mattering (end of window or of block), for pruning.
CREATE TABLE rate_limits (
    rate_key      TEXT PRIMARY KEY,
    window_start  TIMESTAMPTZ NOT NULL,
    count         BIGINT  NOT NULL,
    blocked_until TIMESTAMPTZ,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX rate_limits_expires ON rate_limits (expires_at);
