package store

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/ocppd/ocppd"
)

// RuleRecord is a rule of the rules engine as stored. The store treats the
// definition as opaque JSON; package rules defines and validates it.
type RuleRecord struct {
	Name       string          // unique; chosen by the operator
	Definition json.RawMessage // the rule (statement, actions, …) as JSON
	Enabled    bool
	CreatedAt  time.Time // set by the caller on create, kept by updates
	UpdatedAt  time.Time // set by the caller on every change
}

// TableRow is one row of a rule table: the value an action of kind
// "table" last wrote under Key (the seed's DynamoDB table
// chargePointHeartbeat keyed by chargePointId).
type TableRow struct {
	Table     string
	Key       string
	Data      json.RawMessage // a JSON object
	UpdatedAt time.Time
}

// TableInfo summarises one rule table.
type TableInfo struct {
	Name      string
	Rows      int
	UpdatedAt time.Time // the newest row's UpdatedAt
}

// TableListOptions pages ListTableRows: rows are ordered by key and start
// after After; Prefix, when set, keeps the keys that start with it
// (literally, no wildcards); Limit 0 means no limit.
type TableListOptions struct {
	Prefix string
	After  string
	Limit  int
}

// Rules stores the definitions of the rules engine's rules, shared by every
// process of a cluster, and the tables its "table" actions write. Rule
// tables are not tied to a station: they outlive the stations their keys
// name.
type Rules interface {
	// CreateRule stores a new rule. ECONFLICT if the name is taken,
	// EINVALID if the definition is not JSON.
	CreateRule(ctx context.Context, r RuleRecord) error
	// UpdateRule replaces the definition, enabled flag and UpdatedAt of an
	// existing rule, keeping CreatedAt. ENOTFOUND for an unknown name.
	UpdateRule(ctx context.Context, r RuleRecord) error
	// GetRule returns ENOTFOUND for an unknown name.
	GetRule(ctx context.Context, name string) (RuleRecord, error)
	// ListRules returns every rule, ordered by name.
	ListRules(ctx context.Context) ([]RuleRecord, error)
	// SetRuleEnabled enables or disables a rule and sets its UpdatedAt to
	// at. ENOTFOUND for an unknown name.
	SetRuleEnabled(ctx context.Context, name string, enabled bool, at time.Time) error
	// DeleteRule removes a rule (not the rows its actions wrote).
	// ENOTFOUND for an unknown name.
	DeleteRule(ctx context.Context, name string) error
	// RulesRevision returns a number that changes (increases) with every
	// successful CreateRule, UpdateRule, SetRuleEnabled and DeleteRule, so
	// that engines in other processes can poll it cheaply and reload.
	RulesRevision(ctx context.Context) (int64, error)

	// PutTableRows upserts rows in one transaction: a row replaces the
	// stored row of the same Table and Key; of several rows with the same
	// Table and Key in one call the last wins. EINVALID, and nothing
	// written, if a row has an empty Table or Key or Data that is not a
	// JSON object. A zero UpdatedAt means now.
	PutTableRows(ctx context.Context, rows []TableRow) error
	// GetTableRow returns ENOTFOUND if the table has no row with key.
	GetTableRow(ctx context.Context, table, key string) (TableRow, error)
	// ListTableRows returns rows of the table ordered by key (byte-wise);
	// none for an unknown table.
	ListTableRows(ctx context.Context, table string, opts TableListOptions) ([]TableRow, error)
	// ListTables returns every table that has rows, ordered by name.
	ListTables(ctx context.Context) ([]TableInfo, error)
	// DeleteTable removes every row of the table; ENOTFOUND if it has
	// none.
	DeleteTable(ctx context.Context, table string) error
}

// CheckTableRows returns the EINVALID error PutTableRows gives for rows
// with an empty Table or Key or with Data that is not a JSON object; the
// adapters share it.
func CheckTableRows(rows []TableRow) error {
	for _, r := range rows {
		if r.Table == "" || r.Key == "" {
			return ocppd.Errorf(ocppd.EINVALID, "table row: empty table name or key (table %q, key %q)", r.Table, r.Key)
		}
		d := bytes.TrimLeft(r.Data, " \t\r\n")
		if len(d) == 0 || d[0] != '{' || !json.Valid(d) {
			return ocppd.Errorf(ocppd.EINVALID, "table %q key %q: data is not a JSON object", r.Table, r.Key)
		}
	}
	return nil
}

// LastTableRows returns rows without the earlier of several rows with the
// same Table and Key, keeping the order of the survivors; the adapters use
// it so that the last of duplicates wins.
func LastTableRows(rows []TableRow) []TableRow {
	type tk struct{ t, k string }
	last := make(map[tk]int, len(rows))
	for i, r := range rows {
		last[tk{r.Table, r.Key}] = i
	}
	if len(last) == len(rows) {
		return rows
	}
	out := make([]TableRow, 0, len(last))
	for i, r := range rows {
		if last[tk{r.Table, r.Key}] == i {
			out = append(out, r)
		}
	}
	return out
}
