package knowledge

import (
	"context"
	"fmt"
	"sort"

	"verbund/internal/db"
	"verbund/internal/policy"
)

// OrgReads is how often the readers of one org opened an article.
type OrgReads struct {
	OrgID   string `json:"org_id,omitempty"`
	OrgName string `json:"org_name,omitempty"`
	Reads   int64  `json:"reads"`
}

// Reads is what a reader may know of how often an article was opened:
// per org, never per person. The owner org sees every org its people may
// know of by name (the others together, as Others); any other reader sees
// its own org's count only.
type Reads struct {
	Orgs   []OrgReads `json:"orgs"`
	Others int64      `json:"other_orgs,omitempty"`
	Total  int64      `json:"total,omitempty"` // owner only
}

// CountRead counts one opening of an article by the reader's org. It is
// bookkeeping (like a token's last use): no audit record, and a failure
// is only logged by the caller, never shown to the reader.
func (s *Service) CountRead(ctx context.Context, a policy.Actor, id string) error {
	if a.OrgID == "" {
		return nil
	}
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		tx.Bookkeeping()
		now := db.Now()
		if _, err := tx.Exec(ctx, `INSERT INTO article_reads (article_id, org_id, reads, last_at) VALUES (?, ?, 1, ?)
			ON CONFLICT (article_id, org_id) DO UPDATE SET reads = article_reads.reads + 1, last_at = excluded.last_at`, id, a.OrgID, now); err != nil {
			return fmt.Errorf("count read: %w", err)
		}
		return nil
	})
}

// FindReads returns what the reader may know of how often article id
// (which the reader must see, else not found) was opened.
func (s *Service) FindReads(ctx context.Context, a policy.Actor, id string) (Reads, error) {
	sh, err := s.visible(ctx, a, id)
	if err != nil {
		return Reads{}, err
	}
	h := s.DB.R()
	out := Reads{Orgs: []OrgReads{}}
	if sh.Owner != a.OrgID {
		var n int64
		err := h.QueryRow(ctx, `SELECT COALESCE(SUM(reads), 0) FROM article_reads WHERE article_id = ? AND org_id = ?`, id, a.OrgID).Scan(&n)
		if err != nil {
			return out, fmt.Errorf("read counts: %w", db.Map(err))
		}
		var name string
		if err := h.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, a.OrgID).Scan(&name); err != nil {
			return out, fmt.Errorf("read counts: %w", db.Map(err))
		}
		out.Orgs = append(out.Orgs, OrgReads{OrgID: a.OrgID, OrgName: name, Reads: n})
		return out, nil
	}
	v, err := policy.LoadView(ctx, h, a, db.Now())
	if err != nil {
		return out, err
	}
	rows, err := h.Query(ctx, `SELECT r.org_id, o.name, r.reads FROM article_reads r JOIN orgs o ON o.id = r.org_id WHERE r.article_id = ?`, id)
	if err != nil {
		return out, fmt.Errorf("read counts: %w", err)
	}
	all, err := db.Collect(rows, "read counts", func(sc db.Scanner) (r OrgReads, err error) {
		err = sc.Scan(&r.OrgID, &r.OrgName, &r.Reads)
		return r, err
	})
	if err != nil {
		return out, err
	}
	// With named people as the audience, another org's count would be its
	// named person's own (a read receipt, attack review): the owner sees
	// its own org's count only.
	people := sh.Audience.Kind == policy.AudPeople
	for _, r := range all {
		if people && r.OrgID != a.OrgID {
			continue
		}
		out.Total += r.Reads
		if v.Knows(r.OrgID) {
			out.Orgs = append(out.Orgs, r)
		} else {
			out.Others += r.Reads
		}
	}
	sort.Slice(out.Orgs, func(i, j int) bool {
		if out.Orgs[i].Reads != out.Orgs[j].Reads {
			return out.Orgs[i].Reads > out.Orgs[j].Reads
		}
		return out.Orgs[i].OrgName < out.Orgs[j].OrgName
	})
	return out, nil
}
