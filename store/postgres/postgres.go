// Package postgres is the store.Store for scale-out deployments: several
// CSMS and API processes share one PostgreSQL database through pgx
// (pgxpool), with the schema kept by embedded goose migrations.
//
// Migrations run at Open under a PostgreSQL advisory lock (goose's session
// locker), so processes starting together migrate once. Options.Schema
// puts every table, and goose's version table, in one schema (created if
// missing) through the connections' search_path: several installations or
// test runs can share a database.
//
// MarkSeen, the hot path, is group-committed: concurrent calls are collected
// while the previous batch is being written and committed together with one
// UPDATE … FROM unnest(…) statement, and each call returns once that
// statement has committed. PutShadow is optimistic: UPDATE … WHERE version =
// expect, or INSERT … ON CONFLICT DO NOTHING for the first version.
//
// Errors: unique violations become ECONFLICT naming the id, foreign key
// violations on a station ENOTFOUND, and a database that cannot be reached
// (connection refused or lost, server shutting down, too many connections)
// EUNAVAILABLE.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

var _ store.Store = (*DB)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure a DB. The zero value of every field but URL is usable.
type Options struct {
	// URL is the connection string, e.g.
	// postgres://ocppd@db.internal:5432/ocppd?sslmode=verify-full.
	// Pool settings may be given in it (pool_max_conns=20, …).
	URL string
	// Schema, if set, holds every table (search_path); it is created if
	// missing. Default: the database's own search_path (public).
	Schema string
	// Logger receives migration and error logs; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; time.Now if nil. (The store takes
	// every time it writes from its callers; Now is for parity with
	// store/sqlite and future time-based defaults.)
	Now func() time.Time
}

// DB is a store.Store on a PostgreSQL database. Create it with New, then
// Open it.
type DB struct {
	opts Options
	log  *slog.Logger

	pool *pgxpool.Pool
	seen seenQueue

	closeOnce sync.Once
}

// New returns a DB for opts. It does no I/O; call Open.
func New(opts Options) *DB {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &DB{opts: opts, log: opts.Logger.With("store", "postgres")}
}

// Open connects, creates the schema if one is configured, and migrates it
// to the latest version. It fails with EUNAVAILABLE when the server cannot
// be reached.
func (db *DB) Open(ctx context.Context) error {
	if db.opts.URL == "" {
		return ocppd.Errorf(ocppd.EINVALID, "postgres store: no database URL")
	}
	if db.pool != nil || db.seen.isClosed() {
		return errors.New("postgres store: Open called twice or after Close")
	}
	cfg, err := pgxpool.ParseConfig(db.opts.URL)
	if err != nil {
		// The parse error may quote the URL, password included.
		return ocppd.Errorf(ocppd.EINVALID, "postgres store: invalid database URL")
	}
	if db.opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = db.opts.Schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return translate("connect", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return translate("connect", err)
	}
	if db.opts.Schema != "" {
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{db.opts.Schema}.Sanitize()); err != nil {
			pool.Close()
			return translate("create schema "+db.opts.Schema, err)
		}
	}
	if err := db.migrate(ctx, pool); err != nil {
		pool.Close()
		return err
	}
	db.pool = pool
	db.seen.start(db)
	db.log.Debug("opened", "host", cfg.ConnConfig.Host, "database", cfg.ConnConfig.Database, "schema", db.opts.Schema)
	return nil
}

// migrate brings the schema up to date under goose's advisory lock.
func (db *DB) migrate(ctx context.Context, pool *pgxpool.Pool) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSessionLocker(locker),
		// Migration numbers are allotted in ranges per feature area, so a
		// database may have seen a later range before an earlier one.
		goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	for _, r := range res {
		if r.Error == nil {
			db.log.Info("applied migration", "version", r.Source.Version, "file", filepath.Base(r.Source.Path), "took", r.Duration)
		}
	}
	if err != nil && !errors.Is(err, goose.ErrNoNextVersion) {
		return translate("migrate schema", err)
	}
	return nil
}

// Close writes the pending MarkSeen batch, waits for it, and closes the
// pool. It is idempotent.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.seen.stop()
		if db.pool != nil {
			db.pool.Close()
		}
	})
	return nil
}

// errClosed is returned by every method once Close was called, and before
// Open.
var errClosed = ocppd.Errorf(ocppd.EUNAVAILABLE, "store is closed")

// opened returns errClosed unless the database is open.
func (db *DB) opened() error {
	if db.pool == nil || db.seen.isClosed() {
		return errClosed
	}
	return nil
}

// write runs fn in a transaction and commits it. Errors are translated with
// op as context.
func (db *DB) write(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	if err := db.opened(); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, db.pool, fn)
	return translate(op, err)
}

// PostgreSQL error codes (SQLSTATE) the store translates.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeUntranslatable      = "22P05" // e.g. \u0000 in a jsonb string
	codeSerialization       = "40001"
	codeDeadlock            = "40P01"
	codeTooManyConnections  = "53300"
	codeAdminShutdown       = "57P01"
	codeCrashShutdown       = "57P02"
	codeCannotConnectNow    = "57P03"
	codeReadOnly            = "25006" // read_only_sql_transaction: a standby after failover
)

// translate turns a driver error into a domain error where one applies,
// keeping the driver error in the chain for logs. Domain errors and nil
// pass through unchanged.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *ocppd.Error
	if errors.As(err, &de) {
		return err
	}
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", op, ocppd.Errorf(ocppd.EUNAVAILABLE, "database unavailable; try again"), err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeUniqueViolation:
			return fmt.Errorf("%s: %w: %w", op, ocppd.Errorf(ocppd.ECONFLICT, "already exists: %s", pe.Detail), err)
		case codeUntranslatable:
			return fmt.Errorf("%s: %w: %w", op, ocppd.Errorf(ocppd.EINVALID, "value cannot be stored: %s", pe.Message), err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unavailable reports whether err means the database cannot be reached or
// is refusing work for now: the connection failed or broke, the server is
// shutting down or full, or it is a read-only standby.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code[:2] == "08": // connection exception
			return true
		case pe.Code == codeTooManyConnections, pe.Code == codeAdminShutdown, pe.Code == codeCrashShutdown,
			pe.Code == codeCannotConnectNow, pe.Code == codeReadOnly:
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return pgconn.SafeToRetry(err) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// retryable reports whether the transaction lost a race with another one
// (deadlock or serialization failure) and may simply run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeDeadlock || pe.Code == codeSerialization)
}

func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// utc returns t in UTC; the zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// nullTime is t for a nullable column: the zero time is NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// fromNull converts a nullable column back; NULL is the zero time.
func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
