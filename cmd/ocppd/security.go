package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/auth"
	"github.com/ocppd/ocppd/bus/embedded"
	"github.com/ocppd/ocppd/csms"
	"github.com/ocppd/ocppd/gateway"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/pki"
	"github.com/ocppd/ocppd/store"
	"github.com/ocppd/ocppd/tlsconf"
)

// securityConfig is the security part of `ocppd serve`: the OCPP
// listener's security profile and TLS, the limits against hostile
// clients, the CA for SignCertificate, and the MQTT listener's
// credentials. See docs/security.md.
type securityConfig struct {
	Profile int
	// TLSAddr, when set, opens a second OCPP listener with TLS whose
	// profile is TLSProfile (2 or 3): profile 0/1 stations on --ocpp-addr
	// and profile 2/3 ones here, each listener enforcing its own.
	TLSAddr      string
	TLSProfile   int
	TLSCert      string // comma-separated, e.g. rsa.crt,ecdsa.crt
	TLSKey       string // the matching keys, in the same order
	TLSClientCA  string
	TLSClientOrg string
	ACMEDomains  string
	ACMEDir      string
	ACMEEmail    string
	ACMEURL      string

	CADir     string
	CAOrg     string
	CACommand string

	MQTTUsername string
	MQTTPassword string

	ConnsPerIP          int
	HandshakeRate       float64
	GlobalHandshakeRate float64
	MaxInvalidFrames    int
}

// addSecurityFlags defines the security flags (each with its OCPPD_ env
// variable and config-file key, by loadFlags).
func addSecurityFlags(fs *flag.FlagSet, c *securityConfig) {
	fs.IntVar(&c.Profile, "security-profile", 0, "OCPP security profile of the OCPP listener: 0 none (labs), 1 HTTP Basic, 2 TLS + HTTP Basic, 3 TLS + client certificates")
	fs.StringVar(&c.TLSAddr, "ocpp-tls-addr", "", "address of a second OCPP listener, with TLS and --tls-security-profile, beside --ocpp-addr (e.g. :8443); each listener enforces only its own profile")
	fs.IntVar(&c.TLSProfile, "tls-security-profile", 2, "security profile of --ocpp-tls-addr: 2 TLS + HTTP Basic, 3 TLS + client certificates")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate chain(s) of the OCPP listener (profiles 2, 3), comma-separated for an RSA and an ECDSA one; re-read when they change")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key(s) of --tls-cert, in the same order")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", "", "PEM CA certificate(s) station certificates must chain to (profile 3); default the built-in CA of --ca-dir")
	fs.StringVar(&c.TLSClientOrg, "tls-client-org", "", "organisation (O) a station certificate must carry (profile 3, A00.FR.404); default the client CA's")
	fs.StringVar(&c.ACMEDomains, "acme-domain", "", "obtain the OCPP listener's certificate from an ACME CA (Let's Encrypt) for these comma-separated domains, instead of --tls-cert; the listener must be reachable on port 443")
	fs.StringVar(&c.ACMEDir, "acme-dir", "", "directory keeping the ACME account and certificates (default DATA-DIR/acme)")
	fs.StringVar(&c.ACMEEmail, "acme-email", "", "contact e-mail of the ACME account")
	fs.StringVar(&c.ACMEURL, "acme-url", "", "ACME directory URL (default Let's Encrypt production)")
	fs.StringVar(&c.CADir, "ca-dir", "", "directory of the built-in CA that signs station certificates (SignCertificate); created with --ca-org if empty")
	fs.StringVar(&c.CAOrg, "ca-org", "", "organisation (CPO name) of the built-in CA and of the certificates it issues")
	fs.StringVar(&c.CACommand, "ca-command", "", "external CA: a command that reads a station's CSR on stdin and writes the PEM chain (instead of --ca-dir)")
	fs.StringVar(&c.MQTTUsername, "mqtt-username", "", "user of the MQTT listener for outside tools (reads every topic, writes none); required when --mqtt-addr is not a loopback address")
	fs.StringVar(&c.MQTTPassword, "mqtt-password", "", "password of --mqtt-username")
	fs.IntVar(&c.ConnsPerIP, "max-conns-per-ip", 0, "open OCPP connections allowed from one IP address; more get 429 (0: no limit; behind a TCP load balancer without PROXY protocol all come from its address)")
	fs.Float64Var(&c.HandshakeRate, "handshake-rate-per-ip", 0, "OCPP upgrade requests per second allowed from one IP address; more get 429 (0: no limit)")
	fs.Float64Var(&c.GlobalHandshakeRate, "handshake-rate", 0, "OCPP upgrade requests per second allowed in total; more get 503 (0: no limit)")
	fs.IntVar(&c.MaxInvalidFrames, "max-invalid-frames", gateway.DefaultMaxInvalidFrames, "malformed frames a station may send per minute before it is disconnected (-1: no limit)")
}

// validate checks the combination of security flags.
func (c securityConfig) validate(mqttAddr string, embeddedBroker bool) error {
	p := auth.Profile(c.Profile)
	if !p.Valid() {
		return usageErrorf("--security-profile %d: expected 0, 1, 2 or 3", c.Profile)
	}
	tp := auth.Profile(c.TLSProfile)
	if c.TLSAddr != "" && !tp.TLS() {
		return usageErrorf("--tls-security-profile %d: the listener --ocpp-tls-addr serves TLS, so 2 or 3", c.TLSProfile)
	}
	if c.TLSAddr != "" && tp == p {
		return usageErrorf("--ocpp-tls-addr with the same profile as --ocpp-addr (%d) adds nothing: one profile per listener", c.Profile)
	}
	needTLS := p.TLS() || c.TLSAddr != ""
	if needTLS && c.TLSCert == "" && c.ACMEDomains == "" {
		return usageErrorf("security profiles 2 and 3 (--security-profile, --ocpp-tls-addr) need TLS: set --tls-cert and --tls-key, or --acme-domain")
	}
	if !needTLS && (c.TLSCert != "" || c.ACMEDomains != "") {
		return usageErrorf("--tls-cert/--acme-domain serve TLS, which is security profile 2 or 3; set --security-profile or --ocpp-tls-addr")
	}
	if c.TLSCert != "" && c.ACMEDomains != "" {
		return usageErrorf("--tls-cert and --acme-domain are alternatives; set one")
	}
	if len(splitList(c.TLSCert)) != len(splitList(c.TLSKey)) {
		return usageErrorf("--tls-cert and --tls-key must list as many files")
	}
	if c.CADir != "" && c.CACommand != "" {
		return usageErrorf("--ca-dir and --ca-command are alternatives; set one")
	}
	if c.usesProfile(auth.ProfileClientCert) && c.TLSClientCA == "" && c.CADir == "" {
		return usageErrorf("--security-profile 3 needs the CA station certificates chain to: --tls-client-ca, or the built-in CA's --ca-dir")
	}
	if (c.MQTTUsername == "") != (c.MQTTPassword == "") {
		return usageErrorf("--mqtt-username and --mqtt-password go together")
	}
	if embeddedBroker && embedded.RequiresCredentials(mqttAddr) && c.MQTTUsername == "" {
		return usageErrorf("the MQTT listener --mqtt-addr %s is reachable from other machines, so it requires credentials: set --mqtt-username and --mqtt-password, or bind it to 127.0.0.1", mqttAddr)
	}
	return nil
}

// usesProfile reports whether a listener serves profile p.
func (c securityConfig) usesProfile(p auth.Profile) bool {
	return auth.Profile(c.Profile) == p || c.TLSAddr != "" && auth.Profile(c.TLSProfile) == p
}

func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// gatewayLimits returns the gateway's limits against hostile clients.
func (c securityConfig) gatewayLimits() gateway.Limits {
	return gateway.Limits{
		ConnsPerAddr:        c.ConnsPerIP,
		HandshakeRate:       c.HandshakeRate,
		GlobalHandshakeRate: c.GlobalHandshakeRate,
		MaxInvalidFrames:    c.MaxInvalidFrames,
	}
}

// mqttUsers returns the users of the embedded broker's listener.
func (c securityConfig) mqttUsers() []embedded.User {
	if c.MQTTUsername == "" {
		return nil
	}
	return []embedded.User{{Username: c.MQTTUsername, Password: c.MQTTPassword, Read: []string{"#"}}}
}

// signer returns the CA of SignCertificate: the built-in one of --ca-dir,
// the --ca-command, or nil.
func (s *server) signer() (pki.Signer, *pki.CA, error) {
	c := s.cfg.Security
	switch {
	case c.CACommand != "":
		f := strings.Fields(c.CACommand)
		return pki.Command{Path: f[0], Args: f[1:]}, nil, nil
	case c.CADir != "":
		ca, err := pki.OpenCA(c.CADir, c.CAOrg)
		if err != nil {
			return nil, nil, fmt.Errorf("--ca-dir %s: %w", c.CADir, err)
		}
		return ca, ca, nil
	}
	return nil, nil, nil
}

// enableCSMSSecurity turns on certificate signing and password rotation
// tracking in the CSMS (before it starts).
func (s *server) enableCSMSSecurity(svc *csms.Service) error {
	signer, _, err := s.signer()
	if err != nil {
		return err
	}
	svc.EnableSecurity(csms.SecurityOptions{Signer: signer})
	return nil
}

// secureRegistry wraps the gateway's registry in the authenticator of the
// listener's security profile: credentials are checked before the upgrade.
//
// With a second listener (--ocpp-tls-addr) each listener has its own
// authenticator, picked per request (see listenerAuth).
func (s *server) secureRegistry(reg gateway.Registry) (gateway.Registry, error) {
	c := s.cfg.Security
	p := auth.Profile(c.Profile)
	org := c.TLSClientOrg
	if c.usesProfile(auth.ProfileClientCert) && org == "" {
		_, cas, err := s.clientCAs()
		if err != nil {
			return nil, err
		}
		for _, ca := range cas {
			if len(ca.Subject.Organization) > 0 {
				org = ca.Subject.Organization[0]
				break
			}
		}
	}
	if p == auth.ProfileNone {
		s.log.Warn("security profile 0: stations are not authenticated; any client that knows a station id can connect as that station (set --security-profile 1–3 outside labs)")
	}
	newAuth := func(p auth.Profile) *auth.Authenticator {
		return auth.New(auth.Options{
			Profile: p, Store: s.store, Events: s.store, Registry: reg, Organization: org,
			Logger: s.log.With("component", "auth"),
		})
	}
	primary := newAuth(p)
	if c.TLSAddr == "" {
		return primary, nil
	}
	return &listenerAuth{primary: primary, tls: newAuth(auth.Profile(c.TLSProfile))}, nil
}

// listenerAuth authenticates each station with the authenticator of the
// listener it connected to (A00.FR.001/006: one profile per listener): the
// second listener's handler marks its requests (tlsListenerKey).
type listenerAuth struct {
	primary, tls *auth.Authenticator
}

// tlsListenerKey marks, in a request's context, a connection to the second
// OCPP listener (--ocpp-tls-addr).
type tlsListenerKey struct{}

func (l *listenerAuth) pick(r *http.Request) *auth.Authenticator {
	if r.Context().Value(tlsListenerKey{}) != nil {
		return l.tls
	}
	return l.primary
}

// Authenticate checks the station against its listener's profile.
func (l *listenerAuth) Authenticate(ctx context.Context, id string, r *http.Request) error {
	return l.pick(r).Authenticate(ctx, id, r)
}

// Admit admits the station through the registry both authenticators wrap.
func (l *listenerAuth) Admit(ctx context.Context, id string, r *http.Request) error {
	return l.pick(r).Admit(ctx, id, r)
}

// tlsListener is the optional second OCPP listener (--ocpp-tls-addr).
type tlsListener struct {
	ln  net.Listener
	srv *http.Server
}

// startTLSListener opens and serves the second OCPP listener, when
// configured, with TLS for --tls-security-profile; its connections go to
// the same gateway, authenticated under that profile.
func (s *server) startTLSListener(errLog *log.Logger) error {
	c := s.cfg.Security
	if c.TLSAddr == "" || s.gw == nil {
		return nil
	}
	cfg, err := s.ocppTLS(auth.Profile(c.TLSProfile))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.TLSAddr)
	if err != nil {
		return fmt.Errorf("listen for OCPP over TLS (--ocpp-tls-addr %s): %w", c.TLSAddr, err)
	}
	s.ocppTLS2.ln = tls.NewListener(ln, cfg)
	h := s.ocppHandler()
	s.ocppTLS2.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tlsListenerKey{}, true)))
		})}
	s.serve(s.ocppTLS2.srv, s.ocppTLS2.ln)
	s.log.Info("second OCPP listener", "addr", ln.Addr().String(), "security_profile", c.TLSProfile)
	return nil
}

// closeTLSListener stops the second OCPP listener accepting upgrades (the
// gateway closes the sessions).
func (s *server) closeTLSListener(ctx context.Context) error {
	if s.ocppTLS2.srv == nil {
		return nil
	}
	return s.ocppTLS2.srv.Shutdown(ctx)
}

// OCPPTLSAddr returns the address of the second OCPP listener ("" none).
func (s *server) OCPPTLSAddr() string {
	if s.ocppTLS2.ln == nil {
		return ""
	}
	return s.ocppTLS2.ln.Addr().String()
}

// clientCAs returns the CAs of profile 3: --tls-client-ca, or the
// built-in CA (created if needed).
func (s *server) clientCAs() (*x509.CertPool, []*x509.Certificate, error) {
	c := s.cfg.Security
	if c.TLSClientCA == "" {
		_, ca, err := s.signer()
		if err != nil {
			return nil, nil, err
		}
		if ca == nil {
			return nil, nil, errors.New("no client CA: set --tls-client-ca or --ca-dir")
		}
	}
	p, cs, err := tlsconf.LoadCAs(s.clientCAPath())
	return p, cs, err
}

// clientCAPath is the file of the profile 3 CAs: --tls-client-ca, or the
// built-in CA's certificate.
func (s *server) clientCAPath() string {
	if c := s.cfg.Security; c.TLSClientCA != "" {
		return c.TLSClientCA
	}
	return filepath.Join(s.cfg.Security.CADir, "ca.crt")
}

// listenOCPP opens the OCPP listener, with TLS for profiles 2 and 3.
func (s *server) listenOCPP() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.OCPPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for OCPP (--ocpp-addr %s): %w", s.cfg.OCPPAddr, err)
	}
	c := s.cfg.Security
	if !auth.Profile(c.Profile).TLS() {
		return ln, nil
	}
	cfg, err := s.ocppTLS(auth.Profile(c.Profile))
	if err != nil {
		ln.Close()
		return nil, err
	}
	return tls.NewListener(ln, cfg), nil
}

// ocppTLS builds the TLS configuration of an OCPP listener of profile p.
func (s *server) ocppTLS(p auth.Profile) (*tls.Config, error) {
	c := s.cfg.Security
	o := tlsconf.Options{}
	if c.ACMEDomains != "" {
		dir := c.ACMEDir
		if dir == "" {
			dir = filepath.Join(s.cfg.DataDir, "acme")
		}
		m, err := tlsconf.ACME(tlsconf.ACMEOptions{Domains: splitList(c.ACMEDomains), CacheDir: dir, Email: c.ACMEEmail, DirectoryURL: c.ACMEURL})
		if err != nil {
			return nil, err
		}
		o.GetCertificate, o.NextProtos = m.GetCertificate, tlsconf.ACMEProtos
	} else {
		certs, keys := splitList(c.TLSCert), splitList(c.TLSKey)
		pairs := make([]tlsconf.KeyPair, len(certs))
		for i := range certs {
			pairs[i] = tlsconf.KeyPair{CertFile: certs[i], KeyFile: keys[i]}
		}
		files, err := tlsconf.NewCertFiles(pairs, 0, s.log.With("component", "tls"))
		if err != nil {
			return nil, err
		}
		o.GetCertificate = files.GetCertificate
	}
	if p == auth.ProfileClientCert {
		// clientCAs creates the built-in CA if needed; the file is then
		// re-read when it changes, like the certificate files.
		if _, _, err := s.clientCAs(); err != nil {
			return nil, err
		}
		cas, err := tlsconf.NewCAFile(s.clientCAPath(), 0, s.log.With("component", "tls"))
		if err != nil {
			return nil, err
		}
		o.ClientCAFile = cas
	}
	return tlsconf.Config(o)
}

// passwdFlags are the flags of `ocppd cp passwd`.
type passwdFlags struct {
	password *string
	version  *string
	maxLen   *int
	serial   *string
}

func addPasswdFlags(fs *flag.FlagSet) *passwdFlags {
	return &passwdFlags{
		password: fs.String("password", "", "the password to set ('-' reads it from standard input); default: generate one and print it once"),
		version:  fs.String("ocpp", "", "OCPP version whose password rules apply: ocpp1.6 (AuthorizationKey: 32–40 hex digits) or ocpp2.0.1/ocpp2.1 (BasicAuthPassword: 16–40 characters); default the station's last protocol, else ocpp2.0.1"),
		maxLen:   fs.Int("max-length", 0, "2.x: the station's BasicAuthPassword maxLimit, 40 to 64 (default 40)"),
		serial:   fs.String("serial", "", "also set the serial number the CN of the station's client certificate must carry (profile 3)"),
	}
}

// setPassword implements `ocppd cp passwd ID`: it stores the hash of a new
// password (and drops a pending rotation). The password is printed only
// when generated, and never logged.
func setPassword(ctx context.Context, db store.Store, args []string, f *passwdFlags, stdout io.Writer) error {
	if len(args) != 1 {
		return usageErrorf("cp passwd: give exactly one station id")
	}
	id := args[0]
	cp, err := db.GetChargePoint(ctx, id)
	if err != nil {
		if ocppd.ErrorCode(err) == ocppd.ENOTFOUND {
			return fmt.Errorf("passwd: charge point %s is not registered", id)
		}
		return err
	}
	v := ocpp.Version(*f.version)
	if v == "" {
		v = ocpp.Version(cp.Protocol)
	}
	if v == "" {
		v = ocpp.V201
	}
	if _, err := ocpp.ParseVersion(string(v)); err != nil {
		return usageErrorf("--ocpp %q: expected ocpp1.6, ocpp2.0.1 or ocpp2.1", v)
	}
	password, generated := *f.password, false
	switch password {
	case "-":
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("passwd: read the password from standard input: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	case "":
		if password, err = auth.GeneratePassword(v); err != nil {
			return err
		}
		generated = true
	}
	if err := auth.ValidatePassword(v, password, *f.maxLen); err != nil {
		return usageErrorf("passwd: %s", ocppd.ErrorMessage(err))
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if err := db.SetPassword(ctx, id, hash, now); err != nil {
		return fmt.Errorf("passwd %s: %w", id, err)
	}
	if *f.serial != "" {
		if err := db.SetSerialNumber(ctx, id, *f.serial, now); err != nil {
			return fmt.Errorf("passwd %s: %w", id, err)
		}
	}
	if generated {
		fmt.Fprintf(stdout, "%s\n", password)
		return nil
	}
	fmt.Fprintf(stdout, "password of %s set\n", id)
	return nil
}

// securityProfileCommand implements `ocppd cp security-profile ID [N]`:
// it prints the lowest security profile the station may connect with, or
// sets it to N — the operator's reset after the station connected with a
// higher profile (2.0.1 A05.FR.07 refuses lower ones until then).
func securityProfileCommand(ctx context.Context, db store.Store, args []string, stdout io.Writer) error {
	if len(args) != 1 && len(args) != 2 {
		return usageErrorf("cp security-profile: give a station id and optionally the profile 0–3")
	}
	id := args[0]
	c, err := db.GetCredentials(ctx, id)
	if err != nil {
		if ocppd.ErrorCode(err) == ocppd.ENOTFOUND {
			return fmt.Errorf("security-profile: charge point %s is not registered", id)
		}
		return err
	}
	if len(args) == 1 {
		fmt.Fprintf(stdout, "%d\n", c.SecurityProfile)
		return nil
	}
	p, err := strconv.Atoi(args[1])
	if err != nil || !auth.Profile(p).Valid() {
		return usageErrorf("cp security-profile: %q is not a security profile 0–3", args[1])
	}
	if err := db.SetSecurityProfile(ctx, id, p, time.Now().UTC()); err != nil {
		return fmt.Errorf("security-profile %s: %w", id, err)
	}
	fmt.Fprintf(stdout, "%s may connect with security profile %d or higher (was %d)\n", id, p, c.SecurityProfile)
	return nil
}
