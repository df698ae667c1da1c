package load

import (
	_ "embed"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// ReportSchemaID names the version of the report's JSON layout.
const ReportSchemaID = "https://ocppd.dev/schemas/load-report/v1"

// ReportSchema is the JSON Schema (draft 2020-12) of Report.
//
//go:embed report.schema.json
var ReportSchema []byte

// Report is the outcome of a run, for people (WriteText) and machines
// (its JSON form, described by ReportSchema).
type Report struct {
	Schema    string         `json:"$schema"`
	Scenario  Scenario       `json:"scenario"`
	URL       string         `json:"url"`
	Stations  int            `json:"stations"`
	Workers   int            `json:"workers"`
	Versions  map[string]int `json:"versions"` // stations per OCPP version
	Settings  Settings       `json:"settings"`
	StartedAt time.Time      `json:"started_at"`
	// ElapsedSeconds is the whole run; SteadySeconds the part after every
	// station was Boot-Accepted (0 if that never happened).
	ElapsedSeconds float64 `json:"elapsed_s"`
	SteadySeconds  float64 `json:"steady_s"`
	// RampSeconds is the time until every station was Boot-Accepted.
	RampSeconds float64 `json:"ramp_s"`

	Connections ConnectionReport        `json:"connections"`
	Boot        BootReport              `json:"boot"`
	Calls       CallReport              `json:"calls"`
	Actions     map[string]ActionReport `json:"actions"`
	// Latency is over every call of every action.
	Latency      LatencyReport    `json:"latency_ms"`
	CallErrors   map[string]int64 `json:"call_errors"`
	IDMismatches int64            `json:"id_mismatches"`
	LateAnswers  int64            `json:"late_answers"`
	ServerCalls  int64            `json:"server_calls"`
	Storm        *StormReport     `json:"storm,omitempty"`
	// GeneratorPeakRSSBytes is the load generator's own peak resident
	// memory, all worker processes together.
	GeneratorPeakRSSBytes int64 `json:"generator_peak_rss_bytes"`
	// GeneratorCPUSeconds is the user and system CPU time the load
	// generator used, all processes together: on a machine it shares
	// with the server, what the server did not get.
	GeneratorCPUSeconds float64 `json:"generator_cpu_s"`
	// ErrorRate is (failed connections + unexpected disconnects +
	// CALLERRORs + lost answers + id mismatches) / (connection attempts +
	// calls sent).
	ErrorRate  float64    `json:"error_rate"`
	Thresholds Thresholds `json:"thresholds"`
}

// Settings are the scenario parameters of a run.
type Settings struct {
	DurationSeconds      float64  `json:"duration_s"`
	Ramp                 float64  `json:"ramp_per_s"`
	Rate                 float64  `json:"rate_per_s"`
	MeterIntervalSeconds float64  `json:"meter_interval_s"`
	MetersPerSession     int      `json:"meters_per_session"`
	SessionGapSeconds    float64  `json:"session_gap_s"`
	CallTimeoutSeconds   float64  `json:"call_timeout_s"`
	FirstID              string   `json:"first_id"`
	LastID               string   `json:"last_id"`
	SrcIPs               []string `json:"src_ips"`
}

// ConnectionReport counts connection attempts and their outcomes.
type ConnectionReport struct {
	Attempted int64 `json:"attempted"`
	Made      int64 `json:"made"`
	Failed    int64 `json:"failed"`
	// FailedBy counts failed attempts by cause: "http 404", "refused",
	// "timeout", "no free local port", …
	FailedBy map[string]int64 `json:"failed_by"`
	// Unexpected counts connections that ended while the run went on and
	// not by the storm's own drop; ClosedBy by close code ("close 1008")
	// or cause ("eof", "reset").
	Unexpected int64            `json:"unexpected_disconnects"`
	ClosedBy   map[string]int64 `json:"closed_by"`
	Peak       int64            `json:"peak_connected"`
}

// BootReport counts BootNotification answers by status.
type BootReport struct {
	Accepted int64 `json:"accepted"`
	Pending  int64 `json:"pending"`
	Rejected int64 `json:"rejected"`
}

// CallReport counts the calls of every action together.
type CallReport struct {
	Sent            int64   `json:"sent"`
	Results         int64   `json:"results"`
	Errors          int64   `json:"errors"`
	Lost            int64   `json:"lost"`
	PerSecond       float64 `json:"per_s"`
	SteadyPerSecond float64 `json:"steady_per_s"`
}

// ActionReport is one action's calls and latency.
type ActionReport struct {
	CallReport
	Latency LatencyReport `json:"latency_ms"`
}

// LatencyReport summarises a latency histogram in milliseconds.
type LatencyReport struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// StormReport is the outcome of the storm scenario.
type StormReport struct {
	Dropped   int64 `json:"dropped"`
	Recovered int64 `json:"recovered"`
	// RecoverySeconds is the time from the drop until the last dropped
	// station was Boot-Accepted again (0 if not all were).
	RecoverySeconds float64 `json:"recovery_s"`
	AllRecovered    bool    `json:"all_recovered"`
	// Reconnect is, per station, the time from the drop to its new
	// Boot-Accepted.
	Reconnect LatencyReport `json:"reconnect_ms"`
}

// Thresholds are the limits a run is held to, and the verdict.
type Thresholds struct {
	MaxErrorRate *float64 `json:"max_error_rate"`
	MaxP99Ms     *float64 `json:"max_p99_ms"`
	Violations   []string `json:"violations"`
	Passed       bool     `json:"passed"`
}

func latencyOf(h *HistogramData) LatencyReport {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }
	if h == nil {
		return LatencyReport{}
	}
	return LatencyReport{
		Count: h.Count, Mean: ms(h.Mean()),
		P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)), Max: ms(h.Max()),
	}
}

func rate(n int64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return math.Round(float64(n)/secs*10) / 10
}

func (t *tracker) report(s *Stats, end time.Time, workers int) *Report {
	cfg := t.cfg
	elapsed := end.Sub(t.start).Seconds()
	r := &Report{
		Schema: ReportSchemaID, Scenario: cfg.Scenario, URL: cfg.URL,
		Stations: cfg.Stations, Workers: workers, Versions: map[string]int{},
		Settings: Settings{
			DurationSeconds: cfg.Duration.Seconds(), Ramp: cfg.Ramp, Rate: cfg.Rate,
			MeterIntervalSeconds: cfg.MeterInterval.Seconds(), MetersPerSession: cfg.MetersPerSession,
			SessionGapSeconds: cfg.SessionGap.Seconds(), CallTimeoutSeconds: cfg.CallTimeout.Seconds(),
			FirstID: cfg.stationID(0), LastID: cfg.stationID(cfg.Stations - 1),
			SrcIPs: append([]string{}, cfg.SrcIPs...),
		},
		StartedAt:      t.start.UTC(),
		ElapsedSeconds: round3(elapsed),
		Connections: ConnectionReport{
			Attempted: s.Attempts, Made: s.Made, Failed: s.Failed, FailedBy: nonNil(s.FailedBy),
			Unexpected: s.Unexpected, ClosedBy: nonNil(s.ClosedBy), Peak: t.peak,
		},
		Boot:                  BootReport{Accepted: s.BootAccepted, Pending: s.BootPending, Rejected: s.BootRejected},
		Actions:               map[string]ActionReport{},
		CallErrors:            nonNil(s.CallErrors),
		IDMismatches:          s.Mismatches,
		LateAnswers:           s.Late,
		ServerCalls:           s.ServerCalls,
		GeneratorPeakRSSBytes: t.peakRSS,
		GeneratorCPUSeconds:   round3(s.CPUSeconds),
	}
	for _, v := range cfg.versionsFor(cfg.Stations) {
		r.Versions[strings.TrimPrefix(string(v), "ocpp")]++
	}
	steady := 0.0
	if !t.steadyAt.IsZero() {
		steady = end.Sub(t.steadyAt).Seconds()
		r.SteadySeconds = round3(steady)
		r.RampSeconds = round3(t.steadyAt.Sub(t.start).Seconds())
	}
	all := &HistogramData{}
	for _, name := range actions {
		a := s.Actions[name]
		if a == nil {
			continue
		}
		ar := ActionReport{CallReport: CallReport{
			Sent: a.Sent, Results: a.Results, Errors: a.Errors, Lost: a.Lost,
			PerSecond: rate(a.Results+a.Errors, elapsed),
		}, Latency: latencyOf(a.Latency)}
		if t.steadyBase != nil && steady > 0 {
			var base int64
			if b := t.steadyBase.Actions[name]; b != nil {
				base = b.Results + b.Errors
			}
			ar.SteadyPerSecond = rate(a.Results+a.Errors-base, steady)
		}
		r.Actions[name] = ar
		r.Calls.Sent += a.Sent
		r.Calls.Results += a.Results
		r.Calls.Errors += a.Errors
		r.Calls.Lost += a.Lost
		r.Calls.SteadyPerSecond += ar.SteadyPerSecond
		all.Merge(a.Latency)
	}
	r.Calls.PerSecond = rate(r.Calls.Results+r.Calls.Errors, elapsed)
	r.Calls.SteadyPerSecond = math.Round(r.Calls.SteadyPerSecond*10) / 10
	r.Latency = latencyOf(all)
	if cfg.Scenario == Storm {
		st := &StormReport{Dropped: s.Dropped, Recovered: s.Recovered, Reconnect: latencyOf(s.Recovery)}
		st.AllRecovered = s.Dropped > 0 && s.Recovered >= s.Dropped
		if st.AllRecovered && s.DropAt > 0 {
			st.RecoverySeconds = round3(time.Duration(s.LastRecoveredAt - s.DropAt).Seconds())
		}
		r.Storm = st
	}
	errs := s.Failed + s.Unexpected + r.Calls.Errors + r.Calls.Lost + s.Mismatches
	if d := s.Attempts + r.Calls.Sent; d > 0 {
		r.ErrorRate = float64(errs) / float64(d)
	}
	r.Thresholds.Passed = true
	r.Thresholds.Violations = []string{}
	return r
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func nonNil(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

// Check holds the report to the limits (nil: no limit) and records the
// verdict in r.Thresholds; it reports whether the run passed. A storm
// that did not recover completely is a violation too.
func (r *Report) Check(maxErrorRate, maxP99Ms *float64) bool {
	t := &r.Thresholds
	t.MaxErrorRate, t.MaxP99Ms = maxErrorRate, maxP99Ms
	t.Violations = []string{}
	if maxErrorRate != nil && r.ErrorRate > *maxErrorRate {
		t.Violations = append(t.Violations, fmt.Sprintf("error rate %.4g exceeds --max-error-rate %.4g", r.ErrorRate, *maxErrorRate))
	}
	if maxP99Ms != nil && r.Latency.P99 > *maxP99Ms {
		t.Violations = append(t.Violations, fmt.Sprintf("p99 latency %.3f ms exceeds --max-p99 %.3f ms", r.Latency.P99, *maxP99Ms))
	}
	if r.Storm != nil && !r.Storm.AllRecovered {
		t.Violations = append(t.Violations, fmt.Sprintf("storm: %d of %d dropped stations were Boot-Accepted again", r.Storm.Recovered, r.Storm.Dropped))
	}
	t.Passed = len(t.Violations) == 0
	return t.Passed
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s: %d stations (%s) against %s, %d process(es)\n",
		r.Scenario, r.Stations, versionsText(r.Versions), r.URL, r.Workers)
	fmt.Fprintf(&b, "elapsed %.1fs", r.ElapsedSeconds)
	if r.SteadySeconds > 0 {
		fmt.Fprintf(&b, " (all Boot-Accepted after %.1fs, then %.1fs steady)", r.RampSeconds, r.SteadySeconds)
	} else {
		b.WriteString(" (the fleet was never all Boot-Accepted at once)")
	}
	b.WriteString("\n\n")
	c := r.Connections
	fmt.Fprintf(&b, "connections: %d attempted, %d made, %d failed%s; peak %d open\n",
		c.Attempted, c.Made, c.Failed, countsText(c.FailedBy), c.Peak)
	fmt.Fprintf(&b, "unexpected disconnects: %d%s\n", c.Unexpected, countsText(c.ClosedBy))
	fmt.Fprintf(&b, "boot: %d accepted, %d pending, %d rejected\n", r.Boot.Accepted, r.Boot.Pending, r.Boot.Rejected)
	if r.Storm != nil {
		s := r.Storm
		if s.AllRecovered {
			fmt.Fprintf(&b, "storm: %d dropped, all Boot-Accepted again after %.3fs (per station p50 %.0f ms, p99 %.0f ms)\n",
				s.Dropped, s.RecoverySeconds, s.Reconnect.P50, s.Reconnect.P99)
		} else {
			fmt.Fprintf(&b, "storm: %d dropped, %d Boot-Accepted again — NOT all recovered\n", s.Dropped, s.Recovered)
		}
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "action\tsent\tresults\terrors\tlost\tmsg/s\tsteady/s\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\t")
	row := func(name string, c CallReport, l LatencyReport) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
			name, c.Sent, c.Results, c.Errors, c.Lost, c.PerSecond, c.SteadyPerSecond, l.P50, l.P90, l.P99, l.P999, l.Max)
	}
	names := make([]string, 0, len(r.Actions))
	for n := range r.Actions {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return actionIndex[a] - actionIndex[b] })
	for _, n := range names {
		a := r.Actions[n]
		row(n, a.CallReport, a.Latency)
	}
	row("all", r.Calls, r.Latency)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nCALLERRORs:%s\n", orNone(countsText(r.CallErrors)))
	fmt.Fprintf(&b, "id mismatches: %d, late answers: %d, calls from the server: %d\n", r.IDMismatches, r.LateAnswers, r.ServerCalls)
	fmt.Fprintf(&b, "error rate: %.4g; load generator peak RSS %.1f MiB, CPU %.1f s\n", r.ErrorRate, float64(r.GeneratorPeakRSSBytes)/(1<<20), r.GeneratorCPUSeconds)
	if len(r.Thresholds.Violations) > 0 {
		b.WriteString("\nFAILED:\n")
		for _, v := range r.Thresholds.Violations {
			fmt.Fprintf(&b, "  %s\n", v)
		}
	} else if r.Thresholds.MaxErrorRate != nil || r.Thresholds.MaxP99Ms != nil {
		b.WriteString("\nthresholds: passed\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func versionsText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d× %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

// countsText formats counts as " (http 404: 3, timeout: 1)", largest
// first; "" when empty.
func countsText(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func orNone(s string) string {
	if s == "" {
		return " none"
	}
	return s
}
