package load

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Latencies are recorded in microseconds in log-linear buckets in the
// manner of HdrHistogram: values below 128 µs have a bucket each, and
// every power-of-two range above is split into 64 equal buckets, so a
// bucket's width is at most 1/64 (1.6 %) of its values. Two histograms
// merge exactly by adding their bucket counts, which is how worker
// processes' histograms are aggregated.
const (
	subBits    = 6            // 64 sub-buckets per power of two
	subCount   = 1 << subBits // 64
	linearMax  = 2 * subCount // values below this have their own bucket
	maxShift   = 40           // up to 2^47 µs, far beyond any run
	numBuckets = subCount*maxShift + linearMax
)

// bucketOf returns the bucket index of v (µs).
func bucketOf(v uint64) int {
	shift := 0
	if l := bits.Len64(v); l > subBits+1 {
		shift = l - (subBits + 1)
	}
	if shift > maxShift {
		return numBuckets - 1
	}
	return subCount*shift + int(v>>shift)
}

// bucketHigh returns the highest value (µs) that falls in bucket i.
func bucketHigh(i int) uint64 {
	if i < linearMax {
		return uint64(i)
	}
	shift := (i - subCount) / subCount
	m := uint64(i - subCount*shift)
	return (m+1)<<shift - 1
}

// Histogram is a concurrent, mergeable latency histogram. Record may be
// called from any goroutine; the zero value is ready to use.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	sum    atomic.Uint64 // µs
	max    atomic.Uint64 // µs
	min    atomic.Uint64 // µs + 1; 0 means no value yet
}

// Record adds one observation of d (negative counts as zero).
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0) / time.Microsecond)
	h.counts[bucketOf(v)].Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
	for {
		m := h.min.Load()
		if (m != 0 && v+1 >= m) || h.min.CompareAndSwap(m, v+1) {
			break
		}
	}
}

// Snapshot returns a copy of the histogram's current counts. While
// Record runs concurrently the copy is consistent in its buckets and
// count (the count is their sum); sum, min and max may include a few
// observations more.
func (h *Histogram) Snapshot() *HistogramData {
	d := &HistogramData{}
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			d.Buckets = append(d.Buckets, [2]uint64{uint64(i), c})
			d.Count += c
		}
	}
	d.SumMicros, d.MaxMicros = h.sum.Load(), h.max.Load()
	if m := h.min.Load(); m > 0 {
		d.MinMicros = m - 1
	}
	return d
}

// HistogramData is a histogram's counts as plain data: the form that
// worker processes send to the parent and that merges exactly.
type HistogramData struct {
	Count     uint64      `json:"count"`
	SumMicros uint64      `json:"sum_us"`
	MinMicros uint64      `json:"min_us"`
	MaxMicros uint64      `json:"max_us"`
	Buckets   [][2]uint64 `json:"buckets"` // [bucket index, count], ascending index
}

// Merge adds o's observations to d.
func (d *HistogramData) Merge(o *HistogramData) {
	if o == nil || o.Count == 0 {
		return
	}
	if d.Count == 0 || o.MinMicros < d.MinMicros {
		d.MinMicros = o.MinMicros
	}
	d.MaxMicros = max(d.MaxMicros, o.MaxMicros)
	d.Count += o.Count
	d.SumMicros += o.SumMicros
	out := make([][2]uint64, 0, len(d.Buckets)+len(o.Buckets))
	i, j := 0, 0
	for i < len(d.Buckets) || j < len(o.Buckets) {
		switch {
		case j == len(o.Buckets) || (i < len(d.Buckets) && d.Buckets[i][0] < o.Buckets[j][0]):
			out = append(out, d.Buckets[i])
			i++
		case i == len(d.Buckets) || o.Buckets[j][0] < d.Buckets[i][0]:
			out = append(out, o.Buckets[j])
			j++
		default:
			out = append(out, [2]uint64{d.Buckets[i][0], d.Buckets[i][1] + o.Buckets[j][1]})
			i++
			j++
		}
	}
	d.Buckets = out
}

// Clone returns a deep copy of d (nil for nil).
func (d *HistogramData) Clone() *HistogramData {
	if d == nil {
		return nil
	}
	c := *d
	c.Buckets = append([][2]uint64(nil), d.Buckets...)
	return &c
}

// Quantile returns the value at quantile q (0 < q ≤ 1): the highest value
// of the bucket holding the q·count-th observation, never above the
// recorded maximum. It returns 0 for an empty histogram.
func (d *HistogramData) Quantile(q float64) time.Duration {
	if d == nil || d.Count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(d.Count)))
	rank = max(rank, 1)
	var seen uint64
	for _, b := range d.Buckets {
		seen += b[1]
		if seen >= rank {
			v := min(bucketHigh(int(b[0])), d.MaxMicros)
			v = max(v, d.MinMicros)
			return time.Duration(v) * time.Microsecond
		}
	}
	return time.Duration(d.MaxMicros) * time.Microsecond
}

// Mean returns the mean of the observations.
func (d *HistogramData) Mean() time.Duration {
	if d == nil || d.Count == 0 {
		return 0
	}
	return time.Duration(d.SumMicros/d.Count) * time.Microsecond
}

// Max returns the largest observation.
func (d *HistogramData) Max() time.Duration {
	if d == nil {
		return 0
	}
	return time.Duration(d.MaxMicros) * time.Microsecond
}

// UnmarshalJSON reads a histogram and checks that its buckets are in
// range and ascending, so that Merge may rely on it.
func (d *HistogramData) UnmarshalJSON(b []byte) error {
	type plain HistogramData
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var total uint64
	for i, bk := range p.Buckets {
		if bk[0] >= numBuckets || (i > 0 && bk[0] <= p.Buckets[i-1][0]) {
			return fmt.Errorf("histogram: bucket %d out of range or order", bk[0])
		}
		total += bk[1]
	}
	if total != p.Count {
		return fmt.Errorf("histogram: buckets hold %d observations, count says %d", total, p.Count)
	}
	*d = HistogramData(p)
	return nil
}
