package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd/auth"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/pki"
	"github.com/ocppd/ocppd/sim"
)

func basicHeader(id, password string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+password))}}
}

// connectWith connects a simulated station with extra headers and TLS;
// it returns the station, or the error of the handshake.
func connectWith(t *testing.T, url, id string, v ocpp.Version, hdr http.Header, tc *tls.Config) (*sim.Station, error) {
	t.Helper()
	st := sim.New(sim.Options{URL: url, ID: id, Version: v, CallTimeout: waitFor, Header: hdr, TLSConfig: tc})
	if err := st.Connect(context.Background()); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, nil
}

func setPW(t *testing.T, srv *server, id, password string) {
	t.Helper()
	h, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.store.SetPassword(context.Background(), id, h, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestProfile1BasicAuth(t *testing.T) {
	cfg := testConfig(t)
	cfg.Security.Profile = 1
	srv := startServer(t, cfg, "CP1", "CP2")
	const pw = "0123456789abcdefXYZ-0123"
	setPW(t, srv, "CP1", pw)
	url := wsURL(srv) + "/ocpp"
	st, err := connectWith(t, url, "CP1", ocpp.V201, basicHeader("CP1", pw), nil)
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	if boot, err := st.Boot(ctxT(t)); err != nil || boot.Status != "Accepted" {
		t.Fatalf("boot: %v %+v", err, boot)
	}
	// Hijack attempts with the known id: no password, a wrong one, the
	// other station's id as user. None gets a WebSocket; the session
	// lives on.
	for _, hdr := range []http.Header{nil, basicHeader("CP1", "guess-guess-guess"), basicHeader("CP2", pw)} {
		if _, err := connectWith(t, url, "CP1", ocpp.V201, hdr, nil); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("hijack with %v: %v, want a 401", hdr, err)
		}
	}
	if _, err := st.Heartbeat(ctxT(t)); err != nil {
		t.Fatalf("the session did not survive the hijack attempts: %v", err)
	}
	// A station without a password cannot connect at all.
	if _, err := connectWith(t, url, "CP2", ocpp.V201, basicHeader("CP2", pw), nil); err == nil {
		t.Fatal("a station without a password connected")
	}
	if n := srv.gw.Stats().Refused["unauthorized"]; n < 4 {
		t.Errorf("refusals counted: %d", n)
	}
	evs, _ := srv.store.ListSecurityEvents(context.Background(), "CP1", 0)
	// One event per station and minute (a flood of attempts does not
	// flood the log): the first refusal, a connection without credentials.
	if len(evs) != 1 || evs[0].Type != auth.EventWrongSecurityProfile {
		t.Errorf("no security event for the refused connections: %+v", evs)
	}
}

// tlsFiles writes a self-signed server certificate for 127.0.0.1 and
// returns its files and a client config trusting it.
func tlsFiles(t *testing.T) (string, string, *tls.Config) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost", Organization: []string{"Acme CPO"}},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "srv.crt"), filepath.Join(dir, "srv.key")
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
	c, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(c)
	return certFile, keyFile, &tls.Config{RootCAs: roots}
}

func TestProfile2TLSBasicAuth(t *testing.T) {
	cfg := testConfig(t)
	cfg.Security.Profile = 2
	certFile, keyFile, client := tlsFiles(t)
	cfg.Security.TLSCert, cfg.Security.TLSKey = certFile, keyFile
	srv := startServer(t, cfg, "CP1")
	const pw = "ABCDEF0123456789ABCDEF0123456789ABCDEF01"
	setPW(t, srv, "CP1", pw)
	url := "wss://" + srv.OCPPAddr() + "/ocpp"
	st, err := connectWith(t, url, "CP1", ocpp.V16, basicHeader("CP1", pw), client)
	if err != nil {
		t.Fatalf("profile 2: %v", err)
	}
	if _, err := st.Boot(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := connectWith(t, url, "CP1", ocpp.V16, nil, client); err == nil {
		t.Fatal("no credentials over TLS connected")
	}
	// Plain WebSocket on a TLS port (another profile) does not connect.
	if _, err := connectWith(t, "ws://"+srv.OCPPAddr()+"/ocpp", "CP1", ocpp.V16, basicHeader("CP1", pw), nil); err == nil {
		t.Fatal("a plain connection to the TLS listener succeeded")
	}
}

func TestProfile3ClientCertificates(t *testing.T) {
	cfg := testConfig(t)
	cfg.Security.Profile = 3
	certFile, keyFile, client := tlsFiles(t)
	cfg.Security.TLSCert, cfg.Security.TLSKey = certFile, keyFile
	cfg.Security.CADir, cfg.Security.CAOrg = filepath.Join(t.TempDir(), "ca"), "Acme CPO"
	srv := startServer(t, cfg, "CP3", "CP4")
	ca, err := pki.OpenCA(cfg.Security.CADir, "")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(cn string) tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
		chain, _, err := ca.Sign(context.Background(), pki.Request{ChargePointID: cn, CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
		if err != nil {
			t.Fatal(err)
		}
		var c tls.Certificate
		for rest := []byte(chain); ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			c.Certificate = append(c.Certificate, b.Bytes)
		}
		c.PrivateKey = key
		return c
	}
	withCert := func(c tls.Certificate) *tls.Config {
		tc := client.Clone()
		tc.Certificates = []tls.Certificate{c}
		return tc
	}
	url := "wss://" + srv.OCPPAddr() + "/ocpp"
	st, err := connectWith(t, url, "CP3", ocpp.V201, nil, withCert(issue("CP3")))
	if err != nil {
		t.Fatalf("profile 3 with the station's certificate: %v", err)
	}
	if _, err := st.Boot(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// CP4 with CP3's certificate, and CP3 without any: refused (403).
	if _, err := connectWith(t, url, "CP4", ocpp.V201, nil, withCert(issue("CP3"))); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("another station's certificate: %v", err)
	}
	if _, err := connectWith(t, url, "CP3", ocpp.V201, basicHeader("CP3", "whatever-password"), client); err == nil {
		t.Fatal("profile 2 credentials on a profile 3 port connected")
	}
	if _, err := st.Heartbeat(ctxT(t)); err != nil {
		t.Fatalf("session lost: %v", err)
	}
}

func TestSecurityFlagValidation(t *testing.T) {
	for name, c := range map[string]securityConfig{
		"profile 5":               {Profile: 5},
		"profile 2 without tls":   {Profile: 2},
		"tls on profile 1":        {Profile: 1, TLSCert: "a", TLSKey: "b"},
		"cert without key":        {Profile: 2, TLSCert: "a,b", TLSKey: "c"},
		"profile 3 without CA":    {Profile: 3, TLSCert: "a", TLSKey: "b"},
		"two CAs":                 {CADir: "x", CACommand: "y"},
		"user without pass":       {MQTTUsername: "u"},
		"tls listener, profile 1": {Profile: 1, TLSAddr: ":8443", TLSProfile: 1, TLSCert: "a", TLSKey: "b"},
		"tls listener, same":      {Profile: 2, TLSAddr: ":8443", TLSProfile: 2, TLSCert: "a", TLSKey: "b"},
		"tls listener, no cert":   {Profile: 1, TLSAddr: ":8443", TLSProfile: 2},
		"tls listener 3, no CA":   {Profile: 1, TLSAddr: ":8443", TLSProfile: 3, TLSCert: "a", TLSKey: "b"},
	} {
		if err := c.validate("127.0.0.1:1883", true); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := (securityConfig{}).validate(":1883", true); err == nil || !strings.Contains(err.Error(), "--mqtt-username") {
		t.Errorf("MQTT on all interfaces without credentials: %v", err)
	}
	if err := (securityConfig{MQTTUsername: "u", MQTTPassword: "p"}).validate(":1883", true); err != nil {
		t.Errorf("MQTT with credentials: %v", err)
	}
	if err := (securityConfig{Profile: 1, TLSAddr: ":8443", TLSProfile: 3, TLSCert: "a", TLSKey: "b", CADir: "ca"}).validate("127.0.0.1:1883", true); err != nil {
		t.Errorf("profile 1 and a profile 3 listener: %v", err)
	}
	if err := (securityConfig{}).validate(":1883", false); err != nil {
		t.Errorf("external broker: %v", err)
	}
}

func TestCPPasswd(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	run := func(args ...string) error {
		out.Reset()
		errOut.Reset()
		return cpCommand(context.Background(), append(args, "--data-dir", dir), &out, &errOut)
	}
	if err := run("add", "CP1"); err != nil {
		t.Fatal(err)
	}
	if err := run("passwd", "CP1", "--ocpp", "ocpp1.6"); err != nil {
		t.Fatal(err)
	}
	generated := strings.TrimSpace(out.String())
	if err := auth.ValidatePassword(ocpp.V16, generated, 0); err != nil {
		t.Fatalf("generated %q: %v", generated, err)
	}
	if err := run("passwd", "CP1", "--password", "short"); err == nil {
		t.Fatal("a short password was accepted")
	}
	if err := run("passwd", "CP1", "--password", "a-valid-password-1234", "--serial", "SN-1"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "a-valid-password-1234") {
		t.Error("a given password was echoed")
	}
	if err := run("passwd", "NOPE"); err == nil {
		t.Error("passwd of an unknown station succeeded")
	}
	// What was stored is a hash that verifies the password.
	cfg := testConfig(t)
	cfg.DataDir = dir
	cfg.Security.Profile = 1
	srv := startServer(t, cfg)
	c, err := srv.store.GetCredentials(context.Background(), "CP1")
	if err != nil || !strings.HasPrefix(c.PasswordHash, "$argon2id$") || c.SerialNumber != "SN-1" {
		t.Fatalf("stored %+v %v", c, err)
	}
	if _, err := connectWith(t, wsURL(srv)+"/ocpp", "CP1", ocpp.V201, basicHeader("CP1", "a-valid-password-1234"), nil); err != nil {
		t.Fatalf("connect with the password set by cp passwd: %v", err)
	}
}
