// Package intel is the hub's threat intelligence exchange: a store of STIX
// 2.1 objects (every version kept, each a shareable object of the sharing
// kernel with its owner, TLP and audience), imports of bundles of any
// size, a TAXII 2.1 server (internal/taxii) whose API roots and collections
// map to the hub's orgs and trust circles, lookups of indicator values and
// exports. Every read goes through policy.Reader, so an object nobody
// shared with the reader never appears, in any list, count, page or
// answer. The standard itself (objects, bundles, patterns, markings) is
// internal/stix.
package intel

import (
	"sync"

	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/notify"
	"verbund/internal/policy"
	"verbund/internal/stix"
	"verbund/internal/web"
)

// Service is the intel capability.
type Service struct {
	DB     *db.DB
	Events *events.Broker
	kind   *policy.Kind
	// Benign is what block lists never carry (NewBenign; the app adds the
	// operator's own domains).
	Benign *Benign
	// searches limits each user's full-text searches, as the forum's: a
	// search takes longer the more documents match, seen or not, and that
	// time must not be cheap to measure.
	searches *web.Limiter
	// values lets lookups skip the values no org stores (filter.go).
	values *valueFilter
	// Notify takes the events webhooks receive (intel.sighting); nil:
	// none.
	Notify *notify.Service

	// mu guards lastAdded: date_added values are handed out increasing
	// within the process, so a TAXII client paging by added_after never
	// skips two versions added in the same microsecond.
	mu        sync.Mutex
	lastAdded int64
}

// New returns the service and registers its kind with the sharing kernel.
//
// Webhooks may subscribe to its event types: EventSighting.
func New(d *db.DB, b *events.Broker, k *policy.Kernel) *Service {
	return &Service{DB: d, Events: b, Benign: NewBenign(nil), searches: web.NewLimiter(20, 1), values: newValueFilter(),
		kind: k.Register(policy.KindSpec{Name: "intel", Table: "intel_objects", Category: policy.Indicator, Search: true})}
}

// EventSighting is the webhook event of a sighting: its owner (or circle)
// learns that someone saw one of its objects.
const EventSighting = "intel.sighting"

// SetSearchRate sets how many searches a user may run per minute after a
// burst of 20 (config --search-rate).
func (s *Service) SetSearchRate(perMinute int) {
	s.searches = web.NewLimiter(20, float64(perMinute)/60)
}

// Kind is the kernel's handle of intel objects (for the leak harness).
func (s *Service) Kind() *policy.Kind { return s.kind }

// added hands out n increasing date_added values (Unix µs), the first not
// before now.
func (s *Service) added(n int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := max(db.Now(), s.lastAdded+1)
	s.lastAdded = first + int64(n) - 1
	return first
}

// Object is one stored version of a STIX object as the reader may see it.
type Object struct {
	ID          string       `json:"id"` // the hub's id of this version
	STIXID      string       `json:"stix_id"`
	Type        string       `json:"type"`
	Version     string       `json:"version,omitempty"`
	SpecVersion string       `json:"spec_version"`
	DateAdded   int64        `json:"date_added"`
	Name        string       `json:"name,omitempty"`
	Revoked     bool         `json:"revoked,omitempty"`
	ValidUntil  int64        `json:"valid_until,omitempty"`
	OrgName     string       `json:"org_name"`
	Share       policy.Share `json:"-"`
	TLP         string       `json:"tlp"`
	Audience    string       `json:"audience"`
	JSON        []byte       `json:"-"` // the object as it came
}

// tlpOf maps the library's TLP to the policy's (the same five levels in
// the same order; stix counts from 1 because 0 means none).
func tlpOf(l stix.TLP) policy.TLP { return policy.TLP(int(l) - 1) }
