package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd/api"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/sim"
	"github.com/ocppd/ocppd/store"
)

// apiToken creates an operator API token on srv and returns its secret.
func apiToken(t *testing.T, srv *server) string {
	t.Helper()
	secret, tok, err := api.NewToken("security-e2e", false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.store.CreateToken(ctxT(t), tok); err != nil {
		t.Fatal(err)
	}
	return secret
}

// runCharger runs a Charger's whole life with opts until the test ends and
// waits for its first accepted boot.
func runCharger(t *testing.T, opts sim.Options) *sim.Charger {
	t.Helper()
	opts.CallTimeout = waitFor
	opts.ReconnectDelay, opts.MaxReconnectDelay = 20*time.Millisecond, 200*time.Millisecond
	ch := sim.NewCharger(opts, sim.ChargerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ch.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = ch.Close()
	})
	eventually(t, opts.ID+" booted", func() bool { return ch.Boots() >= 1 && ch.Online() })
	return ch
}

// TestRotatePasswordEndToEnd: under security profile 1, the operator
// rotates a connected station's password through the API; the CSMS sends
// ChangeConfiguration AuthorizationKey (1.6) or SetVariables
// BasicAuthPassword (2.0.1), the simulated station accepts, reconnects
// with the new password and boots; the old password is refused from then
// on, and the stored command does not contain the password.
func TestRotatePasswordEndToEnd(t *testing.T) {
	for _, v := range []ocpp.Version{ocpp.V16, ocpp.V201} {
		t.Run(string(v), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Security.Profile = 1
			srv := startServer(t, cfg, "ROT1", "OFF1")
			const old = "0123456789abcdef0123456789abcdef"
			setPW(t, srv, "ROT1", old)
			token := apiToken(t, srv)
			ch := runCharger(t, sim.Options{URL: wsURL(srv) + "/ocpp", ID: "ROT1", Version: v, Password: old})

			code, body := apiDo(t, srv, "POST", "/api/v1/chargepoints/ROT1/password/rotate?wait=20s", token, "", nil)
			if code != http.StatusCreated {
				t.Fatalf("rotate: %d %s", code, body)
			}
			var out struct {
				Command  store.Command `json:"command"`
				Password string        `json:"password"`
			}
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
			if out.Password == "" || out.Command.State != store.CommandAnswered || !strings.Contains(string(out.Command.Response), "Accepted") {
				t.Fatalf("rotate answered %s", body)
			}
			if strings.Contains(string(out.Command.Request), out.Password) || !strings.Contains(string(out.Command.Request), "[redacted:") {
				t.Fatalf("the stored command holds the password: %s", out.Command.Request)
			}
			// The station reconnects with its new password and boots again.
			eventually(t, "a boot with the new password", func() bool {
				return ch.Password() == out.Password && ch.Boots() >= 2 && ch.Online()
			})
			c, err := srv.store.GetCredentials(ctxT(t), "ROT1")
			if err != nil || c.PendingHash != "" {
				t.Fatalf("credentials after the rotation: pending %q, %v", c.PendingHash, err)
			}
			// A01.FR.03: the old password no longer works.
			if _, err := connectWith(t, wsURL(srv)+"/ocpp", "ROT1", v, basicHeader("ROT1", old), nil); err == nil || !strings.Contains(err.Error(), "401") {
				t.Fatalf("old password after the rotation: %v, want a 401", err)
			}
			if !ch.Online() {
				t.Fatal("the refused attempt disturbed the station's session")
			}
			// An unknown station: 404; an offline one cannot be rotated: 503.
			if code, body := apiDo(t, srv, "POST", "/api/v1/chargepoints/NOPE/password/rotate", token, "", nil); code != http.StatusNotFound {
				t.Errorf("unknown station: %d %s", code, body)
			}
			if code, body := apiDo(t, srv, "POST", "/api/v1/chargepoints/OFF1/password/rotate", token, "", nil); code != http.StatusServiceUnavailable {
				t.Errorf("offline station: %d %s", code, body)
			}
		})
	}
}

// TestTwoListenersNoDowngrade: --security-profile 1 on --ocpp-addr and
// --tls-security-profile 2 on --ocpp-tls-addr side by side. A station
// connects on either with its password; once it connected over TLS its
// minimum is 2 and the plain listener refuses it (403, a
// WrongSecurityProfile event), until an operator resets it (cp
// security-profile, or PATCH /security). Each listener enforces only its
// own profile: no plain WebSocket on the TLS port, no TLS on the plain
// one.
func TestTwoListenersNoDowngrade(t *testing.T) {
	cfg := testConfig(t)
	cfg.Security.Profile = 1
	cfg.Security.TLSAddr = "127.0.0.1:0"
	cfg.Security.TLSProfile = 2
	certFile, keyFile, client := tlsFiles(t)
	cfg.Security.TLSCert, cfg.Security.TLSKey = certFile, keyFile
	srv := startServer(t, cfg, "CP1", "CP2")
	const pw = "0123456789abcdefXYZ-0123"
	setPW(t, srv, "CP1", pw)
	setPW(t, srv, "CP2", pw)
	plain, secure := wsURL(srv)+"/ocpp", "wss://"+srv.OCPPTLSAddr()+"/ocpp"
	ctx := ctxT(t)

	// Profile 1, then profile 2: both fine; the minimum follows.
	st, err := connectWith(t, plain, "CP1", ocpp.V201, basicHeader("CP1", pw), nil)
	if err != nil {
		t.Fatalf("profile 1: %v", err)
	}
	_ = st.Close()
	if c, _ := srv.store.GetCredentials(ctx, "CP1"); c.SecurityProfile != 1 {
		t.Fatalf("minimum after profile 1: %d", c.SecurityProfile)
	}
	st, err = connectWith(t, secure, "CP1", ocpp.V201, basicHeader("CP1", pw), client)
	if err != nil {
		t.Fatalf("profile 2: %v", err)
	}
	if _, err := st.Boot(ctx); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	if c, _ := srv.store.GetCredentials(ctx, "CP1"); c.SecurityProfile != 2 {
		t.Fatalf("minimum after profile 2: %d", c.SecurityProfile)
	}
	// No way back to profile 1 (A05.FR.07), even with the right password.
	if _, err := connectWith(t, plain, "CP1", ocpp.V201, basicHeader("CP1", pw), nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("profile 1 after profile 2: %v, want a 403", err)
	}
	evs, _ := srv.store.ListSecurityEvents(ctx, "CP1", 0)
	if len(evs) == 0 || evs[0].Type != "WrongSecurityProfile" || !strings.Contains(evs[0].TechInfo, "security profile 1") {
		t.Fatalf("security events %+v", evs)
	}
	// Each listener has its own profile: CP2 still uses profile 1.
	if _, err := connectWith(t, plain, "CP2", ocpp.V16, basicHeader("CP2", pw), nil); err != nil {
		t.Fatalf("CP2 on profile 1: %v", err)
	}
	if _, err := connectWith(t, "ws://"+srv.OCPPTLSAddr()+"/ocpp", "CP2", ocpp.V16, basicHeader("CP2", pw), nil); err == nil {
		t.Fatal("a plain connection to the TLS listener succeeded")
	}
	if _, err := connectWith(t, "wss://"+srv.OCPPAddr()+"/ocpp", "CP2", ocpp.V16, basicHeader("CP2", pw), client); err == nil {
		t.Fatal("a TLS connection to the plain listener succeeded")
	}

	// The operator's reset through the API lets CP1 back on profile 1.
	token := apiToken(t, srv)
	code, body := apiDo(t, srv, "PATCH", "/api/v1/chargepoints/CP1/security", token, "application/json", []byte(`{"securityProfile":1}`))
	if code != http.StatusOK || !strings.Contains(string(body), `"securityProfile":1`) {
		t.Fatalf("reset: %d %s", code, body)
	}
	if _, err := connectWith(t, plain, "CP1", ocpp.V201, basicHeader("CP1", pw), nil); err != nil {
		t.Fatalf("profile 1 after the reset: %v", err)
	}
}

// TestCPSecurityProfile: `ocppd cp security-profile ID` shows the minimum
// profile, `… ID N` sets it; bad input is a usage error.
func TestCPSecurityProfile(t *testing.T) {
	dir := t.TempDir()
	var out, errOut strings.Builder
	run := func(args ...string) error {
		out.Reset()
		errOut.Reset()
		return cpCommand(context.Background(), append(args, "--data-dir", dir), &out, &errOut)
	}
	if err := run("add", "CP1"); err != nil {
		t.Fatal(err)
	}
	if err := run("security-profile", "CP1", "3"); err != nil {
		t.Fatal(err)
	}
	if err := run("security-profile", "CP1"); err != nil || strings.TrimSpace(out.String()) != "3" {
		t.Fatalf("show: %q %v", out.String(), err)
	}
	if err := run("security-profile", "CP1", "1"); err != nil || !strings.Contains(out.String(), "(was 3)") {
		t.Fatalf("reset: %q %v", out.String(), err)
	}
	for _, args := range [][]string{{"CP1", "4"}, {"CP1", "x"}, {}, {"NOPE", "1"}} {
		if err := run(append([]string{"security-profile"}, args...)...); err == nil {
			t.Errorf("security-profile %v succeeded", args)
		}
	}
}
