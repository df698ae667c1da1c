package postgres

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// seenBatch is the set of marks committed together, newest time per
// station, and the outcome its callers wait for.
type seenBatch struct {
	marks map[string]time.Time
	done  chan struct{} // closed once err is set
	err   error
}

// seenQueue group-commits MarkSeen. Callers add their mark to the pending
// batch and wait for it; one goroutine writes batches one after another,
// each with one statement. A batch collects every mark that arrives while
// the previous one is being committed, so its size adapts to the load:
// alone, a mark is written at once; under thousands of heartbeats a second,
// one round trip and one WAL flush serve hundreds of them. A batch holds at
// most one entry per station, so its size is bounded by the fleet.
type seenQueue struct {
	mu      sync.Mutex
	pending *seenBatch
	closed  bool

	batches atomic.Int64 // batches written, for tests and benchmarks

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
	q.batches.Add(1)
	if b.err != nil {
		db.log.Warn("mark seen failed", "stations", len(b.marks), "err", b.err)
	}
	close(b.done)
}

// seenTimeout bounds one batch write. The batch serves many callers, so it
// does not take their contexts.
const seenTimeout = 30 * time.Second

// markSeenSQL updates the batch in one statement. The sub-select locks the
// rows in id order (ORDER BY … FOR UPDATE), so two processes writing
// overlapping batches queue behind each other instead of deadlocking;
// GREATEST keeps LastSeen from moving backwards whichever commits first.
const markSeenSQL = `UPDATE charge_points AS cp
	SET last_seen = GREATEST(cp.last_seen, v.t)
	FROM (SELECT c.id, u.t
	      FROM unnest($1::text[], $2::timestamptz[]) AS u(id, t)
	      JOIN charge_points AS c ON c.id = u.id
	      WHERE c.last_seen IS NULL OR c.last_seen < u.t
	      ORDER BY c.id
	      FOR UPDATE OF c) AS v
	WHERE cp.id = v.id`

// writeSeen commits marks with one statement, again if it lost a deadlock
// or serialization race.
func (db *DB) writeSeen(marks map[string]time.Time) error {
	ids := make([]string, 0, len(marks))
	for id := range marks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ts := make([]time.Time, len(ids))
	for i, id := range ids {
		ts[i] = marks[id]
	}
	ctx, cancel := context.WithTimeout(context.Background(), seenTimeout)
	defer cancel()
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		_, err = db.pool.Exec(ctx, markSeenSQL, ids, ts)
		if !retryable(err) {
			break
		}
	}
	return translate("mark seen", err)
}

// MarkSeen records that the station was heard from at t, never moving
// LastSeen backwards. Concurrent calls are committed together; each returns
// once the statement holding its mark has committed (or failed, with that
// error). Unknown ids are not an error. If ctx ends first, MarkSeen returns
// its error and the mark may or may not be written.
func (db *DB) MarkSeen(ctx context.Context, id string, t time.Time) error {
	if err := db.opened(); err != nil {
		return err
	}
	q := &db.seen
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return errClosed
	}
	b := q.pending
	if b == nil {
		b = &seenBatch{marks: make(map[string]time.Time), done: make(chan struct{})}
		q.pending = b
		select {
		case q.wake <- struct{}{}:
		default: // already signalled
		}
	}
	if old, ok := b.marks[id]; !ok || t.After(old) {
		b.marks[id] = t
	}
	q.mu.Unlock()

	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
