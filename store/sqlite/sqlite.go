// Package sqlite is the default store.Store: one SQLite file under the data
// directory, through the pure-Go driver modernc.org/sqlite, with the schema
// kept by embedded goose migrations.
//
// The database runs in WAL mode with one writer connection (SQLite admits
// one writer at a time; serialising in the process avoids lock contention
// inside it) and a small pool of read-only connections that never block the
// writer or each other. Write transactions begin IMMEDIATE, so another
// process writing to the same file (the CLI while the server runs) makes
// this one wait up to the busy timeout instead of failing half-way; past
// that the error is EUNAVAILABLE. Times are stored as Unix milliseconds
// and returned in UTC.
//
// Writes are group-committed: concurrent writes are collected while the
// previous batch is being committed and then committed together in one
// transaction, each in its own savepoint; every call returns once the
// transaction holding its write has committed. MarkSeen, the hot path,
// is coalesced further to one update per station and batch.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

var _ store.Store = (*DB)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

const (
	// defaultBusyTimeout is how long a statement waits for another
	// connection (in practice: another process) holding the write lock
	// before it fails with SQLITE_BUSY, reported as EUNAVAILABLE.
	defaultBusyTimeout = 5 * time.Second
	// readers is the size of the read-only connection pool.
	readers = 4
)

// Options configure a DB. The zero value of every field but Path is usable.
type Options struct {
	// Path is the database file (not ":memory:": the store opens several
	// connections). Its parent directory is created if missing. The CLI
	// passes filepath.Join(dataDir, "ocppd.db").
	Path string
	// Logger receives migration and error logs; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; time.Now if nil. It stands in for the
	// server-side times a caller leaves zero: a station's RegisteredAt, a
	// status event's ReceivedAt, a shadow's update time.
	Now func() time.Time
}

// DB is a store.Store on one SQLite file. Create it with New, then Open it.
type DB struct {
	opts        Options
	log         *slog.Logger
	busyTimeout time.Duration // tests shorten it

	w *sql.DB   // the one writer connection
	r *readPool // read-only pool, with prepared statements

	commit committer

	closeOnce sync.Once
	closeErr  error
}

// New returns a DB for opts. It does no I/O; call Open.
func New(opts Options) *DB {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &DB{opts: opts, log: opts.Logger.With("store", "sqlite"), busyTimeout: defaultBusyTimeout}
}

// dsn returns the driver's data source name for path with the pragmas
// every connection gets.
//
// synchronous=FULL: in WAL mode every commit syncs the WAL to disk before
// it returns, so a committed write survives an application crash and a
// power loss or OS crash alike. NORMAL would sync only at checkpoints:
// still consistent, and still safe against an application crash, but the
// last transactions could roll back after a power loss — and ocppd
// acknowledges OCPP messages only once they are stored. The cost of FULL,
// one fsync per commit, is shared by every write of a batch (writes are
// group-committed).
func dsn(path string, busyTimeout time.Duration, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open creates the file if needed, sets it up and migrates the schema to
// the latest version. Two processes may open the same file.
func (db *DB) Open(ctx context.Context) error {
	if db.opts.Path == "" {
		return ocppd.Errorf(ocppd.EINVALID, "sqlite store: no database path")
	}
	if db.w != nil || db.commit.isClosed() {
		return errors.New("sqlite store: Open called twice or after Close")
	}
	if dir := filepath.Dir(db.opts.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
	}
	w, err := sql.Open("sqlite", dsn(db.opts.Path, db.busyTimeout, false))
	if err != nil {
		return fmt.Errorf("open %s: %w", db.opts.Path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// The writer connects first: it switches the file to WAL mode before
	// any reader opens it.
	if err := db.setWAL(ctx, w); err != nil {
		w.Close()
		return translate("open "+db.opts.Path, err)
	}
	if err := migrate(ctx, w, db.log); err != nil {
		w.Close()
		return err
	}
	r, err := sql.Open("sqlite", dsn(db.opts.Path, db.busyTimeout, true))
	if err != nil {
		w.Close()
		return fmt.Errorf("open %s: %w", db.opts.Path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return translate("open "+db.opts.Path, err)
	}
	db.w, db.r = w, newReadPool(r)
	db.commit.start(db)
	db.log.Debug("opened", "path", db.opts.Path)
	return nil
}

// setWAL switches the file to WAL mode, which is persistent: later
// connections find it set. SQLite answers SQLITE_BUSY at once, without
// waiting the busy timeout, while another process has the file open in the
// middle of creating it, so this retries for up to the busy timeout.
func (db *DB) setWAL(ctx context.Context, w *sql.DB) error {
	deadline := time.Now().Add(db.busyTimeout)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		var mode string
		err := w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				return fmt.Errorf("journal mode is %q, not wal", mode)
			}
			return nil
		}
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return fmt.Errorf("set WAL mode: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// migrate brings the schema up to date. Each migration runs in its own
// transaction. Two processes opening a new file at once may both try the
// same migration; the loser fails on the objects the winner created, and
// the retry finds nothing left to do.
func migrate(ctx context.Context, w *sql.DB, log *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, w, fsys,
		goose.WithDisableGlobalRegistry(true),
		// Migration numbers are allotted in ranges per feature area, so a
		// database may have seen a later range before an earlier one.
		goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	const attempts = 3
	for i := 1; ; i++ {
		res, err := p.Up(ctx)
		for _, r := range res {
			if r.Error == nil {
				log.Info("applied migration", "version", r.Source.Version, "file", filepath.Base(r.Source.Path), "took", r.Duration)
			}
		}
		if err == nil || errors.Is(err, goose.ErrNoNextVersion) {
			return nil
		}
		if i == attempts || ctx.Err() != nil {
			return translate("migrate schema", err)
		}
		log.Warn("migration failed, retrying", "attempt", i, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(i) * 100 * time.Millisecond):
		}
	}
}

// Close commits the pending batch of writes, waits for it, and closes the
// database. It is idempotent; calls after the first return the first
// result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.commit.stop()
		if db.w != nil {
			// Refresh the query planner's statistics where they drifted,
			// as SQLite recommends before closing a connection.
			if _, err := db.w.Exec("PRAGMA optimize"); err != nil {
				db.log.Warn("optimize", "err", err)
			}
		}
		var errs []error
		if db.r != nil {
			errs = append(errs, db.r.Close())
		}
		if db.w != nil {
			errs = append(errs, db.w.Close())
		}
		if err := errors.Join(errs...); err != nil {
			db.closeErr = fmt.Errorf("close %s: %w", db.opts.Path, err)
		}
	})
	return db.closeErr
}

// errClosed is returned by every method once Close was called, and before
// Open.
var errClosed = ocppd.Errorf(ocppd.EUNAVAILABLE, "store is closed")

// opened returns errClosed unless the database is open.
func (db *DB) opened() error {
	if db.w == nil || db.commit.isClosed() {
		return errClosed
	}
	return nil
}

// translate turns a driver error into a domain error where one applies,
// keeping the driver error in the chain for logs. Domain errors pass
// through unchanged.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *ocppd.Error
	if errors.As(err, &de) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%s: %w: %w", op, ocppd.Errorf(ocppd.EUNAVAILABLE, "database is busy; try again"), err)
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
			return fmt.Errorf("%s: %w: %w", op, ocppd.Errorf(ocppd.EUNAVAILABLE, "database unavailable"), err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isConstraint reports whether err is the SQLite constraint violation code
// (an extended code such as SQLITE_CONSTRAINT_PRIMARYKEY).
func isConstraint(err error, code int) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == code
}

// ms converts t to the stored form: Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// msOrNull is ms for a time that may be zero ("never"), stored as NULL.
func msOrNull(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// orNow returns t, or the current time if t is zero.
func (db *DB) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return db.opts.Now()
	}
	return t
}

// fromMS converts a stored time back, in UTC.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// fromNullMS is fromMS for a nullable column; NULL is the zero time.
func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}
