package load

import (
	"maps"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// actions are the calls stations send, in report order.
var actions = []string{
	"BootNotification", "StatusNotification", "Heartbeat", "Authorize",
	"StartTransaction", "MeterValues", "StopTransaction", "TransactionEvent",
}

// actionIndex maps an action to its slot in counters.act.
var actionIndex = func() map[string]int {
	m := make(map[string]int, len(actions))
	for i, a := range actions {
		m[a] = i
	}
	return m
}()

// actionCounters are one action's live counters.
type actionCounters struct {
	sent, results, errors, lost atomic.Int64
	latency                     Histogram
}

// counters are a fleet's live statistics, updated from every station's
// goroutine.
type counters struct {
	attempts, made, failed     atomic.Int64
	connected, accepted        atomic.Int64 // gauges
	unexpected                 atomic.Int64
	mismatches, late, srvCalls atomic.Int64
	bootAccepted, bootPending  atomic.Int64
	bootRejected               atomic.Int64
	calls                      atomic.Int64 // all calls sent, for MaxCalls
	act                        [8]actionCounters

	mu         sync.Mutex
	failedBy   map[string]int64 // "http 404", "dial", "timeout", "close 1008"…
	closedBy   map[string]int64 // unexpected disconnects by close code / cause
	callErrors map[string]int64 // CALLERRORs by error code

	// storm
	dropAt, lastRecovered atomic.Int64 // Unix ns
	dropped, recovered    atomic.Int64
	recovery              Histogram
}

func newCounters() *counters {
	return &counters{failedBy: map[string]int64{}, closedBy: map[string]int64{}, callErrors: map[string]int64{}}
}

func (c *counters) inc(m map[string]int64, key string) {
	c.mu.Lock()
	m[key]++
	c.mu.Unlock()
}

// Stats is a snapshot of a fleet's statistics. Counters add up and gauges
// (Connected, Accepted) sum across worker processes, so Merge of the
// workers' Stats is the whole run's.
type Stats struct {
	Stations  int   `json:"stations"`
	Attempts  int64 `json:"attempts"`
	Made      int64 `json:"made"`
	Failed    int64 `json:"failed"`
	Connected int64 `json:"connected"`
	// Accepted is the number of stations connected now whose last
	// BootNotification was answered Accepted.
	Accepted     int64                   `json:"accepted"`
	FailedBy     map[string]int64        `json:"failed_by"`
	Unexpected   int64                   `json:"unexpected"`
	ClosedBy     map[string]int64        `json:"closed_by"`
	CallErrors   map[string]int64        `json:"call_errors"`
	Mismatches   int64                   `json:"mismatches"`
	Late         int64                   `json:"late"`
	ServerCalls  int64                   `json:"server_calls"`
	BootAccepted int64                   `json:"boot_accepted"`
	BootPending  int64                   `json:"boot_pending"`
	BootRejected int64                   `json:"boot_rejected"`
	Actions      map[string]*ActionStats `json:"actions"`

	DropAt          int64          `json:"drop_at,omitempty"` // Unix ns; earliest over workers
	Dropped         int64          `json:"dropped"`
	Recovered       int64          `json:"recovered"`
	LastRecoveredAt int64          `json:"last_recovered_at,omitempty"` // Unix ns; latest over workers
	Recovery        *HistogramData `json:"recovery,omitempty"`

	RSSBytes   int64   `json:"rss_bytes"`   // of the generator process(es)
	CPUSeconds float64 `json:"cpu_seconds"` // user + system time of the generator process(es)
	Done       bool    `json:"done"`        // every part of the fleet has finished
}

// ActionStats are one action's counts and latencies.
type ActionStats struct {
	Sent    int64          `json:"sent"`
	Results int64          `json:"results"`
	Errors  int64          `json:"errors"`
	Lost    int64          `json:"lost"`
	Latency *HistogramData `json:"latency"`
}

func (c *counters) snapshot(stations int) *Stats {
	s := &Stats{
		Stations: stations,
		Attempts: c.attempts.Load(), Made: c.made.Load(), Failed: c.failed.Load(),
		Connected: c.connected.Load(), Accepted: c.accepted.Load(),
		Unexpected: c.unexpected.Load(), Mismatches: c.mismatches.Load(), Late: c.late.Load(),
		ServerCalls:  c.srvCalls.Load(),
		BootAccepted: c.bootAccepted.Load(), BootPending: c.bootPending.Load(), BootRejected: c.bootRejected.Load(),
		Actions: map[string]*ActionStats{},
		DropAt:  c.dropAt.Load(), Dropped: c.dropped.Load(), Recovered: c.recovered.Load(),
		LastRecoveredAt: c.lastRecovered.Load(),
		RSSBytes:        selfRSS(),
		CPUSeconds:      selfCPU(),
	}
	if s.Dropped > 0 {
		s.Recovery = c.recovery.Snapshot()
	}
	c.mu.Lock()
	s.FailedBy, s.ClosedBy, s.CallErrors = maps.Clone(c.failedBy), maps.Clone(c.closedBy), maps.Clone(c.callErrors)
	c.mu.Unlock()
	for i, name := range actions {
		a := &c.act[i]
		if a.sent.Load() == 0 {
			continue
		}
		s.Actions[name] = &ActionStats{
			Sent: a.sent.Load(), Results: a.results.Load(), Errors: a.errors.Load(), Lost: a.lost.Load(),
			Latency: a.latency.Snapshot(),
		}
	}
	return s
}

// Merge adds o (another part of the fleet) to s.
func (s *Stats) Merge(o *Stats) {
	s.Stations += o.Stations
	s.Attempts += o.Attempts
	s.Made += o.Made
	s.Failed += o.Failed
	s.Connected += o.Connected
	s.Accepted += o.Accepted
	s.Unexpected += o.Unexpected
	s.Mismatches += o.Mismatches
	s.Late += o.Late
	s.ServerCalls += o.ServerCalls
	s.BootAccepted += o.BootAccepted
	s.BootPending += o.BootPending
	s.BootRejected += o.BootRejected
	s.Dropped += o.Dropped
	s.Recovered += o.Recovered
	s.RSSBytes += o.RSSBytes
	s.CPUSeconds += o.CPUSeconds
	if o.DropAt != 0 && (s.DropAt == 0 || o.DropAt < s.DropAt) {
		s.DropAt = o.DropAt
	}
	s.LastRecoveredAt = max(s.LastRecoveredAt, o.LastRecoveredAt)
	if o.Recovery != nil {
		if s.Recovery == nil {
			s.Recovery = &HistogramData{}
		}
		s.Recovery.Merge(o.Recovery)
	}
	s.FailedBy = addMaps(s.FailedBy, o.FailedBy)
	s.ClosedBy = addMaps(s.ClosedBy, o.ClosedBy)
	s.CallErrors = addMaps(s.CallErrors, o.CallErrors)
	if s.Actions == nil {
		s.Actions = map[string]*ActionStats{}
	}
	for name, a := range o.Actions {
		t := s.Actions[name]
		if t == nil {
			t = &ActionStats{Latency: &HistogramData{}}
			s.Actions[name] = t
		}
		t.Sent += a.Sent
		t.Results += a.Results
		t.Errors += a.Errors
		t.Lost += a.Lost
		if t.Latency == nil {
			t.Latency = &HistogramData{}
		}
		t.Latency.Merge(a.Latency)
	}
}

// Clone returns a deep copy of s.
func (s *Stats) Clone() *Stats {
	c := &Stats{}
	c.Merge(s)
	c.Done = s.Done
	return c
}

func addMaps(a, b map[string]int64) map[string]int64 {
	if a == nil {
		a = map[string]int64{}
	}
	for k, v := range b {
		a[k] += v
	}
	return a
}

// answered returns the number of answers (results and CALLERRORs) and of
// calls sent over all actions.
func (s *Stats) totals() (sent, results, errors, lost int64) {
	for _, a := range s.Actions {
		sent += a.Sent
		results += a.Results
		errors += a.Errors
		lost += a.Lost
	}
	return
}

// selfRSS returns this process's resident set size, 0 where /proc is
// missing.
func selfRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseRSS(string(b))
}

// selfCPU returns the user and system CPU time this process has used, in
// seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// parseRSS reads VmRSS from the text of /proc/PID/status.
func parseRSS(status string) int64 {
	for line := range strings.SplitSeq(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// ProcessRSS returns the resident set size of process pid from
// /proc/PID/status.
func ProcessRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	return parseRSS(string(b)), nil
}

// nowNano is time.Now().UnixNano(), a variable for nothing but brevity.
func nowNano() int64 { return time.Now().UnixNano() }
