package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

var _ store.Transactions = (*DB)(nil)

const txColumns = `charge_point_id, transaction_id, protocol, evse, connector, id_token, id_token_type, stop_id_token,
	state, charging_state, started_at, ended_at, meter_start_wh, meter_start_at, meter_stop_wh, meter_stop_at,
	energy_wh, stop_reason, remote_start_id, reservation_id, last_event_at, last_seq_no, updated_at`

func scanTx(r rowScanner) (store.Transaction, error) {
	var (
		t                                 store.Transaction
		state                             string
		started, ended, mStartAt, mStopAt sql.NullInt64
		lastEvent                         sql.NullInt64
		updated                           int64
		mStart, mStop                     sql.NullFloat64
		remote, reservation               sql.NullInt64
	)
	err := r.Scan(&t.ChargePointID, &t.TransactionID, &t.Protocol, &t.EVSE, &t.Connector, &t.IDToken, &t.IDTokenType,
		&t.StopIDToken, &state, &t.ChargingState, &started, &ended, &mStart, &mStartAt, &mStop, &mStopAt,
		&t.EnergyWh, &t.StopReason, &remote, &reservation, &lastEvent, &t.LastSeqNo, &updated)
	if err != nil {
		return t, err
	}
	t.State = store.TransactionState(state)
	t.StartedAt, t.EndedAt = fromNullMS(started), fromNullMS(ended)
	t.MeterStartAt, t.MeterStopAt, t.LastEventAt = fromNullMS(mStartAt), fromNullMS(mStopAt), fromNullMS(lastEvent)
	t.UpdatedAt = fromMS(updated)
	if mStart.Valid {
		t.MeterStartWh = &mStart.Float64
	}
	if mStop.Valid {
		t.MeterStopWh = &mStop.Float64
	}
	if remote.Valid {
		v := int(remote.Int64)
		t.RemoteStartID = &v
	}
	if reservation.Valid {
		v := int(reservation.Int64)
		t.ReservationID = &v
	}
	return t, nil
}

func nullFloat(p *float64) sql.NullFloat64 {
	if p == nil {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: *p, Valid: true}
}

func nullInt(p *int) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*p), Valid: true}
}

// ApplyTransactionUpdate applies u in one database transaction; see
// store.Transactions.
func (db *DB) ApplyTransactionUpdate(ctx context.Context, u store.TransactionUpdate) (store.Transaction, bool, error) {
	var (
		out store.Transaction
		dup bool
	)
	if len(u.Event) == 0 {
		u.Event = json.RawMessage(`{}`)
	}
	err := db.write(ctx, "apply transaction update", func(ctx context.Context, tx *sql.Tx) error {
		out, dup = store.Transaction{}, false
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM charge_points WHERE id = ?`, u.ChargePointID).Scan(&exists); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFound(u.ChargePointID)
			}
			return err
		}
		// Applied before?
		var prior string
		err := tx.QueryRowContext(ctx, `SELECT transaction_id FROM transaction_events WHERE charge_point_id = ? AND event_key = ?`,
			u.ChargePointID, u.EventKey).Scan(&prior)
		switch {
		case err == nil:
			dup = true
			out, err = scanTx(tx.QueryRowContext(ctx, `SELECT `+txColumns+` FROM transactions
				WHERE charge_point_id = ? AND transaction_id = ?`, u.ChargePointID, prior))
			if errors.Is(err, sql.ErrNoRows) {
				out = store.Transaction{ChargePointID: u.ChargePointID, TransactionID: prior}
				return nil
			}
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		id := u.TransactionID
		if id == "" {
			res, err := tx.ExecContext(ctx, `INSERT INTO transaction_ids DEFAULT VALUES`)
			if err != nil {
				return err
			}
			n, err := res.LastInsertId()
			if err != nil {
				return err
			}
			id = strconv.FormatInt(n, 10)
		}
		cur, err := scanTx(tx.QueryRowContext(ctx, `SELECT `+txColumns+` FROM transactions
			WHERE charge_point_id = ? AND transaction_id = ?`, u.ChargePointID, id))
		found := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if !found {
			var other string
			err := tx.QueryRowContext(ctx, `SELECT charge_point_id FROM transactions WHERE transaction_id = ? LIMIT 1`, id).Scan(&other)
			if err == nil {
				return ocppd.Errorf(ocppd.EFORBIDDEN, "transaction %s belongs to another station", id)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			cur = store.Transaction{ChargePointID: u.ChargePointID, TransactionID: id, State: store.TransactionActive}
		}
		if u.Apply != nil {
			if err := u.Apply(&cur, found); err != nil {
				return err
			}
		}
		cur.ChargePointID, cur.TransactionID, cur.UpdatedAt = u.ChargePointID, id, db.orNow(u.At)
		if cur.State == "" {
			cur.State = store.TransactionActive
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO transactions (`+txColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			cur.ChargePointID, cur.TransactionID, cur.Protocol, cur.EVSE, cur.Connector, cur.IDToken, cur.IDTokenType,
			cur.StopIDToken, string(cur.State), cur.ChargingState, msOrNull(cur.StartedAt), msOrNull(cur.EndedAt),
			nullFloat(cur.MeterStartWh), msOrNull(cur.MeterStartAt), nullFloat(cur.MeterStopWh), msOrNull(cur.MeterStopAt),
			cur.EnergyWh, cur.StopReason, nullInt(cur.RemoteStartID), nullInt(cur.ReservationID), msOrNull(cur.LastEventAt),
			cur.LastSeqNo, ms(cur.UpdatedAt))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO transaction_events
			(charge_point_id, event_key, transaction_id, event_type, timestamp, payload, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			u.ChargePointID, u.EventKey, id, u.EventType, ms(db.orNow(u.Timestamp)), string(u.Event), ms(cur.UpdatedAt))
		if err != nil {
			return err
		}
		for i := range u.Samples {
			u.Samples[i].TransactionID = id
		}
		if err := insertSamples(ctx, tx, db, u.Samples); err != nil {
			return err
		}
		out = cur
		return nil
	})
	return out, dup, err
}

// GetTransaction returns the station's transaction; ENOTFOUND if none.
func (db *DB) GetTransaction(ctx context.Context, cpID, txID string) (store.Transaction, error) {
	if err := db.opened(); err != nil {
		return store.Transaction{}, err
	}
	t, err := scanTx(db.r.QueryRowContext(ctx, `SELECT `+txColumns+` FROM transactions
		WHERE charge_point_id = ? AND transaction_id = ?`, cpID, txID))
	if errors.Is(err, sql.ErrNoRows) {
		return t, ocppd.Errorf(ocppd.ENOTFOUND, "station %q has no transaction %q", cpID, txID)
	}
	return t, translate("get transaction", err)
}

// ListTransactions returns the transactions matching f, newest first.
func (db *DB) ListTransactions(ctx context.Context, f store.TransactionFilter) ([]store.Transaction, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	if f.ChargePointID != "" {
		where, args = append(where, "charge_point_id = ?"), append(args, f.ChargePointID)
	}
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, string(f.State))
	}
	if f.IDToken != "" {
		where, args = append(where, "id_token = ?"), append(args, f.IDToken)
	}
	if !f.From.IsZero() {
		where, args = append(where, "started_at >= ?"), append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "started_at < ?"), append(args, ms(f.To))
	}
	q := `SELECT ` + txColumns + ` FROM transactions`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	q += " ORDER BY started_at DESC, charge_point_id, transaction_id LIMIT ? OFFSET ?"
	rows, err := db.r.QueryContext(ctx, q, append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, translate("list transactions", err)
	}
	defer rows.Close()
	var out []store.Transaction
	for rows.Next() {
		t, err := scanTx(rows)
		if err != nil {
			return nil, translate("list transactions", err)
		}
		out = append(out, t)
	}
	return out, translate("list transactions", rows.Err())
}

func insertSamples(ctx context.Context, tx *sql.Tx, db *DB, samples []store.MeterSample) error {
	if len(samples) == 0 {
		return nil
	}
	// A sample stored before (same identity: the unique index
	// meter_values_identity) is skipped; see store.Transactions.
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO meter_values
		(charge_point_id, transaction_id, evse, connector, timestamp, measurand, phase, unit, location, context, value, signed, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, s := range samples {
		_, err := stmt.ExecContext(ctx, s.ChargePointID, s.TransactionID, s.EVSE, s.Connector, ms(s.Timestamp), s.Measurand,
			s.Phase, s.Unit, s.Location, s.Context, s.Value, nullJSON(s.Signed), ms(db.orNow(s.ReceivedAt)))
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			return notFound(s.ChargePointID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// AddMeterSamples appends samples, skipping those stored before; the
// write is group-committed with whatever else is being written. ENOTFOUND
// for an unknown station.
func (db *DB) AddMeterSamples(ctx context.Context, samples []store.MeterSample) error {
	if len(samples) == 0 {
		return nil
	}
	return db.write(ctx, "add meter samples", func(ctx context.Context, tx *sql.Tx) error {
		return insertSamples(ctx, tx, db, samples)
	})
}

// ListMeterSamples returns the samples matching f, oldest first.
func (db *DB) ListMeterSamples(ctx context.Context, f store.MeterFilter) ([]store.MeterSample, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	where, args := []string{"charge_point_id = ?"}, []any{f.ChargePointID}
	if f.TransactionID != "" {
		where, args = append(where, "transaction_id = ?"), append(args, f.TransactionID)
	}
	if f.Measurand != "" {
		where, args = append(where, "measurand = ?"), append(args, f.Measurand)
	}
	if !f.From.IsZero() {
		where, args = append(where, "timestamp >= ?"), append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "timestamp < ?"), append(args, ms(f.To))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.r.QueryContext(ctx, `SELECT charge_point_id, transaction_id, evse, connector, timestamp, measurand, phase,
		unit, location, context, value, signed, received_at FROM meter_values WHERE `+strings.Join(where, " AND ")+`
		ORDER BY timestamp, id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, translate("list meter samples", err)
	}
	defer rows.Close()
	var out []store.MeterSample
	for rows.Next() {
		var (
			s        store.MeterSample
			ts, recv int64
			signed   sql.NullString
		)
		if err := rows.Scan(&s.ChargePointID, &s.TransactionID, &s.EVSE, &s.Connector, &ts, &s.Measurand, &s.Phase,
			&s.Unit, &s.Location, &s.Context, &s.Value, &signed, &recv); err != nil {
			return nil, translate("list meter samples", err)
		}
		s.Timestamp, s.ReceivedAt = fromMS(ts), fromMS(recv)
		if signed.Valid {
			s.Signed = json.RawMessage(signed.String)
		}
		out = append(out, s)
	}
	return out, translate("list meter samples", rows.Err())
}
