package postgres

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

const cpColumns = `id, registration, registered_at, online, protocol, gateway_id,
	session_id, remote_addr, connected_at, last_seen`

func scanCP(row pgx.Row) (ocppd.ChargePoint, error) {
	var (
		cp                    ocppd.ChargePoint
		connectedAt, lastSeen *time.Time
	)
	err := row.Scan(&cp.ID, &cp.Registration, &cp.RegisteredAt, &cp.Online, &cp.Protocol, &cp.GatewayID,
		&cp.SessionID, &cp.RemoteAddr, &connectedAt, &lastSeen)
	if err != nil {
		return ocppd.ChargePoint{}, err
	}
	cp.RegisteredAt = utc(cp.RegisteredAt)
	cp.ConnectedAt = fromNull(connectedAt)
	cp.LastSeen = fromNull(lastSeen)
	return cp, nil
}

func notFound(id string) error {
	return ocppd.Errorf(ocppd.ENOTFOUND, "charge point %q not found", id)
}

// addChunk bounds the rows of one INSERT statement of AddChargePoints.
const addChunk = 5000

// AddChargePoints registers cps in one transaction, with one INSERT … FROM
// unnest(…) per few thousand stations. If any id exists already, or
// appears twice in cps, nothing is written and the error is ECONFLICT
// naming that id. An empty id is EINVALID.
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
	return db.write(ctx, "add charge points", func(tx pgx.Tx) error {
		for chunk := range slices.Chunk(cps, addChunk) {
			n := len(chunk)
			var (
				ids, regs, protos, gws, sessions, addrs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
				regAt                                   = make([]time.Time, n)
				connAt, lastSeen                        = make([]*time.Time, n), make([]*time.Time, n)
				online                                  = make([]bool, n)
			)
			for i, cp := range chunk {
				ids[i], regs[i], protos[i], gws[i], sessions[i], addrs[i] = cp.ID, string(cp.Registration), cp.Protocol, cp.GatewayID, cp.SessionID, cp.RemoteAddr
				regAt[i], connAt[i], lastSeen[i], online[i] = cp.RegisteredAt, nullTime(cp.ConnectedAt), nullTime(cp.LastSeen), cp.Online
			}
			// ON CONFLICT DO NOTHING rather than catching the unique
			// violation: the ids that were not inserted are the ones
			// that exist, and the error can name one.
			rows, err := tx.Query(ctx, `INSERT INTO charge_points (`+cpColumns+`)
				SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::boolean[], $5::text[],
					$6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[])
				ON CONFLICT (id) DO NOTHING
				RETURNING id`,
				ids, regs, regAt, online, protos, gws, sessions, addrs, connAt, lastSeen)
			if err != nil {
				return err
			}
			inserted, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			if len(inserted) == n {
				continue
			}
			done := make(map[string]bool, len(inserted))
			for _, id := range inserted {
				done[id] = true
			}
			for _, id := range ids {
				if !done[id] {
					return ocppd.Errorf(ocppd.ECONFLICT, "charge point %q already exists", id)
				}
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
	cp, err := scanCP(db.pool.QueryRow(ctx, `SELECT `+cpColumns+` FROM charge_points WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return ocppd.ChargePoint{}, notFound(id)
	}
	if err != nil {
		return ocppd.ChargePoint{}, translate("get charge point", err)
	}
	return cp, nil
}

// likeEscape quotes LIKE's wildcards and its escape character in s so that
// it matches literally. With the "C" collation of the id column, a LIKE
// prefix uses the primary key index.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
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
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if opts.Online != nil {
		where = append(where, "online = "+arg(*opts.Online))
	}
	if opts.Prefix != "" {
		where = append(where, "id LIKE "+arg(likeEscape(opts.Prefix)+"%")+` ESCAPE '\'`)
	}
	if opts.After != "" {
		where = append(where, "id > "+arg(opts.After))
	}
	q := `SELECT ` + cpColumns + ` FROM charge_points`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id`
	if opts.Limit > 0 {
		q += ` LIMIT ` + arg(opts.Limit)
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, translate("list charge points", err)
	}
	cps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ocppd.ChargePoint, error) { return scanCP(r) })
	if err != nil {
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
	err = db.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE online) FROM charge_points`).Scan(&total, &online)
	if err != nil {
		return 0, 0, translate("count charge points", err)
	}
	return total, online, nil
}

// exec1 runs one statement (its own transaction) and returns the number of
// rows it changed.
func (db *DB) exec1(ctx context.Context, op, q string, args ...any) (int64, error) {
	if err := db.opened(); err != nil {
		return 0, err
	}
	tag, err := db.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, translate(op, err)
	}
	return tag.RowsAffected(), nil
}

// DeleteChargePoint removes a station, its shadow and its status rows (by
// cascade); ENOTFOUND for an unknown id.
func (db *DB) DeleteChargePoint(ctx context.Context, id string) error {
	n, err := db.exec1(ctx, "delete charge point", `DELETE FROM charge_points WHERE id = $1`, id)
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
	n, err := db.exec1(ctx, "set registration", `UPDATE charge_points SET registration = $1 WHERE id = $2`, string(status), id)
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
		SET online = true, session_id = $1, gateway_id = $2, protocol = $3, remote_addr = $4, connected_at = $5
		WHERE id = $6`,
		c.SessionID, c.GatewayID, c.Protocol, c.RemoteAddr, nullTime(c.At), c.ChargePointID)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(c.ChargePointID)
	}
	return nil
}

// RecordDisconnected marks the station offline if sessionID is still its
// current session; otherwise, and for unknown ids, it does nothing. The
// row lock of the UPDATE orders it against a concurrent RecordConnected of
// a new session: whichever commits second sees the other's session id.
func (db *DB) RecordDisconnected(ctx context.Context, id, sessionID string, _ time.Time) error {
	_, err := db.exec1(ctx, "record disconnected",
		`UPDATE charge_points SET online = false WHERE id = $1 AND session_id = $2 AND online`, id, sessionID)
	return err
}

// MarkGatewayOffline marks offline every station whose current session is
// held by gatewayID, and returns their ids in order.
func (db *DB) MarkGatewayOffline(ctx context.Context, gatewayID string, _ time.Time) ([]string, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx,
		`UPDATE charge_points SET online = false WHERE gateway_id = $1 AND online RETURNING id`, gatewayID)
	if err != nil {
		return nil, translate("mark gateway offline", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, translate("mark gateway offline", err)
	}
	slices.Sort(ids)
	return ids, nil
}
