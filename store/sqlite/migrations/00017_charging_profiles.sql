-- Charging profiles installed on stations, from accepted
-- SetChargingProfile commands and ReportChargingProfiles (issue #3).
-- Conventions: see 00001_charge_points.sql.

-- +goose Up
CREATE TABLE charging_profiles (
    charge_point_id TEXT    NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    profile_id      INTEGER NOT NULL,
    evse            INTEGER NOT NULL, -- 2.x evseId, 1.6 connectorId; 0: the station
    stack_level     INTEGER NOT NULL,
    purpose         TEXT    NOT NULL,
    kind            TEXT    NOT NULL DEFAULT '',
    transaction_id  TEXT    NOT NULL DEFAULT '',
    source          TEXT    NOT NULL DEFAULT 'CSO',
    schedule        TEXT    NOT NULL CHECK (json_valid(schedule)),
    profile         TEXT    NOT NULL CHECK (json_valid(profile)),
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (charge_point_id, profile_id)
) STRICT;

-- +goose Down
DROP TABLE charging_profiles;
