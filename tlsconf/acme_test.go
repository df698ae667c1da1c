package tlsconf

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"
)

// ecdsaHello is a ClientHello of a client that supports ECDSA
// certificates, for calling GetCertificate directly.
func ecdsaHello(name string) *tls.ClientHelloInfo {
	return &tls.ClientHelloInfo{
		ServerName:        name,
		CipherSuites:      []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		SupportedCurves:   []tls.CurveID{tls.CurveP256},
		SupportedVersions: []uint16{tls.VersionTLS12},
		SupportedPoints:   []uint8{0},
	}
}

func TestACMEOptions(t *testing.T) {
	for _, o := range []ACMEOptions{
		{CacheDir: t.TempDir()},
		{Domains: []string{"ocpp.example.com"}},
		{Domains: []string{"*.example.com"}, CacheDir: t.TempDir()},
		{Domains: []string{"https://x"}, CacheDir: t.TempDir()},
	} {
		if _, err := ACME(o); err == nil {
			t.Errorf("ACME(%+v) succeeded", o)
		}
	}
}

// TestACMEServesFromCache checks the wiring without a CA: a certificate in
// the cache directory (autocert's format) is served for its domain, and a
// handshake for another name is refused by the host policy before any CA
// is asked (the directory URL points nowhere).
func TestACMEServesFromCache(t *testing.T) {
	dir := t.TempDir()
	m, err := ACME(ACMEOptions{Domains: []string{"ocpp.example.test"}, CacheDir: dir, DirectoryURL: "http://127.0.0.1:1/dir"})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := issue(t, "ocpp.example.test", &key.PublicKey, key, nil, nil, false, 42)
	var buf bytes.Buffer
	der, _ := x509.MarshalECPrivateKey(key)
	_ = pem.Encode(&buf, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := autocert.DirCache(dir).Put(context.Background(), "ocpp.example.test", buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	got, err := m.GetCertificate(ecdsaHello("ocpp.example.test"))
	if err != nil {
		t.Fatalf("cached certificate: %v", err)
	}
	if got.Leaf == nil || got.Leaf.SerialNumber.Int64() != 42 {
		t.Errorf("served %+v", got.Leaf)
	}
	if _, err := m.GetCertificate(ecdsaHello("evil.example.test")); err == nil {
		t.Error("a certificate was served for a name outside the host policy")
	}
	// The manager plugs into Config with the TLS-ALPN-01 protocol.
	cfg, err := Config(Options{GetCertificate: m.GetCertificate, NextProtos: ACMEProtos})
	if err != nil || cfg.NextProtos[0] != "acme-tls/1" {
		t.Errorf("config %v %v", cfg.NextProtos, err)
	}
}

// TestACMEAgainstPebble obtains a certificate from a local ACME server,
// Let's Encrypt's pebble, with challenge validation switched off
// (PEBBLE_VA_ALWAYS_VALID): set OCPPD_TEST_PEBBLE to the pebble binary
// (go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.8.0).
func TestACMEAgainstPebble(t *testing.T) {
	bin := os.Getenv("OCPPD_TEST_PEBBLE")
	if bin == "" {
		t.Skip("OCPPD_TEST_PEBBLE is not set (path to a pebble binary: go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.8.0)")
	}
	dir := t.TempDir()
	// Pebble's own HTTPS certificate, trusted by the ACME client below.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := issue(t, "localhost", &key.PublicKey, key, nil, nil, false, 1)
	srv.IPAddresses = nil
	kp := writePair(t, dir, "pebble", srv, key)
	port := func() int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	listen, mgmt := port(), port()
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":           fmt.Sprintf("127.0.0.1:%d", listen),
		"managementListenAddress": fmt.Sprintf("127.0.0.1:%d", mgmt),
		"certificate":             kp.CertFile, "privateKey": kp.KeyFile,
		"httpPort": port(), "tlsPort": port(),
		"ocspResponderURL": "", "externalAccountBindingRequired": false,
	}}
	raw, _ := json.Marshal(conf)
	confPath := filepath.Join(dir, "pebble.json")
	_ = os.WriteFile(confPath, raw, 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-config", confPath)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_VA_NOSLEEP=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("pebble output:\n%s", out.String())
		}
	})
	roots := x509.NewCertPool()
	roots.AddCert(srv)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	dirURL := fmt.Sprintf("https://localhost:%d/dir", listen)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(dirURL)
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	cache := filepath.Join(dir, "acme")
	m, err := ACME(ACMEOptions{Domains: []string{"ocpp.example.test"}, CacheDir: cache, DirectoryURL: dirURL, HTTPClient: client, Email: "ops@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := m.GetCertificate(ecdsaHello("ocpp.example.test"))
	if err != nil {
		t.Fatalf("obtain a certificate from pebble: %v", err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		leaf, _ = x509.ParseCertificate(cert.Certificate[0])
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "ocpp.example.test" {
		t.Errorf("issued for %v", leaf.DNSNames)
	}
	// The certificate chains to pebble's root.
	resp, err := client.Get(fmt.Sprintf("https://localhost:%d/roots/0", mgmt))
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	inter := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		c, _ := x509.ParseCertificate(der)
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "ocpp.example.test", Roots: pool, Intermediates: inter}); err != nil {
		t.Errorf("issued certificate does not verify against pebble's root: %v", err)
	}
	// It was cached: a new manager serves it without asking the CA.
	m2, _ := ACME(ACMEOptions{Domains: []string{"ocpp.example.test"}, CacheDir: cache, DirectoryURL: "http://127.0.0.1:1/dir"})
	if c2, err := m2.GetCertificate(ecdsaHello("ocpp.example.test")); err != nil || !bytes.Equal(c2.Certificate[0], cert.Certificate[0]) {
		t.Errorf("cached certificate: %v", err)
	}
}
