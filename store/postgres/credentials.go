package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

var _ store.Security = (*DB)(nil)

// orNow returns t, or the current time if t is zero.
func (db *DB) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return db.opts.Now()
	}
	return t
}

// GetCredentials returns the station's credentials (only ChargePointID set
// when it has none); ENOTFOUND for an unknown station.
func (db *DB) GetCredentials(ctx context.Context, id string) (store.Credentials, error) {
	if err := db.opened(); err != nil {
		return store.Credentials{}, err
	}
	var (
		hash, pending, serial *string
		since, updated        *time.Time
		profile               *int16
	)
	err := db.pool.QueryRow(ctx, `SELECT c.password_hash, c.pending_hash, c.pending_since, c.serial_number, c.security_profile, c.updated_at
		FROM charge_points p LEFT JOIN station_credentials c ON c.charge_point_id = p.id
		WHERE p.id = $1`, id).Scan(&hash, &pending, &since, &serial, &profile, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Credentials{}, notFound(id)
	}
	if err != nil {
		return store.Credentials{}, translate("get credentials", err)
	}
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	c := store.Credentials{
		ChargePointID: id,
		PasswordHash:  deref(hash),
		PendingHash:   deref(pending),
		PendingSince:  utc(fromNull(since)),
		SerialNumber:  deref(serial),
		UpdatedAt:     utc(fromNull(updated)),
	}
	if profile != nil {
		c.SecurityProfile = int(*profile)
	}
	return c, nil
}

// upsertCredentials runs an INSERT … ON CONFLICT statement on the
// station's credentials row, translating a missing station to ENOTFOUND.
func (db *DB) upsertCredentials(ctx context.Context, op, id, q string, args ...any) error {
	return db.write(ctx, op, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, q, args...)
		if isCode(err, codeForeignKeyViolation) {
			return notFound(id)
		}
		return err
	})
}

// SetPassword makes hash the current password hash and drops a pending
// one; ENOTFOUND for an unknown station.
func (db *DB) SetPassword(ctx context.Context, id, hash string, at time.Time) error {
	return db.upsertCredentials(ctx, "set password", id, `INSERT INTO station_credentials
		(charge_point_id, password_hash, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (charge_point_id) DO UPDATE
		SET password_hash = excluded.password_hash, pending_hash = '', pending_since = NULL, updated_at = excluded.updated_at`,
		id, hash, db.orNow(at))
}

// SetPendingPassword records the password being sent to the station;
// ENOTFOUND for an unknown station.
func (db *DB) SetPendingPassword(ctx context.Context, id, hash string, at time.Time) error {
	at = db.orNow(at)
	return db.upsertCredentials(ctx, "set pending password", id, `INSERT INTO station_credentials
		(charge_point_id, pending_hash, pending_since, updated_at) VALUES ($1, $2, $3, $3)
		ON CONFLICT (charge_point_id) DO UPDATE
		SET pending_hash = excluded.pending_hash, pending_since = excluded.pending_since, updated_at = excluded.updated_at`,
		id, hash, at)
}

// SetSerialNumber sets the certificate CN expected under profile 3;
// ENOTFOUND for an unknown station.
func (db *DB) SetSerialNumber(ctx context.Context, id, serial string, at time.Time) error {
	return db.upsertCredentials(ctx, "set serial number", id, `INSERT INTO station_credentials
		(charge_point_id, serial_number, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (charge_point_id) DO UPDATE
		SET serial_number = excluded.serial_number, updated_at = excluded.updated_at`,
		id, serial, db.orNow(at))
}

// RaiseSecurityProfile makes profile the station's lowest allowed security
// profile if it is higher; ENOTFOUND for an unknown station.
func (db *DB) RaiseSecurityProfile(ctx context.Context, id string, profile int, at time.Time) (bool, error) {
	if profile < 0 || profile > 3 {
		return false, ocppd.Errorf(ocppd.EINVALID, "security profile %d is not 0–3", profile)
	}
	var raised bool
	err := db.write(ctx, "raise security profile", func(tx pgx.Tx) error {
		raised = false
		// The INSERT creates the row (at profile) or, on conflict, raises
		// an existing lower one; RETURNING yields a row only when it wrote.
		rows, err := tx.Query(ctx, `INSERT INTO station_credentials AS c (charge_point_id, security_profile, updated_at)
			VALUES ($1, $2, $3)
			ON CONFLICT (charge_point_id) DO UPDATE
			SET security_profile = excluded.security_profile, updated_at = excluded.updated_at
			WHERE c.security_profile < excluded.security_profile
			RETURNING 1`, id, profile, db.orNow(at))
		if err != nil {
			return err
		}
		raised = rows.Next()
		rows.Close()
		if err := rows.Err(); err != nil {
			if isCode(err, codeForeignKeyViolation) {
				return notFound(id)
			}
			return err
		}
		raised = raised && profile > 0
		return nil
	})
	return raised, err
}

// SetSecurityProfile sets the station's lowest allowed security profile;
// EINVALID outside 0–3, ENOTFOUND for an unknown station.
func (db *DB) SetSecurityProfile(ctx context.Context, id string, profile int, at time.Time) error {
	if profile < 0 || profile > 3 {
		return ocppd.Errorf(ocppd.EINVALID, "security profile %d is not 0–3", profile)
	}
	return db.upsertCredentials(ctx, "set security profile", id, `INSERT INTO station_credentials
		(charge_point_id, security_profile, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (charge_point_id) DO UPDATE
		SET security_profile = excluded.security_profile, updated_at = excluded.updated_at`,
		id, profile, db.orNow(at))
}

// ResolvePendingPassword promotes (accepted) or drops the pending hash if
// it is still hash; ECONFLICT otherwise, ENOTFOUND for an unknown station.
func (db *DB) ResolvePendingPassword(ctx context.Context, id, hash string, accepted bool, at time.Time) error {
	set := `pending_hash = '', pending_since = NULL`
	if accepted {
		set = `password_hash = pending_hash, ` + set
	}
	return db.write(ctx, "resolve pending password", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE station_credentials SET `+set+`, updated_at = $1
			WHERE charge_point_id = $2 AND pending_hash = $3 AND pending_hash <> ''`, db.orNow(at), id, hash)
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		var one int
		err = tx.QueryRow(ctx, `SELECT 1 FROM charge_points WHERE id = $1`, id).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
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
	return db.write(ctx, "add certificate", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO station_certificates
			(serial_number, charge_point_id, use, subject, not_before, not_after, pem, issued_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			c.SerialNumber, c.ChargePointID, c.Use, c.Subject, c.NotBefore, c.NotAfter, c.PEM, db.orNow(c.IssuedAt))
		switch {
		case isCode(err, codeForeignKeyViolation):
			return notFound(c.ChargePointID)
		case isCode(err, codeUniqueViolation):
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
	rows, err := db.pool.Query(ctx, `SELECT serial_number, charge_point_id, use, subject, not_before, not_after, pem, issued_at
		FROM station_certificates WHERE charge_point_id = $1 ORDER BY issued_at DESC, serial_number DESC`, id)
	if err != nil {
		return nil, translate("list certificates", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Certificate, error) {
		var c store.Certificate
		err := r.Scan(&c.SerialNumber, &c.ChargePointID, &c.Use, &c.Subject, &c.NotBefore, &c.NotAfter, &c.PEM, &c.IssuedAt)
		c.NotBefore, c.NotAfter, c.IssuedAt = utc(c.NotBefore), utc(c.NotAfter), utc(c.IssuedAt)
		return c, err
	})
	if err != nil {
		return nil, translate("list certificates", err)
	}
	return out, nil
}

// AddSecurityEvent appends ev to the station's log; ENOTFOUND for an
// unknown station.
func (db *DB) AddSecurityEvent(ctx context.Context, ev store.SecurityEvent) error {
	recv := db.orNow(ev.ReceivedAt)
	ts := ev.Timestamp
	if ts.IsZero() {
		ts = recv
	}
	return db.write(ctx, "add security event", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO security_events (charge_point_id, type, tech_info, timestamp, received_at)
			VALUES ($1, $2, $3, $4, $5)`, ev.ChargePointID, ev.Type, ev.TechInfo, ts, recv)
		if isCode(err, codeForeignKeyViolation) {
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
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := db.pool.Query(ctx, `SELECT charge_point_id, type, tech_info, timestamp, received_at
		FROM security_events WHERE charge_point_id = $1 ORDER BY timestamp DESC, id DESC LIMIT $2`, id, lim)
	if err != nil {
		return nil, translate("list security events", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.SecurityEvent, error) {
		var ev store.SecurityEvent
		err := r.Scan(&ev.ChargePointID, &ev.Type, &ev.TechInfo, &ev.Timestamp, &ev.ReceivedAt)
		ev.Timestamp, ev.ReceivedAt = utc(ev.Timestamp), utc(ev.ReceivedAt)
		return ev, err
	})
	if err != nil {
		return nil, translate("list security events", err)
	}
	return out, nil
}
