package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// testCommands checks the command life cycle: add, send, answer, fail,
// expire, list, and the error contract.
func testCommands(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1", "CP2")
	cmd := func(id, cp string, created int) store.Command {
		return store.Command{
			ID: id, ChargePointID: cp, Protocol: "ocpp2.0.1", Action: "Reset",
			Request: json.RawMessage(`{"type":"Immediate"}`), CreatedAt: at(created),
			Deadline: at(created + 3600), Timeout: 30 * time.Second,
		}
	}
	for i, c := range []store.Command{cmd("c1", "CP1", 1), cmd("c2", "CP1", 2), cmd("c3", "CP2", 3)} {
		if err := s.AddCommand(ctx, c); err != nil {
			t.Fatalf("AddCommand #%d: %v", i, err)
		}
	}
	wantCode(t, s.AddCommand(ctx, cmd("c1", "CP1", 4)), ocppd.ECONFLICT)
	wantCode(t, s.AddCommand(ctx, cmd("c9", "NOPE", 4)), ocppd.ENOTFOUND)
	_, err := s.GetCommand(ctx, "nope")
	wantCode(t, err, ocppd.ENOTFOUND)

	c, err := s.GetCommand(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if c.State != store.CommandQueued || c.Action != "Reset" || c.Protocol != "ocpp2.0.1" || c.Timeout != 30*time.Second {
		t.Errorf("GetCommand = %+v", c)
	}
	wantJSON(t, "request", c.Request, `{"type":"Immediate"}`)
	checkTime(t, "CreatedAt", c.CreatedAt, at(1))
	checkTime(t, "Deadline", c.Deadline, at(3601))
	checkTime(t, "SentAt", c.SentAt, time.Time{})

	q, err := s.QueuedCommands(ctx, "CP1")
	if err != nil || len(q) != 2 || q[0].ID != "c1" || q[1].ID != "c2" {
		t.Fatalf("QueuedCommands = %v, %v; want c1, c2", commandIDs(q), err)
	}

	// Sent: the deadline becomes SentAt + Timeout.
	if err := s.MarkCommandSent(ctx, "c1", at(10)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.MarkCommandSent(ctx, "c1", at(11)), ocppd.ECONFLICT)
	wantCode(t, s.MarkCommandSent(ctx, "nope", at(11)), ocppd.ENOTFOUND)
	c, _ = s.GetCommand(ctx, "c1")
	if c.State != store.CommandSent {
		t.Errorf("state after MarkCommandSent = %s", c.State)
	}
	checkTime(t, "SentAt", c.SentAt, at(10))
	checkTime(t, "Deadline", c.Deadline, at(40))

	// Answered by the right station only.
	_, err = s.FinishCommand(ctx, "CP2", "c1", store.CommandOutcome{State: store.CommandAnswered, Response: json.RawMessage(`{}`), At: at(12)})
	wantCode(t, err, ocppd.ENOTFOUND)
	_, err = s.FinishCommand(ctx, "CP1", "nope", store.CommandOutcome{State: store.CommandAnswered, At: at(12)})
	wantCode(t, err, ocppd.ENOTFOUND)
	c, err = s.FinishCommand(ctx, "CP1", "c1", store.CommandOutcome{State: store.CommandAnswered, Response: json.RawMessage(`{"status":"Accepted"}`), At: at(12)})
	if err != nil {
		t.Fatal(err)
	}
	if c.State != store.CommandAnswered || c.ID != "c1" {
		t.Errorf("FinishCommand = %+v", c)
	}
	wantJSON(t, "response", c.Response, `{"status":"Accepted"}`)
	checkTime(t, "FinishedAt", c.FinishedAt, at(12))
	_, err = s.FinishCommand(ctx, "CP1", "c1", store.CommandOutcome{State: store.CommandFailed, At: at(13)})
	wantCode(t, err, ocppd.ECONFLICT)

	// A CALLERROR.
	if err := s.MarkCommandSent(ctx, "c2", at(20)); err != nil {
		t.Fatal(err)
	}
	c, err = s.FinishCommand(ctx, "CP1", "c2", store.CommandOutcome{State: store.CommandFailed, ErrorCode: "NotSupported",
		ErrorDescription: "no", ErrorDetails: json.RawMessage(`{"a":1}`), At: at(21)})
	if err != nil {
		t.Fatal(err)
	}
	if c.State != store.CommandFailed || c.ErrorCode != "NotSupported" || c.ErrorDescription != "no" || c.Response != nil {
		t.Errorf("failed command = %+v", c)
	}
	wantJSON(t, "error details", c.ErrorDetails, `{"a":1}`)

	// Expiry: c3 is queued with deadline at(3603); a sent c4 at(100)+30s.
	c4 := cmd("c4", "CP2", 50)
	if err := s.AddCommand(ctx, c4); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkCommandSent(ctx, "c4", at(100)); err != nil {
		t.Fatal(err)
	}
	exp, err := s.ExpireCommands(ctx, at(129))
	if err != nil || len(exp) != 0 {
		t.Fatalf("ExpireCommands before any deadline = %v, %v", commandIDs(exp), err)
	}
	exp, err = s.ExpireCommands(ctx, at(131))
	if err != nil || len(exp) != 1 || exp[0].ID != "c4" || exp[0].State != store.CommandTimedOut {
		t.Fatalf("ExpireCommands = %+v, %v; want c4 timed out", exp, err)
	}
	exp, err = s.ExpireCommands(ctx, at(4000))
	if err != nil || len(exp) != 1 || exp[0].ID != "c3" {
		t.Fatalf("ExpireCommands(queued past deadline) = %v, %v; want c3", commandIDs(exp), err)
	}
	// A late answer to a timed-out command is still recorded.
	c, err = s.FinishCommand(ctx, "CP2", "c4", store.CommandOutcome{State: store.CommandAnswered, Response: json.RawMessage(`{"status":"Rejected"}`), At: at(200)})
	if err != nil || c.State != store.CommandAnswered {
		t.Fatalf("late answer: %+v, %v", c, err)
	}

	// Listing: newest first, filters.
	all, err := s.ListCommands(ctx, store.CommandFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := commandIDs(all); fmt.Sprint(got) != "[c4 c3 c2 c1]" {
		t.Errorf("ListCommands = %v, want [c4 c3 c2 c1]", got)
	}
	for _, tc := range []struct {
		f    store.CommandFilter
		want string
	}{
		{store.CommandFilter{ChargePointID: "CP1"}, "[c2 c1]"},
		{store.CommandFilter{State: store.CommandTimedOut}, "[c3]"},
		{store.CommandFilter{Action: "Reset", Limit: 1}, "[c4]"},
		{store.CommandFilter{Action: "GetVariables"}, "[]"},
	} {
		got, err := s.ListCommands(ctx, tc.f)
		if err != nil || fmt.Sprint(commandIDs(got)) != tc.want {
			t.Errorf("ListCommands(%+v) = %v, %v; want %s", tc.f, commandIDs(got), err, tc.want)
		}
	}

	// Deleting the station deletes its commands.
	if err := s.DeleteChargePoint(ctx, "CP1"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetCommand(ctx, "c1")
	wantCode(t, err, ocppd.ENOTFOUND)
}

// testCommandsExpireConcurrent checks that concurrent sweepers never both
// time out the same command.
func testCommandsExpireConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1")
	const n = 40
	for i := range n {
		err := s.AddCommand(ctx, store.Command{ID: fmt.Sprintf("c%02d", i), ChargePointID: "CP1", Protocol: "ocpp1.6",
			Action: "Reset", Request: json.RawMessage(`{"type":"Soft"}`), CreatedAt: at(i), Deadline: at(i + 1), Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for i := range n + 1 {
				exp, err := s.ExpireCommands(ctx, at(i+2))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, c := range exp {
					seen[c.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d commands expired, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("command %s expired %d times", id, k)
		}
	}
}

func commandIDs(cs []store.Command) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// wantJSON fails unless got and want are the same JSON value.
func wantJSON(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s = %s: %v", what, got, err)
		return
	}
	_ = json.Unmarshal([]byte(want), &w)
	if fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}
