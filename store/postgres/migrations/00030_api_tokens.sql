-- Operator API tokens (issue #5). Only the SHA-256 of each token is kept.
-- Conventions: see 00001_init.sql. Tokens are not about a station, so
-- nothing cascades here.

-- +goose Up
CREATE TABLE api_tokens (
    id         text COLLATE "C" NOT NULL PRIMARY KEY,
    name       text        NOT NULL,
    hash       bytea       NOT NULL UNIQUE,
    read_only  boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- One active token per name; revoked names may be reused.
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- +goose Down
DROP TABLE api_tokens;
