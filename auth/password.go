package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
)

// Argon2id parameters of new hashes: the OWASP password storage
// recommendation (19 MiB, 2 passes, 1 lane). Verification uses the
// parameters recorded in each hash, so they can be raised later.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Bounds on the parameters accepted from a stored hash, so that a
// corrupted or hostile row cannot make one verification allocate
// gigabytes.
const (
	maxArgonMemory = 256 * 1024
	maxArgonTime   = 10
)

// HashPassword returns a salted argon2id hash of password in the PHC
// string format ($argon2id$v=19$m=…,t=…,p=…$salt$hash). The password is
// normalized first (see normalize), so a 1.6 AuthorizationKey matches in
// either letter case. The password itself is never stored.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(normalize(password)), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// errBadHash is returned for a stored hash that cannot be parsed.
var errBadHash = errors.New("stored password hash is not an argon2id PHC string")

// verifyHash reports whether password matches hash, comparing in constant
// time. It costs one argon2id evaluation.
func verifyHash(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil ||
		m == 0 || t == 0 || p == 0 || m > maxArgonMemory || t > maxArgonTime {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// isHexKey reports whether s is a 1.6 AuthorizationKey in its
// configuration form: 16 to 20 bytes as 32 to 40 hexadecimal digits.
func isHexKey(s string) bool {
	if len(s) < 32 || len(s) > 40 || len(s)%2 != 0 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// normalize is the form of a password that is hashed: a 1.6
// AuthorizationKey (hex digits) in lower case, anything else unchanged.
func normalize(p string) string {
	if isHexKey(p) {
		return strings.ToLower(p)
	}
	return p
}

// candidates are the normalized forms a presented Basic password may
// match. OCPP 1.6 stations disagree on what they send for the
// AuthorizationKey (whitepaper A00.FR.205: "hexadecimal represented"):
// most send the hex digits, some the 16–20 key bytes themselves; both are
// accepted for a key stored as hex.
func candidates(presented string) []string {
	c := []string{normalize(presented)}
	if n := len(presented); n >= 16 && n <= 20 && !isHexKey(presented) {
		c = append(c, hex.EncodeToString([]byte(presented)))
	}
	return c
}

// MinPasswordLen is the shortest password any version allows (16 bytes
// for a 1.6 AuthorizationKey, 16 characters for a 2.x BasicAuthPassword).
const MinPasswordLen = 16

// DefaultMaxPasswordLen is the longest 2.x BasicAuthPassword of OCPP 2.0.1
// as published; the 2.0.1 errata let a station raise it up to
// MaxPasswordLen through the maxLimit of BasicAuthPassword.
const (
	DefaultMaxPasswordLen = 40
	MaxPasswordLen        = 64
)

// passwordChars is the alphabet of the 2.x passwordString type: letters,
// digits and *-_=:+|@. (2.0.1 Part 2, primitive datatypes).
const passwordSymbols = "*-_=:+|@."

// ValidatePassword checks password against the rules of version v:
//
//   - OCPP 1.6 (security whitepaper A00.FR.205/304): the AuthorizationKey
//     is 16 to 20 bytes, represented as 32 to 40 hexadecimal digits;
//   - OCPP 2.0.1 and 2.1 (Part 2 A00.FR.205): a passwordString of 16 to
//     maxLen characters (letters, digits and *-_=:+|@.); maxLen 0 means
//     DefaultMaxPasswordLen, and values above MaxPasswordLen are capped
//     (the 2.0.1 errata allow a station's maxLimit of 40 to 64).
//
// The error is EINVALID and never contains the password.
func ValidatePassword(v ocpp.Version, password string, maxLen int) error {
	if v == ocpp.V16 {
		if !isHexKey(password) {
			return ocppd.Errorf(ocppd.EINVALID, "an OCPP 1.6 AuthorizationKey must be 16 to 20 bytes written as 32 to 40 hexadecimal digits (got %d characters)", len(password))
		}
		return nil
	}
	if maxLen <= 0 {
		maxLen = DefaultMaxPasswordLen
	}
	maxLen = min(max(maxLen, DefaultMaxPasswordLen), MaxPasswordLen)
	if n := len(password); n < MinPasswordLen || n > maxLen {
		return ocppd.Errorf(ocppd.EINVALID, "an OCPP 2.x BasicAuthPassword must be %d to %d characters (got %d)", MinPasswordLen, maxLen, n)
	}
	for _, r := range password {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(passwordSymbols, r)) {
			return ocppd.Errorf(ocppd.EINVALID, "an OCPP 2.x BasicAuthPassword may contain only letters, digits and %s", passwordSymbols)
		}
	}
	return nil
}

// GeneratePassword returns a random password valid for version v: for
// OCPP 1.6 a 20-byte AuthorizationKey as 40 hexadecimal digits (upper
// case, as most 1.6 stations display it); for 2.x 40 letters and digits
// (238 bits).
func GeneratePassword(v ocpp.Version) (string, error) {
	if v == ocpp.V16 {
		b := make([]byte, 20)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		return strings.ToUpper(hex.EncodeToString(b)), nil
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	out := make([]byte, DefaultMaxPasswordLen)
	buf := make([]byte, 64)
	for i := 0; i < len(out); {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		for _, b := range buf {
			// Rejection sampling keeps the choice uniform: 248 = 4×62.
			if b < 248 && i < len(out) {
				out[i] = alphabet[int(b)%len(alphabet)]
				i++
			}
		}
	}
	return string(out), nil
}
