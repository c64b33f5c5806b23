package playbooks

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"unicode/utf8"

	"verbund/internal/audit"
	"verbund/internal/cacao"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// MaxDocument bounds one CACAO document (the largest real playbooks are a
// few hundred kilobytes).
const MaxDocument = 4 << 20

// Input is one document to import; Name is how the report names it (the
// file's name).
type Input struct {
	Name string
	Data []byte
}

// ImportOptions says how imported playbooks are shared.
type ImportOptions struct {
	// TLP is the least level: a document marked less strictly (or not at
	// all) gets this one; a stricter marking is kept. "" keeps the
	// document's (AMBER for a document without a TLP marking).
	TLP string
	// Sharing is the audience of new playbooks (its TLP is ignored); ""
	// audience: the org.
	Sharing policy.Sharing
}

// Report is what an import did: exactly the JSON of `verbund playbooks
// import --json` and of the API.
type Report struct {
	Accepted int    `json:"accepted"`
	Rejected int    `json:"rejected"`
	Items    []Item `json:"items"`
}

// Item is one document's outcome: the playbook it became (id, cacao_id),
// or why it was refused (error, with a stable code).
type Item struct {
	File    string `json:"file"`
	ID      string `json:"id"`
	CACAOID string `json:"cacao_id"`
	Error   string `json:"error"`
	Code    string `json:"code,omitempty"`
	// Problems is every problem the CACAO checks found (Error names the
	// first and counts the others).
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one problem of a refused document: a stable code (the
// cacao package's), the property at fault as a dotted path, the English
// text.
type Problem struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Key is the catalogue key of the problem's text.
func (p Problem) Key() string { return "playbooks.problem." + p.Code }

// maxProblems is the most problems an item lists (a broken document of
// MaxSteps steps would otherwise make a report of megabytes).
const maxProblems = 200

// RejectKey is the catalogue key of a refused document's reason.
func (it Item) RejectKey() string { return "playbooks.reject." + it.Code }

// batch is how many documents share one transaction: a commit per
// document would bound an import by the disk's syncs.
const batch = 64

type parsed struct {
	in   Input
	pb   *cacao.Playbook
	sum  string
	item Item // the outcome
}

// Import checks each document (JSON, CACAO 2.0 schema, the semantic rules
// of internal/cacao) and stores those that pass in the actor's org's
// library. A refused document leaves nothing behind and is reported with
// the field or step at fault; the others are imported. A document whose
// playbook (its CACAO id) the org holds adds a version (by modified; the
// newest version is the playbook's); the same version again is left as it
// is; the same modified with other content is refused.
func (s *Service) Import(ctx context.Context, a policy.Actor, inputs []Input, opts ImportOptions) (Report, error) {
	rep := Report{Items: make([]Item, 0, len(inputs))}
	if !a.CanWrite() || a.OrgID == "" {
		return rep, fault.New(fault.Forbidden, "forbidden", "only analysts and admins of an organisation import playbooks")
	}
	least, aud, err := policy.ImportSharing(opts.TLP, opts.Sharing)
	if err != nil {
		return rep, err
	}
	// The documents are checked on every core while the batches before
	// are stored: checking and storing overlap.
	docs, done := s.checkAll(inputs)
	for start := 0; start < len(docs); start += batch {
		end := min(start+batch, len(docs))
		var ok []*parsed
		for i := start; i < end; i++ {
			<-done[i]
			if docs[i].pb != nil {
				ok = append(ok, docs[i])
			}
		}
		if err := s.store(ctx, a, ok, least, aud); err != nil {
			return rep, err
		}
		for _, p := range docs[start:end] {
			if p.item.Error != "" {
				rep.Rejected++
			} else {
				rep.Accepted++
			}
			rep.Items = append(rep.Items, p.item)
		}
	}
	return rep, nil
}

// checkAll starts checking the documents on every core and returns at
// once: docs[i] is ready when done[i] is closed. The caller waits for each
// (a batch stops the workers early only by returning, which leaves them
// to finish the inputs they hold).
func (s *Service) checkAll(inputs []Input) ([]*parsed, []chan struct{}) {
	out := make([]*parsed, len(inputs))
	done := make([]chan struct{}, len(inputs))
	for i := range done {
		done[i] = make(chan struct{})
	}
	next := make(chan int, len(inputs))
	for i := range inputs {
		next <- i
	}
	close(next)
	for range max(1, min(runtime.GOMAXPROCS(0), len(inputs))) {
		go func() {
			for i := range next {
				out[i] = s.checkOne(inputs[i])
				close(done[i])
			}
		}()
	}
	return out, done
}

func (s *Service) checkOne(in Input) *parsed {
	p := &parsed{in: in, item: Item{File: in.Name}}
	switch {
	case len(in.Data) > MaxDocument:
		p.refuse("too_large", fmt.Sprintf("the document is larger than %d MiB", MaxDocument>>20))
		return p
	case !utf8.Valid(in.Data):
		p.refuse("bad_json", "the document is not UTF-8 text")
		return p
	}
	v, err := s.validator()
	if err != nil {
		p.refuse("invalid", err.Error()) // the embedded schema does not compile: a build error, never the document's
		return p
	}
	pb, err := v.Check(in.Data)
	if err != nil {
		var errs cacao.Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			p.refuse("invalid", err.Error())
			return p
		}
		code := "invalid"
		switch errs[0].Code {
		case cacao.CodeBadJSON:
			code = "bad_json"
		case cacao.CodeSpecVersion:
			code = "spec_version"
		case cacao.CodeSchema:
			code = "schema"
		case cacao.CodeLimit:
			code = "limit"
		}
		// The CACAO id, when the document has one, helps to find it.
		if head, derr := cacao.Decode(in.Data); derr == nil {
			p.item.CACAOID = head.ID
		}
		p.refuse(code, errs.Error())
		for _, e := range errs[:min(len(errs), maxProblems)] {
			msg := e.Message
			if e.Err != nil {
				msg += ": " + e.Err.Error()
			}
			p.item.Problems = append(p.item.Problems, Problem{Code: string(e.Code), Field: e.Field, Message: msg})
		}
		return p
	}
	sum := sha256.Sum256(in.Data)
	p.pb, p.sum, p.item.CACAOID = pb, hex.EncodeToString(sum[:]), pb.ID
	return p
}

func (p *parsed) refuse(code, msg string) {
	p.pb = nil
	p.item.Code, p.item.Error, p.item.ID = code, msg, ""
}

// level is the TLP a playbook is shared at: the document's, raised to
// least; AMBER for a document without a TLP marking (least if given).
func level(pb *cacao.Playbook, least policy.TLP) policy.TLP {
	l, marked := tlpOf(pb)
	if !marked {
		l = policy.Amber
		if least >= 0 {
			l = least
		}
	}
	return max(l, least)
}

// held is a playbook the org holds, as the store needs it.
type held struct {
	id       string
	current  int64 // modified_at of its newest version
	created  bool  // created in this transaction
	versions map[int64]string
	tlp      policy.TLP
	aud      policy.Audience
}

// store writes one batch of checked documents in one transaction and
// fills each one's outcome.
func (s *Service) store(ctx context.Context, a policy.Actor, docs []*parsed, least policy.TLP, aud policy.Audience) error {
	if len(docs) == 0 {
		return nil
	}
	// Older versions first, so that the newest of one import ends as the
	// playbook's current version.
	ordered := slices.Clone(docs)
	slices.SortStableFunc(ordered, func(x, y *parsed) int { return x.pb.ModifiedTime().Compare(y.pb.ModifiedTime()) })
	var announce []policy.Share
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		announce = nil
		for _, p := range ordered {
			p.item.ID, p.item.Error, p.item.Code = "", "", ""
		}
		byID := map[string]*held{}
		type todo struct {
			p       *parsed
			pb      *held
			current bool
		}
		var work []todo
		var fresh []policy.Share
		for _, p := range ordered {
			pb := p.pb
			h, ok := byID[pb.ID]
			if !ok {
				h = &held{versions: map[int64]string{}}
				err := tx.QueryRow(ctx, `SELECT id, modified_at FROM playbooks WHERE org_id = ? AND cacao_id = ?`, a.OrgID, pb.ID).Scan(&h.id, &h.current)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("find playbook %s: %w", pb.ID, db.Map(err))
				}
				if h.id != "" {
					owned, err := s.playbooks.Authorize(ctx, tx, a, h.id)
					if e, ok := fault.As(err); ok && e.Kind != fault.Internal {
						// The org's playbook, but not for this person to
						// change (TLP:RED of a colleague).
						p.item.Code, p.item.Error = "sharing", fmt.Sprintf("%s: %s", pb.ID, e.Message)
						continue
					}
					if err != nil {
						return err
					}
					h.tlp, h.aud = owned.TLP, owned.Audience
				} else {
					l := level(pb, least)
					if err := policy.ValidateAudience(l, aud); err != nil {
						p.item.Code, p.item.Error = "sharing", fmt.Sprintf("%s is %s: %s", pb.ID, l, faultMessage(err))
						continue
					}
					sh := s.playbooks.Envelope(a, l, aud)
					h.id, h.created = sh.ID, true
					fresh = append(fresh, sh)
				}
				byID[pb.ID] = h
			}
			at := pb.ModifiedTime().UnixMicro()
			sum, known := h.versions[at]
			if !known && !h.created {
				err := tx.QueryRow(ctx, `SELECT sha256 FROM playbook_versions WHERE playbook_id = ? AND modified_at = ?`, h.id, at).Scan(&sum)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("find version: %w", db.Map(err))
				}
				known = err == nil
			}
			switch {
			case known && sum == p.sum:
				p.item.ID = h.id // the same version again: nothing to do
				continue
			case known:
				p.item.Code, p.item.Error = "version_conflict", fmt.Sprintf(
					"%s version %s is already held with other content: a changed playbook needs a later modified", pb.ID, pb.Modified)
				continue
			}
			// A new version marked more strictly than the playbook is
			// shared now narrows it: a new disclosure, checked and audited.
			if l, marked := tlpOf(pb); marked && !h.created && l > h.tlp {
				if err := policy.ValidateAudience(l, h.aud); err != nil {
					p.item.Code, p.item.Error = "sharing", fmt.Sprintf("%s version %s is %s: %s", pb.ID, pb.Modified, l, faultMessage(err))
					continue
				}
				dis, err := s.playbooks.Reshare(ctx, tx, a, h.id, l, h.aud)
				if err != nil {
					return err
				}
				if err := audit.Write(ctx, tx, a, audit.Entry{Action: "playbooks.playbook.reshare", ObjectType: "playbook", ObjectID: h.id,
					Detail: dis.Detail(), Touches: []string{"playbooks", "playbook:" + h.id}}); err != nil {
					return err
				}
				h.tlp = l
			}
			h.versions[at] = p.sum
			isCurrent := h.current == 0 || at >= h.current
			if isCurrent {
				h.current = at
			}
			work = append(work, todo{p: p, pb: h, current: isCurrent})
			p.item.ID = h.id
		}
		disclosed := map[string]policy.Disclosure{}
		if len(fresh) > 0 {
			ds, err := s.playbooks.DiscloseAll(ctx, tx, a, fresh)
			if err != nil {
				return err
			}
			for _, d := range ds {
				disclosed[d.Share.ID] = d
				announce = append(announce, d.Share)
			}
		}
		now := db.Now()
		inserted := map[string]bool{}
		for _, t := range work {
			pb := t.p.pb
			action, detail := "playbooks.playbook.version", map[string]any{"cacao_id": pb.ID, "modified": pb.Modified, "sha256": t.p.sum}
			if dis, ok := disclosed[t.pb.id]; ok && !inserted[t.pb.id] {
				action, detail["sharing"] = "playbooks.playbook.import", dis.Detail()
			}
			if t.current {
				if err := s.writeCurrent(ctx, tx, a, t.pb.id, pb, t.pb.created && !inserted[t.pb.id], now); err != nil {
					return err
				}
				inserted[t.pb.id] = true
			}
			if _, err := tx.Exec(ctx, `INSERT INTO playbook_versions (playbook_id, modified_at, modified, sha256, document, imported_at, imported_by)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, t.pb.id, pb.ModifiedTime().UnixMicro(), pb.Modified, t.p.sum, string(pb.Raw()), now, a.UserID); err != nil {
				return fmt.Errorf("store %s version %s: %w", pb.ID, pb.Modified, err)
			}
			if err := audit.Write(ctx, tx, a, audit.Entry{Action: action, ObjectType: "playbook", ObjectID: t.pb.id,
				Detail: detail, Touches: []string{"playbooks", "playbook:" + t.pb.id}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, sh := range announce {
		s.Events.Publish(events.Event{Type: "playbooks.playbook", Share: &sh, Topics: []string{"playbooks"}, Data: map[string]string{"id": sh.ID}})
	}
	return nil
}

func faultMessage(err error) string {
	if e, ok := fault.As(err); ok {
		return e.Message
	}
	return err.Error()
}

// writeCurrent makes pb the playbook's current version: its row (inserted
// for a new playbook) and its searchable text.
func (s *Service) writeCurrent(ctx context.Context, tx *db.Tx, a policy.Actor, id string, pb *cacao.Playbook, create bool, now int64) error {
	steps, manual := 0, 0
	for _, st := range pb.Workflow {
		if st.Type != cacao.StepStart && st.Type != cacao.StepEnd {
			steps++
		}
		if st.Manual() {
			manual++
		}
	}
	desc := cut(pb.Description, 4000)
	types, labels := strings.Join(pb.PlaybookTypes, " "), strings.Join(pb.Labels, " ")
	at := pb.ModifiedTime().UnixMicro()
	if create {
		if _, err := tx.Exec(ctx, `INSERT INTO playbooks (id, org_id, cacao_id, name, description, types, labels, modified, modified_at, steps, manual_steps, created_at, updated_at)
			VALUES (`+db.Placeholders(13)+`)`, id, a.OrgID, pb.ID, pb.Name, desc, types, labels, pb.Modified, at, steps, manual, now, now); err != nil {
			return fmt.Errorf("store playbook %s: %w", pb.ID, err)
		}
	} else if _, err := tx.Exec(ctx, `UPDATE playbooks SET name = ?, description = ?, types = ?, labels = ?, modified = ?, modified_at = ?, steps = ?, manual_steps = ?, updated_at = ?
		WHERE id = ? AND org_id = ?`, pb.Name, desc, types, labels, pb.Modified, at, steps, manual, now, id, a.OrgID); err != nil {
		return fmt.Errorf("update playbook %s: %w", pb.ID, err)
	}
	return s.playbooks.Index(ctx, tx, id, pb.Name, searchText(pb))
}

// searchText is what the hub's search reads of a playbook: its
// description, labels and types, each step's name and description, the
// text of its manual commands and the names of its agents.
func searchText(pb *cacao.Playbook) string {
	parts := []string{pb.Description, strings.Join(pb.Labels, " "), strings.Join(pb.PlaybookTypes, " ")}
	for _, id := range sortedStepIDs(pb) {
		st := pb.Workflow[id]
		parts = append(parts, st.Name, st.Description)
		for _, c := range st.Commands {
			if c.Type == cacao.CommandManual {
				parts = append(parts, c.Description, c.Command)
			}
		}
	}
	for _, ag := range pb.Agents {
		if ag != nil {
			parts = append(parts, ag.Name)
		}
	}
	return cut(strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), "\n"), 100000)
}

func sortedStepIDs(pb *cacao.Playbook) []string {
	ids := make([]string, 0, len(pb.Workflow))
	for id := range pb.Workflow {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// cut shortens s to at most n bytes without splitting a character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
