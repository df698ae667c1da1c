package rules_test

import (
	"testing"

	"github.com/ocppd/ocppd/rules"
)

func benchEval(b *testing.B, topic, payload string, wantMatch bool) {
	st := mustParse(b, seedSQL)
	in := rules.Input{Topic: topic, Payload: []byte(payload), Timestamp: msgTime}
	if _, ok := st.Eval(in); ok != wantMatch {
		b.Fatalf("matched = %v, want %v", ok, wantMatch)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		st.Eval(in)
	}
}

// BenchmarkSeedRuleNonMatching is the hot path: the seed's rule against a
// MeterValues CALL on a matching topic.
func BenchmarkSeedRuleNonMatching(b *testing.B) {
	benchEval(b, "CP1/in", meterValues, false)
}

// BenchmarkSeedRuleMatching evaluates the seed's rule against a Heartbeat
// and builds the row.
func BenchmarkSeedRuleMatching(b *testing.B) {
	benchEval(b, "CP1/in", `[2,"19223201","Heartbeat",{}]`, true)
}

// BenchmarkSeedRuleOtherTopic stops at the FROM filter.
func BenchmarkSeedRuleOtherTopic(b *testing.B) {
	benchEval(b, "CP1/out", meterValues, false)
}

func BenchmarkParseSeed(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rules.Parse(seedSQL); err != nil {
			b.Fatal(err)
		}
	}
}
