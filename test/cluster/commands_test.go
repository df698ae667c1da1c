package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/sim"
	"github.com/ocppd/ocppd/store"
)

// apiClient calls one API process's REST API with a token.
type apiClient struct {
	t     *testing.T
	p     *proc
	token string
}

// do sends a request and decodes the JSON answer into out; it returns the
// HTTP status.
func (a apiClient) do(method, path string, body, out any) int {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+a.p.httpAddr+"/api/v1"+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: waitFor}).Do(req)
	if err != nil {
		a.t.Fatalf("%s %s on %s: %v", method, path, a.p.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s on %s: %v: %s", method, path, a.p.name, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		a.t.Logf("%s %s on %s: %d %s", method, path, a.p.name, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// send issues a command through this API process and returns it as
// stored (queued or sent).
func (a apiClient) send(cp, action string, payload any) store.Command {
	a.t.Helper()
	var c store.Command
	if code := a.do(http.MethodPost, "/chargepoints/"+cp+"/commands", map[string]any{"action": action, "payload": payload}, &c); code != http.StatusCreated {
		a.t.Fatalf("POST %s to %s on %s: status %d", action, cp, a.p.name, code)
	}
	return c
}

// final reads a command from this API process until it has ended, by
// polling GET /commands/{id} (no wait: every read is a plain store read
// of this process).
func (a apiClient) final(id string) store.Command {
	a.t.Helper()
	var c store.Command
	eventually(a.t, "command "+id+" ended, read on "+a.p.name, func() (bool, string) {
		if code := a.do(http.MethodGet, "/commands/"+id, nil, &c); code != http.StatusOK {
			return false, fmt.Sprintf("status %d", code)
		}
		return c.State.Final(), string(c.State)
	})
	return c
}

// createToken makes an API token with the CLI, as an operator would.
func createToken(t *testing.T, c *cluster) string {
	t.Helper()
	cmd := exec.Command(c.bin, "token", "create", "--db", c.pgURL, "--db-schema", c.schema, "--name", "cluster-test")
	cmd.Env = append(os.Environ(), "OCPPD_CONFIG=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ocppd token create: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// TestClusterCommands runs 2 gateways, 2 CSMS workers and 2 API-only
// processes. Commands issued on API process A reach stations connected to
// either gateway — and a station that was offline when the command was
// issued, once it connects to the other gateway — and their answers,
// matched by whichever CSMS worker received them, are readable on API
// process B. OCPP 1.6 and 2.0.1 stations are mixed.
func TestClusterCommands(t *testing.T) {
	e := needServices(t)
	c := newCluster(t, e.mqttURL, e.pgURL)
	run := strings.TrimSuffix(c.prefix, "/")
	register(t, c.db, []string{"C16", "C201", "LATE"})

	c.add(run+"-csms1", "csms")
	c.add(run+"-csms2", "csms")
	gw1 := c.add(run+"-gw1", "gateway")
	gw2 := c.add(run+"-gw2", "gateway")
	procA := c.add(run+"-apiA", "api")
	procB := c.add(run+"-apiB", "api")
	token := createToken(t, c)
	apiA, apiB := apiClient{t, procA, token}, apiClient{t, procB, token}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// runCharger runs a simulated charger (it answers every command) on
	// gateway gw until the test ends.
	runCharger := func(id string, v ocpp.Version, gw *proc) *sim.Charger {
		ch := sim.NewCharger(sim.Options{URL: "ws://" + gw.ocppAddr, ID: id, Version: v, CallTimeout: 10 * time.Second,
			ReconnectDelay: 100 * time.Millisecond, MaxReconnectDelay: time.Second}, sim.ChargerOptions{})
		done := make(chan struct{})
		go func() { defer close(done); _ = ch.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done; ch.Close() })
		return ch
	}
	onlineAtGW := func(id string, gw *proc) {
		t.Helper()
		eventually(t, id+" online at "+gw.name, func() (bool, string) {
			cp := getCP(t, c, id)
			return cp.Online && cp.GatewayID == gw.name, fmt.Sprintf("%+v", cp)
		})
	}
	runCharger("C16", ocpp.V16, gw1)
	runCharger("C201", ocpp.V201, gw2)
	onlineAtGW("C16", gw1)
	onlineAtGW("C201", gw2)

	t.Run("issued on A, read on B", func(t *testing.T) {
		type cmd struct {
			cp, action string
			payload    any
			want       string // in the response
		}
		cmds := []cmd{
			{"C16", "GetConfiguration", map[string]any{"key": []string{"HeartbeatInterval"}}, `"HeartbeatInterval"`},
			{"C201", "GetVariables", map[string]any{"getVariableData": []any{map[string]any{
				"component": map[string]any{"name": "OCPPCommCtrlr"}, "variable": map[string]any{"name": "HeartbeatInterval"}}}}, `"attributeStatus"`},
			{"C16", "Reset", map[string]any{"type": "Soft"}, `"Accepted"`},
			{"C201", "Reset", map[string]any{"type": "Immediate"}, `"Accepted"`},
		}
		ids := make([]string, len(cmds))
		for i, cm := range cmds {
			ids[i] = apiA.send(cm.cp, cm.action, cm.payload).ID
		}
		for i, cm := range cmds {
			got := apiB.final(ids[i])
			if got.State != store.CommandAnswered || !strings.Contains(string(got.Response), cm.want) {
				t.Errorf("%s to %s: %s %s %s, want answered with %s", cm.action, cm.cp, got.State, got.Response, got.ErrorDescription, cm.want)
			}
		}
	})
	// The resets reboot both stations; each boots again at its gateway.
	onlineAtGW("C16", gw1)
	onlineAtGW("C201", gw2)

	t.Run("issued on B, read on A", func(t *testing.T) {
		id := apiB.send("C16", "TriggerMessage", map[string]any{"requestedMessage": "Heartbeat"}).ID
		if got := apiA.final(id); got.State != store.CommandAnswered || !strings.Contains(string(got.Response), `"Accepted"`) {
			t.Errorf("TriggerMessage: %s %s %s", got.State, got.Response, got.ErrorDescription)
		}
	})

	t.Run("queued while offline, sent when it connects to the other gateway", func(t *testing.T) {
		// LATE connects once to gw1 (so its OCPP version is known), leaves,
		// gets a command while offline, and comes back on gw2.
		first := sim.New(sim.Options{URL: "ws://" + gw1.ocppAddr, ID: "LATE", Version: ocpp.V201, CallTimeout: 10 * time.Second})
		if err := connectAndBoot(ctx, first); err != nil {
			t.Fatal(err)
		}
		onlineAtGW("LATE", gw1)
		first.Close()
		eventually(t, "LATE offline", func() (bool, string) { cp := getCP(t, c, "LATE"); return !cp.Online, fmt.Sprintf("%+v", cp) })
		queued := apiA.send("LATE", "GetVariables", map[string]any{"getVariableData": []any{map[string]any{
			"component": map[string]any{"name": "OCPPCommCtrlr"}, "variable": map[string]any{"name": "HeartbeatInterval"}}}})
		if queued.State != store.CommandQueued {
			t.Fatalf("a command for an offline station is %s, want queued", queued.State)
		}
		runCharger("LATE", ocpp.V201, gw2)
		if got := apiB.final(queued.ID); got.State != store.CommandAnswered {
			t.Errorf("the queued command: %s %s %s", got.State, got.Response, got.ErrorDescription)
		}
		onlineAtGW("LATE", gw2)
	})
}
