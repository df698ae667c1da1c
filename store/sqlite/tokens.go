package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

const tokenColumns = `id, name, hash, read_only, created_at, revoked_at`

func scanToken(s scanner) (store.Token, error) {
	var (
		t         store.Token
		createdAt int64
		revokedAt sql.NullInt64
	)
	if err := s.Scan(&t.ID, &t.Name, &t.Hash, &t.ReadOnly, &createdAt, &revokedAt); err != nil {
		return store.Token{}, err
	}
	t.CreatedAt = fromMS(createdAt)
	t.RevokedAt = fromNullMS(revokedAt)
	return t, nil
}

// CreateToken stores t. EINVALID if its ID, Name or Hash is empty;
// ECONFLICT if its ID or Hash exists already, or an active token has the
// same Name. A zero CreatedAt is set to Options.Now.
func (db *DB) CreateToken(ctx context.Context, t store.Token) error {
	if err := validToken(t); err != nil {
		return err
	}
	return db.write(ctx, "create token", func(ctx context.Context, tx *sql.Tx) error {
		var n int
		err := tx.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens WHERE name = ? AND revoked_at IS NULL`, t.Name).Scan(&n)
		if err != nil {
			return err
		}
		if n > 0 {
			return ocppd.Errorf(ocppd.ECONFLICT, "an active token named %q exists", t.Name)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO api_tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, t.Name, t.Hash, t.ReadOnly, ms(db.orNow(t.CreatedAt)), msOrNull(t.RevokedAt))
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) || isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
			return ocppd.Errorf(ocppd.ECONFLICT, "token %q exists already", t.ID)
		}
		return err
	})
}

// validToken checks the fields CreateToken requires.
func validToken(t store.Token) error {
	switch {
	case t.ID == "":
		return ocppd.Errorf(ocppd.EINVALID, "token id is empty")
	case t.Name == "":
		return ocppd.Errorf(ocppd.EINVALID, "token name is empty")
	case len(t.Hash) == 0:
		return ocppd.Errorf(ocppd.EINVALID, "token hash is empty")
	}
	return nil
}

// TokenByHash returns the token, active or revoked, whose hash is hash;
// ENOTFOUND if there is none.
func (db *DB) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	if err := db.opened(); err != nil {
		return store.Token{}, err
	}
	t, err := scanToken(db.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := db.r.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY created_at, id`)
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
	var t store.Token
	err := db.write(ctx, "revoke token", func(ctx context.Context, tx *sql.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens
			WHERE revoked_at IS NULL AND (id = ?1 OR name = ?1)
			ORDER BY id = ?1 DESC LIMIT 1`, ref))
		if errors.Is(err, sql.ErrNoRows) {
			return ocppd.Errorf(ocppd.ENOTFOUND, "no active token with id or name %q", ref)
		}
		if err != nil {
			return err
		}
		t.RevokedAt = fromMS(ms(db.orNow(at)))
		_, err = tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ?`, ms(t.RevokedAt), t.ID)
		return err
	})
	if err != nil {
		return store.Token{}, err
	}
	return t, nil
}
