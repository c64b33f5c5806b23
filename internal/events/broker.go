// Package events is verbund's live-update bus. Capabilities publish after
// their transaction commits (db.Tx.AfterCommit); subscribers (SSE streams)
// receive every event and filter it through policy themselves, because only
// they know who is listening. A subscriber that does not keep up is dropped,
// never waited for: one slow browser must not delay everyone else.
//
// With PostgreSQL, a relay forwards events between replicas through
// LISTEN/NOTIFY, so a post made on replica A reaches streams on replica B.
package events

import (
	"sync"
	"sync/atomic"

	"verbund/internal/policy"
)

// Event types that the broker itself interprets.
const (
	// PolicyChanged tells every subscriber that agreements, memberships or
	// accounts changed: cached views must be reloaded before the next
	// delivery. It carries no data and is not forwarded to browsers.
	PolicyChanged = "policy.changed"
	// Resync tells browsers that events may have been missed (a replica's
	// relay was cut off): they reload their live lists. It carries no data.
	Resync = "resync"
)

// Event is one thing that happened.
type Event struct {
	Type string `json:"type"`
	// Share, when set, restricts delivery to those who may see the object.
	Share *policy.Share `json:"share,omitempty"`
	// Container, when set, is the envelope of what the object belongs to
	// (a post's thread): delivery needs both visible, as reads do.
	Container *policy.Share `json:"container,omitempty"`
	// Orgs restricts delivery to members of these orgs; an event without
	// Share must name them.
	Orgs []string `json:"orgs,omitempty"`
	// Everyone, for events that carry no data (Resync), reaches every
	// stream.
	Everyone bool `json:"everyone,omitempty"`
	// Roles restricts delivery further to people of these roles (a
	// notice only they may act on, e.g. a join request for the
	// coordinator's admins).
	Roles []policy.Role `json:"roles,omitempty"`
	// Users restricts delivery further to these people: a notice meant
	// for them alone, such as a training reminder to those who have not
	// completed it. Every restriction of an event applies.
	Users []string `json:"users,omitempty"`
	// Topics lets a stream ask for a subset (e.g. "thread:<id>").
	Topics []string `json:"topics,omitempty"`
	// Data is the small payload sent to the browser (ids, a fragment URL).
	Data map[string]string `json:"data,omitempty"`
	// Origin is the replica that published it (set by the broker).
	Origin string `json:"origin,omitempty"`
	// Relay numbers the events the PostgreSQL relay sends: PostgreSQL
	// delivers identical notifications of one transaction once, and a
	// batch is one transaction.
	Relay uint64 `json:"relay,omitempty"`
}

// Broker fans events out to subscribers.
type Broker struct {
	mu      sync.RWMutex
	subs    map[*Sub]struct{}
	origin  string
	epoch   atomic.Uint64
	relay   func(Event)
	Dropped atomic.Uint64 // subscribers dropped for being slow
	Sent    atomic.Uint64 // events published
}

// New returns a broker for this replica.
func New(origin string) *Broker {
	return &Broker{subs: map[*Sub]struct{}{}, origin: origin}
}

// Origin names this replica.
func (b *Broker) Origin() string { return b.origin }

// SetRelay installs the function that forwards local events to other
// replicas (see StartPostgresRelay).
func (b *Broker) SetRelay(f func(Event)) {
	b.mu.Lock()
	b.relay = f
	b.mu.Unlock()
}

// Epoch increases with every PolicyChanged event; a subscriber whose cached
// view is older must reload it.
func (b *Broker) Epoch() uint64 { return b.epoch.Load() }

// Sub is one subscription. Its queue holds pointers: every subscriber
// receives the same *Event, which nobody may modify, and an idle
// subscriber's buffer costs 8 bytes a slot instead of a whole Event
// (docs/PERFORMANCE.md, memory per idle stream).
type Sub struct {
	c    chan *Event
	done chan struct{}
	once sync.Once
	b    *Broker
}

// Subscribe registers a subscriber with a buffer of n events.
func (b *Broker) Subscribe(n int) *Sub {
	s := &Sub{c: make(chan *Event, n), done: make(chan struct{}), b: b}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Events delivers the subscriber's events; they are shared with the other
// subscribers and must not be modified.
func (s *Sub) Events() <-chan *Event { return s.c }

// Done is closed when the subscription ends (Close, or dropped as slow).
func (s *Sub) Done() <-chan struct{} { return s.done }

// Close ends the subscription.
func (s *Sub) Close() {
	s.b.mu.Lock()
	delete(s.b.subs, s)
	s.b.mu.Unlock()
	s.once.Do(func() { close(s.done) })
}

// Subscribers counts current subscribers.
func (b *Broker) Subscribers() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.subs)
}

// Publish delivers e locally and forwards it to the other replicas.
func (b *Broker) Publish(e Event) {
	e.Origin = b.origin
	b.Sent.Add(1)
	b.Deliver(e)
	b.mu.RLock()
	relay := b.relay
	b.mu.RUnlock()
	if relay != nil {
		relay(e)
	}
}

// Deliver hands e to local subscribers only (the relay calls it for events
// from other replicas).
func (b *Broker) Deliver(e Event) {
	if e.Type == PolicyChanged {
		b.epoch.Add(1)
	}
	var slow []*Sub
	ep := &e
	b.mu.RLock()
	for s := range b.subs {
		select {
		case s.c <- ep:
		default:
			slow = append(slow, s)
		}
	}
	b.mu.RUnlock()
	for _, s := range slow {
		b.Dropped.Add(1)
		s.Close()
	}
}
