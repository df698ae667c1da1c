package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/store"
)

// PropRule is the MQTT user property a republish action sets to the name
// of its rule; the engine does not evaluate a rule against a message that
// rule published.
const PropRule = "ocppd-rule"

// Options configure an Engine. Zero values take the defaults noted.
type Options struct {
	// Bus is where rules read and republish. Without one the engine only
	// manages rule definitions (for an API-only process): nothing runs.
	Bus bus.Bus
	// Topics.Prefix is the bus topic prefix: rules subscribe under it and
	// see topics without it (so the seed's '+/in' works with any prefix),
	// and republish topics are published under it.
	Topics bus.Topics
	// Store holds the rules created through the API and the rule tables.
	Store store.Rules
	// Static are the rules of the config file: always present, read-only
	// through the API.
	Static []Rule
	// Group is the shared-subscription group: every message is evaluated
	// by one engine of the cluster. Default "rules".
	Group string
	// PollInterval is how often the engine checks the store for rules
	// changed by other processes; default 5 s, negative disables polling.
	// Changes made through this Engine apply at once.
	PollInterval time.Duration
	// QueueSize bounds the queue of each action; a full queue drops the
	// row and counts it. Default 1024.
	QueueSize int
	// WebhookWorkers is the number of concurrent requests per webhook
	// action. Default 4.
	WebhookWorkers int
	// TableBatch is the most rows one store write of a table action takes.
	// Default 256.
	TableBatch int
	// DrainTimeout bounds how long a stopped rule (changed, deleted,
	// disabled, or the engine closing) may take to finish its queued
	// actions; what is left is dropped. Default 5 s.
	DrainTimeout time.Duration
	// HTTPClient sends webhook requests; default a client that does not
	// follow redirects.
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

// Engine runs rules over bus messages: it subscribes to the FROM filter of
// every enabled rule, evaluates statements on the delivering goroutine
// (cheap: no allocation for a message that does not match), and hands the
// rows of matching ones to the actions' bounded queues, each served by
// workers of its own, so a slow webhook delays neither the bus nor other
// actions. Rules come from Options.Static and from the store; changes
// through the Engine apply at once, changes by other processes within
// PollInterval.
type Engine struct {
	opts Options
	log  *slog.Logger

	set atomic.Pointer[ruleSet] // read on every message

	reloadMu sync.Mutex // serialises Reload; guards the fields below
	subs     map[string]bus.Subscription
	running  map[string]*liveRule
	lastRev  int64

	stateMu  sync.Mutex
	started  bool
	closed   bool
	stopPoll chan struct{}
	wg       sync.WaitGroup
}

// ruleSet is the immutable set of running rules the handlers read.
type ruleSet struct {
	byFilter map[string][]*liveRule // by FROM filter, as written
}

// liveRule is a running rule with its action workers.
type liveRule struct {
	def     Rule
	c       compiledDef
	ident   string // what must not change for the rule to keep running as is
	matched atomic.Uint64
	actions []*runner
	onError *runner

	stop   chan struct{} // closed to stop: workers drain and return
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns an Engine; Start loads the rules and subscribes.
func New(opts Options) *Engine {
	if opts.Group == "" {
		opts.Group = "rules"
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 5 * time.Second
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.WebhookWorkers <= 0 {
		opts.WebhookWorkers = 4
	}
	if opts.TableBatch <= 0 {
		opts.TableBatch = 256
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 5 * time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Engine{opts: opts, log: opts.Logger, subs: map[string]bus.Subscription{}, running: map[string]*liveRule{}}
	e.set.Store(&ruleSet{})
	return e
}

// Start validates the static rules, loads the stored ones, subscribes and
// starts polling the store for changes. A stored rule that no longer
// validates is logged and skipped; an invalid static rule is an error.
func (e *Engine) Start(ctx context.Context) error {
	e.stateMu.Lock()
	if e.started || e.closed {
		e.stateMu.Unlock()
		return errors.New("rules engine: already started or closed")
	}
	e.started = true
	e.stopPoll = make(chan struct{})
	e.stateMu.Unlock()
	seen := map[string]bool{}
	for i, r := range e.opts.Static {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("rules engine: config rule %d: %w", i, err)
		}
		if seen[r.Name] {
			return fmt.Errorf("rules engine: config rule name %q is used twice", r.Name)
		}
		seen[r.Name] = true
		e.opts.Static[i].Source = SourceConfig
	}
	if err := e.Reload(ctx); err != nil {
		return err
	}
	if e.opts.PollInterval > 0 && e.opts.Store != nil && e.opts.Bus != nil {
		e.wg.Add(1)
		go e.poll()
	}
	return nil
}

// Close stops polling, unsubscribes, lets every action finish its queue
// within DrainTimeout and waits for the workers. It is idempotent.
func (e *Engine) Close() error {
	e.stateMu.Lock()
	if e.closed {
		e.stateMu.Unlock()
		return nil
	}
	e.closed = true
	if e.stopPoll != nil {
		close(e.stopPoll)
	}
	e.stateMu.Unlock()
	e.reloadMu.Lock()
	e.set.Store(&ruleSet{})
	for f, sub := range e.subs {
		_ = sub.Unsubscribe(context.Background())
		delete(e.subs, f)
	}
	for name, lr := range e.running {
		e.stopRule(lr)
		delete(e.running, name)
	}
	e.reloadMu.Unlock()
	e.wg.Wait()
	return nil
}

func (e *Engine) isClosed() bool {
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	return e.closed
}

func (e *Engine) poll() {
	defer e.wg.Done()
	t := time.NewTicker(e.opts.PollInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-e.stopPoll:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), e.opts.PollInterval+5*time.Second)
		rev, err := e.opts.Store.RulesRevision(ctx)
		if err == nil {
			e.reloadMu.Lock()
			changed := rev != e.lastRev
			e.reloadMu.Unlock()
			if changed {
				err = e.Reload(ctx)
			}
		}
		cancel()
		switch {
		case err != nil && !failing:
			e.log.Warn("rules engine: checking the store for rule changes failed; retrying", "err", err)
			failing = true
		case err == nil && failing:
			e.log.Info("rules engine: store reachable again")
			failing = false
		}
	}
}

// Reload reads the rules from the store and applies the differences:
// new and changed rules start, removed, disabled and changed ones stop
// (after draining their queues), unchanged ones keep running with their
// queues and counters.
func (e *Engine) Reload(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	if e.isClosed() {
		return nil
	}
	var (
		recs []store.RuleRecord
		rev  int64
		err  error
	)
	if e.opts.Store != nil {
		// The revision first: a change after it is seen by the next poll.
		if rev, err = e.opts.Store.RulesRevision(ctx); err != nil {
			return fmt.Errorf("rules engine: reload: %w", err)
		}
		if recs, err = e.opts.Store.ListRules(ctx); err != nil {
			return fmt.Errorf("rules engine: reload: %w", err)
		}
	}
	defs := slices.Clone(e.opts.Static)
	static := map[string]bool{}
	for _, r := range defs {
		static[r.Name] = true
	}
	for _, rec := range recs {
		if static[rec.Name] {
			e.log.Warn("rules engine: a stored rule has the name of a config file rule; the config file's wins", "rule", rec.Name)
			continue
		}
		r, err := fromRecord(rec)
		if err != nil {
			e.log.Error("rules engine: skipping a stored rule that does not decode", "rule", rec.Name, "err", err)
			continue
		}
		defs = append(defs, r)
	}
	e.apply(defs)
	e.lastRev = rev
	return nil
}

// ident returns what identifies a version of a rule.
func ident(r Rule) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// apply makes defs (the enabled ones) the running rules. Called with
// reloadMu held.
func (e *Engine) apply(defs []Rule) {
	if e.opts.Bus == nil {
		return // definitions only
	}
	next := map[string]*liveRule{}
	var stopped []*liveRule
	for _, r := range defs {
		if !r.Enabled {
			continue
		}
		id := ident(r)
		if lr := e.running[r.Name]; lr != nil && lr.ident == id {
			next[r.Name] = lr
			continue
		}
		c, err := compileRule(r)
		if err != nil {
			e.log.Error("rules engine: skipping an invalid rule", "rule", r.Name, "err", err)
			continue
		}
		next[r.Name] = e.startRule(r, c, id)
	}
	for name, lr := range e.running {
		if next[name] != lr {
			stopped = append(stopped, lr)
		}
	}
	set := &ruleSet{byFilter: map[string][]*liveRule{}}
	for _, lr := range next {
		f := lr.c.stmt.Topic()
		set.byFilter[f] = append(set.byFilter[f], lr)
	}
	for _, rs := range set.byFilter {
		slices.SortFunc(rs, func(a, b *liveRule) int { return strings.Compare(a.def.Name, b.def.Name) })
	}
	// Subscribe to new filters before the set that uses them is visible,
	// unsubscribe from old ones after.
	for f := range set.byFilter {
		if e.subs[f] != nil {
			continue
		}
		sub, err := e.opts.Bus.Subscribe(context.Background(), bus.Shared(e.opts.Group, e.opts.Topics.Prefix+f), e.handler(f))
		if err != nil {
			e.log.Error("rules engine: subscribe failed; the rules reading this filter do not run", "filter", f, "err", err)
			for _, lr := range set.byFilter[f] {
				stopped = append(stopped, lr)
				delete(next, lr.def.Name)
			}
			delete(set.byFilter, f)
			continue
		}
		e.subs[f] = sub
	}
	e.set.Store(set)
	for f, sub := range e.subs {
		if set.byFilter[f] == nil {
			_ = sub.Unsubscribe(context.Background())
			delete(e.subs, f)
		}
	}
	for _, lr := range stopped {
		e.stopRule(lr)
	}
	for name := range e.running {
		if next[name] == nil {
			e.log.Info("rules engine: rule stopped", "rule", name)
		}
	}
	for name, lr := range next {
		if e.running[name] != lr {
			e.log.Info("rules engine: rule running", "rule", name, "from", lr.c.stmt.Topic(), "actions", len(lr.actions))
		}
	}
	e.running = next
}

// handler evaluates the rules reading filter against a bus message. It
// runs on the bus's delivering goroutine: it only evaluates and enqueues.
func (e *Engine) handler(filter string) bus.Handler {
	return func(m bus.Message) {
		rs := e.set.Load().byFilter[filter]
		if len(rs) == 0 {
			return
		}
		topic, ok := strings.CutPrefix(m.Topic, e.opts.Topics.Prefix)
		if !ok {
			return
		}
		from := m.Prop(PropRule)
		in := Input{Topic: topic, Payload: m.Payload, ClientID: m.ClientID, Timestamp: e.opts.Now()}
		for _, lr := range rs {
			if from != "" && from == lr.def.Name {
				continue // its own republished output
			}
			row, ok := lr.c.stmt.Eval(in)
			if !ok {
				continue
			}
			lr.matched.Add(1)
			j := &job{row: row, topic: topic, clientID: m.ClientID, at: in.Timestamp}
			for _, r := range lr.actions {
				r.enqueue(j)
			}
		}
	}
}

// fromRecord decodes a stored rule.
func fromRecord(rec store.RuleRecord) (Rule, error) {
	var b ruleBody
	if err := json.Unmarshal(rec.Definition, &b); err != nil {
		return Rule{}, err
	}
	return Rule{
		Name: rec.Name, Description: b.Description, SQL: b.SQL, Actions: b.Actions, ErrorAction: b.ErrorAction,
		Enabled: rec.Enabled, Source: SourceAPI, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt,
	}, nil
}

// ruleBody is the stored definition of a rule: everything but what the
// store keeps in columns.
type ruleBody struct {
	Description string   `json:"description,omitempty"`
	SQL         string   `json:"sql"`
	Actions     []Action `json:"actions"`
	ErrorAction *Action  `json:"errorAction,omitempty"`
}

func toRecord(r Rule) (store.RuleRecord, error) {
	b, err := json.Marshal(ruleBody{Description: r.Description, SQL: r.SQL, Actions: r.Actions, ErrorAction: r.ErrorAction})
	if err != nil {
		return store.RuleRecord{}, fmt.Errorf("encode rule %s: %w", r.Name, err)
	}
	return store.RuleRecord{Name: r.Name, Definition: b, Enabled: r.Enabled, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
}

func (e *Engine) static(name string) (Rule, bool) {
	for _, r := range e.opts.Static {
		if r.Name == name {
			return r, true
		}
	}
	return Rule{}, false
}

func (e *Engine) readOnly(name string) error {
	return ocppd.Errorf(ocppd.EFORBIDDEN, "rule %q is defined in the config file; change it there", name)
}

func (e *Engine) needStore() error {
	if e.opts.Store == nil {
		return ocppd.Errorf(ocppd.EUNAVAILABLE, "rules engine has no store")
	}
	return nil
}

// reloadAfter applies a change this engine made at once; the change is
// stored, so a failure here is only logged (the poller retries).
func (e *Engine) reloadAfter(ctx context.Context) {
	if err := e.Reload(ctx); err != nil {
		e.log.Warn("rules engine: reload after a change failed; the poller will retry", "err", err)
	}
}

// Create validates and stores a new rule and starts it (if enabled).
// EINVALID for an invalid rule, ECONFLICT if the name is taken (by a
// stored or a config file rule). It returns the rule as stored.
func (e *Engine) Create(ctx context.Context, r Rule) (Rule, error) {
	if err := e.needStore(); err != nil {
		return Rule{}, err
	}
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	if _, ok := e.static(r.Name); ok {
		return Rule{}, ocppd.Errorf(ocppd.ECONFLICT, "rule %q exists already (in the config file)", r.Name)
	}
	now := e.opts.Now().UTC()
	r.Source, r.CreatedAt, r.UpdatedAt = SourceAPI, now, now
	rec, err := toRecord(r)
	if err != nil {
		return Rule{}, err
	}
	if err := e.opts.Store.CreateRule(ctx, rec); err != nil {
		return Rule{}, err
	}
	e.reloadAfter(ctx)
	return e.Get(ctx, r.Name)
}

// Update replaces the stored rule named r.Name (its statement, actions,
// description and enabled flag) and restarts it. ENOTFOUND for an unknown
// name, EFORBIDDEN for a config file rule, EINVALID for an invalid rule.
func (e *Engine) Update(ctx context.Context, r Rule) (Rule, error) {
	if err := e.needStore(); err != nil {
		return Rule{}, err
	}
	if _, ok := e.static(r.Name); ok {
		return Rule{}, e.readOnly(r.Name)
	}
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	r.UpdatedAt = e.opts.Now().UTC()
	rec, err := toRecord(r)
	if err != nil {
		return Rule{}, err
	}
	if err := e.opts.Store.UpdateRule(ctx, rec); err != nil {
		return Rule{}, err
	}
	e.reloadAfter(ctx)
	return e.Get(ctx, r.Name)
}

// List returns every rule, the config file's and the stored ones, ordered
// by name.
func (e *Engine) List(ctx context.Context) ([]Rule, error) {
	out := slices.Clone(e.opts.Static)
	if e.opts.Store != nil {
		recs, err := e.opts.Store.ListRules(ctx)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			if _, ok := e.static(rec.Name); ok {
				continue
			}
			r, err := fromRecord(rec)
			if err != nil {
				e.log.Error("rules engine: a stored rule does not decode", "rule", rec.Name, "err", err)
				continue
			}
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Rule) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Get returns the rule named name; ENOTFOUND if there is none.
func (e *Engine) Get(ctx context.Context, name string) (Rule, error) {
	if r, ok := e.static(name); ok {
		return r, nil
	}
	if err := e.needStore(); err != nil {
		return Rule{}, ocppd.Errorf(ocppd.ENOTFOUND, "rule %q not found", name)
	}
	rec, err := e.opts.Store.GetRule(ctx, name)
	if err != nil {
		return Rule{}, err
	}
	return fromRecord(rec)
}

// SetEnabled enables or disables a stored rule; it starts or stops at once
// here and within PollInterval in other processes. ENOTFOUND for an
// unknown name, EFORBIDDEN for a config file rule.
func (e *Engine) SetEnabled(ctx context.Context, name string, enabled bool) (Rule, error) {
	if _, ok := e.static(name); ok {
		return Rule{}, e.readOnly(name)
	}
	if err := e.needStore(); err != nil {
		return Rule{}, err
	}
	if err := e.opts.Store.SetRuleEnabled(ctx, name, enabled, e.opts.Now()); err != nil {
		return Rule{}, err
	}
	e.reloadAfter(ctx)
	return e.Get(ctx, name)
}

// Delete removes a stored rule and stops it; the rows its table actions
// wrote stay. ENOTFOUND for an unknown name, EFORBIDDEN for a config file
// rule.
func (e *Engine) Delete(ctx context.Context, name string) error {
	if _, ok := e.static(name); ok {
		return e.readOnly(name)
	}
	if err := e.needStore(); err != nil {
		return err
	}
	if err := e.opts.Store.DeleteRule(ctx, name); err != nil {
		return err
	}
	e.reloadAfter(ctx)
	return nil
}

// Tables lists the rule tables that have rows.
func (e *Engine) Tables(ctx context.Context) ([]store.TableInfo, error) {
	if err := e.needStore(); err != nil {
		return nil, err
	}
	return e.opts.Store.ListTables(ctx)
}

// TableRows returns rows of a rule table, ordered by key.
func (e *Engine) TableRows(ctx context.Context, table string, opts store.TableListOptions) ([]store.TableRow, error) {
	if err := e.needStore(); err != nil {
		return nil, err
	}
	return e.opts.Store.ListTableRows(ctx, table, opts)
}

// TableRow returns one row of a rule table; ENOTFOUND if there is none.
func (e *Engine) TableRow(ctx context.Context, table, key string) (store.TableRow, error) {
	if err := e.needStore(); err != nil {
		return store.TableRow{}, err
	}
	return e.opts.Store.GetTableRow(ctx, table, key)
}

// RuleStats are the counters of a running rule since it (this version of
// it) started in this process.
type RuleStats struct {
	Name string `json:"name"`
	// Matched counts the messages the statement selected.
	Matched     uint64        `json:"matched"`
	Actions     []ActionStats `json:"actions"`
	ErrorAction *ActionStats  `json:"errorAction,omitempty"`
}

// ActionStats are the counters of one action of a running rule.
type ActionStats struct {
	Kind    string `json:"kind"`
	OK      uint64 `json:"ok"`      // rows the action completed
	Failed  uint64 `json:"failed"`  // rows it gave up on (the error action ran)
	Dropped uint64 `json:"dropped"` // rows lost to a full queue or to a stop
	Retries uint64 `json:"retries"` // webhook attempts repeated
	Queued  int    `json:"queued"`  // rows waiting now
}

// Stats returns the counters of the running rules, ordered by name.
func (e *Engine) Stats() []RuleStats {
	var out []RuleStats
	for _, rs := range e.set.Load().byFilter {
		for _, lr := range rs {
			s := RuleStats{Name: lr.def.Name, Matched: lr.matched.Load()}
			for _, r := range lr.actions {
				s.Actions = append(s.Actions, r.stats())
			}
			if lr.onError != nil {
				st := lr.onError.stats()
				s.ErrorAction = &st
			}
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b RuleStats) int { return strings.Compare(a.Name, b.Name) })
	return out
}
