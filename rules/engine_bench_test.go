package rules_test

import (
	"context"
	"testing"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/memory"
	"github.com/ocppd/ocppd/rules"
	"github.com/ocppd/ocppd/store"
)

// discardStore is a store.Rules whose table writes cost nothing, so that
// the benchmarks measure the engine.
type discardStore struct{ store.Rules }

func (discardStore) RulesRevision(context.Context) (int64, error)          { return 0, nil }
func (discardStore) ListRules(context.Context) ([]store.RuleRecord, error) { return nil, nil }
func (discardStore) PutTableRows(context.Context, []store.TableRow) error  { return nil }

// benchEngine measures what the engine adds to the publisher's goroutine
// per message: the bus delivery to the engine's handler, the evaluation,
// and for a match the row and the hand-off to the table action's queue
// (the store write runs on the action's worker).
func benchEngine(b *testing.B, payload string, engine bool) {
	bb := memory.New()
	if engine {
		r, err := rules.ParseRule([]byte(`{"name":"seed","sql":"` + seedLine + `","actions":[{"table":{"name":"hb","key":"chargePointId"}}]}`))
		if err != nil {
			b.Fatal(err)
		}
		e := rules.New(rules.Options{Bus: bb, Store: discardStore{}, Static: []rules.Rule{r}, QueueSize: 1 << 16})
		if err := e.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		defer e.Close()
	} else if _, err := bb.Subscribe(context.Background(), "$share/rules/+/in", func(bus.Message) {}); err != nil {
		b.Fatal(err)
	}
	m := bus.Message{Topic: "CP1/in", Payload: []byte(payload)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := bb.Publish(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEngineBaseline is a publish on the memory bus to a shared
// subscription that does nothing: the bus's own cost.
func BenchmarkEngineBaseline(b *testing.B) { benchEngine(b, meterValues, false) }

// BenchmarkEngineNonMatching: the seed's rule against MeterValues.
func BenchmarkEngineNonMatching(b *testing.B) { benchEngine(b, meterValues, true) }

// BenchmarkEngineMatching: the seed's rule against a Heartbeat, with its
// table action.
func BenchmarkEngineMatching(b *testing.B) {
	benchEngine(b, `[2,"19223201","Heartbeat",{}]`, true)
}
