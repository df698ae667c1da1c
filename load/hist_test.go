package load

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	// Every value lies in its bucket, buckets are contiguous and their
	// width is at most 1/64 of their values.
	prevHigh := int64(-1)
	for i := range numBuckets - 1 {
		high := bucketHigh(i)
		if int64(high) <= prevHigh {
			t.Fatalf("bucket %d high %d not above the previous %d", i, high, prevHigh)
		}
		low := uint64(prevHigh + 1)
		if bucketOf(low) != i || bucketOf(high) != i {
			t.Fatalf("bucket %d [%d,%d]: bucketOf gives %d and %d", i, low, high, bucketOf(low), bucketOf(high))
		}
		if low >= linearMax && float64(high-low+1)/float64(low) > 1.0/64+1e-9 {
			t.Fatalf("bucket %d [%d,%d] wider than 1/64", i, low, high)
		}
		prevHigh = int64(high)
	}
	if bucketOf(1<<62) != numBuckets-1 {
		t.Errorf("huge values must land in the last bucket")
	}
}

func TestQuantilesAgainstSorted(t *testing.T) {
	var h Histogram
	vals := make([]time.Duration, 10000)
	for i := range vals {
		vals[i] = time.Duration(rand.ExpFloat64()*2e6) + 50*time.Microsecond // ~2 ms mean
		h.Record(vals[i])
	}
	slices.Sort(vals)
	d := h.Snapshot()
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(q*float64(len(vals)))-1].Truncate(time.Microsecond)
		got := d.Quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/64+float64(time.Microsecond) {
			t.Errorf("q%.3f = %v, exact %v: want at most 1/64 above", q, got, exact)
		}
	}
	if d.Max() != vals[len(vals)-1].Truncate(time.Microsecond) {
		t.Errorf("max %v, want %v", d.Max(), vals[len(vals)-1])
	}
}

func TestMergeIsExact(t *testing.T) {
	var a, b, all Histogram
	for i := range 5000 {
		v := time.Duration(rand.IntN(100000)) * time.Microsecond
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	m := a.Snapshot()
	// Through JSON, as from a worker process.
	raw, err := json.Marshal(b.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var bd HistogramData
	if err := json.Unmarshal(raw, &bd); err != nil {
		t.Fatal(err)
	}
	m.Merge(&bd)
	want := all.Snapshot()
	if m.Count != want.Count || m.SumMicros != want.SumMicros || m.MinMicros != want.MinMicros || m.MaxMicros != want.MaxMicros {
		t.Errorf("merged totals %+v, want %+v", *m, *want)
	}
	if !slices.Equal(m.Buckets, want.Buckets) {
		t.Errorf("merged buckets differ from recording everything in one histogram")
	}
	var empty HistogramData
	empty.Merge(m)
	if empty.Quantile(0.99) != want.Quantile(0.99) {
		t.Errorf("merge into empty changed p99")
	}
}

func TestHistogramJSONChecks(t *testing.T) {
	for _, bad := range []string{
		`{"count":1,"buckets":[[99999,1]]}`,
		`{"count":2,"buckets":[[5,1],[4,1]]}`,
		`{"count":3,"buckets":[[5,1]]}`,
	} {
		var d HistogramData
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
