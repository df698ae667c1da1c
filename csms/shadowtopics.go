package csms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/shadow"
)

// ShadowOptions configure Shadows. Zero values take the defaults noted.
type ShadowOptions struct {
	// Group is the shared-subscription group of the shadow request
	// topics; default the Service's group.
	Group string
	// Workers handle the MQTT shadow requests; default 4.
	Workers int
	// QueueSize bounds the requests waiting for a worker; a full queue
	// makes the bus handler wait. Default 256.
	QueueSize int
	// SetVariablesBatch is the most variables one SetVariables request
	// carries (stations limit it with ItemsPerMessageSetVariables);
	// default 8.
	SetVariablesBatch int
	// Logger defaults to the Service's.
	Logger *slog.Logger
}

// Shadows is the device shadow runtime of a Service:
//
//   - a Go API (GetShadow, UpdateShadow) for the REST API;
//   - the MQTT shadow topics (bus.Topics.ShadowUpdate and friends): requests
//     on $shadow/{cp}/update and $shadow/{cp}/get are answered on their
//     /accepted and /rejected topics, and $shadow/{cp}/update/delta is
//     published whenever the delta changes;
//   - state.reported filled from what stations send and answer (status,
//     configuration reads, NotifyReport, firmware, security events), through
//     the Service's OnCall and OnAnswer hooks;
//   - the reconciler: a desired configuration value, variable or firmware
//     version that differs from the reported one is sent to the station
//     (ChangeConfiguration, SetVariables, UpdateFirmware) when it is online,
//     or when it boots; see desired.go.
//
// docs/shadows-and-rules.md describes the topics and document layout.
type Shadows struct {
	svc  *Service
	opts ShadowOptions
	log  *slog.Logger

	mu      sync.RWMutex // guards started, closed and sends on queue
	started bool
	closed  bool
	queue   chan bus.Message
	subs    []bus.Subscription
	wg      sync.WaitGroup
}

// NewShadows returns the shadow runtime of svc and registers its
// observers on svc; call it before svc.Start. Start serves the MQTT topics.
func NewShadows(svc *Service, opts ShadowOptions) *Shadows {
	if opts.Group == "" {
		opts.Group = svc.opts.Group
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 256
	}
	if opts.SetVariablesBatch <= 0 {
		opts.SetVariablesBatch = 8
	}
	if opts.Logger == nil {
		opts.Logger = svc.log
	}
	sh := &Shadows{svc: svc, opts: opts, log: opts.Logger}
	sh.observe()
	return sh
}

// Start subscribes to the shadow request topics (as a shared subscription:
// one CSMS process of a cluster answers each request) and starts the
// workers.
func (sh *Shadows) Start(ctx context.Context) error {
	sh.mu.Lock()
	if sh.started || sh.closed {
		sh.mu.Unlock()
		return errors.New("shadows: already started or closed")
	}
	sh.started = true
	sh.queue = make(chan bus.Message, sh.opts.QueueSize)
	for range sh.opts.Workers {
		sh.wg.Add(1)
		go sh.work()
	}
	sh.mu.Unlock()
	t := sh.svc.opts.Topics
	for _, filter := range []string{t.AllShadowUpdate(), t.AllShadowGet()} {
		sub, err := sh.svc.opts.Bus.Subscribe(ctx, bus.Shared(sh.opts.Group, filter), sh.enqueue)
		if err != nil {
			_ = sh.Close()
			return fmt.Errorf("shadows: subscribe %s: %w", filter, err)
		}
		sh.subs = append(sh.subs, sub)
	}
	return nil
}

// Close unsubscribes, lets the workers finish the requests they hold and
// waits for them. It is idempotent.
func (sh *Shadows) Close() error {
	for _, sub := range sh.subs {
		_ = sub.Unsubscribe(context.Background())
	}
	sh.mu.Lock()
	if !sh.closed {
		sh.closed = true
		if sh.queue != nil {
			close(sh.queue)
		}
	}
	sh.mu.Unlock()
	sh.wg.Wait()
	return nil
}

// enqueue is the bus handler: it copies the request onto the queue.
func (sh *Shadows) enqueue(m bus.Message) {
	m.Payload = append([]byte(nil), m.Payload...)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if sh.closed {
		return
	}
	sh.queue <- m
}

func (sh *Shadows) work() {
	defer sh.wg.Done()
	for m := range sh.queue {
		sh.request(m)
	}
}

// request answers one MQTT shadow request.
func (sh *Shadows) request(m bus.Message) {
	t := sh.svc.opts.Topics
	cp, op, ok := t.ShadowRequestOf(m.Topic)
	if !ok {
		return
	}
	ctx := context.Background()
	now := sh.svc.opts.Now()
	if op == "get" {
		token := clientToken(m.Payload)
		doc, err := sh.GetShadow(ctx, cp)
		if err != nil {
			sh.publish(ctx, t.ShadowGetRejected(cp), shadow.NewRejected(err, token, now))
			return
		}
		sh.publish(ctx, t.ShadowGetAccepted(cp), doc.GetAccepted(token))
		return
	}
	u, err := shadow.ParseUpdate(m.Payload)
	if err == nil {
		_, err = sh.UpdateShadow(ctx, cp, u) // publishes update/accepted
	}
	if err != nil {
		sh.publish(ctx, t.ShadowUpdateRejected(cp), shadow.NewRejected(err, clientToken(m.Payload), now))
	}
}

// clientToken returns the clientToken of a request, if it has a usable
// one (a request may be refused for being malformed elsewhere).
func clientToken(b []byte) string {
	var p struct {
		ClientToken string `json:"clientToken"`
	}
	if json.Unmarshal(b, &p) != nil || len(p.ClientToken) > shadow.MaxClientTokenLen {
		return ""
	}
	return p.ClientToken
}

func (sh *Shadows) publish(ctx context.Context, topic string, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		err = sh.svc.opts.Bus.Publish(ctx, bus.Message{Topic: topic, Payload: b})
	}
	if err != nil {
		sh.log.Warn("publishing a shadow message failed", "topic", topic, "err", err)
	}
}

// GetShadow returns the station's shadow; a station without one yet has
// the empty document at version 0. ENOTFOUND for an unknown station.
func (sh *Shadows) GetShadow(ctx context.Context, cp string) (shadow.Document, error) {
	rec, err := sh.svc.opts.Store.GetShadow(ctx, cp)
	if err != nil {
		return shadow.Document{}, err
	}
	doc, err := shadow.Parse(rec.Document)
	if err != nil {
		return shadow.Document{}, fmt.Errorf("shadow of %s: %w", cp, err)
	}
	doc.Version = rec.Version
	return doc, nil
}

// UpdateShadow applies u to the station's shadow and returns the new
// document: update/accepted is published, update/delta too if the delta
// changed, and a changed desired state is pushed to the station (see
// desired.go). It implements the REST API's shadow updater.
//
// Errors: ENOTFOUND for an unknown station; ECONFLICT if u.Version is set
// and is not the document's version (nothing is written); EINVALID for an
// update the document refuses (too large, too deep).
func (sh *Shadows) UpdateShadow(ctx context.Context, cp string, u shadow.Update) (shadow.Document, error) {
	doc, err := sh.modify(ctx, cp, func(shadow.Document) (shadow.Update, bool, error) { return u, true, nil })
	if err != nil {
		return shadow.Document{}, err
	}
	if u.State.Desired != nil || u.State.ClearDesired {
		if err := sh.reconcile(ctx, cp, false); err != nil {
			sh.log.Warn("pushing the desired state to the station failed; it is retried when the station boots", "cp", cp, "err", err)
		}
	}
	return doc, nil
}

// maxShadowAttempts bounds the compare-and-swap loop of modify.
const maxShadowAttempts = 8

// modify applies the update build returns for the current document, with
// a compare-and-swap on the stored version (retried when another writer
// won; an update with Version set then fails with ECONFLICT). build may
// answer false: nothing to write. It publishes update/accepted and, when
// the delta changed, update/delta, and returns the new document.
func (sh *Shadows) modify(ctx context.Context, cp string, build func(doc shadow.Document) (shadow.Update, bool, error)) (shadow.Document, error) {
	st := sh.svc.opts.Store
	for range maxShadowAttempts {
		rec, err := st.GetShadow(ctx, cp)
		if err != nil {
			return shadow.Document{}, err
		}
		doc, err := shadow.Parse(rec.Document)
		if err != nil {
			return shadow.Document{}, fmt.Errorf("shadow of %s: %w", cp, err)
		}
		doc.Version = rec.Version
		u, write, err := build(doc)
		if err != nil || !write {
			return doc, err
		}
		before, _ := json.Marshal(doc.Delta())
		now := sh.svc.opts.Now()
		if err := doc.Apply(u, now); err != nil {
			return shadow.Document{}, err
		}
		b, err := doc.Marshal()
		if err != nil {
			return shadow.Document{}, err
		}
		err = st.PutShadow(ctx, cp, b, rec.Version, now)
		if ocppd.ErrorCode(err) == ocppd.ECONFLICT {
			continue
		}
		if err != nil {
			return shadow.Document{}, err
		}
		t := sh.svc.opts.Topics
		sh.publish(ctx, t.ShadowUpdateAccepted(cp), doc.UpdateAccepted(u))
		if after, _ := json.Marshal(doc.Delta()); !bytes.Equal(before, after) {
			if dm, ok := doc.DeltaMessage(u.ClientToken); ok {
				sh.publish(ctx, t.ShadowUpdateDelta(cp), dm)
			}
		}
		return doc, nil
	}
	return shadow.Document{}, ocppd.Errorf(ocppd.EUNAVAILABLE, "shadow of %s: too many concurrent updates; try again", cp)
}

// report merges reported into the station's state.reported; failures are
// logged (the station's message is already answered).
func (sh *Shadows) report(ctx context.Context, cp string, reported map[string]any) {
	if len(reported) == 0 {
		return
	}
	_, err := sh.modify(ctx, cp, func(shadow.Document) (shadow.Update, bool, error) {
		return shadow.Update{State: shadow.UpdateState{Reported: reported}}, true, nil
	})
	if err != nil {
		sh.log.Warn("updating the reported state failed", "cp", cp, "err", err)
	}
}
