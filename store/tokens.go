package store

import (
	"context"
	"time"
)

// Token is an operator API token as stored. The secret itself is never
// stored: only its SHA-256 hash, which the API recomputes from the bearer
// token of each request and looks up with TokenByHash.
type Token struct {
	// ID is the token's public id, shown by "ocppd token list" and usable
	// to revoke it; unique.
	ID string `json:"id"`
	// Name says what the token is for (a person, a dashboard). At most
	// one active token has a given name; a revoked token's name may be
	// used again.
	Name string `json:"name"`
	// Hash is the SHA-256 of the secret token; unique.
	Hash []byte `json:"-"`
	// ReadOnly tokens may only read (GET requests).
	ReadOnly  bool      `json:"readOnly"`
	CreatedAt time.Time `json:"createdAt"`
	// RevokedAt is when the token was revoked; zero while it is active.
	RevokedAt time.Time `json:"revokedAt,omitzero"`
}

// Active reports whether the token has not been revoked.
func (t Token) Active() bool { return t.RevokedAt.IsZero() }

// Tokens stores the operator API's bearer tokens.
type Tokens interface {
	// CreateToken stores t. EINVALID if its ID, Name or Hash is empty;
	// ECONFLICT if its ID or Hash exists already, or an active token has
	// the same Name.
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash returns the token, active or revoked, whose hash is
	// hash; ENOTFOUND if there is none.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	// ListTokens returns every token, revoked ones included, oldest
	// first (ties by id).
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken revokes the active token whose ID is ref or, if there is
	// none, the active token named ref, as of at, and returns it.
	// ENOTFOUND if no active token matches.
	RevokeToken(ctx context.Context, ref string, at time.Time) (Token, error)
}
