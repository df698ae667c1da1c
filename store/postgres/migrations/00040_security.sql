-- Station credentials, issued certificates and security events (issue #9).
-- Conventions: see 00001_init.sql. Passwords are never stored, only their
-- salted hashes (PHC strings of package auth).

-- +goose Up
CREATE TABLE station_credentials (
    charge_point_id text COLLATE "C" NOT NULL PRIMARY KEY
                    REFERENCES charge_points (id) ON DELETE CASCADE,
    password_hash   text        NOT NULL DEFAULT '',
    pending_hash    text        NOT NULL DEFAULT '',
    pending_since   timestamptz,
    serial_number   text        NOT NULL DEFAULT '',
    updated_at      timestamptz NOT NULL
);

CREATE TABLE station_certificates (
    serial_number   text        NOT NULL PRIMARY KEY,
    charge_point_id text COLLATE "C" NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    use             text        NOT NULL,
    subject         text        NOT NULL,
    not_before      timestamptz NOT NULL,
    not_after       timestamptz NOT NULL,
    pem             text        NOT NULL,
    issued_at       timestamptz NOT NULL
);

CREATE INDEX station_certificates_cp ON station_certificates (charge_point_id, issued_at DESC, serial_number DESC);

CREATE TABLE security_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charge_point_id text COLLATE "C" NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    type            text        NOT NULL,
    tech_info       text        NOT NULL DEFAULT '',
    timestamp       timestamptz NOT NULL,
    received_at     timestamptz NOT NULL
);

CREATE INDEX security_events_cp ON security_events (charge_point_id, timestamp DESC, id DESC);

-- +goose Down
DROP TABLE security_events;
DROP TABLE station_certificates;
DROP TABLE station_credentials;
