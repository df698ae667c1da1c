-- Reservations made with ReserveNow and what became of them (issue #3).
-- Conventions: see 00001_init.sql.

-- +goose Up
CREATE TABLE reservations (
    charge_point_id text COLLATE "C" NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    reservation_id  integer     NOT NULL,
    evse            integer     NOT NULL DEFAULT 0,
    connector       integer     NOT NULL DEFAULT 0,
    connector_type  text        NOT NULL DEFAULT '',
    id_token        text        NOT NULL,
    id_token_type   text        NOT NULL DEFAULT '',
    group_id        text        NOT NULL DEFAULT '',
    expires_at      timestamptz NOT NULL,
    status          text        NOT NULL,
    command_id      text        NOT NULL DEFAULT '',
    requested_at    timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (charge_point_id, reservation_id)
);

CREATE INDEX reservations_requested ON reservations (requested_at DESC);

-- +goose Down
DROP TABLE reservations;
