package playbooks

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"verbund/internal/cacao"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// The editor is a form without script: every change of shape (a step, a
// decision, a branch, a party added, removed or moved) is a submit button
// (name "op") that sends the whole draft and gets it back changed; "save"
// writes it as CACAO and imports it as a new version (or a new playbook)
// through Import, so the editor's output passes the same checks as any
// import.

// FindDraft reads a playbook of the actor's org for the editor: not
// found for those who may not see it, forbidden for those who may not
// change it; a fault naming what the editor cannot show when it is not
// of the shape the editor reads (the editor never drops content). The
// draft carries the stored document, which a new version starts from.
func (s *Service) FindDraft(ctx context.Context, a policy.Actor, id string) (Draft, error) {
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		_, err := s.playbooks.Authorize(ctx, tx, a, id)
		return err
	})
	if err != nil {
		return Draft{}, err
	}
	raw, p, err := s.FindDocument(ctx, a, id, "")
	if err != nil {
		return Draft{}, err
	}
	doc, err := cacao.Decode(raw)
	if err != nil {
		return Draft{}, fmt.Errorf("decode stored playbook %s: %w", p.ID, err)
	}
	d, why := draftOf(doc)
	if why != "" {
		return Draft{}, notEditable(why)
	}
	if d.prev, err = decodeTree(raw); err != nil {
		return Draft{}, err
	}
	d.ID = id
	return d, nil
}

func notEditable(what string) error {
	return fault.New(fault.Conflict, "playbook_not_editable",
		"this playbook has {what}, which the editor cannot show: edit the CACAO file and import it as a new version").With("what", what)
}

// SaveDraft writes a draft as CACAO and imports it: a new version of the
// playbook edited (its sharing unchanged) or a new playbook shared as
// the draft says. It returns the playbook's id.
func (s *Service) SaveDraft(ctx context.Context, a policy.Actor, d Draft, now time.Time) (string, error) {
	if d.ID != "" {
		cur, err := s.FindDraft(ctx, a, d.ID)
		if err != nil {
			return "", err
		}
		d.CACAOID, d.Created, d.Modified, d.prev = cur.CACAOID, cur.Created, cur.Modified, cur.prev
	} else {
		d.CACAOID, d.Created, d.Modified = "", "", ""
	}
	doc, err := d.ToCACAO(a.OrgID, now)
	if err != nil {
		return "", err
	}
	opts := ImportOptions{TLP: d.TLP}
	if d.ID == "" && d.Community != "" {
		opts.Sharing = policy.Sharing{Audience: "community", Community: d.Community}
	}
	rep, err := s.Import(ctx, a, []Input{{Name: "editor", Data: doc}}, opts)
	if err != nil {
		return "", err
	}
	if it := rep.Items[0]; it.Error != "" {
		return "", fault.BadInput("blocks", "playbook_draft_refused", "the playbook could not be saved: {reason}").With("reason", it.Error)
	}
	return rep.Items[0].ID, nil
}

// parseDraft reads the editor's form.
func parseDraft(f url.Values) Draft {
	d := Draft{ID: f.Get("id"), Name: f.Get("name"), Desc: f.Get("desc"), TLP: f.Get("tlp"), Community: f.Get("community_id")}
	count := func(key string, limit int) int {
		n, _ := strconv.Atoi(f.Get(key))
		return max(0, min(n, limit))
	}
	for i := range count("party.len", maxParties) {
		p := "party." + strconv.Itoa(i)
		d.Parties = append(d.Parties, Party{ID: f.Get(p + ".id"), Kind: f.Get(p + ".kind"), Name: f.Get(p + ".name")})
	}
	action := func(p string) Action {
		party, err := strconv.Atoi(f.Get(p + ".party"))
		if err != nil {
			party = -1
		}
		return Action{ID: f.Get(p + ".id"), Name: f.Get(p + ".name"), Desc: f.Get(p + ".desc"), Party: party, Commands: f.Get(p + ".cmds")}
	}
	actions := func(p string) []Action {
		var out []Action
		for j := range count(p+".len", maxInBlock) {
			out = append(out, action(p+"."+strconv.Itoa(j)))
		}
		return out
	}
	for i := range count("step.len", maxBlocks) {
		p := "step." + strconv.Itoa(i)
		b := Block{Kind: f.Get(p + ".kind"), ID: f.Get(p + ".bid"), Action: action(p)}
		switch b.Kind {
		case "decision":
			b.Yes, b.No = actions(p+".yes"), actions(p+".no")
		case "parallel":
			for k := range count(p+".b.len", maxInBlock) {
				b.Branches = append(b.Branches, actions(p+".b."+strconv.Itoa(k)))
			}
		}
		d.Blocks = append(d.Blocks, b)
	}
	return d
}

// apply changes the draft's shape as an editor button asks: add:<kind>,
// add-party, add-yes:N, add-no:N, add-branch:N, add-in:N.K, remove:<path>,
// remove-party:N, up:N, down:N. It returns the form field to focus next.
func (d *Draft) apply(op string) (string, error) {
	verb, arg, _ := strings.Cut(op, ":")
	idx := func(s string) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= 0 && n < len(d.Blocks)
	}
	full := fault.BadInput("op", "playbook_draft_full", "the playbook has as many steps as the editor takes")
	bad := fault.BadInput("op", "playbook_bad_op", "the editor did not understand this button")
	newAction := func() Action { return Action{Party: -1} }
	switch verb {
	case "add":
		if len(d.Blocks) >= maxBlocks {
			return "", full
		}
		b := Block{Kind: arg, Action: newAction()}
		switch arg {
		case "action":
		case "decision":
			b.Yes = []Action{newAction()}
		case "parallel":
			b.Branches = [][]Action{{newAction()}, {newAction()}}
		default:
			return "", bad
		}
		d.Blocks = append(d.Blocks, b)
		return fmt.Sprintf("step.%d.name", len(d.Blocks)-1), nil
	case "add-party":
		if len(d.Parties) >= maxParties {
			return "", full
		}
		d.Parties = append(d.Parties, Party{Kind: "organization"})
		return fmt.Sprintf("party.%d.name", len(d.Parties)-1), nil
	case "remove-party":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || n >= len(d.Parties) {
			return "", bad
		}
		d.Parties = slices.Delete(d.Parties, n, n+1)
		d.eachAction(func(a *Action) {
			switch {
			case a.Party == n:
				a.Party = -1
			case a.Party > n:
				a.Party--
			}
		})
		return "add-party", nil
	case "add-yes", "add-no", "add-branch":
		n, ok := idx(arg)
		if !ok {
			return "", bad
		}
		b := &d.Blocks[n]
		switch {
		case verb == "add-yes" && b.Kind == "decision" && len(b.Yes) < maxInBlock:
			b.Yes = append(b.Yes, newAction())
			return fmt.Sprintf("step.%d.yes.%d.name", n, len(b.Yes)-1), nil
		case verb == "add-no" && b.Kind == "decision" && len(b.No) < maxInBlock:
			b.No = append(b.No, newAction())
			return fmt.Sprintf("step.%d.no.%d.name", n, len(b.No)-1), nil
		case verb == "add-branch" && b.Kind == "parallel" && len(b.Branches) < maxInBlock:
			b.Branches = append(b.Branches, []Action{newAction()})
			return fmt.Sprintf("step.%d.b.%d.0.name", n, len(b.Branches)-1), nil
		}
		return "", bad
	case "add-in":
		ns, ks, _ := strings.Cut(arg, ".")
		n, ok := idx(ns)
		k, err := strconv.Atoi(ks)
		if !ok || err != nil || d.Blocks[n].Kind != "parallel" || k < 0 || k >= len(d.Blocks[n].Branches) || len(d.Blocks[n].Branches[k]) >= maxInBlock {
			return "", bad
		}
		d.Blocks[n].Branches[k] = append(d.Blocks[n].Branches[k], newAction())
		return fmt.Sprintf("step.%d.b.%d.%d.name", n, k, len(d.Blocks[n].Branches[k])-1), nil
	case "up", "down":
		n, ok := idx(arg)
		m := n - 1
		if verb == "down" {
			m = n + 1
		}
		if !ok || m < 0 || m >= len(d.Blocks) {
			return "", bad
		}
		d.Blocks[n], d.Blocks[m] = d.Blocks[m], d.Blocks[n]
		return fmt.Sprintf("step.%d.name", m), nil
	case "remove":
		return "", d.remove(arg, bad)
	}
	return "", bad
}

// remove deletes the block, action or branch at path: N, N.yes.M, N.no.M,
// N.b.K or N.b.K.M.
func (d *Draft) remove(path string, bad error) error {
	parts := strings.Split(path, ".")
	num := func(i, limit int) (int, bool) {
		if i >= len(parts) {
			return 0, false
		}
		n, err := strconv.Atoi(parts[i])
		return n, err == nil && n >= 0 && n < limit
	}
	n, ok := num(0, len(d.Blocks))
	if !ok {
		return bad
	}
	b := &d.Blocks[n]
	switch {
	case len(parts) == 1:
		d.Blocks = slices.Delete(d.Blocks, n, n+1)
	case len(parts) == 3 && parts[1] == "yes":
		m, ok := num(2, len(b.Yes))
		if !ok {
			return bad
		}
		b.Yes = slices.Delete(b.Yes, m, m+1)
	case len(parts) == 3 && parts[1] == "no":
		m, ok := num(2, len(b.No))
		if !ok {
			return bad
		}
		b.No = slices.Delete(b.No, m, m+1)
	case len(parts) == 3 && parts[1] == "b":
		k, ok := num(2, len(b.Branches))
		if !ok {
			return bad
		}
		b.Branches = slices.Delete(b.Branches, k, k+1)
	case len(parts) == 4 && parts[1] == "b":
		k, ok := num(2, len(b.Branches))
		if !ok {
			return bad
		}
		m, ok := num(3, len(b.Branches[k]))
		if !ok {
			return bad
		}
		b.Branches[k] = slices.Delete(b.Branches[k], m, m+1)
	default:
		return bad
	}
	return nil
}

func (d *Draft) eachAction(f func(*Action)) {
	for i := range d.Blocks {
		b := &d.Blocks[i]
		f(&b.Action)
		for j := range b.Yes {
			f(&b.Yes[j])
		}
		for j := range b.No {
			f(&b.No[j])
		}
		for k := range b.Branches {
			for j := range b.Branches[k] {
				f(&b.Branches[k][j])
			}
		}
	}
}

type editorData struct {
	D       Draft
	Focus   string // the field to focus after a change of shape
	Circles []option
	Error   *fault.Error
	Kinds   []kindOption
	Notice  string // a proposal's note on the incident's content
}

// kindOption is a party kind with the catalogue key of its name.
type kindOption struct{ Value, Key string }

// N is a place counted from 1 (the template's step and branch numbers).
func (editorData) N(i int) int { return i + 1 }

func (h *handler) newPage(w http.ResponseWriter, r *http.Request) error {
	// The own org is the first party: most steps are its own.
	var org string
	if err := h.svc.DB.R().QueryRow(r.Context(), `SELECT name FROM orgs WHERE id = ?`, web.ActorFrom(r).OrgID).Scan(&org); err != nil {
		return fmt.Errorf("read the org's name: %w", db.Map(err))
	}
	d := Draft{TLP: "AMBER", Community: r.URL.Query().Get("community_id"), Blocks: []Block{{Kind: "action", Action: Action{Party: 0}}},
		Parties: []Party{{Kind: "organization", Name: org}}}
	return h.renderEditor(w, r, http.StatusOK, editorData{D: d})
}

func (h *handler) editPage(w http.ResponseWriter, r *http.Request) error {
	d, err := h.svc.FindDraft(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.renderEditor(w, r, http.StatusOK, editorData{D: d})
}

func (h *handler) renderEditor(w http.ResponseWriter, r *http.Request, status int, d editorData) error {
	var err error
	if d.Circles, err = circles(r.Context(), h.svc.DB.R(), web.ActorFrom(r).OrgID); err != nil {
		return err
	}
	d.Kinds = nil
	for _, k := range PartyKinds {
		d.Kinds = append(d.Kinds, kindOption{Value: k, Key: "playbooks.party." + k})
	}
	title := h.t(r, "playbooks.editor.new")
	if d.D.ID != "" {
		title = h.t(r, "playbooks.editor.edit", "name", d.D.Name)
	}
	return h.tpl.Render(w, r, status, "editor", web.Page{Nav: "playbooks", Title: title, Data: d})
}

// editorForm applies a button of the editor, or saves the draft.
func (h *handler) editorForm(w http.ResponseWriter, r *http.Request) error {
	d := parseDraft(r.PostForm)
	d.words = func(key string, args ...any) string { return h.t(r, key, args...) }
	op := r.PostFormValue("op")
	if op != "save" {
		focus, err := d.apply(op)
		if e, ok := fault.As(err); ok {
			return h.renderEditor(w, r, http.StatusBadRequest, editorData{D: d, Error: e})
		}
		return h.renderEditor(w, r, http.StatusOK, editorData{D: d, Focus: focus})
	}
	id, err := h.svc.SaveDraft(r.Context(), web.ActorFrom(r), d, time.Now())
	if err != nil {
		if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
			return h.renderEditor(w, r, http.StatusBadRequest, editorData{D: d, Error: e, Focus: e.Field})
		}
		return err
	}
	return web.Redirect(w, r, "/playbooks/"+id, "playbook_saved")
}

// editable reports whether the editor can show a playbook.
func editable(pb *cacao.Playbook) bool {
	_, ok := DraftOf(pb)
	return ok
}
