-- A stand-in for the part of AlgaPSA's PostgreSQL database that
-- alga-mobile-auth reads and writes in appliance mode (SPEC §8.2): exactly
-- the tables and columns listed there, plus the NOT NULL columns of users
-- that an INSERT needs (username, hashed_password) and the unique index on
-- api_keys.api_key. Types, defaults and keys follow AlgaPSA's migrations.
--
-- Only tests run this (algapsatest), as a role other than the one the
-- adapter connects as; the service itself never creates anything in
-- AlgaPSA's database.

CREATE TABLE tenants (
    tenant       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    plan         text,
    suspended_at timestamptz
);

CREATE TABLE users (
    tenant          uuid NOT NULL REFERENCES tenants (tenant),
    user_id         uuid NOT NULL DEFAULT gen_random_uuid(),
    username        text NOT NULL,
    hashed_password text NOT NULL,
    email           text,
    first_name      text,
    last_name       text,
    user_type       text NOT NULL DEFAULT 'internal' CHECK (user_type IN ('internal', 'client')),
    is_inactive     boolean DEFAULT false,
    PRIMARY KEY (tenant, user_id)
);

CREATE TABLE sessions (
    tenant     uuid NOT NULL REFERENCES tenants (tenant),
    session_id uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz,
    PRIMARY KEY (tenant, session_id),
    FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, user_id)
);

CREATE TABLE api_keys (
    api_key_id   uuid NOT NULL DEFAULT gen_random_uuid(),
    api_key      varchar(255) NOT NULL,
    tenant       uuid NOT NULL,
    user_id      uuid NOT NULL,
    description  varchar(255),
    purpose      varchar(255) NOT NULL DEFAULT 'general',
    metadata     jsonb,
    usage_limit  integer,
    usage_count  integer NOT NULL DEFAULT 0,
    active       boolean NOT NULL DEFAULT true,
    expires_at   timestamptz,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key_id, tenant)
);
CREATE UNIQUE INDEX api_keys_api_key_unique ON api_keys (api_key);
CREATE INDEX api_keys_user_id_index ON api_keys (user_id);
CREATE INDEX api_keys_tenant_index ON api_keys (tenant);
CREATE INDEX api_keys_purpose_expires_at_idx ON api_keys (purpose, expires_at);

CREATE TABLE mobile_refresh_tokens (
    mobile_refresh_token_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant                  uuid NOT NULL,
    user_id                 uuid NOT NULL,
    api_key_id              uuid,
    token_hash              text NOT NULL UNIQUE,
    expires_at              timestamptz NOT NULL,
    revoked_at              timestamptz,
    replaced_by_id          uuid REFERENCES mobile_refresh_tokens (mobile_refresh_token_id),
    last_used_at            timestamptz
);
CREATE INDEX mobile_refresh_tokens_tenant_user_id_index ON mobile_refresh_tokens (tenant, user_id);
