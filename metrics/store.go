package metrics

import (
	"context"
	"encoding/json"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// StoreMetrics times store calls: ocppd_store_seconds{op} and
// ocppd_store_errors_total{op,code}.
type StoreMetrics struct {
	seconds *prometheus.HistogramVec
	errors  *prometheus.CounterVec
}

// NewStoreMetrics registers the store metrics with reg.
func NewStoreMetrics(reg prometheus.Registerer) (*StoreMetrics, error) {
	m := &StoreMetrics{
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ocppd_store_seconds",
			Help:    "Latency of store calls, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 0.1 ms … 3.3 s
		}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocppd_store_errors_total",
			Help: "Store calls that failed, by operation and ocppd error code.",
		}, []string{"op", "code"}),
	}
	for _, c := range []prometheus.Collector{m.seconds, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observe records one call of op that started at start and ended with err.
// Caller mistakes (not found, conflict, invalid) are counted as errors too,
// by code, so that a rise of ENOTFOUND is visible.
func (m *StoreMetrics) observe(op string, start time.Time, err error) {
	m.seconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil {
		m.errors.WithLabelValues(op, ocppd.ErrorCode(err)).Inc()
	}
}

// Instrument returns s with its common calls timed. Methods it does not
// time (those added to store.Store later) are passed through unchanged.
// The wrapper hides s's concrete type: callers must not type-assert it.
func (m *StoreMetrics) Instrument(s store.Store) store.Store {
	return &timedStore{Store: s, m: m}
}

// timedStore embeds the store so that every method not overridden here
// passes straight through.
type timedStore struct {
	store.Store
	m *StoreMetrics
}

func (t *timedStore) AddChargePoints(ctx context.Context, cps []ocppd.ChargePoint) (err error) {
	defer func(start time.Time) { t.m.observe("AddChargePoints", start, err) }(time.Now())
	return t.Store.AddChargePoints(ctx, cps)
}

func (t *timedStore) GetChargePoint(ctx context.Context, id string) (cp ocppd.ChargePoint, err error) {
	defer func(start time.Time) { t.m.observe("GetChargePoint", start, err) }(time.Now())
	return t.Store.GetChargePoint(ctx, id)
}

func (t *timedStore) ListChargePoints(ctx context.Context, opts store.ListOptions) (cps []ocppd.ChargePoint, err error) {
	defer func(start time.Time) { t.m.observe("ListChargePoints", start, err) }(time.Now())
	return t.Store.ListChargePoints(ctx, opts)
}

func (t *timedStore) CountChargePoints(ctx context.Context) (total, online int, err error) {
	defer func(start time.Time) { t.m.observe("CountChargePoints", start, err) }(time.Now())
	return t.Store.CountChargePoints(ctx)
}

func (t *timedStore) DeleteChargePoint(ctx context.Context, id string) (err error) {
	defer func(start time.Time) { t.m.observe("DeleteChargePoint", start, err) }(time.Now())
	return t.Store.DeleteChargePoint(ctx, id)
}

func (t *timedStore) SetRegistration(ctx context.Context, id string, status ocppd.RegistrationStatus) (err error) {
	defer func(start time.Time) { t.m.observe("SetRegistration", start, err) }(time.Now())
	return t.Store.SetRegistration(ctx, id, status)
}

func (t *timedStore) RecordConnected(ctx context.Context, c store.Connection) (err error) {
	defer func(start time.Time) { t.m.observe("RecordConnected", start, err) }(time.Now())
	return t.Store.RecordConnected(ctx, c)
}

func (t *timedStore) RecordDisconnected(ctx context.Context, id, sessionID string, at time.Time) (err error) {
	defer func(start time.Time) { t.m.observe("RecordDisconnected", start, err) }(time.Now())
	return t.Store.RecordDisconnected(ctx, id, sessionID, at)
}

func (t *timedStore) MarkSeen(ctx context.Context, id string, at time.Time) (err error) {
	defer func(start time.Time) { t.m.observe("MarkSeen", start, err) }(time.Now())
	return t.Store.MarkSeen(ctx, id, at)
}

func (t *timedStore) GetShadow(ctx context.Context, id string) (rec store.ShadowRecord, err error) {
	defer func(start time.Time) { t.m.observe("GetShadow", start, err) }(time.Now())
	return t.Store.GetShadow(ctx, id)
}

func (t *timedStore) PutShadow(ctx context.Context, id string, doc json.RawMessage, expect int64, at time.Time) (err error) {
	defer func(start time.Time) { t.m.observe("PutShadow", start, err) }(time.Now())
	return t.Store.PutShadow(ctx, id, doc, expect, at)
}

func (t *timedStore) AddStatus(ctx context.Context, ev ocppd.StatusEvent) (err error) {
	defer func(start time.Time) { t.m.observe("AddStatus", start, err) }(time.Now())
	return t.Store.AddStatus(ctx, ev)
}

func (t *timedStore) CurrentStatus(ctx context.Context, id string) (evs []ocppd.StatusEvent, err error) {
	defer func(start time.Time) { t.m.observe("CurrentStatus", start, err) }(time.Now())
	return t.Store.CurrentStatus(ctx, id)
}

func (t *timedStore) StatusHistory(ctx context.Context, id string, limit int) (evs []ocppd.StatusEvent, err error) {
	defer func(start time.Time) { t.m.observe("StatusHistory", start, err) }(time.Now())
	return t.Store.StatusHistory(ctx, id, limit)
}

func (t *timedStore) TokenByHash(ctx context.Context, hash []byte) (tok store.Token, err error) {
	defer func(start time.Time) { t.m.observe("TokenByHash", start, err) }(time.Now())
	return t.Store.TokenByHash(ctx, hash)
}
