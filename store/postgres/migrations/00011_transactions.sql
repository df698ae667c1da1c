-- Charging transactions of every OCPP version, their message log (for
-- idempotency), and the meter time series (issue #3).
-- Conventions: see 00001_init.sql. Energies are double precision Wh.

-- +goose Up
CREATE TABLE transactions (
    charge_point_id text COLLATE "C" NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    transaction_id  text COLLATE "C" NOT NULL,
    protocol        text    NOT NULL DEFAULT '',
    evse            integer NOT NULL DEFAULT 0,
    connector       integer NOT NULL DEFAULT 0,
    id_token        text    NOT NULL DEFAULT '',
    id_token_type   text    NOT NULL DEFAULT '',
    stop_id_token   text    NOT NULL DEFAULT '',
    state           text    NOT NULL CHECK (state IN ('active', 'ended')),
    charging_state  text    NOT NULL DEFAULT '',
    started_at      timestamptz,
    ended_at        timestamptz,
    meter_start_wh  double precision,
    meter_start_at  timestamptz,
    meter_stop_wh   double precision,
    meter_stop_at   timestamptz,
    energy_wh       double precision NOT NULL DEFAULT 0,
    stop_reason     text    NOT NULL DEFAULT '',
    remote_start_id integer,
    reservation_id  integer,
    last_event_at   timestamptz,
    last_seq_no     integer NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (charge_point_id, transaction_id)
);

-- Foreign-station checks look transactions up by id alone.
CREATE INDEX transactions_id ON transactions (transaction_id);
CREATE INDEX transactions_started ON transactions (started_at DESC);
CREATE INDEX transactions_active ON transactions (charge_point_id) WHERE state = 'active';

-- One row per transaction message applied; the key makes redeliveries
-- no-ops.
CREATE TABLE transaction_events (
    charge_point_id text COLLATE "C" NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    event_key       text    NOT NULL,
    transaction_id  text COLLATE "C" NOT NULL,
    event_type      text    NOT NULL,
    timestamp       timestamptz NOT NULL,
    payload         jsonb NOT NULL,
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (charge_point_id, event_key)
);

CREATE INDEX transaction_events_tx ON transaction_events (charge_point_id, transaction_id, timestamp);

-- The 1.6 transaction ids the CSMS hands out.
CREATE SEQUENCE transaction_ids;

CREATE TABLE meter_values (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charge_point_id text COLLATE "C" NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    transaction_id  text    NOT NULL DEFAULT '',
    evse            integer NOT NULL DEFAULT 0,
    connector       integer NOT NULL DEFAULT 0,
    timestamp       timestamptz NOT NULL,
    measurand       text    NOT NULL,
    phase           text    NOT NULL DEFAULT '',
    unit            text    NOT NULL DEFAULT '',
    location        text    NOT NULL DEFAULT '',
    context         text    NOT NULL DEFAULT '',
    value           double precision NOT NULL,
    signed          jsonb,
    received_at     timestamptz NOT NULL
);

CREATE INDEX meter_values_cp_time ON meter_values (charge_point_id, timestamp);
CREATE INDEX meter_values_tx ON meter_values (charge_point_id, transaction_id, timestamp) WHERE transaction_id != '';

-- +goose Down
DROP TABLE meter_values;
DROP SEQUENCE transaction_ids;
DROP TABLE transaction_events;
DROP TABLE transactions;
