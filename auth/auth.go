// Package auth authenticates charge points under the OCPP security
// profiles, before their WebSocket upgrade:
//
//	profile 0  no authentication (plain OCPP-J 1.6; labs only)
//	profile 1  HTTP Basic, no TLS (1.6 security whitepaper and 2.0.1 Part 2 A00.FR.201–207)
//	profile 2  HTTP Basic over TLS (A00.FR.301–324 / 2.0.1 A00.FR.301–3xx)
//	profile 3  TLS with a client certificate (A00.FR.401–429)
//
// One Authenticator serves one listener, so exactly one profile is in use
// per port (A00.FR.001, A00.FR.006); a connection that does not fit it is
// refused (A00.FR.002). An Authenticator is a gateway.Registry that also
// implements gateway.Authenticator: the gateway calls Authenticate before
// the upgrade (a refusal is an HTTP 401/403, never a 101) and Admit, which
// it delegates to the wrapped Registry, after it.
//
// Passwords are stored only as salted argon2id hashes (HashPassword), are
// never logged, and are checked in constant time. Because one check costs
// tens of milliseconds of CPU, the outcome of a check is cached under an
// HMAC of the stored hashes and the presented password (a reconnect storm
// of a whole fleet costs one check per station), and the checks running at
// once are bounded (more wait, and past the handshake timeout get 503).
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// Profile is an OCPP security profile, 0 to 3.
type Profile int

// The security profiles.
const (
	ProfileNone       Profile = 0 // no authentication
	ProfileBasic      Profile = 1 // HTTP Basic, no TLS
	ProfileTLSBasic   Profile = 2 // HTTP Basic over TLS
	ProfileClientCert Profile = 3 // TLS with client certificates
)

// Valid reports whether p is 0 to 3.
func (p Profile) Valid() bool { return p >= ProfileNone && p <= ProfileClientCert }

// TLS reports whether the profile requires TLS.
func (p Profile) TLS() bool { return p >= ProfileTLSBasic }

// Store is what an Authenticator reads and writes (see
// store.StationCredentials for the contracts).
type Store interface {
	GetCredentials(ctx context.Context, id string) (store.Credentials, error)
	ResolvePendingPassword(ctx context.Context, id, hash string, accepted bool, at time.Time) error
	RaiseSecurityProfile(ctx context.Context, id string, profile int, at time.Time) (bool, error)
}

// Security event types the Authenticator records about known stations
// (A00.FR.323, A00.FR.408: a connection refused for a security reason is
// logged as a security event in the CSMS).
const (
	EventInvalidCredentials       = "InvalidChargingStationCredentials"
	EventInvalidClientCertificate = "InvalidChargingStationCertificate"
	EventWrongSecurityProfile     = "WrongSecurityProfile"
)

// Options configure an Authenticator. Zero values take the defaults noted.
type Options struct {
	// Profile is the security profile of the listener.
	Profile Profile
	// Store holds the stations' credentials; required for profiles 1–3.
	// With a Store, profile 0 too refuses stations whose minimum profile
	// (store.Credentials.SecurityProfile) is higher.
	Store Store
	// Events, if set, receives a security event for each refused
	// connection of a registered station, at most one per station and
	// EventInterval.
	Events store.SecurityEvents
	// EventInterval bounds the security events recorded per station.
	// Default 1m.
	EventInterval time.Duration
	// Registry admits stations after the upgrade (registration, Pending
	// for --allow-unknown); nil admits every station that authenticated.
	Registry Registry
	// Organization is the CPO name that the O (organizationName) RDN of a
	// station certificate must contain under profile 3 (A00.FR.404); ""
	// skips that check.
	Organization string
	// MaxConcurrent bounds the password checks running at once. Default
	// GOMAXPROCS.
	MaxConcurrent int
	// CacheTTL is how long a successful check is remembered (a failed one
	// for at most a minute). Default 10m; negative disables the cache.
	CacheTTL time.Duration
	// CacheSize bounds the remembered outcomes. Default 100000.
	CacheSize int
	Logger    *slog.Logger
	Now       func() time.Time
}

// Stats counts the Authenticator's work since New.
type Stats struct {
	// Accepted and Refused count Authenticate outcomes; Refused is keyed
	// by reason.
	Accepted uint64
	Refused  map[string]uint64
	// Verifications counts argon2id evaluations; CacheHits the checks
	// answered from the cache.
	Verifications, CacheHits uint64
	// Promoted counts rotations completed because the station connected
	// with its new password.
	Promoted uint64
	// Raised counts stations whose minimum security profile rose because
	// they connected with a higher one.
	Raised uint64
}

// Reasons of refusals, the keys of Stats.Refused.
const (
	RefusedNoCredentials = "no credentials"
	RefusedUsername      = "username is not the station id"
	RefusedUnknown       = "unknown station"
	RefusedNoPassword    = "station has no password"
	RefusedWrongPassword = "wrong password"
	RefusedNoTLS         = "profile requires TLS"
	RefusedOldTLS        = "TLS version below 1.2"
	RefusedNoClientCert  = "no client certificate"
	RefusedCertSubject   = "certificate subject mismatch"
	RefusedDowngrade     = "security profile below the station's"
	RefusedBusy          = "too many checks in progress"
	RefusedStoreError    = "store error"
)

// Authenticator authenticates the stations of one listener.
type Authenticator struct {
	opts  Options
	log   *slog.Logger
	sem   chan struct{}
	cache *cache

	accepted, verifications, cacheHits, promoted, raised atomic.Uint64

	mu        sync.Mutex
	refused   map[string]uint64
	lastEvent map[string]time.Time
}

// Registry is gateway.Registry, declared here so that the CSMS can use
// this package's password functions without depending on the gateway.
type Registry interface {
	Admit(ctx context.Context, id string, r *http.Request) error
}

// New returns an Authenticator for opts. It does no I/O. It panics if the
// profile is not 0–3 or a profile that checks passwords has no Store.
func New(opts Options) *Authenticator {
	if !opts.Profile.Valid() {
		panic(fmt.Sprintf("auth: security profile %d is not 0–3", opts.Profile))
	}
	if opts.Profile != ProfileNone && opts.Store == nil {
		panic("auth: Options.Store is nil")
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = 10 * time.Minute
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 100_000
	}
	if opts.EventInterval <= 0 {
		opts.EventInterval = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &Authenticator{
		opts:      opts,
		log:       opts.Logger.With("profile", int(opts.Profile)),
		sem:       make(chan struct{}, opts.MaxConcurrent),
		refused:   map[string]uint64{},
		lastEvent: map[string]time.Time{},
	}
	if opts.CacheTTL > 0 {
		a.cache = newCache(opts.CacheSize)
	}
	return a
}

// Profile returns the listener's security profile.
func (a *Authenticator) Profile() Profile { return a.opts.Profile }

// Admit delegates to the wrapped Registry; see gateway.Registry.
func (a *Authenticator) Admit(ctx context.Context, id string, r *http.Request) error {
	if a.opts.Registry == nil {
		return nil
	}
	return a.opts.Registry.Admit(ctx, id, r)
}

// Authenticate checks the station's credentials for the listener's
// profile before the upgrade; see gateway.Authenticator for the error
// codes. It never logs or returns a password.
//
// A station is also refused (403) on a listener whose profile is below
// its minimum, store.Credentials.SecurityProfile (A00.FR.002; 1.6 security
// whitepaper A05.FR.09, 2.0.1 A05.FR.07: once a station connected with a
// higher profile, the CSMS does not let it connect with a lower one); a
// station that authenticates with a higher profile than its minimum has
// the minimum raised to it.
func (a *Authenticator) Authenticate(ctx context.Context, id string, r *http.Request) error {
	var (
		c   store.Credentials
		err error
	)
	switch a.opts.Profile {
	case ProfileNone:
		if a.opts.Store == nil {
			return nil
		}
		if c, err = a.opts.Store.GetCredentials(ctx, id); ocppd.ErrorCode(err) == ocppd.ENOTFOUND {
			return nil // the Registry decides about unknown stations
		} else if err != nil {
			a.count(RefusedStoreError)
			return fmt.Errorf("authenticate %s: %w", id, err)
		}
	case ProfileBasic:
		c, err = a.basic(ctx, id, r)
	case ProfileTLSBasic:
		if err = a.checkTLS(id, r); err == nil {
			c, err = a.basic(ctx, id, r)
		}
	case ProfileClientCert:
		if err = a.checkTLS(id, r); err == nil {
			c, err = a.clientCert(ctx, id, r)
		}
	}
	if err != nil {
		return err
	}
	if c.ChargePointID != "" {
		if err := a.noDowngrade(ctx, id, r, c); err != nil {
			return err
		}
	}
	a.accepted.Add(1)
	return nil
}

// noDowngrade refuses a station whose minimum profile is above the
// listener's, and raises the minimum of one that connects with a higher
// profile (A05.FR.07 of 2.0.1, A05.FR.09 of the 1.6 whitepaper).
func (a *Authenticator) noDowngrade(ctx context.Context, id string, r *http.Request, c store.Credentials) error {
	p := int(a.opts.Profile)
	if c.SecurityProfile > p {
		a.log.Warn("refused: the station connected with a higher security profile before (reset it with `ocppd cp security-profile`)",
			"cp", id, "station_profile", c.SecurityProfile, "remote", r.RemoteAddr)
		return a.refuse(ctx, id, r, ocppd.EFORBIDDEN, RefusedDowngrade, EventWrongSecurityProfile, true)
	}
	if p > c.SecurityProfile {
		raised, err := a.opts.Store.RaiseSecurityProfile(ctx, id, p, a.opts.Now())
		if err != nil {
			// The connection is authenticated; failing to record the
			// profile only delays the protection.
			a.log.Warn("recording the station's security profile failed", "cp", id, "err", err)
		} else if raised {
			a.raised.Add(1)
			a.log.Info("station connected with a higher security profile; lower ones are refused from now on", "cp", id, "profile", p)
		}
	}
	return nil
}

// refuse counts a refused authentication by reason, records a security
// event for a known station (rate-limited), and returns the error with
// the code the gateway maps to HTTP.
func (a *Authenticator) refuse(ctx context.Context, id string, r *http.Request, code, reason, event string, known bool) error {
	a.mu.Lock()
	a.refused[reason]++
	record := false
	if known && a.opts.Events != nil && event != "" {
		now := a.opts.Now()
		if last, ok := a.lastEvent[id]; !ok || now.Sub(last) >= a.opts.EventInterval {
			if len(a.lastEvent) >= a.opts.CacheSize {
				clear(a.lastEvent)
			}
			a.lastEvent[id] = now
			record = true
		}
	}
	a.mu.Unlock()
	if record {
		err := a.opts.Events.AddSecurityEvent(ctx, store.SecurityEvent{
			ChargePointID: id, Type: event,
			TechInfo:  fmt.Sprintf("connection from %s refused: %s (security profile %d)", r.RemoteAddr, reason, a.opts.Profile),
			Timestamp: a.opts.Now(),
		})
		if err != nil {
			a.log.Warn("record security event", "cp", id, "err", err)
		}
	}
	return ocppd.Errorf(code, "station %s: %s", id, reason)
}

// checkTLS enforces TLS 1.2 or later for profiles 2 and 3 (A00.FR.312–314;
// 2.0.1 allows nothing older).
func (a *Authenticator) checkTLS(id string, r *http.Request) error {
	if r.TLS == nil {
		return a.refuse(r.Context(), id, r, ocppd.EFORBIDDEN, RefusedNoTLS, "", false)
	}
	if r.TLS.Version < tls.VersionTLS12 {
		return a.refuse(r.Context(), id, r, ocppd.EFORBIDDEN, RefusedOldTLS, "", false)
	}
	return nil
}

// basic checks HTTP Basic credentials (profiles 1 and 2) and returns the
// station's credentials.
func (a *Authenticator) basic(ctx context.Context, id string, r *http.Request) (store.Credentials, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		// A00.FR.203/302: credentials with every connection request. A
		// station sending a client certificate instead uses profile 3
		// against a profile 2 port (A00.FR.002).
		return store.Credentials{}, a.refuse(ctx, id, r, ocppd.EUNAUTHORIZED, RefusedNoCredentials, EventWrongSecurityProfile, a.known(ctx, id))
	}
	if user != id {
		// A00.FR.204/303 (2.0.1 A00.FR.207: the CSMS validates it): the
		// username is the identity in the URL, or a station could log in
		// as itself and be filed under another's id.
		return store.Credentials{}, a.refuse(ctx, id, r, ocppd.EUNAUTHORIZED, RefusedUsername, EventInvalidCredentials, a.known(ctx, id))
	}
	if len(pass) > 4*MaxPasswordLen {
		return store.Credentials{}, a.refuse(ctx, id, r, ocppd.EUNAUTHORIZED, RefusedWrongPassword, EventInvalidCredentials, a.known(ctx, id))
	}
	c, err := a.opts.Store.GetCredentials(ctx, id)
	switch {
	case ocppd.ErrorCode(err) == ocppd.ENOTFOUND:
		// 401, not 404: an unauthenticated peer does not learn which ids
		// exist.
		return store.Credentials{}, a.refuse(ctx, id, r, ocppd.EUNAUTHORIZED, RefusedUnknown, "", false)
	case err != nil:
		a.count(RefusedStoreError)
		return store.Credentials{}, fmt.Errorf("authenticate %s: %w", id, err)
	case c.PasswordHash == "" && c.PendingHash == "":
		a.log.Warn("station has no password; set one with `ocppd cp passwd`", "cp", id)
		return store.Credentials{}, a.refuse(ctx, id, r, ocppd.EUNAUTHORIZED, RefusedNoPassword, EventInvalidCredentials, true)
	}
	match, err := a.check(ctx, id, c, pass)
	if err != nil {
		return store.Credentials{}, err
	}
	switch match {
	case matchCurrent:
		return c, nil
	case matchPending:
		// The station uses the password it was sent: it accepted it, even
		// if its answer was lost (A01.FR.03). Complete the rotation.
		if err := a.opts.Store.ResolvePendingPassword(ctx, id, c.PendingHash, true, a.opts.Now()); err != nil && ocppd.ErrorCode(err) != ocppd.ECONFLICT {
			a.log.Warn("complete password rotation", "cp", id, "err", err)
		} else if err == nil {
			a.promoted.Add(1)
			a.log.Info("station connected with its new password; rotation complete", "cp", id)
		}
		return c, nil
	}
	return store.Credentials{}, a.refuse(ctx, id, r, ocppd.EUNAUTHORIZED, RefusedWrongPassword, EventInvalidCredentials, true)
}

// known reports whether id is a registered station (for security events).
func (a *Authenticator) known(ctx context.Context, id string) bool {
	if a.opts.Events == nil {
		return false
	}
	_, err := a.opts.Store.GetCredentials(ctx, id)
	return err == nil
}

func (a *Authenticator) count(reason string) {
	a.mu.Lock()
	a.refused[reason]++
	a.mu.Unlock()
}

type match int

const (
	matchNone match = iota
	matchCurrent
	matchPending
)

// check compares the presented password with the station's current and
// pending hashes, through the cache and the concurrency bound.
func (a *Authenticator) check(ctx context.Context, id string, c store.Credentials, pass string) (match, error) {
	var mac [32]byte
	if a.cache != nil {
		mac = a.cache.mac(id, c.PasswordHash, c.PendingHash, pass)
		if m, ok := a.cache.get(id, mac, a.opts.Now()); ok {
			a.cacheHits.Add(1)
			return m, nil
		}
	}
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		a.count(RefusedBusy)
		return matchNone, ocppd.Errorf(ocppd.EUNAVAILABLE, "too many authentications in progress")
	}
	m, err := a.verify(c, pass)
	<-a.sem
	if err != nil {
		a.count(RefusedStoreError)
		return matchNone, fmt.Errorf("authenticate %s: %w", id, err)
	}
	if a.cache != nil {
		ttl := a.opts.CacheTTL
		if m == matchNone {
			ttl = min(ttl, time.Minute)
		}
		a.cache.put(id, mac, m, a.opts.Now().Add(ttl))
	}
	return m, nil
}

// verify runs the argon2id checks: each stored hash against each form the
// presented password may take.
func (a *Authenticator) verify(c store.Credentials, pass string) (match, error) {
	for _, h := range []struct {
		hash string
		m    match
	}{{c.PasswordHash, matchCurrent}, {c.PendingHash, matchPending}} {
		if h.hash == "" {
			continue
		}
		for _, cand := range candidates(pass) {
			a.verifications.Add(1)
			ok, err := verifyHash(h.hash, cand)
			if err != nil {
				return matchNone, err
			}
			if ok {
				return h.m, nil
			}
		}
	}
	return matchNone, nil
}

// clientCert checks a profile 3 client certificate. Its chain was verified
// against the configured CA during the TLS handshake (A00.FR.403); here
// its subject is matched to the station (A00.FR.404, A00.FR.405).
func (a *Authenticator) clientCert(ctx context.Context, id string, r *http.Request) (store.Credentials, error) {
	if len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		// A00.FR.407: no valid certificate, no connection. A station
		// sending Basic credentials instead uses profile 2 (A00.FR.002).
		return store.Credentials{}, a.refuse(ctx, id, r, ocppd.EFORBIDDEN, RefusedNoClientCert, EventWrongSecurityProfile, a.known(ctx, id))
	}
	leaf := r.TLS.VerifiedChains[0][0]
	c, err := a.opts.Store.GetCredentials(ctx, id)
	known := err == nil
	switch {
	case ocppd.ErrorCode(err) == ocppd.ENOTFOUND:
		c = store.Credentials{} // the Registry decides about unknown stations
	case err != nil:
		a.count(RefusedStoreError)
		return store.Credentials{}, fmt.Errorf("authenticate %s: %w", id, err)
	}
	if reason := a.subjectMismatch(leaf, id, c.SerialNumber); reason != "" {
		a.log.Warn("client certificate does not belong to the station", "cp", id, "why", reason,
			"subject", leaf.Subject.String(), "remote", r.RemoteAddr)
		return store.Credentials{}, a.refuse(ctx, id, r, ocppd.EFORBIDDEN, RefusedCertSubject, EventInvalidClientCertificate, known)
	}
	return c, nil
}

// subjectMismatch returns why leaf is not the certificate of station id
// (expected CN serial, "" meaning the id), or "".
func (a *Authenticator) subjectMismatch(leaf *x509.Certificate, id, serial string) string {
	if a.opts.Organization != "" && !slices.Contains(leaf.Subject.Organization, a.opts.Organization) {
		return "O is not " + a.opts.Organization // A00.FR.404
	}
	want := serial
	if want == "" {
		want = id
	}
	if leaf.Subject.CommonName != want {
		return "CN is not " + want // A00.FR.405
	}
	return ""
}

// Stats returns a snapshot of the counters.
func (a *Authenticator) Stats() Stats {
	a.mu.Lock()
	refused := make(map[string]uint64, len(a.refused))
	for k, v := range a.refused {
		refused[k] = v
	}
	a.mu.Unlock()
	return Stats{
		Accepted: a.accepted.Load(), Refused: refused,
		Verifications: a.verifications.Load(), CacheHits: a.cacheHits.Load(), Promoted: a.promoted.Load(),
		Raised: a.raised.Load(),
	}
}

// cache remembers outcomes of password checks, keyed by station and an
// HMAC (under a key that never leaves the process) of the stored hashes
// and the presented password: a changed password or rotation misses.
type cache struct {
	key  [32]byte
	size int
	mu   sync.Mutex
	m    map[string]*entries
}

// entries keeps the last good and the last bad outcome of a station, so
// that an attacker's wrong guesses do not evict the station's own entry.
type entries struct{ good, bad cacheEntry }

type cacheEntry struct {
	mac [32]byte
	m   match
	exp time.Time
}

func newCache(size int) *cache {
	c := &cache{size: size, m: map[string]*entries{}}
	_, _ = rand.Read(c.key[:])
	return c
}

func (c *cache) mac(id, hash, pending, pass string) [32]byte {
	h := hmac.New(sha256.New, c.key[:])
	for _, s := range []string{id, hash, pending, pass} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func (c *cache) get(id string, mac [32]byte, now time.Time) (match, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[id]
	if e == nil {
		return matchNone, false
	}
	for _, ce := range []cacheEntry{e.good, e.bad} {
		if hmac.Equal(ce.mac[:], mac[:]) && now.Before(ce.exp) {
			return ce.m, true
		}
	}
	return matchNone, false
}

func (c *cache) put(id string, mac [32]byte, m match, exp time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[id]
	if e == nil {
		if len(c.m) >= c.size {
			for k := range c.m { // evict an arbitrary station
				delete(c.m, k)
				break
			}
		}
		e = &entries{}
		c.m[id] = e
	}
	if m == matchNone {
		e.bad = cacheEntry{mac, m, exp}
	} else {
		e.good = cacheEntry{mac, m, exp}
	}
}
