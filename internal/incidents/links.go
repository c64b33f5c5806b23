package incidents

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// MaxLinks bounds an incident's links to threat intelligence.
const MaxLinks = 50

// Link points from an incident to an indicator, observable or other
// object of the intelligence store (type "intel", the id of its page).
// A reader is shown only the links to objects they may see.
type Link struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	URL  string `json:"url,omitempty"`
}

// SetResolver gives the service the hub's way to name objects of other
// capabilities for a reader (web.Server.Resolve).
func (s *Service) SetResolver(fn func(ctx context.Context, a policy.Actor, typ string, ids []string) (map[string]web.Ref, error)) {
	s.resolve = fn
}

// checkLinks refuses links to anything but intelligence and to objects
// the writer cannot see (answered alike for objects that do not exist).
func (s *Service) checkLinks(ctx context.Context, a policy.Actor, in []Link) ([]Link, error) {
	if len(in) > MaxLinks {
		return nil, fault.BadInput("links", "too_many_incident_links", "an incident has at most {max} links").With("max", MaxLinks)
	}
	var out []Link
	var ids []string
	for _, l := range in {
		l.Type, l.ID = strings.TrimSpace(l.Type), strings.TrimSpace(l.ID)
		if l.Type == "" {
			l.Type = "intel"
		}
		if l.Type != "intel" {
			return nil, fault.BadInput("links", "bad_incident_link_type", `incidents link to threat intelligence only (type "intel"), not "{type}"`).With("type", l.Type)
		}
		if l.ID == "" || len(l.ID) > 100 {
			return nil, fault.BadInput("links", "incident_link_unknown", `there is no intelligence object "{id}" that you can see`).With("id", l.ID)
		}
		if !slices.Contains(ids, l.ID) {
			ids = append(ids, l.ID)
			out = append(out, Link{Type: l.Type, ID: l.ID})
		}
	}
	if s.resolve == nil || len(ids) == 0 {
		return out, nil
	}
	refs, err := s.resolve(ctx, a, "intel", ids)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, ok := refs[id]; !ok {
			return nil, fault.BadInput("links", "incident_link_unknown", `there is no intelligence object "{id}" that you can see`).With("id", id)
		}
	}
	return out, nil
}

// saveLinks replaces an incident's links.
func saveLinks(ctx context.Context, tx *db.Tx, incident string, links []Link) error {
	if _, err := tx.Exec(ctx, `DELETE FROM incident_links WHERE incident_id = ?`, incident); err != nil {
		return fmt.Errorf("replace links: %w", db.Map(err))
	}
	for _, l := range links {
		if _, err := tx.Exec(ctx, `INSERT INTO incident_links (incident_id, target_type, target_id) VALUES (?, ?, ?)`, incident, l.Type, l.ID); err != nil {
			return fmt.Errorf("save link: %w", db.Map(err))
		}
	}
	return nil
}

// links lists an incident's links to objects the reader may see, named
// as the intelligence store names them for the reader.
func (s *Service) links(ctx context.Context, h db.Handle, a policy.Actor, incident string) ([]Link, error) {
	rows, err := h.Query(ctx, `SELECT target_type, target_id FROM incident_links WHERE incident_id = ? ORDER BY target_id`, incident)
	if err != nil {
		return nil, fmt.Errorf("read links: %w", err)
	}
	all, err := db.Collect(rows, "read links", func(sc db.Scanner) (l Link, err error) { err = sc.Scan(&l.Type, &l.ID); return l, err })
	if err != nil || len(all) == 0 || s.resolve == nil {
		return nil, err
	}
	ids := make([]string, len(all))
	for i, l := range all {
		ids[i] = l.ID
	}
	refs, err := s.resolve(ctx, a, "intel", ids)
	if err != nil {
		return nil, err
	}
	var out []Link
	for _, l := range all {
		if ref, ok := refs[l.ID]; ok {
			l.Name, l.URL = ref.Name, ref.URL
			out = append(out, l)
		}
	}
	return out, nil
}

// linksChanged reports whether links differ from the incident's stored
// ones.
func linksChanged(ctx context.Context, h db.Handle, incident string, links []Link) (bool, error) {
	rows, err := h.Query(ctx, `SELECT target_id FROM incident_links WHERE incident_id = ?`, incident)
	if err != nil {
		return false, fmt.Errorf("read links: %w", err)
	}
	cur, err := db.Collect(rows, "read links", func(sc db.Scanner) (id string, err error) { err = sc.Scan(&id); return id, err })
	if err != nil {
		return false, err
	}
	if len(cur) != len(links) {
		return true, nil
	}
	for _, l := range links {
		if !slices.Contains(cur, l.ID) {
			return true, nil
		}
	}
	return false, nil
}

// hiddenLinks are the incident's links to objects the actor cannot see:
// an edit of the links keeps them, since an editor can neither see nor
// mean to remove them (attack review: a PATCH replaced every link).
// shown are the links the editor was shown (links, read before the
// edit's transaction: naming them reads through the pool); a link added
// since is kept as one they did not see.
func (s *Service) hiddenLinks(ctx context.Context, h db.Handle, incident string, shown []Link) ([]Link, error) {
	rows, err := h.Query(ctx, `SELECT target_type, target_id FROM incident_links WHERE incident_id = ? ORDER BY target_id`, incident)
	if err != nil {
		return nil, fmt.Errorf("read links: %w", err)
	}
	all, err := db.Collect(rows, "read links", func(sc db.Scanner) (l Link, err error) { err = sc.Scan(&l.Type, &l.ID); return l, err })
	if err != nil || s.resolve == nil {
		return nil, err
	}
	var out []Link
	for _, l := range all {
		if !slices.ContainsFunc(shown, func(x Link) bool { return x.Type == l.Type && x.ID == l.ID }) {
			out = append(out, l)
		}
	}
	return out, nil
}
