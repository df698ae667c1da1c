package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/sim"
	"github.com/ocppd/ocppd/store/postgres"
)

// script is what every simulated station of a run does: boot, then rounds
// of one StatusNotification (with a timestamp unique to the station and
// round, so that each one can be found in the store) and one Heartbeat.
// When its connection is lost it reconnects (through HAProxy) and boots
// again, unless it is lazy: a lazy station stays away once its connection
// is lost, so that only the gateway-down handling can mark it offline.
type script struct {
	url     string
	rounds  int
	pause   time.Duration
	timeout time.Duration // CALL timeout
	base    time.Time     // timestamp of round 0
}

// outcome is what one station sent and what was answered.
type outcome struct {
	id       string
	sent     []time.Time        // StatusNotification timestamps, in order
	answered map[time.Time]bool // those that got a CALLRESULT
	connects int
	err      error // the run could not finish
}

// fleet runs stations and counts progress.
type fleet struct {
	answered atomic.Int64 // StatusNotifications answered, all stations
	mu       sync.Mutex
	outcomes map[string]*outcome
	wg       sync.WaitGroup
}

func newFleet() *fleet { return &fleet{outcomes: map[string]*outcome{}} }

// start runs the script for station id in the background.
func (f *fleet) start(ctx context.Context, sc script, id string, lazy bool) {
	o := &outcome{id: id, answered: map[time.Time]bool{}}
	f.mu.Lock()
	f.outcomes[id] = o
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		o.err = f.run(ctx, sc, o, lazy)
	}()
}

// wait waits for every station's run and returns the outcomes by id.
func (f *fleet) wait() map[string]*outcome {
	f.wg.Wait()
	return f.outcomes
}

func (f *fleet) run(ctx context.Context, sc script, o *outcome, lazy bool) error {
	st := sim.New(sim.Options{URL: sc.url, ID: o.id, Version: ocpp.V201, CallTimeout: sc.timeout})
	defer st.Close()
	for round := 0; round < sc.rounds; round++ {
		if !st.Connected() {
			if lazy && o.connects > 0 {
				return nil // stays away
			}
			if err := connectAndBoot(ctx, st); err != nil {
				return fmt.Errorf("round %d: %w", round, err)
			}
			o.connects++
		}
		ts := sc.base.Add(time.Duration(round) * time.Millisecond)
		o.sent = append(o.sent, ts)
		status := "Available"
		if round%2 == 1 {
			status = "Occupied"
		}
		_, err := st.Call(ctx, "StatusNotification", map[string]any{
			"timestamp":       ts.UTC().Format("2006-01-02T15:04:05.000Z"),
			"connectorStatus": status,
			"evseId":          1,
			"connectorId":     1,
		})
		if err == nil {
			o.answered[ts] = true
			f.answered.Add(1)
			_, _ = st.Heartbeat(ctx) // answered or not: nothing stored to count
		} else if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-time.After(sc.pause):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// booter is a simulated station that can connect and boot: a sim.Station,
// or a sim.Charger (whose Boot also replays its offline queue).
type booter interface {
	Connected() bool
	Connect(ctx context.Context) error
	Boot(ctx context.Context) (sim.BootResult, error)
}

// connectAndBoot connects and boots, retrying with a backoff while the
// cluster moves the station (a gateway died, HAProxy has not noticed yet).
func connectAndBoot(ctx context.Context, st booter) error {
	delay := 50 * time.Millisecond
	deadline := time.Now().Add(waitFor)
	var last error
	for time.Now().Before(deadline) {
		if !st.Connected() {
			last = st.Connect(ctx)
		}
		if st.Connected() {
			var res sim.BootResult
			res, last = st.Boot(ctx)
			if last == nil && res.Status == sim.StatusAccepted {
				return nil
			}
			if last == nil {
				last = fmt.Errorf("boot answered %s", res.Status)
			}
		}
		var ce *sim.CloseError
		if errors.As(last, &ce) && ce.Permanent() {
			return last
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		delay = min(2*delay, time.Second)
	}
	return fmt.Errorf("could not connect and boot within %v: %w", waitFor, last)
}

// checkExactlyOnce compares what the stations sent with the store's status
// history: every StatusNotification answered with a CALLRESULT is stored
// exactly once, and nothing is stored that was not sent. An unanswered
// one may be stored or not (it may have been lost with the connection
// that carried it), but never twice: the broker delivers a message again
// (QoS 1 is at least once) when the CSMS stored it but its acknowledgement
// did not reach the broker, and the store keeps a status once per
// identity. It returns the numbers sent, answered and stored, and the
// unanswered ones stored twice (errors).
func checkExactlyOnce(t *testing.T, db *postgres.DB, outcomes map[string]*outcome) (sent, answered, stored, redelivered int) {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, 0, len(outcomes))
	for id := range outcomes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	problems := 0
	for _, id := range ids {
		o := outcomes[id]
		hist, err := db.StatusHistory(ctx, id, 100000)
		if err != nil {
			t.Fatal(err)
		}
		count := map[time.Time]int{}
		for _, ev := range hist {
			count[ev.Timestamp.UTC()]++
		}
		wasSent := map[time.Time]bool{}
		for _, ts := range o.sent {
			wasSent[ts.UTC()] = true
		}
		sent += len(o.sent)
		answered += len(o.answered)
		stored += len(hist)
		for ts := range o.answered {
			if n := count[ts.UTC()]; n != 1 && problems < 20 {
				problems++
				t.Errorf("%s: StatusNotification %s was answered and is stored %d times, want exactly once", id, ts.Format(time.RFC3339Nano), n)
			}
		}
		for ts, n := range count {
			if n > 1 && !o.answered[ts] && problems < 20 {
				redelivered++
				problems++
				t.Errorf("%s: StatusNotification %s (not answered) is stored %d times: a redelivery stored again", id, ts.Format(time.RFC3339Nano), n)
			}
			if !wasSent[ts] && problems < 20 {
				problems++
				t.Errorf("%s: the store holds a StatusNotification %s the station never sent", id, ts.Format(time.RFC3339Nano))
			}
		}
	}
	return sent, answered, stored, redelivered
}

// closeLog records a station's log lines, to see how its connection was
// closed.
type closeLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *closeLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *closeLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *closeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
