package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/ocppd/ocppd"
)

func csr(t *testing.T, key crypto.Signer, cn string) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn, Organization: []string{"Whoever"}}, DNSNames: []string{"evil.example"},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func TestCASignsStationCertificates(t *testing.T) {
	dir := t.TempDir()
	ca, err := OpenCA(dir, "Acme CPO")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("CA key file: %v %v", fi, err)
	}
	// Reopening loads the same CA.
	again, err := OpenCA(dir, "")
	if err != nil || !again.Certificate().Equal(ca.Certificate()) || again.Organization() != "Acme CPO" {
		t.Fatalf("reopen: %v", err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	for _, key := range []crypto.Signer{ecKey, rsaKey} {
		chain, leaf, err := ca.Sign(context.Background(), Request{ChargePointID: "CP1", CSR: csr(t, key, "SN-1"), CommonName: "SN-1"})
		if err != nil {
			t.Fatalf("sign %T: %v", key, err)
		}
		if leaf.Subject.CommonName != "SN-1" || !slices.Equal(leaf.Subject.Organization, []string{"Acme CPO"}) {
			t.Errorf("subject %v", leaf.Subject)
		}
		if len(leaf.DNSNames) != 0 || leaf.SerialNumber.Sign() <= 0 || leaf.SignatureAlgorithm != x509.ECDSAWithSHA256 {
			t.Errorf("leaf: SANs %v, serial %v, signature %v", leaf.DNSNames, leaf.SerialNumber, leaf.SignatureAlgorithm)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("issued certificate does not verify as a client certificate: %v", err)
		}
		if strings.Count(chain, "BEGIN CERTIFICATE") != 2 {
			t.Errorf("chain has %d certificates, want leaf and CA", strings.Count(chain, "BEGIN CERTIFICATE"))
		}
	}
	// V2G certificates are server certificates.
	_, leaf, err := ca.Sign(context.Background(), Request{ChargePointID: "CP1", CSR: csr(t, ecKey, "CP1"), Use: UseV2G})
	if err != nil || !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		t.Errorf("V2G: %v", err)
	}
}

func TestCARefuses(t *testing.T) {
	ca, err := OpenCA(t.TempDir(), "Acme CPO")
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	good := csr(t, ecKey, "CP1")
	tampered := strings.Replace(good, good[100:104], "AAAA", 1)
	for name, r := range map[string]Request{
		"another station's CN": {ChargePointID: "CP1", CSR: csr(t, ecKey, "CP2")},
		"weak RSA key":         {ChargePointID: "CP1", CSR: csr(t, weak, "CP1")},
		"not PEM":              {ChargePointID: "CP1", CSR: "hello"},
		"tampered":             {ChargePointID: "CP1", CSR: tampered},
		"unknown use":          {ChargePointID: "CP1", CSR: good, Use: "ManufacturerRootCertificate"},
	} {
		if _, _, err := ca.Sign(context.Background(), r); ocppd.ErrorCode(err) != ocppd.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	if _, err := OpenCA(t.TempDir(), ""); err == nil {
		t.Error("a CA without organisation was created")
	}
}

func TestExternalCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	ca, _ := OpenCA(t.TempDir(), "Acme CPO")
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, leaf, _ := ca.Sign(context.Background(), Request{ChargePointID: "CP1", CSR: csr(t, ecKey, "CP1")})
	certFile := filepath.Join(t.TempDir(), "leaf.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o600)
	// The command sees the CSR on stdin and the station in its environment.
	script := `read first; [ "$first" = "-----BEGIN CERTIFICATE REQUEST-----" ] && [ "$OCPPD_CP_ID" = CP1 ] && cat "$1"`
	cmd := Command{Path: "sh", Args: []string{"-c", script, "sh", certFile}}
	chain, got, err := cmd.Sign(context.Background(), Request{ChargePointID: "CP1", CSR: csr(t, ecKey, "CP1")})
	if err != nil || !got.Equal(leaf) || !strings.Contains(chain, "BEGIN CERTIFICATE") {
		t.Fatalf("external CA: %v", err)
	}
	fail := Command{Path: "sh", Args: []string{"-c", "echo 'policy says no' >&2; exit 3"}}
	if _, _, err := fail.Sign(context.Background(), Request{ChargePointID: "CP1", CSR: csr(t, ecKey, "CP1")}); ocppd.ErrorCode(err) != ocppd.EINVALID || !strings.Contains(err.Error(), "policy says no") {
		t.Errorf("refusing command: %v", err)
	}
}
