package intel

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/notify"
	"verbund/internal/policy"
	"verbund/internal/stix"
	"verbund/internal/web"
)

// batchSize is how many objects one transaction stores: large enough that
// a transaction's fixed costs (the agreements read once, the audit record,
// the commit) vanish per object, small enough that the single writer is
// not held for long and memory stays flat whatever the bundle's size.
// The value and reference indexes take inserts all over their trees, and
// a larger transaction writes a dirtied page once for more of them: 2,000
// was about 10 % faster than 500 at 100,000 objects, 5,000 another 6–10 %
// per CPU second than 2,000 at a million (the writer is held for about
// 150–250 ms a batch).
const batchSize = 5000

// maxObjectSize is the largest object an import takes (a larger one is
// refused, the stream goes on), and maxBatchBytes ends a batch early: a
// bundle of large objects must not make a batch hold gigabytes.
const (
	maxObjectSize = 1 << 20
	maxBatchBytes = 16 << 20
)

// ImportOptions says how imported objects are shared.
type ImportOptions struct {
	// TLP is the level of objects whose markings name none ("": AMBER).
	// A marked object keeps its own level.
	TLP string
	// Community shares the objects with that trust circle; empty: the
	// importing org only.
	Community string
	// Audience, when its kind is set, is the audience instead (named orgs
	// or people: an import for a partner).
	Audience policy.Audience
	// Via names the way in for the audit trail: "api", "cli", "taxii".
	Via string
	// Action is the audit record's action ("": intel.import).
	Action string
	// OnBehalfOf names, in the audit record only, the org a CERT relays
	// the objects for (Sight).
	OnBehalfOf string
	// Progress, if set, is called after each stored batch with the
	// objects read so far.
	Progress func(read int)
	// Items asks for the outcome of every object (TAXII's status
	// resource lists them); otherwise only the errors are kept.
	Items bool
	// Envelope reads a TAXII envelope instead of a bundle (no type).
	Envelope bool
}

// Report is what an import did: how many objects it took (a version the
// org already had counts as taken: re-importing is harmless) and which it
// refused, and why.
type Report struct {
	Accepted int          `json:"accepted"`
	New      int          `json:"new"` // of the accepted, how many the org did not hold yet
	Rejected int          `json:"rejected"`
	Errors   []ItemError  `json:"errors"`
	Items    []ItemResult `json:"-"`
	BundleID string       `json:"bundle_id,omitempty"`
	// StoppedEarly says why the bundle could not be read to its end
	// (broken JSON, a cut connection): the objects before it were taken.
	StoppedEarly string `json:"stopped_early,omitempty"`
}

// ItemError is one refused object: its place in the bundle, its id if it
// has a readable one, and the reason.
type ItemError struct {
	Index    int    `json:"index"`
	ID       string `json:"id,omitempty"`
	Code     string `json:"code"`
	Property string `json:"property,omitempty"`
	Message  string `json:"message"`
	// Fault is the refusal when the hub's rules gave it (an audience no
	// agreement covers, say): pages show it in the reader's language.
	Fault *fault.Error `json:"-"`
}

// ItemResult is one object's outcome (ImportOptions.Items).
type ItemResult struct {
	ID, Version string
	Error       string // "" when stored (or already there)
}

// maxReportedErrors bounds the report: a broken million-object bundle
// must not produce a million-entry answer.
const maxReportedErrors = 1000

// pending is an object read and checked, waiting for its batch.
type pending struct {
	index   int
	obj     *stix.Object
	version string
	tlp     policy.TLP
	unknown []string // marking definitions it names that were not known yet
	// What the reader goroutine took from it for the writer (valuesOf,
	// refsOf, searchText).
	values []value
	refs   [][2]string
	text   string
}

// decoded is one item of the bundle as readAhead hands it on: an object
// that passed Validate (err nil), an object refused (err; obj nil when the
// decoder could not read it: then only index and id), or, last, the
// error that ended the stream (fatal).
type decoded struct {
	index  int
	id     string
	obj    *stix.Object
	err    error
	fatal  error
	values []value
	refs   [][2]string
	text   string
}

// readAhead reads the bundle on a goroutine of its own: decoding,
// validating and taking apart (values, references, search text) run
// beside the writer instead of between its batches. Items come in chunks
// (one channel operation per chunk, not per object) and at most
// readAheadChunks chunks wait, so memory stays bounded whatever the
// bundle's size. The channel is closed after the last item, or when stop
// is closed (the importer gave up).
func readAhead(dec *stix.Decoder, stop <-chan struct{}) <-chan []decoded {
	const (
		chunkObjects    = 256
		chunkBytes      = 1 << 20
		readAheadChunks = 4
	)
	out := make(chan []decoded, readAheadChunks)
	go func() {
		defer close(out)
		var chunk []decoded
		size := 0
		send := func() bool {
			if len(chunk) == 0 {
				return true
			}
			select {
			case out <- chunk:
				chunk, size = nil, 0
				return true
			case <-stop:
				return false
			}
		}
		for index := 0; ; index++ {
			o, err := dec.Next()
			if errors.Is(err, io.EOF) {
				send()
				return
			}
			var oe *stix.ObjectError
			switch {
			case errors.As(err, &oe):
				chunk = append(chunk, decoded{index: oe.Index, id: oe.ID, err: oe.Err})
			case err != nil:
				chunk = append(chunk, decoded{fatal: err})
				send()
				return
			default:
				d := decoded{index: index, obj: o}
				if d.err = stix.Validate(o); d.err == nil {
					d.values, d.refs, d.text = valuesOf(o), refsOf(o), searchText(o)
				}
				chunk = append(chunk, d)
				size += len(o.Raw())
			}
			if len(chunk) == chunkObjects || size >= chunkBytes {
				if !send() {
					return
				}
			}
		}
	}()
	return out
}

// Import reads a STIX 2.1 bundle (or a TAXII envelope: both keep their
// objects in "objects") from r and stores every valid object as actor a's
// org, shared as opts says. It streams: the bundle is never held in memory.
// Objects that break the rules are reported and skipped; the others are
// stored, batch by batch, each batch in one transaction with its audit
// record. An error that ends the stream (broken JSON, a read error) is
// returned with the report of what was stored before it.
func (s *Service) Import(ctx context.Context, a policy.Actor, r io.Reader, opts ImportOptions) (Report, error) {
	var rep Report
	if !a.CanWrite() {
		return rep, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	unmarked := policy.Amber
	if opts.TLP != "" {
		l, err := policy.ParseTLP(opts.TLP)
		if err != nil {
			return rep, err
		}
		unmarked = l
	}
	aud := policy.Audience{Kind: policy.AudOrg}
	switch {
	case opts.Audience.Kind != "":
		aud = opts.Audience
	case opts.Community != "":
		aud = policy.Audience{Kind: policy.AudCommunity, Community: opts.Community}
	}
	started := db.Now() // what this import stores is added from now on
	dec := stix.NewDecoder(r)
	dec.SetMaxObjectSize(maxObjectSize)
	dec.SetEnvelope(opts.Envelope)
	// The bundle is read, checked and taken apart on a goroutine of its
	// own while this one writes: on two cores the writer no longer waits
	// for the decoder. It stops when told and is waited for, so r is not
	// read after Import returns.
	stop := make(chan struct{})
	items := readAhead(dec, stop)
	defer func() {
		close(stop)
		for range items {
		}
	}()
	batchBytes := 0
	markings := map[string]*stix.Object{} // the bundle's marking definitions, for its objects' references
	var batch []pending
	read := 0
	stored := false
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		// A token revoked (or a role changed) while a long import runs
		// ends it before its next batch, as for an export's next page.
		if stored {
			if err := web.Recheck(ctx); err != nil {
				return err
			}
		}
		stored = true
		err := s.store(ctx, a, aud, opts, batch, &rep)
		batch = batch[:0]
		if err == nil && opts.Progress != nil {
			opts.Progress(read)
		}
		return err
	}
	for chunk := range items {
		for _, d := range chunk {
			if d.fatal != nil {
				if ferr := flush(); ferr != nil {
					return rep, ferr
				}
				return rep, fault.Wrap(fault.Invalid, "bad_bundle", "the file is not a STIX 2.1 bundle that can be read to its end: {reason}", d.fatal).With("reason", readable(d.fatal))
			}
			read++
			o := d.obj
			if o == nil {
				rep.reject(opts, d.index, d.id, "", d.err)
				continue
			}
			if d.err != nil {
				rep.reject(opts, d.index, o.ID(), versionOf(o), d.err)
				continue
			}
			if o.Type() == "marking-definition" {
				markings[o.ID()] = o
				// Objects before it that named it were stored without knowing
				// what it says: if it is a TLP level stricter than theirs,
				// they are taken back (a bundle's order must not lower a
				// level).
				if err := flush(); err != nil {
					return rep, err
				}
				if err := s.resolveMarking(ctx, a, o, &rep, opts, started); err != nil {
					return rep, err
				}
			}
			m := stix.ResolveTLP(o, func(id string) *stix.Object { return markings[id] })
			level := unmarked
			if m.TLP != 0 {
				level = tlpOf(m.TLP)
			}
			batch = append(batch, pending{index: d.index, obj: o, version: versionOf(o), tlp: level, unknown: m.Unknown,
				values: d.values, refs: d.refs, text: d.text})
			batchBytes += len(o.Raw())
			if len(batch) == batchSize || batchBytes >= maxBatchBytes {
				batchBytes = 0
				if err := flush(); err != nil {
					return rep, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return rep, err
	}
	rep.BundleID = dec.BundleID()
	return rep, nil
}

// reject notes a refused object.
func (rep *Report) reject(opts ImportOptions, index int, id, version string, err error) {
	rep.Rejected++
	code, prop, msg := "invalid_object", "", firstLine(err)
	var se *stix.Error
	var ses stix.Errors
	var fe *fault.Error
	switch {
	case errors.As(err, &ses) && len(ses) > 0:
		code, prop, msg = string(ses[0].Code), ses[0].Property, ses[0].Message
	case errors.As(err, &se):
		code, prop, msg = string(se.Code), se.Property, se.Message
	case errors.As(err, &fe):
		code, prop, msg = fe.Code, fe.Field, fe.Message
	}
	if len(rep.Errors) < maxReportedErrors {
		rep.Errors = append(rep.Errors, ItemError{Index: index, ID: id, Code: code, Property: prop, Message: msg, Fault: fe})
	}
	if opts.Items {
		rep.Items = append(rep.Items, ItemResult{ID: id, Version: version, Error: msg})
	}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// versionOf is an object's version as TAXII names it: modified, else
// created; "" for objects without versions (SCOs).
func versionOf(o *stix.Object) string {
	if v := o.String("modified"); v != "" {
		return v
	}
	return o.String("created")
}

func versionNS(o *stix.Object) int64 {
	t := o.Modified()
	if t.IsZero() {
		t = o.Created()
	}
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// store writes one batch in one transaction: versions the org already has
// are skipped (and count as taken), envelopes the rule book refuses are
// reported, the rest is disclosed, stored, indexed and audited.
func (s *Service) store(ctx context.Context, a policy.Actor, aud policy.Audience, opts ImportOptions, batch []pending, rep *Report) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		have, err := s.existing(ctx, tx, a.OrgID, batch)
		if err != nil {
			return err
		}
		now := db.Now()
		// One rule-book check per level: every object of the batch has
		// the same audience.
		refused := map[policy.TLP]error{}
		var todo []pending
		seen := map[string]bool{}
		accepted := rep.Accepted
		var items []ItemResult
		for _, p := range batch {
			key := p.obj.ID() + "\x00" + p.version
			if have.versions[key] || seen[key] {
				rep.Accepted++
				items = append(items, ItemResult{ID: p.obj.ID(), Version: p.version})
				continue
			}
			err, checked := refused[p.tlp]
			if !checked {
				_, err = policy.CheckShare(ctx, tx.Handle, a, s.kind.Envelope(a, p.tlp, aud), now)
				if e, ok := fault.As(err); ok && e.Kind != fault.Invalid && e.Kind != fault.Forbidden {
					return err
				}
				refused[p.tlp] = err
			}
			if err != nil {
				rep.reject(opts, p.index, p.obj.ID(), p.version, err)
				continue
			}
			seen[key] = true
			todo = append(todo, p)
		}
		var stored []string
		if len(todo) > 0 {
			if stored, err = s.insert(ctx, tx, a, aud, todo, have); err != nil {
				return err
			}
			for _, p := range todo {
				items = append(items, ItemResult{ID: p.obj.ID(), Version: p.version})
			}
		}
		rep.Accepted += len(todo)
		rep.New += len(todo)
		if opts.Items {
			rep.Items = append(rep.Items, items...)
		}
		detail := map[string]any{"stored": len(todo), "already_held": rep.Accepted - accepted - len(todo),
			"audience": aud.Kind, "community": aud.Community, "via": opts.Via}
		action, objectType, objectID := "intel.import", "intel_import", ""
		if opts.Action != "" {
			action = opts.Action
		}
		if len(todo) == 1 {
			objectType, objectID = "intel", stored[0]
		}
		if opts.OnBehalfOf != "" {
			detail["on_behalf_of"] = opts.OnBehalfOf
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: action, ObjectType: objectType, ObjectID: objectID, Detail: detail, Touches: []string{"intel"}})
	})
}

// held is what the org holds already of a batch's objects: which versions,
// and the newest version of each object (version_ns).
type held struct {
	versions map[string]bool  // stix id + "\x00" + version
	newest   map[string]int64 // stix id → newest version_ns
	first    map[string]int64 // stix id → when the org first held it
	others   map[string]bool  // stix ids other orgs hold too
}

// existing returns what the org holds already of the batch's objects.
func (s *Service) existing(ctx context.Context, tx *db.Tx, org string, batch []pending) (held, error) {
	// A shorter batch's list is padded to a power of two with the last id
	// again, so that batches of any length share a dozen statement texts
	// instead of preparing and caching one per length.
	n := batchSize
	if len(batch) != batchSize {
		n = 1 << bits.Len(uint(len(batch)-1))
	}
	ids := make([]any, 0, n+1)
	ids = append(ids, org)
	for _, p := range batch {
		ids = append(ids, p.obj.ID())
	}
	for len(ids) < n+1 {
		ids = append(ids, ids[len(ids)-1])
	}
	// Every org's copies: the org's own tell what it holds, the others'
	// only that the id is shared (nothing of theirs reaches the importer).
	rows, err := tx.Query(ctx, `SELECT stix_id, version, version_ns, first_added, org_id = ? FROM intel_objects WHERE stix_id IN (`+db.Placeholders(n)+`)`, ids...)
	if err != nil {
		return held{}, fmt.Errorf("find held versions: %w", err)
	}
	type row struct {
		id, v     string
		ns, first int64
		mine      bool
	}
	rs, err := db.Collect(rows, "held versions", func(r db.Scanner) (x row, err error) {
		err = r.Scan(&x.id, &x.v, &x.ns, &x.first, &x.mine)
		return x, err
	})
	if err != nil {
		return held{}, err
	}
	out := held{versions: map[string]bool{}, newest: map[string]int64{}, first: map[string]int64{}, others: map[string]bool{}}
	for _, x := range rs {
		if !x.mine {
			out.others[x.id] = true
			continue
		}
		out.versions[x.id+"\x00"+x.v] = true
		if n, ok := out.newest[x.id]; !ok || x.ns > n {
			out.newest[x.id] = x.ns
		}
		if f, ok := out.first[x.id]; !ok || x.first < f {
			out.first[x.id] = x.first
		}
	}
	return out, nil
}

// insert discloses and stores objects that passed every check.
// newest is the newest version the org held before (stix id → version_ns):
// an object's new version is its latest if nothing it holds or that comes
// in the same batch is newer, and then the one it held stops being.
func (s *Service) insert(ctx context.Context, tx *db.Tx, a policy.Actor, aud policy.Audience, todo []pending, have held) ([]string, error) {
	newest := have.newest
	shares := make([]policy.Share, len(todo))
	ids := make([]string, len(todo))
	for i, p := range todo {
		shares[i] = s.kind.Envelope(a, p.tlp, aud)
		ids[i] = shares[i].ID
	}
	if _, err := s.kind.DiscloseAll(ctx, tx, a, shares); err != nil {
		return nil, err
	}
	added := s.added(len(todo))
	top := map[string]int{} // stix id → index in todo of the newest incoming version
	for i, p := range todo {
		id := p.obj.ID()
		if j, ok := top[id]; !ok || versionNS(p.obj) > versionNS(todo[j].obj) {
			top[id] = i
		}
	}
	var superseded []any // objects whose held latest version an incoming one replaces
	rows := make([]any, 0, 15*len(todo))
	var vrows []valueRow
	var rrows [][3]string // ref, object id, role: the primary key's order
	var docs []policy.Doc
	for i, p := range todo {
		o := p.obj
		id := shares[i].ID
		var validUntil int64
		if t := o.ValidUntil(); !t.IsZero() {
			validUntil = t.UnixMicro()
		}
		spec := o.SpecVersion()
		if spec == "" {
			spec = "2.1"
		}
		revoked := 0
		if o.Revoked() {
			revoked = 1
		}
		latest := 0
		if top[o.ID()] == i {
			if old, ok := newest[o.ID()]; !ok || versionNS(o) >= old {
				latest = 1
				if ok {
					superseded = append(superseded, o.ID())
				}
			}
		}
		first, ok := have.first[o.ID()]
		if !ok {
			first = added + int64(i)
			have.first[o.ID()] = first // later versions in this batch
		}
		rows = append(rows, id, a.OrgID, o.ID(), o.Type(), p.version, versionNS(o), spec, added+int64(i), revoked, validUntil, o.Name(), latest, first, boolInt(have.others[o.ID()]), string(o.Raw()))
		for _, v := range p.values {
			vrows = append(vrows, valueRow{v, id})
		}
		for _, r := range p.refs {
			rrows = append(rrows, [3]string{r[1], id, r[0]})
		}
		for _, m := range p.unknown {
			rrows = append(rrows, [3]string{m, id, "pending_marking"})
		}
		if o.Name() != "" || p.text != "" {
			docs = append(docs, policy.Doc{ID: id, Title: o.Name(), Body: p.text})
		}
	}
	for _, stixID := range superseded {
		if _, err := tx.Exec(ctx, `UPDATE intel_objects SET latest = 0 WHERE org_id = ? AND stix_id = ? AND latest = 1`, a.OrgID, stixID); err != nil {
			return nil, fmt.Errorf("supersede a version: %w", err)
		}
	}
	if err := tx.InsertMany(ctx, `intel_objects (id, org_id, stix_id, stix_type, version, version_ns, spec_version, date_added, revoked, valid_until, name, latest, first_added, shared_id, object)`, 15, rows); err != nil {
		return nil, err
	}
	// The other orgs' copies of an id this import holds now too are
	// marked shared (a flag for the reads' first-holder rule; nothing of
	// theirs changes).
	for id := range have.others {
		if _, err := tx.Exec(ctx, `UPDATE intel_objects SET shared_id = 1 WHERE stix_id = ? AND shared_id = 0`, id); err != nil {
			return nil, fmt.Errorf("mark a shared id: %w", err)
		}
	}
	values, refs := sortedValues(vrows), sortedRefs(rrows)
	if len(values) > 0 {
		if err := tx.InsertMany(ctx, `intel_values (object_id, kind, value, sufficient)`, 4, values); err != nil {
			return nil, err
		}
		if err := recordCIDRLengths(ctx, tx, values); err != nil {
			return nil, err
		}
	}
	if len(refs) > 0 {
		if err := tx.InsertMany(ctx, `intel_refs (object_id, ref, role)`, 3, refs); err != nil {
			return nil, err
		}
	}
	if len(docs) > 0 {
		if err := s.kind.IndexAll(ctx, tx, docs); err != nil {
			return nil, err
		}
	}
	if err := s.announceSightings(ctx, tx, a.UserID, todo, shares); err != nil {
		return nil, err
	}
	s.announceAdded(tx, todo, shares, added)
	return ids, nil
}

// valueRow is a row of intel_values: a value of object id.
type valueRow struct {
	value
	id string
}

// sortedValues are the rows of intel_values (object_id, kind, value,
// sufficient) in the order of its primary key. The values of a batch land
// all over that index (an address, a domain, a hash); inserted in key
// order, each insert finds the pages of the one before it at hand instead
// of descending into another part of the tree, and a page takes its new
// rows in one go.
func sortedValues(rows []valueRow) []any {
	slices.SortFunc(rows, func(a, b valueRow) int {
		return cmp.Or(strings.Compare(a.kind, b.kind), strings.Compare(a.value.value, b.value.value), strings.Compare(a.id, b.id))
	})
	out := make([]any, 0, 4*len(rows))
	for _, r := range rows {
		out = append(out, r.id, r.kind, r.value.value, boolInt(r.sufficient))
	}
	return out
}

// sortedRefs are the rows of intel_refs (object_id, ref, role) in the
// order of its primary key (ref, object_id, role), for the same reason.
func sortedRefs(rows [][3]string) []any {
	slices.SortFunc(rows, func(a, b [3]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]), strings.Compare(a[2], b[2]))
	})
	out := make([]any, 0, 3*len(rows))
	for _, r := range rows {
		out = append(out, r[1], r[0], r[2])
	}
	return out
}

// announceAdded tells, after the commit, the open intel lists of everyone
// who may see some of a batch's objects that new ones arrived: one event
// per TLP level among them (the batch's objects share owner and audience,
// so an envelope of each level decides for all of that level), whose
// fragment lists the newest of the batch as the reader may see them. One
// event a batch, not one an object: an import of a million objects must
// not flood every open page.
func (s *Service) announceAdded(tx *db.Tx, todo []pending, shares []policy.Share, added int64) {
	byLevel := map[policy.TLP]policy.Share{}
	for i, p := range todo {
		if p.obj.Type() == "relationship" {
			continue // not listed among the newest (listPage)
		}
		if _, ok := byLevel[shares[i].TLP]; !ok {
			byLevel[shares[i].TLP] = shares[i]
		}
	}
	if len(byLevel) == 0 {
		return
	}
	fragment := fmt.Sprintf("/intel/added?from=%d&to=%d", added, added+int64(len(todo))-1)
	tx.AfterCommit(func() {
		for _, sh := range byLevel {
			s.Events.Publish(events.Event{Type: "intel.added", Share: &sh, Topics: []string{"intel"},
				Data: map[string]string{"fragment": fragment}})
		}
	})
}

// announceSightings tells, after the commit, everyone who may see a new
// sighting that it arrived: the owner of what was sighted learns at once
// that someone saw it.
func (s *Service) announceSightings(ctx context.Context, tx *db.Tx, by string, todo []pending, shares []policy.Share) error {
	var hooks []notify.Event
	for i, p := range todo {
		if p.obj.Type() != "sighting" {
			continue
		}
		sh, of := shares[i], p.obj.SightingOfRef()
		tx.AfterCommit(func() {
			s.Events.Publish(events.Event{Type: "intel.sighting", Share: &sh, Topics: []string{"intel", "intel:" + of},
				Data: map[string]string{"id": sh.ID, "sighting_of": of, "fragment": "/intel/objects/" + sh.ID + "/fragment"}})
		})
		count, ok := p.obj.Int("count")
		if !ok {
			count = 1
		}
		hooks = append(hooks, notify.Event{Type: EventSighting, Share: sh, By: by, // the reporter gets no mail of it
			Data: map[string]any{"id": sh.ID, "stix_id": p.obj.ID(), "sighting_of": of, "count": count, "path": "/intel/objects/" + sh.ID}})
	}
	// Webhooks of the orgs that may see them, and mails of the people who
	// chose them, in this transaction (the outboxes): they go out even if
	// the hub stops now.
	return s.Notify.EnqueueAll(ctx, tx, hooks)
}

// refsOf lists the references of o that pages follow: role and STIX id,
// each once.
func refsOf(o *stix.Object) [][2]string {
	var out [][2]string
	seen := map[[2]string]bool{}
	add := func(role, ref string) {
		k := [2]string{role, ref}
		if ref != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	add("source_ref", o.SourceRef())
	add("target_ref", o.TargetRef())
	add("sighting_of_ref", o.SightingOfRef())
	for _, r := range o.Strings("object_refs") {
		add("object_refs", r)
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// value is one simple value an object stands for.
type value struct {
	kind, value string
	sufficient  bool
}

// valuesOf lists the values an object stands for, normalised for lookups:
// an indicator's (STIX pattern) and an observable's own.
func valuesOf(o *stix.Object) []value {
	var out []value
	seen := map[string]bool{}
	add := func(kind, v string, sufficient bool) {
		kind, v = normalise(kind, v)
		if v == "" || seen[kind+v] {
			return
		}
		seen[kind+v] = true
		out = append(out, value{kind, v, sufficient})
	}
	switch o.Type() {
	case "indicator":
		if o.PatternType() != "stix" {
			return nil
		}
		p, err := stix.ParsePattern(o.Pattern())
		if err != nil {
			return nil // Validate refused it already
		}
		for _, ob := range p.Observables() {
			if ob.Kind != stix.KindOther {
				add(string(ob.Kind), ob.Value, ob.Sufficient)
			}
		}
	case "ipv4-addr":
		add("ipv4", o.String("value"), true)
	case "ipv6-addr":
		add("ipv6", o.String("value"), true)
	case "domain-name":
		add("domain", o.String("value"), true)
	case "url":
		add("url", o.String("value"), true)
	case "email-addr":
		add("email", o.String("value"), true)
	case "mac-addr":
		add("mac", o.String("value"), true)
	case "file":
		if raw, ok := o.Get("hashes"); ok {
			for _, h := range hashValues(raw) {
				add("hash", h, true)
			}
		}
	}
	return out
}

// normalise puts a value in the one form lookups compare: addresses as Go
// prints them (an address with a prefix length is a CIDR), names, hashes
// and e-mail addresses in lower case. A value that is not what its kind
// says is dropped ("").
func normalise(kind, v string) (string, string) {
	v = strings.TrimSpace(v)
	if strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
		// A value with a line break or a space in it is no address, name
		// or hash: in a block list it would be two lines, the second one
		// chosen by whoever wrote the indicator.
		return kind, ""
	}
	switch kind {
	case "ipv4", "ipv6", "cidr":
		if strings.Contains(v, "/") {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return kind, ""
			}
			p = unmapPrefix(p)
			if p.IsSingleIP() {
				return addrKind(p.Addr()), p.Addr().String()
			}
			return "cidr", p.Masked().String()
		}
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return kind, ""
		}
		ip = ip.Unmap()
		return addrKind(ip), ip.String()
	case "domain":
		v = strings.ToLower(strings.TrimSuffix(v, "."))
		if !hostname(v) {
			return kind, ""
		}
		return kind, v
	case "url":
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || strings.ContainsRune(v, '\\') {
			// A backslash is read as a path by some and as the host's end
			// by others: no value to block.
			return kind, ""
		}
		return kind, v
	case "email", "hash", "mac":
		return kind, strings.ToLower(v)
	}
	return kind, v
}

// unmapPrefix turns a range of IPv4-mapped IPv6 addresses into the IPv4
// range it is.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		if q, err := a.Unmap().Prefix(p.Bits() - 96); err == nil {
			return q
		}
	}
	return p
}

// hostname reports whether v is a DNS name (letters, also of other
// scripts, digits, hyphens, underscores, dots; labels of 1–63).
func hostname(v string) bool {
	if v == "" || len(v) > 253 {
		return false
	}
	for _, label := range strings.Split(v, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_' {
				return false
			}
		}
	}
	return true
}

func addrKind(ip netip.Addr) string {
	if ip.Unmap().Is4() {
		return "ipv4"
	}
	return "ipv6"
}

// recordCIDRLengths notes the prefix lengths of the ranges among values
// (rows of object_id, kind, value, sufficient) in intel_cidr_lengths.
func recordCIDRLengths(ctx context.Context, tx *db.Tx, values []any) error {
	seen := map[int]bool{}
	for i := 0; i+3 < len(values); i += 4 {
		if values[i+1] != "cidr" {
			continue
		}
		p, err := netip.ParsePrefix(values[i+2].(string))
		if err != nil {
			continue
		}
		bits := p.Bits()
		if p.Addr().Is6() {
			bits += 128
		}
		if seen[bits] {
			continue
		}
		seen[bits] = true
		if _, err := tx.Exec(ctx, `INSERT INTO intel_cidr_lengths (bits) VALUES (?) ON CONFLICT (bits) DO NOTHING`, bits); err != nil {
			return fmt.Errorf("note a range's length: %w", err)
		}
	}
	return nil
}

// readable is a decoder's error without the library's prefix and without
// the cause repeated (stix: … : stix: …).
func readable(err error) string {
	msg := firstLine(err)
	parts := strings.Split(msg, ": stix: ")
	msg = strings.TrimPrefix(parts[0], "stix: ")
	return msg
}

// searchText is what search finds an object by besides its name: its
// description and the ids of its external references (ATT&CK's T1566,
// a CVE), which analysts pass around.
func searchText(o *stix.Object) string {
	text := o.Description()
	raw, ok := o.Get("external_references")
	if !ok {
		return text
	}
	var refs []struct {
		ExternalID string `json:"external_id"`
	}
	if json.Unmarshal(raw, &refs) != nil {
		return text
	}
	for _, r := range refs {
		if r.ExternalID != "" {
			text += " " + r.ExternalID
		}
	}
	return text
}

// resolveMarking applies a marking definition to the objects of the
// actor's org stored before it that named it without knowing it: if it
// sets a TLP level stricter than the one an object was stored at, the
// object is deleted and reported as refused (import marking definitions
// before what they mark, as most producers do); then they no longer wait
// for it.
//
// started is when this import began: objects it stored count in its
// report; objects an earlier import left waiting are taken back too, and
// reported, but were not counted here.
func (s *Service) resolveMarking(ctx context.Context, a policy.Actor, md *stix.Object, rep *Report, opts ImportOptions, started int64) error {
	level, isTLP := stix.MarkingTLP(md)
	if isTLP {
		rows, err := s.DB.R().Query(ctx, `SELECT x.object_id, o.stix_id, o.version, s.tlp, o.date_added FROM intel_refs x JOIN intel_objects o ON o.id = x.object_id
			JOIN shares s ON s.id = x.object_id WHERE x.ref = ? AND x.role = 'pending_marking' AND o.org_id = ?`, md.ID(), a.OrgID)
		if err != nil {
			return fmt.Errorf("objects waiting for a marking: %w", err)
		}
		type waiting struct {
			id, stixID, version string
			tlp                 policy.TLP
			added               int64
		}
		ws, err := db.Collect(rows, "objects waiting for a marking", func(r db.Scanner) (w waiting, err error) {
			err = r.Scan(&w.id, &w.stixID, &w.version, &w.tlp, &w.added)
			return w, err
		})
		if err != nil {
			return err
		}
		var gone []string
		for _, w := range ws {
			if w.tlp < tlpOf(level) {
				gone = append(gone, w.id)
				if w.added >= started {
					rep.Accepted--
					rep.New--
				}
				rep.reject(opts, -1, w.stixID, w.version, fault.BadInput("object_marking_refs", "marking_after_use",
					"its marking definition {marking}, later in the bundle, sets a stricter level: import marking definitions before what they mark").With("marking", md.ID()))
			}
		}
		if len(gone) > 0 {
			if err := s.Delete(ctx, a, gone); err != nil {
				return err
			}
		}
	}
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM intel_refs WHERE ref = ? AND role = 'pending_marking' AND object_id IN (SELECT id FROM intel_objects WHERE org_id = ?)`, md.ID(), a.OrgID)
		if err != nil {
			return fmt.Errorf("resolve a marking: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "intel.marking_resolved", ObjectType: "intel_import",
			Detail: map[string]any{"marking": md.ID(), "tlp": isTLP}, Touches: []string{"intel"}})
	})
}
