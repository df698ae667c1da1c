package load

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ReportSchema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("report.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sampleReport builds a report from hand-made statistics with every
// part filled in: a storm, CALLERRORs, failures.
func sampleReport() *Report {
	var h Histogram
	for i := range 100 {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	s := &Stats{
		Stations: 10, Attempts: 12, Made: 10, Failed: 2, FailedBy: map[string]int64{"http 404": 2},
		Unexpected: 1, ClosedBy: map[string]int64{"close 1008": 1}, CallErrors: map[string]int64{"NotImplemented": 3},
		BootAccepted: 10, Dropped: 10, Recovered: 10, DropAt: 1e18, LastRecoveredAt: 1e18 + 2e9, Recovery: h.Snapshot(),
		Actions: map[string]*ActionStats{
			"BootNotification": {Sent: 10, Results: 10, Latency: h.Snapshot()},
			"Authorize":        {Sent: 5, Results: 2, Errors: 3, Latency: h.Snapshot()},
		},
	}
	cfg := Config{URL: "ws://127.0.0.1:1", Stations: 10, Scenario: Storm}.withDefaults()
	start := time.Now().Add(-5 * time.Second)
	tr := &tracker{cfg: cfg, start: start, peak: 10}
	tr.steady(start.Add(time.Second), &Stats{Actions: map[string]*ActionStats{}})
	return tr.report(s, time.Now(), 1)
}

func TestReportMatchesSchema(t *testing.T) {
	schema := compileSchema(t)
	r := sampleReport()
	r.Check(ptr(0.01), ptr(5.0))
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(v); err != nil {
		t.Fatalf("report does not match its schema: %v\n%s", err, raw)
	}
	if r.Thresholds.Passed || len(r.Thresholds.Violations) != 2 {
		t.Errorf("thresholds %+v, want the error rate and p99 violated", r.Thresholds)
	}
	if r.Storm.RecoverySeconds != 2 || !r.Storm.AllRecovered {
		t.Errorf("storm %+v, want 2 s and all recovered", r.Storm)
	}
	// (2 failed + 1 unexpected + 3 CALLERRORs) / (12 attempts + 15 calls)
	if want := 6.0 / 27; r.ErrorRate != want {
		t.Errorf("error rate %v, want %v", r.ErrorRate, want)
	}

	// A report without a storm and with no limits is valid too.
	r2 := sampleReport()
	r2.Storm = nil
	r2.Check(nil, nil)
	raw, _ = json.Marshal(r2)
	v, _ = jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err := schema.Validate(v); err != nil {
		t.Fatalf("report without storm: %v", err)
	}
	// The schema is strict: an unknown field is refused.
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	m["surprise"] = 1
	if err := schema.Validate(m); err == nil {
		t.Errorf("schema accepts unknown fields")
	}
}

func TestReportText(t *testing.T) {
	r := sampleReport()
	r.Check(ptr(0.0), nil)
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"http 404: 2", "close 1008: 1", "NotImplemented: 3", "Authorize", "all Boot-Accepted again after 2.000s", "FAILED:"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}
