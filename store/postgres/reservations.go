package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

var _ store.Reservations = (*DB)(nil)

func reservationNotFound(cpID string, id int) error {
	return ocppd.Errorf(ocppd.ENOTFOUND, "station %q has no reservation %d", cpID, id)
}

// reservationCols selects a reservation; the status is computed with the
// current time as $1 (an elapsed requested or Accepted reservation reads
// as Expired).
const reservationCols = `charge_point_id, reservation_id, evse, connector, connector_type, id_token, id_token_type,
	group_id, expires_at, CASE WHEN status IN ('requested', 'Accepted') AND expires_at <= $1 THEN 'Expired' ELSE status END AS status,
	command_id, requested_at, updated_at`

func scanReservation(r pgx.Row) (store.Reservation, error) {
	var v store.Reservation
	err := r.Scan(&v.ChargePointID, &v.ReservationID, &v.EVSE, &v.Connector, &v.ConnectorType, &v.IDToken, &v.IDTokenType,
		&v.GroupID, &v.ExpiresAt, &v.Status, &v.CommandID, &v.RequestedAt, &v.UpdatedAt)
	v.ExpiresAt, v.RequestedAt, v.UpdatedAt = utc(v.ExpiresAt), utc(v.RequestedAt), utc(v.UpdatedAt)
	return v, err
}

// PutReservation stores r unless the stored one was requested later;
// ENOTFOUND for an unknown station.
func (db *DB) PutReservation(ctx context.Context, r store.Reservation) error {
	r.RequestedAt, r.UpdatedAt = db.orNow(r.RequestedAt), db.orNow(r.UpdatedAt)
	return db.write(ctx, "put reservation", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO reservations AS v (charge_point_id, reservation_id, evse, connector, connector_type,
			id_token, id_token_type, group_id, expires_at, status, command_id, requested_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (charge_point_id, reservation_id) DO UPDATE SET evse = excluded.evse, connector = excluded.connector,
			  connector_type = excluded.connector_type, id_token = excluded.id_token, id_token_type = excluded.id_token_type,
			  group_id = excluded.group_id, expires_at = excluded.expires_at, status = excluded.status,
			  command_id = excluded.command_id, requested_at = excluded.requested_at, updated_at = excluded.updated_at
			WHERE excluded.requested_at >= v.requested_at`,
			r.ChargePointID, r.ReservationID, r.EVSE, r.Connector, r.ConnectorType, r.IDToken, r.IDTokenType, r.GroupID,
			r.ExpiresAt, r.Status, r.CommandID, r.RequestedAt, r.UpdatedAt)
		if isCode(err, codeForeignKeyViolation) {
			return notFound(r.ChargePointID)
		}
		return err
	})
}

// UpdateReservationStatus sets the status if the stored one is in from
// (any if empty); ENOTFOUND if there is no such reservation.
func (db *DB) UpdateReservationStatus(ctx context.Context, cpID string, id int, status string, from []string, at time.Time) (bool, error) {
	at = db.orNow(at)
	if from == nil {
		from = []string{} // NULL would match nothing
	}
	changed := false
	err := db.write(ctx, "update reservation status", func(tx pgx.Tx) error {
		changed = false
		tag, err := tx.Exec(ctx, `UPDATE reservations SET status = $1, updated_at = $2
			WHERE charge_point_id = $3 AND reservation_id = $4 AND (cardinality($5::text[]) = 0 OR status = ANY($5))`,
			status, at, cpID, id, from)
		if err != nil {
			return err
		}
		if tag.RowsAffected() > 0 {
			changed = true
			return nil
		}
		var one int
		err = tx.QueryRow(ctx, `SELECT 1 FROM reservations WHERE charge_point_id = $1 AND reservation_id = $2`, cpID, id).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
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
	r, err := scanReservation(db.pool.QueryRow(ctx, `SELECT `+reservationCols+`
		FROM reservations WHERE charge_point_id = $2 AND reservation_id = $3`, db.opts.Now(), cpID, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	q := `SELECT * FROM (SELECT ` + reservationCols + ` FROM reservations WHERE ($2 = '' OR charge_point_id = $2)) AS r
		WHERE ($3 = '' OR status = $3) ORDER BY requested_at DESC, charge_point_id, reservation_id`
	args := []any{db.opts.Now(), f.ChargePointID, f.Status}
	if f.Limit > 0 {
		q += ` LIMIT $4`
		args = append(args, f.Limit)
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, translate("list reservations", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Reservation, error) { return scanReservation(r) })
	return out, translate("list reservations", err)
}
