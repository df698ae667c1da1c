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
