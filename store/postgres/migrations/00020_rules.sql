-- The rules engine: rule definitions shared by every process, a revision
-- counter that engines poll to reload, and the rows that "table" actions
-- upsert. Rule tables are not tied to a station (a key may name one that
-- was deleted since), so they do not reference charge_points.

-- +goose Up
CREATE TABLE rules (
    name       text COLLATE "C" NOT NULL PRIMARY KEY,
    definition jsonb       NOT NULL,
    enabled    boolean     NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- One row; bumped in the transaction of every change to rules.
CREATE TABLE rules_revision (
    id       integer NOT NULL PRIMARY KEY CHECK (id = 1),
    revision bigint  NOT NULL
);
INSERT INTO rules_revision (id, revision) VALUES (1, 0);

CREATE TABLE rule_table_rows (
    table_name text COLLATE "C" NOT NULL,
    key        text COLLATE "C" NOT NULL,
    data       jsonb       NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (table_name, key)
);

-- +goose Down
DROP TABLE rule_table_rows;
DROP TABLE rules_revision;
DROP TABLE rules;
