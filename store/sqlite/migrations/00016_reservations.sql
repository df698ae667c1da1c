-- Reservations made with ReserveNow and what became of them (issue #3).
-- Conventions: see 00001_charge_points.sql.

-- +goose Up
CREATE TABLE reservations (
    charge_point_id TEXT    NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    reservation_id  INTEGER NOT NULL,
    evse            INTEGER NOT NULL DEFAULT 0,
    connector       INTEGER NOT NULL DEFAULT 0,
    connector_type  TEXT    NOT NULL DEFAULT '',
    id_token        TEXT    NOT NULL,
    id_token_type   TEXT    NOT NULL DEFAULT '',
    group_id        TEXT    NOT NULL DEFAULT '',
    expires_at      INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    command_id      TEXT    NOT NULL DEFAULT '',
    requested_at    INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (charge_point_id, reservation_id)
) STRICT;

CREATE INDEX reservations_requested ON reservations (requested_at DESC);

-- +goose Down
DROP TABLE reservations;
