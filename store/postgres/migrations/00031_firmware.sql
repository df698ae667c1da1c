-- Firmware images and rollouts (issue #5). Conventions: see
-- 00001_init.sql. The image bytes live in the files directory,
-- content-addressed by sha256.

-- +goose Up
CREATE TABLE firmware_images (
    sha256      text COLLATE "C" NOT NULL PRIMARY KEY,
    name        text        NOT NULL,
    size        bigint      NOT NULL,
    uploaded_at timestamptz NOT NULL
);

CREATE TABLE firmware_rollouts (
    id              text COLLATE "C" NOT NULL PRIMARY KEY,
    firmware_sha256 text COLLATE "C" NOT NULL REFERENCES firmware_images (sha256) ON DELETE CASCADE,
    location        text        NOT NULL,
    retrieve_at     timestamptz NOT NULL,
    retries         integer,
    retry_interval  integer,
    created_at      timestamptz NOT NULL
);

CREATE INDEX firmware_rollouts_created ON firmware_rollouts (created_at DESC, id DESC);

-- position keeps the order the rollout was started with.
CREATE TABLE firmware_rollout_stations (
    rollout_id      text COLLATE "C" NOT NULL REFERENCES firmware_rollouts (id) ON DELETE CASCADE,
    position        integer NOT NULL,
    charge_point_id text COLLATE "C" NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    protocol        text    NOT NULL DEFAULT '',
    command_id      text    NOT NULL DEFAULT '',
    request_id      integer,
    error           text    NOT NULL DEFAULT '',
    PRIMARY KEY (rollout_id, position),
    UNIQUE (rollout_id, charge_point_id)
);

CREATE INDEX firmware_rollout_stations_cp ON firmware_rollout_stations (charge_point_id);

-- +goose Down
DROP TABLE firmware_rollout_stations;
DROP TABLE firmware_rollouts;
DROP TABLE firmware_images;
