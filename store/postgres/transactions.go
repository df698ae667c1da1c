package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

var _ store.Transactions = (*DB)(nil)

const txColumns = `charge_point_id, transaction_id, protocol, evse, connector, id_token, id_token_type, stop_id_token,
	state, charging_state, started_at, ended_at, meter_start_wh, meter_start_at, meter_stop_wh, meter_stop_at,
	energy_wh, stop_reason, remote_start_id, reservation_id, last_event_at, last_seq_no, updated_at`

func scanTx(r pgx.Row) (store.Transaction, error) {
	var (
		t                                            store.Transaction
		state                                        string
		started, ended, mStartAt, mStopAt, lastEvent *time.Time
	)
	err := r.Scan(&t.ChargePointID, &t.TransactionID, &t.Protocol, &t.EVSE, &t.Connector, &t.IDToken, &t.IDTokenType,
		&t.StopIDToken, &state, &t.ChargingState, &started, &ended, &t.MeterStartWh, &mStartAt, &t.MeterStopWh, &mStopAt,
		&t.EnergyWh, &t.StopReason, &t.RemoteStartID, &t.ReservationID, &lastEvent, &t.LastSeqNo, &t.UpdatedAt)
	if err != nil {
		return t, err
	}
	t.State = store.TransactionState(state)
	t.StartedAt, t.EndedAt = fromNull(started), fromNull(ended)
	t.MeterStartAt, t.MeterStopAt, t.LastEventAt = fromNull(mStartAt), fromNull(mStopAt), fromNull(lastEvent)
	t.UpdatedAt = utc(t.UpdatedAt)
	return t, nil
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
	if u.At.IsZero() {
		u.At = db.opts.Now()
	}
	if u.Timestamp.IsZero() {
		u.Timestamp = u.At
	}
	err := db.write(ctx, "apply transaction update", func(tx pgx.Tx) error {
		out, dup = store.Transaction{}, false
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM charge_points WHERE id = $1`, u.ChargePointID).Scan(&one); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound(u.ChargePointID)
			}
			return err
		}
		id := u.TransactionID
		if id == "" {
			var n int64
			if err := tx.QueryRow(ctx, `SELECT nextval('transaction_ids')`).Scan(&n); err != nil {
				return err
			}
			id = strconv.FormatInt(n, 10)
		}
		// Claim the event key first: a concurrent duplicate waits here
		// for this transaction and then finds the key taken.
		tag, err := tx.Exec(ctx, `INSERT INTO transaction_events
			(charge_point_id, event_key, transaction_id, event_type, timestamp, payload, received_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
			u.ChargePointID, u.EventKey, id, u.EventType, u.Timestamp, string(u.Event), u.At)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			dup = true
			var prior string
			if err := tx.QueryRow(ctx, `SELECT transaction_id FROM transaction_events WHERE charge_point_id = $1 AND event_key = $2`,
				u.ChargePointID, u.EventKey).Scan(&prior); err != nil {
				return err
			}
			out, err = scanTx(tx.QueryRow(ctx, `SELECT `+txColumns+` FROM transactions
				WHERE charge_point_id = $1 AND transaction_id = $2`, u.ChargePointID, prior))
			if errors.Is(err, pgx.ErrNoRows) {
				out = store.Transaction{ChargePointID: u.ChargePointID, TransactionID: prior}
				return nil
			}
			return err
		}
		cur, err := scanTx(tx.QueryRow(ctx, `SELECT `+txColumns+` FROM transactions
			WHERE charge_point_id = $1 AND transaction_id = $2 FOR UPDATE`, u.ChargePointID, id))
		found := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if !found {
			var other string
			err := tx.QueryRow(ctx, `SELECT charge_point_id FROM transactions WHERE transaction_id = $1 LIMIT 1`, id).Scan(&other)
			if err == nil {
				return ocppd.Errorf(ocppd.EFORBIDDEN, "transaction %s belongs to another station", id)
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			cur = store.Transaction{ChargePointID: u.ChargePointID, TransactionID: id, State: store.TransactionActive}
		}
		if u.Apply != nil {
			if err := u.Apply(&cur, found); err != nil {
				return err
			}
		}
		cur.ChargePointID, cur.TransactionID, cur.UpdatedAt = u.ChargePointID, id, u.At
		if cur.State == "" {
			cur.State = store.TransactionActive
		}
		_, err = tx.Exec(ctx, `INSERT INTO transactions (`+txColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)
			ON CONFLICT (charge_point_id, transaction_id) DO UPDATE SET
			protocol = excluded.protocol, evse = excluded.evse, connector = excluded.connector, id_token = excluded.id_token,
			id_token_type = excluded.id_token_type, stop_id_token = excluded.stop_id_token, state = excluded.state,
			charging_state = excluded.charging_state, started_at = excluded.started_at, ended_at = excluded.ended_at,
			meter_start_wh = excluded.meter_start_wh, meter_start_at = excluded.meter_start_at,
			meter_stop_wh = excluded.meter_stop_wh, meter_stop_at = excluded.meter_stop_at, energy_wh = excluded.energy_wh,
			stop_reason = excluded.stop_reason, remote_start_id = excluded.remote_start_id,
			reservation_id = excluded.reservation_id, last_event_at = excluded.last_event_at,
			last_seq_no = excluded.last_seq_no, updated_at = excluded.updated_at`,
			cur.ChargePointID, cur.TransactionID, cur.Protocol, cur.EVSE, cur.Connector, cur.IDToken, cur.IDTokenType,
			cur.StopIDToken, string(cur.State), cur.ChargingState, nullTime(cur.StartedAt), nullTime(cur.EndedAt),
			cur.MeterStartWh, nullTime(cur.MeterStartAt), cur.MeterStopWh, nullTime(cur.MeterStopAt),
			cur.EnergyWh, cur.StopReason, cur.RemoteStartID, cur.ReservationID, nullTime(cur.LastEventAt),
			cur.LastSeqNo, cur.UpdatedAt)
		if err != nil {
			return err
		}
		for i := range u.Samples {
			u.Samples[i].TransactionID = id
		}
		if err := db.insertSamples(ctx, tx, u.Samples); err != nil {
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
	t, err := scanTx(db.pool.QueryRow(ctx, `SELECT `+txColumns+` FROM transactions
		WHERE charge_point_id = $1 AND transaction_id = $2`, cpID, txID))
	if errors.Is(err, pgx.ErrNoRows) {
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
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.ChargePointID != "" {
		arg("charge_point_id = $%d", f.ChargePointID)
	}
	if f.State != "" {
		arg("state = $%d", string(f.State))
	}
	if f.IDToken != "" {
		arg("id_token = $%d", f.IDToken)
	}
	if !f.From.IsZero() {
		arg("started_at >= $%d", f.From)
	}
	if !f.To.IsZero() {
		arg("started_at < $%d", f.To)
	}
	q := `SELECT ` + txColumns + ` FROM transactions`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY started_at DESC NULLS LAST, charge_point_id, transaction_id"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	if f.Offset > 0 {
		q += fmt.Sprintf(" OFFSET %d", f.Offset)
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, translate("list transactions", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Transaction, error) { return scanTx(r) })
	return out, translate("list transactions", err)
}

// insertSamples inserts samples in one statement (arrays unnested), skipping
// those stored before (same identity: the unique index
// meter_values_identity; see store.Transactions).
func (db *DB) insertSamples(ctx context.Context, tx pgx.Tx, samples []store.MeterSample) error {
	if len(samples) == 0 {
		return nil
	}
	now := db.opts.Now()
	n := len(samples)
	var (
		cps, txs, measurands, phases = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		units, locations, contexts   = make([]string, n), make([]string, n), make([]string, n)
		evses, connectors            = make([]int32, n), make([]int32, n)
		times, recvs                 = make([]time.Time, n), make([]time.Time, n)
		vals                         = make([]float64, n)
		signed                       = make([]*string, n)
	)
	for i, s := range samples {
		recv := s.ReceivedAt
		if recv.IsZero() {
			recv = now
		}
		cps[i], txs[i], evses[i], connectors[i], times[i] = s.ChargePointID, s.TransactionID, int32(s.EVSE), int32(s.Connector), s.Timestamp
		measurands[i], phases[i], units[i], locations[i], contexts[i] = s.Measurand, s.Phase, s.Unit, s.Location, s.Context
		vals[i], recvs[i] = s.Value, recv
		if len(s.Signed) > 0 {
			v := string(s.Signed)
			signed[i] = &v
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO meter_values (charge_point_id, transaction_id, evse, connector, timestamp, measurand,
		phase, unit, location, context, value, signed, received_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[], $5::timestamptz[], $6::text[],
			$7::text[], $8::text[], $9::text[], $10::text[], $11::double precision[], $12::jsonb[], $13::timestamptz[])
		ON CONFLICT DO NOTHING`,
		cps, txs, evses, connectors, times, measurands, phases, units, locations, contexts, vals, signed, recvs)
	if isCode(err, codeForeignKeyViolation) {
		return notFound(samples[0].ChargePointID)
	}
	return err
}

// AddMeterSamples appends samples in one statement, skipping those stored
// before. ENOTFOUND for an unknown station.
func (db *DB) AddMeterSamples(ctx context.Context, samples []store.MeterSample) error {
	if len(samples) == 0 {
		return nil
	}
	return db.write(ctx, "add meter samples", func(tx pgx.Tx) error { return db.insertSamples(ctx, tx, samples) })
}

// ListMeterSamples returns the samples matching f, oldest first.
func (db *DB) ListMeterSamples(ctx context.Context, f store.MeterFilter) ([]store.MeterSample, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	where, args := []string{"charge_point_id = $1"}, []any{f.ChargePointID}
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.TransactionID != "" {
		arg("transaction_id = $%d", f.TransactionID)
	}
	if f.Measurand != "" {
		arg("measurand = $%d", f.Measurand)
	}
	if !f.From.IsZero() {
		arg("timestamp >= $%d", f.From)
	}
	if !f.To.IsZero() {
		arg("timestamp < $%d", f.To)
	}
	q := `SELECT charge_point_id, transaction_id, evse, connector, timestamp, measurand, phase, unit, location, context,
		value, signed, received_at FROM meter_values WHERE ` + strings.Join(where, " AND ") + ` ORDER BY timestamp, id`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, translate("list meter samples", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.MeterSample, error) {
		var (
			s      store.MeterSample
			signed []byte
		)
		err := r.Scan(&s.ChargePointID, &s.TransactionID, &s.EVSE, &s.Connector, &s.Timestamp, &s.Measurand, &s.Phase,
			&s.Unit, &s.Location, &s.Context, &s.Value, &signed, &s.ReceivedAt)
		s.Timestamp, s.ReceivedAt = utc(s.Timestamp), utc(s.ReceivedAt)
		if signed != nil {
			s.Signed = json.RawMessage(signed)
		}
		return s, err
	})
	return out, translate("list meter samples", err)
}
