package playbooks

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"verbund/internal/cacao"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Playbook is a playbook as a reader may see it: the newest version's
// fields (lists carry these only), and on its own page its versions and
// steps.
type Playbook struct {
	ID          string       `json:"id"`
	CACAOID     string       `json:"cacao_id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Types       []string     `json:"playbook_types"`
	Labels      []string     `json:"labels"`
	Modified    string       `json:"modified"`
	ModifiedAt  int64        `json:"-"`
	Steps       int          `json:"steps"`
	ManualSteps int          `json:"manual_steps"`
	OrgID       string       `json:"org_id"`
	OrgName     string       `json:"org_name"`
	Community   string       `json:"community,omitempty"` // the trust circle's name when shared with one
	TLP         string       `json:"tlp"`
	UpdatedAt   int64        `json:"updated_at"`
	Share       policy.Share `json:"-"`

	Versions []Version `json:"versions,omitempty"`
	Flow     []Step    `json:"workflow,omitempty"`
	// Doc is the current version, decoded (its own page).
	Doc *cacao.Playbook `json:"-"`
}

// Version is one version the hub holds of a playbook.
type Version struct {
	Modified     string `json:"modified"`
	ModifiedAt   int64  `json:"-"` // Modified in Unix µs (the page formats it)
	SHA256       string `json:"sha256"`
	ImportedAt   int64  `json:"imported_at"`
	ImportedBy   string `json:"imported_by"`
	ImportedByID string `json:"-"`
}

// ListFilter narrows the library.
type ListFilter struct {
	// Library: "" every playbook the reader may see; "org" the reader's
	// org's own; "community:<id>" those shared with a trust circle;
	// "shared" those other orgs shared with the reader's org or people.
	Library string
	Q       string // words the playbook's text must contain (the hub's index)
	After   string // the cursor of the page before
	Limit   int
}

const columns = `p.id, p.cacao_id, p.name, p.description, p.types, p.labels, p.modified, p.modified_at, p.steps, p.manual_steps,
	p.org_id, o.name, COALESCE(c.name, ''), p.updated_at`

func (s *Service) scan(r db.Scanner, extra ...any) (Playbook, error) {
	var x Playbook
	var types, labels string
	dest := append([]any{&x.ID, &x.CACAOID, &x.Name, &x.Description, &types, &labels, &x.Modified, &x.ModifiedAt, &x.Steps, &x.ManualSteps,
		&x.OrgID, &x.OrgName, &x.Community, &x.UpdatedAt}, extra...)
	err := r.Scan(s.playbooks.Dest(&x.Share, dest)...)
	x.Types, x.Labels = fields(types), fields(labels)
	x.TLP = x.Share.TLP.Name()
	return x, err
}

func fields(s string) []string {
	f := strings.Fields(s)
	if f == nil {
		return []string{}
	}
	return f
}

// joins names the org and, for a circle's playbook, the circle.
func joins(alias string) string {
	return ` JOIN orgs o ON o.id = p.org_id LEFT JOIN communities c ON c.id = ` + alias + `_s.community_id AND ` + alias + `_s.audience = 'community'`
}

// FindPlaybooks lists the playbooks the actor may see, a page at a time:
// most recently changed first, or with Q the newest matches first.
func (s *Service) FindPlaybooks(ctx context.Context, a policy.Actor, f ListFilter) ([]Playbook, string, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, "", err
	}
	var q *db.Query
	var seq string
	if strings.TrimSpace(f.Q) != "" {
		terms, err := policy.Terms(f.Q)
		if err != nil {
			return nil, "", err
		}
		seq = policy.SearchSeq(h, "p")
		q = db.Q(`SELECT ` + columns + `, ` + s.playbooks.Columns("p") + ` FROM `).Append(r.Search(h, s.playbooks, "p", terms)).Add(joins("p") + ` WHERE 1 = 1`)
	} else {
		q = db.Q(`SELECT ` + columns + `, ` + s.playbooks.Columns("p") + ` FROM `).Append(r.From(s.playbooks, "p")).Add(joins("p") + ` WHERE 1 = 1`)
	}
	switch lib := f.Library; {
	case lib == "":
	case lib == "org":
		q.Add(` AND p.org_id = ?`, a.OrgID)
	case strings.HasPrefix(lib, "community:"):
		q.Add(` AND p_s.audience = 'community' AND p_s.community_id = ?`, strings.TrimPrefix(lib, "community:"))
	case lib == "shared":
		q.Add(` AND p.org_id <> ? AND p_s.audience IN ('orgs', 'people')`, a.OrgID)
	default:
		return nil, "", fault.BadInput("library", "playbook_bad_library", `unknown library "{library}": use org, community:<id> or shared`).With("library", lib)
	}
	if f.After != "" {
		at, id, err := decodeCursor(f.After)
		if err != nil {
			return nil, "", err
		}
		if seq != "" {
			// The cursor's place in the index is looked up, never handed
			// out; only a playbook the reader may see is a cursor.
			if _, err := r.Envelope(ctx, h, s.playbooks, id); err != nil {
				if fault.Is(err, fault.NotFound) {
					return nil, "", badCursor()
				}
				return nil, "", err
			}
			q.Add(` AND `+seq+` < (SELECT d.seq FROM search_docs d WHERE d.id = ?)`, id)
		} else {
			q.Add(` AND (p.updated_at < ? OR p.updated_at = ? AND p.id < ?)`, at, at, id)
		}
	}
	if seq != "" {
		q.Add(` ORDER BY `+seq+` DESC LIMIT ?`, f.Limit+1)
	} else {
		q.Add(` ORDER BY p.updated_at DESC, p.id DESC LIMIT ?`, f.Limit+1)
	}
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list playbooks: %w", err)
	}
	out, err := db.CollectN(rows, f.Limit+1, "list playbooks", func(sc db.Scanner) (Playbook, error) { return s.scan(sc) })
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[len(out)-1]
		next = cursor(last.UpdatedAt, last.ID)
	}
	return out, next, nil
}

func cursor(at int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + "," + id))
}

func badCursor() error {
	return fault.BadInput("next", "bad_cursor", "the page cursor is not valid: start from the first page")
}

func decodeCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 100 {
		return 0, "", badCursor()
	}
	at, id, ok := strings.Cut(string(b), ",")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", badCursor()
	}
	return n, id, nil
}

// find reads one playbook's row if the actor may see it.
func (s *Service) find(ctx context.Context, h db.Handle, r *policy.Reader, id string) (Playbook, error) {
	q := db.Q(`SELECT `+columns+`, `+s.playbooks.Columns("p")+` FROM `).Append(r.From(s.playbooks, "p")).Add(joins("p")+` WHERE p.id = ?`, id)
	x, err := s.scan(h.SelectRow(ctx, q))
	if err != nil {
		return x, db.NotFound(err, "load playbook")
	}
	return x, nil
}

// FindPlaybookByID reads one playbook with its versions and its current
// version decoded (Doc, Flow), if the actor may see it; else not found.
func (s *Service) FindPlaybookByID(ctx context.Context, a policy.Actor, id string) (Playbook, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Playbook{}, err
	}
	x, err := s.find(ctx, h, r, id)
	if err != nil {
		return x, err
	}
	if err := r.Audiences(ctx, h, []*policy.Share{&x.Share}); err != nil {
		return x, err
	}
	rows, err := h.Query(ctx, `SELECT v.modified, v.modified_at, v.sha256, v.imported_at, v.imported_by, COALESCE(u.name, '') FROM playbook_versions v
		LEFT JOIN users u ON u.id = v.imported_by WHERE v.playbook_id = ? ORDER BY v.modified_at DESC`, id)
	if err != nil {
		return x, fmt.Errorf("read versions: %w", err)
	}
	if x.Versions, err = db.Collect(rows, "read versions", func(r db.Scanner) (v Version, err error) {
		err = r.Scan(&v.Modified, &v.ModifiedAt, &v.SHA256, &v.ImportedAt, &v.ImportedByID, &v.ImportedBy)
		return v, err
	}); err != nil {
		return x, err
	}
	doc, err := s.document(ctx, h, id, x.ModifiedAt)
	if err != nil {
		return x, err
	}
	if x.Doc, err = cacao.Decode(doc); err != nil {
		return x, fmt.Errorf("decode stored playbook %s: %w", id, err)
	}
	x.Flow = Steps(x.Doc)
	return x, nil
}

func (s *Service) document(ctx context.Context, h db.Handle, id string, at int64) ([]byte, error) {
	var doc string
	err := h.QueryRow(ctx, `SELECT document FROM playbook_versions WHERE playbook_id = ? AND modified_at = ?`, id, at).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.New(fault.NotFound, "playbook_version_not_found", "the playbook has no version {modified}").With("modified", db.Time(at).Format("2006-01-02T15:04:05.000Z"))
	}
	if err != nil {
		return nil, fmt.Errorf("read document: %w", db.Map(err))
	}
	return []byte(doc), nil
}

// FindDocument returns the stored CACAO document of a playbook's version
// (modified "" the current one) byte for byte, if the actor may see the
// playbook.
func (s *Service) FindDocument(ctx context.Context, a policy.Actor, id, modified string) ([]byte, Playbook, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, Playbook{}, err
	}
	x, err := s.find(ctx, h, r, id)
	if err != nil {
		return nil, x, err
	}
	at := x.ModifiedAt
	if modified != "" {
		t, err := parseModified(modified)
		if err != nil {
			return nil, x, err
		}
		at = t
	}
	doc, err := s.document(ctx, h, id, at)
	return doc, x, err
}

// FindDocumentByCACAOID is FindDocument by the playbook's CACAO id: the
// playbook of the actor's org with that id, else its first holder among
// those shared with the actor: the one the hub held first (created_at,
// then the hub's id). Only the holding org's writers change a playbook, so
// "the most recently changed" would let any org in a circle put its own
// document under another org's CACAO id in front of that org's, by
// importing (or re-importing) one with the same id; the first holder
// cannot be displaced that way. This is the rule internal/intel applies to
// STIX ids (firstHolder).
func (s *Service) FindDocumentByCACAOID(ctx context.Context, a policy.Actor, cacaoID, modified string) ([]byte, Playbook, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, Playbook{}, err
	}
	q := db.Q(`SELECT p.id FROM `).Append(r.From(s.playbooks, "p")).
		Add(` WHERE p.cacao_id = ? ORDER BY CASE WHEN p.org_id = ? THEN 0 ELSE 1 END, p.created_at, p.id LIMIT 1`, cacaoID, a.OrgID)
	var id string
	if err := h.SelectRow(ctx, q).Scan(&id); err != nil {
		return nil, Playbook{}, db.NotFound(err, "find playbook")
	}
	return s.FindDocument(ctx, a, id, modified)
}

func parseModified(s string) (int64, error) {
	pb := cacao.Playbook{Modified: s}
	t := pb.ModifiedTime()
	if t.IsZero() {
		return 0, fault.BadInput("modified", "playbook_bad_modified", "modified is a timestamp such as 2026-03-09T14:30:00.000Z")
	}
	return t.UnixMicro(), nil
}
