-- CSMS→station commands (issue #3). id is the OCPP message id of the CALL.
-- Conventions: see 00001_charge_points.sql.

-- +goose Up
CREATE TABLE commands (
    id                TEXT    NOT NULL PRIMARY KEY,
    charge_point_id   TEXT    NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    protocol          TEXT    NOT NULL,
    action            TEXT    NOT NULL,
    request           TEXT    NOT NULL CHECK (json_valid(request)),
    state             TEXT    NOT NULL CHECK (state IN ('queued', 'sent', 'answered', 'failed', 'timed_out')),
    response          TEXT    CHECK (response IS NULL OR json_valid(response)),
    error_code        TEXT    NOT NULL DEFAULT '',
    error_description TEXT    NOT NULL DEFAULT '',
    error_details     TEXT    CHECK (error_details IS NULL OR json_valid(error_details)),
    created_at        INTEGER NOT NULL,
    sent_at           INTEGER,
    finished_at       INTEGER,
    deadline          INTEGER,
    timeout_ms        INTEGER NOT NULL
) STRICT;

CREATE INDEX commands_cp_created ON commands (charge_point_id, created_at DESC, id DESC);
CREATE INDEX commands_created ON commands (created_at DESC, id DESC);
-- The sweeper looks up open commands past their deadline.
CREATE INDEX commands_open_deadline ON commands (deadline) WHERE state IN ('queued', 'sent');

-- +goose Down
DROP TABLE commands;
