-- Meter samples are idempotent on their identity (issue #3): the same
-- sample delivered twice (a MeterValues the station repeats after a lost
-- answer) is stored once. A sample is identified by station, time,
-- transaction, EVSE, connector, measurand, phase, location, context, unit,
-- and whether it is signed data (1.6 stations send a reading and its
-- SignedData twin with the same measurand and time). Its value is not part
-- of it: one meter cannot read two values of one quantity at one instant.
-- Conventions: see 00001_charge_points.sql.

-- +goose Up
DELETE FROM meter_values WHERE id NOT IN (
    SELECT min(id) FROM meter_values
    GROUP BY charge_point_id, timestamp, transaction_id, evse, connector, measurand, phase, location, context, unit,
             signed IS NOT NULL
);

-- Its prefix (charge_point_id, timestamp) serves what meter_values_cp_time
-- served.
CREATE UNIQUE INDEX meter_values_identity ON meter_values
    (charge_point_id, timestamp, transaction_id, evse, connector, measurand, phase, location, context, unit,
     (signed IS NOT NULL));
DROP INDEX meter_values_cp_time;

-- +goose Down
CREATE INDEX meter_values_cp_time ON meter_values (charge_point_id, timestamp);
DROP INDEX meter_values_identity;
