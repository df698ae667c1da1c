package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

const tokenColumns = `id, name, hash, read_only, created_at, revoked_at`

func scanToken(row pgx.Row) (store.Token, error) {
	var (
		t         store.Token
		revokedAt *time.Time
	)
	if err := row.Scan(&t.ID, &t.Name, &t.Hash, &t.ReadOnly, &t.CreatedAt, &revokedAt); err != nil {
		return store.Token{}, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	t.RevokedAt = fromNull(revokedAt)
	return t, nil
}

// CreateToken stores t. EINVALID if its ID, Name or Hash is empty;
// ECONFLICT if its ID or Hash exists already, or an active token has the
// same Name (enforced by a partial unique index). A zero CreatedAt is set
// to Options.Now.
func (db *DB) CreateToken(ctx context.Context, t store.Token) error {
	switch {
	case t.ID == "":
		return ocppd.Errorf(ocppd.EINVALID, "token id is empty")
	case t.Name == "":
		return ocppd.Errorf(ocppd.EINVALID, "token name is empty")
	case len(t.Hash) == 0:
		return ocppd.Errorf(ocppd.EINVALID, "token hash is empty")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = db.opts.Now()
	}
	_, err := db.exec1(ctx, "create token", `INSERT INTO api_tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.Name, t.Hash, t.ReadOnly, t.CreatedAt, nullTime(t.RevokedAt))
	if isCode(err, codeUniqueViolation) {
		if n, _ := db.countActiveNamed(ctx, t.Name); n > 0 {
			return ocppd.Errorf(ocppd.ECONFLICT, "an active token named %q exists", t.Name)
		}
		return ocppd.Errorf(ocppd.ECONFLICT, "token %q exists already", t.ID)
	}
	return err
}

func (db *DB) countActiveNamed(ctx context.Context, name string) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM api_tokens WHERE name = $1 AND revoked_at IS NULL`, name).Scan(&n)
	return n, err
}

// TokenByHash returns the token, active or revoked, whose hash is hash;
// ENOTFOUND if there is none.
func (db *DB) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	if err := db.opened(); err != nil {
		return store.Token{}, err
	}
	t, err := scanToken(db.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Token{}, ocppd.Errorf(ocppd.ENOTFOUND, "no such token")
	}
	if err != nil {
		return store.Token{}, translate("get token", err)
	}
	return t, nil
}

// ListTokens returns every token, revoked ones included, oldest first
// (ties by id).
func (db *DB) ListTokens(ctx context.Context) ([]store.Token, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, translate("list tokens", err)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, translate("list tokens", err)
		}
		out = append(out, t)
	}
	return out, translate("list tokens", rows.Err())
}

// RevokeToken revokes the active token whose ID is ref or, if there is
// none, the active token named ref, as of at (Options.Now if zero), and
// returns it. ENOTFOUND if no active token matches.
func (db *DB) RevokeToken(ctx context.Context, ref string, at time.Time) (store.Token, error) {
	if at.IsZero() {
		at = db.opts.Now()
	}
	var t store.Token
	err := db.write(ctx, "revoke token", func(tx pgx.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRow(ctx, `UPDATE api_tokens SET revoked_at = $2
			WHERE id = (SELECT id FROM api_tokens WHERE revoked_at IS NULL AND (id = $1 OR name = $1)
			            ORDER BY id = $1 DESC LIMIT 1)
			RETURNING `+tokenColumns, ref, at))
		if errors.Is(err, pgx.ErrNoRows) {
			return ocppd.Errorf(ocppd.ENOTFOUND, "no active token with id or name %q", ref)
		}
		return err
	})
	if err != nil {
		return store.Token{}, err
	}
	return t, nil
}
