// Package pki signs charging station certificates for ocppd's CSMS: the
// SignCertificate → CertificateSigned flow of OCPP 2.x (use cases A02/A03)
// and of the OCPP 1.6 security extension. The CPO may act as the CA of its
// own hierarchy (1.6 security whitepaper A00.FR.601): CA is a built-in CA
// on a key pair in files; Command hands the CSR to an external CA.
//
// Issued certificates follow the certificate properties of the whitepaper
// and 2.0.1 Part 2: keys of at least 2048 bits (RSA) or 224 bits (EC)
// (A00.FR.501–503), SHA-256 signatures (A00.FR.506), PEM (A00.FR.507), a
// serial number (A00.FR.508), the CPO's name in O (A00.FR.509), the
// station's serial number in CN (A00.FR.511) and a restricting key usage
// (A00.FR.512).
package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocppd/ocppd"
)

// Certificate uses, as named by OCPP (CertificateSigningUseEnumType).
const (
	UseChargingStation = "ChargingStationCertificate"
	UseV2G             = "V2GCertificate"
)

// Request is a station's certificate signing request.
type Request struct {
	ChargePointID string
	// CSR is the PEM-encoded PKCS#10 request the station sent.
	CSR string
	// Use is the certificate type asked for; "" means
	// ChargingStationCertificate.
	Use string
	// CommonName is what the CN must be: the station's serial number
	// (A00.FR.511), or its id when no serial is registered.
	CommonName string
}

// Signer issues certificates.
type Signer interface {
	// Sign returns the PEM chain (leaf first) for r and the parsed leaf.
	// A request that must be refused (bad CSR, weak key, wrong subject)
	// is EINVALID.
	Sign(ctx context.Context, r Request) (chain string, leaf *x509.Certificate, err error)
}

// CA is a built-in certificate authority.
type CA struct {
	cert     *x509.Certificate
	key      crypto.Signer
	chainPEM string // the CA certificate (and its own chain), PEM
	org      string
	validity time.Duration
	now      func() time.Time
}

// DefaultValidity is how long issued certificates are valid.
const DefaultValidity = 365 * 24 * time.Hour

// LoadCA reads a CA certificate (with optional intermediates after it) and
// its private key from PEM files. Issued certificates carry org in O
// (A00.FR.509); "" takes the CA's own organisation.
func LoadCA(certFile, keyFile, org string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("load CA: %s holds no PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("load CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("load CA: %s is not a CA certificate", certFile)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("load CA: %s holds no PEM key", keyFile)
	}
	key, err := parseKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("load CA key: %w", err)
	}
	if org == "" && len(cert.Subject.Organization) > 0 {
		org = cert.Subject.Organization[0]
	}
	return &CA{cert: cert, key: key, chainPEM: string(certPEM), org: org, validity: DefaultValidity, now: time.Now}, nil
}

func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("unsupported private key format")
}

// OpenCA loads the CA in dir (ca.crt, ca.key) or, when there is none,
// creates one: an ECDSA P-256 root valid for 10 years with O = org, the
// key written with mode 0600 (A00.FR.602: the CPO root key must be well
// protected — use an external CA or a hardware-backed one in production).
func OpenCA(dir, org string) (*CA, error) {
	certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if _, err := os.Stat(certFile); err == nil {
		return LoadCA(certFile, keyFile, org)
	}
	if org == "" {
		return nil, errors.New("create CA: an organisation name is required (the O of every station certificate)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: org + " ocppd station CA", Organization: []string{org}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	return LoadCA(certFile, keyFile, org)
}

// Certificate returns the CA certificate (stations and the profile 3
// listener trust it).
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertificatePEM returns the CA certificate chain in PEM.
func (ca *CA) CertificatePEM() string { return ca.chainPEM }

// Organization returns the O of issued certificates.
func (ca *CA) Organization() string { return ca.org }

// randomSerial returns a positive 128-bit serial number (A00.FR.508).
func randomSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}

// ParseCSR decodes and checks a station's CSR: a valid self-signature and
// a key of sufficient strength (A00.FR.501–503).
func ParseCSR(csrPEM string) (*x509.CertificateRequest, error) {
	b, _ := pem.Decode([]byte(csrPEM))
	if b == nil || !strings.Contains(b.Type, "CERTIFICATE REQUEST") {
		return nil, ocppd.Errorf(ocppd.EINVALID, "csr is not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, ocppd.Errorf(ocppd.EINVALID, "csr does not parse: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, ocppd.Errorf(ocppd.EINVALID, "csr signature: %v", err)
	}
	switch k := csr.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, ocppd.Errorf(ocppd.EINVALID, "RSA key of %d bits; at least 2048 required", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if k.Curve.Params().BitSize < 224 {
			return nil, ocppd.Errorf(ocppd.EINVALID, "EC key of %d bits; at least 224 required", k.Curve.Params().BitSize)
		}
	default:
		return nil, ocppd.Errorf(ocppd.EINVALID, "unsupported key type %T", csr.PublicKey)
	}
	return csr, nil
}

// Sign issues a certificate for r: the subject is CN = r.CommonName (the
// CSR's CN must be it; A00.FR.511) and O = the CA's organisation
// (A00.FR.509), whatever else the CSR asks for; no subjectAltName (the
// A00.FR.511 note).
func (ca *CA) Sign(_ context.Context, r Request) (string, *x509.Certificate, error) {
	csr, err := ParseCSR(r.CSR)
	if err != nil {
		return "", nil, err
	}
	want := r.CommonName
	if want == "" {
		want = r.ChargePointID
	}
	if csr.Subject.CommonName != want {
		return "", nil, ocppd.Errorf(ocppd.EINVALID, "csr CN %q is not the station's serial number %q", csr.Subject.CommonName, want)
	}
	use := r.Use
	if use == "" {
		use = UseChargingStation
	}
	eku := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	switch use {
	case UseChargingStation:
	case UseV2G: // the station is the TLS server towards the EV (ISO 15118)
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	default:
		return "", nil, ocppd.Errorf(ocppd.EINVALID, "certificate type %q", use)
	}
	ku := x509.KeyUsageDigitalSignature
	if _, ok := csr.PublicKey.(*rsa.PublicKey); ok {
		ku |= x509.KeyUsageKeyEncipherment
	}
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: want, Organization: []string{ca.org}},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(ca.validity),
		KeyUsage:     ku,
		ExtKeyUsage:  eku,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		return "", nil, fmt.Errorf("sign certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return "", nil, fmt.Errorf("sign certificate: %w", err)
	}
	chain := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) + ca.chainPEM
	return chain, leaf, nil
}

// Command is an external CA: it runs Path with Args, writes the CSR to its
// standard input and reads the PEM chain (leaf first) from its standard
// output. The environment carries OCPPD_CP_ID, OCPPD_CERT_USE and
// OCPPD_CERT_CN. A non-zero exit refuses the request (EINVALID, with the
// first line of its standard error).
type Command struct {
	Path    string
	Args    []string
	Timeout time.Duration // default 30s
}

// Sign runs the command for r.
func (c Command) Sign(ctx context.Context, r Request) (string, *x509.Certificate, error) {
	if _, err := ParseCSR(r.CSR); err != nil {
		return "", nil, err
	}
	to := c.Timeout
	if to <= 0 {
		to = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cn := r.CommonName
	if cn == "" {
		cn = r.ChargePointID
	}
	cmd.Env = append(os.Environ(), "OCPPD_CP_ID="+r.ChargePointID, "OCPPD_CERT_USE="+r.Use, "OCPPD_CERT_CN="+cn)
	cmd.Stdin = strings.NewReader(r.CSR)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		line, _, _ := strings.Cut(strings.TrimSpace(errOut.String()), "\n")
		return "", nil, ocppd.Errorf(ocppd.EINVALID, "external CA refused: %v: %s", err, line)
	}
	b, _ := pem.Decode(out.Bytes())
	if b == nil || b.Type != "CERTIFICATE" {
		return "", nil, fmt.Errorf("external CA: no PEM certificate on its output")
	}
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return "", nil, fmt.Errorf("external CA: %w", err)
	}
	return out.String(), leaf, nil
}

var (
	_ Signer = (*CA)(nil)
	_ Signer = Command{}
)
