package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ocppd/ocppd/load"
)

const loadSummary = `Connect many simulated charge points to an OCPP-J server and play a
scenario, then print a report: connections made and failed, messages per
second by action, latency percentiles, CALLERRORs by code, unexpected
disconnects and id mismatches.

scenarios:
  idle       boot, then hold the connection
  heartbeat  boot, then Heartbeat at --rate per second in all (0: each
             station as fast as its one outstanding call allows)
  sessions   boot, status, then again and again: Authorize, a transaction
             with meter values every --meter-interval, stop, a pause
  storm      boot every station, drop every connection at once, and
             measure the time until all are Boot-Accepted again

The stations must be registered first, e.g.
  ocppd cp add --range LOAD000001-LOAD001000

Only loopback URLs are accepted unless --allow-remote is given. Beyond
--per-worker stations the fleet is split over worker processes.

example: ocppd load --url ws://127.0.0.1:8080 --cps 1000 --scenario heartbeat --duration 30s`

// workerFlag is the hidden first argument that makes `ocppd load` a
// worker process of another `ocppd load`; the worker's configuration
// follows as JSON.
const workerFlag = "--load-worker"

func loadCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 2 && args[0] == workerFlag {
		return loadWorker(ctx, args[1], stdout, stderr)
	}
	fs := newFlagSet("load [flags]", loadSummary, stderr)
	var cfg load.Config
	fs.StringVar(&cfg.URL, "url", "", "server WebSocket base URL, e.g. ws://127.0.0.1:8080 (required)")
	fs.IntVar(&cfg.Stations, "cps", 100, "number of simulated charge points")
	fs.StringVar(&cfg.IDPrefix, "id-prefix", "LOAD", "station id prefix")
	fs.IntVar(&cfg.IDStart, "id-start", 1, "number of the first station id")
	fs.IntVar(&cfg.IDWidth, "id-width", 6, "digits of the station number (LOAD000001)")
	mix := fs.String("ocpp", "2.0.1", "OCPP version mix as version=weight, e.g. 1.6=30,2.0.1=70")
	scenario := fs.String("scenario", "heartbeat", "idle, heartbeat, sessions or storm")
	fs.Float64Var(&cfg.Ramp, "ramp", 0, "new connections per second while the fleet connects (0: as fast as --concurrency allows)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 256, "handshakes in flight at most")
	secondsVar(fs, &cfg.Duration, "duration", 30*time.Second, "how long the run lasts, ramp included (a storm ends once recovered)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "heartbeat scenario: Heartbeat calls per second for the whole fleet (0: as fast as possible)")
	secondsVar(fs, &cfg.MeterInterval, "meter-interval", 10*time.Second, "sessions scenario: time between meter values")
	fs.IntVar(&cfg.MetersPerSession, "meters", 6, "sessions scenario: meter values per transaction")
	secondsVar(fs, &cfg.SessionGap, "session-gap", 5*time.Second, "sessions scenario: pause between transactions")
	secondsVar(fs, &cfg.CallTimeout, "call-timeout", 30*time.Second, "a call unanswered for this long counts as lost")
	fs.Int64Var(&cfg.MaxCalls, "max-calls", load.DefaultMaxCalls, "stop after this many calls in all")
	srcIPs := fs.String("src-ips", "", "comma-separated local addresses to spread connections over, e.g. 127.0.0.2,127.0.0.3 (each has ~28k ephemeral ports)")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow a URL or source address that is not loopback")
	fs.IntVar(&cfg.Workers, "workers", 0, "worker processes (0: one per --per-worker stations; 1: this process only)")
	perWorker := fs.Int("per-worker", load.DefaultPerWorker, "stations per worker process when --workers is 0 (the open-file limit is per process)")
	asJSON := fs.Bool("json", false, "print the report as JSON (schema: load/report.schema.json)")
	maxErr := fs.Float64("max-error-rate", -1, "exit non-zero when the error rate exceeds this fraction, e.g. 0.001 (negative: no limit)")
	maxP99 := fs.Float64("max-p99", -1, "exit non-zero when the p99 latency exceeds this many milliseconds (negative: no limit)")
	progress := fs.String("progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), on or off")
	logCfg := addLogFlags(fs)
	o, err := loadFlags(fs, args)
	if err != nil {
		return err
	}
	if len(o.args) > 0 {
		return usageErrorf("load: unexpected argument %q", o.args[0])
	}
	if cfg.URL == "" {
		return usageErrorf("load: --url is required, e.g. --url ws://127.0.0.1:8080")
	}
	if cfg.Versions, err = load.ParseVersionMix(*mix); err != nil {
		return usageErrorf("load: --ocpp: %v", err)
	}
	cfg.Scenario = load.Scenario(*scenario)
	if *srcIPs != "" {
		for ip := range strings.SplitSeq(*srcIPs, ",") {
			if ip = strings.TrimSpace(ip); ip != "" {
				cfg.SrcIPs = append(cfg.SrcIPs, ip)
			}
		}
	}
	if cfg.Workers == 0 && *perWorker > 0 {
		cfg.Workers = (cfg.Stations + *perWorker - 1) / *perWorker
	}
	if err := cfg.Validate(); err != nil {
		return usageErrorf("load: %v", err)
	}
	logger, err := logCfg.logger(stderr)
	if err != nil {
		return err
	}
	showBar := *progress == "on" || (*progress == "auto" && isTerminal(stderr))
	if *progress != "on" && *progress != "off" && *progress != "auto" {
		return usageErrorf("load: --progress %q: expected auto, on or off", *progress)
	}
	bar := newLoadBar(stderr, cfg, showBar)
	rep, runErr := load.Run(ctx, cfg, load.Options{
		Logger:        logger,
		Progress:      bar.update,
		WorkerCommand: workerCommand(stderr, logCfg),
	})
	bar.finish()
	if rep == nil {
		return runErr
	}
	var me, mp *float64
	if *maxErr >= 0 {
		me = maxErr
	}
	if *maxP99 >= 0 {
		mp = maxP99
	}
	passed := rep.Check(me, mp)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	if !passed {
		return fmt.Errorf("load: %s", strings.Join(rep.Thresholds.Violations, "; "))
	}
	return nil
}

// workerCommand re-executes this binary as a worker with cfg.
func workerCommand(stderr io.Writer, logCfg *logConfig) func(load.Config) *exec.Cmd {
	return func(cfg load.Config) *exec.Cmd {
		exe, err := os.Executable()
		if err != nil {
			exe = os.Args[0]
		}
		b, _ := json.Marshal(cfg) // plain data: cannot fail
		cmd := exec.Command(exe, "load", workerFlag, string(b))
		cmd.Env = append(os.Environ(), "OCPPD_LOG_FORMAT="+logCfg.format, "OCPPD_LOG_LEVEL="+logCfg.level)
		cmd.Stderr = stderr
		return cmd
	}
}

// loadWorker is the worker side: run the fleet described by cfgJSON and
// stream statistics to stdout (see load.ServeWorker).
func loadWorker(ctx context.Context, cfgJSON string, stdout, stderr io.Writer) error {
	var cfg load.Config
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return fmt.Errorf("load worker: bad configuration: %w", err)
	}
	lc := &logConfig{format: os.Getenv("OCPPD_LOG_FORMAT"), level: os.Getenv("OCPPD_LOG_LEVEL")}
	if lc.format == "" {
		lc.format = "json"
	}
	if lc.level == "" {
		lc.level = "info"
	}
	logger, err := lc.logger(stderr)
	if err != nil {
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	}
	logger = logger.With("worker", cfg.Index)
	// A worker ends when the parent says stop or closes its stdin, not on
	// the terminal's SIGINT, which the parent handles.
	return load.ServeWorker(context.WithoutCancel(ctx), cfg, os.Stdin, stdout, logger)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// loadBar shows the run's progress: time elapsed of --duration, and in
// its description the phase, the open and accepted connections and the
// current answer rate.
type loadBar struct {
	bar      *progressbar.ProgressBar
	lastAt   time.Duration
	lastDone int64
}

func newLoadBar(w io.Writer, cfg load.Config, show bool) *loadBar {
	if !show {
		return &loadBar{}
	}
	return &loadBar{bar: progressbar.NewOptions64(int64(cfg.Duration/time.Second),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetItsString("s"),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionClearOnFinish(),
	)}
}

func (b *loadBar) update(p load.Progress) {
	if b.bar == nil || p.Stats == nil {
		return
	}
	var answered int64
	for _, a := range p.Stats.Actions {
		answered += a.Results + a.Errors
	}
	var rate float64
	if dt := (p.Elapsed - b.lastAt).Seconds(); dt > 0 {
		rate = float64(answered-b.lastDone) / dt
	}
	b.lastAt, b.lastDone = p.Elapsed, answered
	desc := fmt.Sprintf("%s · %d/%d connected · %d accepted · %d answers · %.0f/s",
		p.Phase, p.Stats.Connected, p.Stats.Stations, p.Stats.Accepted, answered, rate)
	if p.Stats.Dropped > 0 {
		desc += fmt.Sprintf(" · %d/%d recovered", p.Stats.Recovered, p.Stats.Dropped)
	}
	b.bar.Describe(desc)
	_ = b.bar.Set64(min(int64(p.Elapsed/time.Second), b.bar.GetMax64()))
}

func (b *loadBar) finish() {
	if b.bar == nil {
		return
	}
	_ = b.bar.Finish()
}
