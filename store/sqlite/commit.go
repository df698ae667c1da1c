package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"time"
)

// Every write goes through one goroutine that owns the writer connection
// and group-commits: callers queue their work on the pending batch and
// wait; the goroutine takes the batch, runs it in one transaction and
// releases the callers once it has committed. A batch collects whatever
// arrives while the previous one is being committed, so its size adapts to
// the load: alone, a write is committed at once; under load, one fsync
// serves hundreds of writes.
//
// A batch holds two kinds of work:
//   - MarkSeen marks, coalesced to the newest time per station (so their
//     number is bounded by the fleet) and written first;
//   - write operations, each in its own SAVEPOINT, so that one failing
//     (ECONFLICT, ENOTFOUND) rolls back only its own changes and the others
//     commit.

// batch is the work committed together and the outcome its callers wait
// for.
type batch struct {
	marks map[string]int64 // station id → Unix ms
	ops   []*writeOp
	done  chan struct{} // closed once the batch is committed or failed
	err   error         // the batch's failure: applies to marks and to ops without an error of their own
}

// writeOp is one caller's write transaction body.
type writeOp struct {
	ctx context.Context // checked before fn runs; fn gets a context that is not cancelled
	fn  func(ctx context.Context, tx *sql.Tx) error
	err error // fn's error; its changes were rolled back
}

// committer queues work for the writer goroutine.
type committer struct {
	mu      sync.Mutex
	pending *batch
	closed  bool

	wake chan struct{} // buffered 1: a batch is pending
	quit chan struct{} // closed by stop
	done chan struct{} // closed when the writer goroutine has returned
}

func (c *committer) start(db *DB) {
	c.wake = make(chan struct{}, 1)
	c.quit = make(chan struct{})
	c.done = make(chan struct{})
	go c.run(db)
}

func (c *committer) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// enqueue adds work to the pending batch with add, called under the lock,
// and returns the batch to wait for; errClosed after stop.
func (c *committer) enqueue(add func(b *batch)) (*batch, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.wake == nil {
		return nil, errClosed
	}
	b := c.pending
	if b == nil {
		b = &batch{done: make(chan struct{})}
		c.pending = b
		select {
		case c.wake <- struct{}{}:
		default: // already signalled
		}
	}
	add(b)
	return b, nil
}

// stop refuses new work, waits until the pending batch is committed and
// the writer goroutine has returned. It is a no-op if start was never
// called.
func (c *committer) stop() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	if c.quit == nil {
		return
	}
	close(c.quit)
	<-c.done
}

func (c *committer) run(db *DB) {
	defer close(c.done)
	for {
		select {
		case <-c.wake:
			c.flush(db)
		case <-c.quit:
			// Nothing can be queued any more; commit what is pending.
			c.flush(db)
			return
		}
	}
}

// flush takes the pending batch, commits it and releases its callers.
func (c *committer) flush(db *DB) {
	c.mu.Lock()
	b := c.pending
	c.pending = nil
	c.mu.Unlock()
	if b == nil {
		return
	}
	b.err = db.commitBatch(b)
	if b.err != nil {
		db.log.Warn("write failed", "marks", len(b.marks), "ops", len(b.ops), "err", b.err)
	}
	close(b.done)
}

// commitBatch runs b in one transaction (BEGIN IMMEDIATE). It does not take
// the callers' contexts: an interrupted statement would roll back the
// whole transaction, and Close waits for the batch. The busy timeout
// bounds it.
func (db *DB) commitBatch(b *batch) error {
	ctx := context.Background()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return translate("begin", err)
	}
	if err := writeMarks(ctx, tx, b.marks); err != nil {
		_ = tx.Rollback()
		return translate("mark seen", err)
	}
	for _, op := range b.ops {
		if err := op.ctx.Err(); err != nil {
			op.err = err
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT op"); err != nil {
			_ = tx.Rollback()
			return translate("savepoint", err)
		}
		op.err = op.fn(ctx, tx)
		var err error
		if op.err != nil {
			_, err = tx.ExecContext(ctx, "ROLLBACK TO op")
		}
		if err == nil {
			_, err = tx.ExecContext(ctx, "RELEASE op")
		}
		if err != nil {
			// The transaction itself failed (I/O, disk full): nothing
			// of the batch is written.
			_ = tx.Rollback()
			return translate("savepoint", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return translate("commit", err)
	}
	return nil
}

// writeMarks applies MarkSeen marks, never moving last_seen backwards.
func writeMarks(ctx context.Context, tx *sql.Tx, marks map[string]int64) error {
	if len(marks) == 0 {
		return nil
	}
	ids := make([]string, 0, len(marks))
	for id := range marks {
		ids = append(ids, id)
	}
	slices.Sort(ids) // neighbouring keys: fewer b-tree pages touched
	stmt, err := tx.PrepareContext(ctx,
		`UPDATE charge_points SET last_seen = ?1 WHERE id = ?2 AND (last_seen IS NULL OR last_seen < ?1)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, id := range ids {
		if _, err := stmt.ExecContext(ctx, marks[id], id); err != nil {
			return err
		}
	}
	return nil
}

// write runs fn in the next group-committed transaction and returns once
// that has committed. fn's changes are undone if it fails; its error is
// translated with op as context. If ctx ends before fn runs, fn is skipped;
// if it ends later, write returns ctx's error and the write may or may not
// be committed.
func (db *DB) write(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	w := &writeOp{ctx: ctx, fn: fn}
	b, err := db.commit.enqueue(func(b *batch) { b.ops = append(b.ops, w) })
	if err != nil {
		return err
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if w.err != nil {
		return translate(op, w.err)
	}
	return b.err
}

// MarkSeen records that the station was heard from at t, never moving
// LastSeen backwards. Concurrent calls are committed together; each returns
// once the transaction holding its mark has committed (or failed, with that
// error). Unknown ids are not an error. If ctx ends first, MarkSeen returns
// its error and the mark may or may not be written.
func (db *DB) MarkSeen(ctx context.Context, id string, t time.Time) error {
	v := ms(t)
	b, err := db.commit.enqueue(func(b *batch) {
		if b.marks == nil {
			b.marks = make(map[string]int64)
		}
		if old, ok := b.marks[id]; !ok || v > old {
			b.marks[id] = v
		}
	})
	if err != nil {
		return err
	}
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
