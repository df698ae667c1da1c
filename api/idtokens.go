package api

import (
	"net/http"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// putIDToken is the body of PUT /idtokens/{token}.
type putIDToken struct {
	Type      string `json:"type"`
	Status    string `json:"status"`
	ExpiresAt string `json:"expiresAt"` // RFC 3339; parsed here to name the field in errors
	GroupID   string `json:"groupId"`
}

// authorizationStatuses are the AuthorizationStatus values of OCPP 1.6
// and 2.x that a token may be given.
var authorizationStatuses = map[string]bool{
	"Accepted": true, "Blocked": true, "Expired": true, "Invalid": true, "ConcurrentTx": true,
	"NoCredit": true, "NotAllowedTypeSource": true, "NotAtThisLocation": true, "NotAtThisTime": true, "Unknown": true,
}

// maxIDTokenLen is the longest idToken of OCPP 2.x (identifierString[0..255]
// in 2.1; 36 in 2.0.1; 1.6 idTags are at most 20).
const maxIDTokenLen = 255

func (s *Server) listIDTokens(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r, defaultLimit)
	if err != nil {
		return err
	}
	after := r.URL.Query().Get("after")
	all, err := s.opts.Store.ListIDTokens(r.Context())
	if err != nil {
		return err
	}
	// Keyset paging over the token (the list is ordered by token, then
	// type); the cursor is the last token of the page.
	out := List[store.IDToken]{Items: []store.IDToken{}}
	for _, t := range all {
		if after != "" && t.Token <= after {
			continue
		}
		if len(out.Items) == limit {
			out.Next = out.Items[limit-1].Token
			break
		}
		out.Items = append(out.Items, t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getIDToken(w http.ResponseWriter, r *http.Request) error {
	t, err := s.opts.Store.GetIDToken(r.Context(), r.PathValue("token"), r.URL.Query().Get("type"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// putIDToken adds or replaces a token (the token case-insensitively, the
// type exactly).
func (s *Server) putIDToken(w http.ResponseWriter, r *http.Request) error {
	var in putIDToken
	if err := decode(w, r, &in); err != nil {
		return err
	}
	tok := r.PathValue("token")
	switch {
	case len(tok) > maxIDTokenLen:
		return invalid("token", "at most %d characters", maxIDTokenLen)
	case in.Status == "":
		return invalid("status", "required: Accepted, Blocked, Expired, Invalid, …")
	case !authorizationStatuses[in.Status]:
		return invalid("status", "%q is not an OCPP AuthorizationStatus", in.Status)
	case len(in.GroupID) > maxIDTokenLen:
		return invalid("groupId", "at most %d characters", maxIDTokenLen)
	}
	t := store.IDToken{Token: tok, Type: in.Type, Status: in.Status, GroupID: in.GroupID, UpdatedAt: s.opts.Now().UTC()}
	if in.ExpiresAt != "" {
		exp, err := time.Parse(time.RFC3339Nano, in.ExpiresAt)
		if err != nil {
			return invalid("expiresAt", "expected an RFC 3339 time such as 2030-01-01T00:00:00Z, got %q", in.ExpiresAt)
		}
		t.ExpiresAt = exp.UTC()
	}
	if err := s.opts.Store.PutIDToken(r.Context(), t); err != nil {
		return withField(err, "token")
	}
	got, err := s.opts.Store.GetIDToken(r.Context(), t.Token, t.Type)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, got)
	return nil
}

func (s *Server) deleteIDToken(w http.ResponseWriter, r *http.Request) error {
	tok, typ := r.PathValue("token"), r.URL.Query().Get("type")
	if typ == "" {
		// Without a type, delete only an unambiguous token.
		all, err := s.opts.Store.ListIDTokens(r.Context())
		if err != nil {
			return err
		}
		n := 0
		for _, t := range all {
			if equalFold(t.Token, tok) {
				n++
				typ = t.Type
			}
		}
		if n == 0 {
			return ocppd.Errorf(ocppd.ENOTFOUND, "id token %q not found", tok)
		}
		if n > 1 {
			return invalid("type", "token %q exists with %d types; say which", tok, n)
		}
	}
	if err := s.opts.Store.DeleteIDToken(r.Context(), tok, typ); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
