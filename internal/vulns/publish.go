package vulns

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"verbund/internal/audit"
	"verbund/internal/csaf"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Publishing: an org makes advisories it owns available as a CSAF 2.0
// trusted provider (provider.go serves them). Publishing is explicit and
// audited; it fixes the version served, its file name, digests and
// signature. Who may read a published advisory is still its envelope:
// the provider serves it under the feed of its TLP label, to everyone for
// WHITE and through the kernel's reader for the others.

// Publication is a published advisory as its org sees it.
type Publication struct {
	AdvisoryID  string `json:"advisory_id"`
	TrackingID  string `json:"tracking_id"`
	Version     string `json:"version"`
	Label       string `json:"tlp_label"`
	URL         string `json:"url"`
	PublishedAt int64  `json:"published_at"`
}

// Provider is an org's CSAF provider: its handle in the provider's
// addresses, its OpenPGP key's fingerprint and its published advisories.
type Provider struct {
	Slug         string        `json:"slug"`
	URL          string        `json:"provider_metadata_url"`
	Fingerprint  string        `json:"fingerprint"`
	Publications []Publication `json:"publications"`
}

// ProviderConfig says how the provider names itself: BaseURL is the hub's
// external address (https://…, no trailing slash; serve sets it from
// --base-url or its listener) and WellKnown the org (id or exact name;
// ResolveWellKnown fixes it to the id) that also answers at
// /.well-known/csaf/.
type ProviderConfig struct {
	BaseURL   string
	WellKnown string
}

// Publish publishes the newest version of advisory id of the actor's org
// (again, if it was published: the newest version replaces the one
// served). The document must be valid CSAF 2.0 with a TLP label, and its
// envelope's level must be that label (CLEAR for WHITE): the feed a
// document is listed in and who may read it must agree. AMBER+STRICT is
// not published (CSAF 2.0 has no such label).
func (s *Service) Publish(ctx context.Context, a policy.Actor, id string) (Publication, error) {
	var p Publication
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		own, err := s.advisories.Authorize(ctx, tx, a, id)
		if err != nil {
			return err
		}
		var version, raw string
		if err := tx.QueryRow(ctx, `SELECT a.version, v.document FROM vuln_advisories a
			JOIN vuln_advisory_versions v ON v.advisory_id = a.id AND v.version = a.version WHERE a.id = ?`, id).Scan(&version, &raw); err != nil {
			return db.NotFound(err, "load advisory")
		}
		doc, err := csaf.Parse([]byte(raw))
		if err != nil {
			var pr *csaf.Problem
			if errors.As(err, &pr) {
				return fault.BadInput("document", "publish_invalid", "the advisory is not valid CSAF 2.0 and cannot be published: {reason}").With("reason", pr.Message)
			}
			return err
		}
		label, err := publishLabel(doc.TLP, own.TLP)
		if err != nil {
			return err
		}
		prov, err := s.ensureProvider(ctx, tx, a.OrgID)
		if err != nil {
			return err
		}
		if err := s.checkPublisher(ctx, tx.Handle, a.OrgID, prov.slug, doc.Publisher, doc.Namespace); err != nil {
			return err
		}
		if err := claimNamespace(ctx, tx, a.OrgID, doc.Namespace, namespaceTaken(doc.Namespace, s.providerBase(ctx, prov.slug))); err != nil {
			return err
		}
		sig, err := csaf.Sign([]byte(prov.private), doc.Raw)
		if err != nil {
			return err
		}
		s512 := sha512.Sum512(doc.Raw)
		s256 := sha256.Sum256(doc.Raw)
		name := csaf.FileName(doc.TrackingID)
		var other string
		switch err := tx.QueryRow(ctx, `SELECT advisory_id FROM csaf_publications WHERE org_id = ? AND filename = ? AND advisory_id <> ?`, a.OrgID, name, id).Scan(&other); {
		case err == nil:
			return fault.BadInput("document", "publish_name_taken", "another published advisory of your organisation has the file name {name}").With("name", name)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("check file name: %w", err)
		}
		now := db.Now()
		if _, err := tx.Exec(ctx, `DELETE FROM csaf_publications WHERE advisory_id = ?`, id); err != nil {
			return fmt.Errorf("replace publication: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO csaf_publications (advisory_id, org_id, version, label, filename, year, title, publisher,
			publisher_cat, namespace, initial_release, current_release, sha256, sha512, signature, published_by, published_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, a.OrgID, version, label, name, doc.InitialRelease.UTC().Year(), doc.Title, doc.Publisher, doc.PublisherCat, doc.Namespace,
			doc.InitialRelease.UTC().Format(time.RFC3339Nano), doc.CurrentRelease.UTC().Format(time.RFC3339Nano),
			hex.EncodeToString(s256[:]), hex.EncodeToString(s512[:]), string(sig), a.UserID, now); err != nil {
			return fmt.Errorf("save publication: %w", err)
		}
		p = Publication{AdvisoryID: id, TrackingID: doc.TrackingID, Version: version, Label: label, PublishedAt: now,
			URL: s.documentURL(ctx, prov.slug, label, doc.InitialRelease.UTC().Year(), name)}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "vulns.advisory.publish", ObjectType: "vuln_advisory", ObjectID: id,
			Detail:  map[string]any{"tracking_id": doc.TrackingID, "version": version, "tlp": label, "file": name, "provider": prov.slug},
			Touches: []string{"vulns", "vuln_advisory:" + id}})
	})
	return p, err
}

// publishLabel is the CSAF label a document marked docLabel and shared at
// level env is published under, or why it is not published.
func publishLabel(docLabel string, env policy.TLP) (string, error) {
	want, ok := envLabel(env)
	if !ok {
		return "", fault.BadInput("tlp", "publish_amber_strict", "TLP:AMBER+STRICT has no CSAF 2.0 label: the hub does not publish it; share the advisory at another level first")
	}
	got, _ := csaf.Label(docLabel)
	if got == "" {
		return "", fault.BadInput("document", "publish_no_tlp", "the document has no TLP label (document.distribution.tlp.label): a provider lists every document under the feed of its label")
	}
	if got != want {
		return "", fault.BadInput("tlp", "publish_tlp_mismatch", "the document is marked TLP:{label} but shared as {tlp}: share it at the level of its label to publish it").
			With("label", got).With("tlp", env.String())
	}
	return want, nil
}

// envLabel is the CSAF 2.0 label of an envelope's level (CLEAR is WHITE);
// AMBER+STRICT has none.
func envLabel(l policy.TLP) (string, bool) {
	switch l {
	case policy.Clear:
		return "WHITE", true
	case policy.Green:
		return "GREEN", true
	case policy.Amber:
		return "AMBER", true
	case policy.Red:
		return "RED", true
	}
	return "", false
}

// Unpublish takes advisory id of the actor's org off its provider. The
// advisory stays as it is.
func (s *Service) Unpublish(ctx context.Context, a policy.Actor, id string) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := s.advisories.Authorize(ctx, tx, a, id); err != nil {
			return err
		}
		var name, label string
		if err := tx.QueryRow(ctx, `SELECT filename, label FROM csaf_publications WHERE advisory_id = ?`, id).Scan(&name, &label); err != nil {
			return db.NotFound(err, "load publication")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM csaf_publications WHERE advisory_id = ?`, id); err != nil {
			return fmt.Errorf("unpublish: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "vulns.advisory.unpublish", ObjectType: "vuln_advisory", ObjectID: id,
			Detail: map[string]any{"file": name, "tlp": label}, Touches: []string{"vulns", "vuln_advisory:" + id}})
	})
}

// provider is an org's provider row.
type provider struct {
	org, slug, fingerprint, public, private string
}

// ensureProvider returns the org's provider, making it (its handle and
// its OpenPGP key, once) when the org first publishes.
func (s *Service) ensureProvider(ctx context.Context, tx *db.Tx, org string) (provider, error) {
	p := provider{org: org}
	err := tx.QueryRow(ctx, `SELECT slug, fingerprint, public_key, private_key FROM csaf_providers WHERE org_id = ?`, org).
		Scan(&p.slug, &p.fingerprint, &p.public, &p.private)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("load provider: %w", err)
	}
	var name, contact string
	if err := tx.QueryRow(ctx, `SELECT name, security_contact FROM orgs WHERE id = ?`, org).Scan(&name, &contact); err != nil {
		return p, fmt.Errorf("load org: %w", db.Map(err))
	}
	if p.slug, err = freeSlug(ctx, tx.Handle, name); err != nil {
		return p, err
	}
	key, err := csaf.NewSigningKey(name, contact, time.Now())
	if err != nil {
		return p, err
	}
	p.fingerprint, p.public, p.private = key.Fingerprint, string(key.Public), string(key.Private)
	if _, err := tx.Exec(ctx, `INSERT INTO csaf_providers (org_id, slug, fingerprint, public_key, private_key, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		org, p.slug, p.fingerprint, p.public, p.private, db.Now()); err != nil {
		return p, fmt.Errorf("save provider: %w", err)
	}
	return p, nil
}

// freeSlug is the handle a new provider of the org named name gets: its
// Slug, with -2, -3 … when another org's provider has it (first come).
func freeSlug(ctx context.Context, q db.Handle, name string) (string, error) {
	base := Slug(name)
	slug := base
	for n := 2; ; n++ {
		var taken int
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM csaf_providers WHERE slug = ?`, slug).Scan(&taken); err != nil {
			return "", fmt.Errorf("check provider handle: %w", err)
		}
		if taken == 0 {
			return slug, nil
		}
		slug = fmt.Sprintf("%s-%d", base, n)
	}
}

// providerSlug is the org's provider handle, or the one its provider
// would get now.
func providerSlug(ctx context.Context, q db.Handle, org, name string) (string, error) {
	var slug string
	err := q.QueryRow(ctx, `SELECT slug FROM csaf_providers WHERE org_id = ?`, org).Scan(&slug)
	if errors.Is(err, sql.ErrNoRows) {
		return freeSlug(ctx, q, name)
	}
	if err != nil {
		return "", fmt.Errorf("load provider: %w", err)
	}
	return slug, nil
}

// Slug is an org's handle in its provider's addresses: its name in lower
// case ASCII, umlauts spelled out, other runs of characters a hyphen
// ("Wolke Cloud AG" → "wolke-cloud-ag").
func Slug(name string) string {
	r := strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "Ä", "ae", "Ö", "oe", "Ü", "ue")
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(r.Replace(name)) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(c)
			dash = false
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "org"
	}
	return b.String()
}

// FindProvider is the provider of the actor's org with its publications
// (not found while the org has published nothing).
func (s *Service) FindProvider(ctx context.Context, a policy.Actor) (Provider, error) {
	h := s.DB.R()
	var p Provider
	if err := h.QueryRow(ctx, `SELECT slug, fingerprint FROM csaf_providers WHERE org_id = ?`, a.OrgID).Scan(&p.Slug, &p.Fingerprint); err != nil {
		return p, db.NotFound(err, "load provider")
	}
	p.URL = s.providerBase(ctx, p.Slug) + "/provider-metadata.json"
	// Only what the reader may see of its own org's advisories: a RED
	// one is its author's and named people's.
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return p, err
	}
	rows, err := h.Select(ctx, db.Q(`SELECT p.advisory_id, a.tracking_id, p.version, p.label, p.year, p.filename, p.published_at FROM `).
		Append(r.From(s.advisories, "a")).Add(` JOIN csaf_publications p ON p.advisory_id = a.id WHERE p.org_id = ? ORDER BY p.published_at DESC, p.advisory_id`, a.OrgID))
	if err != nil {
		return p, fmt.Errorf("list publications: %w", err)
	}
	p.Publications, err = db.Collect(rows, "publications", func(r db.Scanner) (x Publication, err error) {
		var year int
		var name string
		err = r.Scan(&x.AdvisoryID, &x.TrackingID, &x.Version, &x.Label, &year, &name, &x.PublishedAt)
		x.URL = s.documentURL(ctx, p.Slug, x.Label, year, name)
		return x, err
	})
	return p, err
}

// published is the publication of advisory id, if any (for its page).
func (s *Service) published(ctx context.Context, id string) (Publication, bool, error) {
	var x Publication
	var year int
	var name, slug string
	err := s.DB.R().QueryRow(ctx, `SELECT p.version, p.label, p.year, p.filename, p.published_at, c.slug FROM csaf_publications p
		JOIN csaf_providers c ON c.org_id = p.org_id WHERE p.advisory_id = ?`, id).Scan(&x.Version, &x.Label, &year, &name, &x.PublishedAt, &slug)
	if errors.Is(err, sql.ErrNoRows) {
		return x, false, nil
	}
	if err != nil {
		return x, false, fmt.Errorf("load publication: %w", err)
	}
	x.AdvisoryID, x.URL = id, s.documentURL(ctx, slug, x.Label, year, name)
	return x, true, nil
}
