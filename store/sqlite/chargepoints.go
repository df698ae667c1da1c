package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

const cpColumns = `id, registration, registered_at, online, protocol, gateway_id,
	session_id, remote_addr, connected_at, last_seen`

type scanner interface{ Scan(dest ...any) error }

func scanCP(s scanner) (ocppd.ChargePoint, error) {
	var (
		cp                      ocppd.ChargePoint
		registeredAt            int64
		connectedAt, lastSeenAt sql.NullInt64
	)
	err := s.Scan(&cp.ID, &cp.Registration, &registeredAt, &cp.Online, &cp.Protocol, &cp.GatewayID,
		&cp.SessionID, &cp.RemoteAddr, &connectedAt, &lastSeenAt)
	if err != nil {
		return ocppd.ChargePoint{}, err
	}
	cp.RegisteredAt = fromMS(registeredAt)
	cp.ConnectedAt = fromNullMS(connectedAt)
	cp.LastSeen = fromNullMS(lastSeenAt)
	return cp, nil
}

func notFound(id string) error {
	return ocppd.Errorf(ocppd.ENOTFOUND, "charge point %q not found", id)
}

// AddChargePoints registers cps in one transaction. If any id exists
// already, or appears twice in cps, nothing is written and the error is
// ECONFLICT naming that id. An empty id is EINVALID.
func (db *DB) AddChargePoints(ctx context.Context, cps []ocppd.ChargePoint) error {
	seen := make(map[string]bool, len(cps))
	for _, cp := range cps {
		if cp.ID == "" {
			return ocppd.Errorf(ocppd.EINVALID, "charge point id is empty")
		}
		if seen[cp.ID] {
			return ocppd.Errorf(ocppd.ECONFLICT, "charge point %q appears twice", cp.ID)
		}
		seen[cp.ID] = true
	}
	if len(cps) == 0 {
		return db.opened()
	}
	return db.write(ctx, "add charge points", func(ctx context.Context, tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO charge_points (`+cpColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, cp := range cps {
			_, err := stmt.ExecContext(ctx, cp.ID, string(cp.Registration), ms(db.orNow(cp.RegisteredAt)), cp.Online,
				cp.Protocol, cp.GatewayID, cp.SessionID, cp.RemoteAddr, msOrNull(cp.ConnectedAt), msOrNull(cp.LastSeen))
			if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
				return ocppd.Errorf(ocppd.ECONFLICT, "charge point %q already exists", cp.ID)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// GetChargePoint returns ENOTFOUND for an unknown id.
func (db *DB) GetChargePoint(ctx context.Context, id string) (ocppd.ChargePoint, error) {
	if err := db.opened(); err != nil {
		return ocppd.ChargePoint{}, err
	}
	row := db.r.QueryRowContext(ctx, `SELECT `+cpColumns+` FROM charge_points WHERE id = ?`, id)
	cp, err := scanCP(row)
	if errors.Is(err, sql.ErrNoRows) {
		return ocppd.ChargePoint{}, notFound(id)
	}
	if err != nil {
		return ocppd.ChargePoint{}, translate("get charge point", err)
	}
	return cp, nil
}

// globEscape quotes the GLOB wildcards in s so that it matches literally.
// GLOB is case-sensitive and, unlike LIKE, can use the primary key index
// for a prefix.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[':
			b.WriteByte('[')
			b.WriteRune(r)
			b.WriteByte(']')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ListChargePoints returns the stations matching opts, ordered by id
// (byte-wise).
func (db *DB) ListChargePoints(ctx context.Context, opts store.ListOptions) ([]ocppd.ChargePoint, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	if opts.Online != nil {
		where = append(where, "online = ?")
		args = append(args, *opts.Online)
	}
	if opts.Prefix != "" {
		where = append(where, "id GLOB ?")
		args = append(args, globEscape(opts.Prefix)+"*")
	}
	if opts.After != "" {
		where = append(where, "id > ?")
		args = append(args, opts.After)
	}
	q := `SELECT ` + cpColumns + ` FROM charge_points`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id`
	if opts.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, opts.Limit)
	}
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate("list charge points", err)
	}
	defer rows.Close()
	var cps []ocppd.ChargePoint
	for rows.Next() {
		cp, err := scanCP(rows)
		if err != nil {
			return nil, translate("list charge points", err)
		}
		cps = append(cps, cp)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("list charge points", err)
	}
	return cps, nil
}

// CountChargePoints returns how many stations exist and how many of them
// are online.
func (db *DB) CountChargePoints(ctx context.Context) (total, online int, err error) {
	if err := db.opened(); err != nil {
		return 0, 0, err
	}
	err = db.r.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(online), 0) FROM charge_points`).Scan(&total, &online)
	if err != nil {
		return 0, 0, translate("count charge points", err)
	}
	return total, online, nil
}

// exec1 runs one statement in its own write transaction and returns the
// number of rows it changed.
func (db *DB) exec1(ctx context.Context, op, q string, args ...any) (int64, error) {
	var n int64
	err := db.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// DeleteChargePoint removes a station, its shadow and its status rows (by
// cascade); ENOTFOUND for an unknown id.
func (db *DB) DeleteChargePoint(ctx context.Context, id string) error {
	n, err := db.exec1(ctx, "delete charge point", `DELETE FROM charge_points WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(id)
	}
	return nil
}

// SetRegistration sets the status answered to BootNotification; ENOTFOUND
// for an unknown id, EINVALID for an undefined status.
func (db *DB) SetRegistration(ctx context.Context, id string, status ocppd.RegistrationStatus) error {
	if !status.Valid() {
		return ocppd.Errorf(ocppd.EINVALID, "registration status %q is not one of Accepted, Pending, Rejected", status)
	}
	n, err := db.exec1(ctx, "set registration", `UPDATE charge_points SET registration = ? WHERE id = ?`, string(status), id)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(id)
	}
	return nil
}

// RecordConnected marks the station online in session c.SessionID, held by
// c.GatewayID. ENOTFOUND for an unknown id.
func (db *DB) RecordConnected(ctx context.Context, c store.Connection) error {
	n, err := db.exec1(ctx, "record connected", `UPDATE charge_points
		SET online = 1, session_id = ?, gateway_id = ?, protocol = ?, remote_addr = ?, connected_at = ?
		WHERE id = ?`,
		c.SessionID, c.GatewayID, c.Protocol, c.RemoteAddr, msOrNull(c.At), c.ChargePointID)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(c.ChargePointID)
	}
	return nil
}

// RecordDisconnected marks the station offline if sessionID is still its
// current session; otherwise, and for unknown ids, it does nothing.
func (db *DB) RecordDisconnected(ctx context.Context, id, sessionID string, _ time.Time) error {
	_, err := db.exec1(ctx, "record disconnected",
		`UPDATE charge_points SET online = 0 WHERE id = ? AND session_id = ? AND online = 1`, id, sessionID)
	return err
}

// MarkGatewayOffline marks offline every station whose current session is
// held by gatewayID, and returns their ids in order.
func (db *DB) MarkGatewayOffline(ctx context.Context, gatewayID string, _ time.Time) ([]string, error) {
	var ids []string
	err := db.write(ctx, "mark gateway offline", func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx,
			`UPDATE charge_points SET online = 0 WHERE gateway_id = ? AND online = 1 RETURNING id`, gatewayID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}
