-- The rules engine: rule definitions shared by every process, a revision
-- counter that engines poll to reload, and the rows that "table" actions
-- upsert. Rule tables are not tied to a station (a key may name one that
-- was deleted since), so they do not reference charge_points.

-- +goose Up
CREATE TABLE rules (
    name       TEXT    NOT NULL PRIMARY KEY,
    definition TEXT    NOT NULL CHECK (json_valid(definition)),
    enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- One row; bumped in the transaction of every change to rules.
CREATE TABLE rules_revision (
    id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
) STRICT;
INSERT INTO rules_revision (id, revision) VALUES (1, 0);

CREATE TABLE rule_table_rows (
    table_name TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    data       TEXT    NOT NULL CHECK (json_valid(data)),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (table_name, key)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE rule_table_rows;
DROP TABLE rules_revision;
DROP TABLE rules;
