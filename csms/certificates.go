package csms

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/pki"
	"github.com/ocppd/ocppd/store"
)

// Certificate management (OCPP 2.x functional blocks A and M, and the OCPP
// 1.6 security extension): SignCertificate → CA → CertificateSigned,
// InstallCertificate, DeleteCertificate, GetInstalledCertificateIds.
// (SecurityEventNotification is stored by notifications.go.)

func init() {
	handle("SignCertificate", (*Service).signCertificate, allVersions...)
}

// SecurityOptions enable the CSMS's certificate signing and password
// rotation; see EnableSecurity.
type SecurityOptions struct {
	// Signer signs the stations' CSRs (pki.CA, pki.Command); nil answers
	// every SignCertificate with Rejected.
	Signer pki.Signer
	// ReplyWait bounds how long CertificateSigned waits for the
	// SignCertificate answer to be on its way first. Default 10s.
	ReplyWait time.Duration
	// SignTimeout bounds one signing (an external CA). Default 30s.
	SignTimeout time.Duration
}

// security is the state EnableSecurity attaches to a Service.
type security struct {
	opts SecurityOptions
}

// securities maps a *Service to its *security: the feature lives in this
// file without fields in Service.
var securities sync.Map

func (s *Service) security() *security {
	v, ok := securities.Load(s)
	if !ok {
		return nil
	}
	return v.(*security)
}

// EnableSecurity turns on certificate signing with o.Signer, the
// tracking of password rotations (the answers to ChangeConfiguration
// AuthorizationKey and SetVariables BasicAuthPassword) and of the
// certificates installed on stations (store.InstalledCertificates). Every CSMS process
// of a cluster calls it before Start, since any of them may receive the
// answers.
func (s *Service) EnableSecurity(o SecurityOptions) {
	if o.ReplyWait <= 0 {
		o.ReplyWait = 10 * time.Second
	}
	if o.SignTimeout <= 0 {
		o.SignTimeout = 30 * time.Second
	}
	if _, loaded := securities.LoadOrStore(s, &security{opts: o}); loaded {
		return
	}
	s.OnAnswer("ChangeConfiguration", s.passwordAnswer)
	s.OnAnswer("SetVariables", s.passwordAnswer)
	s.OnAnswer("GetInstalledCertificateIds", s.installedAnswer) // certificates_installed.go
	s.OnAnswer("InstallCertificate", s.installAnswer)
	s.OnAnswer("DeleteCertificate", s.deleteAnswer)
	s.OnAnswer("CertificateSigned", func(_ context.Context, c Command) {
		var resp struct {
			Status string `json:"status"`
		}
		_ = json.Unmarshal(c.Response, &resp)
		if c.State != store.CommandAnswered || resp.Status != "Accepted" {
			s.log.Warn("station did not accept its signed certificate", "cp", c.ChargePointID,
				"state", c.State, "status", resp.Status, "error", c.ErrorDescription)
		}
	})
}

// signCertificate answers a station's CSR (A02/A03): Accepted when a CA is
// configured and the CSR is well-formed, and then — once the answer is on
// its way — signs it and sends CertificateSigned.
func (s *Service) signCertificate(ctx context.Context, r *Request) (any, error) {
	var p struct {
		CSR             string `json:"csr"`
		CertificateType string `json:"certificateType"`
	}
	if err := json.Unmarshal(r.Payload, &p); err != nil {
		return nil, callErrorf(ocpp.ErrFormat, "payload: %v", err)
	}
	if p.CSR == "" {
		return nil, callErrorf(ocpp.ErrOccurrenceConstraint, "csr is required")
	}
	status := "Rejected"
	sec := s.security()
	switch {
	case sec == nil || sec.opts.Signer == nil:
		s.log.Info("SignCertificate rejected: no CA configured", "cp", r.ChargePointID)
	default:
		if _, err := pki.ParseCSR(p.CSR); err != nil {
			s.log.Info("SignCertificate rejected", "cp", r.ChargePointID, "err", err)
			break
		}
		if err := s.issueAfterReply(ctx, sec, r, p.CSR, p.CertificateType); err != nil {
			s.log.Warn("SignCertificate rejected", "cp", r.ChargePointID, "err", err)
			break
		}
		status = "Accepted"
	}
	return json.RawMessage(`{"status":"` + status + `"}`), nil
}

// issueAfterReply signs the CSR and sends CertificateSigned on a goroutine
// of the service (the workers' WaitGroup, so Close waits for it). It first
// waits until the SignCertificate answer was published on the station's
// /out topic, so that the station sees its answer before the new CALL.
func (s *Service) issueAfterReply(ctx context.Context, sec *security, r *Request, csr, use string) error {
	replied := make(chan struct{})
	var once sync.Once
	prefix := `[3,"` + r.MessageID + `"`
	sub, err := s.opts.Bus.Subscribe(ctx, s.opts.Topics.Out(r.ChargePointID), func(m bus.Message) {
		if strings.HasPrefix(strings.ReplaceAll(string(m.Payload), " ", ""), prefix) {
			once.Do(func() { close(replied) })
		}
	})
	if err != nil {
		return fmt.Errorf("watch for the answer: %w", err)
	}
	s.wg.Add(1) // the calling worker holds the group, so this cannot race Close's Wait
	go func() {
		defer s.wg.Done()
		select {
		case <-replied:
		case <-time.After(sec.opts.ReplyWait):
		}
		_ = sub.Unsubscribe(context.Background())
		s.issue(sec, r.ChargePointID, csr, use)
	}()
	return nil
}

// issue signs and delivers one certificate.
func (s *Service) issue(sec *security, cpID, csr, use string) {
	ctx, cancel := context.WithTimeout(context.Background(), sec.opts.SignTimeout)
	defer cancel()
	log := s.log.With("cp", cpID)
	var serial string
	if c, err := s.opts.Store.GetCredentials(ctx, cpID); err == nil {
		serial = c.SerialNumber
	}
	chain, leaf, err := sec.opts.Signer.Sign(ctx, pki.Request{ChargePointID: cpID, CSR: csr, Use: use, CommonName: serial})
	if err != nil {
		log.Warn("signing the station's CSR failed", "err", err)
		_ = s.opts.Store.AddSecurityEvent(ctx, store.SecurityEvent{ChargePointID: cpID, Type: "CertificateSigningFailed",
			TechInfo: err.Error(), Timestamp: s.opts.Now(), ReceivedAt: s.opts.Now()})
		return
	}
	certUse := use
	if certUse == "" {
		certUse = pki.UseChargingStation
	}
	rec := store.Certificate{SerialNumber: leaf.SerialNumber.Text(16), ChargePointID: cpID, Use: certUse,
		Subject: leaf.Subject.String(), NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, PEM: chain, IssuedAt: s.opts.Now()}
	if err := s.opts.Store.AddCertificate(ctx, rec); err != nil {
		log.Error("storing the issued certificate failed", "err", err)
		return
	}
	payload := map[string]string{"certificateChain": chain}
	if use != "" && !strings.HasPrefix(s.stationVersion(ctx, cpID), "ocpp1") {
		payload["certificateType"] = use
	}
	if _, err := s.Send(ctx, cpID, "CertificateSigned", payload); err != nil {
		log.Error("sending CertificateSigned failed", "err", err)
		return
	}
	log.Info("certificate issued", "serial", rec.SerialNumber, "subject", rec.Subject, "notAfter", rec.NotAfter)
}

func (s *Service) stationVersion(ctx context.Context, cpID string) string {
	cp, err := s.opts.Store.GetChargePoint(ctx, cpID)
	if err != nil {
		return ""
	}
	return cp.Protocol
}

// InstallCertificate asks the station to install a root certificate (2.x
// M05; 1.6 security extension). use is the version's certificate type,
// e.g. CSMSRootCertificate (2.x) or CentralSystemRootCertificate (1.6).
func (s *Service) InstallCertificate(ctx context.Context, cpID, use, certPEM string) (Command, error) {
	return s.Send(ctx, cpID, "InstallCertificate", map[string]string{"certificateType": use, "certificate": certPEM})
}

// CertificateHashData identifies an installed certificate (2.x M04, 1.6
// security extension), as DeleteCertificate takes it.
type CertificateHashData struct {
	HashAlgorithm  string `json:"hashAlgorithm"`
	IssuerNameHash string `json:"issuerNameHash"`
	IssuerKeyHash  string `json:"issuerKeyHash"`
	SerialNumber   string `json:"serialNumber"`
}

// HashData computes the SHA256 hash data of a PEM certificate issued by
// issuerPEM (the certificate itself for a root): the hashes of the
// issuer's distinguished name and public key, and the serial number in
// hex without leading zeroes.
func HashData(certPEM, issuerPEM string) (CertificateHashData, error) {
	parse := func(p string) (*x509.Certificate, error) {
		b, _ := pem.Decode([]byte(p))
		if b == nil {
			return nil, ocppd.Errorf(ocppd.EINVALID, "not a PEM certificate")
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, ocppd.Errorf(ocppd.EINVALID, "certificate does not parse: %v", err)
		}
		return c, nil
	}
	cert, err := parse(certPEM)
	if err != nil {
		return CertificateHashData{}, err
	}
	issuer := cert
	if issuerPEM != "" {
		if issuer, err = parse(issuerPEM); err != nil {
			return CertificateHashData{}, err
		}
	}
	name := sha256.Sum256(cert.RawIssuer)
	key := sha256.Sum256(subjectPublicKeyBits(issuer))
	return CertificateHashData{
		HashAlgorithm:  "SHA256",
		IssuerNameHash: hex.EncodeToString(name[:]),
		IssuerKeyHash:  hex.EncodeToString(key[:]),
		SerialNumber:   cert.SerialNumber.Text(16),
	}, nil
}

// subjectPublicKeyBits returns the BIT STRING contents of a certificate's
// subjectPublicKeyInfo (what OCSP and OCPP hash as the issuer key).
func subjectPublicKeyBits(c *x509.Certificate) []byte {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		return c.RawSubjectPublicKeyInfo
	}
	return spki.PublicKey.Bytes
}

// DeleteCertificate asks the station to delete an installed certificate
// (2.x M04, 1.6 security extension).
func (s *Service) DeleteCertificate(ctx context.Context, cpID string, h CertificateHashData) (Command, error) {
	return s.Send(ctx, cpID, "DeleteCertificate", map[string]any{"certificateHashData": h})
}

// GetInstalledCertificateIDs asks the station which certificates it has
// installed (2.x M03, 1.6 security extension). OCPP 1.6 asks for exactly
// one type per request; 2.x for any (none: all).
func (s *Service) GetInstalledCertificateIDs(ctx context.Context, cpID string, uses ...string) (Command, error) {
	if strings.HasPrefix(s.stationVersion(ctx, cpID), "ocpp1") {
		if len(uses) != 1 {
			return Command{}, ocppd.Errorf(ocppd.EINVALID, "OCPP 1.6 asks for exactly one certificate type")
		}
		return s.Send(ctx, cpID, "GetInstalledCertificateIds", map[string]string{"certificateType": uses[0]})
	}
	p := map[string]any{}
	if len(uses) > 0 {
		p["certificateType"] = uses
	}
	return s.Send(ctx, cpID, "GetInstalledCertificateIds", p)
}
