package api

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/ocppd/ocppd/store"
)

// listTransactions answers transactions newest first, filtered by station,
// id token, state and start time, in pages: "next" is an opaque cursor to
// pass as "after".
func (s *Server) listTransactions(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r, defaultLimit)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.TransactionFilter{ChargePointID: q.Get("cp"), IDToken: q.Get("idToken"), State: store.TransactionState(q.Get("state")), Limit: limit + 1}
	switch f.State {
	case "", store.TransactionActive, store.TransactionEnded:
	default:
		return invalid("state", "expected active or ended, got %q", f.State)
	}
	if f.From, err = queryTime(r, "from"); err != nil {
		return err
	}
	if f.To, err = queryTime(r, "to"); err != nil {
		return err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return invalid("to", "must be after from")
	}
	if a := q.Get("after"); a != "" {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 {
			return invalid("after", "not a cursor from a previous page")
		}
		f.Offset = n
	}
	txs, err := s.opts.Store.ListTransactions(r.Context(), f)
	if err != nil {
		return err
	}
	out := List[store.Transaction]{Items: txs}
	if len(txs) > limit {
		out.Items = txs[:limit]
		out.Next = strconv.Itoa(f.Offset + limit)
	}
	if out.Items == nil {
		out.Items = []store.Transaction{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getTransaction(w http.ResponseWriter, r *http.Request) error {
	tx, err := s.opts.Store.GetTransaction(r.Context(), r.PathValue("cp"), r.PathValue("tx"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tx)
	return nil
}

// MeterSeries is the body of GET /chargepoints/{cp}/metervalues with a
// step: the samples grouped by series and averaged per step.
type MeterSeries struct {
	Step   string   `json:"step"`
	Series []Series `json:"series"`
	// Truncated is set when the range held more samples than one request
	// reads (maxMeterSamples): narrow it.
	Truncated bool `json:"truncated,omitempty"`
}

// Series is the points of one measured quantity.
type Series struct {
	Measurand string  `json:"measurand"`
	Phase     string  `json:"phase,omitempty"`
	Unit      string  `json:"unit"`
	Location  string  `json:"location"`
	Points    []Point `json:"points"`
}

// Point summarises the samples of one step, starting at T.
type Point struct {
	T     time.Time `json:"t"`
	Count int       `json:"count"`
	Avg   float64   `json:"avg"`
	Min   float64   `json:"min"`
	Max   float64   `json:"max"`
	Last  float64   `json:"last"` // the latest sample (for energy registers)
}

// Meter value read limits.
const (
	defaultMeterLimit = 1000
	maxMeterLimit     = 10000
	maxMeterSamples   = 200_000 // read for one downsampled answer
	maxMeterPoints    = 10_000  // steps per series
)

// getMeterValues answers a station's meter samples in a time range: raw
// (up to limit), or with step downsampled into one point per step and
// series.
func (s *Server) getMeterValues(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.MeterFilter{ChargePointID: r.PathValue("cp"), TransactionID: q.Get("transaction"), Measurand: q.Get("measurand")}
	var err error
	if f.From, err = queryTime(r, "from"); err != nil {
		return err
	}
	if f.To, err = queryTime(r, "to"); err != nil {
		return err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return invalid("to", "must be after from")
	}
	var step time.Duration
	if v := q.Get("step"); v != "" {
		if step, err = time.ParseDuration(v); err != nil || step < time.Second {
			return invalid("step", "expected a duration of at least 1s, such as 5m, got %q", v)
		}
	}
	limit, err := queryInt(r, "limit", defaultMeterLimit, 1, maxMeterLimit)
	if err != nil {
		return err
	}
	if _, err := s.stationExists(r); err != nil {
		return err
	}
	if step == 0 {
		f.Limit = limit
		samples, err := s.opts.Store.ListMeterSamples(r.Context(), f)
		if err != nil {
			return err
		}
		if samples == nil {
			samples = []store.MeterSample{}
		}
		writeJSON(w, http.StatusOK, List[store.MeterSample]{Items: samples})
		return nil
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Sub(f.From)/step > maxMeterPoints {
		return invalid("step", "too small for the range: at most %d points per series", maxMeterPoints)
	}
	f.Limit = maxMeterSamples + 1
	samples, err := s.opts.Store.ListMeterSamples(r.Context(), f)
	if err != nil {
		return err
	}
	out := MeterSeries{Step: step.String(), Series: []Series{}}
	if len(samples) > maxMeterSamples {
		samples, out.Truncated = samples[:maxMeterSamples], true
	}
	out.Series = downsample(samples, step)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// downsample groups samples (ordered by time) by series and step.
func downsample(samples []store.MeterSample, step time.Duration) []Series {
	type key struct{ measurand, phase, unit, location string }
	index := map[key]int{}
	var out []Series
	for _, m := range samples {
		k := key{m.Measurand, m.Phase, m.Unit, m.Location}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, Series{Measurand: m.Measurand, Phase: m.Phase, Unit: m.Unit, Location: m.Location, Points: []Point{}})
		}
		sr := &out[i]
		t := m.Timestamp.UTC().Truncate(step)
		n := len(sr.Points)
		if n == 0 || !sr.Points[n-1].T.Equal(t) {
			sr.Points = append(sr.Points, Point{T: t, Min: math.Inf(1), Max: math.Inf(-1)})
			n++
		}
		p := &sr.Points[n-1]
		p.Avg += (m.Value - p.Avg) / float64(p.Count+1) // running mean
		p.Count++
		p.Min, p.Max, p.Last = min(p.Min, m.Value), max(p.Max, m.Value), m.Value
	}
	if out == nil {
		out = []Series{}
	}
	return out
}
