package sqlstore

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// Audit batching: at most this many events per commit, at most this long
// in memory. Every event is also logged synchronously by the use case, so
// a crash loses at most the last flushInterval of database rows, never the
// log line.
const (
	auditBatch         = 256
	auditFlushInterval = 20 * time.Millisecond
	auditQueue         = 4096
)

// AuditBatcher is a mobileauth.AuditStore over the Store that queues
// events and writes them in batches (AppendAudits): on the single SQLite writer connection one commit per
// event was a fifth of an exchange's cost. When the queue is full, events
// are written synchronously (backpressure, never loss).
type AuditBatcher struct {
	st    *Store
	log   *slog.Logger
	q     chan mobileauth.AuditEvent
	flush chan chan struct{} // ListAudit asks for everything queued to be written
	done  chan struct{}
	// closing guards the queue: senders hold it shared, Close exclusively,
	// so nothing is ever sent on the closed channel.
	closing sync.RWMutex
	closed  bool
}

// NewAuditBatcher starts the batcher's writer; Close stops it.
func NewAuditBatcher(st *Store, log *slog.Logger) *AuditBatcher {
	w := &AuditBatcher{st: st, log: log, q: make(chan mobileauth.AuditEvent, auditQueue),
		flush: make(chan chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// AppendAudit queues e (stamping its time now, so order and time are the
// request's, not the flush's).
func (w *AuditBatcher) AppendAudit(ctx context.Context, e mobileauth.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	w.closing.RLock()
	defer w.closing.RUnlock()
	if !w.closed {
		select {
		case w.q <- e:
			return nil
		default:
		}
	}
	return w.st.AppendAudit(ctx, e)
}

// ListAudit writes what is queued first, so a reader sees every event
// appended before it asked.
func (w *AuditBatcher) ListAudit(ctx context.Context, f mobileauth.AuditFilter) ([]mobileauth.AuditEvent, error) {
	ack := make(chan struct{})
	select {
	case w.flush <- ack:
		select {
		case <-ack:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case <-w.done: // closed: everything is written
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return w.st.ListAudit(ctx, f)
}

func (w *AuditBatcher) run() {
	defer close(w.done)
	t := time.NewTicker(auditFlushInterval)
	defer t.Stop()
	batch := make([]mobileauth.AuditEvent, 0, auditBatch)
	for {
		select {
		case e, ok := <-w.q:
			if !ok {
				w.write(batch)
				return
			}
			batch = append(batch, e)
			if len(batch) >= auditBatch {
				batch = w.write(batch)
			}
		case <-t.C:
			batch = w.write(batch)
		case ack := <-w.flush:
			batch = w.drain(batch)
			batch = w.write(batch)
			close(ack)
		}
	}
}

// drain moves everything already queued into batch.
func (w *AuditBatcher) drain(batch []mobileauth.AuditEvent) []mobileauth.AuditEvent {
	for {
		select {
		case e, ok := <-w.q:
			if !ok {
				return batch
			}
			batch = append(batch, e)
		default:
			return batch
		}
	}
}

// write stores batch and returns it emptied for reuse.
func (w *AuditBatcher) write(batch []mobileauth.AuditEvent) []mobileauth.AuditEvent {
	if len(batch) == 0 {
		return batch
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.st.AppendAudits(ctx, batch); err != nil {
		w.log.Error("audit events not stored", "events", len(batch), "error", err)
	}
	return batch[:0]
}

// Close writes everything queued and stops the writer.
func (w *AuditBatcher) Close() error {
	w.closing.Lock()
	if !w.closed {
		w.closed = true
		close(w.q)
	}
	w.closing.Unlock()
	<-w.done
	return nil
}
