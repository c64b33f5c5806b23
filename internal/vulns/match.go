package vulns

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/notify"
	"verbund/internal/policy"
)

// Matching keeps vuln_matches current: an advisory that is new or has a
// new current version is matched against the assets of every org that
// may see it (matchAdvisories), and an org's changed inventory against
// every advisory the org may see (matchOrg). A match is the asset owner's
// data: it is written with the asset's org, read only by that org (and
// only with its advisory visible to the reader), and announced only to
// that org (live and by webhook). No org ever learns another's assets or
// matches.

// orgView is what an org as a whole may see: the view of a member nobody
// named, so TLP:RED and named-people audiences never match org-wide.
func orgView(ctx context.Context, h db.Handle, org string, now int64) (*policy.View, error) {
	v, err := policy.LoadView(ctx, h, policy.Actor{OrgID: org}, now)
	if err != nil {
		return nil, err
	}
	v.UserID = "org:" + org
	return v, nil
}

// affectedProducts lists the products of the advisories ids that a
// vulnerability names as affected or under investigation (every product
// of an advisory that gives no product status at all).
func affectedProducts(ctx context.Context, h db.Handle, ids []string) ([]ProductRef, error) {
	var out []ProductRef
	for start := 0; start < len(ids); start += 500 {
		part := ids[start:min(start+500, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		rows, err := h.Query(ctx, `SELECT p.advisory_id, p.product_id, p.vendor, p.product, p.version, p.version_range, p.cpe, p.purl FROM vuln_products p
			WHERE p.advisory_id IN (`+db.Placeholders(len(part))+`) AND (EXISTS (SELECT 1 FROM vuln_product_status s WHERE s.advisory_id = p.advisory_id AND s.product_id = p.product_id
			AND s.status IN ('known_affected', 'first_affected', 'last_affected', 'under_investigation'))
			OR NOT EXISTS (SELECT 1 FROM vuln_product_status s WHERE s.advisory_id = p.advisory_id))`, args...)
		if err != nil {
			return nil, fmt.Errorf("read affected products: %w", err)
		}
		ps, err := db.Collect(rows, "read affected products", func(r db.Scanner) (p ProductRef, err error) {
			err = r.Scan(&p.Advisory, &p.ID, &p.Vendor, &p.Product, &p.Version, &p.VersionRange, &p.CPE, &p.PURL)
			return p, err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

func orgAssets(ctx context.Context, h db.Handle, org string) ([]AssetRef, error) {
	rows, err := h.Query(ctx, `SELECT id, vendor, product, version, cpe, purl FROM vuln_assets WHERE org_id = ?`, org)
	if err != nil {
		return nil, fmt.Errorf("read assets: %w", err)
	}
	return db.Collect(rows, "read assets", func(r db.Scanner) (a AssetRef, err error) {
		err = r.Scan(&a.ID, &a.Vendor, &a.Product, &a.Version, &a.CPE, &a.PURL)
		return a, err
	})
}

// matchAdvisories matches the advisories ids (new, or with a new current
// version; a is the importer, who may see them) against the assets of
// every org that may see them.
func (s *Service) matchAdvisories(ctx context.Context, tx *db.Tx, a policy.Actor, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT org_id FROM vuln_assets`)
	if err != nil {
		return fmt.Errorf("orgs with assets: %w", err)
	}
	orgs, err := db.Collect(rows, "orgs with assets", func(r db.Scanner) (o string, err error) { return o, r.Scan(&o) })
	if err != nil || len(orgs) == 0 {
		return err
	}
	now := db.Now()
	r, err := policy.NewReader(ctx, tx.Handle, a, now)
	if err != nil {
		return err
	}
	envs := map[string]policy.Share{}
	for _, id := range ids {
		env, err := r.Envelope(ctx, tx.Handle, s.advisories, id)
		if err != nil {
			return fmt.Errorf("envelope of advisory %s: %w", id, err)
		}
		envs[id] = env
	}
	products, err := affectedProducts(ctx, tx.Handle, ids)
	if err != nil {
		return err
	}
	for _, org := range orgs {
		v, err := orgView(ctx, tx.Handle, org, now)
		if err != nil {
			return err
		}
		var seen []string
		for _, id := range ids {
			if v.CanSee(envs[id]) {
				seen = append(seen, id)
			}
		}
		var mine []ProductRef
		for _, p := range products {
			if slices.Contains(seen, p.Advisory) {
				mine = append(mine, p)
			}
		}
		assets, err := orgAssets(ctx, tx.Handle, org)
		if err != nil {
			return err
		}
		hits := NewIndex(assets).Match(mine)
		if _, err := s.saveMatches(ctx, tx, org, ids, hits, envs, now); err != nil {
			return err
		}
	}
	return nil
}

// matchOrg matches the actor's org's whole inventory against every
// advisory the actor may see; it returns how many matches are new.
func (s *Service) matchOrg(ctx context.Context, tx *db.Tx, a policy.Actor) (int, error) {
	now := db.Now()
	r, err := policy.NewReader(ctx, tx.Handle, a, now)
	if err != nil {
		return 0, err
	}
	q := db.Q(`SELECT ` + s.advisories.Columns("a") + ` FROM `).Append(r.From(s.advisories, "a"))
	rows, err := tx.Select(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("visible advisories: %w", err)
	}
	list, err := db.Collect(rows, "visible advisories", func(sc db.Scanner) (sh policy.Share, err error) {
		err = sc.Scan(s.advisories.Dest(&sh, nil)...)
		return sh, err
	})
	if err != nil {
		return 0, err
	}
	v, err := orgView(ctx, tx.Handle, a.OrgID, now)
	if err != nil {
		return 0, err
	}
	envs := map[string]policy.Share{}
	var ids []string
	for _, sh := range list {
		// The org-wide view decides (no audience lists are needed for
		// CLEAR, the org's own below RED, or a community; named orgs and
		// people are read for the rest).
		if sh.Audience.Kind == policy.AudOrgs || sh.Audience.Kind == policy.AudPeople {
			if err := r.Audiences(ctx, tx.Handle, []*policy.Share{&sh}); err != nil {
				return 0, err
			}
		}
		if v.CanSee(sh) {
			envs[sh.ID] = sh
			ids = append(ids, sh.ID)
		}
	}
	products, err := affectedProducts(ctx, tx.Handle, ids)
	if err != nil {
		return 0, err
	}
	assets, err := orgAssets(ctx, tx.Handle, a.OrgID)
	if err != nil {
		return 0, err
	}
	return s.saveMatches(ctx, tx, a.OrgID, nil, NewIndex(assets).Match(products), envs, now)
}

// saveMatches makes org's stored matches of the advisories ids (nil: of
// every advisory) equal to hits, and announces the new ones to org: live
// (to its members who may see the advisory) and by webhook.
func (s *Service) saveMatches(ctx context.Context, tx *db.Tx, org string, ids []string, hits []Hit, envs map[string]policy.Share, now int64) (int, error) {
	q := db.Q(`SELECT asset_id, advisory_id, product_id FROM vuln_matches WHERE org_id = ?`, org)
	if ids != nil {
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		q.Add(` AND advisory_id IN (`+db.Placeholders(len(ids))+`)`, args...)
	}
	rows, err := tx.Select(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("read matches: %w", err)
	}
	held, err := db.Collect(rows, "read matches", func(r db.Scanner) (k [3]string, err error) {
		err = r.Scan(&k[0], &k[1], &k[2])
		return k, err
	})
	if err != nil {
		return 0, err
	}
	want := map[[3]string]Hit{}
	for _, h := range hits {
		want[[3]string{h.Asset, h.Advisory, h.Product}] = h
	}
	for _, k := range held {
		if _, ok := want[k]; ok {
			delete(want, k) // held already: not new
			continue
		}
		if _, err := tx.Exec(ctx, `DELETE FROM vuln_matches WHERE asset_id = ? AND advisory_id = ? AND product_id = ?`, k[0], k[1], k[2]); err != nil {
			return 0, fmt.Errorf("drop match: %w", err)
		}
	}
	if len(want) == 0 {
		return 0, nil
	}
	var values []any
	byAdvisory := map[string][]string{} // advisory → assets newly matched
	for _, h := range want {
		values = append(values, org, h.Asset, h.Advisory, h.Product, h.By, now)
		if !slices.Contains(byAdvisory[h.Advisory], h.Asset) {
			byAdvisory[h.Advisory] = append(byAdvisory[h.Advisory], h.Asset)
		}
	}
	if err := tx.InsertMany(ctx, `vuln_matches (org_id, asset_id, advisory_id, product_id, matched_by, created_at)`, 6, values); err != nil {
		return 0, err
	}
	return len(want), s.announceMatches(ctx, tx, org, byAdvisory, envs)
}

// announceMatches tells org of new matches: a webhook event per advisory
// (its webhooks only: the event's envelope is the org's own) and, after
// the commit, a live event to the org's members who may see the advisory.
func (s *Service) announceMatches(ctx context.Context, tx *db.Tx, org string, byAdvisory map[string][]string, envs map[string]policy.Share) error {
	var evs []notify.Event
	var live []events.Event
	for adv, assets := range byAdvisory {
		var trackingID, title, severity, cves string
		var score float64
		if err := tx.QueryRow(ctx, `SELECT tracking_id, title, severity, score, cves FROM vuln_advisories WHERE id = ?`, adv).Scan(&trackingID, &title, &severity, &score, &cves); err != nil {
			return fmt.Errorf("announce match: %w", db.Map(err))
		}
		kev, err := kevCVEs(ctx, tx.Handle, strings.Fields(cves))
		if err != nil {
			return err
		}
		slices.Sort(assets)
		// The envelope of the notice is the org's own (AMBER, the org):
		// no other org's webhook may take it, whoever else sees the
		// advisory.
		own := policy.Share{Owner: org, Category: policy.Vulnerability, TLP: policy.Amber, Audience: policy.Audience{Kind: policy.AudOrg}}
		evs = append(evs, notify.Event{Type: EventMatch, Share: own, Severity: notifySeverity(severity), Data: map[string]any{
			"id": adv, "advisory_id": adv, "tracking_id": trackingID, "title": title, "severity": severity, "score": score,
			"known_exploited": len(kev) > 0, "asset_ids": assets}})
		env := envs[adv]
		live = append(live, events.Event{Type: "vulns.match", Share: &env, Orgs: []string{org}, Topics: []string{"vulns", "vulns.matches"},
			Data: map[string]string{"advisory": adv}})
	}
	if err := s.Notify.EnqueueAll(ctx, tx, evs); err != nil {
		return err
	}
	tx.AfterCommit(func() {
		for _, e := range live {
			s.Events.Publish(e)
		}
	})
	return nil
}

func notifySeverity(s string) notify.Severity {
	switch s {
	case "CRITICAL":
		return notify.Critical
	case "HIGH":
		return notify.High
	case "MEDIUM":
		return notify.Medium
	case "LOW":
		return notify.Low
	}
	return notify.SeverityNone
}

// kevCVEs returns the catalogue's entries among cves.
func kevCVEs(ctx context.Context, h db.Handle, cves []string) ([]KEVEntry, error) {
	if len(cves) == 0 {
		return nil, nil
	}
	args := make([]any, len(cves))
	for i, c := range cves {
		args[i] = c
	}
	rows, err := h.Query(ctx, `SELECT cve, due_date FROM vuln_kev WHERE cve IN (`+db.Placeholders(len(cves))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("look up KEV: %w", err)
	}
	return db.Collect(rows, "look up KEV", func(r db.Scanner) (e KEVEntry, err error) {
		err = r.Scan(&e.CVE, &e.DueDate)
		return e, err
	})
}
