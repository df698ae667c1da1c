package csms

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/v16"
	"github.com/ocppd/ocppd/ocpp/v201"
	"github.com/ocppd/ocppd/ocpp/v21"
	"github.com/ocppd/ocppd/store"
)

func init() {
	handle("Authorize", (*Service).authorize16, ocpp.V16)
	handle("Authorize", (*Service).authorize2x, v2x...)
}

// authResult is the CSMS's verdict on an id token, before it is written
// in a version's IdTagInfo / IdTokenInfo.
type authResult struct {
	Status  string // 2.x AuthorizationStatusEnumType names (1.6 maps them)
	Expires time.Time
	Group   string
}

// authorizeToken decides whether token (of 2.x type typ; "" for a 1.6
// idTag) may charge, from the authorization list:
//   - NoAuthorization tokens (2.x C01: a station that needs no
//     authorization) are Accepted; so are Central tokens, which the CSMS
//     itself hands out with RequestStartTransaction (F01);
//   - a listed token answers its stored status, Expired once past its
//     expiry (C01.FR.05 / 1.6 §4.1 idTagInfo.expiryDate);
//   - an unknown token is Invalid (1.6) / Unknown (2.x), unless
//     Options.AcceptUnknownTokens.
func (s *Service) authorizeToken(ctx context.Context, token, typ string) (authResult, error) {
	if typ == "NoAuthorization" || typ == "Central" {
		return authResult{Status: "Accepted"}, nil
	}
	t, err := s.opts.Store.GetIDToken(ctx, token, typ)
	switch {
	case ocppd.ErrorCode(err) == ocppd.ENOTFOUND && s.opts.AcceptUnknownTokens:
		return authResult{Status: "Accepted"}, nil
	case ocppd.ErrorCode(err) == ocppd.ENOTFOUND:
		return authResult{Status: "Unknown"}, nil
	case err != nil:
		return authResult{}, err
	}
	res := authResult{Status: t.Status, Expires: t.ExpiresAt, Group: t.GroupID}
	if !t.ExpiresAt.IsZero() && !s.opts.Now().Before(t.ExpiresAt) {
		res.Status = "Expired"
	}
	return res, nil
}

// idTagInfo16 writes res as a 1.6 IdTagInfo.
func idTagInfo16(res authResult) v16.IdTagInfo {
	st := v16.AuthorizationStatus(res.Status)
	switch st {
	case v16.AuthorizationStatusAccepted, v16.AuthorizationStatusBlocked, v16.AuthorizationStatusExpired,
		v16.AuthorizationStatusInvalid, v16.AuthorizationStatusConcurrentTx:
	default: // Unknown, NoCredit, NotAtThisLocation… have no 1.6 equivalent
		st = v16.AuthorizationStatusInvalid
	}
	info := v16.IdTagInfo{Status: st, ParentIDTag: truncate(res.Group, 20)}
	if !res.Expires.IsZero() {
		info.ExpiryDate = res.Expires.UTC()
	}
	return info
}

func idTokenInfo201(res authResult) v201.IdTokenInfoType {
	info := v201.IdTokenInfoType{Status: v201.AuthorizationStatusEnumType(res.Status)}
	if !info.Status.Valid() {
		info.Status = v201.AuthorizationStatusEnumTypeInvalid
	}
	if !res.Expires.IsZero() {
		info.CacheExpiryDateTime = res.Expires.UTC()
	}
	if res.Group != "" {
		info.GroupIDToken = &v201.IdTokenType{IDToken: truncate(res.Group, 36), Type: v201.IdTokenEnumTypeCentral}
	}
	return info
}

func idTokenInfo21(res authResult) v21.IdTokenInfoType {
	info := v21.IdTokenInfoType{Status: v21.AuthorizationStatusEnumType(res.Status)}
	if !info.Status.Valid() {
		info.Status = v21.AuthorizationStatusEnumTypeInvalid
	}
	if !res.Expires.IsZero() {
		info.CacheExpiryDateTime = res.Expires.UTC()
	}
	if res.Group != "" {
		info.GroupIDToken = &v21.IdTokenType{IDToken: truncate(res.Group, 255), Type: "Central"}
	}
	return info
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (s *Service) authorize16(ctx context.Context, r *Request) (any, error) {
	p := r.Msg.(*v16.AuthorizeRequest)
	res, err := s.authorizeToken(ctx, p.IDTag, "")
	if err != nil {
		return nil, err
	}
	if err := s.opts.Store.MarkSeen(ctx, r.ChargePointID, r.Received); err != nil {
		return nil, err
	}
	return &v16.AuthorizeResponse{IDTagInfo: idTagInfo16(res)}, nil
}

func (s *Service) authorize2x(ctx context.Context, r *Request) (any, error) {
	var token, typ string
	switch p := r.Msg.(type) {
	case *v201.AuthorizeRequest:
		token, typ = p.IDToken.IDToken, string(p.IDToken.Type)
	case *v21.AuthorizeRequest:
		token, typ = p.IDToken.IDToken, p.IDToken.Type
	}
	res, err := s.authorizeToken(ctx, token, typ)
	if err != nil {
		return nil, err
	}
	if err := s.opts.Store.MarkSeen(ctx, r.ChargePointID, r.Received); err != nil {
		return nil, err
	}
	if r.Version == ocpp.V201 {
		return &v201.AuthorizeResponse{IDTokenInfo: idTokenInfo201(res)}, nil
	}
	return &v21.AuthorizeResponse{IDTokenInfo: idTokenInfo21(res)}, nil
}

// trackLocalList keeps the station's local list version in step with
// what it confirmed: an accepted SendLocalList (1.6 listVersion, 2.x
// versionNumber) and every GetLocalListVersion answer. ClearCache answers
// are kept by clearCacheAnswer (authcache.go).
func (s *Service) trackLocalList(ctx context.Context, c Command) {
	if c.State != store.CommandAnswered {
		return
	}
	var v struct {
		ListVersion   *int   `json:"listVersion"`
		VersionNumber *int   `json:"versionNumber"`
		Status        string `json:"status"`
	}
	src := c.Response
	if c.Action == "SendLocalList" {
		var st struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(c.Response, &st) != nil || st.Status != "Accepted" {
			return
		}
		src = c.Request
	}
	if json.Unmarshal(src, &v) != nil {
		return
	}
	n := v.ListVersion
	if n == nil {
		n = v.VersionNumber
	}
	if n == nil {
		return
	}
	if err := s.opts.Store.SetLocalListVersion(ctx, c.ChargePointID, *n, s.opts.Now()); err != nil {
		s.log.Warn("recording the local list version failed", "cp", c.ChargePointID, "err", err)
	}
}

// normToken is how id tokens are compared: case-insensitively.
func normToken(t string) string { return strings.ToLower(t) }
