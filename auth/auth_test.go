package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/gateway"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/store"
)

var (
	_ gateway.Registry      = (*Authenticator)(nil)
	_ gateway.Authenticator = (*Authenticator)(nil)
)

// memStore is an in-memory Store and store.SecurityEvents.
type memStore struct {
	mu     sync.Mutex
	creds  map[string]store.Credentials
	events []store.SecurityEvent
}

func newMemStore(ids ...string) *memStore {
	m := &memStore{creds: map[string]store.Credentials{}}
	for _, id := range ids {
		m.creds[id] = store.Credentials{ChargePointID: id}
	}
	return m
}

func (m *memStore) GetCredentials(_ context.Context, id string) (store.Credentials, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.creds[id]
	if !ok {
		return store.Credentials{}, ocppd.Errorf(ocppd.ENOTFOUND, "no %s", id)
	}
	return c, nil
}

func (m *memStore) ResolvePendingPassword(_ context.Context, id, hash string, accepted bool, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.creds[id]
	if !ok {
		return ocppd.Errorf(ocppd.ENOTFOUND, "no %s", id)
	}
	if c.PendingHash == "" || c.PendingHash != hash {
		return ocppd.Errorf(ocppd.ECONFLICT, "no such pending password")
	}
	if accepted {
		c.PasswordHash = c.PendingHash
	}
	c.PendingHash = ""
	m.creds[id] = c
	return nil
}

func (m *memStore) RaiseSecurityProfile(_ context.Context, id string, profile int, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.creds[id]
	if !ok {
		return false, ocppd.Errorf(ocppd.ENOTFOUND, "no %s", id)
	}
	if profile <= c.SecurityProfile {
		return false, nil
	}
	c.SecurityProfile = profile
	m.creds[id] = c
	return true, nil
}

func (m *memStore) AddSecurityEvent(_ context.Context, ev store.SecurityEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, ev)
	return nil
}

func (m *memStore) ListSecurityEvents(context.Context, string, int) ([]store.SecurityEvent, error) {
	return nil, nil
}

func (m *memStore) set(t *testing.T, id, password, pending string) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.creds[id]
	c.ChargePointID = id
	c.PasswordHash, c.PendingHash = "", ""
	if password != "" {
		c.PasswordHash = mustHash(t, password)
	}
	if pending != "" {
		c.PendingHash = mustHash(t, pending)
	}
	m.creds[id] = c
}

func mustHash(t testing.TB, p string) string {
	t.Helper()
	h, err := HashPassword(p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func req(user, pass string, basic bool) *http.Request {
	r := httptest.NewRequest("GET", "/ocpp/CP1", nil)
	if basic {
		r.SetBasicAuth(user, pass)
	}
	return r
}

func code(err error) string {
	if err == nil {
		return ""
	}
	return ocppd.ErrorCode(err)
}

const (
	pw1 = "0123456789abcdefGHIJ"
	pw2 = "new-password:with|symbols@.x"
)

func TestBasicProfile(t *testing.T) {
	ms := newMemStore("CP1", "CP2", "NOPW")
	ms.set(t, "CP1", pw1, "")
	ms.set(t, "CP2", pw2, "")
	a := New(Options{Profile: ProfileBasic, Store: ms, Events: ms, Logger: quiet()})
	ctx := context.Background()
	cases := []struct {
		name, id string
		r        *http.Request
		want     string
		reason   string
	}{
		{"right", "CP1", req("CP1", pw1, true), "", ""},
		{"no header", "CP1", req("", "", false), ocppd.EUNAUTHORIZED, RefusedNoCredentials},
		{"wrong password", "CP1", req("CP1", pw2, true), ocppd.EUNAUTHORIZED, RefusedWrongPassword},
		{"empty password", "CP1", req("CP1", "", true), ocppd.EUNAUTHORIZED, RefusedWrongPassword},
		{"other station's credentials", "CP1", req("CP2", pw2, true), ocppd.EUNAUTHORIZED, RefusedUsername},
		{"case of the username", "CP1", req("cp1", pw1, true), ocppd.EUNAUTHORIZED, RefusedUsername},
		{"unknown station", "CPX", req("CPX", pw1, true), ocppd.EUNAUTHORIZED, RefusedUnknown},
		{"no password set", "NOPW", req("NOPW", pw1, true), ocppd.EUNAUTHORIZED, RefusedNoPassword},
		{"huge password", "CP1", req("CP1", strings.Repeat("x", 10000), true), ocppd.EUNAUTHORIZED, RefusedWrongPassword},
	}
	for _, tc := range cases {
		err := a.Authenticate(ctx, tc.id, tc.r)
		if code(err) != tc.want {
			t.Errorf("%s: %v, want code %q", tc.name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), pw1) || strings.Contains(err.Error(), pw2)) {
			t.Errorf("%s: error leaks the password: %v", tc.name, err)
		}
	}
	st := a.Stats()
	for _, tc := range cases {
		if tc.reason != "" && st.Refused[tc.reason] == 0 {
			t.Errorf("reason %q not counted: %v", tc.reason, st.Refused)
		}
	}
	if st.Accepted != 1 {
		t.Errorf("Accepted = %d", st.Accepted)
	}
	// Security events for refusals of known stations only, one per station
	// within EventInterval.
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if len(ms.events) != 2 || ms.events[0].ChargePointID != "CP1" || ms.events[1].ChargePointID != "NOPW" {
		t.Errorf("security events %+v", ms.events)
	}
	for _, ev := range ms.events {
		if strings.Contains(ev.TechInfo, pw1) {
			t.Errorf("event leaks the password: %+v", ev)
		}
	}
}

func TestAuthorizationKey16Forms(t *testing.T) {
	key := make([]byte, 20)
	_, _ = rand.Read(key)
	hexKey := strings.ToUpper(hex.EncodeToString(key))
	ms := newMemStore("CP16")
	ms.set(t, "CP16", hexKey, "")
	a := New(Options{Profile: ProfileBasic, Store: ms, Logger: quiet(), CacheTTL: -1})
	ctx := context.Background()
	for name, p := range map[string]string{
		"hex as configured": hexKey,
		"hex in lower case": strings.ToLower(hexKey),
		"the key's bytes":   string(key),
	} {
		if err := a.Authenticate(ctx, "CP16", req("CP16", p, true)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := a.Authenticate(ctx, "CP16", req("CP16", hexKey[:38], true)); err == nil {
		t.Error("a shortened key was accepted")
	}
	// The WinCC OA example: identity AL1000, key 0001020304050607FFFF…
	ms2 := newMemStore("AL1000")
	ms2.set(t, "AL1000", "0001020304050607FFFFFFFFFFFFFFFFFFFFFFFF", "")
	a2 := New(Options{Profile: ProfileBasic, Store: ms2, Logger: quiet()})
	r := httptest.NewRequest("GET", "/AL1000", nil)
	r.Header.Set("Authorization", "Basic QUwxMDAwOgABAgMEBQYH////////////////")
	if err := a2.Authenticate(ctx, "AL1000", r); err != nil {
		t.Errorf("binary AuthorizationKey example: %v", err)
	}
}

func TestRotation(t *testing.T) {
	ms := newMemStore("CP1")
	ms.set(t, "CP1", pw1, pw2)
	a := New(Options{Profile: ProfileBasic, Store: ms, Logger: quiet()})
	ctx := context.Background()
	// During the rotation the old password still works…
	if err := a.Authenticate(ctx, "CP1", req("CP1", pw1, true)); err != nil {
		t.Fatalf("old password during rotation: %v", err)
	}
	if c, _ := ms.GetCredentials(ctx, "CP1"); c.PendingHash == "" {
		t.Fatal("the old password completed the rotation")
	}
	// …and the new one completes it.
	if err := a.Authenticate(ctx, "CP1", req("CP1", pw2, true)); err != nil {
		t.Fatalf("new password: %v", err)
	}
	c, _ := ms.GetCredentials(ctx, "CP1")
	if c.PendingHash != "" {
		t.Fatal("rotation not completed")
	}
	if a.Stats().Promoted != 1 {
		t.Errorf("Promoted = %d", a.Stats().Promoted)
	}
	// Now the old password no longer works (A01.FR.03), even though it
	// was cached as good.
	if err := a.Authenticate(ctx, "CP1", req("CP1", pw1, true)); code(err) != ocppd.EUNAUTHORIZED {
		t.Fatalf("old password after rotation: %v", err)
	}
	if err := a.Authenticate(ctx, "CP1", req("CP1", pw2, true)); err != nil {
		t.Fatalf("new password after rotation: %v", err)
	}
}

func TestCacheSavesVerifications(t *testing.T) {
	ms := newMemStore("CP1")
	ms.set(t, "CP1", pw1, "")
	a := New(Options{Profile: ProfileBasic, Store: ms, Logger: quiet()})
	ctx := context.Background()
	for range 5 {
		if err := a.Authenticate(ctx, "CP1", req("CP1", pw1, true)); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		_ = a.Authenticate(ctx, "CP1", req("CP1", "wrong-but-repeated-guess", true))
	}
	st := a.Stats()
	if st.Verifications != 2 || st.CacheHits != 6 {
		t.Errorf("verifications %d, cache hits %d; want 2 and 6", st.Verifications, st.CacheHits)
	}
	// A wrong guess does not evict the good entry.
	if err := a.Authenticate(ctx, "CP1", req("CP1", pw1, true)); err != nil || a.Stats().Verifications != 2 {
		t.Errorf("good entry lost after a wrong guess: %v, %d verifications", err, a.Stats().Verifications)
	}
	// A changed password misses the cache.
	ms.set(t, "CP1", pw2, "")
	if err := a.Authenticate(ctx, "CP1", req("CP1", pw1, true)); code(err) != ocppd.EUNAUTHORIZED {
		t.Errorf("old password after a change: %v", err)
	}
}

func TestConcurrencyBound(t *testing.T) {
	ms := newMemStore("CP1")
	ms.set(t, "CP1", pw1, "")
	a := New(Options{Profile: ProfileBasic, Store: ms, Logger: quiet(), MaxConcurrent: 1, CacheTTL: -1})
	a.sem <- struct{}{} // one check "in progress"
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Authenticate(ctx, "CP1", req("CP1", pw1, true)); code(err) != ocppd.EUNAVAILABLE {
		t.Fatalf("with the bound reached and the deadline passed: %v, want EUNAVAILABLE", err)
	}
	<-a.sem
	if err := a.Authenticate(context.Background(), "CP1", req("CP1", pw1, true)); err != nil {
		t.Fatal(err)
	}
	// Many at once: all succeed, never more than MaxConcurrent running.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := a.Authenticate(context.Background(), "CP1", req("CP1", pw1, true)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestTLSBasicProfile(t *testing.T) {
	ms := newMemStore("CP1")
	ms.set(t, "CP1", pw1, "")
	a := New(Options{Profile: ProfileTLSBasic, Store: ms, Logger: quiet()})
	ctx := context.Background()
	r := req("CP1", pw1, true)
	if err := a.Authenticate(ctx, "CP1", r); code(err) != ocppd.EFORBIDDEN {
		t.Errorf("profile 2 without TLS: %v", err)
	}
	r.TLS = &tls.ConnectionState{Version: tls.VersionTLS11}
	if err := a.Authenticate(ctx, "CP1", r); code(err) != ocppd.EFORBIDDEN {
		t.Errorf("profile 2 over TLS 1.1: %v", err)
	}
	r.TLS = &tls.ConnectionState{Version: tls.VersionTLS12}
	if err := a.Authenticate(ctx, "CP1", r); err != nil {
		t.Errorf("profile 2 over TLS 1.2: %v", err)
	}
	if a.Stats().Refused[RefusedNoTLS] != 1 || a.Stats().Refused[RefusedOldTLS] != 1 {
		t.Errorf("stats %+v", a.Stats())
	}
}

// testCert returns a certificate with the subject O and CN.
func testCert(t *testing.T, org, cn string) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{Organization: []string{org}, CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func TestClientCertProfile(t *testing.T) {
	ms := newMemStore("CP1", "CP2")
	if err := func() error { // CP2's certificate carries its serial number
		ms.mu.Lock()
		defer ms.mu.Unlock()
		c := ms.creds["CP2"]
		c.SerialNumber = "SN-0002"
		ms.creds["CP2"] = c
		return nil
	}(); err != nil {
		t.Fatal(err)
	}
	a := New(Options{Profile: ProfileClientCert, Store: ms, Events: ms, Organization: "Acme CPO", Logger: quiet()})
	ctx := context.Background()
	withCert := func(c *x509.Certificate) *http.Request {
		r := req("", "", false)
		r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13}
		if c != nil {
			r.TLS.VerifiedChains = [][]*x509.Certificate{{c}}
		}
		return r
	}
	cases := []struct {
		name, id string
		r        *http.Request
		want     string
	}{
		{"matching", "CP1", withCert(testCert(t, "Acme CPO", "CP1")), ""},
		{"CN is the serial number", "CP2", withCert(testCert(t, "Acme CPO", "SN-0002")), ""},
		{"CN is the id but a serial is registered", "CP2", withCert(testCert(t, "Acme CPO", "CP2")), ocppd.EFORBIDDEN},
		{"another station's certificate", "CP1", withCert(testCert(t, "Acme CPO", "SN-0002")), ocppd.EFORBIDDEN},
		{"another organisation", "CP1", withCert(testCert(t, "Evil Corp", "CP1")), ocppd.EFORBIDDEN},
		{"no certificate (Basic instead)", "CP1", func() *http.Request {
			r := withCert(nil)
			r.SetBasicAuth("CP1", pw1)
			return r
		}(), ocppd.EFORBIDDEN},
		{"unknown station, own CN: left to the Registry", "CP9", withCert(testCert(t, "Acme CPO", "CP9")), ""},
	}
	for _, tc := range cases {
		if err := a.Authenticate(ctx, tc.id, tc.r); code(err) != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if a.Stats().Refused[RefusedCertSubject] != 3 || a.Stats().Refused[RefusedNoClientCert] != 1 {
		t.Errorf("stats %+v", a.Stats())
	}
	if len(ms.events) == 0 || ms.events[0].Type != EventInvalidClientCertificate {
		t.Errorf("events %+v", ms.events)
	}
}

func TestProfileNoneAndAdmit(t *testing.T) {
	a := New(Options{Profile: ProfileNone, Logger: quiet()})
	if err := a.Authenticate(context.Background(), "X", req("", "", false)); err != nil {
		t.Fatal(err)
	}
	if err := a.Admit(context.Background(), "X", req("", "", false)); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordHashes(t *testing.T) {
	h1, h2 := mustHash(t, pw1), mustHash(t, pw1)
	if h1 == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h1, pw1) {
		t.Errorf("hash %q", h1)
	}
	if ok, err := verifyHash(h1, pw1); !ok || err != nil {
		t.Errorf("verify right: %v %v", ok, err)
	}
	if ok, _ := verifyHash(h1, pw1+"x"); ok {
		t.Error("verify wrong password: ok")
	}
	for _, bad := range []string{
		"", "plain", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", // 95 GiB
		"$argon2id$v=19$m=19456,t=99,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if _, err := verifyHash(bad, pw1); err == nil {
			t.Errorf("verifyHash(%q) accepted a malformed hash", bad)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	cases := []struct {
		v      ocpp.Version
		p      string
		maxLen int
		ok     bool
	}{
		{ocpp.V16, strings.Repeat("ab", 16), 0, true},  // 16 bytes
		{ocpp.V16, strings.Repeat("AB", 20), 0, true},  // 20 bytes
		{ocpp.V16, strings.Repeat("ab", 15), 0, false}, // 15 bytes
		{ocpp.V16, strings.Repeat("ab", 21), 0, false}, // 21 bytes: over 40 digits
		{ocpp.V16, strings.Repeat("a", 33), 0, false},  // odd
		{ocpp.V16, strings.Repeat("zz", 16), 0, false}, // not hex
		{ocpp.V201, strings.Repeat("a", 16), 0, true},
		{ocpp.V201, strings.Repeat("a", 15), 0, false},
		{ocpp.V201, strings.Repeat("a", 40), 0, true},
		{ocpp.V201, strings.Repeat("a", 41), 0, false},
		{ocpp.V201, strings.Repeat("a", 64), 64, true}, // 2.0.1 errata maxLimit
		{ocpp.V201, strings.Repeat("a", 65), 64, false},
		{ocpp.V201, strings.Repeat("a", 70), 100, false}, // capped at 64
		{ocpp.V201, "abcdefgh*-_=:+|@.", 0, true},
		{ocpp.V201, "abcdefghijklmnop ", 0, false},
		{ocpp.V201, "abcdefghijklmnop/", 0, false},
		{ocpp.V201, "abcdefghijklmnopé", 0, false},
		{ocpp.V21, strings.Repeat("Z9", 10), 0, true},
	}
	for _, tc := range cases {
		err := ValidatePassword(tc.v, tc.p, tc.maxLen)
		if (err == nil) != tc.ok {
			t.Errorf("ValidatePassword(%s, %q, %d) = %v, want ok=%v", tc.v, tc.p, tc.maxLen, err, tc.ok)
		}
		if err != nil && (ocppd.ErrorCode(err) != ocppd.EINVALID || strings.Contains(err.Error(), tc.p)) {
			t.Errorf("error %v: want EINVALID without the password", err)
		}
	}
	for _, v := range ocpp.Versions {
		for range 20 {
			p, err := GeneratePassword(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := ValidatePassword(v, p, 0); err != nil {
				t.Errorf("generated %s password invalid: %v", v, err)
			}
		}
	}
}

func BenchmarkVerifyArgon2id(b *testing.B) {
	h := mustHash(b, pw1)
	for b.Loop() {
		_, _ = verifyHash(h, pw1)
	}
}

func BenchmarkAuthenticateCached(b *testing.B) {
	ms := newMemStore("CP1")
	ms.creds["CP1"] = store.Credentials{ChargePointID: "CP1", PasswordHash: mustHash(b, pw1)}
	a := New(Options{Profile: ProfileBasic, Store: ms, Logger: quiet()})
	r := httptest.NewRequest("GET", "/CP1", nil)
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("CP1:"+pw1)))
	ctx := context.Background()
	for b.Loop() {
		if err := a.Authenticate(ctx, "CP1", r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNoDowngrade: a station that authenticated on a profile 2 listener
// has its minimum raised to 2 and is refused (403, a WrongSecurityProfile
// event) on profile 1 and profile 0 listeners afterwards, even with the
// right password (A05.FR.07); once an operator lowers its minimum, the
// profile 1 listener admits it again. Unknown stations are left to the
// Registry on profile 0.
func TestNoDowngrade(t *testing.T) {
	ms := newMemStore("CP1")
	ms.set(t, "CP1", pw1, "")
	ctx := context.Background()
	a0 := New(Options{Profile: ProfileNone, Store: ms, Events: ms, Logger: quiet()})
	a1 := New(Options{Profile: ProfileBasic, Store: ms, Events: ms, Logger: quiet()})
	a2 := New(Options{Profile: ProfileTLSBasic, Store: ms, Events: ms, Logger: quiet()})
	if err := a1.Authenticate(ctx, "CP1", req("CP1", pw1, true)); err != nil {
		t.Fatalf("profile 1 before any upgrade: %v", err)
	}
	if c, _ := ms.GetCredentials(ctx, "CP1"); c.SecurityProfile != 1 || a1.Stats().Raised != 1 {
		t.Fatalf("after profile 1: minimum %d, raised %d", c.SecurityProfile, a1.Stats().Raised)
	}
	r := req("CP1", pw1, true)
	r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13}
	if err := a2.Authenticate(ctx, "CP1", r); err != nil {
		t.Fatalf("profile 2: %v", err)
	}
	if c, _ := ms.GetCredentials(ctx, "CP1"); c.SecurityProfile != 2 {
		t.Fatalf("minimum after profile 2: %d", c.SecurityProfile)
	}
	if err := a1.Authenticate(ctx, "CP1", req("CP1", pw1, true)); code(err) != ocppd.EFORBIDDEN {
		t.Fatalf("profile 1 after profile 2: %v, want forbidden", err)
	}
	if err := a0.Authenticate(ctx, "CP1", req("", "", false)); code(err) != ocppd.EFORBIDDEN {
		t.Fatalf("profile 0 after profile 2: %v, want forbidden", err)
	}
	if a1.Stats().Refused[RefusedDowngrade] != 1 || a0.Stats().Refused[RefusedDowngrade] != 1 {
		t.Errorf("downgrades not counted: %v %v", a1.Stats().Refused, a0.Stats().Refused)
	}
	if len(ms.events) == 0 || ms.events[0].Type != EventWrongSecurityProfile {
		t.Errorf("events %+v", ms.events)
	}
	// The operator's reset (store.SetSecurityProfile) lets it back.
	ms.mu.Lock()
	c := ms.creds["CP1"]
	c.SecurityProfile = 1
	ms.creds["CP1"] = c
	ms.mu.Unlock()
	if err := a1.Authenticate(ctx, "CP1", req("CP1", pw1, true)); err != nil {
		t.Fatalf("profile 1 after the reset: %v", err)
	}
	if err := a0.Authenticate(ctx, "UNKNOWN", req("", "", false)); err != nil {
		t.Fatalf("unknown station on profile 0: %v", err)
	}
}
