package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/ocppd/ocppd/ocpp"
)

// simTestServer is a minimal CSMS for the sim command: it answers
// BootNotification (interval 1), Heartbeat and StatusNotification, and
// closes with 1008 after the BootNotification of a station in refuse.
type simTestServer struct {
	gws.BuiltinEventHandler
	URL    string
	refuse map[string]bool
	calls  chan simCall
}

type simCall struct {
	path, subprotocol string
	frame             ocpp.Frame
}

func newSimTestServer(t *testing.T, refuse ...string) *simTestServer {
	t.Helper()
	s := &simTestServer{refuse: map[string]bool{}, calls: make(chan simCall, 64)}
	for _, id := range refuse {
		s.refuse[id] = true
	}
	up := gws.NewUpgrader(s, &gws.ServerOption{SubProtocols: []string{"ocpp2.1", "ocpp2.0.1", "ocpp1.6"}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []*gws.Conn
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		ws.Session().Store("path", r.URL.Path)
		mu.Lock()
		conns = append(conns, ws)
		wg.Add(1)
		mu.Unlock()
		defer wg.Done()
		ws.ReadLoop()
	}))
	t.Cleanup(func() {
		mu.Lock()
		for _, c := range conns {
			_ = c.NetConn().Close()
		}
		mu.Unlock()
		wg.Wait()
		srv.Close()
	})
	s.URL = "ws" + strings.TrimPrefix(srv.URL, "http")
	return s
}

func (s *simTestServer) OnMessage(ws *gws.Conn, m *gws.Message) {
	data := bytes.Clone(m.Bytes())
	_ = m.Close()
	f, ferr := ocpp.Parse(data)
	if ferr != nil || f.Type != ocpp.Call {
		return
	}
	v, _ := ws.Session().Load("path")
	path := v.(string)
	s.calls <- simCall{path: path, subprotocol: ws.SubProtocol(), frame: f}
	now := time.Now().UTC().Format(time.RFC3339)
	switch f.Action {
	case "BootNotification":
		if s.refuse[strings.TrimPrefix(path, "/")] {
			_ = ws.WriteClose(1008, []byte("Charge Point "+strings.TrimPrefix(path, "/")+" not registered"))
			return
		}
		_ = ws.WriteMessage(gws.OpcodeText, ocpp.AppendCallResult(nil, f.ID, json.RawMessage(`{"currentTime":"`+now+`","interval":1,"status":"Accepted"}`)))
	case "Heartbeat":
		_ = ws.WriteMessage(gws.OpcodeText, ocpp.AppendCallResult(nil, f.ID, json.RawMessage(`{"currentTime":"`+now+`"}`)))
	default:
		_ = ws.WriteMessage(gws.OpcodeText, ocpp.AppendCallResult(nil, f.ID, nil))
	}
}

func (s *simTestServer) next(t *testing.T) simCall {
	t.Helper()
	select {
	case c := <-s.calls:
		return c
	case <-time.After(20 * time.Second):
		t.Fatal("the simulator sent nothing")
		return simCall{}
	}
}

// syncBuffer is a bytes.Buffer safe for the command's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestSimCommandBootsAndHeartbeats(t *testing.T) {
	srv := newSimTestServer(t)
	t.Setenv("OCPPD_CP_ID", "CP7") // every flag has an environment variable
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- simCommand(ctx, []string{"--url", srv.URL + "/ocpp", "--ocpp", "1.6", "--cp-vendor", "Volta", "--cp-serial", "SN-1"}, &bytes.Buffer{}, &stderr)
	}()

	boot := srv.next(t)
	if boot.path != "/ocpp/CP7" || boot.subprotocol != "ocpp1.6" || boot.frame.Action != "BootNotification" {
		t.Fatalf("first call %+v", boot)
	}
	var p map[string]any
	if err := json.Unmarshal(boot.frame.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p["chargePointVendor"] != "Volta" || p["chargePointSerialNumber"] != "SN-1" || p["chargePointModel"] != "ABC 123 XYZ" {
		t.Errorf("BootNotification payload %s", boot.frame.Payload)
	}
	if c := srv.next(t); c.frame.Action != "StatusNotification" {
		t.Errorf("second call %s", c.frame.Action)
	}
	if c := srv.next(t); c.frame.Action != "Heartbeat" {
		t.Errorf("third call %s", c.frame.Action)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("sim after SIGINT: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("sim did not stop")
	}

	out := stderr.String()
	for _, want := range []string{
		`INFO: CP7: send [2,"` + boot.frame.ID + `","BootNotification",{"chargePointVendor":"Volta"`,
		`INFO: CP7: receive [3,"` + boot.frame.ID + `",{"currentTime":"`,
		"INFO: CP7: connected to central system\n",
		"INFO: CP7: heartbeat interval set to 1\n",
		`","Heartbeat",{}]`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
}

func TestSimCommandRefused(t *testing.T) {
	srv := newSimTestServer(t, "CP2")
	var stderr syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := simCommand(ctx, []string{"--url", srv.URL, "--cp-id", "CP2"}, &bytes.Buffer{}, &stderr)
	if err == nil || err.Error() != "1008 (policy violation) Charge Point CP2 not registered" {
		t.Fatalf("error %v", err)
	}
	if errors.Is(err, errUsage) {
		t.Error("a refusal is not a usage error")
	}
	if !strings.Contains(stderr.String(), `INFO: CP2: send [2,"`) {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}

func TestSimCommandUsageErrors(t *testing.T) {
	// Should a case get past the flags, Run returns at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{
		{},                                   // no --url
		{"--url", "ws://x", "--ocpp", "3.0"}, // unknown version
		{"--url", "ws://x", "extra"},         // stray argument
	} {
		err := simCommand(ctx, args, &bytes.Buffer{}, &bytes.Buffer{})
		if !errors.Is(err, errUsage) {
			t.Errorf("%q: error %v, want a usage error", args, err)
		}
	}
	if err := simCommand(ctx, []string{"--heartbeat", "soon", "--url", "ws://x"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("--heartbeat soon accepted")
	}
}

func TestSimLogHandler(t *testing.T) {
	var b bytes.Buffer
	l := slog.New(newSimLogHandler(&b, slog.LevelInfo))
	l.Debug("hidden")
	l.Info(`CP1: send [2,"a","Heartbeat",{}]`)
	l.With("n", 1).WithGroup("g").Warn("CP1: slow", "ms", 30)
	want := "INFO: CP1: send [2,\"a\",\"Heartbeat\",{}]\nWARN: CP1: slow n=1 g.ms=30\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
