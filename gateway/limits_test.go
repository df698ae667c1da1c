package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
)

// authRegistry is a Registry with an Authenticator: station ids map to the
// Basic password they must present; errs maps ids to a forced error.
type authRegistry struct {
	fakeRegistry
	mu        sync.Mutex
	passwords map[string]string
	errs      map[string]error
	authCalls int
}

func newAuthRegistry() *authRegistry {
	return &authRegistry{
		fakeRegistry: fakeRegistry{unknown: map[string]bool{}, broken: map[string]bool{}},
		passwords:    map[string]string{},
		errs:         map[string]error{},
	}
}

func (r *authRegistry) Authenticate(_ context.Context, id string, req *http.Request) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.authCalls++
	if err := r.errs[id]; err != nil {
		return err
	}
	user, pass, ok := req.BasicAuth()
	if !ok || user != id || pass != r.passwords[id] {
		return ocppd.Errorf(ocppd.EUNAUTHORIZED, "bad credentials for %s", id)
	}
	return nil
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func dialAuth(t *testing.T, addr, path, authz string) (*wsClient, *http.Response) {
	t.Helper()
	h := http.Header{"Sec-WebSocket-Protocol": {"ocpp2.0.1"}}
	if authz != "" {
		h.Set("Authorization", authz)
	}
	c, resp, err := dialHeader(t, addr, path, h)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	return c, resp
}

func TestAuthenticatorRefusesBeforeUpgrade(t *testing.T) {
	reg := newAuthRegistry()
	reg.passwords["CP1"] = "0123456789abcdef"
	reg.errs["CPF"] = ocppd.Errorf(ocppd.EFORBIDDEN, "wrong profile")
	reg.errs["CPN"] = ocppd.Errorf(ocppd.ENOTFOUND, "unknown")
	reg.errs["CPU"] = ocppd.Errorf(ocppd.EUNAVAILABLE, "store down")
	reg.errs["CPE"] = errors.New("secret internals")
	e := newEnv(t, func(o *Options) { o.Registry = reg })

	cases := []struct {
		path, authz string
		status      int
		reason      string
	}{
		{"/CP1", "", 401, RefusedUnauthorized},
		{"/CP1", basic("CP1", "wrong-password-xx"), 401, RefusedUnauthorized},
		{"/CP1", basic("CP2", "0123456789abcdef"), 401, RefusedUnauthorized},
		{"/CP1", "Bearer 0123456789abcdef", 401, RefusedUnauthorized},
		{"/CPF", basic("CPF", "x"), 403, RefusedForbidden},
		{"/CPN", basic("CPN", "x"), 404, RefusedNotRegistered},
		{"/CPU", basic("CPU", "x"), 503, RefusedAuthError},
		{"/CPE", basic("CPE", "x"), 500, RefusedAuthError},
	}
	for _, tc := range cases {
		c, resp := dialAuth(t, e.addr, tc.path, tc.authz)
		if c != nil {
			t.Fatalf("%s %q: upgraded (101), want %d", tc.path, tc.authz, tc.status)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %q: status %d, want %d", tc.path, tc.authz, resp.StatusCode, tc.status)
		}
		if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("401 without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
		}
		if strings.Contains(string(body), "internals") || strings.Contains(string(body), "credentials") {
			t.Errorf("%s: body leaks the error: %q", tc.path, body)
		}
	}
	st := e.gw.Stats()
	for _, tc := range cases {
		if st.Refused[tc.reason] == 0 {
			t.Errorf("refusal %q not counted: %v", tc.reason, st.Refused)
		}
	}
	if st.Refused[RefusedUnauthorized] != 4 || st.Accepted != 0 {
		t.Errorf("stats %+v", st)
	}
	if n := len(reg.calls); n != 0 {
		t.Errorf("Admit called %d times for refused stations", n)
	}
	// The right password connects.
	c, resp := dialAuth(t, e.addr, "/CP1", basic("CP1", "0123456789abcdef"))
	if c == nil {
		t.Fatalf("right password: status %d", resp.StatusCode)
	}
	if ev := e.nextLife(); ev.ChargePointID != "CP1" {
		t.Fatalf("event %+v", ev)
	}
	e.probe(c, "p1")
}

// A duplicate connection without the right password never takes over the
// session of the station.
func TestHijackWithoutPasswordKeepsSession(t *testing.T) {
	reg := newAuthRegistry()
	reg.passwords["CP1"] = "0123456789abcdef"
	e := newEnv(t, func(o *Options) { o.Registry = reg })
	c, resp := dialAuth(t, e.addr, "/CP1", basic("CP1", "0123456789abcdef"))
	if c == nil {
		t.Fatalf("status %d", resp.StatusCode)
	}
	e.nextLife()
	for _, authz := range []string{"", basic("CP1", "guess"), basic("CP1", "")} {
		if h, resp := dialAuth(t, e.addr, "/CP1", authz); h != nil || resp.StatusCode != 401 {
			t.Fatalf("hijack %q: status %v", authz, resp)
		}
	}
	e.probe(c, "still-here")
	if st := e.gw.Stats(); st.Replaced != 0 || e.gw.Sessions() != 1 {
		t.Errorf("session replaced: %+v", st)
	}
	if len(e.life) != 0 {
		t.Errorf("lifecycle events for refused hijacks: %d", len(e.life))
	}
}

func TestConnsPerAddrLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.ConnsPerAddr = 2 })
	c1, _ := e.connect("/CP1", "ocpp1.6")
	e.connect("/CP2", "ocpp1.6")
	_, resp, err := dialRaw(t, e.addr, "/CP3", "ocpp1.6")
	if err != nil {
		t.Fatal(err)
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third connection: %+v, want 429 with Retry-After", resp)
	}
	// A closed connection frees its slot.
	c1.CloseWith(1000, "bye")
	if ev := e.nextLife(); ev.ChargePointID != "CP1" {
		t.Fatalf("event %+v", ev)
	}
	deadline := time.Now().Add(waitLimit)
	for {
		c, resp, err := dialRaw(t, e.addr, "/CP3", "ocpp1.6")
		if err != nil {
			t.Fatal(err)
		}
		if c != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not released: %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := e.gw.Stats().Refused[RefusedTooManyConns]; n == 0 {
		t.Errorf("refusal not counted")
	}
}

func TestHandshakeRateLimits(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Limits.HandshakeRate, o.Limits.HandshakeBurst = 0.001, 3
	})
	statuses := map[int]int{}
	for i := range 5 {
		_, resp, err := dialRaw(t, e.addr, "/CP"+string(rune('A'+i)), "ocpp1.6")
		if err != nil {
			t.Fatal(err)
		}
		if resp == nil {
			statuses[101]++
			continue
		}
		statuses[resp.StatusCode]++
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if statuses[101] != 3 || statuses[429] != 2 {
		t.Errorf("answers %v, want 3×101 and 2×429", statuses)
	}
	if n := e.gw.Stats().Refused[RefusedRateLimited]; n != 2 {
		t.Errorf("rate-limited refusals counted %d", n)
	}

	g := newEnv(t, func(o *Options) {
		o.Limits.GlobalHandshakeRate, o.Limits.GlobalHandshakeBurst = 0.001, 2
	})
	statuses = map[int]int{}
	for i := range 4 {
		_, resp, err := dialRaw(t, g.addr, "/CP"+string(rune('A'+i)), "ocpp1.6")
		if err != nil {
			t.Fatal(err)
		}
		if resp == nil {
			statuses[101]++
		} else {
			statuses[resp.StatusCode]++
		}
	}
	if statuses[101] != 2 || statuses[503] != 2 {
		t.Errorf("answers %v, want 2×101 and 2×503", statuses)
	}
	if n := g.gw.Stats().Refused[RefusedBusy]; n != 2 {
		t.Errorf("busy refusals counted %d", n)
	}
}

func TestBucketRefills(t *testing.T) {
	b := bucket{tokens: 1}
	if ok, _ := b.take(0, 2, 1); !ok {
		t.Fatal("first token refused")
	}
	ok, wait := b.take(0, 2, 1)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("empty bucket: %v %v, want refusal and 500ms", ok, wait)
	}
	if ok, _ := b.take(500*time.Millisecond, 2, 1); !ok {
		t.Fatal("refilled token refused")
	}
}

func TestTooManyInvalidFramesClosesSession(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.MaxInvalidFrames = 5 })
	other, _ := e.connect("/OTHER", "ocpp2.0.1")
	c, _ := e.connect("/BAD", "ocpp2.0.1")
	for range 6 {
		c.Send(`not json`)
	}
	code, reason := c.ExpectClose()
	if code != ClosePolicyViolation || reason != closeTextTooManyInvalid {
		t.Errorf("close %d %q", code, reason)
	}
	ev := e.nextLife()
	if ev.ChargePointID != "BAD" || ev.Reason != ReasonTooManyInvalid {
		t.Errorf("event %+v", ev)
	}
	e.probe(other, "alive")
	if st := e.gw.Stats(); st.Abusive != 1 || st.FramesInvalid < 6 {
		t.Errorf("stats %+v", st)
	}
}

func TestInvalidCounterWindow(t *testing.T) {
	var c invalidCounter
	for i := range 3 {
		if c.add(time.Duration(i), time.Minute, 3) {
			t.Fatalf("frame %d over the limit", i)
		}
	}
	if !c.add(time.Second, time.Minute, 3) {
		t.Fatal("4th frame in the window not over the limit")
	}
	if c.add(2*time.Minute, time.Minute, 3) {
		t.Fatal("a new window did not reset the count")
	}
	var off invalidCounter
	for range 1000 {
		if off.add(0, time.Minute, -1) {
			t.Fatal("negative max must disable the limit")
		}
	}
}
