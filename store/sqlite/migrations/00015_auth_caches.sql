-- What the CSMS knows of each station's authorization cache: the last
-- ClearCache answer and whether the cache is enabled (issue #3).
-- Conventions: see 00001_charge_points.sql.

-- +goose Up
CREATE TABLE auth_caches (
    charge_point_id   TEXT    NOT NULL PRIMARY KEY REFERENCES charge_points (id) ON DELETE CASCADE,
    last_clear_status TEXT    NOT NULL DEFAULT '',
    last_clear_at     INTEGER,
    cleared_at        INTEGER, -- last Accepted ClearCache
    enabled           INTEGER CHECK (enabled IN (0, 1)), -- NULL: never reported
    enabled_at        INTEGER
) STRICT;

-- +goose Down
DROP TABLE auth_caches;
