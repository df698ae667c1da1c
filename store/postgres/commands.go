package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

var _ store.Commands = (*DB)(nil)

func commandNotFound(id string) error {
	return ocppd.Errorf(ocppd.ENOTFOUND, "command %q not found", id)
}

// nullJSON is raw JSON for a nullable jsonb column: empty is NULL.
func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
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
	if c.CreatedAt.IsZero() {
		c.CreatedAt = db.opts.Now()
	}
	return db.write(ctx, "add command", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO commands
			(id, charge_point_id, protocol, action, request, state, response, error_code, error_description,
			 error_details, created_at, sent_at, finished_at, deadline, timeout_ms)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			c.ID, c.ChargePointID, c.Protocol, c.Action, string(c.Request), string(c.State), nullJSON(c.Response),
			c.ErrorCode, c.ErrorDescription, nullJSON(c.ErrorDetails), c.CreatedAt,
			nullTime(c.SentAt), nullTime(c.FinishedAt), nullTime(c.Deadline), c.Timeout.Milliseconds())
		switch {
		case isCode(err, codeForeignKeyViolation):
			return notFound(c.ChargePointID)
		case isCode(err, codeUniqueViolation):
			return ocppd.Errorf(ocppd.ECONFLICT, "command %q exists", c.ID)
		}
		return err
	})
}

const commandColumns = `id, charge_point_id, protocol, action, request, state, response, error_code,
	error_description, error_details, created_at, sent_at, finished_at, deadline, timeout_ms`

func scanCommand(r pgx.Row) (store.Command, error) {
	var (
		c                       store.Command
		req, resp, details      []byte
		state                   string
		sent, finished, deadlne *time.Time
		timeout                 int64
	)
	err := r.Scan(&c.ID, &c.ChargePointID, &c.Protocol, &c.Action, &req, &state, &resp, &c.ErrorCode,
		&c.ErrorDescription, &details, &c.CreatedAt, &sent, &finished, &deadlne, &timeout)
	if err != nil {
		return c, err
	}
	c.Request, c.State = json.RawMessage(req), store.CommandState(state)
	if resp != nil {
		c.Response = json.RawMessage(resp)
	}
	if details != nil {
		c.ErrorDetails = json.RawMessage(details)
	}
	c.CreatedAt, c.SentAt, c.FinishedAt, c.Deadline = utc(c.CreatedAt), fromNull(sent), fromNull(finished), fromNull(deadlne)
	c.Timeout = time.Duration(timeout) * time.Millisecond
	return c, nil
}

// GetCommand returns the command; ENOTFOUND if there is none.
func (db *DB) GetCommand(ctx context.Context, id string) (store.Command, error) {
	if err := db.opened(); err != nil {
		return store.Command{}, err
	}
	c, err := scanCommand(db.pool.QueryRow(ctx, `SELECT `+commandColumns+` FROM commands WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, commandNotFound(id)
	}
	return c, translate("get command", err)
}

func collectCommands(rows pgx.Rows) ([]store.Command, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Command, error) { return scanCommand(r) })
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
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.ChargePointID != "" {
		arg("charge_point_id = $%d", f.ChargePointID)
	}
	if f.Action != "" {
		arg("action = $%d", f.Action)
	}
	if f.State != "" {
		arg("state = $%d", string(f.State))
	}
	q := `SELECT ` + commandColumns + ` FROM commands`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, translate("list commands", err)
	}
	out, err := collectCommands(rows)
	return out, translate("list commands", err)
}

// QueuedCommands returns the station's queued commands, oldest first.
func (db *DB) QueuedCommands(ctx context.Context, cpID string) ([]store.Command, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+commandColumns+` FROM commands
		WHERE charge_point_id = $1 AND state = 'queued' ORDER BY created_at, id`, cpID)
	if err != nil {
		return nil, translate("queued commands", err)
	}
	out, err := collectCommands(rows)
	return out, translate("queued commands", err)
}

// commandConflict returns ENOTFOUND if command id does not exist, and
// otherwise ECONFLICT saying why.
func commandConflict(ctx context.Context, tx pgx.Tx, id, why string) error {
	var state string
	err := tx.QueryRow(ctx, `SELECT state FROM commands WHERE id = $1`, id).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return commandNotFound(id)
	}
	if err != nil {
		return err
	}
	return ocppd.Errorf(ocppd.ECONFLICT, "command %q %s (state %s)", id, why, state)
}

// MarkCommandSent moves a queued command to sent. ECONFLICT if it is not
// queued, ENOTFOUND if it does not exist.
func (db *DB) MarkCommandSent(ctx context.Context, id string, at time.Time) error {
	return db.write(ctx, "mark command sent", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE commands
			SET state = 'sent', sent_at = $1, deadline = $1::timestamptz + timeout_ms * interval '1 millisecond'
			WHERE id = $2 AND state = 'queued'`, at, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return commandConflict(ctx, tx, id, "is not queued")
		}
		return nil
	})
}

// FinishCommand records the answer to the station's command id.
func (db *DB) FinishCommand(ctx context.Context, cpID, id string, o store.CommandOutcome) (store.Command, error) {
	if o.State != store.CommandAnswered && o.State != store.CommandFailed {
		return store.Command{}, ocppd.Errorf(ocppd.EINVALID, "command outcome %q is not answered or failed", o.State)
	}
	if (len(o.Response) > 0 && !json.Valid(o.Response)) || (len(o.ErrorDetails) > 0 && !json.Valid(o.ErrorDetails)) {
		return store.Command{}, ocppd.Errorf(ocppd.EINVALID, "command %q: answer is not valid JSON", id)
	}
	if o.At.IsZero() {
		o.At = db.opts.Now()
	}
	var c store.Command
	err := db.write(ctx, "finish command", func(tx pgx.Tx) error {
		var err error
		c, err = scanCommand(tx.QueryRow(ctx, `UPDATE commands
			SET state = $1, response = $2, error_code = $3, error_description = $4, error_details = $5, finished_at = $6
			WHERE id = $7 AND charge_point_id = $8 AND state IN ('queued', 'sent', 'timed_out')
			RETURNING `+commandColumns,
			string(o.State), nullJSON(o.Response), o.ErrorCode, o.ErrorDescription, nullJSON(o.ErrorDetails),
			o.At, id, cpID))
		if errors.Is(err, pgx.ErrNoRows) {
			var owner string
			err := tx.QueryRow(ctx, `SELECT charge_point_id FROM commands WHERE id = $1`, id).Scan(&owner)
			if errors.Is(err, pgx.ErrNoRows) || (err == nil && owner != cpID) {
				return ocppd.Errorf(ocppd.ENOTFOUND, "station %q has no command %q", cpID, id)
			}
			return commandConflict(ctx, tx, id, "is already finished")
		}
		return err
	})
	return c, err
}

// ExpireCommands marks every queued or sent command past its Deadline as
// timed out and returns them. Rows locked by a concurrent caller are
// skipped, so concurrent callers get disjoint sets.
func (db *DB) ExpireCommands(ctx context.Context, now time.Time) ([]store.Command, error) {
	var out []store.Command
	err := db.write(ctx, "expire commands", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE commands SET state = 'timed_out', finished_at = $1
			WHERE id IN (SELECT id FROM commands
				WHERE state IN ('queued', 'sent') AND deadline < $1 FOR UPDATE SKIP LOCKED)
			AND state IN ('queued', 'sent')
			RETURNING `+commandColumns, now)
		if err != nil {
			return err
		}
		out, err = collectCommands(rows)
		return err
	})
	return out, err
}
