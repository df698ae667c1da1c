-- Charging transactions of every OCPP version, their message log (for
-- idempotency), and the meter time series (issue #3).
-- Conventions: see 00001_charge_points.sql. Energies are REAL Wh.

-- +goose Up
CREATE TABLE transactions (
    charge_point_id TEXT    NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    transaction_id  TEXT    NOT NULL,
    protocol        TEXT    NOT NULL DEFAULT '',
    evse            INTEGER NOT NULL DEFAULT 0,
    connector       INTEGER NOT NULL DEFAULT 0,
    id_token        TEXT    NOT NULL DEFAULT '',
    id_token_type   TEXT    NOT NULL DEFAULT '',
    stop_id_token   TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL CHECK (state IN ('active', 'ended')),
    charging_state  TEXT    NOT NULL DEFAULT '',
    started_at      INTEGER,
    ended_at        INTEGER,
    meter_start_wh  REAL,
    meter_start_at  INTEGER,
    meter_stop_wh   REAL,
    meter_stop_at   INTEGER,
    energy_wh       REAL    NOT NULL DEFAULT 0,
    stop_reason     TEXT    NOT NULL DEFAULT '',
    remote_start_id INTEGER,
    reservation_id  INTEGER,
    last_event_at   INTEGER,
    last_seq_no     INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (charge_point_id, transaction_id)
) STRICT;

-- Foreign-station checks look transactions up by id alone.
CREATE INDEX transactions_id ON transactions (transaction_id);
CREATE INDEX transactions_started ON transactions (started_at DESC);
CREATE INDEX transactions_active ON transactions (charge_point_id) WHERE state = 'active';

-- One row per transaction message applied; the key makes redeliveries
-- no-ops.
CREATE TABLE transaction_events (
    charge_point_id TEXT    NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    event_key       TEXT    NOT NULL,
    transaction_id  TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    timestamp       INTEGER NOT NULL,
    payload         TEXT    NOT NULL CHECK (json_valid(payload)),
    received_at     INTEGER NOT NULL,
    PRIMARY KEY (charge_point_id, event_key)
) STRICT;

CREATE INDEX transaction_events_tx ON transaction_events (charge_point_id, transaction_id, timestamp);

-- The 1.6 transaction ids the CSMS hands out.
CREATE TABLE transaction_ids (
    id INTEGER PRIMARY KEY AUTOINCREMENT
);

CREATE TABLE meter_values (
    id              INTEGER PRIMARY KEY,
    charge_point_id TEXT    NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    transaction_id  TEXT    NOT NULL DEFAULT '',
    evse            INTEGER NOT NULL DEFAULT 0,
    connector       INTEGER NOT NULL DEFAULT 0,
    timestamp       INTEGER NOT NULL,
    measurand       TEXT    NOT NULL,
    phase           TEXT    NOT NULL DEFAULT '',
    unit            TEXT    NOT NULL DEFAULT '',
    location        TEXT    NOT NULL DEFAULT '',
    context         TEXT    NOT NULL DEFAULT '',
    value           REAL    NOT NULL,
    signed          TEXT    CHECK (signed IS NULL OR json_valid(signed)),
    received_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX meter_values_cp_time ON meter_values (charge_point_id, timestamp);
CREATE INDEX meter_values_tx ON meter_values (charge_point_id, transaction_id, timestamp) WHERE transaction_id != '';

-- +goose Down
DROP TABLE meter_values;
DROP TABLE transaction_ids;
DROP TABLE transaction_events;
DROP TABLE transactions;
