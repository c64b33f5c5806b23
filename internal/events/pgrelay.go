package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

const pgChannel = "verbund_events"

// StartPostgresRelay connects the broker to the other replicas on the same
// PostgreSQL database: every local event is sent with NOTIFY, every event
// from another replica is delivered locally. It returns when the first
// LISTEN is in place; it reconnects after errors until ctx ends.
func StartPostgresRelay(ctx context.Context, url string, b *Broker, log *slog.Logger) error {
	listen, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	if _, err := listen.Exec(ctx, "LISTEN "+pgChannel); err != nil {
		_ = listen.Close(ctx)
		return err
	}
	out := make(chan Event, 4096)
	dropped := &atomic.Bool{}
	b.SetRelay(func(e Event) {
		select {
		case out <- e:
		default:
			// The other replicas miss it: the send loop tells them to
			// resync with its next batch.
			dropped.Store(true)
			log.Warn("event relay queue full; event not forwarded to other replicas", "type", e.Type)
		}
	})
	// Both loops run until the caller's ctx ends; context.Background is only
	// used to close a connection once ctx is done.
	go sendLoop(ctx, url, out, dropped, log) // #nosec G118 -- loop runs on ctx, see above
	go listenLoop(ctx, url, listen, b, log)  // #nosec G118 -- loop runs on ctx, see above
	return nil
}

func listenLoop(ctx context.Context, url string, conn *pgx.Conn, b *Broker, log *slog.Logger) {
	for ctx.Err() == nil {
		if conn == nil {
			var err error
			conn, err = pgx.Connect(ctx, url)
			if err == nil {
				_, err = conn.Exec(ctx, "LISTEN "+pgChannel)
			}
			if err != nil {
				log.Warn("event relay: listen failed; retrying", "err", err)
				sleep(ctx, time.Second)
				conn = nil
				continue
			}
			// We may have missed events while disconnected: every
			// subscriber reloads its view, and every browser its lists.
			b.Deliver(Event{Type: PolicyChanged})
			b.Deliver(Event{Type: Resync, Everyone: true})
		}
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("event relay: connection lost; reconnecting", "err", err)
			}
			_ = conn.Close(context.Background())
			conn = nil
			continue
		}
		var e Event
		if err := json.Unmarshal([]byte(n.Payload), &e); err != nil {
			log.Warn("event relay: bad payload", "err", err)
			continue
		}
		if e.Origin == b.origin {
			continue
		}
		b.Deliver(e)
	}
	if conn != nil {
		_ = conn.Close(context.Background())
	}
}

// relayBatch is how many events one NOTIFY statement sends at most: under
// an incident's writes events queue while one is sent, and a statement
// each was a round trip each.
const relayBatch = 64

func sendLoop(ctx context.Context, url string, out <-chan Event, dropped *atomic.Bool, log *slog.Logger) {
	var conn *pgx.Conn
	lost := false // an event could not be sent: the others must resync
	var sent uint64
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	for {
		var e Event
		select {
		case <-ctx.Done():
			return
		case e = <-out:
		}
		sent++
		payloads := []string{relayPayload(e, sent)}
	more:
		for len(payloads) < relayBatch {
			select {
			case e = <-out:
				sent++
				payloads = append(payloads, relayPayload(e, sent))
			default:
				break more
			}
		}
		if dropped.Swap(false) {
			lost = true
		}
		if lost {
			// The lost events may have changed who sees what, and the
			// batch may hold events newer than them (a failed batch's
			// successors; events queued after an overflow): the policy
			// change goes first, so that every stream's view is checked
			// again (as after a reconnect of the listener) before any of
			// the batch is offered to it; the resync last, so that a page
			// reloading its lists has missed nothing the batch holds.
			sent++
			first := relayPayload(Event{Type: PolicyChanged, Origin: e.Origin}, sent)
			sent++
			payloads = append(append([]string{first}, payloads...), relayPayload(Event{Type: Resync, Everyone: true, Origin: e.Origin}, sent))
		}
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			if conn == nil {
				if conn, err = pgx.Connect(ctx, url); err != nil {
					conn = nil
					sleep(ctx, 200*time.Millisecond)
					continue
				}
			}
			// One statement, the notifications in their order; delivered
			// together when it commits.
			if _, err = conn.Exec(ctx, "SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS x(p, n) ORDER BY n", pgChannel, payloads); err != nil {
				_ = conn.Close(context.Background())
				conn = nil
				continue
			}
			break
		}
		switch {
		case err != nil && ctx.Err() == nil:
			// The other replicas miss these events: once notifying works
			// again, they are told to resync (lost reaches their streams).
			log.Warn("event relay: notify failed", "err", err, "events", len(payloads))
			lost = true
		case err == nil:
			lost = false
		}
	}
}

// relayPayload is e as a NOTIFY payload, the n-th the relay sends.
func relayPayload(e Event, n uint64) string {
	e.Relay = n
	payload, err := json.Marshal(e)
	if err != nil || len(payload) > 7900 {
		// NOTIFY payloads are limited to 8000 bytes; a share with a huge
		// audience is reduced to a policy refresh for the other replicas.
		payload, _ = json.Marshal(Event{Type: PolicyChanged, Origin: e.Origin, Relay: n})
	}
	return string(payload)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
