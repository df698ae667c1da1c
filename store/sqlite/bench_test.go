package sqlite

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
)

func benchDB(b *testing.B, stations int) (*DB, []string) {
	b.Helper()
	db := openTemp(b)
	ids := make([]string, stations)
	cps := make([]ocppd.ChargePoint, stations)
	for i := range cps {
		ids[i] = fmt.Sprintf("CP%05d", i)
		cps[i] = ocppd.ChargePoint{ID: ids[i], Registration: ocppd.RegistrationAccepted, RegisteredAt: time.Now()}
	}
	if err := db.AddChargePoints(context.Background(), cps); err != nil {
		b.Fatal(err)
	}
	return db, ids
}

// BenchmarkMarkSeen is heartbeats from 1,000 stations arriving
// concurrently (50 goroutines per CPU), each call waiting for its commit.
func BenchmarkMarkSeen(b *testing.B) {
	db, ids := benchDB(b, 1000)
	var n atomic.Int64
	start := time.Now()
	b.SetParallelism(50)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := n.Add(1)
			if err := db.MarkSeen(ctx, ids[i%int64(len(ids))], start.Add(time.Duration(i)*time.Millisecond)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMarkSeenSerial is one caller at a time: the latency of one
// mark, a commit each.
func BenchmarkMarkSeenSerial(b *testing.B) {
	db, ids := benchDB(b, 1000)
	ctx := context.Background()
	start := time.Now()
	b.ResetTimer()
	for i := range b.N {
		if err := db.MarkSeen(ctx, ids[i%len(ids)], start.Add(time.Duration(i)*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddStatus is StatusNotifications from 1,000 stations, one
// transaction each.
func BenchmarkAddStatus(b *testing.B) {
	db, ids := benchDB(b, 1000)
	ctx := context.Background()
	start := time.Now()
	b.ResetTimer()
	for i := range b.N {
		ev := ocppd.StatusEvent{
			ChargePointID: ids[i%len(ids)],
			EVSE:          1,
			Connector:     1 + i%2,
			Status:        "Occupied",
			Timestamp:     start.Add(time.Duration(i) * time.Millisecond),
			ReceivedAt:    start.Add(time.Duration(i) * time.Millisecond),
		}
		if err := db.AddStatus(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetChargePoint is a registry look-up through the read pool.
func BenchmarkGetChargePoint(b *testing.B) {
	db, ids := benchDB(b, 1000)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := db.GetChargePoint(ctx, ids[n.Add(1)%int64(len(ids))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAddStatusParallel is StatusNotifications handled by many
// workers at once, which share commits.
func BenchmarkAddStatusParallel(b *testing.B) {
	db, ids := benchDB(b, 1000)
	var n atomic.Int64
	start := time.Now()
	b.SetParallelism(50)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := n.Add(1)
			ev := ocppd.StatusEvent{
				ChargePointID: ids[i%int64(len(ids))],
				EVSE:          1,
				Connector:     1 + int(i%2),
				Status:        "Occupied",
				Timestamp:     start.Add(time.Duration(i) * time.Millisecond),
				ReceivedAt:    start.Add(time.Duration(i) * time.Millisecond),
			}
			if err := db.AddStatus(ctx, ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
