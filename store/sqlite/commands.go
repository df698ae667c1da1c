package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

var _ store.Commands = (*DB)(nil)

func commandNotFound(id string) error {
	return ocppd.Errorf(ocppd.ENOTFOUND, "command %q not found", id)
}

// nullJSON is raw JSON for a nullable column: empty is NULL.
func nullJSON(b json.RawMessage) sql.NullString {
	if len(b) == 0 {
		return sql.NullString{}
	}
	return sql.NullString{String: string(b), Valid: true}
}

// AddCommand stores c (State queued unless set). ENOTFOUND for an unknown
// station, ECONFLICT if c.ID exists, EINVALID if c.Request is not JSON.
func (db *DB) AddCommand(ctx context.Context, c store.Command) error {
	if c.State == "" {
		c.State = store.CommandQueued
	}
	if len(c.Request) == 0 {
		c.Request = json.RawMessage(`{}`)
	}
	if !json.Valid(c.Request) {
		return ocppd.Errorf(ocppd.EINVALID, "command %q: request is not valid JSON", c.ID)
	}
	return db.write(ctx, "add command", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO commands
			(id, charge_point_id, protocol, action, request, state, response, error_code, error_description,
			 error_details, created_at, sent_at, finished_at, deadline, timeout_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.ChargePointID, c.Protocol, c.Action, string(c.Request), string(c.State), nullJSON(c.Response),
			c.ErrorCode, c.ErrorDescription, nullJSON(c.ErrorDetails), ms(db.orNow(c.CreatedAt)),
			msOrNull(c.SentAt), msOrNull(c.FinishedAt), msOrNull(c.Deadline), c.Timeout.Milliseconds())
		switch {
		case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY):
			return notFound(c.ChargePointID)
		case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY):
			return ocppd.Errorf(ocppd.ECONFLICT, "command %q exists", c.ID)
		}
		return err
	})
}

const commandColumns = `id, charge_point_id, protocol, action, request, state, response, error_code,
	error_description, error_details, created_at, sent_at, finished_at, deadline, timeout_ms`

type rowScanner interface{ Scan(dest ...any) error }

func scanCommand(r rowScanner) (store.Command, error) {
	var (
		c                       store.Command
		req, state              string
		resp, details           sql.NullString
		created                 int64
		sent, finished, deadlne sql.NullInt64
		timeout                 int64
	)
	err := r.Scan(&c.ID, &c.ChargePointID, &c.Protocol, &c.Action, &req, &state, &resp, &c.ErrorCode,
		&c.ErrorDescription, &details, &created, &sent, &finished, &deadlne, &timeout)
	if err != nil {
		return c, err
	}
	c.Request, c.State = json.RawMessage(req), store.CommandState(state)
	if resp.Valid {
		c.Response = json.RawMessage(resp.String)
	}
	if details.Valid {
		c.ErrorDetails = json.RawMessage(details.String)
	}
	c.CreatedAt, c.SentAt, c.FinishedAt, c.Deadline = fromMS(created), fromNullMS(sent), fromNullMS(finished), fromNullMS(deadlne)
	c.Timeout = time.Duration(timeout) * time.Millisecond
	return c, nil
}

// GetCommand returns the command; ENOTFOUND if there is none.
func (db *DB) GetCommand(ctx context.Context, id string) (store.Command, error) {
	if err := db.opened(); err != nil {
		return store.Command{}, err
	}
	c, err := scanCommand(db.r.QueryRowContext(ctx, `SELECT `+commandColumns+` FROM commands WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, commandNotFound(id)
	}
	return c, translate("get command", err)
}

func (db *DB) queryCommands(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, op, query string, args ...any) ([]store.Command, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, translate(op, err)
	}
	defer rows.Close()
	var out []store.Command
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, translate(op, err)
		}
		out = append(out, c)
	}
	return out, translate(op, rows.Err())
}

// ListCommands returns the commands matching f, newest first.
func (db *DB) ListCommands(ctx context.Context, f store.CommandFilter) ([]store.Command, error) {
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
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, string(f.State))
	}
	q := `SELECT ` + commandColumns + ` FROM commands`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT ?"
	return db.queryCommands(ctx, db.r, "list commands", q, append(args, limit)...)
}

// QueuedCommands returns the station's queued commands, oldest first.
func (db *DB) QueuedCommands(ctx context.Context, cpID string) ([]store.Command, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	return db.queryCommands(ctx, db.r, "queued commands", `SELECT `+commandColumns+` FROM commands
		WHERE charge_point_id = ? AND state = 'queued' ORDER BY created_at, id`, cpID)
}

// MarkCommandSent moves a queued command to sent. ECONFLICT if it is not
// queued, ENOTFOUND if it does not exist.
func (db *DB) MarkCommandSent(ctx context.Context, id string, at time.Time) error {
	return db.write(ctx, "mark command sent", func(ctx context.Context, tx *sql.Tx) error {
		var state string
		err := tx.QueryRowContext(ctx, `UPDATE commands SET state = 'sent', sent_at = ?1, deadline = ?1 + timeout_ms
			WHERE id = ?2 AND state = 'queued' RETURNING state`, ms(at), id).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return db.commandConflict(ctx, tx, id, "is not queued")
		}
		return err
	})
}

// commandConflict returns ENOTFOUND if command id does not exist, and
// otherwise ECONFLICT saying why.
func (db *DB) commandConflict(ctx context.Context, tx *sql.Tx, id, why string) error {
	var state string
	err := tx.QueryRowContext(ctx, `SELECT state FROM commands WHERE id = ?`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return commandNotFound(id)
	}
	if err != nil {
		return err
	}
	return ocppd.Errorf(ocppd.ECONFLICT, "command %q %s (state %s)", id, why, state)
}

// FinishCommand records the answer to the station's command id.
func (db *DB) FinishCommand(ctx context.Context, cpID, id string, o store.CommandOutcome) (store.Command, error) {
	if o.State != store.CommandAnswered && o.State != store.CommandFailed {
		return store.Command{}, ocppd.Errorf(ocppd.EINVALID, "command outcome %q is not answered or failed", o.State)
	}
	if (len(o.Response) > 0 && !json.Valid(o.Response)) || (len(o.ErrorDetails) > 0 && !json.Valid(o.ErrorDetails)) {
		return store.Command{}, ocppd.Errorf(ocppd.EINVALID, "command %q: answer is not valid JSON", id)
	}
	var c store.Command
	err := db.write(ctx, "finish command", func(ctx context.Context, tx *sql.Tx) error {
		var err error
		c, err = scanCommand(tx.QueryRowContext(ctx, `UPDATE commands
			SET state = ?, response = ?, error_code = ?, error_description = ?, error_details = ?, finished_at = ?
			WHERE id = ? AND charge_point_id = ? AND state IN ('queued', 'sent', 'timed_out')
			RETURNING `+commandColumns,
			string(o.State), nullJSON(o.Response), o.ErrorCode, o.ErrorDescription, nullJSON(o.ErrorDetails),
			ms(db.orNow(o.At)), id, cpID))
		if errors.Is(err, sql.ErrNoRows) {
			var owner string
			err := tx.QueryRowContext(ctx, `SELECT charge_point_id FROM commands WHERE id = ?`, id).Scan(&owner)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && owner != cpID) {
				return ocppd.Errorf(ocppd.ENOTFOUND, "station %q has no command %q", cpID, id)
			}
			return db.commandConflict(ctx, tx, id, "is already finished")
		}
		return err
	})
	if err != nil {
		return store.Command{}, err // see ExpireCommands: c may still be written
	}
	return c, nil
}

// ExpireCommands marks every queued or sent command past its Deadline as
// timed out and returns them.
func (db *DB) ExpireCommands(ctx context.Context, now time.Time) ([]store.Command, error) {
	var out []store.Command
	err := db.write(ctx, "expire commands", func(ctx context.Context, tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE commands SET state = 'timed_out', finished_at = ?1
			WHERE state IN ('queued', 'sent') AND deadline IS NOT NULL AND deadline < ?1
			RETURNING `+commandColumns, ms(now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanCommand(rows)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		// Not out: when ctx ended first, write returned without waiting
		// and fn may still be filling it.
		return nil, err
	}
	return out, nil
}
