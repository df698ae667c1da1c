-- The station registry, device shadows and connector status: the same
-- model as store/sqlite's first migration, in PostgreSQL's types.
--
-- Conventions for this and later migrations:
--   * times are timestamptz; NULL means "never" (a zero time.Time in Go);
--   * station ids are text COLLATE "C", so that ORDER BY and range
--     conditions use byte order (as Go and SQLite do) and a LIKE prefix
--     can use the primary key index;
--   * everything about a station references charge_points(id) ON DELETE
--     CASCADE, so deleting a station deletes what is stored about it.

-- +goose Up
CREATE TABLE charge_points (
    id            text COLLATE "C" NOT NULL PRIMARY KEY,
    registration  text        NOT NULL,
    registered_at timestamptz NOT NULL,
    online        boolean     NOT NULL DEFAULT false,
    protocol      text        NOT NULL DEFAULT '',
    gateway_id    text        NOT NULL DEFAULT '',
    session_id    text        NOT NULL DEFAULT '',
    remote_addr   text        NOT NULL DEFAULT '',
    connected_at  timestamptz,
    last_seen     timestamptz
);

-- MarkGatewayOffline looks up the online stations of one gateway.
CREATE INDEX charge_points_gateway_online ON charge_points (gateway_id) WHERE online;

CREATE TABLE shadows (
    charge_point_id text COLLATE "C" NOT NULL PRIMARY KEY
                    REFERENCES charge_points (id) ON DELETE CASCADE,
    document        jsonb       NOT NULL,
    version         bigint      NOT NULL CHECK (version > 0),
    updated_at      timestamptz NOT NULL
);

CREATE TABLE status_current (
    charge_point_id text COLLATE "C" NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    evse            integer     NOT NULL,
    connector       integer     NOT NULL,
    status          text        NOT NULL,
    error_code      text        NOT NULL DEFAULT '',
    info            text        NOT NULL DEFAULT '',
    timestamp       timestamptz NOT NULL, -- as reported by the station
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (charge_point_id, evse, connector)
);

-- Append-only. id orders events that carry the same timestamp by arrival.
CREATE TABLE status_history (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charge_point_id text COLLATE "C" NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    evse            integer     NOT NULL,
    connector       integer     NOT NULL,
    status          text        NOT NULL,
    error_code      text        NOT NULL DEFAULT '',
    info            text        NOT NULL DEFAULT '',
    timestamp       timestamptz NOT NULL,
    received_at     timestamptz NOT NULL
);

CREATE INDEX status_history_cp_time ON status_history (charge_point_id, timestamp DESC, id DESC);

-- +goose Down
DROP TABLE status_history;
DROP TABLE status_current;
DROP TABLE shadows;
DROP TABLE charge_points;
