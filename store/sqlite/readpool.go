package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStatements bounds the prepared-statement cache; queries past it
// (only dynamically built filters could get there) run unprepared.
const maxCachedStatements = 256

// readPool is the read-only connection pool with a cache of prepared
// statements. Neither database/sql nor modernc.org/sqlite keeps one, and
// SQLite's parser was 12–17 % of the server's CPU in Heartbeat and storm
// profiles (docs/performance.md): every read prepared its statement anew.
// A *sql.Stmt prepared on the pool is re-prepared lazily per connection
// and reused from then on.
type readPool struct {
	*sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newReadPool(db *sql.DB) *readPool {
	return &readPool{DB: db, stmts: map[string]*sql.Stmt{}}
}

// stmt returns the prepared statement for query, preparing it on first
// use; nil if the cache is full or preparing failed (the caller then runs
// the query unprepared, which reports the error).
func (p *readPool) stmt(ctx context.Context, query string) *sql.Stmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.stmts[query]; ok {
		return st
	}
	if p.stmts == nil || len(p.stmts) >= maxCachedStatements {
		return nil
	}
	st, err := p.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	p.stmts[query] = st
	return st
}

// QueryRowContext runs query as a prepared statement.
func (p *readPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, query, args...)
}

// QueryContext runs query as a prepared statement.
func (p *readPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, query, args...)
}

// Close closes the cached statements and the pool.
func (p *readPool) Close() error {
	p.mu.Lock()
	for q, st := range p.stmts {
		_ = st.Close()
		delete(p.stmts, q)
	}
	p.stmts = nil
	p.mu.Unlock()
	return p.DB.Close()
}
