// Package load is the load generator behind `ocppd load`: it connects
// thousands of lean simulated charge points to an OCPP-J server and plays
// a scenario with them — idle, heartbeat, sessions or storm — while it
// counts connections, calls, answers, CALLERRORs and disconnects and
// records every call's latency in a mergeable histogram.
//
// A Runner drives a fleet inside this process, one goroutine per
// connection (gws's read loop) and runtime timers for pacing. Beyond about
// 19,000 connections one process runs out of file descriptors, so Run can
// split the fleet over worker processes (re-executions of the same binary,
// see ServeWorker) that stream their statistics as JSON lines; the parent
// merges them exactly and builds one Report.
//
// Every run is bounded in time (Config.Duration) and in calls
// (Config.MaxCalls), and targets loopback addresses only unless
// Config.AllowRemote is set.
package load

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocppd/ocppd/ocpp"
)

// Scenario names what each simulated station does once connected.
type Scenario string

// The scenarios.
const (
	// Idle stations boot once and then hold the connection.
	Idle Scenario = "idle"
	// Heartbeat stations boot, then send Heartbeat: paced so that the
	// fleet sends Config.Rate calls per second, or, with no rate, each
	// station as fast as its one outstanding call allows.
	Heartbeat Scenario = "heartbeat"
	// Sessions stations play realistic charging sessions: boot, status,
	// authorize, a transaction with meter values every
	// Config.MeterInterval, stop, a pause, and again.
	Sessions Scenario = "sessions"
	// Storm stations connect and boot; then all drop their connections at
	// once and reconnect, and the run measures the time until every one is
	// Boot-Accepted again.
	Storm Scenario = "storm"
)

// Scenarios lists the scenarios.
var Scenarios = []Scenario{Idle, Heartbeat, Sessions, Storm}

// Limits on a run, so that a mistyped flag cannot run away.
const (
	MaxDuration     = 24 * time.Hour
	DefaultMaxCalls = 100_000_000
	// DefaultPerWorker is the number of connections one worker process
	// holds when Config.Workers is 0: well below the usual 20,000 open
	// files per process.
	DefaultPerWorker = 15_000
)

// Config describes a load run. The zero value of each optional field
// selects the default noted.
type Config struct {
	// URL is the server's WebSocket base URL; each station connects to
	// URL + "/" + its id. Required.
	URL string `json:"url"`
	// Stations is the number of simulated charge points. Required.
	Stations int `json:"stations"`
	// IDPrefix, IDStart and IDWidth make the station ids: IDPrefix and
	// the number IDStart+i zero-padded to IDWidth digits (LOAD000001).
	// Defaults "LOAD", 1 and 6.
	IDPrefix string `json:"id_prefix"`
	IDStart  int    `json:"id_start"`
	IDWidth  int    `json:"id_width"`
	// Versions is the OCPP version mix as weights; default all 2.0.1.
	Versions []VersionWeight `json:"versions"`
	// Scenario is what the stations do; default Heartbeat.
	Scenario Scenario `json:"scenario"`
	// Ramp is the number of new connections per second while the fleet
	// connects; 0 connects as fast as Concurrency allows.
	Ramp float64 `json:"ramp"`
	// Concurrency bounds the handshakes in flight; default 256.
	Concurrency int `json:"concurrency"`
	// Duration bounds the run, ramp included. Default 30s, at most
	// MaxDuration.
	Duration time.Duration `json:"duration"`
	// Rate is the fleet's total Heartbeat calls per second in the
	// heartbeat scenario; 0 means as fast as each station can.
	Rate float64 `json:"rate"`
	// MeterInterval is the time between meter values in a session
	// (default 10s); MetersPerSession how many a session sends (default
	// 6); SessionGap the pause between sessions (default 5s).
	MeterInterval    time.Duration `json:"meter_interval"`
	MetersPerSession int           `json:"meters_per_session"`
	SessionGap       time.Duration `json:"session_gap"`
	// CallTimeout is how long a call may wait for its answer before it is
	// counted as lost. Default 30s.
	CallTimeout time.Duration `json:"call_timeout"`
	// MaxCalls bounds the calls the run sends in all; default
	// DefaultMaxCalls.
	MaxCalls int64 `json:"max_calls"`
	// SrcIPs are local addresses to spread the connections over, to go
	// past one address's ephemeral ports; default the system's choice.
	SrcIPs []string `json:"src_ips"`
	// AllowRemote permits a URL and source addresses that are not
	// loopback.
	AllowRemote bool `json:"allow_remote"`
	// Workers is the number of worker processes; 0 uses one per
	// DefaultPerWorker stations (none below that), 1 runs in-process.
	Workers int `json:"workers"`
	// Index is the position of the first station of this fleet in the
	// whole run (set for worker processes so that ids, versions and
	// source addresses continue where the previous worker stopped).
	Index int `json:"index"`
}

// VersionWeight is one entry of the OCPP version mix.
type VersionWeight struct {
	Version ocpp.Version `json:"version"`
	Weight  int          `json:"weight"`
}

// ParseVersionMix reads "1.6=30,2.0.1=70" (a bare "2.0.1" weighs 1).
func ParseVersionMix(s string) ([]VersionWeight, error) {
	var mix []VersionWeight
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, hasW := strings.Cut(part, "=")
		v, err := ocpp.ParseVersion(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		weight := 1
		if hasW {
			if weight, err = strconv.Atoi(strings.TrimSpace(w)); err != nil || weight < 0 {
				return nil, fmt.Errorf("weight of %s: want a whole number ≥ 0, got %q", name, w)
			}
		}
		if slices.ContainsFunc(mix, func(x VersionWeight) bool { return x.Version == v }) {
			return nil, fmt.Errorf("version %s given twice", name)
		}
		mix = append(mix, VersionWeight{Version: v, Weight: weight})
	}
	if len(mix) == 0 {
		return nil, errors.New("no version given")
	}
	return mix, nil
}

// withDefaults returns c with its defaults filled in.
func (c Config) withDefaults() Config {
	if c.IDPrefix == "" {
		c.IDPrefix = "LOAD"
	}
	if c.IDStart == 0 {
		c.IDStart = 1
	}
	if c.IDWidth == 0 {
		c.IDWidth = 6
	}
	if len(c.Versions) == 0 {
		c.Versions = []VersionWeight{{Version: ocpp.V201, Weight: 1}}
	}
	if c.Scenario == "" {
		c.Scenario = Heartbeat
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 256
	}
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
	}
	if c.MeterInterval == 0 {
		c.MeterInterval = 10 * time.Second
	}
	if c.MetersPerSession == 0 {
		c.MetersPerSession = 6
	}
	if c.SessionGap == 0 {
		c.SessionGap = 5 * time.Second
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 30 * time.Second
	}
	if c.MaxCalls == 0 {
		c.MaxCalls = DefaultMaxCalls
	}
	return c
}

// Validate checks c (after defaults) and refuses targets that are not
// loopback unless AllowRemote is set.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Stations <= 0 {
		return errors.New("the number of stations must be at least 1")
	}
	if !slices.Contains(Scenarios, c.Scenario) {
		return fmt.Errorf("unknown scenario %q: want idle, heartbeat, sessions or storm", c.Scenario)
	}
	if c.Duration < 0 || c.Duration > MaxDuration {
		return fmt.Errorf("duration %s: must be positive and at most %s", c.Duration, MaxDuration)
	}
	if c.Rate < 0 || c.Ramp < 0 {
		return errors.New("rate and ramp must not be negative")
	}
	if c.MeterInterval < 0 || c.SessionGap < 0 || c.CallTimeout < 0 || c.MetersPerSession < 0 || c.MaxCalls < 0 {
		return errors.New("intervals, timeouts and counts must not be negative")
	}
	if c.IDStart < 0 || c.IDWidth < 0 || c.IDWidth > 20 {
		return errors.New("id start must not be negative and the width at most 20")
	}
	if err := ocpp.ValidateIdentity(c.stationID(c.Stations - 1)); err != nil {
		return fmt.Errorf("station ids: %w", err)
	}
	total := 0
	for _, vw := range c.Versions {
		if !vw.Version.Valid() || vw.Weight < 0 {
			return fmt.Errorf("version mix: bad entry %s=%d", vw.Version, vw.Weight)
		}
		total += vw.Weight
	}
	if total == 0 {
		return errors.New("version mix: the weights add up to zero")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return fmt.Errorf("url %q: want ws://host:port[/path] or wss://…", c.URL)
	}
	if !c.AllowRemote {
		if !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("url %q is not a loopback address: load runs target this machine only unless --allow-remote is given", c.URL)
		}
		for _, ip := range c.SrcIPs {
			if !isLoopbackHost(ip) {
				return fmt.Errorf("source address %s is not a loopback address (use --allow-remote to permit it)", ip)
			}
		}
	}
	for _, ip := range c.SrcIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("source address %q is not an IP address", ip)
		}
	}
	return nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// stationID returns the id of the i-th station of this fleet.
func (c Config) stationID(i int) string {
	return fmt.Sprintf("%s%0*d", c.IDPrefix, c.IDWidth, c.IDStart+c.Index+i)
}

// versionsFor returns the versions of stations Index … Index+n-1 of the
// whole run: a smooth weighted round robin over the mix, so that every
// prefix of the fleet follows the mix as closely as whole stations can.
func (c Config) versionsFor(n int) []ocpp.Version {
	total := 0
	for _, vw := range c.Versions {
		total += vw.Weight
	}
	cur := make([]int, len(c.Versions))
	out := make([]ocpp.Version, 0, n)
	for i := 0; i < c.Index+n; i++ {
		best := 0
		for j, vw := range c.Versions {
			cur[j] += vw.Weight
			if cur[j] > cur[best] {
				best = j
			}
		}
		cur[best] -= total
		if i >= c.Index {
			out = append(out, c.Versions[best].Version)
		}
	}
	return out
}

// String formats the mix as ParseVersionMix reads it.
func formatMix(mix []VersionWeight) string {
	var b strings.Builder
	for i, vw := range mix {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%d", strings.TrimPrefix(string(vw.Version), "ocpp"), vw.Weight)
	}
	return b.String()
}
