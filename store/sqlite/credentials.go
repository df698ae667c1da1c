package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

var _ store.Security = (*DB)(nil)

// GetCredentials returns the station's credentials (only ChargePointID set
// when it has none); ENOTFOUND for an unknown station.
func (db *DB) GetCredentials(ctx context.Context, id string) (store.Credentials, error) {
	if err := db.opened(); err != nil {
		return store.Credentials{}, err
	}
	var (
		hash, pending, serial   sql.NullString
		since, updated, profile sql.NullInt64
	)
	err := db.r.QueryRowContext(ctx, `SELECT c.password_hash, c.pending_hash, c.pending_since, c.serial_number, c.security_profile, c.updated_at
		FROM charge_points p LEFT JOIN station_credentials c ON c.charge_point_id = p.id
		WHERE p.id = ?`, id).Scan(&hash, &pending, &since, &serial, &profile, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Credentials{}, notFound(id)
	}
	if err != nil {
		return store.Credentials{}, translate("get credentials", err)
	}
	return store.Credentials{
		ChargePointID:   id,
		PasswordHash:    hash.String,
		PendingHash:     pending.String,
		PendingSince:    fromNullMS(since),
		SerialNumber:    serial.String,
		SecurityProfile: int(profile.Int64),
		UpdatedAt:       fromNullMS(updated),
	}, nil
}

// upsertCredentials creates the station's credentials row with the given
// column values or updates those columns of the existing one.
func (db *DB) upsertCredentials(ctx context.Context, op, id string, at time.Time, set string, args ...any) error {
	return db.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO station_credentials (charge_point_id, updated_at) VALUES (?, ?)
			ON CONFLICT (charge_point_id) DO NOTHING`, id, ms(db.orNow(at)))
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			return notFound(id)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE station_credentials SET `+set+`, updated_at = ? WHERE charge_point_id = ?`,
			append(args, ms(db.orNow(at)), id)...)
		return err
	})
}

// SetPassword makes hash the current password hash and drops a pending
// one; ENOTFOUND for an unknown station.
func (db *DB) SetPassword(ctx context.Context, id, hash string, at time.Time) error {
	return db.upsertCredentials(ctx, "set password", id, at,
		`password_hash = ?, pending_hash = '', pending_since = NULL`, hash)
}

// SetPendingPassword records the password being sent to the station;
// ENOTFOUND for an unknown station.
func (db *DB) SetPendingPassword(ctx context.Context, id, hash string, at time.Time) error {
	return db.upsertCredentials(ctx, "set pending password", id, at,
		`pending_hash = ?, pending_since = ?`, hash, ms(db.orNow(at)))
}

// SetSerialNumber sets the certificate CN expected under profile 3;
// ENOTFOUND for an unknown station.
func (db *DB) SetSerialNumber(ctx context.Context, id, serial string, at time.Time) error {
	return db.upsertCredentials(ctx, "set serial number", id, at, `serial_number = ?`, serial)
}

// RaiseSecurityProfile makes profile the station's lowest allowed security
// profile if it is higher; ENOTFOUND for an unknown station.
func (db *DB) RaiseSecurityProfile(ctx context.Context, id string, profile int, at time.Time) (bool, error) {
	if profile < 0 || profile > 3 {
		return false, ocppd.Errorf(ocppd.EINVALID, "security profile %d is not 0–3", profile)
	}
	var raised bool
	err := db.write(ctx, "raise security profile", func(ctx context.Context, tx *sql.Tx) error {
		raised = false
		now := ms(db.orNow(at))
		_, err := tx.ExecContext(ctx, `INSERT INTO station_credentials (charge_point_id, updated_at) VALUES (?, ?)
			ON CONFLICT (charge_point_id) DO NOTHING`, id, now)
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			return notFound(id)
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE station_credentials SET security_profile = ?, updated_at = ?
			WHERE charge_point_id = ? AND security_profile < ?`, profile, now, id, profile)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		raised = n == 1
		return err
	})
	return raised, err
}

// SetSecurityProfile sets the station's lowest allowed security profile;
// EINVALID outside 0–3, ENOTFOUND for an unknown station.
func (db *DB) SetSecurityProfile(ctx context.Context, id string, profile int, at time.Time) error {
	if profile < 0 || profile > 3 {
		return ocppd.Errorf(ocppd.EINVALID, "security profile %d is not 0–3", profile)
	}
	return db.upsertCredentials(ctx, "set security profile", id, at, `security_profile = ?`, profile)
}

// ResolvePendingPassword promotes (accepted) or drops the pending hash if
// it is still hash; ECONFLICT otherwise, ENOTFOUND for an unknown station.
func (db *DB) ResolvePendingPassword(ctx context.Context, id, hash string, accepted bool, at time.Time) error {
	set := `pending_hash = '', pending_since = NULL`
	if accepted {
		set = `password_hash = pending_hash, ` + set
	}
	return db.write(ctx, "resolve pending password", func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE station_credentials SET `+set+`, updated_at = ?
			WHERE charge_point_id = ? AND pending_hash = ? AND pending_hash <> ''`, ms(db.orNow(at)), id, hash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM charge_points WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(id)
		}
		if err != nil {
			return err
		}
		return ocppd.Errorf(ocppd.ECONFLICT, "charge point %q has no such pending password", id)
	})
}

// AddCertificate stores an issued certificate; ENOTFOUND for an unknown
// station, ECONFLICT for a known serial number.
func (db *DB) AddCertificate(ctx context.Context, c store.Certificate) error {
	return db.write(ctx, "add certificate", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO station_certificates
			(serial_number, charge_point_id, use, subject, not_before, not_after, pem, issued_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.SerialNumber, c.ChargePointID, c.Use, c.Subject, ms(c.NotBefore), ms(c.NotAfter), c.PEM, ms(db.orNow(c.IssuedAt)))
		switch {
		case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY):
			return notFound(c.ChargePointID)
		case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY):
			return ocppd.Errorf(ocppd.ECONFLICT, "certificate serial number %s exists", c.SerialNumber)
		}
		return err
	})
}

// ListCertificates returns the station's certificates, newest first.
func (db *DB) ListCertificates(ctx context.Context, id string) ([]store.Certificate, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT serial_number, charge_point_id, use, subject, not_before, not_after, pem, issued_at
		FROM station_certificates WHERE charge_point_id = ? ORDER BY issued_at DESC, serial_number DESC`, id)
	if err != nil {
		return nil, translate("list certificates", err)
	}
	defer rows.Close()
	var out []store.Certificate
	for rows.Next() {
		var (
			c              store.Certificate
			nb, na, issued int64
		)
		if err := rows.Scan(&c.SerialNumber, &c.ChargePointID, &c.Use, &c.Subject, &nb, &na, &c.PEM, &issued); err != nil {
			return nil, translate("list certificates", err)
		}
		c.NotBefore, c.NotAfter, c.IssuedAt = fromMS(nb), fromMS(na), fromMS(issued)
		out = append(out, c)
	}
	return out, translate("list certificates", rows.Err())
}

// AddSecurityEvent appends ev to the station's log; ENOTFOUND for an
// unknown station.
func (db *DB) AddSecurityEvent(ctx context.Context, ev store.SecurityEvent) error {
	return db.write(ctx, "add security event", func(ctx context.Context, tx *sql.Tx) error {
		recv := db.orNow(ev.ReceivedAt)
		ts := ev.Timestamp
		if ts.IsZero() {
			ts = recv
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO security_events (charge_point_id, type, tech_info, timestamp, received_at)
			VALUES (?, ?, ?, ?, ?)`, ev.ChargePointID, ev.Type, ev.TechInfo, ms(ts), ms(recv))
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			return notFound(ev.ChargePointID)
		}
		return err
	})
}

// ListSecurityEvents returns up to limit events of the station, newest
// first; limit ≤ 0 means all.
func (db *DB) ListSecurityEvents(ctx context.Context, id string, limit int) ([]store.SecurityEvent, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.r.QueryContext(ctx, `SELECT charge_point_id, type, tech_info, timestamp, received_at
		FROM security_events WHERE charge_point_id = ? ORDER BY timestamp DESC, id DESC LIMIT ?`, id, limit)
	if err != nil {
		return nil, translate("list security events", err)
	}
	defer rows.Close()
	var out []store.SecurityEvent
	for rows.Next() {
		var (
			ev       store.SecurityEvent
			ts, recv int64
		)
		if err := rows.Scan(&ev.ChargePointID, &ev.Type, &ev.TechInfo, &ts, &recv); err != nil {
			return nil, translate("list security events", err)
		}
		ev.Timestamp, ev.ReceivedAt = fromMS(ts), fromMS(recv)
		out = append(out, ev)
	}
	return out, translate("list security events", rows.Err())
}
