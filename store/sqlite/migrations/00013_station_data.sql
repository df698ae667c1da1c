-- Per-station CSMS data: the lenient flag, the notification log and the
-- 2.x device model (issue #3). Conventions: see 00001_charge_points.sql.

-- +goose Up
ALTER TABLE charge_points ADD COLUMN lenient INTEGER NOT NULL DEFAULT 0 CHECK (lenient IN (0, 1));

-- Append-only. id orders events with the same timestamp by arrival.
CREATE TABLE station_events (
    id              INTEGER PRIMARY KEY,
    charge_point_id TEXT    NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    action          TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT '',
    timestamp       INTEGER NOT NULL,
    payload         TEXT    NOT NULL CHECK (json_valid(payload)),
    received_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX station_events_cp_time ON station_events (charge_point_id, timestamp DESC, id DESC);
CREATE INDEX station_events_cp_action_time ON station_events (charge_point_id, action, timestamp DESC, id DESC);

-- EVSE and connector are -1 when the component has none, so that the
-- key columns are never NULL.
CREATE TABLE device_variables (
    charge_point_id    TEXT    NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    component          TEXT    NOT NULL,
    component_instance TEXT    NOT NULL DEFAULT '',
    evse               INTEGER NOT NULL DEFAULT -1,
    connector          INTEGER NOT NULL DEFAULT -1,
    variable           TEXT    NOT NULL,
    variable_instance  TEXT    NOT NULL DEFAULT '',
    attributes         TEXT    NOT NULL CHECK (json_valid(attributes)),
    characteristics    TEXT    CHECK (characteristics IS NULL OR json_valid(characteristics)),
    updated_at         INTEGER NOT NULL,
    PRIMARY KEY (charge_point_id, component, component_instance, evse, connector, variable, variable_instance)
) STRICT;

-- +goose Down
DROP TABLE device_variables;
DROP TABLE station_events;
ALTER TABLE charge_points DROP COLUMN lenient;
