-- Certificates installed on stations, as they report them
-- (GetInstalledCertificateIds, InstallCertificate, DeleteCertificate;
-- issue #9). Conventions: see 00001_charge_points.sql.

-- +goose Up
CREATE TABLE installed_certificates (
    charge_point_id  TEXT    NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    type             TEXT    NOT NULL,
    hash_algorithm   TEXT    NOT NULL,
    issuer_name_hash TEXT    NOT NULL,
    issuer_key_hash  TEXT    NOT NULL DEFAULT '',
    serial_number    TEXT    NOT NULL,
    children         TEXT    NOT NULL DEFAULT '[]', -- JSON array of hash data
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (charge_point_id, type, hash_algorithm, issuer_name_hash, serial_number)
) STRICT;

-- +goose Down
DROP TABLE installed_certificates;
