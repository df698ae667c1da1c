package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = db.opts.Now()
	}
	return db.write(ctx, "put id token", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO id_tokens (token_key, type, token, status, expires_at, group_id, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (token_key, type) DO UPDATE SET token = excluded.token, status = excluded.status,
			expires_at = excluded.expires_at, group_id = excluded.group_id, updated_at = excluded.updated_at`,
			strings.ToLower(t.Token), t.Type, t.Token, t.Status, nullTime(t.ExpiresAt), t.GroupID, t.UpdatedAt)
		return err
	})
}

func scanIDToken(r pgx.Row) (store.IDToken, error) {
	var (
		t       store.IDToken
		expires *time.Time
	)
	err := r.Scan(&t.Token, &t.Type, &t.Status, &expires, &t.GroupID, &t.UpdatedAt)
	t.ExpiresAt, t.UpdatedAt = fromNull(expires), utc(t.UpdatedAt)
	return t, err
}

// GetIDToken returns the token; typ "" matches any type. ENOTFOUND if
// unknown.
func (db *DB) GetIDToken(ctx context.Context, token, typ string) (store.IDToken, error) {
	if err := db.opened(); err != nil {
		return store.IDToken{}, err
	}
	t, err := scanIDToken(db.pool.QueryRow(ctx, `SELECT token, type, status, expires_at, group_id, updated_at
		FROM id_tokens WHERE token_key = $1 AND ($2 = '' OR type = $2) ORDER BY type LIMIT 1`, strings.ToLower(token), typ))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, tokenNotFound(token, typ)
	}
	return t, translate("get id token", err)
}

// ListIDTokens returns every token, ordered by token and type.
func (db *DB) ListIDTokens(ctx context.Context) ([]store.IDToken, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT token, type, status, expires_at, group_id, updated_at
		FROM id_tokens ORDER BY token_key, type`)
	if err != nil {
		return nil, translate("list id tokens", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.IDToken, error) { return scanIDToken(r) })
	return out, translate("list id tokens", err)
}

// DeleteIDToken removes the token; ENOTFOUND if unknown.
func (db *DB) DeleteIDToken(ctx context.Context, token, typ string) error {
	return db.write(ctx, "delete id token", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM id_tokens WHERE token_key = $1 AND type = $2`, strings.ToLower(token), typ)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return tokenNotFound(token, typ)
		}
		return nil
	})
}

// SetLocalListVersion records the station's local list version.
func (db *DB) SetLocalListVersion(ctx context.Context, cpID string, version int, at time.Time) error {
	if at.IsZero() {
		at = db.opts.Now()
	}
	return db.write(ctx, "set local list version", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO local_lists (charge_point_id, version, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (charge_point_id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
			cpID, version, at)
		if isCode(err, codeForeignKeyViolation) {
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
	var v *int
	err := db.pool.QueryRow(ctx, `SELECT l.version FROM charge_points cp
		LEFT JOIN local_lists l ON l.charge_point_id = cp.id WHERE cp.id = $1`, cpID).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, notFound(cpID)
	}
	if err != nil {
		return 0, translate("local list version", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}
