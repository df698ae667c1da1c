-- CSMS→station commands (issue #3). id is the OCPP message id of the CALL.
-- Conventions: see 00001_init.sql.

-- +goose Up
CREATE TABLE commands (
    id                text COLLATE "C" NOT NULL PRIMARY KEY,
    charge_point_id   text COLLATE "C" NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    protocol          text        NOT NULL,
    action            text        NOT NULL,
    request           jsonb       NOT NULL,
    state             text        NOT NULL CHECK (state IN ('queued', 'sent', 'answered', 'failed', 'timed_out')),
    response          jsonb,
    error_code        text        NOT NULL DEFAULT '',
    error_description text        NOT NULL DEFAULT '',
    error_details     jsonb,
    created_at        timestamptz NOT NULL,
    sent_at           timestamptz,
    finished_at       timestamptz,
    deadline          timestamptz,
    timeout_ms        bigint      NOT NULL
);

CREATE INDEX commands_cp_created ON commands (charge_point_id, created_at DESC, id DESC);
CREATE INDEX commands_created ON commands (created_at DESC, id DESC);
-- The sweeper looks up open commands past their deadline.
CREATE INDEX commands_open_deadline ON commands (deadline) WHERE state IN ('queued', 'sent');

-- +goose Down
DROP TABLE commands;
