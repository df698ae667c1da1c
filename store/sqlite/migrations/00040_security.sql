-- Station credentials, issued certificates and security events (issue #9).
-- Conventions: see 00001_charge_points.sql. Passwords are never stored,
-- only their salted hashes (PHC strings of package auth).

-- +goose Up
CREATE TABLE station_credentials (
    charge_point_id TEXT    NOT NULL PRIMARY KEY
                            REFERENCES charge_points (id) ON DELETE CASCADE,
    password_hash   TEXT    NOT NULL DEFAULT '',
    pending_hash    TEXT    NOT NULL DEFAULT '',
    pending_since   INTEGER,
    serial_number   TEXT    NOT NULL DEFAULT '',
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE station_certificates (
    serial_number   TEXT    NOT NULL PRIMARY KEY,
    charge_point_id TEXT    NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    use             TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    not_before      INTEGER NOT NULL,
    not_after       INTEGER NOT NULL,
    pem             TEXT    NOT NULL,
    issued_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX station_certificates_cp ON station_certificates (charge_point_id, issued_at DESC, serial_number DESC);

CREATE TABLE security_events (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    charge_point_id TEXT    NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    type            TEXT    NOT NULL,
    tech_info       TEXT    NOT NULL DEFAULT '',
    timestamp       INTEGER NOT NULL,
    received_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX security_events_cp ON security_events (charge_point_id, timestamp DESC, id DESC);

-- +goose Down
DROP TABLE security_events;
DROP TABLE station_certificates;
DROP TABLE station_credentials;
