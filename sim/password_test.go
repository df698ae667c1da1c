package sim

import (
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/ocppd/ocppd/ocpp"
)

func basicAuth(id, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+pw))
}

// TestChargerPasswordChange: a station that authenticates with HTTP Basic
// takes the password the CSMS sets (1.6 ChangeConfiguration
// AuthorizationKey, 2.x SetVariables BasicAuthPassword), answers Accepted,
// then disconnects and connects again at once with the new password (the
// A01 scenario); a refused value changes nothing.
func TestChargerPasswordChange(t *testing.T) {
	const old = "old-password-0123456789"
	for _, c := range []struct {
		v             ocpp.Version
		action, frame string
		newPW         string
		status        func(map[string]any) any
	}{
		{ocpp.V16, "ChangeConfiguration", `{"key":"AuthorizationKey","value":%q}`, "00112233445566778899AABBCCDDEEFF00112233",
			func(a map[string]any) any { return a["status"] }},
		{ocpp.V201, "SetVariables", `{"setVariableData":[{"component":{"name":"SecurityCtrlr"},"variable":{"name":"BasicAuthPassword"},"attributeValue":%q}]}`, "new-password-0123456789:+|@.",
			func(a map[string]any) any { return get(a, "setVariableResult", 0, "attributeStatus") }},
	} {
		t.Run(string(c.v), func(t *testing.T) {
			ts := csmsServer(t)
			ch := NewCharger(Options{URL: ts.URL, ID: "CP1", Version: c.v, CallTimeout: waitFor, Password: old}, ChargerOptions{})
			t.Cleanup(func() { _ = ch.Close() })
			runStation(t, ch.Station)
			tc := ts.next()
			if got := tc.Header.Get("Authorization"); got != basicAuth("CP1", old) {
				t.Fatalf("first connection sent Authorization %q", got)
			}
			tc.nextCallOf(t, "BootNotification")

			// Too short: refused, nothing changes.
			if a := callValid(t, tc, c.action, fmt.Sprintf(c.frame, "short")); c.status(a) != "Rejected" {
				t.Fatalf("short password: %v", a)
			}
			if ch.Password() != old {
				t.Fatal("a refused password was taken")
			}
			if a := callValid(t, tc, c.action, fmt.Sprintf(c.frame, c.newPW)); c.status(a) != "Accepted" {
				t.Fatalf("new password: %v", a)
			}
			tc2 := ts.next()
			if got := tc2.Header.Get("Authorization"); got != basicAuth("CP1", c.newPW) {
				t.Fatalf("reconnection sent Authorization %q, want the new password", got)
			}
			select {
			case <-tc.Closed:
			case <-time.After(waitFor):
				t.Error("the old connection is still open")
			}
			tc2.nextCallOf(t, "BootNotification")
			if ch.Password() != c.newPW {
				t.Errorf("Password() = %q", ch.Password())
			}
		})
	}
}

// TestChargerPasswordWithoutBasicAuth: a station that connected without a
// password keeps its connection when the CSMS sets one, and sends it from
// the next connection.
func TestChargerPasswordWithoutBasicAuth(t *testing.T) {
	ts := csmsServer(t)
	ch, tc := newCharger(t, ts, ocpp.V16, ChargerOptions{}, nil)
	if h := tc.Header.Get("Authorization"); h != "" {
		t.Fatalf("Authorization %q without a password", h)
	}
	const key = "0123456789abcdef0123456789abcdef"
	if a := callValid(t, tc, "ChangeConfiguration", fmt.Sprintf(`{"key":"AuthorizationKey","value":%q}`, key)); a["status"] != "Accepted" {
		t.Fatalf("%v", a)
	}
	if _, err := ch.Heartbeat(testCtx(t)); err != nil {
		t.Fatalf("the connection did not survive: %v", err)
	}
	// The password is taken once the answer is out.
	for deadline := time.Now().Add(waitFor); ch.Password() != key; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the password was not taken")
		}
	}
	if ts.connCount() != 1 {
		t.Fatalf("%d connections: the station reconnected", ts.connCount())
	}
	ch.Disconnect(1000, "")
	if err := ch.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := ts.next().Header.Get("Authorization"); got != basicAuth("CP1", key) {
		t.Fatalf("next connection sent %q", got)
	}
}
