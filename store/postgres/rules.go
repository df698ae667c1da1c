package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

func ruleNotFound(name string) error {
	return ocppd.Errorf(ocppd.ENOTFOUND, "rule %q not found", name)
}

// changeRule runs one statement that changes a rule and, if it changed a
// row, bumps the revision in the same transaction; ENOTFOUND otherwise.
func (db *DB) changeRule(ctx context.Context, op, name, q string, args ...any) error {
	return db.write(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ruleNotFound(name)
		}
		_, err = tx.Exec(ctx, `UPDATE rules_revision SET revision = revision + 1 WHERE id = 1`)
		return err
	})
}

// orTime returns t, or def if t is zero.
func orTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// CreateRule stores a new rule. ECONFLICT if the name is taken, EINVALID
// if the definition is not JSON.
func (db *DB) CreateRule(ctx context.Context, r store.RuleRecord) error {
	if !json.Valid(r.Definition) {
		return ocppd.Errorf(ocppd.EINVALID, "definition of rule %q is not valid JSON", r.Name)
	}
	now := db.opts.Now()
	err := db.changeRule(ctx, "create rule", r.Name, `INSERT INTO rules (name, definition, enabled, created_at, updated_at)
		VALUES ($1, $2::text::jsonb, $3, $4, $5)`,
		r.Name, string(r.Definition), r.Enabled, orTime(r.CreatedAt, now), orTime(r.UpdatedAt, now))
	if isCode(err, codeUniqueViolation) {
		return ocppd.Errorf(ocppd.ECONFLICT, "rule %q exists already", r.Name)
	}
	return err
}

// UpdateRule replaces the definition, enabled flag and UpdatedAt of an
// existing rule. ENOTFOUND for an unknown name.
func (db *DB) UpdateRule(ctx context.Context, r store.RuleRecord) error {
	if !json.Valid(r.Definition) {
		return ocppd.Errorf(ocppd.EINVALID, "definition of rule %q is not valid JSON", r.Name)
	}
	return db.changeRule(ctx, "update rule", r.Name, `UPDATE rules SET definition = $2::text::jsonb, enabled = $3, updated_at = $4
		WHERE name = $1`, r.Name, string(r.Definition), r.Enabled, orTime(r.UpdatedAt, db.opts.Now()))
}

const ruleColumns = `name, definition::text, enabled, created_at, updated_at`

func scanRule(row pgx.Row) (store.RuleRecord, error) {
	var (
		r   store.RuleRecord
		def []byte
	)
	if err := row.Scan(&r.Name, &def, &r.Enabled, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return r, err
	}
	r.Definition = json.RawMessage(def)
	r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
	return r, nil
}

// GetRule returns ENOTFOUND for an unknown name.
func (db *DB) GetRule(ctx context.Context, name string) (store.RuleRecord, error) {
	if err := db.opened(); err != nil {
		return store.RuleRecord{}, err
	}
	r, err := scanRule(db.pool.QueryRow(ctx, `SELECT `+ruleColumns+` FROM rules WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ruleNotFound(name)
	}
	return r, translate("get rule", err)
}

// ListRules returns every rule, ordered by name.
func (db *DB) ListRules(ctx context.Context) ([]store.RuleRecord, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+ruleColumns+` FROM rules ORDER BY name`)
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
	return db.changeRule(ctx, "enable rule", name, `UPDATE rules SET enabled = $2, updated_at = $3 WHERE name = $1`,
		name, enabled, orTime(at, db.opts.Now()))
}

// DeleteRule removes a rule. ENOTFOUND for an unknown name.
func (db *DB) DeleteRule(ctx context.Context, name string) error {
	return db.changeRule(ctx, "delete rule", name, `DELETE FROM rules WHERE name = $1`, name)
}

// RulesRevision returns the number of rule changes so far.
func (db *DB) RulesRevision(ctx context.Context) (int64, error) {
	if err := db.opened(); err != nil {
		return 0, err
	}
	var rev int64
	err := db.pool.QueryRow(ctx, `SELECT revision FROM rules_revision WHERE id = 1`).Scan(&rev)
	return rev, translate("rules revision", err)
}

// PutTableRows upserts rows with one statement over arrays; the last of
// duplicates wins.
func (db *DB) PutTableRows(ctx context.Context, rows []store.TableRow) error {
	if err := store.CheckTableRows(rows); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	if err := db.opened(); err != nil {
		return err
	}
	// One INSERT … ON CONFLICT may not change a row twice.
	rows = store.LastTableRows(rows)
	tables, keys, data := make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows))
	ats := make([]time.Time, len(rows))
	now := db.opts.Now()
	for i, r := range rows {
		tables[i], keys[i], data[i], ats[i] = r.Table, r.Key, string(r.Data), orTime(r.UpdatedAt, now)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO rule_table_rows (table_name, key, data, updated_at)
		SELECT t, k, d::jsonb, a FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS u(t, k, d, a)
		ON CONFLICT (table_name, key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
		tables, keys, data, ats)
	return translate("put table rows", err)
}

// GetTableRow returns ENOTFOUND if the table has no row with key.
func (db *DB) GetTableRow(ctx context.Context, table, key string) (store.TableRow, error) {
	if err := db.opened(); err != nil {
		return store.TableRow{}, err
	}
	r := store.TableRow{Table: table, Key: key}
	var data []byte
	err := db.pool.QueryRow(ctx, `SELECT data::text, updated_at FROM rule_table_rows WHERE table_name = $1 AND key = $2`,
		table, key).Scan(&data, &r.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.TableRow{}, ocppd.Errorf(ocppd.ENOTFOUND, "table %q has no row %q", table, key)
	}
	if err != nil {
		return store.TableRow{}, translate("get table row", err)
	}
	r.Data, r.UpdatedAt = json.RawMessage(data), utc(r.UpdatedAt)
	return r, nil
}

// ListTableRows returns rows of the table ordered by key.
func (db *DB) ListTableRows(ctx context.Context, table string, opts store.TableListOptions) ([]store.TableRow, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	q := `SELECT key, data::text, updated_at FROM rule_table_rows WHERE table_name = $1`
	args := []any{table}
	if opts.Prefix != "" {
		args = append(args, likeEscape(opts.Prefix)+"%")
		q += ` AND key LIKE $2 ESCAPE '\'`
	}
	if opts.After != "" {
		args = append(args, opts.After)
		q += ` AND key > $` + strconv.Itoa(len(args))
	}
	q += ` ORDER BY key`
	if opts.Limit > 0 {
		args = append(args, opts.Limit)
		q += ` LIMIT $` + strconv.Itoa(len(args))
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, translate("list table rows", err)
	}
	defer rows.Close()
	var out []store.TableRow
	for rows.Next() {
		r := store.TableRow{Table: table}
		var data []byte
		if err := rows.Scan(&r.Key, &data, &r.UpdatedAt); err != nil {
			return nil, translate("list table rows", err)
		}
		r.Data, r.UpdatedAt = json.RawMessage(data), utc(r.UpdatedAt)
		out = append(out, r)
	}
	return out, translate("list table rows", rows.Err())
}

// ListTables returns every table that has rows, ordered by name.
func (db *DB) ListTables(ctx context.Context) ([]store.TableInfo, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT table_name, count(*), max(updated_at)
		FROM rule_table_rows GROUP BY table_name ORDER BY table_name`)
	if err != nil {
		return nil, translate("list tables", err)
	}
	defer rows.Close()
	var out []store.TableInfo
	for rows.Next() {
		var ti store.TableInfo
		if err := rows.Scan(&ti.Name, &ti.Rows, &ti.UpdatedAt); err != nil {
			return nil, translate("list tables", err)
		}
		ti.UpdatedAt = utc(ti.UpdatedAt)
		out = append(out, ti)
	}
	return out, translate("list tables", rows.Err())
}

// DeleteTable removes every row of the table; ENOTFOUND if it has none.
func (db *DB) DeleteTable(ctx context.Context, table string) error {
	n, err := db.exec1(ctx, "delete table", `DELETE FROM rule_table_rows WHERE table_name = $1`, table)
	if err != nil {
		return err
	}
	if n == 0 {
		return ocppd.Errorf(ocppd.ENOTFOUND, "table %q not found", table)
	}
	return nil
}
