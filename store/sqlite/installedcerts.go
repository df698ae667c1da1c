package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/ocppd/ocppd/store"
)

var _ store.InstalledCertificates = (*DB)(nil)

// stationExists returns ENOTFOUND unless the station is registered.
func stationExists(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM charge_points WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(id)
	}
	return err
}

func insertInstalled(ctx context.Context, tx *sql.Tx, id string, c store.InstalledCertificate, at int64) error {
	children, err := json.Marshal(c.Children)
	if err != nil {
		return err
	}
	if c.Children == nil {
		children = []byte("[]")
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO installed_certificates
		(charge_point_id, type, hash_algorithm, issuer_name_hash, issuer_key_hash, serial_number, children, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (charge_point_id, type, hash_algorithm, issuer_name_hash, serial_number) DO UPDATE
		SET issuer_key_hash = excluded.issuer_key_hash, children = excluded.children, updated_at = excluded.updated_at`,
		id, c.Type, c.HashAlgorithm, c.IssuerNameHash, c.IssuerKeyHash, c.SerialNumber, string(children), at)
	return err
}

// ReplaceInstalledCertificates makes certs the station's certificates of
// types (all when empty); ENOTFOUND for an unknown station.
func (db *DB) ReplaceInstalledCertificates(ctx context.Context, id string, types []string, certs []store.InstalledCertificate, at time.Time) error {
	return db.write(ctx, "replace installed certificates", func(ctx context.Context, tx *sql.Tx) error {
		if err := stationExists(ctx, tx, id); err != nil {
			return err
		}
		q, args := `DELETE FROM installed_certificates WHERE charge_point_id = ?`, []any{id}
		if len(types) > 0 {
			q += ` AND type IN (?` + strings.Repeat(`, ?`, len(types)-1) + `)`
			for _, t := range types {
				args = append(args, t)
			}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		now := ms(db.orNow(at))
		for _, c := range certs {
			if err := insertInstalled(ctx, tx, id, c, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutInstalledCertificate records one certificate the station accepted;
// ENOTFOUND for an unknown station.
func (db *DB) PutInstalledCertificate(ctx context.Context, c store.InstalledCertificate) error {
	return db.write(ctx, "put installed certificate", func(ctx context.Context, tx *sql.Tx) error {
		if err := stationExists(ctx, tx, c.ChargePointID); err != nil {
			return err
		}
		return insertInstalled(ctx, tx, c.ChargePointID, c, ms(db.orNow(c.UpdatedAt)))
	})
}

// DeleteInstalledCertificate removes the station's certificates with h's
// algorithm, issuer name hash and serial number; ENOTFOUND for an unknown
// station.
func (db *DB) DeleteInstalledCertificate(ctx context.Context, id string, h store.CertificateHash) error {
	return db.write(ctx, "delete installed certificate", func(ctx context.Context, tx *sql.Tx) error {
		if err := stationExists(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM installed_certificates
			WHERE charge_point_id = ? AND hash_algorithm = ? AND issuer_name_hash = ? AND serial_number = ?`,
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
	if err := stationExists(ctx, db.r, id); err != nil {
		return nil, translate("list installed certificates", err)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT type, hash_algorithm, issuer_name_hash, issuer_key_hash, serial_number, children, updated_at
		FROM installed_certificates WHERE charge_point_id = ? ORDER BY type, serial_number, hash_algorithm, issuer_name_hash`, id)
	if err != nil {
		return nil, translate("list installed certificates", err)
	}
	defer rows.Close()
	var out []store.InstalledCertificate
	for rows.Next() {
		c := store.InstalledCertificate{ChargePointID: id}
		var children string
		var updated int64
		if err := rows.Scan(&c.Type, &c.HashAlgorithm, &c.IssuerNameHash, &c.IssuerKeyHash, &c.SerialNumber, &children, &updated); err != nil {
			return nil, translate("list installed certificates", err)
		}
		if err := json.Unmarshal([]byte(children), &c.Children); err != nil {
			return nil, translate("list installed certificates", err)
		}
		if len(c.Children) == 0 {
			c.Children = nil
		}
		c.UpdatedAt = fromMS(updated)
		out = append(out, c)
	}
	return out, translate("list installed certificates", rows.Err())
}
