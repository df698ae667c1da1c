package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// issue creates a certificate for cn signed by parent (self-signed when
// parent is nil) and returns it with its key.
func issue(t testing.TB, cn string, pub crypto.PublicKey, priv crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer, isCA bool, serial int64) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Acme CPO"}},
		DNSNames:     []string{cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if parent == nil {
		parent, parentKey = tmpl, priv
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writePair writes cert and key as PEM files in dir.
func writePair(t testing.TB, dir, name string, c *x509.Certificate, key crypto.Signer) KeyPair {
	t.Helper()
	kp := KeyPair{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key")}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kp.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kp.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return kp
}

var (
	rsaKey, _   = rsa.GenerateKey(rand.Reader, 2048)
	ecdsaKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
)

// serve runs a TLS server with cfg on 127.0.0.1 that completes handshakes
// and reports each connection's state on the returned channel.
func serve(t *testing.T, cfg *tls.Config) (string, <-chan tls.ConnectionState) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	states := make(chan tls.ConnectionState, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
			if tc.Handshake() == nil {
				states <- tc.ConnectionState()
				_, _ = tc.Write([]byte("x"))
				// Close only after the client did, so that no unread
				// byte turns the close into a reset that loses "x".
				_, _ = io.Copy(io.Discard, tc)
			}
			tc.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), states
}

func dial(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg.Clone())
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	_, err = c.Read(make([]byte, 1))
	return c.ConnectionState(), err
}

func serverPairs(t *testing.T) (*CertFiles, *x509.CertPool) {
	dir := t.TempDir()
	rsaCert := issue(t, "localhost", &rsaKey.PublicKey, rsaKey, nil, nil, false, 1)
	ecCert := issue(t, "localhost", &ecdsaKey.PublicKey, ecdsaKey, nil, nil, false, 2)
	files, err := NewCertFiles([]KeyPair{
		writePair(t, dir, "ecdsa", ecCert, ecdsaKey),
		writePair(t, dir, "rsa", rsaCert, rsaKey),
	}, 0, quiet())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(rsaCert)
	roots.AddCert(ecCert)
	return files, roots
}

// The four cipher suites OCPP requires of the CSMS (whitepaper
// A00.FR.317, 2.0.1 A00.FR.318) each complete a TLS 1.2 handshake, with
// the certificate of the matching signature algorithm.
func TestRequiredCipherSuites(t *testing.T) {
	files, roots := serverPairs(t)
	cfg, err := Config(Options{GetCertificate: files.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := serve(t, cfg)
	for _, tc := range []struct {
		suite uint16
		algo  x509.PublicKeyAlgorithm
	}{
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, x509.ECDSA},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, x509.ECDSA},
		{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, x509.RSA},
		{tls.TLS_RSA_WITH_AES_256_GCM_SHA384, x509.RSA},
		{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, x509.RSA},
	} {
		st, err := dial(addr, &tls.Config{RootCAs: roots, ServerName: "localhost",
			MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tc.suite}})
		if err != nil {
			t.Errorf("%s: %v", tls.CipherSuiteName(tc.suite), err)
			continue
		}
		if st.CipherSuite != tc.suite || st.PeerCertificates[0].PublicKeyAlgorithm != tc.algo {
			t.Errorf("%s: negotiated %s with a %s certificate", tls.CipherSuiteName(tc.suite),
				tls.CipherSuiteName(st.CipherSuite), st.PeerCertificates[0].PublicKeyAlgorithm)
		}
	}
	// TLS 1.3 works too.
	if st, err := dial(addr, &tls.Config{RootCAs: roots, ServerName: "localhost"}); err != nil || st.Version != tls.VersionTLS13 {
		t.Errorf("TLS 1.3: %v %x", err, st.Version)
	}
}

// TLS 1.0/1.1 (A00.FR.313/314) and weak suites (A00.FR.319) are refused.
func TestRefusesOldTLSAndWeakSuites(t *testing.T) {
	files, roots := serverPairs(t)
	cfg, _ := Config(Options{GetCertificate: files.GetCertificate})
	addr, _ := serve(t, cfg)
	if _, err := dial(addr, &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 handshake succeeded")
	}
	for _, weak := range []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA} {
		if _, err := dial(addr, &tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{weak}}); err == nil {
			t.Errorf("weak suite %s accepted", tls.CipherSuiteName(weak))
		}
	}
}

func TestCertFilesReloadWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	c1 := issue(t, "localhost", &ecdsaKey.PublicKey, ecdsaKey, nil, nil, false, 101)
	kp := writePair(t, dir, "srv", c1, ecdsaKey)
	files, err := NewCertFiles([]KeyPair{kp}, time.Second, quiet())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	files.now = func() time.Time { return now }
	serial := func() int64 { return files.Certificates()[0].Leaf.SerialNumber.Int64() }
	if serial() != 101 {
		t.Fatalf("serial %d", serial())
	}
	// A renewal is picked up at the next check.
	c2 := issue(t, "localhost", &ecdsaKey.PublicKey, ecdsaKey, nil, nil, false, 102)
	writePair(t, dir, "srv", c2, ecdsaKey)
	bump(t, kp)
	if serial() != 101 {
		t.Fatal("reloaded before the check interval")
	}
	now = now.Add(2 * time.Second)
	if serial() != 102 {
		t.Fatalf("after a change: serial %d, want 102", serial())
	}
	// A broken file keeps the last good certificate.
	if err := os.WriteFile(kp.CertFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	bump(t, kp)
	now = now.Add(2 * time.Second)
	if serial() != 102 {
		t.Fatal("a broken file replaced the certificate")
	}
	// Handshakes see the reloaded certificate.
	cfg, _ := Config(Options{GetCertificate: files.GetCertificate})
	addr, _ := serve(t, cfg)
	st, err := dial(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil || st.PeerCertificates[0].SerialNumber.Int64() != 102 {
		t.Fatalf("handshake: %v", err)
	}
}

// bump moves the files' modification times forward so that a rewrite
// within the file system's time granularity is still seen.
func bump(t *testing.T, kp KeyPair) {
	t.Helper()
	later := time.Now().Add(time.Minute)
	for _, f := range []string{kp.CertFile, kp.KeyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
}

// Profile 3: a certificate from the configured CA verifies (A00.FR.403), a
// foreign one fails the handshake, none completes it unverified (package
// auth then refuses it with a logged reason).
func TestClientCertificates(t *testing.T) {
	files, roots := serverPairs(t)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := issue(t, "Acme Root", &caKey.PublicKey, caKey, nil, nil, true, 7)
	cas := x509.NewCertPool()
	cas.AddCert(ca)
	cfg, _ := Config(Options{GetCertificate: files.GetCertificate, ClientCAs: cas})
	addr, states := serve(t, cfg)

	stKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := issue(t, "CP1", &stKey.PublicKey, stKey, ca, caKey, false, 8)
	foreign := issue(t, "CP1", &stKey.PublicKey, stKey, nil, nil, false, 9)
	client := func(c *x509.Certificate) *tls.Config {
		cc := &tls.Config{RootCAs: roots, ServerName: "localhost"}
		if c != nil {
			// Send it whatever CAs the server names (a Go client would
			// otherwise send none that does not match them).
			cc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return &tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: stKey}, nil
			}
		}
		return cc
	}
	if _, err := dial(addr, client(good)); err != nil {
		t.Fatalf("station certificate from the CA: %v", err)
	}
	if st := <-states; len(st.VerifiedChains) == 0 || st.VerifiedChains[0][0].Subject.CommonName != "CP1" {
		t.Errorf("verified chains %v", st.VerifiedChains)
	}
	if _, err := dial(addr, client(foreign)); err == nil {
		t.Error("a certificate from another CA was accepted")
	}
	if _, err := dial(addr, client(nil)); err != nil {
		t.Fatalf("no client certificate: %v", err)
	}
	if st := <-states; len(st.VerifiedChains) != 0 {
		t.Error("verified chains without a certificate")
	}
	// LoadCAs reads the CA file.
	dir := t.TempDir()
	path := filepath.Join(dir, "ca.pem")
	_ = os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o600)
	if _, certs, err := LoadCAs(path); err != nil || len(certs) != 1 || certs[0].Subject.CommonName != "Acme Root" {
		t.Errorf("LoadCAs: %v %v", certs, err)
	}
	_ = os.WriteFile(path, []byte("nothing"), 0o600)
	if _, _, err := LoadCAs(path); err == nil {
		t.Error("LoadCAs of a file without certificates succeeded")
	}
}

func TestConfigNeedsCertificates(t *testing.T) {
	if _, err := Config(Options{}); err == nil {
		t.Error("Config without a certificate source succeeded")
	}
	if _, err := NewCertFiles(nil, 0, nil); err == nil {
		t.Error("NewCertFiles without pairs succeeded")
	}
	if _, err := NewCertFiles([]KeyPair{{"/nonexistent.crt", "/nonexistent.key"}}, 0, nil); err == nil {
		t.Error("NewCertFiles with missing files succeeded")
	}
}
