package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestClientCAFileReload: profile 3 with the client CAs from a file. A
// station certificate of CA A verifies; after the file is replaced by CA B
// (a CA change without a restart), B's stations verify and A's fail the
// handshake; a broken file keeps B.
func TestClientCAFileReload(t *testing.T) {
	files, roots := serverPairs(t)
	newCA := func(name string, serial int64) (*x509.Certificate, *ecdsa.PrivateKey) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		return issue(t, name, &k.PublicKey, k, nil, nil, true, serial), k
	}
	caA, keyA := newCA("Root A", 20)
	caB, keyB := newCA("Root B", 21)
	path := filepath.Join(t.TempDir(), "ca.pem")
	write := func(data []byte) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pemOf := func(c *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	write(pemOf(caA))
	cas, err := NewCAFile(path, time.Second, quiet())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cas.now = func() time.Time { return now }
	cfg, err := Config(Options{GetCertificate: files.GetCertificate, ClientCAFile: cas})
	if err != nil {
		t.Fatal(err)
	}
	addr, states := serve(t, cfg)

	stKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fromA := issue(t, "CP1", &stKey.PublicKey, stKey, caA, keyA, false, 22)
	fromB := issue(t, "CP1", &stKey.PublicKey, stKey, caB, keyB, false, 23)
	client := func(c *x509.Certificate) *tls.Config {
		return &tls.Config{RootCAs: roots, ServerName: "localhost",
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return &tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: stKey}, nil
			}}
	}
	verifiedBy := func(c *x509.Certificate) string {
		t.Helper()
		if _, err := dial(addr, client(c)); err != nil {
			return ""
		}
		st := <-states
		if len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) < 2 {
			return ""
		}
		return st.VerifiedChains[0][1].Subject.CommonName
	}
	if got := verifiedBy(fromA); got != "Root A" {
		t.Fatalf("A's station before the change: verified by %q", got)
	}
	if got := verifiedBy(fromB); got != "" {
		t.Fatal("B's station verified before B was configured")
	}

	// A station of A with a session to resume (TLS session tickets).
	resumer := client(fromA)
	resumer.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	for i := range 2 {
		st, err := dial(addr, resumer)
		if err != nil {
			t.Fatalf("A's station, connection %d: %v", i, err)
		}
		<-states
		if i == 1 && !st.DidResume {
			t.Log("the second connection did not resume; the resumption check below proves less")
		}
	}

	write(pemOf(caB))
	bump(t, KeyPair{CertFile: path, KeyFile: path})
	if got := verifiedBy(fromA); got != "Root A" {
		t.Fatal("the file was re-read before its interval passed")
	}
	now = now.Add(2 * time.Second)
	if got := verifiedBy(fromB); got != "Root B" {
		t.Fatalf("B's station after the change: verified by %q", got)
	}
	if got := verifiedBy(fromA); got != "" {
		t.Fatal("A's station still verifies after its CA was removed")
	}
	// Nor can it resume a session from before the change.
	if st, err := dial(addr, resumer); err == nil {
		<-states
		if st.DidResume {
			t.Fatal("A's station resumed a session after its CA was removed")
		}
		t.Fatal("A's station connected after its CA was removed")
	}
	if cs := cas.Certificates(); len(cs) != 1 || cs[0].Subject.CommonName != "Root B" {
		t.Fatalf("Certificates() = %v", cs)
	}

	// A broken file keeps the CAs loaded last.
	write([]byte("-----BEGIN CERTIFICATE-----\ntruncated"))
	later := time.Now().Add(2 * time.Minute)
	_ = os.Chtimes(path, later, later)
	now = now.Add(2 * time.Second)
	if got := verifiedBy(fromB); got != "Root B" {
		t.Fatalf("after a broken file: verified by %q", got)
	}
	if _, err := NewCAFile(filepath.Join(t.TempDir(), "missing.pem"), 0, nil); err == nil {
		t.Error("NewCAFile of a missing file succeeded")
	}
	if _, err := Config(Options{GetCertificate: files.GetCertificate, ClientCAFile: cas, ClientCAs: x509.NewCertPool()}); err == nil {
		t.Error("ClientCAs and ClientCAFile together were accepted")
	}
}
