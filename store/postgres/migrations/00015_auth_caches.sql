-- What the CSMS knows of each station's authorization cache: the last
-- ClearCache answer and whether the cache is enabled (issue #3).
-- Conventions: see 00001_init.sql.

-- +goose Up
CREATE TABLE auth_caches (
    charge_point_id   text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES charge_points (id) ON DELETE CASCADE,
    last_clear_status text        NOT NULL DEFAULT '',
    last_clear_at     timestamptz,
    cleared_at        timestamptz, -- last Accepted ClearCache
    enabled           boolean,     -- NULL: never reported
    enabled_at        timestamptz
);

-- +goose Down
DROP TABLE auth_caches;
