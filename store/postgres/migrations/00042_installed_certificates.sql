-- Certificates installed on stations, as they report them
-- (GetInstalledCertificateIds, InstallCertificate, DeleteCertificate;
-- issue #9). Conventions: see 00001_init.sql.

-- +goose Up
CREATE TABLE installed_certificates (
    charge_point_id  text COLLATE "C" NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    type             text COLLATE "C" NOT NULL,
    hash_algorithm   text        NOT NULL,
    issuer_name_hash text        NOT NULL,
    issuer_key_hash  text        NOT NULL DEFAULT '',
    serial_number    text COLLATE "C" NOT NULL,
    children         jsonb       NOT NULL DEFAULT '[]',
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (charge_point_id, type, hash_algorithm, issuer_name_hash, serial_number)
);

-- +goose Down
DROP TABLE installed_certificates;
