package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// TokenPrefix starts every API token, so that a leaked token is easy to
// recognise (secret scanners, logs).
const TokenPrefix = "ocppd_"

// NewToken returns a new random API token (the secret, shown to the
// operator once) and its store record, named name, created at now.
//
// The secret is TokenPrefix followed by 32 random bytes in base64url. The
// store keeps only its SHA-256 (HashToken). A fast hash is right here, unlike
// for passwords: a password hash must be slow because people choose
// guessable passwords, but a 256-bit random token cannot be guessed or
// brute-forced from its hash, so a slow KDF would only slow down every API
// request. SHA-256 also makes the lookup a plain indexed equality on the
// hash, and the comparison happens in the database over hashes, which does
// not leak the secret through timing.
func NewToken(name string, readOnly bool, now time.Time) (secret string, t store.Token, err error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", store.Token{}, err
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", store.Token{}, err
	}
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	return secret, store.Token{
		ID:        "tok_" + hex.EncodeToString(id[:]),
		Name:      name,
		Hash:      HashToken(secret),
		ReadOnly:  readOnly,
		CreatedAt: now.UTC(),
	}, nil
}

// HashToken returns the SHA-256 of a token secret, as stored.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

type tokenKey struct{}

// TokenFrom returns the token that authenticated the request of ctx.
func TokenFrom(ctx context.Context) (store.Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(store.Token)
	return t, ok
}

// bearer returns the request's token: the Authorization header's bearer
// token or, for the event stream only (browsers' EventSource cannot set
// headers), the access_token query parameter.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if r.URL.Path == Prefix+"/events" {
		return r.URL.Query().Get("access_token")
	}
	return ""
}

// checkToken looks secret up: EUNAUTHORIZED if it is missing, unknown or
// revoked.
func (s *Server) checkToken(ctx context.Context, secret string) (store.Token, error) {
	if secret == "" {
		return store.Token{}, ocppd.Errorf(ocppd.EUNAUTHORIZED, "a bearer token is required (Authorization: Bearer TOKEN); create one with: ocppd token create --name NAME")
	}
	t, err := s.opts.Store.TokenByHash(ctx, HashToken(secret))
	switch {
	case ocppd.ErrorCode(err) == ocppd.ENOTFOUND:
		return store.Token{}, ocppd.Errorf(ocppd.EUNAUTHORIZED, "invalid token")
	case err != nil:
		return store.Token{}, err
	case !t.Active():
		return store.Token{}, ocppd.Errorf(ocppd.EUNAUTHORIZED, "token %s (%s) was revoked", t.ID, t.Name)
	}
	return t, nil
}

// authenticate lets a request through only with an active token; a
// read-only token only for GET and HEAD.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := s.checkToken(r.Context(), bearer(r))
		if err != nil {
			s.m.denied.WithLabelValues("401").Inc()
			s.writeError(w, r, err)
			return
		}
		if t.ReadOnly && r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.m.denied.WithLabelValues("403").Inc()
			s.writeError(w, r, ocppd.Errorf(ocppd.EFORBIDDEN, "token %s (%s) is read-only", t.ID, t.Name))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)))
	})
}

// Protect returns h behind the API's token check, for handlers served
// outside the API (such as /metrics in a process without the api role).
func (s *Server) Protect(h http.Handler) http.Handler { return s.authenticate(h) }
