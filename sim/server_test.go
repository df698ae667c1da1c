package sim

import (
	"bytes"
	"context"
	"encoding/json"
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

// waitFor bounds every wait in these tests so that a bug hangs nothing;
// no test asserts how fast anything happens.
const waitFor = 20 * time.Second

// testServer is a small OCPP-J server: it upgrades connections with gws,
// answers BootNotification, Heartbeat and StatusNotification itself and
// lets the test see every frame, send CALLs, refuse or drop connections.
type testServer struct {
	t   testing.TB
	srv *httptest.Server
	URL string // ws://127.0.0.1:port

	// Set before the station connects.
	bootStatus string // default Accepted
	interval   int    // default 300
	// refuse, when set, closes a new connection at once with the code
	// and reason it returns, if code is not 0.
	refuse func(path string) (code int, reason string)
	// answer, when set, answers station CALLs before the defaults; it
	// returns nil to fall back to the defaults and noAnswer to stay silent.
	answer func(tc *testConn, f ocpp.Frame) []byte

	conns chan *testConn

	mu  sync.Mutex
	all []*testConn
	wg  sync.WaitGroup
}

var noAnswer = []byte("no answer")

// testConn is the server side of one station connection.
type testConn struct {
	ws          *gws.Conn
	Path        string
	Subprotocol string
	Header      http.Header

	Calls   chan ocpp.Frame // every CALL from the station
	Answers chan ocpp.Frame // every CALLRESULT/CALLERROR from the station
	Sends   chan ocpp.Frame // every SEND (2.1) from the station
	Pongs   chan []byte
	Closed  chan struct{}
}

func newTestServer(t testing.TB, subprotocols ...string) *testServer {
	t.Helper()
	if subprotocols == nil {
		subprotocols = []string{string(ocpp.V21), string(ocpp.V201), string(ocpp.V16)}
	}
	ts := &testServer{t: t, bootStatus: StatusAccepted, interval: 300, conns: make(chan *testConn, 16)}
	up := gws.NewUpgrader(ts, &gws.ServerOption{SubProtocols: subprotocols})
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing/CP1" {
			http.Error(w, "no such station", http.StatusNotFound)
			return
		}
		ws, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		tc := &testConn{
			ws: ws, Path: r.URL.EscapedPath(), Subprotocol: ws.SubProtocol(), Header: r.Header.Clone(),
			Calls:   make(chan ocpp.Frame, 256),
			Answers: make(chan ocpp.Frame, 256), Sends: make(chan ocpp.Frame, 16), Pongs: make(chan []byte, 16), Closed: make(chan struct{}),
		}
		ws.Session().Store("tc", tc)
		ts.mu.Lock()
		ts.all = append(ts.all, tc)
		ts.wg.Add(1)
		ts.mu.Unlock()
		ts.conns <- tc
		defer ts.wg.Done()
		if ts.refuse != nil {
			if code, reason := ts.refuse(r.URL.Path); code != 0 {
				_ = ws.WriteClose(uint16(code), []byte(reason))
			}
		}
		ws.ReadLoop()
	}))
	ts.URL = "ws" + strings.TrimPrefix(ts.srv.URL, "http")
	t.Cleanup(ts.Close)
	return ts
}

// Close drops every connection and stops the server.
func (ts *testServer) Close() {
	ts.mu.Lock()
	for _, tc := range ts.all {
		_ = tc.ws.NetConn().Close()
	}
	ts.mu.Unlock()
	ts.wg.Wait()
	ts.srv.Close()
}

// connCount returns how many connections the server accepted.
func (ts *testServer) connCount() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.all)
}

// next returns the next accepted connection.
func (ts *testServer) next() *testConn {
	ts.t.Helper()
	select {
	case tc := <-ts.conns:
		return tc
	case <-time.After(waitFor):
		ts.t.Fatal("no connection arrived")
		return nil
	}
}

func tcOf(ws *gws.Conn) *testConn {
	v, _ := ws.Session().Load("tc")
	return v.(*testConn)
}

func (ts *testServer) OnOpen(*gws.Conn)                {}
func (ts *testServer) OnPing(ws *gws.Conn, p []byte)   { _ = ws.WritePong(p) }
func (ts *testServer) OnPong(ws *gws.Conn, p []byte)   { tcOf(ws).Pongs <- bytes.Clone(p) }
func (ts *testServer) OnClose(ws *gws.Conn, err error) { close(tcOf(ws).Closed) }
func (ts *testServer) OnMessage(ws *gws.Conn, m *gws.Message) {
	data := bytes.Clone(m.Bytes())
	_ = m.Close()
	tc := tcOf(ws)
	f, ferr := ocpp.Parse(data)
	if ferr != nil {
		return
	}
	switch f.Type {
	case ocpp.CallResult, ocpp.CallError:
		tc.Answers <- f
		return
	case ocpp.Send:
		tc.Sends <- f
		return
	case ocpp.Call:
	default:
		return
	}
	tc.Calls <- f
	var ans []byte
	if ts.answer != nil {
		ans = ts.answer(tc, f)
	}
	if ans == nil {
		now := json.RawMessage(`"` + time.Now().UTC().Format(time.RFC3339) + `"`)
		switch f.Action {
		case "BootNotification":
			p, _ := json.Marshal(map[string]any{"currentTime": now, "interval": ts.interval, "status": ts.bootStatus})
			ans = ocpp.AppendCallResult(nil, f.ID, p)
		case "Heartbeat":
			ans = ocpp.AppendCallResult(nil, f.ID, json.RawMessage(`{"currentTime":`+string(now)+`}`))
		case "StatusNotification":
			ans = ocpp.AppendCallResult(nil, f.ID, nil)
		default:
			ans = ocpp.AppendCallError(nil, f.ID, "NotImplemented", "unknown action "+f.Action, nil)
		}
	}
	if !bytes.Equal(ans, noAnswer) {
		_ = ws.WriteMessage(gws.OpcodeText, ans)
	}
}

// send writes a text frame to the station.
func (tc *testConn) send(t *testing.T, frame []byte) {
	t.Helper()
	if err := tc.ws.WriteMessage(gws.OpcodeText, frame); err != nil {
		t.Fatalf("server write: %v", err)
	}
}

// call sends a CALL to the station and returns its answer.
func (tc *testConn) call(t *testing.T, id, action string, payload string) ocpp.Frame {
	t.Helper()
	tc.send(t, ocpp.AppendCall(nil, id, action, json.RawMessage(payload)))
	return tc.nextAnswer(t)
}

func (tc *testConn) nextAnswer(t *testing.T) ocpp.Frame {
	t.Helper()
	select {
	case f := <-tc.Answers:
		return f
	case <-time.After(waitFor):
		t.Fatal("the station sent no answer")
		return ocpp.Frame{}
	}
}

func (tc *testConn) nextCall(t *testing.T) ocpp.Frame {
	t.Helper()
	select {
	case f := <-tc.Calls:
		return f
	case <-time.After(waitFor):
		t.Fatal("the station sent no CALL")
		return ocpp.Frame{}
	}
}

// nextCallOf skips CALLs of other actions until one of action arrives.
func (tc *testConn) nextCallOf(t *testing.T, action string) ocpp.Frame {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case f := <-tc.Calls:
			if f.Action == action {
				return f
			}
		case <-deadline:
			t.Fatalf("the station sent no %s", action)
			return ocpp.Frame{}
		}
	}
}

// logRecorder is a slog handler that keeps every message.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Level.String()+" "+r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) messages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

// waitLog waits until a message with prefix was logged and returns it.
func (l *logRecorder) waitLog(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		for _, m := range l.messages() {
			if strings.HasPrefix(m, prefix) {
				return m
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log line starting with %q in:\n%s", prefix, strings.Join(l.messages(), "\n"))
	return ""
}

// connected returns a station connected to ts and the server side of its
// connection.
func connected(t *testing.T, ts *testServer, opts Options) (*Station, *testConn) {
	t.Helper()
	opts.URL = ts.URL
	st := New(opts)
	t.Cleanup(func() { _ = st.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := st.Connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	return st, ts.next()
}

// runner is a Station.Run in the background.
type runner struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// runStation starts st.Run; the test's cleanup stops it.
func runStation(t *testing.T, st *Station) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = st.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// wait returns Run's result once it returned.
func (r *runner) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(waitFor):
		t.Fatal("Run did not return")
		return nil
	}
}

// stop cancels Run's context and returns its result.
func (r *runner) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t)
}
