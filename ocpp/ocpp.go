// Package ocpp is the pure protocol layer of ocppd: OCPP-J framing, protocol
// versions, station identities and the version-specific CALLERROR codes. It
// does no I/O, so it can be fuzzed and benchmarked alone.
//
// Message payload types and their validation live in the per-version
// packages below this one (ocpp/v16, ocpp/v201, ocpp/v21).
package ocpp

import (
	"fmt"
	"strings"
)

// Version is an OCPP-J protocol version, named by its WebSocket subprotocol.
type Version string

// The protocol versions ocppd speaks.
const (
	V16  Version = "ocpp1.6"
	V201 Version = "ocpp2.0.1"
	V21  Version = "ocpp2.1"
)

// Versions lists the supported versions, newest first. The gateway offers
// them to stations in this order of preference.
var Versions = []Version{V21, V201, V16}

// ParseVersion accepts a subprotocol name ("ocpp2.0.1") or a short form
// ("2.0.1", "1.6", "16", "201", "21").
func ParseVersion(s string) (Version, error) {
	switch strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "ocpp") {
	case "1.6", "16", "1.6j":
		return V16, nil
	case "2.0.1", "201":
		return V201, nil
	case "2.1", "21":
		return V21, nil
	}
	return "", fmt.Errorf("unknown OCPP version %q: supported are %s", s, supportedList())
}

// Valid reports whether v is a supported version.
func (v Version) Valid() bool { return v == V16 || v == V201 || v == V21 }

// Is2x reports whether v is an OCPP 2.x version (2.0.1 or 2.1).
func (v Version) Is2x() bool { return v == V201 || v == V21 }

// Short returns the version without the "ocpp" prefix, e.g. "2.0.1".
func (v Version) Short() string { return strings.TrimPrefix(string(v), "ocpp") }

func supportedList() string {
	names := make([]string, len(Versions))
	for i, v := range Versions {
		names[i] = string(v)
	}
	return strings.Join(names, ", ")
}

// SupportedSubprotocols returns the comma-separated list of supported
// subprotocols, for error messages and close reasons.
func SupportedSubprotocols() string { return supportedList() }

// MaxIdentityLen is the longest charging station identity allowed: OCPP
// 2.0.1 Part 4 §3.1.1 limits it to 48 characters (identifierString[48]).
const MaxIdentityLen = 48

// ValidateIdentity checks a charging station identity: 1 to 48 characters
// of the OCPP identifierString set (a-z A-Z 0-9 * - _ = + | @ .). The colon,
// although in identifierString, is refused because HTTP Basic
// authentication (security profiles 1 and 2) uses the identity as the
// username, and a username cannot contain a colon (RFC 7617); "." and ".."
// are refused because they are URL dot-segments (RFC 3986 §3.3).
func ValidateIdentity(id string) error {
	if id == "" {
		return fmt.Errorf("charge point id is empty")
	}
	if id == "." || id == ".." {
		return fmt.Errorf("charge point id %q is a dot-segment, not a name", id)
	}
	if len(id) > MaxIdentityLen {
		return fmt.Errorf("charge point id is %d characters long; at most %d are allowed", len(id), MaxIdentityLen)
	}
	for i := 0; i < len(id); i++ {
		if !identityChar(id[i]) {
			return fmt.Errorf("charge point id has a character outside a-z A-Z 0-9 * - _ = + | @ . at position %d", i+1)
		}
	}
	return nil
}

func identityChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '*', '-', '_', '=', '+', '|', '@', '.':
		return true
	}
	return false
}
