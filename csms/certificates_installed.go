package csms

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"

	"github.com/ocppd/ocppd/store"
)

// What a station has installed (2.x M03–M05, the 1.6 security extension)
// is kept in the store from the answers to GetInstalledCertificateIds,
// InstallCertificate and DeleteCertificate, whoever sent them (these
// helpers or the API's generic commands).

// hashData is CertificateHashDataType on the wire.
type hashData = store.CertificateHash

// installedAnswer records an answered GetInstalledCertificateIds: the
// reported certificates replace those of the types asked for (all types
// when none were).
func (s *Service) installedAnswer(ctx context.Context, c Command) {
	if c.State != store.CommandAnswered {
		return
	}
	var resp struct {
		Status string `json:"status"`
		// 1.6 security extension: one type per request.
		CertificateHashData []hashData `json:"certificateHashData"`
		// 2.x
		CertificateHashDataChain []struct {
			CertificateType          string     `json:"certificateType"`
			CertificateHashData      hashData   `json:"certificateHashData"`
			ChildCertificateHashData []hashData `json:"childCertificateHashData"`
		} `json:"certificateHashDataChain"`
	}
	if json.Unmarshal(c.Response, &resp) != nil || (resp.Status != "Accepted" && resp.Status != "NotFound") {
		return
	}
	var types []string
	var certs []store.InstalledCertificate
	if strings.HasPrefix(c.Protocol, "ocpp1") {
		var req struct {
			CertificateType string `json:"certificateType"`
		}
		if json.Unmarshal(c.Request, &req) != nil || req.CertificateType == "" {
			return
		}
		types = []string{req.CertificateType}
		if resp.Status == "Accepted" {
			for _, h := range resp.CertificateHashData {
				certs = append(certs, store.InstalledCertificate{Type: req.CertificateType, CertificateHash: h})
			}
		}
	} else {
		var req struct {
			CertificateType []string `json:"certificateType"`
		}
		if json.Unmarshal(c.Request, &req) != nil {
			return
		}
		types = req.CertificateType
		if resp.Status == "Accepted" {
			for _, ch := range resp.CertificateHashDataChain {
				certs = append(certs, store.InstalledCertificate{Type: ch.CertificateType, CertificateHash: ch.CertificateHashData,
					Children: ch.ChildCertificateHashData})
			}
		}
	}
	if err := s.opts.Store.ReplaceInstalledCertificates(ctx, c.ChargePointID, types, certs, s.opts.Now()); err != nil {
		s.log.Warn("storing the installed certificates failed", "cp", c.ChargePointID, "err", err)
		return
	}
	s.log.Info("installed certificates recorded", "cp", c.ChargePointID, "types", types, "certificates", len(certs))
}

// installAnswer records a certificate the station accepted with
// InstallCertificate. Its hash data is computed as the station would
// (SHA256); the issuer key hash is known only for a self-signed
// certificate (a root), and left "" otherwise.
func (s *Service) installAnswer(ctx context.Context, c Command) {
	if c.State != store.CommandAnswered || answerStatus(c) != "Accepted" {
		return
	}
	var req struct {
		CertificateType string `json:"certificateType"`
		Certificate     string `json:"certificate"`
	}
	if json.Unmarshal(c.Request, &req) != nil {
		return
	}
	h, err := HashData(req.Certificate, "")
	if err != nil {
		s.log.Warn("installed certificate does not parse; not recorded", "cp", c.ChargePointID, "err", err)
		return
	}
	if !selfSigned(req.Certificate) {
		h.IssuerKeyHash = ""
	}
	err = s.opts.Store.PutInstalledCertificate(ctx, store.InstalledCertificate{ChargePointID: c.ChargePointID,
		Type: req.CertificateType, CertificateHash: store.CertificateHash(h), UpdatedAt: s.opts.Now()})
	if err != nil {
		s.log.Warn("storing the installed certificate failed", "cp", c.ChargePointID, "err", err)
	}
}

// deleteAnswer forgets a certificate the station deleted (Accepted) or
// does not have (NotFound).
func (s *Service) deleteAnswer(ctx context.Context, c Command) {
	if c.State != store.CommandAnswered {
		return
	}
	if st := answerStatus(c); st != "Accepted" && st != "NotFound" {
		return
	}
	var req struct {
		CertificateHashData hashData `json:"certificateHashData"`
	}
	if json.Unmarshal(c.Request, &req) != nil {
		return
	}
	if err := s.opts.Store.DeleteInstalledCertificate(ctx, c.ChargePointID, req.CertificateHashData); err != nil {
		s.log.Warn("forgetting the deleted certificate failed", "cp", c.ChargePointID, "err", err)
	}
}

// selfSigned reports whether a PEM certificate is signed by its own key.
func selfSigned(certPEM string) bool {
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		return false
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return false
	}
	return c.CheckSignatureFrom(c) == nil
}
