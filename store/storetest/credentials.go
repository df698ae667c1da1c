package storetest

import (
	"context"
	"testing"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// runSecurity tests store.Security (credentials.go): station credentials,
// issued certificates and security events.
func runSecurity(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CredentialsEmpty", testCredentialsEmpty},
		{"CredentialsSetPassword", testCredentialsSetPassword},
		{"CredentialsRotation", testCredentialsRotation},
		{"CredentialsSerialNumber", testCredentialsSerial},
		{"CredentialsUnknownStation", testCredentialsUnknown},
		{"CredentialsDeletedWithStation", testCredentialsCascade},
		{"CredentialsSecurityProfile", testCredentialsSecurityProfile},
		{"Certificates", testCertificates},
		{"SecurityEvents", testSecurityEvents},
		{"InstalledCertificates", testInstalledCertificates},
	}
	for _, tc := range tests {
		t.Run("Security/"+tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

func creds(t *testing.T, s store.Store, id string) store.Credentials {
	t.Helper()
	c, err := s.GetCredentials(context.Background(), id)
	if err != nil {
		t.Fatalf("GetCredentials(%q): %v", id, err)
	}
	return c
}

func testCredentialsEmpty(t *testing.T, s store.Store) {
	add(t, s, "CP1")
	c := creds(t, s, "CP1")
	if c != (store.Credentials{ChargePointID: "CP1"}) {
		t.Errorf("credentials of a new station: %+v", c)
	}
}

func testCredentialsSetPassword(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1", "CP2")
	if err := s.SetPassword(ctx, "CP1", "$argon2id$h1", at(1)); err != nil {
		t.Fatal(err)
	}
	c := creds(t, s, "CP1")
	if c.PasswordHash != "$argon2id$h1" || c.PendingHash != "" || !c.PendingSince.IsZero() {
		t.Errorf("after SetPassword: %+v", c)
	}
	checkTime(t, "UpdatedAt", c.UpdatedAt, at(1))
	if c := creds(t, s, "CP2"); c.PasswordHash != "" {
		t.Errorf("other station got a password: %+v", c)
	}
	// A pending password is dropped by SetPassword.
	if err := s.SetPendingPassword(ctx, "CP1", "$argon2id$p", at(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "CP1", "$argon2id$h2", at(3)); err != nil {
		t.Fatal(err)
	}
	if c := creds(t, s, "CP1"); c.PasswordHash != "$argon2id$h2" || c.PendingHash != "" {
		t.Errorf("after second SetPassword: %+v", c)
	}
	// "" removes the password.
	if err := s.SetPassword(ctx, "CP1", "", at(4)); err != nil {
		t.Fatal(err)
	}
	if c := creds(t, s, "CP1"); c.PasswordHash != "" {
		t.Errorf("password not removed: %+v", c)
	}
}

func testCredentialsRotation(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1")
	if err := s.SetPassword(ctx, "CP1", "old", at(1)); err != nil {
		t.Fatal(err)
	}
	// Without a pending password there is nothing to resolve.
	wantCode(t, s.ResolvePendingPassword(ctx, "CP1", "", true, at(2)), ocppd.ECONFLICT)

	if err := s.SetPendingPassword(ctx, "CP1", "new", at(2)); err != nil {
		t.Fatal(err)
	}
	c := creds(t, s, "CP1")
	if c.PasswordHash != "old" || c.PendingHash != "new" {
		t.Fatalf("during rotation: %+v", c)
	}
	checkTime(t, "PendingSince", c.PendingSince, at(2))

	// Rejected: the old password stays (A01.FR.04).
	if err := s.ResolvePendingPassword(ctx, "CP1", "new", false, at(3)); err != nil {
		t.Fatal(err)
	}
	if c := creds(t, s, "CP1"); c.PasswordHash != "old" || c.PendingHash != "" || !c.PendingSince.IsZero() {
		t.Fatalf("after rejection: %+v", c)
	}
	// A resolved rotation cannot be resolved again.
	wantCode(t, s.ResolvePendingPassword(ctx, "CP1", "new", true, at(4)), ocppd.ECONFLICT)

	// A later rotation replaces an earlier one; answers about the earlier
	// one conflict and change nothing.
	_ = s.SetPendingPassword(ctx, "CP1", "new1", at(5))
	_ = s.SetPendingPassword(ctx, "CP1", "new2", at(6))
	wantCode(t, s.ResolvePendingPassword(ctx, "CP1", "new1", true, at(7)), ocppd.ECONFLICT)
	if c := creds(t, s, "CP1"); c.PasswordHash != "old" || c.PendingHash != "new2" {
		t.Fatalf("after a stale answer: %+v", c)
	}
	// Accepted: the new password replaces the old (A01.FR.03).
	if err := s.ResolvePendingPassword(ctx, "CP1", "new2", true, at(8)); err != nil {
		t.Fatal(err)
	}
	c = creds(t, s, "CP1")
	if c.PasswordHash != "new2" || c.PendingHash != "" {
		t.Fatalf("after acceptance: %+v", c)
	}
	checkTime(t, "UpdatedAt", c.UpdatedAt, at(8))

	// A pending password on a station that had none.
	add(t, s, "CP2")
	if err := s.SetPendingPassword(ctx, "CP2", "first", at(9)); err != nil {
		t.Fatal(err)
	}
	if c := creds(t, s, "CP2"); c.PasswordHash != "" || c.PendingHash != "first" {
		t.Fatalf("first pending password: %+v", c)
	}
}

func testCredentialsSerial(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1")
	_ = s.SetPassword(ctx, "CP1", "h", at(1))
	if err := s.SetSerialNumber(ctx, "CP1", "SN-0042", at(2)); err != nil {
		t.Fatal(err)
	}
	if c := creds(t, s, "CP1"); c.SerialNumber != "SN-0042" || c.PasswordHash != "h" {
		t.Errorf("after SetSerialNumber: %+v", c)
	}
}

func testCredentialsUnknown(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.GetCredentials(ctx, "NOPE")
	wantCode(t, err, ocppd.ENOTFOUND)
	wantCode(t, s.SetPassword(ctx, "NOPE", "h", at(1)), ocppd.ENOTFOUND)
	wantCode(t, s.SetPendingPassword(ctx, "NOPE", "h", at(1)), ocppd.ENOTFOUND)
	wantCode(t, s.ResolvePendingPassword(ctx, "NOPE", "h", true, at(1)), ocppd.ENOTFOUND)
	wantCode(t, s.SetSerialNumber(ctx, "NOPE", "s", at(1)), ocppd.ENOTFOUND)
	wantCode(t, s.AddCertificate(ctx, store.Certificate{SerialNumber: "01", ChargePointID: "NOPE", NotBefore: at(0), NotAfter: at(1)}), ocppd.ENOTFOUND)
	wantCode(t, s.AddSecurityEvent(ctx, store.SecurityEvent{ChargePointID: "NOPE", Type: "X", Timestamp: at(1)}), ocppd.ENOTFOUND)
}

func testCredentialsCascade(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1")
	_ = s.SetPassword(ctx, "CP1", "h", at(1))
	_ = s.AddCertificate(ctx, store.Certificate{SerialNumber: "0a", ChargePointID: "CP1", NotBefore: at(0), NotAfter: at(1), IssuedAt: at(1)})
	_ = s.AddSecurityEvent(ctx, store.SecurityEvent{ChargePointID: "CP1", Type: "X", Timestamp: at(1)})
	if err := s.DeleteChargePoint(ctx, "CP1"); err != nil {
		t.Fatal(err)
	}
	add(t, s, "CP1")
	if c := creds(t, s, "CP1"); c.PasswordHash != "" {
		t.Errorf("credentials survived the station: %+v", c)
	}
	if certs, _ := s.ListCertificates(ctx, "CP1"); len(certs) != 0 {
		t.Errorf("certificates survived the station: %v", certs)
	}
	if evs, _ := s.ListSecurityEvents(ctx, "CP1", 0); len(evs) != 0 {
		t.Errorf("events survived the station: %v", evs)
	}
}

func testCertificates(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1", "CP2")
	c1 := store.Certificate{SerialNumber: "01ab", ChargePointID: "CP1", Use: "ChargingStationCertificate",
		Subject: "CN=CP1,O=Acme", NotBefore: at(0), NotAfter: at(86400), PEM: "-----BEGIN CERTIFICATE-----\n…", IssuedAt: at(1)}
	c2 := c1
	c2.SerialNumber, c2.IssuedAt, c2.Use = "02cd", at(2), "V2GCertificate"
	c3 := c1
	c3.SerialNumber, c3.ChargePointID = "03ef", "CP2"
	for _, c := range []store.Certificate{c1, c2, c3} {
		if err := s.AddCertificate(ctx, c); err != nil {
			t.Fatalf("AddCertificate(%s): %v", c.SerialNumber, err)
		}
	}
	wantCode(t, s.AddCertificate(ctx, c1), ocppd.ECONFLICT)
	got, err := s.ListCertificates(ctx, "CP1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].SerialNumber != "02cd" || got[1].SerialNumber != "01ab" {
		t.Fatalf("ListCertificates = %+v, want 02cd then 01ab", got)
	}
	g := got[1]
	if g.Use != c1.Use || g.Subject != c1.Subject || g.PEM != c1.PEM || g.ChargePointID != "CP1" {
		t.Errorf("stored %+v, want %+v", g, c1)
	}
	checkTime(t, "NotBefore", g.NotBefore, c1.NotBefore)
	checkTime(t, "NotAfter", g.NotAfter, c1.NotAfter)
	checkTime(t, "IssuedAt", g.IssuedAt, c1.IssuedAt)
	if none, err := s.ListCertificates(ctx, "CP3"); err != nil || len(none) != 0 {
		t.Errorf("unknown station: %v %v", none, err)
	}
}

func testSecurityEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1", "CP2")
	evs := []store.SecurityEvent{
		{ChargePointID: "CP1", Type: "FirmwareUpdated", Timestamp: at(10), ReceivedAt: at(11)},
		{ChargePointID: "CP1", Type: "InvalidCentralSystemCertificate", TechInfo: "expired", Timestamp: at(5), ReceivedAt: at(12)},
		{ChargePointID: "CP1", Type: "ResetOrReboot", Timestamp: at(10), ReceivedAt: at(13)},
		{ChargePointID: "CP2", Type: "StartupOfTheDevice", Timestamp: at(1), ReceivedAt: at(1)},
	}
	for _, ev := range evs {
		if err := s.AddSecurityEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListSecurityEvents(ctx, "CP1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range got {
		types = append(types, ev.Type)
	}
	// Newest first; equal timestamps: the later arrival first.
	want := []string{"ResetOrReboot", "FirmwareUpdated", "InvalidCentralSystemCertificate"}
	if len(types) != len(want) || types[0] != want[0] || types[1] != want[1] || types[2] != want[2] {
		t.Fatalf("ListSecurityEvents = %v, want %v", types, want)
	}
	if got[2].TechInfo != "expired" {
		t.Errorf("TechInfo = %q", got[2].TechInfo)
	}
	checkTime(t, "Timestamp", got[2].Timestamp, at(5))
	checkTime(t, "ReceivedAt", got[2].ReceivedAt, at(12))
	if two, _ := s.ListSecurityEvents(ctx, "CP1", 2); len(two) != 2 {
		t.Errorf("limit 2: %d events", len(two))
	}
}

// testCredentialsSecurityProfile: RaiseSecurityProfile only raises and
// says when it did; SetSecurityProfile sets any value 0–3 (an operator's
// reset) and refuses others; both keep the password; ENOTFOUND for an
// unknown station.
func testCredentialsSecurityProfile(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1", "CP2")
	if raised, err := s.RaiseSecurityProfile(ctx, "CP1", 0, at(1)); err != nil || raised {
		t.Fatalf("raise to 0: %v %v", raised, err)
	}
	if creds(t, s, "CP1").SecurityProfile != 0 {
		t.Fatal("profile not 0")
	}
	if err := s.SetPassword(ctx, "CP1", "$argon2id$h1", at(1)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		profile int
		raised  bool
		want    int
	}{{2, true, 2}, {2, false, 2}, {1, false, 2}, {3, true, 3}, {0, false, 3}} {
		raised, err := s.RaiseSecurityProfile(ctx, "CP1", c.profile, at(2))
		if err != nil || raised != c.raised {
			t.Fatalf("raise to %d: raised %v, %v; want %v", c.profile, raised, err, c.raised)
		}
		if got := creds(t, s, "CP1").SecurityProfile; got != c.want {
			t.Fatalf("after raise to %d: profile %d, want %d", c.profile, got, c.want)
		}
	}
	// A station without a credentials row gets one.
	if raised, err := s.RaiseSecurityProfile(ctx, "CP2", 1, at(2)); err != nil || !raised {
		t.Fatalf("first raise of CP2: %v %v", raised, err)
	}
	if err := s.SetSecurityProfile(ctx, "CP1", 1, at(3)); err != nil {
		t.Fatal(err)
	}
	c := creds(t, s, "CP1")
	if c.SecurityProfile != 1 || c.PasswordHash != "$argon2id$h1" {
		t.Fatalf("after the reset: %+v", c)
	}
	for _, p := range []int{-1, 4} {
		if err := s.SetSecurityProfile(ctx, "CP1", p, at(3)); ocppd.ErrorCode(err) != ocppd.EINVALID {
			t.Errorf("SetSecurityProfile(%d): %v, want EINVALID", p, err)
		}
	}
	if _, err := s.RaiseSecurityProfile(ctx, "NOPE", 2, at(3)); ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		t.Errorf("raise of an unknown station: %v", err)
	}
	if err := s.SetSecurityProfile(ctx, "NOPE", 2, at(3)); ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		t.Errorf("set of an unknown station: %v", err)
	}
}

// testInstalledCertificates: a GetInstalledCertificateIds answer replaces
// the certificates of the types asked (all without types), with children
// kept; InstallCertificate adds or replaces; DeleteCertificate removes by
// hash data even when the stored issuer key hash is unknown; ENOTFOUND for
// unknown stations; cascade with the station.
func testInstalledCertificates(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1", "CP2")
	h := func(serial string) store.CertificateHash {
		return store.CertificateHash{HashAlgorithm: "SHA256", IssuerNameHash: "name-" + serial, IssuerKeyHash: "key-" + serial, SerialNumber: serial}
	}
	list := func(id string) []store.InstalledCertificate {
		t.Helper()
		l, err := s.ListInstalledCertificates(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := list("CP1"); len(l) != 0 {
		t.Fatalf("new station: %+v", l)
	}
	err := s.ReplaceInstalledCertificates(ctx, "CP1", nil, []store.InstalledCertificate{
		{Type: "CSMSRootCertificate", CertificateHash: h("0a")},
		{Type: "V2GCertificateChain", CertificateHash: h("0c"), Children: []store.CertificateHash{h("0d"), h("0e")}},
		{Type: "CSMSRootCertificate", CertificateHash: h("0b")},
	}, at(1))
	if err != nil {
		t.Fatal(err)
	}
	l := list("CP1")
	if len(l) != 3 || l[0].SerialNumber != "0a" || l[1].SerialNumber != "0b" || l[2].Type != "V2GCertificateChain" ||
		len(l[2].Children) != 2 || l[2].Children[1] != h("0e") || l[0].Children != nil || l[0].CertificateHash != h("0a") ||
		l[0].ChargePointID != "CP1" || !l[0].UpdatedAt.Equal(at(1)) {
		t.Fatalf("after the first report: %+v", l)
	}
	// Only CSMSRootCertificate was asked: the chain stays.
	if err := s.ReplaceInstalledCertificates(ctx, "CP1", []string{"CSMSRootCertificate", "ManufacturerRootCertificate"},
		[]store.InstalledCertificate{{Type: "CSMSRootCertificate", CertificateHash: h("0f")}}, at(2)); err != nil {
		t.Fatal(err)
	}
	if l := list("CP1"); len(l) != 2 || l[0].SerialNumber != "0f" || l[1].Type != "V2GCertificateChain" {
		t.Fatalf("after a report of one type: %+v", l)
	}
	// InstallCertificate without the issuer's key hash, then again with it.
	partial := h("10")
	partial.IssuerKeyHash = ""
	if err := s.PutInstalledCertificate(ctx, store.InstalledCertificate{ChargePointID: "CP1", Type: "ManufacturerRootCertificate", CertificateHash: partial, UpdatedAt: at(3)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutInstalledCertificate(ctx, store.InstalledCertificate{ChargePointID: "CP1", Type: "ManufacturerRootCertificate", CertificateHash: h("10"), UpdatedAt: at(4)}); err != nil {
		t.Fatal(err)
	}
	if l := list("CP1"); len(l) != 3 || l[1].CertificateHash != h("10") || !l[1].UpdatedAt.Equal(at(4)) {
		t.Fatalf("after InstallCertificate twice: %+v", l)
	}
	// DeleteCertificate names the key hash the station computes; the
	// stored one may be unknown.
	if err := s.PutInstalledCertificate(ctx, store.InstalledCertificate{ChargePointID: "CP1", Type: "MORootCertificate", CertificateHash: partial}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteInstalledCertificate(ctx, "CP1", h("10")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteInstalledCertificate(ctx, "CP1", h("99")); err != nil {
		t.Fatalf("deleting an unknown certificate: %v", err)
	}
	if l := list("CP1"); len(l) != 2 || l[0].SerialNumber != "0f" || l[1].SerialNumber != "0c" {
		t.Fatalf("after DeleteCertificate: %+v", l)
	}
	if l := list("CP2"); len(l) != 0 {
		t.Fatalf("another station's list: %+v", l)
	}
	// A NotFound answer for every type empties the list.
	if err := s.ReplaceInstalledCertificates(ctx, "CP1", nil, nil, at(5)); err != nil {
		t.Fatal(err)
	}
	if l := list("CP1"); len(l) != 0 {
		t.Fatalf("after an empty report: %+v", l)
	}
	for name, err := range map[string]error{
		"list":    func() error { _, err := s.ListInstalledCertificates(ctx, "NOPE"); return err }(),
		"replace": s.ReplaceInstalledCertificates(ctx, "NOPE", nil, nil, at(1)),
		"put":     s.PutInstalledCertificate(ctx, store.InstalledCertificate{ChargePointID: "NOPE", Type: "X", CertificateHash: h("1")}),
		"delete":  s.DeleteInstalledCertificate(ctx, "NOPE", h("1")),
	} {
		if ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
			t.Errorf("%s for an unknown station: %v", name, err)
		}
	}
	if err := s.PutInstalledCertificate(ctx, store.InstalledCertificate{ChargePointID: "CP2", Type: "X", CertificateHash: h("1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteChargePoint(ctx, "CP2"); err != nil {
		t.Fatal(err)
	}
	add(t, s, "CP2")
	if l := list("CP2"); len(l) != 0 {
		t.Fatalf("certificates survived the station: %+v", l)
	}
}
