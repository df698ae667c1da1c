package store

import (
	"context"
	"time"
)

// IDToken is an identifier the CSMS knows — an RFID card, an eMAID, a key
// code… — and whether it may charge. It serves Authorize and the
// transaction messages of every version and is what SendLocalList sends.
type IDToken struct {
	// Token is the identifier as registered. Look-ups ignore case (OCPP
	// 2.x: "IdToken is case insensitive"; 1.6 idTags are compared the
	// same way).
	Token string `json:"idToken"`
	// Type is the 2.x IdTokenEnumType (ISO14443, ISO15693, eMAID, Central,
	// KeyCode, Local, MacAddress, NoAuthorization, …). OCPP 1.6 idTags have
	// no type and match a token of any type.
	Type string `json:"type"`
	// Status is the AuthorizationStatus answered: Accepted, Blocked,
	// Expired, Invalid, …
	Status string `json:"status"`
	// ExpiresAt, when set, is when the token stops being valid (answered
	// as Expired after it).
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// GroupID is the parent id tag (1.6) or group id token (2.x).
	GroupID   string    `json:"groupId,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// IDTokens keeps the authorization list, and per station the version of
// the local authorization list it holds.
type IDTokens interface {
	// PutIDToken adds or replaces the token (Token case-insensitively,
	// Type exactly). EINVALID for an empty token.
	PutIDToken(ctx context.Context, t IDToken) error
	// GetIDToken returns the token; typ "" matches any type (the first by
	// type name). ENOTFOUND if unknown.
	GetIDToken(ctx context.Context, token, typ string) (IDToken, error)
	// ListIDTokens returns every token, ordered by token and type.
	ListIDTokens(ctx context.Context) ([]IDToken, error)
	// DeleteIDToken removes the token; ENOTFOUND if unknown.
	DeleteIDToken(ctx context.Context, token, typ string) error
	// SetLocalListVersion records the local list version the station
	// holds. ENOTFOUND for an unknown station.
	SetLocalListVersion(ctx context.Context, cpID string, version int, at time.Time) error
	// LocalListVersion returns the station's local list version, 0 if
	// none was recorded. ENOTFOUND for an unknown station.
	LocalListVersion(ctx context.Context, cpID string) (int, error)
}
