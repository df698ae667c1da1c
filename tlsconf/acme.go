package tlsconf

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// ACMEOptions configure certificates from an ACME CA (Let's Encrypt by
// default) for your own domain.
type ACMEOptions struct {
	// Domains are the host names to obtain certificates for; a handshake
	// for any other name is refused (autocert.HostWhitelist). Required.
	Domains []string
	// CacheDir keeps the account key and the certificates across
	// restarts (created with mode 0700). Required: without it every
	// restart would ask the CA again and hit its rate limits.
	CacheDir string
	// Email is the contact address of the ACME account (optional).
	Email string
	// DirectoryURL is the CA's ACME directory; default Let's Encrypt
	// production (acme.LetsEncryptURL).
	DirectoryURL string
	// HTTPClient talks to the CA; default http.DefaultClient. Tests set
	// one that trusts a local CA.
	HTTPClient *http.Client
}

// ACME returns an autocert manager for o. Its GetCertificate serves an
// ECDSA certificate to clients that support it and an RSA one to the
// others, obtains and renews them (30 days before expiry) through the
// TLS-ALPN-01 challenge, which needs the listener reachable on port 443
// of each domain and ACMEProtos among its ALPN protocols.
func ACME(o ACMEOptions) (*autocert.Manager, error) {
	if len(o.Domains) == 0 {
		return nil, errors.New("acme: no domain")
	}
	for _, d := range o.Domains {
		if d == "" || strings.ContainsAny(d, "/:*") {
			return nil, fmt.Errorf("acme: %q is not a host name", d)
		}
	}
	if o.CacheDir == "" {
		return nil, errors.New("acme: a cache directory is required")
	}
	if err := os.MkdirAll(o.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("acme: cache directory: %w", err)
	}
	if o.DirectoryURL == "" {
		o.DirectoryURL = acme.LetsEncryptURL
	}
	return &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(o.CacheDir),
		HostPolicy: autocert.HostWhitelist(o.Domains...),
		Email:      o.Email,
		Client:     &acme.Client{DirectoryURL: o.DirectoryURL, HTTPClient: o.HTTPClient},
	}, nil
}

// ACMEProtos are the ALPN protocols an ACME-served listener must offer
// for the TLS-ALPN-01 challenge.
var ACMEProtos = []string{acme.ALPNProto}
