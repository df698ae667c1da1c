package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/csms"
	"github.com/ocppd/ocppd/store"
)

// fakeRotator is a Commander that also rotates passwords, recording the
// calls.
type fakeRotator struct {
	Commander
	calls []rotateCall
	err   error
}

type rotateCall struct {
	cp, password string
	maxLen       int
}

func (f *fakeRotator) RotatePassword(_ context.Context, cp, pw string, maxLen int) (store.Command, string, error) {
	f.calls = append(f.calls, rotateCall{cp, pw, maxLen})
	if f.err != nil {
		return store.Command{}, "", f.err
	}
	if pw == "" {
		pw = "generated-password-0123456789"
	}
	return store.Command{ID: "m1", ChargePointID: cp, Action: "SetVariables", State: store.CommandSent}, pw, nil
}

// TestRotatePassword: POST /password/rotate calls the CSMS's
// RotatePassword with the given password or none (generated, returned
// once), checks maxLength, maps the CSMS's errors, and answers 501 where
// no CSMS can send commands.
func TestRotatePassword(t *testing.T) {
	f := &fakeRotator{}
	e := newEnv(t, func(o *Options) { o.Commands = f })
	e.addCP("CP1")
	path := "/api/v1/chargepoints/CP1/password/rotate"

	r := e.do("POST", path, e.admin, nil)
	want(t, r, http.StatusCreated)
	var out struct {
		Command  store.Command `json:"command"`
		Password string        `json:"password"`
	}
	r.decode(t, &out)
	if out.Password != "generated-password-0123456789" || out.Command.ID != "m1" || r.header.Get("Location") != "/api/v1/commands/m1" {
		t.Fatalf("generated: %s %v", r.body, r.header)
	}
	r = e.do("POST", path, e.admin, map[string]any{"password": "chosen-password-0123456789", "maxLength": 64})
	want(t, r, http.StatusCreated)
	out.Password = ""
	r.decode(t, &out)
	if out.Password != "" {
		t.Fatalf("a given password was echoed: %s", r.body)
	}
	if len(f.calls) != 2 || f.calls[0] != (rotateCall{"CP1", "", 0}) || f.calls[1] != (rotateCall{"CP1", "chosen-password-0123456789", 64}) {
		t.Fatalf("calls %+v", f.calls)
	}
	want(t, e.do("POST", path, e.admin, map[string]any{"maxLength": 30}), http.StatusBadRequest, "maxLength")
	want(t, e.do("POST", path, e.readOnly, nil), http.StatusForbidden)

	f.err = ocppd.Errorf(ocppd.EINVALID, "too short")
	want(t, e.do("POST", path, e.admin, map[string]any{"password": "x"}), http.StatusBadRequest, "password")
	f.err = ocppd.Errorf(ocppd.EUNAVAILABLE, "offline")
	want(t, e.do("POST", path, e.admin, nil), http.StatusServiceUnavailable)

	e2 := newEnv(t)
	e2.addCP("CP1")
	want(t, e2.do("POST", path, e2.admin, nil), http.StatusNotImplemented)
}

var _ PasswordRotator = (*csms.Service)(nil)

// TestSecuritySettings: GET shows the minimum profile and whether a
// password is set (never the hash); PATCH lowers the minimum (the
// operator's reset) and sets the serial number; bad values are 400 naming
// the field; unknown stations 404; read-only tokens 403.
func TestSecuritySettings(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1")
	ctx := context.Background()
	if err := e.store.SetPassword(ctx, "CP1", "$argon2id$secret-hash", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.RaiseSecurityProfile(ctx, "CP1", 3, time.Now()); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/chargepoints/CP1/security"
	r := e.do("GET", path, e.readOnly, nil)
	want(t, r, http.StatusOK)
	var got securitySettings
	r.decode(t, &got)
	if got.SecurityProfile != 3 || !got.HasPassword || got.PendingPasswordSince != nil || strings.Contains(string(r.body), "argon2id") {
		t.Fatalf("GET %s", r.body)
	}
	r = e.do("PATCH", path, e.admin, map[string]any{"securityProfile": 1, "serialNumber": "SN-1"})
	want(t, r, http.StatusOK)
	r.decode(t, &got)
	if got.SecurityProfile != 1 || got.SerialNumber != "SN-1" {
		t.Fatalf("PATCH %s", r.body)
	}
	if c, _ := e.store.GetCredentials(ctx, "CP1"); c.SecurityProfile != 1 || c.SerialNumber != "SN-1" {
		t.Fatalf("stored %+v", c)
	}
	want(t, e.do("PATCH", path, e.admin, map[string]any{"securityProfile": 4}), http.StatusBadRequest, "securityProfile")
	want(t, e.do("PATCH", path, e.admin, map[string]any{"profile": 1}), http.StatusBadRequest)
	want(t, e.do("PATCH", path, e.readOnly, map[string]any{"securityProfile": 0}), http.StatusForbidden)
	want(t, e.do("GET", "/api/v1/chargepoints/NOPE/security", e.admin, nil), http.StatusNotFound)
	want(t, e.do("PATCH", "/api/v1/chargepoints/NOPE/security", e.admin, map[string]any{"securityProfile": 0}), http.StatusNotFound)
}

// TestStationCertificates: GET /certificates lists the installed
// certificates the store keeps and the issued ones; 404 for an unknown
// station.
func TestStationCertificates(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1")
	ctx := context.Background()
	path := "/api/v1/chargepoints/CP1/certificates"
	r := e.do("GET", path, e.readOnly, nil)
	want(t, r, http.StatusOK)
	if string(r.body) != `{"installed":[],"issued":[]}`+"\n" {
		t.Fatalf("empty: %q", r.body)
	}
	h := store.CertificateHash{HashAlgorithm: "SHA256", IssuerNameHash: "n", IssuerKeyHash: "k", SerialNumber: "0a"}
	if err := e.store.ReplaceInstalledCertificates(ctx, "CP1", nil, []store.InstalledCertificate{{Type: "CSMSRootCertificate", CertificateHash: h}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := e.store.AddCertificate(ctx, store.Certificate{SerialNumber: "5f", ChargePointID: "CP1", Use: "ChargingStationCertificate",
		Subject: "CN=CP1,O=Acme CPO", NotBefore: now, NotAfter: now.Add(time.Hour), PEM: "-----BEGIN CERTIFICATE-----", IssuedAt: now}); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", path, e.readOnly, nil)
	want(t, r, http.StatusOK)
	var got struct {
		Installed []map[string]any `json:"installed"`
		Issued    []map[string]any `json:"issued"`
	}
	r.decode(t, &got)
	if len(got.Installed) != 1 || got.Installed[0]["certificateType"] != "CSMSRootCertificate" || got.Installed[0]["serialNumber"] != "0a" ||
		len(got.Issued) != 1 || got.Issued[0]["serialNumber"] != "5f" || got.Issued[0]["certificateType"] != "ChargingStationCertificate" {
		t.Fatalf("certificates %s", r.body)
	}
	want(t, e.do("GET", "/api/v1/chargepoints/NOPE/certificates", e.admin, nil), http.StatusNotFound)
}
