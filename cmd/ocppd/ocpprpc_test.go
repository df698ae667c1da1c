package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd/store"
)

// ocppRPCDir is the npm project of the independent station.
var ocppRPCDir = filepath.Join("..", "..", "test", "ocpprpc")

// requireOCPPRPC skips unless the ocpp-rpc station is installed; with
// OCPPD_TEST_NODE=1 (set by make test, which installs it) a missing
// install fails instead.
func requireOCPPRPC(t *testing.T) {
	t.Helper()
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(ocppRPCDir, "node_modules", "ocpp-rpc"))
	if nodeErr == nil && modErr == nil {
		return
	}
	msg := "the ocpp-rpc station is not installed (run: npm ci --prefix test/ocpprpc, or make test)"
	if nodeErr != nil {
		msg = "node is not on PATH; " + msg
	}
	if os.Getenv("OCPPD_TEST_NODE") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestOCPPRPCStation runs the npm package ocpp-rpc in strict mode as an
// independent station against ocppd, for OCPP 1.6 and 2.0.1. Strict mode
// validates ocppd's responses against the official schemas, so an invalid
// answer fails here.
func TestOCPPRPCStation(t *testing.T) {
	requireOCPPRPC(t)
	srv := startServer(t, testConfig(t), "RPC16", "RPC201")
	for _, tc := range []struct{ id, proto string }{{"RPC16", "ocpp1.6"}, {"RPC201", "ocpp2.0.1"}} {
		t.Run(tc.proto, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", "station.js", "--url", wsURL(srv), "--id", tc.id, "--protocol", tc.proto)
			cmd.Dir = ocppRPCDir
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("ocpp-rpc station: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			answers := map[string]map[string]any{}
			sc := bufio.NewScanner(&stdout)
			for sc.Scan() {
				var ex struct {
					Action   string         `json:"action"`
					Response map[string]any `json:"response"`
				}
				if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
					t.Fatalf("station output %q: %v", sc.Text(), err)
				}
				answers[ex.Action] = ex.Response
			}
			if answers["BootNotification"]["status"] != "Accepted" {
				t.Errorf("BootNotification answer %v", answers["BootNotification"])
			}
			if ct, _ := answers["Heartbeat"]["currentTime"].(string); !strings.HasSuffix(ct, "Z") {
				t.Errorf("Heartbeat answer %v", answers["Heartbeat"])
			}
			if _, ok := answers["StatusNotification"]; !ok {
				t.Errorf("no StatusNotification answer in %s", stdout.String())
			}
			cur, err := srv.store.CurrentStatus(ctx, tc.id)
			if err != nil || len(cur) != 1 || cur[0].Status != "Available" {
				t.Errorf("status stored for %s: %+v %v", tc.id, cur, err)
			}
		})
	}
}

// TestOCPPRPCSession repeats the core charging session with ocpp-rpc in
// strict mode as an independent station, for OCPP 1.6 and 2.0.1: every
// answer validates against the official schemas, and the session ends up
// as the same row the simulator's session makes.
func TestOCPPRPCSession(t *testing.T) {
	requireOCPPRPC(t)
	srv := startServer(t, testConfig(t), "RPCS16", "RPCS201")
	if err := srv.store.PutIDToken(ctxT(t), store.IDToken{Token: "RPCTAG01", Type: "ISO14443", Status: "Accepted"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ id, proto string }{{"RPCS16", "ocpp1.6"}, {"RPCS201", "ocpp2.0.1"}} {
		t.Run(tc.proto, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", "station.js", "--url", wsURL(srv), "--id", tc.id, "--protocol", tc.proto,
				"--script", "session", "--id-tag", "RPCTAG01")
			cmd.Dir = ocppRPCDir
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("ocpp-rpc station: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			var actions []string
			answers := map[string]map[string]any{}
			sc := bufio.NewScanner(&stdout)
			for sc.Scan() {
				var ex struct {
					Action   string         `json:"action"`
					Response map[string]any `json:"response"`
				}
				if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
					t.Fatalf("station output %q: %v", sc.Text(), err)
				}
				actions = append(actions, ex.Action)
				answers[ex.Action] = ex.Response
			}
			info := "idTagInfo"
			if tc.proto != "ocpp1.6" {
				info = "idTokenInfo"
			}
			if st, _ := answers["Authorize"][info].(map[string]any); st["status"] != "Accepted" {
				t.Fatalf("Authorize answered %v", answers["Authorize"])
			}
			txs, err := srv.store.ListTransactions(ctx, store.TransactionFilter{ChargePointID: tc.id})
			if err != nil || len(txs) != 1 {
				t.Fatalf("transactions %+v %v (exchanges %v)", txs, err, actions)
			}
			tx := txs[0]
			if tc.proto == "ocpp1.6" {
				if id, _ := answers["StartTransaction"]["transactionId"].(float64); fmt.Sprint(id) != tx.TransactionID {
					t.Fatalf("StartTransaction answered %v, stored %s", answers["StartTransaction"], tx.TransactionID)
				}
			}
			if tx.State != store.TransactionEnded || tx.EnergyWh != 11000 || tx.IDToken != "RPCTAG01" || tx.StopReason != "Local" {
				t.Fatalf("stored session %+v", tx)
			}
			if d := tx.Duration(); d < 59*time.Minute || d > 61*time.Minute {
				t.Fatalf("duration %v, want an hour", d)
			}
		})
	}
}
