package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"time"
)

// seenBatch is the set of marks committed together, newest time per
// station, and the outcome its callers wait for.
type seenBatch struct {
	marks map[string]int64 // station id → Unix ms
	done  chan struct{}    // closed once err is set
	err   error
}

// seenQueue group-commits MarkSeen. Callers add their mark to the pending
// batch and wait for it; one goroutine writes batches one after another.
// A batch collects every mark that arrives while the previous one is being
// committed, so its size adapts to the load: alone, a mark is written at
// once; under thousands of heartbeats a second, one fsync serves hundreds
// of them. A batch holds at most one entry per station, so its size is
// bounded by the fleet.
type seenQueue struct {
	mu      sync.Mutex
	pending *seenBatch
	closed  bool

	wake chan struct{} // buffered 1: a batch is pending
	quit chan struct{} // closed by stop
	done chan struct{} // closed when the writer has returned
}

func (q *seenQueue) start(db *DB) {
	q.wake = make(chan struct{}, 1)
	q.quit = make(chan struct{})
	q.done = make(chan struct{})
	go q.run(db)
}

func (q *seenQueue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// stop refuses new marks, waits until the pending batch is written and the
// writer has returned. It is a no-op if start was never called.
func (q *seenQueue) stop() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	if q.quit == nil {
		return
	}
	close(q.quit)
	<-q.done
}

func (q *seenQueue) run(db *DB) {
	defer close(q.done)
	for {
		select {
		case <-q.wake:
			q.flush(db)
		case <-q.quit:
			// No marks can be added any more; write what is pending.
			q.flush(db)
			return
		}
	}
}

// flush takes the pending batch, writes it, and releases its callers.
func (q *seenQueue) flush(db *DB) {
	q.mu.Lock()
	b := q.pending
	q.pending = nil
	q.mu.Unlock()
	if b == nil {
		return
	}
	b.err = db.writeSeen(b.marks)
	if b.err != nil {
		db.log.Warn("mark seen failed", "stations", len(b.marks), "err", b.err)
	}
	close(b.done)
}

// writeSeen commits marks in one transaction. It does not take the
// callers' contexts: the batch serves many callers, and Close waits for it.
// The busy timeout bounds it.
func (db *DB) writeSeen(marks map[string]int64) error {
	ids := make([]string, 0, len(marks))
	for id := range marks {
		ids = append(ids, id)
	}
	slices.Sort(ids) // neighbouring keys: fewer b-tree pages touched
	ctx := context.Background()
	return db.tx(ctx, "mark seen", func(tx *sql.Tx) error {
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
	})
}

// MarkSeen records that the station was heard from at t, never moving
// LastSeen backwards. Concurrent calls are committed together; each returns
// once the transaction holding its mark has committed (or failed, with that
// error). Unknown ids are not an error. If ctx ends first, MarkSeen returns
// its error and the mark may or may not be written.
func (db *DB) MarkSeen(ctx context.Context, id string, t time.Time) error {
	if db.w == nil {
		return errClosed
	}
	v := ms(t)
	q := &db.seen
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return errClosed
	}
	b := q.pending
	if b == nil {
		b = &seenBatch{marks: make(map[string]int64), done: make(chan struct{})}
		q.pending = b
		select {
		case q.wake <- struct{}{}:
		default: // already signalled
		}
	}
	if old, ok := b.marks[id]; !ok || v > old {
		b.marks[id] = v
	}
	q.mu.Unlock()

	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
