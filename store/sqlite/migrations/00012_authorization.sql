-- The authorization list (ID tokens) and each station's local list
-- version (issue #3). Conventions: see 00001_charge_points.sql.

-- +goose Up
CREATE TABLE id_tokens (
    token_key  TEXT    NOT NULL, -- lower-cased token: look-ups ignore case
    type       TEXT    NOT NULL,
    token      TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    expires_at INTEGER,
    group_id   TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (token_key, type)
) STRICT;

CREATE TABLE local_lists (
    charge_point_id TEXT    NOT NULL PRIMARY KEY REFERENCES charge_points (id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE local_lists;
DROP TABLE id_tokens;
