package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
	"github.com/ocppd/ocppd/store/storetest"
)

// testURL returns OCPPD_TEST_POSTGRES_URL or skips the test.
func testURL(t testing.TB) string {
	u := os.Getenv("OCPPD_TEST_POSTGRES_URL")
	if u == "" {
		t.Skip("OCPPD_TEST_POSTGRES_URL not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable); skipping PostgreSQL test")
	}
	return u
}

// openSchema opens a store in a fresh random schema and drops the schema
// when the test ends.
func openSchema(t testing.TB) (*DB, string) {
	t.Helper()
	url := testURL(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "ocppd_test_" + hex.EncodeToString(b[:])
	db := New(Options{URL: url, Schema: schema})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return db, schema
}

func TestConformance(t *testing.T) {
	testURL(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		db, _ := openSchema(t)
		return db
	})
}

// TestOpenTwice: a second process opening a migrated schema finds nothing
// to do, and two processes migrating a new schema at once both succeed
// (goose's advisory lock).
func TestOpenConcurrentMigrations(t *testing.T) {
	db, schema := openSchema(t)
	if err := db.AddChargePoints(context.Background(), []ocppd.ChargePoint{{ID: "A", Registration: ocppd.RegistrationAccepted, RegisteredAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Go(func() {
			other := New(Options{URL: testURL(t), Schema: schema})
			defer other.Close()
			if err := other.Open(context.Background()); err != nil {
				errs <- err
				return
			}
			if _, err := other.GetChargePoint(context.Background(), "A"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestOpenErrors(t *testing.T) {
	if err := New(Options{}).Open(context.Background()); ocppd.ErrorCode(err) != ocppd.EINVALID {
		t.Errorf("Open without URL: %v, want EINVALID", err)
	}
	if err := New(Options{URL: "postgres://u:secret@h:notaport/db"}).Open(context.Background()); ocppd.ErrorCode(err) != ocppd.EINVALID {
		t.Errorf("Open with a bad URL: %v, want EINVALID", err)
	}
	// Nothing listens on a port we just released: EUNAVAILABLE.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db := New(Options{URL: "postgres://postgres@" + addr + "/test?sslmode=disable&connect_timeout=2"})
	if err := db.Open(ctx); ocppd.ErrorCode(err) != ocppd.EUNAVAILABLE {
		t.Errorf("Open against no server: %v, want EUNAVAILABLE", err)
	}
	if _, err := db.GetChargePoint(ctx, "A"); ocppd.ErrorCode(err) != ocppd.EUNAVAILABLE {
		t.Errorf("GetChargePoint on a store not opened: %v, want EUNAVAILABLE", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("Close of a store never opened: %v", err)
	}
}

// TestConnectionLost: when the server ends the store's connections, calls
// fail with EUNAVAILABLE (or succeed on a fresh connection), never with an
// internal error; the pool recovers afterwards.
func TestConnectionLost(t *testing.T) {
	db, _ := openSchema(t)
	ctx := context.Background()
	if err := db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: "A", Registration: ocppd.RegistrationAccepted, RegisteredAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	// Hold a connection busy in a statement, then terminate it.
	pid := make(chan uint32, 1)
	res := make(chan error, 1)
	go func() {
		conn, err := db.pool.Acquire(ctx)
		if err != nil {
			res <- err
			return
		}
		defer conn.Release()
		pid <- conn.Conn().PgConn().PID()
		_, err = conn.Exec(ctx, "SELECT pg_sleep(30)")
		res <- translate("sleep", err)
	}()
	admin, err := pgx.Connect(ctx, testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	p := <-pid
	// pg_terminate_backend may run before the backend starts sleeping;
	// either way the connection dies.
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", p); err != nil {
		t.Fatal(err)
	}
	if err := <-res; ocppd.ErrorCode(err) != ocppd.EUNAVAILABLE {
		t.Errorf("statement on a terminated connection: %v (code %q), want EUNAVAILABLE", err, ocppd.ErrorCode(err))
	}
	if _, err := db.GetChargePoint(ctx, "A"); err != nil {
		t.Errorf("GetChargePoint after a lost connection: %v", err)
	}
}

// TestMarkSeenCoalesces checks the group commit deterministically: while
// one batch is blocked on a row lock, every other caller joins the next
// batch, and all of them are written by one statement once it runs.
func TestMarkSeenCoalesces(t *testing.T) {
	db, schema := openSchema(t)
	ctx := context.Background()
	const n = 200
	var cps []ocppd.ChargePoint
	for i := range n {
		cps = append(cps, ocppd.ChargePoint{ID: fmt.Sprintf("CP%03d", i), Registration: ocppd.RegistrationAccepted, RegisteredAt: time.Now()})
	}
	if err := db.AddChargePoints(ctx, cps); err != nil {
		t.Fatal(err)
	}
	// Another session locks CP000's row.
	blocker, err := pgx.Connect(ctx, testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close(ctx)
	tx, err := blocker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM "+pgx.Identifier{schema, "charge_points"}.Sanitize()+" WHERE id = 'CP000' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	seen := func(i int) time.Time { return when.Add(time.Duration(i) * time.Second) }
	before := db.seen.batches.Load()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := db.MarkSeen(ctx, "CP000", seen(0)); err != nil {
			t.Error(err)
		}
	})
	// The first batch is being written and waits for the lock.
	blockerPID := blocker.PgConn().PID()
	waitFor(t, "the first batch to wait for the row lock", func() bool {
		var k int
		err := tx.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", blockerPID).Scan(&k)
		if err != nil {
			t.Fatal(err)
		}
		return k > 0
	})
	for i := 1; i < n; i++ {
		wg.Go(func() {
			if err := db.MarkSeen(ctx, cps[i].ID, seen(i)); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor(t, "every other mark to be queued", func() bool {
		db.seen.mu.Lock()
		defer db.seen.mu.Unlock()
		return db.seen.pending != nil && len(db.seen.pending.marks) == n-1
	})
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := db.seen.batches.Load() - before; got != 2 {
		t.Errorf("%d MarkSeen calls took %d batches, want 2 (one blocked, then all the others)", n, got)
	}
	for i := range n {
		cp, err := db.GetChargePoint(ctx, cps[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if !cp.LastSeen.Equal(seen(i)) {
			t.Fatalf("%s LastSeen = %v, want %v", cp.ID, cp.LastSeen, seen(i))
		}
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPutShadowInvalid(t *testing.T) {
	db, _ := openSchema(t)
	ctx := context.Background()
	if err := db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: "A", Registration: ocppd.RegistrationAccepted, RegisteredAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutShadow(ctx, "A", json.RawMessage(`{not json`), 0, time.Now()); ocppd.ErrorCode(err) != ocppd.EINVALID {
		t.Errorf("PutShadow(invalid JSON) = %v, want EINVALID", err)
	}
	// jsonb cannot hold U+0000 in a string.
	if err := db.PutShadow(ctx, "A", json.RawMessage(`{"a":"\u0000"}`), 0, time.Now()); ocppd.ErrorCode(err) != ocppd.EINVALID {
		t.Errorf("PutShadow(NUL) = %v, want EINVALID", err)
	}
}

// BenchmarkMarkSeen measures MarkSeen under concurrent callers (heartbeats
// of many stations through CSMS workers), group-committed.
func BenchmarkMarkSeen(b *testing.B) {
	db, _ := openSchema(b)
	ctx := context.Background()
	const n = 10000
	cps := make([]ocppd.ChargePoint, n)
	for i := range cps {
		cps[i] = ocppd.ChargePoint{ID: fmt.Sprintf("CP%05d", i), Registration: ocppd.RegistrationAccepted, RegisteredAt: time.Now()}
	}
	if err := db.AddChargePoints(ctx, cps); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if err := db.MarkSeen(ctx, cps[i%n].ID, time.Now()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if batches := db.seen.batches.Load(); batches > 0 {
		b.ReportMetric(float64(b.N)/float64(batches), "marks/batch")
	}
}
