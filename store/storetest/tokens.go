package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// testTokens checks the operator API token store: create, look up by hash,
// list, revoke by id or name, and the conflicts on ids, hashes and active
// names.
func testTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	hash := func(secret string) []byte { h := sha256.Sum256([]byte(secret)); return h[:] }
	tok := func(id, name, secret string, sec int) store.Token {
		return store.Token{ID: id, Name: name, Hash: hash(secret), CreatedAt: at(sec)}
	}

	if got, err := s.ListTokens(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ListTokens on an empty store = %v, %v; want none", got, err)
	}
	if _, err := s.TokenByHash(ctx, hash("nothing")); ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		t.Fatalf("TokenByHash(unknown) = %v, want ENOTFOUND", err)
	}

	a := tok("ta", "alice", "secret-a", 0)
	b := tok("tb", "grafana", "secret-b", 1)
	b.ReadOnly = true
	for _, x := range []store.Token{a, b} {
		if err := s.CreateToken(ctx, x); err != nil {
			t.Fatalf("CreateToken(%s): %v", x.ID, err)
		}
	}
	for _, tc := range []struct {
		name string
		tok  store.Token
		code string
	}{
		{"same id", tok("ta", "other", "secret-x", 2), ocppd.ECONFLICT},
		{"same hash", tok("tx", "other", "secret-a", 2), ocppd.ECONFLICT},
		{"same active name", tok("tx", "alice", "secret-x", 2), ocppd.ECONFLICT},
		{"empty id", tok("", "n", "secret-x", 2), ocppd.EINVALID},
		{"empty name", tok("tx", "", "secret-x", 2), ocppd.EINVALID},
		{"empty hash", store.Token{ID: "tx", Name: "n", CreatedAt: at(2)}, ocppd.EINVALID},
	} {
		if err := s.CreateToken(ctx, tc.tok); ocppd.ErrorCode(err) != tc.code {
			t.Errorf("CreateToken with %s = %v, want %s", tc.name, err, tc.code)
		}
	}

	got, err := s.TokenByHash(ctx, hash("secret-b"))
	if err != nil {
		t.Fatalf("TokenByHash: %v", err)
	}
	if got.ID != "tb" || got.Name != "grafana" || !got.ReadOnly || !bytes.Equal(got.Hash, b.Hash) ||
		!got.CreatedAt.Equal(at(1)) || got.CreatedAt.Location().String() != "UTC" || !got.Active() {
		t.Errorf("TokenByHash = %+v, want %+v", got, b)
	}

	list, err := s.ListTokens(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "ta" || list[1].ID != "tb" {
		t.Fatalf("ListTokens = %+v, %v; want ta, tb", list, err)
	}

	// Revoke by name, then by id.
	r, err := s.RevokeToken(ctx, "alice", at(10))
	if err != nil || r.ID != "ta" || !r.RevokedAt.Equal(at(10)) {
		t.Fatalf("RevokeToken(alice) = %+v, %v", r, err)
	}
	if got, err := s.TokenByHash(ctx, a.Hash); err != nil || got.Active() || !got.RevokedAt.Equal(at(10)) {
		t.Errorf("revoked token by hash = %+v, %v; want it revoked at %v", got, err, at(10))
	}
	if _, err := s.RevokeToken(ctx, "alice", at(11)); ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		t.Errorf("RevokeToken twice = %v, want ENOTFOUND", err)
	}
	if _, err := s.RevokeToken(ctx, "nobody", at(11)); ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		t.Errorf("RevokeToken(unknown) = %v, want ENOTFOUND", err)
	}

	// A revoked name may be used again; revoking by name then hits the
	// active one, and an id wins over a name.
	a2 := tok("ta2", "alice", "secret-a2", 20)
	if err := s.CreateToken(ctx, a2); err != nil {
		t.Fatalf("CreateToken reusing a revoked name: %v", err)
	}
	c := tok("alice", "carol", "secret-c", 21) // an id equal to another token's name
	if err := s.CreateToken(ctx, c); err != nil {
		t.Fatalf("CreateToken(c): %v", err)
	}
	if r, err := s.RevokeToken(ctx, "alice", at(30)); err != nil || r.ID != "alice" {
		t.Errorf("RevokeToken(alice) with an id and a name matching = %+v, %v; want the one with id alice", r, err)
	}
	if r, err := s.RevokeToken(ctx, "tb", at(31)); err != nil || r.Name != "grafana" {
		t.Errorf("RevokeToken(tb) = %+v, %v", r, err)
	}
	list, err = s.ListTokens(ctx)
	if err != nil || len(list) != 4 {
		t.Fatalf("ListTokens = %+v, %v; want 4", list, err)
	}
	active := 0
	for _, x := range list {
		if x.Active() {
			active++
			if x.ID != "ta2" {
				t.Errorf("active token %s, want only ta2", x.ID)
			}
		}
	}
	if active != 1 {
		t.Errorf("%d active tokens, want 1", active)
	}
}
