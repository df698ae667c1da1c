package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd/api"
	"github.com/ocppd/ocppd/ocpp"
)

func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := runCLI(t, "token", "create", "--name", "alice", "--data-dir", dir)
	if err != nil {
		t.Fatalf("token create: %v (%s)", err, errOut)
	}
	secret := strings.TrimSpace(out)
	if !strings.HasPrefix(secret, api.TokenPrefix) || strings.Count(out, "\n") != 1 || len(secret) < 40 {
		t.Errorf("token create printed %q; want the token alone on one line", out)
	}
	if !strings.Contains(errOut, "only this once") {
		t.Errorf("token create stderr %q does not say the token is shown once", errOut)
	}
	if _, _, err := runCLI(t, "token", "create", "--name", "alice", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "alice") {
		t.Errorf("a second active token named alice: %v", err)
	}
	if _, _, err := runCLI(t, "token", "create", "--name", "grafana", "--read-only", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "token", "create", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Errorf("create without --name: %v", err)
	}
	out, _, err = runCLI(t, "token", "list", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "alice") || !strings.Contains(out, "read-only") || strings.Contains(out, secret) {
		t.Errorf("token list = %q, %v; want both tokens and never a secret", out, err)
	}
	out, _, err = runCLI(t, "token", "revoke", "alice", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "revoked alice") {
		t.Errorf("token revoke alice = %q, %v", out, err)
	}
	if _, _, err := runCLI(t, "token", "revoke", "alice", "--data-dir", dir); err == nil {
		t.Error("revoking alice twice succeeded")
	}
	out, _, err = runCLI(t, "token", "list", "--json", "--data-dir", dir)
	var toks []struct {
		ID, Name  string
		RevokedAt string
		Hash      any
	}
	if err != nil || json.Unmarshal([]byte(out), &toks) != nil || len(toks) != 2 || toks[0].RevokedAt == "" || toks[1].RevokedAt != "" {
		t.Errorf("token list --json = %s, %v", out, err)
	}
	if strings.Contains(out, "hash") || strings.Contains(out, "Hash") {
		t.Errorf("token list --json shows hashes: %s", out)
	}
	// The id revokes too.
	if _, _, err := runCLI(t, "token", "revoke", toks[1].ID, "--data-dir", dir); err != nil {
		t.Errorf("revoke by id: %v", err)
	}
	if _, _, err := runCLI(t, "token", "frobnicate", "--data-dir", dir); err == nil {
		t.Error("unknown subcommand accepted")
	}
}

// apiGet sends GET path to the server's operator port with token.
func apiGet(t *testing.T, srv *server, path, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+srv.HTTPAddr()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestServeAPI runs the whole server and uses the API with a token made
// by the CLI: auth, a station's traffic on the event stream and in its
// message log, and the metrics it produces.
func TestServeAPI(t *testing.T) {
	cfg := testConfig(t)
	cfg.API.MessageLog = 20
	var logs syncBuffer
	srv := newServer(cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err := srv.Start(context.Background()); err != nil {
		_ = srv.Shutdown(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	if !strings.Contains(logs.String(), "ocppd token create --name NAME --data-dir") {
		t.Errorf("a start without tokens does not say how to create one; log:\n%s", logs.String())
	}
	out, _, err := runCLI(t, "token", "create", "--name", "e2e", "--data-dir", cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out)

	if code, _ := apiGet(t, srv, "/api/v1/chargepoints", ""); code != http.StatusUnauthorized {
		t.Errorf("API without a token: %d", code)
	}
	if code, _ := apiGet(t, srv, "/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %d", code)
	}
	if code, _ := apiGet(t, srv, "/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := apiGet(t, srv, "/api/v1/openapi.json", tok); code != http.StatusOK || !json.Valid(body) {
		t.Errorf("openapi.json: %d", code)
	}

	// Register a station through the API.
	req, _ := http.NewRequest("POST", "http://"+srv.HTTPAddr()+"/api/v1/chargepoints", strings.NewReader(`{"id":"CP1"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST chargepoints: %d", resp.StatusCode)
	}

	// Watch its boot on the event stream.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	sreq, _ := http.NewRequestWithContext(ctx, "GET", "http://"+srv.HTTPAddr()+"/api/v1/events?cp=CP1&action=BootNotification&access_token="+tok, nil)
	sresp, err := http.DefaultClient.Do(sreq)
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	br := bufio.NewReader(sresp.Body)
	if line, _ := br.ReadString('\n'); !strings.HasPrefix(line, ":") {
		t.Fatalf("event stream starts with %q", line)
	}
	st := station(t, srv, "CP1", ocpp.V201)
	if _, err := st.Boot(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	var got []api.Event
	for len(got) < 2 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var ev api.Event
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatal(err)
			}
			got = append(got, ev)
		}
	}
	if got[0].Type != "CALL" || got[0].Direction != "in" || got[1].Type != "CALLRESULT" || got[1].Action != "BootNotification" {
		t.Errorf("events %+v, want the BootNotification and its answer", got)
	}

	// The message log has both frames; the metrics count them.
	eventually(t, "the message log", func() bool {
		_, body := apiGet(t, srv, "/api/v1/chargepoints/CP1/messages", tok)
		return bytes.Count(body, []byte(`"BootNotification"`)) >= 2
	})
	eventually(t, "the metrics", func() bool {
		_, body := apiGet(t, srv, "/metrics", tok)
		s := string(body)
		return strings.Contains(s, `ocppd_messages_total{action="BootNotification",direction="in",type="CALL"} 1`) &&
			strings.Contains(s, `ocppd_stations_connected{version="ocpp2.0.1"} 1`) &&
			strings.Contains(s, "ocppd_gateway_sessions 1") &&
			strings.Contains(s, `ocppd_roundtrip_seconds_count{action="BootNotification",initiator="station"} 1`)
	})
	code, body := apiGet(t, srv, "/api/v1/system", tok)
	var sys api.System
	if code != http.StatusOK || json.Unmarshal(body, &sys) != nil || sys.Stations.Total != 1 || sys.GatewaySessions == nil || *sys.GatewaySessions != 1 {
		t.Errorf("system: %d %s", code, body)
	}

	// Shutdown ends the open event stream instead of waiting for it.
	done := make(chan error, 1)
	go func() {
		sctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		done <- srv.Shutdown(sctx)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown with an open event stream: %v", err)
		}
	case <-time.After(waitFor + 5*time.Second):
		t.Fatal("shutdown hangs on the event stream")
	}
}

// TestMetricsWithoutAPIRole: a csms-only process serves /metrics behind
// the token check, and no API.
func TestMetricsWithoutAPIRole(t *testing.T) {
	cfg := testConfig(t)
	cfg.Roles = "csms"
	srv := startServer(t, cfg)
	out, _, err := runCLI(t, "token", "create", "--name", "prom", "--read-only", "--data-dir", cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out)
	if code, _ := apiGet(t, srv, "/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %d", code)
	}
	if code, body := apiGet(t, srv, "/metrics", tok); code != http.StatusOK || !strings.Contains(string(body), "ocppd_csms_commands_total") {
		t.Errorf("/metrics: %d", code)
	}
	if code, _ := apiGet(t, srv, "/api/v1/chargepoints", tok); code != http.StatusNotFound {
		t.Errorf("API in a csms-only process: %d, want 404", code)
	}

	pub := testConfig(t)
	pub.Roles = "csms"
	pub.API.MetricsPublic = true
	srv2 := startServer(t, pub)
	if code, _ := apiGet(t, srv2, "/metrics", ""); code != http.StatusOK {
		t.Errorf("--metrics-public: /metrics without a token: %d", code)
	}
}
