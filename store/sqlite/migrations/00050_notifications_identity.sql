-- Station notifications are idempotent on their identity (issue #6): a
-- message the broker delivers again (QoS 1 is at least once: a CSMS worker
-- killed after storing it but before acknowledging it, a broker restart)
-- or that the station repeats after a lost answer is stored once.
--
-- A StatusNotification is identified by station, EVSE, connector, the
-- station's timestamp, status and error code: a station cannot report the
-- same status of one connector twice at one instant. A logged
-- notification (station_events) by station, action, timestamp and the
-- SHA-256 of its payload as received (payload_hash, computed by the store;
-- NULL for rows older than this migration, which are not compared).
-- Notifications without a timestamp of their own are logged with the time
-- received, which differs between deliveries: those are not deduplicated.
-- Conventions: see 00001_charge_points.sql.

-- +goose Up
DELETE FROM status_history WHERE id NOT IN (
    SELECT min(id) FROM status_history
    GROUP BY charge_point_id, evse, connector, timestamp, status, error_code
);
CREATE UNIQUE INDEX status_history_identity ON status_history
    (charge_point_id, evse, connector, timestamp, status, error_code);

ALTER TABLE station_events ADD COLUMN payload_hash BLOB;
CREATE UNIQUE INDEX station_events_identity ON station_events
    (charge_point_id, action, timestamp, payload_hash);

-- +goose Down
DROP INDEX station_events_identity;
ALTER TABLE station_events DROP COLUMN payload_hash;
DROP INDEX status_history_identity;
