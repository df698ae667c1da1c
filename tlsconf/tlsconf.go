// Package tlsconf builds the TLS configuration of ocppd's OCPP listeners
// under security profiles 2 and 3:
//
//   - TLS 1.2 or later only (1.6 security whitepaper A00.FR.312/416,
//     2.0.1 Part 2 A00.FR.313/416: TLS 1.0 and 1.1 are not allowed);
//   - for TLS 1.2, the four cipher suites the CSMS must support
//     (whitepaper A00.FR.317/421, 2.0.1 A00.FR.318/421):
//     TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
//     TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
//     TLS_RSA_WITH_AES_128_GCM_SHA256 and TLS_RSA_WITH_AES_256_GCM_SHA384,
//     plus the ECDHE_RSA variants of the same AEADs, preferred, so that a
//     station with an RSA certificate can have forward secrecy; nothing
//     with CBC, RC4 or 3DES (A00.FR.319); no compression exists in Go's TLS
//     (A00.FR.320); TLS 1.3 suites are Go's (all AEAD);
//   - an RSA and an ECDSA certificate side by side, the one the client
//     supports chosen per handshake (A00.FR.317 note: "the Central System
//     will have to provide 2 different certificates");
//   - certificate and key files re-read when they change, without a
//     restart (CertFiles), or certificates from an ACME CA for your own
//     domain (ACME, golang.org/x/crypto/acme/autocert);
//   - profile 3: client certificates verified against a configured CA
//     (A00.FR.403), whose file is re-read when it changes (CAFile); the
//     subject is checked per station by package auth.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"
)

// CipherSuites12 are the TLS 1.2 cipher suites offered, in order of
// preference. The last four are the ones OCPP requires of a CSMS
// (whitepaper A00.FR.317, 2.0.1 A00.FR.318); the ECDHE_RSA ones add
// forward secrecy for RSA certificates. Go enables TLS_RSA_* key exchange
// only when listed explicitly, as here.
var CipherSuites12 = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
}

// Options configure Config.
type Options struct {
	// GetCertificate provides the server certificate per handshake
	// (CertFiles.GetCertificate or an ACME manager's). Required.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ClientCAs, if set, asks clients for a certificate and verifies it
	// against these CAs (security profile 3). A client without one
	// completes the handshake and is refused at the HTTP layer with a
	// logged reason (package auth); an invalid one fails the handshake.
	ClientCAs *x509.CertPool
	// ClientCAFile, if set instead of ClientCAs, provides the client CAs
	// from a file that is re-read when it changes: each handshake
	// verifies against the CAs of the file as it is then (checked at most
	// once per its interval).
	ClientCAFile *CAFile
	// NextProtos are ALPN protocols (an ACME manager needs
	// "acme-tls/1"); http/1.1 is always offered.
	NextProtos []string
}

// Config returns the server TLS configuration of an OCPP listener.
func Config(o Options) (*tls.Config, error) {
	if o.GetCertificate == nil {
		return nil, errors.New("tls config: no certificate source")
	}
	c := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   slices.Clone(CipherSuites12),
		GetCertificate: o.GetCertificate,
		NextProtos:     append(slices.Clone(o.NextProtos), "http/1.1"),
	}
	if o.ClientCAs != nil && o.ClientCAFile != nil {
		return nil, errors.New("tls config: ClientCAs and ClientCAFile are alternatives")
	}
	if o.ClientCAs != nil {
		c.ClientCAs = o.ClientCAs
		c.ClientAuth = tls.VerifyClientCertIfGiven
	}
	if f := o.ClientCAFile; f != nil {
		c.ClientCAs = f.Pool()
		c.ClientAuth = tls.VerifyClientCertIfGiven
		base := c
		var (
			mu      sync.Mutex
			cur     *tls.Config
			curPool = base.ClientCAs
		)
		c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
			pool := f.Pool()
			if pool == base.ClientCAs {
				return nil, nil // unchanged: the listener's own config
			}
			mu.Lock()
			defer mu.Unlock()
			if pool != curPool {
				// One clone per change of the file, not per handshake. A
				// session resumed from a ticket is verified again against
				// the new ClientCAs by crypto/tls.
				cc := base.Clone()
				cc.GetConfigForClient = nil
				cc.ClientCAs = pool
				cur, curPool = cc, pool
			}
			return cur, nil
		}
	}
	return c, nil
}

// CAFile serves the CA certificates of a PEM file and re-reads the file
// when it changes (modification time or size, looked at most once per
// interval, on use). A file that fails to load keeps the previous CAs
// (and is logged), so a half-written update never locks every station
// out.
type CAFile struct {
	path     string
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	pool    *x509.CertPool
	certs   []*x509.Certificate
	stamp   string
	checked time.Time
}

// NewCAFile loads the CA certificates of path and returns a source that
// reloads them on change. A nil logger means slog.Default; interval ≤ 0
// means DefaultCheckInterval.
func NewCAFile(path string, interval time.Duration, log *slog.Logger) (*CAFile, error) {
	if interval <= 0 {
		interval = DefaultCheckInterval
	}
	if log == nil {
		log = slog.Default()
	}
	f := &CAFile{path: path, interval: interval, log: log, now: time.Now}
	stamp, err := fileStamp(path)
	if err != nil {
		return nil, fmt.Errorf("client CA file: %w", err)
	}
	if f.pool, f.certs, err = LoadCAs(path); err != nil {
		return nil, err
	}
	f.stamp, f.checked = stamp, f.now()
	return f, nil
}

func fileStamp(name string) (string, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d/%d", fi.ModTime().UnixNano(), fi.Size()), nil
}

// reload re-reads the file if it changed, at most once per interval;
// f.mu held.
func (f *CAFile) reload() {
	now := f.now()
	if now.Sub(f.checked) < f.interval {
		return
	}
	f.checked = now
	stamp, err := fileStamp(f.path)
	if err != nil || stamp == f.stamp {
		return
	}
	f.stamp = stamp // a broken file is not retried until it changes again
	pool, certs, err := LoadCAs(f.path)
	if err != nil {
		f.log.Error("client CA file changed but does not load; keeping the previous CAs", "file", f.path, "err", err)
		return
	}
	f.pool, f.certs = pool, certs
	subjects := make([]string, len(certs))
	for i, c := range certs {
		subjects[i] = c.Subject.String()
	}
	f.log.Info("client CA file reloaded", "file", f.path, "cas", subjects)
}

// Pool returns the CAs to verify client certificates against, after
// reloading a changed file. The same pool is returned until the file
// changes.
func (f *CAFile) Pool() *x509.CertPool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reload()
	return f.pool
}

// Certificates returns the CA certificates currently in use.
func (f *CAFile) Certificates() []*x509.Certificate {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reload()
	return slices.Clone(f.certs)
}

// LoadCAs reads a PEM file of CA certificates.
func LoadCAs(path string) (*x509.CertPool, []*x509.Certificate, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read client CA file: %w", err)
	}
	var certs []*x509.Certificate
	for rest := raw; ; {
		var c *x509.Certificate
		c, rest, err = nextCert(rest)
		if err != nil {
			return nil, nil, fmt.Errorf("client CA file %s: %w", path, err)
		}
		if c == nil {
			break
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("client CA file %s: no certificate", path)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, certs, nil
}

// KeyPair names a certificate chain file and its private key file (PEM).
type KeyPair struct{ CertFile, KeyFile string }

// CertFiles serves certificates from files and re-reads them when they
// change: every handshake at most once per CheckInterval compares the
// files' modification times and sizes, and a changed pair is loaded
// again. A pair that fails to load keeps the previous certificate (and
// is logged), so a half-written renewal never takes the listener down.
type CertFiles struct {
	pairs    []KeyPair
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	certs   []*tls.Certificate
	stamps  []string
	checked time.Time
}

// DefaultCheckInterval is how often CertFiles looks at its files.
const DefaultCheckInterval = 5 * time.Second

// NewCertFiles loads the key pairs (e.g. an RSA and an ECDSA one) and
// returns a certificate source that reloads them on change. A nil logger
// means slog.Default; interval ≤ 0 means DefaultCheckInterval.
func NewCertFiles(pairs []KeyPair, interval time.Duration, log *slog.Logger) (*CertFiles, error) {
	if len(pairs) == 0 {
		return nil, errors.New("tls: no certificate and key files")
	}
	if interval <= 0 {
		interval = DefaultCheckInterval
	}
	if log == nil {
		log = slog.Default()
	}
	f := &CertFiles{pairs: pairs, interval: interval, log: log, now: time.Now,
		certs: make([]*tls.Certificate, len(pairs)), stamps: make([]string, len(pairs))}
	for i, p := range pairs {
		c, stamp, err := loadPair(p)
		if err != nil {
			return nil, err
		}
		f.certs[i], f.stamps[i] = c, stamp
	}
	f.checked = f.now()
	return f, nil
}

// loadPair reads a key pair and the stamp (mtimes and sizes) it was read
// at.
func loadPair(p KeyPair) (*tls.Certificate, string, error) {
	stamp, err := stampOf(p)
	if err != nil {
		return nil, "", err
	}
	c, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
	if err != nil {
		return nil, "", fmt.Errorf("load TLS key pair %s / %s: %w", p.CertFile, p.KeyFile, err)
	}
	if c.Leaf == nil && len(c.Certificate) > 0 {
		c.Leaf, _ = x509.ParseCertificate(c.Certificate[0])
	}
	return &c, stamp, nil
}

func stampOf(p KeyPair) (string, error) {
	var s string
	for _, name := range []string{p.CertFile, p.KeyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return "", fmt.Errorf("TLS key pair: %w", err)
		}
		s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return s, nil
}

// reload re-reads the pairs whose files changed, at most once per
// interval.
func (f *CertFiles) reload() {
	now := f.now()
	if now.Sub(f.checked) < f.interval {
		return
	}
	f.checked = now
	for i, p := range f.pairs {
		stamp, err := stampOf(p)
		if err != nil || stamp == f.stamps[i] {
			continue
		}
		c, stamp, err := loadPair(p)
		if err != nil {
			f.log.Error("TLS certificate changed but does not load; keeping the previous one", "cert", p.CertFile, "err", err)
			f.stamps[i] = stamp // do not retry until it changes again
			continue
		}
		f.certs[i], f.stamps[i] = c, stamp
		attrs := []any{"cert", p.CertFile}
		if c.Leaf != nil {
			attrs = append(attrs, "subject", c.Leaf.Subject.String(), "notAfter", c.Leaf.NotAfter)
		}
		f.log.Info("TLS certificate reloaded", attrs...)
	}
}

// Certificates returns the certificates currently served.
func (f *CertFiles) Certificates() []*tls.Certificate {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reload()
	return slices.Clone(f.certs)
}

// GetCertificate returns the first certificate the client supports (an
// ECDSA one for a client offering ECDSA suites, else RSA), after reloading
// changed files; with none supported, the first one.
func (f *CertFiles) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	certs := f.Certificates()
	for _, c := range certs {
		if hello.SupportsCertificate(c) == nil {
			return c, nil
		}
	}
	return certs[0], nil
}
