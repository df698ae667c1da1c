package csms

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/auth"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/pki"
	"github.com/ocppd/ocppd/store"
)

func testCSR(t *testing.T, cn string) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func TestSecurityEventNotificationStored(t *testing.T) {
	e := newEnv(t)
	for _, v := range []ocpp.Version{ocpp.V16, ocpp.V201} {
		id := "SE-" + string(v)
		e.addCP(id, ocppd.RegistrationAccepted, v)
		st := e.station(id, v)
		st.call("SecurityEventNotification", map[string]any{
			"type": "InvalidCentralSystemCertificate", "timestamp": "2025-06-01T11:59:00Z", "techInfo": "expired",
		}, nil)
		evs, err := e.db.ListSecurityEvents(context.Background(), id, 0)
		if err != nil || len(evs) != 1 || evs[0].Type != "InvalidCentralSystemCertificate" || evs[0].TechInfo != "expired" {
			t.Fatalf("%s: events %+v %v", v, evs, err)
		}
	}
}

func TestSignCertificateFlow(t *testing.T) {
	e := newEnv(t)
	ca, err := pki.OpenCA(t.TempDir(), "Acme CPO")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.EnableSecurity(SecurityOptions{Signer: ca})
	for _, v := range []ocpp.Version{ocpp.V16, ocpp.V201} {
		id := "SC-" + strings.ReplaceAll(string(v), ".", "")
		e.addCP(id, ocppd.RegistrationAccepted, v)
		st := e.station(id, v)
		payload := map[string]any{"csr": testCSR(t, id)}
		if v != ocpp.V16 {
			payload["certificateType"] = "ChargingStationCertificate"
		}
		var resp struct{ Status string }
		st.call("SignCertificate", payload, &resp)
		if resp.Status != "Accepted" {
			t.Fatalf("%s: SignCertificate %s", v, resp.Status)
		}
		// The CertificateSigned CALL follows the answer.
		f := st.next()
		if f.Type != ocpp.Call || f.Action != "CertificateSigned" {
			t.Fatalf("%s: got %s %s, want CertificateSigned", v, f.Type, f.Action)
		}
		var req struct {
			CertificateChain string `json:"certificateChain"`
			CertificateType  string `json:"certificateType"`
		}
		_ = json.Unmarshal(f.Payload, &req)
		b, _ := pem.Decode([]byte(req.CertificateChain))
		leaf, err := x509.ParseCertificate(b.Bytes)
		if err != nil || leaf.Subject.CommonName != id || leaf.Subject.Organization[0] != "Acme CPO" {
			t.Fatalf("%s: issued %v %v", v, leaf, err)
		}
		if (v == ocpp.V16) != (req.CertificateType == "") {
			t.Errorf("%s: certificateType %q", v, req.CertificateType)
		}
		certs, err := e.db.ListCertificates(context.Background(), id)
		if err != nil || len(certs) != 1 || certs[0].SerialNumber != leaf.SerialNumber.Text(16) {
			t.Errorf("%s: stored certificates %+v %v", v, certs, err)
		}
		// The station accepts it; the command is answered.
		st.publish(ocpp.AppendCallResult(nil, f.ID, json.RawMessage(`{"status":"Accepted"}`)))
		eventually(t, "CertificateSigned answered", func() bool {
			c, err := e.svc.GetCommand(context.Background(), f.ID)
			return err == nil && c.State == store.CommandAnswered
		})
	}
	// A CSR for another station's serial is accepted as a request but
	// never signed (the CA refuses it), and logged as a security event.
	e.addCP("SC-X", ocppd.RegistrationAccepted, ocpp.V201)
	st := e.station("SC-X", ocpp.V201)
	var resp struct{ Status string }
	st.call("SignCertificate", map[string]any{"csr": testCSR(t, "SC-OTHER")}, &resp)
	eventually(t, "signing failure recorded", func() bool {
		evs, _ := e.db.ListSecurityEvents(context.Background(), "SC-X", 0)
		return len(evs) == 1 && evs[0].Type == "CertificateSigningFailed"
	})
	// Garbage is rejected at once.
	st.call("SignCertificate", map[string]any{"csr": "not a csr"}, &resp)
	if resp.Status != "Rejected" {
		t.Errorf("garbage CSR: %s", resp.Status)
	}
}

func TestSignCertificateWithoutCA(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V201)
	st := e.station("CP1", ocpp.V201)
	var resp struct{ Status string }
	st.call("SignCertificate", map[string]any{"csr": testCSR(t, "CP1")}, &resp)
	if resp.Status != "Rejected" {
		t.Fatalf("without a CA: %s", resp.Status)
	}
}

func TestRotatePassword(t *testing.T) {
	e := newEnv(t)
	e.svc.EnableSecurity(SecurityOptions{})
	ctx := context.Background()
	oldHash, _ := auth.HashPassword("old-password-0123456789")
	for _, tc := range []struct {
		v      ocpp.Version
		answer string
		want   string // "new", "old" or "both"
	}{
		{ocpp.V201, `{"setVariableResult":[{"attributeStatus":"Accepted","component":{"name":"SecurityCtrlr"},"variable":{"name":"BasicAuthPassword"}}]}`, "new"},
		{ocpp.V201, `{"setVariableResult":[{"attributeStatus":"Rejected","component":{"name":"SecurityCtrlr"},"variable":{"name":"BasicAuthPassword"}}]}`, "old"},
		{ocpp.V16, `{"status":"Accepted"}`, "new"},
		{ocpp.V16, `{"status":"NotSupported"}`, "old"},
		{ocpp.V16, `{"status":"RebootRequired"}`, "both"},
	} {
		id := "PW-" + strings.ReplaceAll(string(tc.v), ".", "") + "-" + tc.want + "-" + tc.answer[len(tc.answer)-12:len(tc.answer)-4]
		id = strings.NewReplacer(`"`, "", "{", "", "}", "", ":", "", ",", "").Replace(id)
		if len(id) > 36 {
			id = id[:36]
		}
		e.addCP(id, ocppd.RegistrationAccepted, tc.v)
		if err := e.db.SetPassword(ctx, id, oldHash, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		st := e.station(id, tc.v)
		c, password, err := e.svc.RotatePassword(ctx, id, "", 0)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if err := auth.ValidatePassword(tc.v, password, 0); err != nil {
			t.Errorf("%s: generated password: %v", id, err)
		}
		f := st.next()
		if f.ID != c.ID || !strings.Contains(string(f.Payload), password) {
			t.Fatalf("%s: the CALL does not carry the password: %s", id, f.Payload)
		}
		stored, _ := e.svc.GetCommand(ctx, c.ID)
		if strings.Contains(string(stored.Request), password) || !strings.Contains(string(stored.Request), redactedPrefix) {
			t.Fatalf("%s: stored request %s is not redacted", id, stored.Request)
		}
		if cr, _ := e.db.GetCredentials(ctx, id); cr.PendingHash == "" || cr.PasswordHash != oldHash {
			t.Fatalf("%s: during rotation %+v", id, cr)
		}
		st.publish(ocpp.AppendCallResult(nil, f.ID, json.RawMessage(tc.answer)))
		eventually(t, id+" answered", func() bool {
			c, err := e.svc.GetCommand(ctx, c.ID)
			return err == nil && c.State.Final()
		})
		eventually(t, id+" resolved", func() bool {
			cr, _ := e.db.GetCredentials(ctx, id)
			switch tc.want {
			case "new":
				return cr.PendingHash == "" && cr.PasswordHash != oldHash && cr.PasswordHash != ""
			case "old":
				return cr.PendingHash == "" && cr.PasswordHash == oldHash
			}
			return cr.PendingHash != "" && cr.PasswordHash == oldHash
		})
	}
	// Offline stations and invalid passwords are refused.
	e.addCP("OFF", ocppd.RegistrationAccepted, "")
	if _, _, err := e.svc.RotatePassword(ctx, "OFF", "", 0); ocppd.ErrorCode(err) != ocppd.EUNAVAILABLE {
		t.Errorf("offline: %v", err)
	}
	e.addCP("BAD", ocppd.RegistrationAccepted, ocpp.V16)
	if _, _, err := e.svc.RotatePassword(ctx, "BAD", "not-hex-at-all-but-long-enough", 0); ocppd.ErrorCode(err) != ocppd.EINVALID {
		t.Errorf("invalid 1.6 key: %v", err)
	}
}

func TestHashData(t *testing.T) {
	ca, _ := pki.OpenCA(t.TempDir(), "Acme CPO")
	h, err := HashData(ca.CertificatePEM(), "")
	if err != nil {
		t.Fatal(err)
	}
	if h.HashAlgorithm != "SHA256" || len(h.IssuerNameHash) != 64 || len(h.IssuerKeyHash) != 64 ||
		h.SerialNumber != ca.Certificate().SerialNumber.Text(16) || strings.HasPrefix(h.SerialNumber, "0") {
		t.Errorf("hash data %+v", h)
	}
	if _, err := HashData("nope", ""); ocppd.ErrorCode(err) != ocppd.EINVALID {
		t.Errorf("garbage: %v", err)
	}
}
