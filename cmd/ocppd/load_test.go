package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ocppd/ocppd/load"
)

func TestLoadCommandAgainstServe(t *testing.T) {
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("LOAD%06d", i+1)
	}
	srv := startServer(t, testConfig(t), ids...)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"load", "--url", wsURL(srv), "--cps", "10", "--ocpp", "1.6=1,2.0.1=1",
		"--duration", "2s", "--json", "--max-error-rate", "0", "--log-level", "warn"}, &out, &errOut)
	if err != nil {
		t.Fatalf("ocppd load: %v\n%s", err, errOut.String())
	}
	var r load.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	if r.Connections.Made != 10 || r.Boot.Accepted != 10 || r.Versions["1.6"] != 5 {
		t.Errorf("connections %+v, boot %+v, versions %v: want 10 made and accepted, 5× 1.6", r.Connections, r.Boot, r.Versions)
	}
	if r.Calls.Sent == 0 || r.Calls.Sent != r.Calls.Results || r.IDMismatches != 0 || !r.Thresholds.Passed {
		t.Errorf("calls %+v, mismatches %d, thresholds %+v: want every call answered", r.Calls, r.IDMismatches, r.Thresholds)
	}
}

func TestLoadCommandThresholdFails(t *testing.T) {
	srv := startServer(t, testConfig(t), "LOAD000001", "LOAD000002")
	var out, errOut bytes.Buffer
	// No call is answered in 0 ms: the p99 limit is exceeded.
	err := run(context.Background(), []string{"load", "--url", wsURL(srv), "--cps", "2", "--scenario", "idle",
		"--duration", "1s", "--max-p99", "0", "--log-level", "warn"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--max-p99") {
		t.Errorf("err = %v, want a --max-p99 violation", err)
	}
	if !strings.Contains(out.String(), "FAILED:") {
		t.Errorf("report lacks FAILED:\n%s", out.String())
	}
}

func TestLoadCommandRefusesRemote(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"load", "--url", "ws://192.0.2.1:8080"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Errorf("err = %v, want a refusal naming --allow-remote", err)
	}
	err = run(context.Background(), []string{"load", "--url", "ws://127.0.0.1:1", "--scenario", "nap"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "scenario") {
		t.Errorf("err = %v, want an unknown scenario error", err)
	}
}
