package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocppd/ocppd"

	"github.com/ocppd/ocppd/store"
	"github.com/ocppd/ocppd/store/storetest"
)

// openTemp opens a DB on a new file in a temporary directory and closes it
// when the test ends.
func openTemp(t testing.TB) *DB {
	t.Helper()
	db := New(Options{Path: filepath.Join(t.TempDir(), "data", "ocppd.db")})
	if err := db.Open(context.Background()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestOpenWithoutPath(t *testing.T) {
	err := New(Options{}).Open(context.Background())
	if got := ocppd.ErrorCode(err); got != ocppd.EINVALID {
		t.Fatalf("Open without path: code %q (%v), want %q", got, err, ocppd.EINVALID)
	}
}

func TestUseBeforeOpenAndAfterClose(t *testing.T) {
	ctx := context.Background()
	db := New(Options{Path: filepath.Join(t.TempDir(), "x.db")})
	if err := db.MarkSeen(ctx, "A", time.Now()); ocppd.ErrorCode(err) != ocppd.EUNAVAILABLE {
		t.Errorf("MarkSeen before Open = %v, want EUNAVAILABLE", err)
	}
	if _, err := db.GetChargePoint(ctx, "A"); ocppd.ErrorCode(err) != ocppd.EUNAVAILABLE {
		t.Errorf("GetChargePoint before Open = %v, want EUNAVAILABLE", err)
	}
	if err := db.Close(); err != nil { // Close of a never-opened DB
		t.Fatal(err)
	}

	db = openTemp(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkSeen(ctx, "A", time.Now()); ocppd.ErrorCode(err) != ocppd.EUNAVAILABLE {
		t.Errorf("MarkSeen after Close = %v, want EUNAVAILABLE", err)
	}
	if err := db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: "A", Registration: ocppd.RegistrationAccepted}}); ocppd.ErrorCode(err) != ocppd.EUNAVAILABLE {
		t.Errorf("AddChargePoints after Close = %v, want EUNAVAILABLE", err)
	}
	if _, err := db.ListChargePoints(ctx, store.ListOptions{}); ocppd.ErrorCode(err) != ocppd.EUNAVAILABLE {
		t.Errorf("ListChargePoints after Close = %v, want EUNAVAILABLE", err)
	}
	if err := db.Open(ctx); err == nil {
		t.Error("Open after Close succeeded")
	}
}

// migrationVersions lists the applied versions in goose's table.
func migrationVersions(t *testing.T, path string) []int64 {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(`SELECT version_id FROM goose_db_version ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ocppd.db")
	registered := time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	for i := range 3 {
		db := New(Options{Path: path})
		if err := db.Open(ctx); err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		if i == 0 {
			if err := db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: "CP1", Registration: ocppd.RegistrationAccepted, RegisteredAt: registered}}); err != nil {
				t.Fatal(err)
			}
			if err := db.MarkSeen(ctx, "CP1", registered.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		cp, err := db.GetChargePoint(ctx, "CP1")
		if err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		if !cp.RegisteredAt.Equal(registered) || !cp.LastSeen.Equal(registered.Add(time.Minute)) {
			t.Errorf("open #%d: %+v", i+1, cp)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		// Version 0 is goose's own, then one row per migration, however
		// often the file is opened.
		want := []int64{0}
		entries, err := fs.Glob(migrations, "migrations/*.sql")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			// Migrations are numbered in ranges per feature area, so
			// the versions are the files' number prefixes, not 1…n.
			var v int64
			if _, err := fmt.Sscanf(filepath.Base(e), "%d_", &v); err != nil {
				t.Fatalf("migration %s: %v", e, err)
			}
			want = append(want, v)
		}
		if got := migrationVersions(t, path); !slices.Equal(got, want) {
			t.Fatalf("after open #%d: goose versions %v, want %v", i+1, got, want)
		}
	}
}

func TestPragmas(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	for _, c := range []struct {
		conn *sql.DB
		name string
		want string
	}{
		{db.w, "journal_mode", "wal"},
		{db.w, "foreign_keys", "1"},
		{db.w, "synchronous", "2"}, // FULL
		{db.w, "busy_timeout", "5000"},
		{db.r.DB, "foreign_keys", "1"},
		{db.r.DB, "query_only", "1"},
		{db.r.DB, "busy_timeout", "5000"},
	} {
		var got string
		if err := c.conn.QueryRowContext(ctx, "PRAGMA "+c.name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestBusyIsUnavailable holds the write lock from another connection, as
// another process would, until the busy timeout expires.
func TestBusyIsUnavailable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ocppd.db")
	db := New(Options{Path: path})
	db.busyTimeout = 50 * time.Millisecond
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	err = db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: "A", Registration: ocppd.RegistrationAccepted}})
	if got := ocppd.ErrorCode(err); got != ocppd.EUNAVAILABLE {
		t.Errorf("AddChargePoints while locked: code %q (%v), want %q", got, err, ocppd.EUNAVAILABLE)
	}
	if err := db.MarkSeen(ctx, "A", time.Now()); ocppd.ErrorCode(err) != ocppd.EUNAVAILABLE {
		t.Errorf("MarkSeen while locked = %v, want EUNAVAILABLE", err)
	}
	// Readers are not blocked by a writer in WAL mode.
	if _, _, err := db.CountChargePoints(ctx); err != nil {
		t.Errorf("Count while locked: %v", err)
	}

	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: "A", Registration: ocppd.RegistrationAccepted}}); err != nil {
		t.Errorf("AddChargePoints after the lock was released: %v", err)
	}
}

// TestTwoHandlesOneFile is the CLI writing while the server runs: two DBs
// on one file, both writing, each seeing the other's writes.
func TestTwoHandlesOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ocppd.db")
	server, cli := New(Options{Path: path, Logger: testLogger(t)}), New(Options{Path: path, Logger: testLogger(t)})
	// Both open a new file at once: both migrate, one of them retries.
	var wg sync.WaitGroup
	for _, db := range []*DB{server, cli} {
		wg.Go(func() {
			if err := db.Open(ctx); err != nil {
				t.Errorf("Open: %v", err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	defer server.Close()
	defer cli.Close()

	const n = 200
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("CP%03d", i))
	}
	base := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	if err := server.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: ids[0], Registration: ocppd.RegistrationAccepted, RegisteredAt: base}}); err != nil {
		t.Fatal(err)
	}

	// The server marks stations seen while the CLI adds the others one by
	// one; neither fails.
	stop := make(chan struct{})
	var serverErr error
	var marks int
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := server.MarkSeen(ctx, ids[i%n], base.Add(time.Duration(i)*time.Millisecond)); err != nil {
				serverErr = err
				return
			}
			marks++
		}
	})
	for _, id := range ids[1:] {
		if err := cli.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: id, Registration: ocppd.RegistrationPending, RegisteredAt: base}}); err != nil {
			t.Errorf("cli add %s: %v", id, err)
			break
		}
	}
	close(stop)
	wg.Wait()
	if serverErr != nil {
		t.Fatalf("server MarkSeen while the CLI writes: %v", serverErr)
	}
	t.Logf("server marked %d while the CLI added %d", marks, n-1)

	total, _, err := server.CountChargePoints(ctx)
	if err != nil || total != n {
		t.Fatalf("server counts %d, %v; want %d", total, err, n)
	}
	// A conflict detected through the other handle names the id.
	err = cli.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: ids[0], Registration: ocppd.RegistrationAccepted, RegisteredAt: base}})
	if ocppd.ErrorCode(err) != ocppd.ECONFLICT || !strings.Contains(ocppd.ErrorMessage(err), ids[0]) {
		t.Errorf("cli re-adding %s: %v, want ECONFLICT naming it", ids[0], err)
	}
	// Optimistic concurrency holds across handles.
	if err := server.PutShadow(ctx, ids[0], []byte(`{"a":1}`), 0, base); err != nil {
		t.Fatal(err)
	}
	if err := cli.PutShadow(ctx, ids[0], []byte(`{"a":2}`), 0, base); ocppd.ErrorCode(err) != ocppd.ECONFLICT {
		t.Errorf("cli PutShadow with a stale version: %v, want ECONFLICT", err)
	}
	// The CLI deletes a station; the server no longer finds it.
	if err := cli.DeleteChargePoint(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := server.GetChargePoint(ctx, ids[1]); ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		t.Errorf("server Get after cli delete: %v, want ENOTFOUND", err)
	}
}

// TestTwoProcesses runs the CLI side in a child process (this test binary
// again) while this process keeps writing.
func TestTwoProcesses(t *testing.T) {
	if path := os.Getenv("OCPPD_SQLITE_CHILD_DB"); path != "" {
		childProcess(t, path)
		return
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ocppd.db")
	server := New(Options{Path: path})
	if err := server.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if err := server.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: "SRV", Registration: ocppd.RegistrationAccepted}}); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var serverErr error
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := server.MarkSeen(ctx, "SRV", time.UnixMilli(int64(i))); err != nil {
				serverErr = err
				return
			}
		}
	})
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestTwoProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), "OCPPD_SQLITE_CHILD_DB="+path)
	out, err := cmd.CombinedOutput()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	if serverErr != nil {
		t.Fatalf("server MarkSeen while the child writes: %v", serverErr)
	}
	total, _, err := server.CountChargePoints(ctx)
	if err != nil || total != 51 {
		t.Fatalf("server counts %d, %v; want 51 (1 + 50 from the child)", total, err)
	}
	cp, err := server.GetChargePoint(ctx, "CHILD49")
	if err != nil || cp.Registration != ocppd.RegistrationRejected {
		t.Fatalf("CHILD49 = %+v, %v; want Rejected (set by the child)", cp, err)
	}
}

func childProcess(t *testing.T, path string) {
	ctx := context.Background()
	db := New(Options{Path: path})
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 50 {
		id := fmt.Sprintf("CHILD%02d", i)
		if err := db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: id, Registration: ocppd.RegistrationPending}}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetRegistration(ctx, id, ocppd.RegistrationRejected); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: "SRV"}}); ocppd.ErrorCode(err) != ocppd.ECONFLICT {
		t.Fatalf("child re-adding SRV: %v, want ECONFLICT", err)
	}
}

// TestCloseFlushesMarkSeen closes the store while MarkSeen calls are in
// flight: every call that returned nil is on disk afterwards.
func TestCloseFlushesMarkSeen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ocppd.db")
	db := New(Options{Path: path})
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 300
	var cps []ocppd.ChargePoint
	for i := range n {
		cps = append(cps, ocppd.ChargePoint{ID: fmt.Sprintf("CP%03d", i), Registration: ocppd.RegistrationAccepted})
	}
	if err := db.AddChargePoints(ctx, cps); err != nil {
		t.Fatal(err)
	}
	seen := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	results := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = db.MarkSeen(ctx, cps[i].ID, seen) })
		if i == n/2 {
			wg.Go(func() {
				if err := db.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
		}
	}
	wg.Wait()
	db.Close()

	db = New(Options{Path: path})
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ok, refused int
	for i, err := range results {
		switch {
		case err == nil:
			ok++
			cp, err := db.GetChargePoint(ctx, cps[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			if !cp.LastSeen.Equal(seen) {
				t.Errorf("%s: MarkSeen returned nil but LastSeen is %v after reopen", cps[i].ID, cp.LastSeen)
			}
		case ocppd.ErrorCode(err) == ocppd.EUNAVAILABLE:
			refused++
		default:
			t.Errorf("%s: MarkSeen: %v", cps[i].ID, err)
		}
	}
	t.Logf("%d marks committed, %d refused after Close", ok, refused)
}

func TestMarkSeenContextCancelled(t *testing.T) {
	db := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The mark may or may not be written, but the call returns with the
	// context's error rather than waiting.
	err := db.MarkSeen(ctx, "A", time.Now())
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("MarkSeen with a cancelled context = %v", err)
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	if err := db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: ""}}); ocppd.ErrorCode(err) != ocppd.EINVALID {
		t.Errorf("AddChargePoints(empty id) = %v, want EINVALID", err)
	}
	if err := db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: "A", Registration: ocppd.RegistrationAccepted}}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutShadow(ctx, "A", []byte(`{not json`), 0, time.Now()); ocppd.ErrorCode(err) != ocppd.EINVALID {
		t.Errorf("PutShadow(invalid JSON) = %v, want EINVALID", err)
	}
	if err := db.SetRegistration(ctx, "A", "Maybe"); ocppd.ErrorCode(err) != ocppd.EINVALID {
		t.Errorf("SetRegistration(Maybe) = %v, want EINVALID", err)
	}
	if err := db.AddStatus(ctx, ocppd.StatusEvent{ChargePointID: "NOPE", Status: "Available"}); ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		t.Errorf("AddStatus(unknown station) = %v, want ENOTFOUND", err)
	}
}

// testLogger logs through t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// TestGroupCommitIsolatesFailures runs many writes at once so that they
// share transactions: the ones that fail leave no trace, the others are all
// committed.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	if err := db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: "TAKEN", Registration: ocppd.RegistrationAccepted}}); err != nil {
		t.Fatal(err)
	}
	const n = 100
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cps := []ocppd.ChargePoint{{ID: fmt.Sprintf("NEW%03d", i), Registration: ocppd.RegistrationAccepted}}
			if i%2 == 1 {
				// Fails on its second row: the first must be undone.
				cps = append(cps, ocppd.ChargePoint{ID: "TAKEN", Registration: ocppd.RegistrationAccepted})
			}
			errs[i] = db.AddChargePoints(ctx, cps)
		})
	}
	wg.Wait()
	for i, err := range errs {
		want := ""
		if i%2 == 1 {
			want = ocppd.ECONFLICT
		}
		if got := ocppd.ErrorCode(err); got != want {
			t.Errorf("add #%d: code %q (%v), want %q", i, got, err, want)
		}
	}
	got, err := db.ListChargePoints(ctx, store.ListOptions{Prefix: "NEW"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n/2 {
		t.Fatalf("%d stations NEW*, want %d", len(got), n/2)
	}
	for _, cp := range got {
		var i int
		fmt.Sscanf(cp.ID, "NEW%03d", &i)
		if i%2 == 1 {
			t.Errorf("%s was written by a failed add", cp.ID)
		}
	}
}

func TestZeroServerTimesDefaultToNow(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)
	db := New(Options{Path: filepath.Join(t.TempDir(), "ocppd.db"), Now: func() time.Time { return now }})
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: "A", Registration: ocppd.RegistrationAccepted}}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutShadow(ctx, "A", []byte(`{}`), 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddStatus(ctx, ocppd.StatusEvent{ChargePointID: "A", Status: "Available"}); err != nil {
		t.Fatal(err)
	}
	cp, err := db.GetChargePoint(ctx, "A")
	if err != nil || !cp.RegisteredAt.Equal(now) {
		t.Errorf("RegisteredAt = %v, %v; want %v", cp.RegisteredAt, err, now)
	}
	rec, err := db.GetShadow(ctx, "A")
	if err != nil || !rec.UpdatedAt.Equal(now) {
		t.Errorf("shadow UpdatedAt = %v, %v; want %v", rec.UpdatedAt, err, now)
	}
	hist, err := db.StatusHistory(ctx, "A", 1)
	if err != nil || len(hist) != 1 || !hist[0].ReceivedAt.Equal(now) || !hist[0].Timestamp.IsZero() {
		t.Errorf("history = %+v, %v; want ReceivedAt %v and a zero Timestamp", hist, err, now)
	}
}

func TestPathWithSpecialCharacters(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "my data #1", "50% ?sure")
	path := filepath.Join(dir, "ocppd.db")
	db := New(Options{Path: path})
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: "A", Registration: ocppd.RegistrationAccepted}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not where asked: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("files next to the data directory: %v", entries)
	}
}
