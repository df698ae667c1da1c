-- The lowest security profile a station may connect with (issue #9): the
-- highest it connected with, or what an operator set (A05.FR.07 of OCPP
-- 2.0.1). Conventions: see 00001_charge_points.sql.

-- +goose Up
ALTER TABLE station_credentials ADD COLUMN security_profile INTEGER NOT NULL DEFAULT 0
    CHECK (security_profile BETWEEN 0 AND 3);

-- +goose Down
ALTER TABLE station_credentials DROP COLUMN security_profile;
