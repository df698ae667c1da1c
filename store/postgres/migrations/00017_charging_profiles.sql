-- Charging profiles installed on stations, from accepted
-- SetChargingProfile commands and ReportChargingProfiles (issue #3).
-- Conventions: see 00001_init.sql.

-- +goose Up
CREATE TABLE charging_profiles (
    charge_point_id text COLLATE "C" NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    profile_id      integer     NOT NULL,
    evse            integer     NOT NULL, -- 2.x evseId, 1.6 connectorId; 0: the station
    stack_level     integer     NOT NULL,
    purpose         text COLLATE "C" NOT NULL,
    kind            text        NOT NULL DEFAULT '',
    transaction_id  text        NOT NULL DEFAULT '',
    source          text        NOT NULL DEFAULT 'CSO',
    schedule        jsonb       NOT NULL,
    profile         jsonb       NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (charge_point_id, profile_id)
);

-- +goose Down
DROP TABLE charging_profiles;
