package load

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"time"
)

// Options are the parts of a run that are not its configuration.
type Options struct {
	// Logger receives the run's logs; default none.
	Logger *slog.Logger
	// Progress, if set, is called about four times a second with the
	// run's state.
	Progress func(Progress)
	// WorkerCommand returns the command that runs one worker with cfg
	// (the same binary calling ServeWorker). Required when the run uses
	// more than one process.
	WorkerCommand func(cfg Config) *exec.Cmd
	// StormHold is how long a storm run holds the fully booted fleet
	// before it drops it; default 2s.
	StormHold time.Duration
}

// Phases of a run, as Progress reports them.
const (
	PhaseRamp   = "ramp"   // connecting and booting the fleet
	PhaseSteady = "steady" // every station is Boot-Accepted
	PhaseStorm  = "storm"  // dropped, reconnecting
	PhaseDone   = "done"
)

// Progress is the state of a run in progress.
type Progress struct {
	Phase    string
	Elapsed  time.Duration
	Duration time.Duration
	Stats    *Stats
}

// Run plays cfg's scenario and returns its report. The run ends when
// cfg.Duration has elapsed, when a storm has recovered, or when ctx ends
// (the report then covers the run so far). A worker process that fails is
// an error, returned with the report of the rest.
func Run(ctx context.Context, cfg Config, opts Options) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StormHold == 0 {
		opts.StormHold = 2 * time.Second
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = (cfg.Stations + DefaultPerWorker - 1) / DefaultPerWorker
	}
	workers = min(workers, cfg.Stations)
	var f fleet
	if workers <= 1 {
		r, err := NewRunner(cfg, opts.Logger)
		if err != nil {
			return nil, err
		}
		f = localFleet{r}
		workers = 1
	} else {
		if opts.WorkerCommand == nil {
			return nil, errors.New("load: a run over several processes needs Options.WorkerCommand")
		}
		p, err := newProcFleet(cfg, workers, opts.WorkerCommand, opts.Logger)
		if err != nil {
			return nil, err
		}
		f = p
	}

	start := time.Now()
	f.Start(ctx)
	t := &tracker{cfg: cfg, start: start}
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	phase := PhaseRamp
	var allAcceptedAt time.Time
	stopped := false
loop:
	for {
		select {
		case <-f.Done():
			break loop
		case now := <-tick.C:
			s := f.Snapshot()
			t.observe(now, s)
			switch phase {
			case PhaseRamp:
				if s.Accepted >= int64(cfg.Stations) {
					phase = PhaseSteady
					allAcceptedAt = now
					t.steady(now, s)
					opts.Logger.Info("every station is Boot-Accepted", "stations", cfg.Stations, "after", now.Sub(start).Round(time.Millisecond))
				}
			case PhaseSteady:
				if cfg.Scenario == Storm && now.Sub(allAcceptedAt) >= opts.StormHold {
					opts.Logger.Info("dropping every connection at once", "stations", s.Connected)
					f.Drop()
					phase = PhaseStorm
				}
			case PhaseStorm:
				if !stopped && s.Dropped > 0 && s.Recovered >= s.Dropped {
					opts.Logger.Info("every dropped station is Boot-Accepted again", "stations", s.Recovered)
					f.Stop()
					stopped = true
				}
			}
			if opts.Progress != nil {
				opts.Progress(Progress{Phase: phase, Elapsed: now.Sub(start), Duration: cfg.Duration, Stats: s})
			}
		}
	}
	final, err := f.Wait()
	end := time.Now()
	t.observe(end, final)
	if opts.Progress != nil {
		opts.Progress(Progress{Phase: PhaseDone, Elapsed: end.Sub(start), Duration: cfg.Duration, Stats: final})
	}
	return t.report(final, end, workers), err
}

// tracker follows the snapshots of a run for what the final statistics
// alone cannot tell: the peak of connections and the counts at the start
// of the steady phase.
type tracker struct {
	cfg        Config
	start      time.Time
	steadyAt   time.Time
	steadyBase *Stats
	peak       int64
	peakRSS    int64
}

func (t *tracker) observe(_ time.Time, s *Stats) {
	t.peak = max(t.peak, s.Connected)
	t.peakRSS = max(t.peakRSS, s.RSSBytes)
}

func (t *tracker) steady(now time.Time, s *Stats) {
	t.steadyAt = now
	t.steadyBase = s.Clone()
}
