package main

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/sim"
)

// TestPublicURLDefault: the default public URL follows --ocpp-addr (host
// name of the machine for a wildcard address), https under a TLS security
// profile; a malformed --public-url is refused.
func TestPublicURLDefault(t *testing.T) {
	host, _ := os.Hostname()
	for _, tc := range []struct {
		addr    string
		profile int
		want    string
	}{
		{"10.1.2.3:9000", 0, "http://10.1.2.3:9000"},
		{":8080", 0, "http://" + host + ":8080"},
		{"0.0.0.0:8443", 2, "https://" + host + ":8443"},
		{"[::]:8080", 3, "https://" + host + ":8080"},
	} {
		cfg := testConfig(t)
		cfg.Security.Profile = tc.profile
		if got := newServer(cfg, testLogger(t)).derivePublicURL(tc.addr, false); got != tc.want {
			t.Errorf("derivePublicURL(%q, profile %d) = %s, want %s", tc.addr, tc.profile, got, tc.want)
		}
	}
	for _, bad := range []string{"ftp://x", "example.net:8080", "http://", "https://x/?a=b"} {
		cfg := testConfig(t)
		cfg.Files.PublicURL = bad
		if err := newServer(cfg, testLogger(t)).startFiles(); err == nil {
			t.Errorf("--public-url %q accepted", bad)
		}
	}
	cfg := testConfig(t)
	cfg.Files.PublicURL = "https://ocpp.example.net:8443/"
	srv := startServer(t, cfg)
	if got := srv.files.store.LogUploadURL("CP1"); !strings.HasPrefix(got, "https://ocpp.example.net:8443/files/logs/CP1/") {
		t.Errorf("upload URL %s does not follow --public-url", got)
	}
}

// TestFilesOnTheOCPPPort: /files/ on the OCPP port serves the files, a
// WebSocket upgrade there still reaches the gateway (a station id under a
// "files" prefix), and a log upload needs the token of the URL the CSMS
// hands out.
func TestFilesOnTheOCPPPort(t *testing.T) {
	srv := startServer(t, testConfig(t), "CP-F")
	ch := sim.NewCharger(sim.Options{URL: wsURL(srv) + "/files", ID: "CP-F", Version: ocpp.V201, CallTimeout: waitFor}, sim.ChargerOptions{})
	t.Cleanup(func() { _ = ch.Close() })
	ctx := ctxT(t)
	if err := ch.Connect(ctx); err != nil {
		t.Fatalf("connect under /files/: %v", err)
	}
	if res, err := ch.Boot(ctx); err != nil || res.Status != sim.StatusAccepted {
		t.Fatalf("boot %+v %v", res, err)
	}
	put := func(url string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader([]byte("log")))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good := srv.files.store.LogUploadURL("CP-F") + "diag.txt"
	if code := put(good); code != http.StatusCreated {
		t.Fatalf("PUT %s = %d", good, code)
	}
	if code := put("http://" + srv.OCPPAddr() + "/files/logs/CP-F/00000000000000000000000000000000/x"); code != http.StatusForbidden {
		t.Fatalf("PUT with a made-up token = %d, want 403", code)
	}
	if logs, err := srv.files.store.Logs("CP-F"); err != nil || len(logs) != 1 {
		t.Fatalf("logs %+v %v", logs, err)
	}
}
