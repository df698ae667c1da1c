package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

var _ store.IDTokens = (*DB)(nil)

func tokenNotFound(token, typ string) error {
	return ocppd.Errorf(ocppd.ENOTFOUND, "id token %q (type %q) not found", token, typ)
}

// PutIDToken adds or replaces the token. EINVALID for an empty token.
func (db *DB) PutIDToken(ctx context.Context, t store.IDToken) error {
	if t.Token == "" {
		return ocppd.Errorf(ocppd.EINVALID, "empty id token")
	}
	return db.write(ctx, "put id token", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO id_tokens
			(token_key, type, token, status, expires_at, group_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			strings.ToLower(t.Token), t.Type, t.Token, t.Status, msOrNull(t.ExpiresAt), t.GroupID, ms(db.orNow(t.UpdatedAt)))
		return err
	})
}

func scanIDToken(r rowScanner) (store.IDToken, error) {
	var (
		t       store.IDToken
		expires sql.NullInt64
		updated int64
	)
	err := r.Scan(&t.Token, &t.Type, &t.Status, &expires, &t.GroupID, &updated)
	t.ExpiresAt, t.UpdatedAt = fromNullMS(expires), fromMS(updated)
	return t, err
}

// GetIDToken returns the token; typ "" matches any type. ENOTFOUND if
// unknown.
func (db *DB) GetIDToken(ctx context.Context, token, typ string) (store.IDToken, error) {
	if err := db.opened(); err != nil {
		return store.IDToken{}, err
	}
	t, err := scanIDToken(db.r.QueryRowContext(ctx, `SELECT token, type, status, expires_at, group_id, updated_at
		FROM id_tokens WHERE token_key = ? AND (? = '' OR type = ?) ORDER BY type LIMIT 1`,
		strings.ToLower(token), typ, typ))
	if errors.Is(err, sql.ErrNoRows) {
		return t, tokenNotFound(token, typ)
	}
	return t, translate("get id token", err)
}

// ListIDTokens returns every token, ordered by token and type.
func (db *DB) ListIDTokens(ctx context.Context) ([]store.IDToken, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT token, type, status, expires_at, group_id, updated_at
		FROM id_tokens ORDER BY token_key, type`)
	if err != nil {
		return nil, translate("list id tokens", err)
	}
	defer rows.Close()
	var out []store.IDToken
	for rows.Next() {
		t, err := scanIDToken(rows)
		if err != nil {
			return nil, translate("list id tokens", err)
		}
		out = append(out, t)
	}
	return out, translate("list id tokens", rows.Err())
}

// DeleteIDToken removes the token; ENOTFOUND if unknown.
func (db *DB) DeleteIDToken(ctx context.Context, token, typ string) error {
	return db.write(ctx, "delete id token", func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM id_tokens WHERE token_key = ? AND type = ?`, strings.ToLower(token), typ)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tokenNotFound(token, typ)
		}
		return nil
	})
}

// SetLocalListVersion records the station's local list version.
func (db *DB) SetLocalListVersion(ctx context.Context, cpID string, version int, at time.Time) error {
	return db.write(ctx, "set local list version", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO local_lists (charge_point_id, version, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (charge_point_id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
			cpID, version, ms(db.orNow(at)))
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			return notFound(cpID)
		}
		return err
	})
}

// LocalListVersion returns the station's local list version, 0 if none.
func (db *DB) LocalListVersion(ctx context.Context, cpID string) (int, error) {
	if err := db.opened(); err != nil {
		return 0, err
	}
	var v sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT l.version FROM charge_points cp
		LEFT JOIN local_lists l ON l.charge_point_id = cp.id WHERE cp.id = ?`, cpID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound(cpID)
	}
	return int(v.Int64), translate("local list version", err)
}
