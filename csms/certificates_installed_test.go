package csms

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/pki"
	"github.com/ocppd/ocppd/store"
)

// TestInstalledCertificatesTracked: the answers to GetInstalledCertificateIds
// (1.6 and 2.0.1), InstallCertificate and DeleteCertificate keep the
// station's installed certificates in the store; refusals change nothing.
func TestInstalledCertificatesTracked(t *testing.T) {
	e := newEnv(t)
	e.svc.EnableSecurity(SecurityOptions{})
	ctx := context.Background()
	list := func(id string) []store.InstalledCertificate {
		t.Helper()
		l, err := e.db.ListInstalledCertificates(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	// answer sends the station's answer to c and waits until the CSMS
	// recorded it (and ran its observers).
	answer := func(st *station, c Command, payload string) {
		t.Helper()
		f := st.next()
		if f.ID != c.ID {
			t.Fatalf("expected the CALL %s, got %+v", c.ID, f)
		}
		st.publish(ocpp.AppendCallResult(nil, f.ID, json.RawMessage(payload)))
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if got, err := e.svc.Wait(wctx, c.ID); err != nil || got.State != store.CommandAnswered {
			t.Fatalf("%s: %+v %v", c.Action, got, err)
		}
	}
	h := func(serial string) string {
		return `{"hashAlgorithm":"SHA256","issuerNameHash":"n` + serial + `","issuerKeyHash":"k` + serial + `","serialNumber":"` + serial + `"}`
	}

	// 2.0.1: all types.
	e.addCP("C201", ocppd.RegistrationAccepted, ocpp.V201)
	st := e.station("C201", ocpp.V201)
	c, err := e.svc.GetInstalledCertificateIDs(ctx, "C201")
	if err != nil {
		t.Fatal(err)
	}
	answer(st, c, `{"status":"Accepted","certificateHashDataChain":[
		{"certificateType":"CSMSRootCertificate","certificateHashData":`+h("01")+`},
		{"certificateType":"V2GCertificateChain","certificateHashData":`+h("02")+`,"childCertificateHashData":[`+h("03")+`]}]}`)
	if l := list("C201"); len(l) != 2 || l[0].Type != "CSMSRootCertificate" || l[0].SerialNumber != "01" ||
		len(l[1].Children) != 1 || l[1].Children[0].SerialNumber != "03" {
		t.Fatalf("2.0.1 report: %+v", l)
	}
	// Install a root: recorded with the hash data the station computes.
	ca, err := pki.OpenCA(t.TempDir(), "Acme CPO")
	if err != nil {
		t.Fatal(err)
	}
	c, err = e.svc.InstallCertificate(ctx, "C201", "ManufacturerRootCertificate", ca.CertificatePEM())
	if err != nil {
		t.Fatal(err)
	}
	answer(st, c, `{"status":"Accepted"}`)
	want, _ := HashData(ca.CertificatePEM(), "")
	l := list("C201")
	if len(l) != 3 || l[1].Type != "ManufacturerRootCertificate" || l[1].CertificateHash != store.CertificateHash(want) {
		t.Fatalf("after InstallCertificate: %+v, want %+v", l, want)
	}
	// A rejected installation changes nothing.
	c, _ = e.svc.InstallCertificate(ctx, "C201", "MORootCertificate", ca.CertificatePEM())
	answer(st, c, `{"status":"Rejected"}`)
	if n := len(list("C201")); n != 3 {
		t.Fatalf("a rejected installation was recorded: %d", n)
	}
	// Delete it again.
	c, err = e.svc.DeleteCertificate(ctx, "C201", want)
	if err != nil {
		t.Fatal(err)
	}
	answer(st, c, `{"status":"Accepted"}`)
	if l := list("C201"); len(l) != 2 {
		t.Fatalf("after DeleteCertificate: %+v", l)
	}
	// A report of one type with NotFound empties that type only.
	c, _ = e.svc.GetInstalledCertificateIDs(ctx, "C201", "CSMSRootCertificate")
	answer(st, c, `{"status":"NotFound"}`)
	if l := list("C201"); len(l) != 1 || l[0].Type != "V2GCertificateChain" {
		t.Fatalf("after NotFound for CSMSRootCertificate: %+v", l)
	}

	// 1.6 security extension: one type per request.
	e.addCP("C16", ocppd.RegistrationAccepted, ocpp.V16)
	st16 := e.station("C16", ocpp.V16)
	c, err = e.svc.GetInstalledCertificateIDs(ctx, "C16", "CentralSystemRootCertificate")
	if err != nil {
		t.Fatal(err)
	}
	answer(st16, c, `{"status":"Accepted","certificateHashData":[`+h("11")+`,`+h("12")+`]}`)
	if l := list("C16"); len(l) != 2 || l[0].Type != "CentralSystemRootCertificate" || l[1].SerialNumber != "12" {
		t.Fatalf("1.6 report: %+v", l)
	}
}
