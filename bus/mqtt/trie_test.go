package mqtt

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ocppd/ocppd/bus"
)

func trieMatch(tr *trie, topic string) []string {
	var got []string
	tr.match(topic, func(e *entry) { got = append(got, e.filter) })
	slices.Sort(got)
	return got
}

func newEntry(filter string) *entry {
	group, f := bus.SplitShared(filter)
	return &entry{filter: filter, match: f, shared: group != ""}
}

func TestTrieMatch(t *testing.T) {
	filters := []string{
		"#", "+", "+/+", "+/in", "CP1/in", "CP1/out", "CP1/#", "CP1/+/x", "a/b/c",
		"a/#", "a/+/#", "$SYS/#", "$SYS/x", "+/x/#", "$share/g/+/in", "$share/h/CP1/in",
		"/x", "+/", "x//y",
	}
	var tr trie
	for _, f := range filters {
		tr.add(newEntry(f))
	}
	tests := map[string][]string{
		"CP1/in":      {"#", "$share/g/+/in", "$share/h/CP1/in", "+/+", "+/in", "CP1/#", "CP1/in"},
		"CP1":         {"#", "+", "CP1/#"},
		"CP1/out":     {"#", "+/+", "CP1/#", "CP1/out"},
		"CP1/y/x":     {"#", "CP1/#", "CP1/+/x"},
		"a":           {"#", "+", "a/#"},
		"a/b/c":       {"#", "a/#", "a/+/#", "a/b/c"},
		"a/b":         {"#", "+/+", "a/#", "a/+/#"},
		"$SYS/x":      {"$SYS/#", "$SYS/x"},
		"$SYS/x/in":   {"$SYS/#"},
		"/x":          {"#", "+/+", "+/x/#", "/x"},
		"q/":          {"#", "+/", "+/+"},
		"x//y":        {"#", "x//y"},
		"z/x":         {"#", "+/+", "+/x/#"},
		"other/in/no": {"#"},
	}
	for topic, want := range tests {
		if got := trieMatch(&tr, topic); !slices.Equal(got, want) {
			t.Errorf("match %q = %q, want %q", topic, got, want)
		}
	}
}

// TestTrieAgainstMatch cross-checks the trie against bus.Match, the
// reference matcher, over random filters and topics, and checks that
// removal prunes exactly what was removed.
func TestTrieAgainstMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"a", "b", "CP1", "in", "out", "", "$SYS"}
	randLevels := func(n int, wild bool) string {
		var ls []string
		for i := range n {
			w := words[rng.IntN(len(words))]
			if w == "$SYS" && i > 0 {
				w = "x"
			}
			if wild {
				switch rng.IntN(5) {
				case 0:
					w = "+"
				case 1:
					if i == n-1 {
						w = "#"
					}
				}
			}
			ls = append(ls, w)
		}
		return strings.Join(ls, "/")
	}
	var tr trie
	entries := map[string]*entry{}
	for range 300 {
		f := randLevels(1+rng.IntN(4), true)
		if entries[f] == nil {
			entries[f] = newEntry(f)
			tr.add(entries[f])
		}
	}
	check := func() {
		t.Helper()
		for range 2000 {
			topic := randLevels(1+rng.IntN(5), false)
			var want []string
			for f := range entries {
				if bus.Match(f, topic) {
					want = append(want, f)
				}
			}
			slices.Sort(want)
			if got := trieMatch(&tr, topic); !slices.Equal(got, want) {
				t.Fatalf("match %q = %q, want %q", topic, got, want)
			}
		}
	}
	check()
	i := 0
	for f, e := range entries {
		if i%2 == 0 {
			tr.remove(e)
			delete(entries, f)
		}
		i++
	}
	check()
	for _, e := range entries {
		tr.remove(e)
	}
	if len(tr.root.children) != 0 || len(tr.root.entries) != 0 {
		t.Errorf("trie not empty after removing every filter: %d children", len(tr.root.children))
	}
}

func TestValidFilter(t *testing.T) {
	for _, f := range []string{"a", "a/b", "+", "#", "a/+/b", "a/#", "$share/g/a/+", "$share/g/#", "/", "a//b"} {
		if err := validFilter(f); err != nil {
			t.Errorf("validFilter(%q) = %v, want nil", f, err)
		}
	}
	for _, f := range []string{"", "a#", "a/#/b", "a+/b", "$share/", "$share/g", "$share//a", "$share/g+/a", "$share/g/", "a\x00b"} {
		if err := validFilter(f); err == nil {
			t.Errorf("validFilter(%q) = nil, want an error", f)
		}
	}
}

// BenchmarkTrieMatch routes topics among 20,000 per-station filters plus
// the usual wildcards, as a gateway holding 20k stations does.
func BenchmarkTrieMatch(b *testing.B) {
	var tr trie
	const n = 20000
	for i := range n {
		tr.add(newEntry(fmt.Sprintf("fleet/CP%05d/out", i)))
	}
	tr.add(newEntry("fleet/+/in"))
	tr.add(newEntry("fleet/ocppd/lifecycle/+"))
	topics := make([]string, 1024)
	for i := range topics {
		topics[i] = fmt.Sprintf("fleet/CP%05d/out", rand.IntN(n))
	}
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for i := 0; i < b.N; i++ {
		tr.match(topics[i%len(topics)], func(*entry) { hits++ })
	}
	if hits != b.N {
		b.Fatalf("%d hits for %d lookups", hits, b.N)
	}
}
