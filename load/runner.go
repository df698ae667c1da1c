package load

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Runner drives a fleet of stations in this process. NewRunner is cheap;
// Start connects the fleet; Wait returns the final statistics once the run
// is over (Config.Duration elapsed, Stop called or the context ended).
type Runner struct {
	cfg          Config
	log          *slog.Logger
	c            *counters
	stations     []*station
	beatInterval time.Duration // paced heartbeat interval per station

	stopping atomic.Bool // no new calls or connections
	capped   atomic.Bool // MaxCalls reached

	dialQ    chan *station
	conns    sync.WaitGroup // read loops
	wg       sync.WaitGroup // dialers, ramp, sweeper, the run goroutine
	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
	final    *Stats
	started  atomic.Bool
}

// NewRunner validates cfg and prepares a fleet; it does no I/O. logger
// may be nil.
func NewRunner(cfg Config, logger *slog.Logger) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		cfg: cfg, log: logger, c: newCounters(),
		dialQ:  make(chan *station, cfg.Stations),
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
	}
	if cfg.Rate > 0 {
		r.beatInterval = max(time.Duration(float64(cfg.Stations)/cfg.Rate*float64(time.Second)), time.Millisecond)
	}
	vers := cfg.versionsFor(cfg.Stations)
	r.stations = make([]*station, cfg.Stations)
	for i := range r.stations {
		r.stations[i] = &station{r: r, idx: i, id: cfg.stationID(i), ver: vers[i]}
	}
	return r, nil
}

// stationURL is the base URL with the station id appended as the last
// path segment.
func (r *Runner) stationURL(id string) string {
	return strings.TrimSuffix(r.cfg.URL, "/") + "/" + url.PathEscape(id)
}

// Start connects the fleet at the configured ramp and runs the scenario
// until the duration has elapsed, Stop is called or ctx ends.
func (r *Runner) Start(ctx context.Context) {
	if !r.started.CompareAndSwap(false, true) {
		return
	}
	dialCtx, cancelDial := context.WithCancel(context.Background())
	for range min(r.cfg.Concurrency, r.cfg.Stations) {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.dialer(dialCtx)
		}()
	}
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		r.ramp(dialCtx)
	}()
	go func() {
		defer r.wg.Done()
		r.sweep(dialCtx)
	}()
	go func() {
		timer := time.NewTimer(r.cfg.Duration)
		defer timer.Stop()
		capTick := time.NewTicker(100 * time.Millisecond)
		defer capTick.Stop()
	wait:
		for {
			select {
			case <-ctx.Done():
				break wait
			case <-timer.C:
				break wait
			case <-r.stopCh:
				break wait
			case <-capTick.C:
				if r.capped.Load() {
					r.log.Warn("the run reached its call limit", "max_calls", r.cfg.MaxCalls)
					break wait
				}
			}
		}
		r.finish(cancelDial)
	}()
}

// ramp queues every station for its first connection, Ramp per second.
func (r *Runner) ramp(ctx context.Context) {
	if r.cfg.Ramp <= 0 {
		for _, st := range r.stations {
			r.enqueue(st)
		}
		return
	}
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	next := 0
	for next < len(r.stations) {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			due := min(int(now.Sub(start).Seconds()*r.cfg.Ramp)+1, len(r.stations))
			for ; next < due; next++ {
				r.enqueue(r.stations[next])
			}
		}
	}
}

// enqueue puts st in the dial queue unless it is there already.
func (r *Runner) enqueue(st *station) {
	st.mu.Lock()
	if st.queued || st.ws != nil || r.stopping.Load() {
		st.mu.Unlock()
		return
	}
	st.queued = true
	st.mu.Unlock()
	r.dialQ <- st // capacity is the fleet size: never blocks
}

// redial queues st for a new connection after wait.
func (r *Runner) redial(st *station, wait time.Duration) {
	if wait <= 0 {
		r.enqueue(st)
		return
	}
	time.AfterFunc(wait, func() { r.enqueue(st) })
}

// dialer connects queued stations, Concurrency of them at a time.
func (r *Runner) dialer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case st := <-r.dialQ:
			st.mu.Lock()
			st.queued = false
			st.mu.Unlock()
			if r.stopping.Load() {
				continue
			}
			if wait, ok := st.connect(); !ok {
				r.redial(st, wait)
			}
		}
	}
}

// sweep counts the calls that waited longer than CallTimeout as lost.
func (r *Runner) sweep(ctx context.Context) {
	tick := time.NewTicker(min(time.Second, max(r.cfg.CallTimeout/4, 10*time.Millisecond)))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, st := range r.stations {
				st.lose(now)
			}
		}
	}
}

// finish ends the run: no new calls; the outstanding ones get up to the
// call timeout (at most 5 s) to be answered, then every connection is
// closed with 1000 and the read loops are waited for.
func (r *Runner) finish(cancelDial context.CancelFunc) {
	r.stopping.Store(true)
	cancelDial()
	r.wg.Wait()
	drain := time.Now().Add(min(r.cfg.CallTimeout, 5*time.Second))
	for time.Now().Before(drain) && r.outstanding() > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	now := time.Now().Add(r.cfg.CallTimeout) // everything still outstanding is lost
	for _, st := range r.stations {
		st.lose(now)
	}
	var open []*station
	for _, st := range r.stations {
		st.mu.Lock()
		ws := st.ws
		if st.timer != nil {
			st.timer.Stop()
		}
		st.mu.Unlock()
		if ws != nil {
			open = append(open, st)
			_ = ws.WriteClose(1000, []byte("load run over"))
		}
	}
	waited := make(chan struct{})
	go func() {
		r.conns.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		for _, st := range open {
			st.mu.Lock()
			ws := st.ws
			st.mu.Unlock()
			if ws != nil {
				_ = ws.NetConn().Close()
			}
		}
		<-waited
	}
	s := r.c.snapshot(r.cfg.Stations)
	s.Done = true
	r.final = s
	close(r.done)
}

// outstanding counts the calls awaiting an answer.
func (r *Runner) outstanding() int {
	n := 0
	for _, st := range r.stations {
		st.mu.Lock()
		if st.pend.active && st.ws != nil {
			n++
		}
		st.mu.Unlock()
	}
	return n
}

// Snapshot returns the statistics so far.
func (r *Runner) Snapshot() *Stats {
	select {
	case <-r.done:
		return r.final.Clone()
	default:
	}
	return r.c.snapshot(r.cfg.Stations)
}

// Drop closes every connection at once without a close frame, as a
// network failure would; the stations reconnect at once and boot again.
// Stats.Recovered counts those Boot-Accepted again.
func (r *Runner) Drop() {
	if r.stopping.Load() {
		return
	}
	r.c.dropAt.Store(nowNano())
	n := 0
	for _, st := range r.stations {
		if st.drop() {
			n++
		}
	}
	r.c.dropped.Add(int64(n))
}

// Stop ends the run early; Wait returns once it is over. It is
// idempotent.
func (r *Runner) Stop() { r.stopOnce.Do(func() { close(r.stopCh) }) }

// Done is closed when the run is over.
func (r *Runner) Done() <-chan struct{} { return r.done }

// Wait blocks until the run is over and returns its final statistics.
func (r *Runner) Wait() *Stats {
	<-r.done
	return r.final.Clone()
}
