package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ocppd/ocppd/store"
)

var _ store.InstalledCertificates = (*DB)(nil)

// stationExists returns ENOTFOUND unless the station is registered.
func stationExists(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, id string) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM charge_points WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(id)
	}
	return err
}

func insertInstalled(ctx context.Context, tx pgx.Tx, id string, c store.InstalledCertificate, at time.Time) error {
	children := c.Children
	if children == nil {
		children = []store.CertificateHash{}
	}
	raw, err := json.Marshal(children)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO installed_certificates
		(charge_point_id, type, hash_algorithm, issuer_name_hash, issuer_key_hash, serial_number, children, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (charge_point_id, type, hash_algorithm, issuer_name_hash, serial_number) DO UPDATE
		SET issuer_key_hash = excluded.issuer_key_hash, children = excluded.children, updated_at = excluded.updated_at`,
		id, c.Type, c.HashAlgorithm, c.IssuerNameHash, c.IssuerKeyHash, c.SerialNumber, string(raw), at)
	return err
}

// ReplaceInstalledCertificates makes certs the station's certificates of
// types (all when empty); ENOTFOUND for an unknown station.
func (db *DB) ReplaceInstalledCertificates(ctx context.Context, id string, types []string, certs []store.InstalledCertificate, at time.Time) error {
	return db.write(ctx, "replace installed certificates", func(tx pgx.Tx) error {
		if err := stationExists(ctx, tx, id); err != nil {
			return err
		}
		var err error
		if len(types) > 0 {
			_, err = tx.Exec(ctx, `DELETE FROM installed_certificates WHERE charge_point_id = $1 AND type = ANY($2)`, id, types)
		} else {
			_, err = tx.Exec(ctx, `DELETE FROM installed_certificates WHERE charge_point_id = $1`, id)
		}
		if err != nil {
			return err
		}
		at = db.orNow(at)
		for _, c := range certs {
			if err := insertInstalled(ctx, tx, id, c, at); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutInstalledCertificate records one certificate the station accepted;
// ENOTFOUND for an unknown station.
func (db *DB) PutInstalledCertificate(ctx context.Context, c store.InstalledCertificate) error {
	return db.write(ctx, "put installed certificate", func(tx pgx.Tx) error {
		if err := stationExists(ctx, tx, c.ChargePointID); err != nil {
			return err
		}
		return insertInstalled(ctx, tx, c.ChargePointID, c, db.orNow(c.UpdatedAt))
	})
}

// DeleteInstalledCertificate removes the station's certificates with h's
// algorithm, issuer name hash and serial number; ENOTFOUND for an unknown
// station.
func (db *DB) DeleteInstalledCertificate(ctx context.Context, id string, h store.CertificateHash) error {
	return db.write(ctx, "delete installed certificate", func(tx pgx.Tx) error {
		if err := stationExists(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM installed_certificates
			WHERE charge_point_id = $1 AND hash_algorithm = $2 AND issuer_name_hash = $3 AND serial_number = $4`,
			id, h.HashAlgorithm, h.IssuerNameHash, h.SerialNumber)
		return err
	})
}

// ListInstalledCertificates returns the station's installed certificates
// by type, then serial number; ENOTFOUND for an unknown station.
func (db *DB) ListInstalledCertificates(ctx context.Context, id string) ([]store.InstalledCertificate, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	if err := stationExists(ctx, db.pool, id); err != nil {
		return nil, translate("list installed certificates", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT type, hash_algorithm, issuer_name_hash, issuer_key_hash, serial_number, children, updated_at
		FROM installed_certificates WHERE charge_point_id = $1 ORDER BY type, serial_number, hash_algorithm, issuer_name_hash`, id)
	if err != nil {
		return nil, translate("list installed certificates", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.InstalledCertificate, error) {
		c := store.InstalledCertificate{ChargePointID: id}
		var children []byte
		if err := r.Scan(&c.Type, &c.HashAlgorithm, &c.IssuerNameHash, &c.IssuerKeyHash, &c.SerialNumber, &children, &c.UpdatedAt); err != nil {
			return c, err
		}
		if err := json.Unmarshal(children, &c.Children); err != nil {
			return c, err
		}
		if len(c.Children) == 0 {
			c.Children = nil
		}
		c.UpdatedAt = utc(c.UpdatedAt)
		return c, nil
	})
	if err != nil {
		return nil, translate("list installed certificates", err)
	}
	return out, nil
}
