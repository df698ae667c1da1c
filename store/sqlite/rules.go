package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

func ruleNotFound(name string) error {
	return ocppd.Errorf(ocppd.ENOTFOUND, "rule %q not found", name)
}

// bumpRules increments the rules revision inside a rule change.
func bumpRules(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE rules_revision SET revision = revision + 1 WHERE id = 1`)
	return err
}

// CreateRule stores a new rule. ECONFLICT if the name is taken, EINVALID
// if the definition is not JSON.
func (db *DB) CreateRule(ctx context.Context, r store.RuleRecord) error {
	if !json.Valid(r.Definition) {
		return ocppd.Errorf(ocppd.EINVALID, "definition of rule %q is not valid JSON", r.Name)
	}
	return db.write(ctx, "create rule", func(ctx context.Context, tx *sql.Tx) error {
		now := db.opts.Now()
		_, err := tx.ExecContext(ctx, `INSERT INTO rules (name, definition, enabled, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?)`,
			r.Name, string(r.Definition), r.Enabled, ms(orTime(r.CreatedAt, now)), ms(orTime(r.UpdatedAt, now)))
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
			return ocppd.Errorf(ocppd.ECONFLICT, "rule %q exists already", r.Name)
		}
		if err != nil {
			return err
		}
		return bumpRules(ctx, tx)
	})
}

// orTime returns t, or def if t is zero.
func orTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// UpdateRule replaces the definition, enabled flag and UpdatedAt of an
// existing rule. ENOTFOUND for an unknown name.
func (db *DB) UpdateRule(ctx context.Context, r store.RuleRecord) error {
	if !json.Valid(r.Definition) {
		return ocppd.Errorf(ocppd.EINVALID, "definition of rule %q is not valid JSON", r.Name)
	}
	return db.write(ctx, "update rule", func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE rules SET definition = ?, enabled = ?, updated_at = ? WHERE name = ?`,
			string(r.Definition), r.Enabled, ms(db.orNow(r.UpdatedAt)), r.Name)
		return changedRule(ctx, tx, res, err, r.Name)
	})
}

// changedRule checks that a rule statement changed one row and bumps the
// revision.
func changedRule(ctx context.Context, tx *sql.Tx, res sql.Result, err error, name string) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ruleNotFound(name)
	}
	return bumpRules(ctx, tx)
}

const ruleColumns = `name, definition, enabled, created_at, updated_at`

func scanRule(sc interface{ Scan(...any) error }) (store.RuleRecord, error) {
	var (
		r                  store.RuleRecord
		def                string
		created, updatedAt int64
	)
	if err := sc.Scan(&r.Name, &def, &r.Enabled, &created, &updatedAt); err != nil {
		return r, err
	}
	r.Definition = json.RawMessage(def)
	r.CreatedAt, r.UpdatedAt = fromMS(created), fromMS(updatedAt)
	return r, nil
}

// GetRule returns ENOTFOUND for an unknown name.
func (db *DB) GetRule(ctx context.Context, name string) (store.RuleRecord, error) {
	if err := db.opened(); err != nil {
		return store.RuleRecord{}, err
	}
	r, err := scanRule(db.r.QueryRowContext(ctx, `SELECT `+ruleColumns+` FROM rules WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ruleNotFound(name)
	}
	return r, translate("get rule", err)
}

// ListRules returns every rule, ordered by name.
func (db *DB) ListRules(ctx context.Context) ([]store.RuleRecord, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+ruleColumns+` FROM rules ORDER BY name`)
	if err != nil {
		return nil, translate("list rules", err)
	}
	defer rows.Close()
	var out []store.RuleRecord
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, translate("list rules", err)
		}
		out = append(out, r)
	}
	return out, translate("list rules", rows.Err())
}

// SetRuleEnabled enables or disables a rule. ENOTFOUND for an unknown
// name.
func (db *DB) SetRuleEnabled(ctx context.Context, name string, enabled bool, at time.Time) error {
	return db.write(ctx, "enable rule", func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE rules SET enabled = ?, updated_at = ? WHERE name = ?`,
			enabled, ms(db.orNow(at)), name)
		return changedRule(ctx, tx, res, err, name)
	})
}

// DeleteRule removes a rule. ENOTFOUND for an unknown name.
func (db *DB) DeleteRule(ctx context.Context, name string) error {
	return db.write(ctx, "delete rule", func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM rules WHERE name = ?`, name)
		return changedRule(ctx, tx, res, err, name)
	})
}

// RulesRevision returns the number of rule changes so far.
func (db *DB) RulesRevision(ctx context.Context) (int64, error) {
	if err := db.opened(); err != nil {
		return 0, err
	}
	var rev int64
	err := db.r.QueryRowContext(ctx, `SELECT revision FROM rules_revision WHERE id = 1`).Scan(&rev)
	return rev, translate("rules revision", err)
}

// PutTableRows upserts rows in one group-committed transaction; the last
// of duplicates wins.
func (db *DB) PutTableRows(ctx context.Context, rows []store.TableRow) error {
	if err := store.CheckTableRows(rows); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	return db.write(ctx, "put table rows", func(ctx context.Context, tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO rule_table_rows (table_name, key, data, updated_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (table_name, key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, r := range rows {
			if _, err := stmt.ExecContext(ctx, r.Table, r.Key, string(r.Data), ms(db.orNow(r.UpdatedAt))); err != nil {
				return err
			}
		}
		return nil
	})
}

func tableRowNotFound(table, key string) error {
	return ocppd.Errorf(ocppd.ENOTFOUND, "table %q has no row %q", table, key)
}

// GetTableRow returns ENOTFOUND if the table has no row with key.
func (db *DB) GetTableRow(ctx context.Context, table, key string) (store.TableRow, error) {
	if err := db.opened(); err != nil {
		return store.TableRow{}, err
	}
	var (
		data string
		at   int64
	)
	err := db.r.QueryRowContext(ctx, `SELECT data, updated_at FROM rule_table_rows WHERE table_name = ? AND key = ?`,
		table, key).Scan(&data, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return store.TableRow{}, tableRowNotFound(table, key)
	}
	if err != nil {
		return store.TableRow{}, translate("get table row", err)
	}
	return store.TableRow{Table: table, Key: key, Data: json.RawMessage(data), UpdatedAt: fromMS(at)}, nil
}

// ListTableRows returns rows of the table ordered by key.
func (db *DB) ListTableRows(ctx context.Context, table string, opts store.TableListOptions) ([]store.TableRow, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	q := `SELECT key, data, updated_at FROM rule_table_rows WHERE table_name = ?`
	args := []any{table}
	if opts.Prefix != "" {
		q += ` AND key GLOB ?`
		args = append(args, globEscape(opts.Prefix)+"*")
	}
	if opts.After != "" {
		q += ` AND key > ?`
		args = append(args, opts.After)
	}
	q += ` ORDER BY key LIMIT ?`
	limit := opts.Limit
	if limit <= 0 {
		limit = -1
	}
	args = append(args, limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate("list table rows", err)
	}
	defer rows.Close()
	var out []store.TableRow
	for rows.Next() {
		var (
			r    = store.TableRow{Table: table}
			data string
			at   int64
		)
		if err := rows.Scan(&r.Key, &data, &at); err != nil {
			return nil, translate("list table rows", err)
		}
		r.Data, r.UpdatedAt = json.RawMessage(data), fromMS(at)
		out = append(out, r)
	}
	return out, translate("list table rows", rows.Err())
}

// ListTables returns every table that has rows, ordered by name.
func (db *DB) ListTables(ctx context.Context) ([]store.TableInfo, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT table_name, count(*), max(updated_at)
		FROM rule_table_rows GROUP BY table_name ORDER BY table_name`)
	if err != nil {
		return nil, translate("list tables", err)
	}
	defer rows.Close()
	var out []store.TableInfo
	for rows.Next() {
		var (
			ti store.TableInfo
			at int64
		)
		if err := rows.Scan(&ti.Name, &ti.Rows, &at); err != nil {
			return nil, translate("list tables", err)
		}
		ti.UpdatedAt = fromMS(at)
		out = append(out, ti)
	}
	return out, translate("list tables", rows.Err())
}

// DeleteTable removes every row of the table; ENOTFOUND if it has none.
func (db *DB) DeleteTable(ctx context.Context, table string) error {
	return db.write(ctx, "delete table", func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM rule_table_rows WHERE table_name = ?`, table)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		return ocppd.Errorf(ocppd.ENOTFOUND, "table %q not found", table)
	})
}
