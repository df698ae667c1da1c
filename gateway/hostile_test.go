package gateway

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/ocpp"
)

// TestHostileInput runs the hostile-input suite against one gateway while
// a well-behaved station ("VICTIM") stays connected: after every attack
// the victim's session still works, nothing the attackers sent reached
// the bus under the victim's name, and every attack is counted in Stats.
func TestHostileInput(t *testing.T) {
	reg := newAuthRegistry()
	const pw = "victim-password-0123456789"
	reg.passwords["VICTIM"] = pw
	e := newEnv(t, func(o *Options) {
		o.Registry = reg
		o.MaxFrameSize = 4096
	})
	// Every other id is admitted with its own id as password.
	for _, id := range []string{"A1", "A2", "A3", "A4", "A5", "A6", "A7", strings.Repeat("L", 48)} {
		reg.passwords[id] = id
	}
	victim, resp := dialAuth(t, e.addr, "/ocpp/VICTIM", basic("VICTIM", pw))
	if victim == nil {
		t.Fatalf("victim: %d", resp.StatusCode)
	}
	vev := e.nextLife()
	seq := 0
	victimOK := func(after string) {
		t.Helper()
		seq++
		id := fmt.Sprintf("v%d", seq)
		for _, m := range e.probe(victim, id) {
			if cp, _ := e.gw.opts.Topics.StationOf(m.Topic); cp != "VICTIM" {
				continue
			}
			t.Errorf("after %s: unexpected frame on the victim's topic: %s", after, m.Payload)
		}
	}
	attacker := func(id string) *wsClient {
		t.Helper()
		c, resp := dialAuth(t, e.addr, "/ocpp/"+id, basic(id, id))
		if c == nil {
			t.Fatalf("attacker %s: %d", id, resp.StatusCode)
		}
		e.nextLife()
		return c
	}
	expectGone := func(what string, c *wsClient, code int) {
		t.Helper()
		// A peer still writing when the gateway closes may see a reset
		// instead of the close frame; the lifecycle event says why.
		if got := closeCode(c); got != code && got != -1 {
			t.Errorf("%s: close code %d, want %d", what, got, code)
		}
		if ev := e.nextLife(); ev.Event != bus.EventDisconnected || ev.CloseCode != code {
			t.Errorf("%s: event %+v, want disconnected with %d", what, ev, code)
		}
	}

	t.Run("oversized frame", func(t *testing.T) {
		c := attacker("A1")
		c.Send(`[2,"x","DataTransfer",{"data":"` + strings.Repeat("x", 100_000) + `"}]`)
		expectGone("oversized", c, CloseMessageTooBig)
		victimOK("an oversized frame")
	})
	t.Run("binary frame", func(t *testing.T) {
		c := attacker("A2")
		_ = c.writeFrame(opBinary, []byte{0, 1, 2, 0xff})
		expectGone("binary", c, CloseUnsupportedData)
		victimOK("a binary frame")
	})
	t.Run("invalid utf-8", func(t *testing.T) {
		c := attacker("A3")
		_ = c.writeFrame(opText, []byte("[2,\"x\",\"Heartbeat\",{\"a\":\"\xc3\x28\"}]"))
		expectGone("invalid utf-8", c, CloseInvalidPayload)
		victimOK("invalid UTF-8")
	})
	t.Run("10000 malformed frames", func(t *testing.T) {
		before := e.gw.Stats().FramesInvalid
		c := attacker("A4")
		go func() {
			for i := range 10_000 {
				if c.writeFrame(opText, fmt.Appendf(nil, `[2,"m%d","Heartbeat"`, i)) != nil {
					return // closed by the gateway: expected
				}
			}
		}()
		expectGone("malformed flood", c, ClosePolicyViolation)
		if n := e.gw.Stats().FramesInvalid - before; n <= DefaultMaxInvalidFrames {
			t.Errorf("%d malformed frames counted", n)
		}
		victimOK("10,000 malformed frames")
	})
	t.Run("unknown actions and long message ids", func(t *testing.T) {
		c := attacker("A5")
		c.Send(`[2,"u1","NoSuchAction",{}]`) // valid frame: the CSMS answers NotImplemented
		if m := e.nextIn(); !strings.Contains(string(m.Payload), "NoSuchAction") {
			t.Errorf("published %s", m.Payload)
		}
		long := strings.Repeat("i", 37)
		c.Send(`[2,"` + long + `","Heartbeat",{}]`)
		if resp := c.ExpectText(); !strings.HasPrefix(resp, `[4,`) {
			t.Errorf("message id of 37 characters: %s", resp)
		}
		e.probe(c, "a5")
		victimOK("unknown actions")
	})
	t.Run("identities", func(t *testing.T) {
		for path, want := range map[string]int{
			"/ocpp/" + strings.Repeat("L", 49): http.StatusBadRequest, // 49 characters
			"/ocpp/..":                         http.StatusBadRequest,
			"/ocpp/VICTIM/..":                  http.StatusBadRequest,
			"/ocpp/%2E%2E":                     http.StatusBadRequest,
			"/ocpp/a%2FVICTIM":                 http.StatusBadRequest,
			"/ocpp/VICTIM%2F":                  http.StatusBadRequest,
			"/ocpp/VIC%00TIM":                  http.StatusBadRequest,
			"/ocpp/VICTIM%20":                  http.StatusBadRequest,
			"/ocpp/":                           http.StatusBadRequest,
			"/ocpp/%":                          http.StatusBadRequest,
			// The last segment names the victim: it must authenticate
			// as the victim, and the attacker cannot.
			"/ocpp/../VICTIM":  http.StatusUnauthorized,
			"/x/%2E%2E/VICTIM": http.StatusUnauthorized,
		} {
			c, resp, err := dialHeader(t, e.addr, path, http.Header{
				"Sec-WebSocket-Protocol": {"ocpp2.0.1"}, "Authorization": {basic("A7", "A7")}})
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if c != nil {
				t.Errorf("%s: upgraded", path)
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != want {
				t.Errorf("%s: status %d %s, want %d", path, resp.StatusCode, body, want)
			}
		}
		// 48 characters is the longest valid identity.
		c := attacker(strings.Repeat("L", 48))
		e.probe(c, "l48")
		victimOK("malformed identities")
	})
	t.Run("hijack without the password", func(t *testing.T) {
		for _, authz := range []string{"", basic("VICTIM", ""), basic("VICTIM", pw+"x"), basic("A6", "A6"), "Basic !!!"} {
			if c, resp := dialAuth(t, e.addr, "/ocpp/VICTIM", authz); c != nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("hijack %q: %v", authz, resp)
			}
		}
		victimOK("hijack attempts")
	})
	t.Run("flood of handshakes", func(t *testing.T) {
		var wg sync.WaitGroup
		statuses := make(chan int, 400)
		for i := range 400 {
			wg.Go(func() {
				path := fmt.Sprintf("/ocpp/F%d", i)
				authz := basic(fmt.Sprintf("F%d", i), "wrong")
				if i%4 == 0 {
					path, authz = "/ocpp/VICTIM", ""
				}
				c, resp, err := dialHeader(t, e.addr, path, http.Header{"Sec-WebSocket-Protocol": {"ocpp2.0.1"}, "Authorization": {authz}})
				switch {
				case err != nil:
					statuses <- -1
				case c != nil:
					statuses <- 101
				default:
					statuses <- resp.StatusCode
				}
			})
		}
		// Half-open handshakes: connections that never send a request.
		var idle []net.Conn
		for range 50 {
			if nc, err := net.DialTimeout("tcp", e.addr, waitLimit); err == nil {
				idle = append(idle, nc)
			}
		}
		wg.Wait()
		close(statuses)
		for s := range statuses {
			if s != http.StatusUnauthorized {
				t.Errorf("flood: status %d, want 401", s)
			}
		}
		for _, nc := range idle {
			nc.Close()
		}
		victimOK("a flood of handshakes")
	})

	st := e.gw.Stats()
	if st.Refused[RefusedUnauthorized] < 405 || st.Refused[RefusedInvalidID] < 8 || st.Abusive != 1 {
		t.Errorf("attacks not counted: %+v", st)
	}
	if st.Replaced != 0 || e.gw.Sessions() < 1 {
		t.Errorf("the victim's session was replaced: %+v", st)
	}
	// Still the same session.
	if ev := vev; ev.ChargePointID != "VICTIM" {
		t.Fatalf("victim event %+v", ev)
	}
	victimOK("all attacks")
}

// closeCode reads (and discards) frames until the close frame and returns
// its code, or -1 if the connection ends without one.
func closeCode(c *wsClient) int {
	for {
		f, err := c.next()
		if err != nil {
			return -1
		}
		if f.Op == opClose {
			if len(f.Payload) < 2 {
				return 0
			}
			return int(f.Payload[0])<<8 | int(f.Payload[1])
		}
	}
}

// FuzzStationID checks that no request path makes StationID panic or
// return an identity that is invalid, contains a separator or a
// dot-segment.
func FuzzStationID(f *testing.F) {
	for _, s := range []string{"/CP1", "/ocpp/CP1", "/ocpp/../CP1", "/a%2Fb", "/%2E%2E", "/" + strings.Repeat("L", 49), "/%", "/x/%00", "//", "/CP%201"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		id, err := StationID(u)
		if err != nil {
			return
		}
		if ocpp.ValidateIdentity(id) != nil || strings.ContainsAny(id, "/\\\x00") || id == "." || id == ".." {
			t.Fatalf("StationID(%q) = %q", raw, id)
		}
	})
}
