package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
)

// runCLI runs the ocppd command line in-process and returns its output.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestCPCommands(t *testing.T) {
	dir := t.TempDir()
	out, _, err := runCLI(t, "cp", "add", "CP1", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "added CP1 (Accepted)") {
		t.Fatalf("cp add CP1: %q, %v", out, err)
	}
	// A duplicate is a clear error naming the id, and adds nothing.
	_, _, err = runCLI(t, "cp", "add", "--data-dir", dir, "CP2", "CP1")
	if err == nil || !strings.Contains(err.Error(), "CP1") {
		t.Fatalf("duplicate add: %v", err)
	}
	// A range and a file, in one transaction.
	file := filepath.Join(dir, "ids.txt")
	if err := os.WriteFile(file, []byte("# fleet\nF1\n\nF2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, "cp", "add", "--data-dir", dir, "--range", "LOAD0001-LOAD0100", "--file", file, "--status", "Pending")
	if err != nil || !strings.Contains(out, "added 102 charge points (Pending)") {
		t.Fatalf("cp add --range --file: %q, %v", out, err)
	}
	out, _, err = runCLI(t, "cp", "list", "--data-dir", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var cps []ocppd.ChargePoint
	if err := json.Unmarshal([]byte(out), &cps); err != nil {
		t.Fatalf("cp list --json: %v\n%s", err, out)
	}
	if len(cps) != 103 {
		t.Fatalf("cp list: %d stations, want 103 (CP2 must not have been added)", len(cps))
	}
	for _, cp := range cps {
		if cp.ID == "CP2" {
			t.Fatal("CP2 was added although its batch had a duplicate")
		}
	}
	out, _, err = runCLI(t, "cp", "list", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "LOAD0042") || !strings.Contains(out, "REGISTRATION") {
		t.Fatalf("cp list table: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "cp", "rm", "CP1", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "removed CP1") {
		t.Fatalf("cp rm: %q %v", out, err)
	}
	_, _, err = runCLI(t, "cp", "rm", "CP1", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "CP1 is not registered") {
		t.Fatalf("cp rm unknown: %v", err)
	}
	for _, bad := range [][]string{
		{"cp", "add", "--data-dir", dir, "bad/id"},
		{"cp", "add", "--data-dir", dir, strings.Repeat("x", 49)},
		{"cp", "add", "--data-dir", dir, "--range", "A1-B2"},
		{"cp", "add", "--data-dir", dir, "X1", "X1"},
		{"cp", "add", "--data-dir", dir, "--status", "Maybe", "X1"},
		{"cp", "frobnicate"},
	} {
		if _, _, err := runCLI(t, bad...); !errors.Is(err, errUsage) {
			t.Errorf("%v: got %v, want a usage error", bad, err)
		}
	}
}

func TestExpandRange(t *testing.T) {
	got, err := expandRange("LOAD000009-LOAD000011")
	if err != nil || strings.Join(got, ",") != "LOAD000009,LOAD000010,LOAD000011" {
		t.Fatalf("expandRange = %v, %v", got, err)
	}
	for _, bad := range []string{"LOAD1-LOAD01", "A1-B1", "X5-X1", "X1", "1-3x"} {
		if _, err := expandRange(bad); err == nil {
			t.Errorf("expandRange(%q) accepted", bad)
		}
	}
}

func TestLoadFlagsPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ocppd.yaml")
	if err := os.WriteFile(cfgFile, []byte("ocpp-addr: ':9000'\nhttp-addr: ':9001'\nheartbeat-interval: 10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OCPPD_HTTP_ADDR", ":9002")
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	ocppAddr := fs.String("ocpp-addr", ":8080", "")
	httpAddr := fs.String("http-addr", ":8081", "")
	mqttAddr := fs.String("mqtt-addr", ":1883", "")
	var hb time.Duration
	secondsVar(fs, &hb, "heartbeat-interval", 300*time.Second, "")
	opts, err := loadFlags(fs, []string{"--config", cfgFile, "pos1", "--ocpp-addr", ":9003", "pos2"})
	if err != nil {
		t.Fatal(err)
	}
	if *ocppAddr != ":9003" || *httpAddr != ":9002" || hb != 10*time.Second || *mqttAddr != ":1883" {
		t.Errorf("got ocpp %s http %s hb %s mqtt %s; want flag > env > file > default", *ocppAddr, *httpAddr, hb, *mqttAddr)
	}
	if !opts.explicit("http-addr") || opts.explicit("mqtt-addr") {
		t.Errorf("explicit: %v", opts.set)
	}
	if strings.Join(opts.args, ",") != "pos1,pos2" {
		t.Errorf("positional args %v", opts.args)
	}

	// Mistakes in the file are reported with the line and the key.
	if err := os.WriteFile(cfgFile, []byte("ocpp-adr: ':9000'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs2 := flag.NewFlagSet("t", flag.ContinueOnError)
	fs2.String("ocpp-addr", "", "")
	_, err = loadFlags(fs2, []string{"--config", cfgFile})
	if err == nil || !strings.Contains(err.Error(), `line 1: unknown key "ocpp-adr"`) {
		t.Errorf("unknown key: %v", err)
	}
	if err := os.WriteFile(cfgFile, []byte("heartbeat-interval: soon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs3 := flag.NewFlagSet("t", flag.ContinueOnError)
	secondsVar(fs3, &hb, "heartbeat-interval", 0, "")
	_, err = loadFlags(fs3, []string{"--config", cfgFile})
	if err == nil || !strings.Contains(err.Error(), `key "heartbeat-interval"`) {
		t.Errorf("bad value: %v", err)
	}
	t.Setenv("OCPPD_HEARTBEAT_INTERVAL", "-5")
	fs4 := flag.NewFlagSet("t", flag.ContinueOnError)
	secondsVar(fs4, &hb, "heartbeat-interval", 0, "")
	if _, err = loadFlags(fs4, nil); err == nil || !strings.Contains(err.Error(), "OCPPD_HEARTBEAT_INTERVAL") {
		t.Errorf("bad env: %v", err)
	}
}
