package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/sim"
	"github.com/ocppd/ocppd/store"
	"github.com/ocppd/ocppd/store/postgres"
)

// clusterTag is the RFID tag every simulated charger charges with.
const clusterTag = "CLUSTERTAG"

// sessionScript is what every simulated charger of a run does: boot, then
// charging sessions — Authorize, start (1.6 StartTransaction, 2.x
// TransactionEvent Started), meter values, stop — with a pause between
// steps. When its connection is lost it reconnects (through HAProxy) and
// boots again, which replays the transaction messages it queued while
// offline or sent without an answer; a lazy charger stays away instead.
type sessionScript struct {
	url      string
	sessions int
	meters   int // MeterValues per session
	pause    time.Duration
	timeout  time.Duration // CALL timeout
}

// sessionOutcome is what one charger did.
type sessionOutcome struct {
	id       string
	version  ocpp.Version
	lazy     bool
	connects int
	sent     []sim.SentMessage // transaction messages, with their answers
	queued   int               // left unsent at the end
	err      error
}

// sessionFleet runs chargers and counts answered transaction messages.
type sessionFleet struct {
	answered atomic.Int64
	mu       sync.Mutex
	outcomes map[string]*sessionOutcome
	wg       sync.WaitGroup
}

func newSessionFleet() *sessionFleet { return &sessionFleet{outcomes: map[string]*sessionOutcome{}} }

func (f *sessionFleet) start(ctx context.Context, sc sessionScript, id string, v ocpp.Version, lazy bool) {
	o := &sessionOutcome{id: id, version: v, lazy: lazy}
	f.mu.Lock()
	f.outcomes[id] = o
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		o.err = f.run(ctx, sc, o)
	}()
}

func (f *sessionFleet) wait() map[string]*sessionOutcome {
	f.wg.Wait()
	return f.outcomes
}

func (f *sessionFleet) run(ctx context.Context, sc sessionScript, o *sessionOutcome) error {
	ch := sim.NewCharger(sim.Options{URL: sc.url, ID: o.id, Version: o.version, CallTimeout: sc.timeout},
		sim.ChargerOptions{IDTag: clusterTag})
	defer ch.Close()
	defer func() {
		o.sent = ch.Sent()
		o.queued = ch.Queued()
	}()
	counted := 0
	step := func() error {
		// Count the answered transaction messages for the progress.
		if n := len(ch.Sent()); n > counted {
			f.answered.Add(int64(n - counted))
			counted = n
		}
		if !ch.Online() {
			if o.lazy && o.connects > 0 {
				return errStayAway
			}
			if err := connectAndBoot(ctx, ch); err != nil {
				return err
			}
			o.connects++
		}
		select {
		case <-time.After(sc.pause):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for range sc.sessions {
		if err := step(); err != nil {
			return stayedAway(err)
		}
		if _, err := ch.Start(ctx, 1, 1, clusterTag); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue // not authorized while the cluster moved it: try the next session
		}
		for range sc.meters {
			if err := step(); err != nil {
				return stayedAway(err)
			}
			_ = ch.MeterValues(ctx, 1, 1) // queued and replayed when not answered
		}
		if err := step(); err != nil {
			return stayedAway(err)
		}
		if err := ch.Stop(ctx, 1, 1, sim.ReasonLocal); err != nil {
			return fmt.Errorf("stop: %w", err)
		}
	}
	// Whatever is still queued (sent without an answer) goes out now.
	deadline := time.Now().Add(waitFor)
	for ch.Queued() > 0 && time.Now().Before(deadline) {
		if err := step(); err != nil {
			return stayedAway(err)
		}
		if err := ch.Replay(ctx); err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if n := len(ch.Sent()); n > counted {
		f.answered.Add(int64(n - counted))
	}
	if q := ch.Queued(); q > 0 && !o.lazy {
		return fmt.Errorf("%d transaction messages still queued", q)
	}
	return nil
}

// errStayAway ends a lazy charger's run once its connection is lost.
var errStayAway = errors.New("stays away")

func stayedAway(err error) error {
	if errors.Is(err, errStayAway) {
		return nil
	}
	return err
}

// sessionCounts are the totals of a run, for the log.
type sessionCounts struct {
	started, stored, ended, samplesSent, samplesStored int
}

// checkTransactions compares what the chargers sent and got answered with
// the store: every transaction a charger started is stored exactly once
// (1.6: under the id the CSMS answered; 2.x: under the charger's id), a
// charger that finished has every transaction ended, and every sampled
// value of an answered meter message is stored exactly once — no
// transaction or sample lost or doubled, whichever gateway or worker died.
func checkTransactions(t *testing.T, db *postgres.DB, outcomes map[string]*sessionOutcome) sessionCounts {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, 0, len(outcomes))
	for id := range outcomes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var n sessionCounts
	problems := 0
	report := func(format string, args ...any) {
		t.Helper()
		if problems++; problems <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, id := range ids {
		o := outcomes[id]
		starts := map[string]bool{} // transaction ids the charger knows
		samples := map[string]bool{}
		for _, m := range o.sent {
			if m.Err != nil {
				report("%s: the CSMS refused %s: %v", id, m.Action, m.Err)
				continue
			}
			switch {
			case m.Action == "StartTransaction":
				var r struct {
					TransactionID int `json:"transactionId"`
				}
				_ = json.Unmarshal(m.Response, &r)
				starts[fmt.Sprint(r.TransactionID)] = true
			case m.Action == "TransactionEvent":
				var r struct {
					EventType       string `json:"eventType"`
					TransactionInfo struct {
						TransactionID string `json:"transactionId"`
					} `json:"transactionInfo"`
				}
				_ = json.Unmarshal(m.Payload, &r)
				if r.EventType == "Started" {
					starts[r.TransactionInfo.TransactionID] = true
				}
			}
			for _, k := range sampleKeys(m.Action, m.Payload) {
				samples[k] = true
			}
		}
		txs, err := db.ListTransactions(ctx, store.TransactionFilter{ChargePointID: id})
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]int{}
		for _, tx := range txs {
			stored[tx.TransactionID]++
			if !o.lazy && o.err == nil && tx.State != store.TransactionEnded {
				report("%s: transaction %s is %s, want ended", id, tx.TransactionID, tx.State)
			}
			if tx.State == store.TransactionEnded {
				n.ended++
			}
		}
		for txID := range starts {
			if stored[txID] != 1 {
				report("%s (%s): transaction %s started and answered, stored %d times", id, o.version, txID, stored[txID])
			}
		}
		for txID, k := range stored {
			if !starts[txID] && !o.lazy {
				report("%s (%s): transaction %s stored %d times, never started by the charger as far as it knows", id, o.version, txID, k)
			}
		}
		ms, err := db.ListMeterSamples(ctx, store.MeterFilter{ChargePointID: id})
		if err != nil {
			t.Fatal(err)
		}
		if !o.lazy && len(ms) != len(samples) {
			report("%s (%s): %d sampled values answered, %d stored", id, o.version, len(samples), len(ms))
		}
		n.started += len(starts)
		n.stored += len(txs)
		n.samplesSent += len(samples)
		n.samplesStored += len(ms)
	}
	return n
}

// sampleKeys returns an identity for each sampled value in a transaction
// message (meter value timestamp, measurand, phase, context), as the
// store tells samples apart.
func sampleKeys(action string, payload json.RawMessage) []string {
	type sampled struct {
		Measurand string `json:"measurand"`
		Phase     string `json:"phase"`
		Context   string `json:"context"`
		Location  string `json:"location"`
	}
	type meterValue struct {
		Timestamp    string    `json:"timestamp"`
		SampledValue []sampled `json:"sampledValue"`
	}
	var p struct {
		MeterValue      []meterValue `json:"meterValue"`
		TransactionData []meterValue `json:"transactionData"`
	}
	if action != "MeterValues" && action != "TransactionEvent" && action != "StopTransaction" {
		return nil
	}
	_ = json.Unmarshal(payload, &p)
	var keys []string
	for _, mv := range append(p.MeterValue, p.TransactionData...) {
		for _, sv := range mv.SampledValue {
			keys = append(keys, fmt.Sprintf("%s|%s|%s|%s|%s", mv.Timestamp, sv.Measurand, sv.Phase, sv.Context, sv.Location))
		}
	}
	return keys
}
