package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd/bus"
)

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	id, event string
	data      Event
}

// stream opens the event stream with query and returns a channel of its
// events; the first comment has been read, so the subscription is in place.
func (e *env) stream(query, token string, header bool) (<-chan sseEvent, *http.Response) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	u := e.http.URL + "/api/v1/events" + query
	if !header {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "access_token=" + token
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	if header {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		return nil, resp
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		e.t.Fatalf("Content-Type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
		e.t.Fatalf("first line %q, %v; want a comment", line, err)
	}
	ch := make(chan sseEvent, 100)
	go func() {
		defer close(ch)
		var cur sseEvent
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if cur.event != "" {
					ch <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				cur.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				cur.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data)
			}
		}
	}()
	return ch, resp
}

func next(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return sseEvent{}
}

func (e *env) publish(topic, payload string) {
	e.t.Helper()
	if err := e.bus.Publish(context.Background(), bus.Message{Topic: topic, Payload: []byte(payload)}); err != nil {
		e.t.Fatal(err)
	}
}

func TestEventStream(t *testing.T) {
	e := newEnv(t)
	all, _ := e.stream("", e.admin, true)
	hb, _ := e.stream("?cp=CP1&action=Heartbeat", e.readOnly, false)
	life, _ := e.stream("?action=connected&action=disconnected", e.admin, true)

	e.publish(e.topics.Lifecycle("CP1"), string(bus.LifecycleEvent{Event: bus.EventConnected, ChargePointID: "CP1", SessionID: "s1", Protocol: "ocpp2.0.1"}.Encode()))
	e.publish(e.topics.In("CP1"), `[2,"b1","BootNotification",{"reason":"PowerUp"}]`)
	e.publish(e.topics.In("CP2"), `[2,"h1","Heartbeat",{}]`)
	e.publish(e.topics.In("CP1"), `[2,"h1","Heartbeat",{}]`)
	e.publish(e.topics.Out("CP1"), `[3,"h1",{"currentTime":"2025-01-01T00:00:00Z"}]`)
	e.publish("CP1/in", `[2,"x","Heartbeat",{}]`) // outside the prefix: not a station topic

	ev := next(t, all)
	if ev.event != "lifecycle" || ev.data.Kind != "lifecycle" || ev.data.ChargePointID != "CP1" || ev.data.Lifecycle == nil || ev.data.Lifecycle.Protocol != "ocpp2.0.1" {
		t.Errorf("first event %+v", ev)
	}
	ev = next(t, all)
	if ev.event != "message" || ev.data.Action != "BootNotification" || ev.data.Direction != "in" || ev.data.Type != "CALL" ||
		string(ev.data.Frame) != `[2,"b1","BootNotification",{"reason":"PowerUp"}]` || ev.id != fmt.Sprint(ev.data.Seq) {
		t.Errorf("second event %+v", ev)
	}

	// The filtered stream gets CP1's Heartbeat and its answer, labelled
	// with the CALL's action, and nothing else.
	ev = next(t, hb)
	if ev.data.ChargePointID != "CP1" || ev.data.Type != "CALL" || ev.data.Action != "Heartbeat" {
		t.Errorf("filtered first %+v", ev.data)
	}
	ev = next(t, hb)
	if ev.data.ChargePointID != "CP1" || ev.data.Type != "CALLRESULT" || ev.data.Action != "Heartbeat" || ev.data.Direction != "out" || ev.data.MessageID != "h1" {
		t.Errorf("filtered second %+v", ev.data)
	}
	ev = next(t, life)
	if ev.data.Kind != "lifecycle" {
		t.Errorf("lifecycle stream got %+v", ev.data)
	}
	// A marker proves nothing else was queued for the filtered streams.
	e.publish(e.topics.Lifecycle("CP1"), string(bus.LifecycleEvent{Event: bus.EventDisconnected, ChargePointID: "CP1", SessionID: "s1"}.Encode()))
	e.publish(e.topics.In("CP1"), `[2,"h2","Heartbeat",{}]`)
	if ev := next(t, hb); ev.data.MessageID != "h2" {
		t.Errorf("filtered stream got %+v, want h2", ev.data)
	}
	if ev := next(t, life); ev.data.Lifecycle == nil || ev.data.Lifecycle.Event != bus.EventDisconnected {
		t.Errorf("lifecycle stream got %+v, want the disconnect", ev.data)
	}
}

func TestEventStreamErrors(t *testing.T) {
	e := newEnv(t)
	if _, resp := e.stream("?cp=bad/id", e.admin, true); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad cp: %d", resp.StatusCode)
	}
	if _, resp := e.stream("", e.revoked, false); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", resp.StatusCode)
	}
}

func TestEventStreamHeartbeatAndRevocation(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.EventHeartbeat = 20 * time.Millisecond })
	tok := e.token("short-lived", false)
	req, _ := http.NewRequest("GET", e.http.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	seen := map[string]bool{}
	revoked := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break // the server ended the stream
		}
		seen[strings.TrimSpace(line)] = true
		if seen[": heartbeat"] && !revoked {
			if _, err := e.store.RevokeToken(context.Background(), "short-lived", time.Now()); err != nil {
				t.Fatal(err)
			}
			revoked = true
		}
	}
	if !seen[": heartbeat"] || !seen["event: error"] {
		t.Errorf("stream lines %v: want a heartbeat, then an error event after the revocation", seen)
	}
}

func TestSlowClientDropped(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.EventBuffer = 2 })
	c, err := e.srv.hub.add(filter{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		e.publish(e.topics.In("CP1"), fmt.Sprintf(`[2,"%d","Heartbeat",{}]`, i))
	}
	e.srv.hub.flush()
	select {
	case <-c.gone:
	default:
		t.Fatal("a client that did not read 3 events with a buffer of 2 was not dropped")
	}
	if got := e.srv.hub.slow.Load(); got != 1 {
		t.Errorf("slow clients counted %d, want 1", got)
	}
	r := e.do("GET", "/metrics", e.admin, nil)
	if !strings.Contains(string(r.body), "ocppd_api_event_clients_dropped_total 1") {
		t.Error("/metrics does not count the dropped client")
	}
}

func TestMessageLog(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MessageLog = 3 })
	e.addCP("CP1", "CP2")
	for i := range 5 {
		e.publish(e.topics.In("CP1"), fmt.Sprintf(`[2,"m%d","Heartbeat",{}]`, i))
	}
	e.publish(e.topics.Out("CP1"), `[3,"m4",{}]`)
	e.srv.hub.flush()
	var l List[Event]
	r := e.do("GET", "/api/v1/chargepoints/CP1/messages", e.admin, nil)
	want(t, r, http.StatusOK)
	r.decode(t, &l)
	var got []string
	for _, ev := range l.Items {
		got = append(got, ev.Type+" "+ev.MessageID+" "+ev.Action)
	}
	if strings.Join(got, ",") != "CALL m3 Heartbeat,CALL m4 Heartbeat,CALLRESULT m4 Heartbeat" {
		t.Errorf("log = %v", got)
	}
	l = List[Event]{}
	e.do("GET", "/api/v1/chargepoints/CP1/messages?limit=1", e.admin, nil).decode(t, &l)
	if len(l.Items) != 1 || l.Items[0].Type != "CALLRESULT" {
		t.Errorf("limit=1: %+v", l.Items)
	}
	l = List[Event]{}
	e.do("GET", "/api/v1/chargepoints/CP2/messages", e.admin, nil).decode(t, &l)
	if l.Items == nil || len(l.Items) != 0 {
		t.Errorf("CP2 log = %+v, want an empty list", l)
	}
	want(t, e.do("GET", "/api/v1/chargepoints/NOPE/messages", e.admin, nil), http.StatusNotFound)
	want(t, e.do("GET", "/api/v1/chargepoints/CP1/messages?limit=4", e.admin, nil), http.StatusBadRequest, "limit")
}

func TestMessageLogMemoryBound(t *testing.T) {
	frame := []byte(`[2,"1","Heartbeat",{}]`)
	ev := func(cp string) Event { return Event{Kind: "message", ChargePointID: cp, Frame: frame} }
	size := eventSize(ev("A"))
	l := newMessageLog(10, 5*size) // five events in all
	for range 3 {
		l.add(ev("A"))
	}
	for range 2 {
		l.add(ev("B"))
	}
	if st, b := l.size(); st != 2 || b != 5*size {
		t.Fatalf("size = %d stations, %d bytes; want 2, %d", st, b, 5*size)
	}
	l.add(ev("C")) // over budget: A, written least recently, goes
	if len(l.recent("A", 10)) != 0 || len(l.recent("B", 10)) != 2 || len(l.recent("C", 10)) != 1 {
		t.Errorf("after eviction: A %d, B %d, C %d", len(l.recent("A", 10)), len(l.recent("B", 10)), len(l.recent("C", 10)))
	}
	if _, b := l.size(); b != 3*size {
		t.Errorf("bytes = %d, want %d", b, 3*size)
	}
	off := newMessageLog(-1, 1<<20)
	off.add(ev("A"))
	if st, _ := off.size(); st != 0 {
		t.Error("a disabled log kept frames")
	}
}

type busMessage = bus.Message
