-- Firmware images and rollouts (issue #5). Conventions: see
-- 00001_charge_points.sql. The image bytes live in the files directory,
-- content-addressed by sha256.

-- +goose Up
CREATE TABLE firmware_images (
    sha256      TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    uploaded_at INTEGER NOT NULL
) STRICT;

CREATE TABLE firmware_rollouts (
    id              TEXT    NOT NULL PRIMARY KEY,
    firmware_sha256 TEXT    NOT NULL REFERENCES firmware_images (sha256) ON DELETE CASCADE,
    location        TEXT    NOT NULL,
    retrieve_at     INTEGER NOT NULL,
    retries         INTEGER,
    retry_interval  INTEGER,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX firmware_rollouts_created ON firmware_rollouts (created_at DESC, id DESC);

-- position keeps the order the rollout was started with.
CREATE TABLE firmware_rollout_stations (
    rollout_id      TEXT    NOT NULL REFERENCES firmware_rollouts (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    charge_point_id TEXT    NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    protocol        TEXT    NOT NULL DEFAULT '',
    command_id      TEXT    NOT NULL DEFAULT '',
    request_id      INTEGER,
    error           TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (rollout_id, position),
    UNIQUE (rollout_id, charge_point_id)
) STRICT;

CREATE INDEX firmware_rollout_stations_cp ON firmware_rollout_stations (charge_point_id);

-- +goose Down
DROP TABLE firmware_rollout_stations;
DROP TABLE firmware_rollouts;
DROP TABLE firmware_images;
