package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

var _ store.Reservations = (*DB)(nil)

func reservationNotFound(cpID string, id int) error {
	return ocppd.Errorf(ocppd.ENOTFOUND, "station %q has no reservation %d", cpID, id)
}

// reservationCols selects a reservation; the status is computed with the
// current time as the first argument (an elapsed requested or Accepted
// reservation reads as Expired).
const reservationCols = `charge_point_id, reservation_id, evse, connector, connector_type, id_token, id_token_type,
	group_id, expires_at, CASE WHEN status IN ('requested', 'Accepted') AND expires_at <= ? THEN 'Expired' ELSE status END AS status,
	command_id, requested_at, updated_at`

func scanReservation(r rowScanner) (store.Reservation, error) {
	var (
		v                           store.Reservation
		expires, requested, updated int64
	)
	err := r.Scan(&v.ChargePointID, &v.ReservationID, &v.EVSE, &v.Connector, &v.ConnectorType, &v.IDToken, &v.IDTokenType,
		&v.GroupID, &expires, &v.Status, &v.CommandID, &requested, &updated)
	v.ExpiresAt, v.RequestedAt, v.UpdatedAt = fromMS(expires), fromMS(requested), fromMS(updated)
	return v, err
}

// PutReservation stores r unless the stored one was requested later;
// ENOTFOUND for an unknown station.
func (db *DB) PutReservation(ctx context.Context, r store.Reservation) error {
	return db.write(ctx, "put reservation", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO reservations (charge_point_id, reservation_id, evse, connector, connector_type,
			id_token, id_token_type, group_id, expires_at, status, command_id, requested_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (charge_point_id, reservation_id) DO UPDATE SET evse = excluded.evse, connector = excluded.connector,
			  connector_type = excluded.connector_type, id_token = excluded.id_token, id_token_type = excluded.id_token_type,
			  group_id = excluded.group_id, expires_at = excluded.expires_at, status = excluded.status,
			  command_id = excluded.command_id, requested_at = excluded.requested_at, updated_at = excluded.updated_at
			WHERE excluded.requested_at >= reservations.requested_at`,
			r.ChargePointID, r.ReservationID, r.EVSE, r.Connector, r.ConnectorType, r.IDToken, r.IDTokenType, r.GroupID,
			ms(r.ExpiresAt), r.Status, r.CommandID, ms(db.orNow(r.RequestedAt)), ms(db.orNow(r.UpdatedAt)))
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			return notFound(r.ChargePointID)
		}
		return err
	})
}

// UpdateReservationStatus sets the status if the stored one is in from
// (any if empty); ENOTFOUND if there is no such reservation.
func (db *DB) UpdateReservationStatus(ctx context.Context, cpID string, id int, status string, from []string, at time.Time) (bool, error) {
	changed := false
	err := db.write(ctx, "update reservation status", func(ctx context.Context, tx *sql.Tx) error {
		changed = false
		q := `UPDATE reservations SET status = ?, updated_at = ? WHERE charge_point_id = ? AND reservation_id = ?`
		args := []any{status, ms(db.orNow(at)), cpID, id}
		if len(from) > 0 {
			q += ` AND status IN (?` + strings.Repeat(`, ?`, len(from)-1) + `)`
			for _, f := range from {
				args = append(args, f)
			}
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			changed = true
			return nil
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM reservations WHERE charge_point_id = ? AND reservation_id = ?`, cpID, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return reservationNotFound(cpID, id)
		}
		return err
	})
	return changed, err
}

// GetReservation returns one reservation; ENOTFOUND if unknown.
func (db *DB) GetReservation(ctx context.Context, cpID string, id int) (store.Reservation, error) {
	if err := db.opened(); err != nil {
		return store.Reservation{}, err
	}
	r, err := scanReservation(db.r.QueryRowContext(ctx, `SELECT `+reservationCols+`
		FROM reservations WHERE charge_point_id = ? AND reservation_id = ?`, ms(db.opts.Now()), cpID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, reservationNotFound(cpID, id)
	}
	return r, translate("get reservation", err)
}

// ListReservations returns the reservations matching f, newest request
// first.
func (db *DB) ListReservations(ctx context.Context, f store.ReservationFilter) ([]store.Reservation, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	q := `SELECT * FROM (SELECT ` + reservationCols + ` FROM reservations WHERE (? = '' OR charge_point_id = ?)) AS r
		WHERE (? = '' OR status = ?)`
	args := []any{ms(db.opts.Now()), f.ChargePointID, f.ChargePointID, f.Status, f.Status}
	q += ` ORDER BY requested_at DESC, charge_point_id, reservation_id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate("list reservations", err)
	}
	defer rows.Close()
	var out []store.Reservation
	for rows.Next() {
		r, err := scanReservation(rows)
		if err != nil {
			return nil, translate("list reservations", err)
		}
		out = append(out, r)
	}
	return out, translate("list reservations", rows.Err())
}
