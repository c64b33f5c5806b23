package incidents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Evidence is a file added to an incident, without its content: a
// shareable object in its incident (kind "incident_evidence") whose level
// may only be stricter than the incident's.
type Evidence struct {
	ID         string       `json:"id"`
	IncidentID string       `json:"incident_id"`
	Name       string       `json:"name"`
	MediaType  string       `json:"media_type"`
	Size       int64        `json:"size"`
	SHA256     string       `json:"sha256"`
	AddedBy    string       `json:"added_by_name"`
	OrgName    string       `json:"org_name"`
	AddedAt    int64        `json:"added_at"`
	Share      policy.Share `json:"sharing"`
}

// cleanName keeps the last element of a file name, without control
// characters or quotes: a name shown and offered as a download's file
// name, never used as a path.
func cleanName(n string) (string, error) {
	n = strings.ReplaceAll(n, `\`, "/")
	n = path.Base(strings.TrimSpace(n))
	n = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '"' || r == '/' {
			return -1
		}
		return r
	}, n)
	n = strings.TrimSpace(n)
	if n == "" || n == "." || n == ".." || !utf8.ValidString(n) {
		return "", fault.BadInput("file", "evidence_name", "the file needs a name")
	}
	if utf8.RuneCountInString(n) > MaxFileName {
		r := []rune(n)
		ext := path.Ext(n)
		n = string(r[:MaxFileName-utf8.RuneCountInString(ext)]) + ext
	}
	return n, nil
}

// mediaType keeps a declared media type when it parses (shown only:
// downloads are always application/octet-stream).
func mediaType(t string) string {
	mt, _, err := mime.ParseMediaType(t)
	if err != nil || len(mt) > 100 {
		return "application/octet-stream"
	}
	return mt
}

// AddEvidence stores a file (at most MaxEvidence bytes) with an incident
// the actor's org takes part in, with its SHA-256; sharing "" inherits the
// incident's level and audience, and anything wider is refused. An empty
// or oversized file stores nothing.
func (s *Service) AddEvidence(ctx context.Context, a policy.Actor, incidentID, name, media string, sharing policy.Sharing, content io.Reader) (Evidence, error) {
	if !a.CanWrite() {
		return Evidence{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	name, err := cleanName(name)
	if err != nil {
		return Evidence{}, err
	}
	b, err := io.ReadAll(io.LimitReader(content, MaxEvidence+1))
	if err != nil {
		return Evidence{}, fault.Wrap(fault.Invalid, "evidence_unreadable", "the file could not be read", err)
	}
	if len(b) == 0 {
		return Evidence{}, fault.BadInput("file", "evidence_empty", "the file is empty")
	}
	if len(b) > MaxEvidence {
		return Evidence{}, fault.New(fault.TooLarge, "evidence_too_large", "the file is larger than {max} MB").With("max", MaxEvidence>>20)
	}
	sum := sha256.Sum256(b)
	ev := Evidence{IncidentID: incidentID, Name: name, MediaType: mediaType(media), Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:]), AddedBy: a.Name}
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		inc, err := s.load(ctx, tx.Handle, r, incidentID)
		if err != nil {
			return err
		}
		if err := writable(inc); err != nil {
			return err
		}
		if role, err := s.roleOf(ctx, tx.Handle, incidentID, a.OrgID); err != nil {
			return err
		} else if role == "" {
			return fault.New(fault.Forbidden, "not_participant", "only organisations that take part in the incident may add tasks and evidence")
		}
		var n int
		// Counted per org, as tasks are.
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM incident_evidence WHERE incident_id = ? AND org_id = ?`, incidentID, a.OrgID).Scan(&n); err != nil {
			return fmt.Errorf("count evidence: %w", db.Map(err))
		}
		if n >= MaxEvidenceN {
			return fault.BadInput("file", "too_much_evidence", "your organisation has added {max} files to this incident, the most it may").With("max", MaxEvidenceN)
		}
		tlp, aud, err := s.inherited(ctx, tx.Handle, a, sharing, inc.Share)
		if err != nil {
			return err
		}
		sh := s.evidence.Envelope(a, tlp, aud)
		sh.Container = incidentID
		d, err := s.evidence.Disclose(ctx, tx, a, sh)
		if err != nil {
			return err
		}
		ev.ID, ev.Share, ev.AddedAt = sh.ID, d.Share, sh.CreatedAt
		if _, err := tx.Exec(ctx, `INSERT INTO incident_evidence (id, incident_id, org_id, name, media_type, size, sha256, content, added_by, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ev.ID, incidentID, a.OrgID, ev.Name, ev.MediaType, ev.Size, ev.SHA256, b, a.UserID, ev.AddedAt); err != nil {
			return fmt.Errorf("insert evidence: %w", db.Map(err))
		}
		if err := tx.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, a.OrgID).Scan(&ev.OrgName); err != nil {
			return fmt.Errorf("name org: %w", db.Map(err))
		}
		if err := s.touchParticipant(ctx, tx, incidentID, a.OrgID, ev.AddedAt); err != nil {
			return err
		}
		// The event says a file came, not its name: names are the
		// file's content as far as notifications go.
		if err := s.emit(ctx, tx, a.UserID, EventUpdated, inc, &ev.Share, ""); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.evidence.add", ObjectType: "incident_evidence", ObjectID: ev.ID,
			Orgs: []string{inc.Share.Owner}, Detail: map[string]any{"incident": incidentID, "size": ev.Size, "sha256": ev.SHA256, "sharing": d.Detail()},
			Touches: touches(incidentID)})
	})
	return ev, err
}

func (s *Service) evidenceQuery(r *policy.Reader, content bool) *db.Query {
	cols := `e.incident_id, e.name, e.media_type, e.size, e.sha256, u.name, o.name, e.added_at, `
	if content {
		cols += `e.content, `
	}
	return db.Q(`SELECT ` + cols + s.evidence.Columns("e") + ` FROM `).Append(r.FromIn(s.evidence, "e", "ei")).
		Add(` JOIN users u ON u.id = e.added_by JOIN orgs o ON o.id = e.org_id WHERE `)
}

func (s *Service) scanEvidence(sc db.Scanner, content *[]byte) (Evidence, error) {
	var ev Evidence
	dest := []any{&ev.IncidentID, &ev.Name, &ev.MediaType, &ev.Size, &ev.SHA256, &ev.AddedBy, &ev.OrgName, &ev.AddedAt}
	if content != nil {
		dest = append(dest, content)
	}
	err := sc.Scan(s.evidence.Dest(&ev.Share, dest)...)
	ev.ID = ev.Share.ID
	return ev, err
}

// FindEvidence lists the files of an incident the reader may see (else
// not found): those whose own envelope the reader may see too.
func (s *Service) FindEvidence(ctx context.Context, a policy.Actor, incidentID string) ([]Evidence, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	if _, err := r.Envelope(ctx, h, s.incidents, incidentID); err != nil {
		return nil, err
	}
	rows, err := h.Select(ctx, s.evidenceQuery(r, false).Add(`e.incident_id = ? ORDER BY e.id LIMIT 500`, incidentID))
	if err != nil {
		return nil, fmt.Errorf("list evidence: %w", err)
	}
	out, err := db.Collect(rows, "list evidence", func(sc db.Scanner) (Evidence, error) { return s.scanEvidence(sc, nil) })
	if err != nil {
		return nil, err
	}
	shares := make([]*policy.Share, len(out))
	for i := range out {
		shares[i] = &out[i].Share
	}
	return out, r.Audiences(ctx, h, shares)
}

// FindEvidenceFile returns a file with its content if the reader may see
// it and its incident (else not found, as for a file of another incident).
func (s *Service) FindEvidenceFile(ctx context.Context, a policy.Actor, incidentID, id string) (Evidence, []byte, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Evidence{}, nil, err
	}
	var content []byte
	ev, err := s.scanEvidence(h.SelectRow(ctx, s.evidenceQuery(r, true).Add(`e.id = ? AND e.incident_id = ?`, id, incidentID)), &content)
	if err != nil {
		return ev, nil, db.NotFound(err, "load evidence")
	}
	return ev, content, nil
}
