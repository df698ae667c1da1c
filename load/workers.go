package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// The worker protocol. The parent starts each worker with its share of
// the fleet (see Options.WorkerCommand) and talks to it over pipes:
//
//   - worker → parent, stdout: one JSON object per line, {"stats":{…}},
//     about four times a second and a last one with "done":true;
//   - parent → worker, stdin: the lines "drop" (Runner.Drop) and "stop"
//     (Runner.Stop); end of input also stops the worker, so a worker whose
//     parent died winds down.
//
// The worker's stderr is its log and is passed through.

// workerLine is one line a worker writes.
type workerLine struct {
	Stats *Stats `json:"stats"`
}

// statsInterval is how often a worker reports.
const statsInterval = 250 * time.Millisecond

// ServeWorker runs cfg's fleet in this process as a worker of a parent
// Run: it reads commands from in and streams statistics to out until the
// run is over. It returns after the final line is written.
func ServeWorker(ctx context.Context, cfg Config, in io.Reader, out io.Writer, logger *slog.Logger) error {
	cfg.Workers = 1
	r, err := NewRunner(cfg, logger)
	if err != nil {
		return err
	}
	r.Start(ctx)
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			switch strings.TrimSpace(sc.Text()) {
			case "drop":
				r.Drop()
			case "stop":
				r.Stop()
				return
			}
		}
		r.Stop() // the parent is gone
	}()
	enc := json.NewEncoder(out)
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	for {
		select {
		case <-r.Done():
			return enc.Encode(workerLine{Stats: r.Wait()})
		case <-tick.C:
			if err := enc.Encode(workerLine{Stats: r.Snapshot()}); err != nil {
				r.Stop()
				<-r.Done()
				return fmt.Errorf("report to the parent: %w", err)
			}
		}
	}
}

// fleet is a running fleet: a Runner in this process or worker processes.
type fleet interface {
	Start(ctx context.Context)
	Snapshot() *Stats
	Drop()
	Stop()
	Done() <-chan struct{}
	Wait() (*Stats, error)
}

// localFleet adapts Runner to fleet.
type localFleet struct{ *Runner }

func (l localFleet) Wait() (*Stats, error) { return l.Runner.Wait(), nil }

// procFleet is a fleet split over worker processes.
type procFleet struct {
	log   *slog.Logger
	cmds  []*exec.Cmd
	ins   []io.WriteCloser
	outs  []io.ReadCloser
	parts []int // stations per worker

	mu     sync.Mutex
	latest []*Stats
	errs   []error
	wg     sync.WaitGroup
	done   chan struct{}
}

// splitConfig returns the configs of n workers sharing cfg's fleet.
func splitConfig(cfg Config, n int) []Config {
	out := make([]Config, 0, n)
	per, extra := cfg.Stations/n, cfg.Stations%n
	index := cfg.Index
	for i := range n {
		c := cfg
		c.Stations = per
		if i < extra {
			c.Stations++
		}
		c.Index = index
		index += c.Stations
		c.Workers = 1
		c.Rate = cfg.Rate * float64(c.Stations) / float64(cfg.Stations)
		c.Ramp = cfg.Ramp * float64(c.Stations) / float64(cfg.Stations)
		c.Concurrency = max(cfg.withDefaults().Concurrency/n, 1)
		c.MaxCalls = max(cfg.withDefaults().MaxCalls/int64(n), 1)
		out = append(out, c)
	}
	return out
}

func newProcFleet(cfg Config, n int, command func(Config) *exec.Cmd, logger *slog.Logger) (*procFleet, error) {
	p := &procFleet{log: logger, done: make(chan struct{})}
	for _, c := range splitConfig(cfg, n) {
		cmd := command(c)
		if cmd.Stderr == nil {
			cmd.Stderr = os.Stderr
		}
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		cmd.WaitDelay = 10 * time.Second
		p.cmds = append(p.cmds, cmd)
		p.ins = append(p.ins, in)
		p.outs = append(p.outs, out)
		p.parts = append(p.parts, c.Stations)
		p.latest = append(p.latest, &Stats{Stations: c.Stations})
		p.errs = append(p.errs, nil)
	}
	return p, nil
}

// Start starts the workers. A worker that cannot start is an error of
// the run, reported by Wait.
func (p *procFleet) Start(ctx context.Context) {
	for i, cmd := range p.cmds {
		if err := cmd.Start(); err != nil {
			p.errs[i] = fmt.Errorf("start worker %d: %w", i, err)
			p.latest[i].Done = true
			continue
		}
		p.wg.Add(1)
		go p.read(i)
	}
	go func() {
		select {
		case <-ctx.Done():
			p.Stop()
		case <-p.done:
		}
	}()
	go func() {
		p.wg.Wait()
		close(p.done)
	}()
}

// read consumes worker i's statistics until it exits.
func (p *procFleet) read(i int) {
	defer p.wg.Done()
	dec := json.NewDecoder(p.outs[i])
	var err error
	for {
		var line workerLine
		if err = dec.Decode(&line); err != nil {
			break
		}
		if line.Stats != nil {
			p.mu.Lock()
			p.latest[i] = line.Stats
			p.mu.Unlock()
		}
	}
	werr := p.cmds[i].Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case !p.latest[i].Done && werr != nil:
		p.errs[i] = fmt.Errorf("worker %d: %w", i, werr)
	case !p.latest[i].Done && !errors.Is(err, io.EOF):
		p.errs[i] = fmt.Errorf("worker %d: read its statistics: %w", i, err)
	case !p.latest[i].Done:
		p.errs[i] = fmt.Errorf("worker %d ended without its final statistics", i)
	}
	p.latest[i].Done = true
}

// Snapshot merges the workers' latest statistics.
func (p *procFleet) Snapshot() *Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &Stats{Done: true}
	for _, l := range p.latest {
		s.Merge(l)
		s.Done = s.Done && l.Done
	}
	return s
}

func (p *procFleet) send(cmd string) {
	for _, in := range p.ins {
		_, _ = io.WriteString(in, cmd+"\n")
	}
}

// Drop tells every worker to drop its connections.
func (p *procFleet) Drop() { p.send("drop") }

// Stop tells every worker to end its run.
func (p *procFleet) Stop() { p.send("stop") }

// Done is closed when every worker has exited.
func (p *procFleet) Done() <-chan struct{} { return p.done }

// Wait waits for every worker and returns the merged final statistics
// and the workers' failures.
func (p *procFleet) Wait() (*Stats, error) {
	<-p.done
	for _, in := range p.ins {
		_ = in.Close()
	}
	p.mu.Lock()
	err := errors.Join(p.errs...)
	p.mu.Unlock()
	return p.Snapshot(), err
}
