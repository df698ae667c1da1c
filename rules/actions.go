package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/store"
)

// logLevels maps LogAction.Level to slog levels.
var logLevels = map[string]slog.Level{
	"": slog.LevelInfo, "debug": slog.LevelDebug, "info": slog.LevelInfo,
	"warn": slog.LevelWarn, "warning": slog.LevelWarn, "error": slog.LevelError,
}

// Timeouts of the actions that have no option for them.
const (
	publishTimeout = 10 * time.Second
	tableTimeout   = 30 * time.Second
	maxBackoff     = 30 * time.Second
)

// job is one row for the actions of a rule; the actions share it and do
// not modify it.
type job struct {
	row      Row
	topic    string
	clientID string
	at       time.Time

	once sync.Once
	raw  []byte
}

// json returns the row as a JSON object, encoded once.
func (j *job) json() []byte {
	j.once.Do(func() {
		b, err := j.row.MarshalJSON()
		if err != nil {
			b = []byte(`{}`) // rows hold only JSON values; cannot happen
		}
		j.raw = b
	})
	return j.raw
}

// input is what an action's templates see.
func (j *job) input() Input { return renderInput(j.json(), j.topic, j.clientID, j.at) }

// runner is one action of a running rule: a bounded queue and its workers.
type runner struct {
	rule  *liveRule
	act   compiledAction
	queue chan *job

	ok, failed, dropped, retries atomic.Uint64
}

func (r *runner) enqueue(j *job) {
	select {
	case r.queue <- j:
	default:
		r.dropped.Add(1)
	}
}

func (r *runner) stats() ActionStats {
	return ActionStats{
		Kind: r.act.kind, OK: r.ok.Load(), Failed: r.failed.Load(), Dropped: r.dropped.Load(),
		Retries: r.retries.Load(), Queued: len(r.queue),
	}
}

// next returns the next queued job, waiting for one until the rule stops;
// once stopped it returns what is left without waiting, then false.
func (r *runner) next() (*job, bool) {
	select {
	case j := <-r.queue:
		return j, true
	case <-r.rule.stop:
		select {
		case j := <-r.queue:
			return j, true
		default:
			return nil, false
		}
	}
}

// startRule starts the workers of a rule's actions.
func (e *Engine) startRule(def Rule, c compiledDef, id string) *liveRule {
	lr := &liveRule{def: def, c: c, ident: id, stop: make(chan struct{})}
	lr.ctx, lr.cancel = context.WithCancel(context.Background())
	newRunner := func(a compiledAction) *runner {
		r := &runner{rule: lr, act: a, queue: make(chan *job, e.opts.QueueSize)}
		workers := 1
		if a.kind == "webhook" {
			workers = e.opts.WebhookWorkers
		}
		for range workers {
			lr.wg.Add(1)
			go e.work(r)
		}
		return r
	}
	for _, a := range c.actions {
		lr.actions = append(lr.actions, newRunner(a))
	}
	if c.onError != nil {
		lr.onError = newRunner(*c.onError)
	}
	return lr
}

// stopRule stops a rule: its workers finish the queued rows within
// DrainTimeout, then what is left is dropped. It returns at once; Close
// waits for the workers.
func (e *Engine) stopRule(lr *liveRule) {
	close(lr.stop)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		done := make(chan struct{})
		go func() { lr.wg.Wait(); close(done) }()
		t := time.NewTimer(e.opts.DrainTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			lr.cancel() // abort what runs; the rest is counted as dropped
			<-done
		}
		lr.cancel()
	}()
}

// work serves one action's queue.
func (e *Engine) work(r *runner) {
	defer r.rule.wg.Done()
	if r.act.kind == "table" {
		e.tableWorker(r)
		return
	}
	for {
		j, ok := r.next()
		if !ok {
			return
		}
		if r.rule.ctx.Err() != nil {
			r.dropped.Add(1)
			continue
		}
		var err error
		switch r.act.kind {
		case "log":
			err = e.logRow(r, j)
		case "republish":
			err = e.republish(r, j)
		case "webhook":
			err = e.webhook(r, j)
		}
		e.done(r, j, err)
	}
}

// done counts the outcome of one row and reports a failure to the rule's
// error action.
func (e *Engine) done(r *runner, j *job, err error) {
	if err == nil {
		r.ok.Add(1)
		return
	}
	if r.rule.ctx.Err() != nil {
		r.dropped.Add(1) // stopped while running: not the action's failure
		return
	}
	r.failed.Add(1)
	lr := r.rule
	if r == lr.onError {
		e.log.Warn("rules engine: error action failed", "rule", lr.def.Name, "action", r.act.kind, "err", err)
		return
	}
	if lr.onError == nil {
		e.log.Warn("rules engine: action failed", "rule", lr.def.Name, "action", r.act.kind, "topic", j.topic, "err", err)
		return
	}
	lr.onError.enqueue(&job{row: errorReport(lr.def.Name, r.act.kind, j, err), topic: j.topic, clientID: j.clientID, at: j.at})
}

// errorReport is the row an error action receives:
//
//	{"ruleName": "...", "failedAction": "webhook", "errorMessage": "...",
//	 "topic": "CP1/in", "clientId": "...", "timestamp": 1700000000000,
//	 "payload": {the row the action failed on}}
func errorReport(rule, kind string, j *job, err error) Row {
	return Row{
		{"ruleName", rule},
		{"failedAction", kind},
		{"errorMessage", err.Error()},
		{"topic", j.topic},
		{"clientId", j.clientID},
		{"timestamp", j.at.UnixMilli()},
		{"payload", json.RawMessage(j.json())},
	}
}

func (e *Engine) logRow(r *runner, j *job) error {
	e.log.Log(r.rule.ctx, logLevels[strings.ToLower(r.act.def.Log.Level)], "rule matched",
		"rule", r.rule.def.Name, "topic", j.topic, "row", json.RawMessage(j.json()))
	return nil
}

func (e *Engine) republish(r *runner, j *job) error {
	topic := r.act.topic.Render(j.input())
	if topic == "" || strings.ContainsAny(topic, "+#\x00") {
		return fmt.Errorf("republish: topic %q rendered from %q is not a valid topic name", topic, r.act.topic)
	}
	ctx, cancel := context.WithTimeout(r.rule.ctx, publishTimeout)
	defer cancel()
	err := e.opts.Bus.Publish(ctx, bus.Message{
		Topic:   e.opts.Topics.Prefix + topic,
		Payload: j.json(),
		Props:   map[string]string{PropRule: r.rule.def.Name},
		Retain:  r.act.def.Republish.Retain,
	})
	if err != nil {
		return fmt.Errorf("republish to %s: %w", topic, err)
	}
	return nil
}

// webhook POSTs the row, retrying transport errors, 408, 429 and 5xx with
// exponential backoff.
func (e *Engine) webhook(r *runner, j *job) error {
	w := r.act.def.Webhook
	retries := 3
	if w.Retries != nil {
		retries = *w.Retries
	}
	timeout, backoff := time.Duration(w.Timeout), time.Duration(w.Backoff)
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if backoff <= 0 {
		backoff = time.Second
	}
	in := j.input()
	for attempt := 0; ; attempt++ {
		retry, err := e.post(r, j, in, timeout)
		if err == nil {
			return nil
		}
		if !retry || attempt >= retries {
			if attempt > 0 {
				return fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			return err
		}
		wait := min(backoff<<attempt, maxBackoff)
		wait += time.Duration(rand.Int64N(int64(wait)/5 + 1)) // up to 20 % jitter
		t := time.NewTimer(wait)
		select {
		case <-r.rule.ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		r.retries.Add(1)
	}
}

// post makes one webhook attempt; retry reports whether a failure may be
// retried.
func (e *Engine) post(r *runner, j *job, in Input, timeout time.Duration) (retry bool, err error) {
	w := r.act.def.Webhook
	ctx, cancel := context.WithTimeout(r.rule.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(j.json()))
	if err != nil {
		return false, fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ocppd-rules")
	req.Header.Set("X-Ocppd-Rule", r.rule.def.Name)
	for k, t := range r.act.headers {
		req.Header.Set(k, t.Render(in))
	}
	resp, err := e.opts.HTTPClient.Do(req)
	if err != nil {
		return true, fmt.Errorf("webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c == http.StatusRequestTimeout, c == http.StatusTooManyRequests, c >= 500:
		return true, fmt.Errorf("webhook: %s answered %s", w.URL, resp.Status)
	default:
		return false, fmt.Errorf("webhook: %s answered %s", w.URL, resp.Status)
	}
}

// tableWorker writes the rows of a table action in batches: whatever is
// queued (up to TableBatch rows) goes to the store in one call.
func (e *Engine) tableWorker(r *runner) {
	t := r.act.def.Table
	batch := make([]*job, 0, e.opts.TableBatch)
	rows := make([]store.TableRow, 0, e.opts.TableBatch)
	for {
		j, ok := r.next()
		if !ok {
			return
		}
		batch = append(batch[:0], j)
	fill:
		for len(batch) < e.opts.TableBatch {
			select {
			case j := <-r.queue:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		if r.rule.ctx.Err() != nil {
			r.dropped.Add(uint64(len(batch)))
			continue
		}
		rows = rows[:0]
		written := batch[:0:0]
		for _, j := range batch {
			key, err := tableKey(j.row, t.Key)
			if err != nil {
				e.done(r, j, err)
				continue
			}
			rows = append(rows, store.TableRow{Table: t.Name, Key: key, Data: j.json(), UpdatedAt: j.at})
			written = append(written, j)
		}
		if len(rows) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(r.rule.ctx, tableTimeout)
		err := e.opts.Store.PutTableRows(ctx, rows)
		cancel()
		if err != nil {
			err = fmt.Errorf("table %s: %w", t.Name, err)
		}
		for _, j := range written {
			e.done(r, j, err)
		}
	}
}

// tableKey returns the partition key of a row: the field key, a string or
// a number.
func tableKey(row Row, key string) (string, error) {
	v, ok := row.Get(key)
	if !ok {
		return "", fmt.Errorf("table: the row has no field %q (the partition key)", key)
	}
	var s string
	switch k := v.(type) {
	case string:
		s = k
	case int64:
		s = strconv.FormatInt(k, 10)
	case float64:
		s = strconv.FormatFloat(k, 'g', -1, 64)
	default:
		return "", fmt.Errorf("table: the partition key %q is not a string or a number", key)
	}
	if s == "" {
		return "", fmt.Errorf("table: the partition key %q is empty", key)
	}
	return s, nil
}
