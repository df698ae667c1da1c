-- The station registry, device shadows and connector status.
--
-- Conventions for this and later migrations:
--   * times are INTEGER milliseconds since the Unix epoch, UTC; NULL means
--     "never" (a zero time.Time in Go);
--   * booleans are INTEGER 0/1 with a CHECK;
--   * tables are STRICT, and everything about a station references
--     charge_points(id) ON DELETE CASCADE, so deleting a station deletes
--     what is stored about it.

-- +goose Up
CREATE TABLE charge_points (
    id            TEXT    NOT NULL PRIMARY KEY,
    registration  TEXT    NOT NULL,
    registered_at INTEGER NOT NULL,
    online        INTEGER NOT NULL DEFAULT 0 CHECK (online IN (0, 1)),
    protocol      TEXT    NOT NULL DEFAULT '',
    gateway_id    TEXT    NOT NULL DEFAULT '',
    session_id    TEXT    NOT NULL DEFAULT '',
    remote_addr   TEXT    NOT NULL DEFAULT '',
    connected_at  INTEGER,
    last_seen     INTEGER
) STRICT;

-- MarkGatewayOffline looks up the online stations of one gateway.
CREATE INDEX charge_points_gateway_online ON charge_points (gateway_id) WHERE online = 1;

CREATE TABLE shadows (
    charge_point_id TEXT    NOT NULL PRIMARY KEY
                            REFERENCES charge_points (id) ON DELETE CASCADE,
    document        TEXT    NOT NULL CHECK (json_valid(document)),
    version         INTEGER NOT NULL CHECK (version > 0),
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE status_current (
    charge_point_id TEXT    NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    evse            INTEGER NOT NULL,
    connector       INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    error_code      TEXT    NOT NULL DEFAULT '',
    info            TEXT    NOT NULL DEFAULT '',
    timestamp       INTEGER NOT NULL, -- as reported by the station
    received_at     INTEGER NOT NULL,
    PRIMARY KEY (charge_point_id, evse, connector)
) STRICT;

-- Append-only. id orders events that carry the same timestamp by arrival.
CREATE TABLE status_history (
    id              INTEGER PRIMARY KEY,
    charge_point_id TEXT    NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    evse            INTEGER NOT NULL,
    connector       INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    error_code      TEXT    NOT NULL DEFAULT '',
    info            TEXT    NOT NULL DEFAULT '',
    timestamp       INTEGER NOT NULL,
    received_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX status_history_cp_time ON status_history (charge_point_id, timestamp DESC, id DESC);

-- +goose Down
DROP TABLE status_history;
DROP TABLE status_current;
DROP TABLE shadows;
DROP TABLE charge_points;
