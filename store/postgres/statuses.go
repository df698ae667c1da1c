package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/ocppd/ocppd"
)

// AddStatus appends ev to the history and makes it the connector's current
// status unless the stored one has a later Timestamp (an event queued by
// the station while offline and delivered late). ENOTFOUND for an unknown
// station.
func (db *DB) AddStatus(ctx context.Context, ev ocppd.StatusEvent) error {
	err := db.write(ctx, "add status", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO status_history
			(charge_point_id, evse, connector, status, error_code, info, timestamp, received_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT DO NOTHING`,
			ev.ChargePointID, ev.EVSE, ev.Connector, ev.Status, ev.ErrorCode, ev.Info, ev.Timestamp, ev.ReceivedAt)
		if isCode(err, codeForeignKeyViolation) {
			return notFound(ev.ChargePointID)
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // stored before (status_history_identity): a redelivery
		}
		_, err = tx.Exec(ctx, `INSERT INTO status_current AS cur
			(charge_point_id, evse, connector, status, error_code, info, timestamp, received_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (charge_point_id, evse, connector) DO UPDATE
			SET status = excluded.status, error_code = excluded.error_code, info = excluded.info,
			    timestamp = excluded.timestamp, received_at = excluded.received_at
			WHERE excluded.timestamp >= cur.timestamp`,
			ev.ChargePointID, ev.EVSE, ev.Connector, ev.Status, ev.ErrorCode, ev.Info, ev.Timestamp, ev.ReceivedAt)
		return err
	})
	return err
}

const statusColumns = `charge_point_id, evse, connector, status, error_code, info, timestamp, received_at`

// queryStatus runs q and scans status events.
func (db *DB) queryStatus(ctx context.Context, op, q string, args ...any) ([]ocppd.StatusEvent, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, translate(op, err)
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ocppd.StatusEvent, error) {
		var ev ocppd.StatusEvent
		err := r.Scan(&ev.ChargePointID, &ev.EVSE, &ev.Connector, &ev.Status, &ev.ErrorCode, &ev.Info, &ev.Timestamp, &ev.ReceivedAt)
		ev.Timestamp, ev.ReceivedAt = utc(ev.Timestamp), utc(ev.ReceivedAt)
		return ev, err
	})
	if err != nil {
		return nil, translate(op, err)
	}
	return evs, nil
}

// CurrentStatus returns the latest status of every connector of the
// station, ordered by EVSE and connector; none for an unknown station.
func (db *DB) CurrentStatus(ctx context.Context, id string) ([]ocppd.StatusEvent, error) {
	return db.queryStatus(ctx, "current status", `SELECT `+statusColumns+`
		FROM status_current WHERE charge_point_id = $1 ORDER BY evse, connector`, id)
}

// StatusHistory returns up to limit events of the station, newest first by
// the station's Timestamp, and among equal timestamps the later arrival
// first. A limit of 0 or less means no limit.
func (db *DB) StatusHistory(ctx context.Context, id string, limit int) ([]ocppd.StatusEvent, error) {
	var lim *int // NULL: no limit
	if limit > 0 {
		lim = &limit
	}
	return db.queryStatus(ctx, "status history", `SELECT `+statusColumns+`
		FROM status_history WHERE charge_point_id = $1 ORDER BY timestamp DESC, id DESC LIMIT $2`, id, lim)
}
