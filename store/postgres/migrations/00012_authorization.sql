-- The authorization list (ID tokens) and each station's local list
-- version (issue #3). Conventions: see 00001_init.sql.

-- +goose Up
CREATE TABLE id_tokens (
    token_key  text COLLATE "C" NOT NULL, -- lower-cased token: look-ups ignore case
    type       text COLLATE "C" NOT NULL,
    token      text    NOT NULL,
    status     text    NOT NULL,
    expires_at timestamptz,
    group_id   text    NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (token_key, type)
);

CREATE TABLE local_lists (
    charge_point_id text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES charge_points (id) ON DELETE CASCADE,
    version         integer NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- +goose Down
DROP TABLE local_lists;
DROP TABLE id_tokens;
