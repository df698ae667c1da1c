-- Per-station CSMS data: the lenient flag, the notification log and the
-- 2.x device model (issue #3). Conventions: see 00001_init.sql.

-- +goose Up
ALTER TABLE charge_points ADD COLUMN lenient boolean NOT NULL DEFAULT false;

-- Append-only. id orders events with the same timestamp by arrival.
CREATE TABLE station_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charge_point_id text COLLATE "C" NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    action          text    NOT NULL,
    status          text    NOT NULL DEFAULT '',
    timestamp       timestamptz NOT NULL,
    payload         jsonb NOT NULL,
    received_at     timestamptz NOT NULL
);

CREATE INDEX station_events_cp_time ON station_events (charge_point_id, timestamp DESC, id DESC);
CREATE INDEX station_events_cp_action_time ON station_events (charge_point_id, action, timestamp DESC, id DESC);

-- EVSE and connector are -1 when the component has none, so that the
-- key columns are never NULL.
CREATE TABLE device_variables (
    charge_point_id    text COLLATE "C" NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    component          text    NOT NULL,
    component_instance text    NOT NULL DEFAULT '',
    evse               integer NOT NULL DEFAULT -1,
    connector          integer NOT NULL DEFAULT -1,
    variable           text    NOT NULL,
    variable_instance  text    NOT NULL DEFAULT '',
    attributes         jsonb NOT NULL,
    characteristics    jsonb,
    updated_at         timestamptz NOT NULL,
    PRIMARY KEY (charge_point_id, component, component_instance, evse, connector, variable, variable_instance)
);

-- +goose Down
DROP TABLE device_variables;
DROP TABLE station_events;
ALTER TABLE charge_points DROP COLUMN lenient;
