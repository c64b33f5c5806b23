package vulns

import (
	"context"
	"crypto/sha512"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"verbund/internal/audit"
	"verbund/internal/csaf"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Input is one CSAF document to import, with the digests published beside
// it (a provider's .sha256 and .sha512 files), if any.
type Input struct {
	Name   string
	Data   []byte
	SHA256 string // expected hex digest, "" if none was given
	SHA512 string
	// Signature is the detached armored OpenPGP signature (.asc) published
	// beside it, if any; checked when ImportOptions.Keys are given.
	Signature []byte
}

// ImportOptions says how imported advisories are shared.
type ImportOptions struct {
	// TLP is the least level: a document marked less strictly (or not at
	// all) gets this one; a stricter marking is kept. "" keeps the
	// document's (AMBER for a document without a marking). An importer
	// may restrict what the publisher marked, never loosen it.
	TLP string
	// Sharing is the audience (its TLP is ignored); "" audience: the org.
	Sharing policy.Sharing
	Via     string
	// Keys are the provider's OpenPGP public keys: a document with a
	// signature (.asc) that does not verify with them is refused. nil:
	// signatures are not checked.
	Keys csaf.Keys
	// Progress, if set, is told how many documents have been handled.
	Progress func(done int)
}

// Report is what an import did: exactly the JSON of `verbund vulns import
// --json` and of the API.
type Report struct {
	Documents struct {
		Imported int `json:"imported"`
		Rejected int `json:"rejected"`
	} `json:"documents"`
	Vulnerabilities int         `json:"vulnerabilities"`
	Products        int         `json:"products"`
	Errors          []ItemError `json:"errors"`
	// Advisories are the ids of the advisories the import wrote or found
	// unchanged, in the order of the inputs.
	Advisories []string `json:"-"`
}

// ItemError is why one document was refused.
type ItemError struct {
	File    string `json:"file"`
	Code    string `json:"code"`
	Message string `json:"message"` // English, for the API and the CLI
	// Detail (vulns.reject_detail.<Detail>, one of RejectDetails) with
	// Got, Want and Subject is Message as a page says it in its
	// language; "" when the page says only the Code's text.
	Detail    string `json:"-"`
	Got, Want string `json:"-"`
	Subject   string `json:"-"`
}

// FileParts is File cut after each slash: the page lets a long path
// wrap there (<wbr>) rather than anywhere.
func (e ItemError) FileParts() []string { return strings.SplitAfter(e.File, "/") }

// batch is how many documents share one transaction: a commit per
// document would bound an import by the disk's syncs.
const batch = 64

type parsed struct {
	in  Input
	doc *csaf.Document
	err *ItemError
}

// Import checks each document (internal/csaf: size, JSON, CSAF 2.0 schema
// and rules, CVSS vectors; the digests given beside it) and stores those
// that pass as the actor's org's advisories. A refused document leaves
// nothing behind and is listed in the report; the others are imported.
// A document whose advisory the org already holds adds its version (the
// newest version's products and vulnerabilities are the advisory's); the
// same version again is left as it is; the same version with other
// content is refused. New advisories are matched against the assets of
// every org that may see them.
func (s *Service) Import(ctx context.Context, a policy.Actor, inputs []Input, opts ImportOptions) (Report, error) {
	rep := Report{Errors: []ItemError{}}
	if !a.CanWrite() || a.OrgID == "" {
		return rep, fault.New(fault.Forbidden, "forbidden", "only analysts and admins of an organisation import advisories")
	}
	least, aud, err := policy.ImportSharing(opts.TLP, opts.Sharing)
	if err != nil {
		return rep, err
	}
	docs := parseAll(inputs, opts.Keys)
	done := 0
	for start := 0; start < len(docs); start += batch {
		part := docs[start:min(start+batch, len(docs))]
		var ok []*parsed
		for _, p := range part {
			if p.err != nil {
				rep.Documents.Rejected++
				rep.Errors = append(rep.Errors, *p.err)
				continue
			}
			ok = append(ok, p)
		}
		written, refused, err := s.store(ctx, a, ok, least, aud)
		if err != nil {
			return rep, err
		}
		for _, p := range ok {
			if e, bad := refused[p]; bad {
				rep.Documents.Rejected++
				rep.Errors = append(rep.Errors, e)
				continue
			}
			rep.Documents.Imported++
			rep.Vulnerabilities += len(p.doc.Vulns)
			rep.Products += len(p.doc.Products)
			rep.Advisories = append(rep.Advisories, written[p])
		}
		done += len(part)
		if opts.Progress != nil {
			opts.Progress(done)
		}
	}
	return rep, nil
}

// parseAll checks the documents on every core; the result keeps the
// inputs' order.
func parseAll(inputs []Input, keys csaf.Keys) []*parsed {
	out := make([]*parsed, len(inputs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for i := range next {
				out[i] = parseOne(inputs[i], keys)
			}
		})
	}
	for i := range inputs {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func parseOne(in Input, keys csaf.Keys) *parsed {
	p := &parsed{in: in}
	refuse := func(code, msg string) *parsed {
		p.err = &ItemError{File: in.Name, Code: code, Message: msg}
		return p
	}
	doc, err := csaf.Parse(in.Data)
	if err != nil {
		var pr *csaf.Problem
		if errors.As(err, &pr) {
			refuse(pr.Code, pr.Message)
			p.err.Detail, p.err.Got, p.err.Want = pr.Detail, pr.Got, pr.Want
			return p
		}
		return refuse("invalid", err.Error())
	}
	if want := strings.ToLower(strings.TrimSpace(in.SHA256)); want != "" && want != doc.SHA256 {
		refuse("hash_mismatch", fmt.Sprintf("the SHA-256 of the document is %s, the .sha256 file says %s", doc.SHA256, want))
		p.err.Detail, p.err.Got, p.err.Want = "sha256", doc.SHA256, want
		return p
	}
	if want := strings.ToLower(strings.TrimSpace(in.SHA512)); want != "" {
		sum := sha512.Sum512(in.Data)
		if got := hex.EncodeToString(sum[:]); got != want {
			refuse("hash_mismatch", fmt.Sprintf("the SHA-512 of the document is %s, the .sha512 file says %s", got, want))
			p.err.Detail, p.err.Got, p.err.Want = "sha512", got, want
			return p
		}
	}
	if keys != nil && len(in.Signature) > 0 {
		if err := csaf.Verify(keys, in.Data, in.Signature); err != nil {
			return refuse("bad_signature", err.Error())
		}
	}
	if _, err := csaf.TLPLevel(doc.TLP); err != nil {
		return refuse("invalid", err.Error())
	}
	p.doc = doc
	return p
}

// level is the TLP an advisory is shared at: the document's (WHITE is
// CLEAR), raised to least; AMBER for a document without a marking.
func level(doc *csaf.Document, least policy.TLP) policy.TLP {
	name, _ := csaf.TLPLevel(doc.TLP)
	l := policy.Amber
	if name != "" {
		l, _ = policy.ParseTLP(name)
	} else if least >= 0 {
		l = least
	}
	return max(l, least)
}

// held is an advisory the org holds, as the store needs it.
type held struct {
	id      string
	current int64 // current_release of its newest version
	created bool  // created in this transaction
	// versions are those this transaction stores: version → SHA-256.
	versions map[string]string
	// tlp and aud are an existing advisory's envelope.
	tlp policy.TLP
	aud policy.Audience
}

// store writes one batch of checked documents in one transaction. It
// returns the advisory of each written document and the documents
// refused for what the database holds (a version with other content).
func (s *Service) store(ctx context.Context, a policy.Actor, docs []*parsed, least policy.TLP, aud policy.Audience) (map[*parsed]string, map[*parsed]ItemError, error) {
	if len(docs) == 0 {
		return nil, nil, nil
	}
	// Older versions first, so that the newest of one import ends as the
	// advisory's current version.
	ordered := slices.Clone(docs)
	slices.SortStableFunc(ordered, func(x, y *parsed) int { return x.doc.CurrentRelease.Compare(y.doc.CurrentRelease) })
	var written map[*parsed]string
	var refused map[*parsed]ItemError
	var announce []policy.Share
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		written, refused, announce = map[*parsed]string{}, map[*parsed]ItemError{}, nil
		advs := map[string]*held{} // namespace + "\x00" + tracking id
		type todo struct {
			p       *parsed
			adv     *held
			current bool // the document is the advisory's newest version
		}
		var work []todo
		var fresh []policy.Share
		var narrowed []string // existing advisories a new version narrowed
		for _, p := range ordered {
			d := p.doc
			key := d.Namespace + "\x00" + d.TrackingID
			h, ok := advs[key]
			if !ok {
				h = &held{versions: map[string]string{}}
				err := tx.QueryRow(ctx, `SELECT id, current_release FROM vuln_advisories WHERE org_id = ? AND namespace = ? AND tracking_id = ?`,
					a.OrgID, d.Namespace, d.TrackingID).Scan(&h.id, &h.current)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("find advisory %s: %w", d.TrackingID, db.Map(err))
				}
				if h.id != "" {
					owned, err := s.advisories.Authorize(ctx, tx, a, h.id)
					if e, ok := fault.As(err); ok && e.Kind != fault.Internal {
						// The org's advisory, but not for this person to
						// change (TLP:RED of a colleague): this document
						// waits for someone who may.
						refused[p] = ItemError{File: p.in.Name, Code: "sharing", Message: fmt.Sprintf("%s: %s", d.TrackingID, e.Message)}
						continue
					}
					if err != nil {
						return err
					}
					h.tlp, h.aud = owned.TLP, owned.Audience
				}
				if h.id == "" {
					// A level the audience does not allow (a TLP:RED
					// document for the whole org) refuses this document
					// alone, not the others disclosed with it.
					l := level(d, least)
					if err := policy.ValidateAudience(l, aud); err != nil {
						msg := err.Error()
						if e, ok := fault.As(err); ok {
							msg = e.Message
						}
						refused[p] = ItemError{File: p.in.Name, Code: "sharing", Message: fmt.Sprintf("%s is %s: %s", d.TrackingID, l, msg),
							Detail: "sharing_level", Subject: d.TrackingID, Got: l.String()}
						continue
					}
					sh := s.advisories.Envelope(a, l, aud)
					h.id, h.created = sh.ID, true
					fresh = append(fresh, sh)
				}
				advs[key] = h
			}
			sum, known := h.versions[d.Version]
			if !known && !h.created {
				err := tx.QueryRow(ctx, `SELECT sha256 FROM vuln_advisory_versions WHERE advisory_id = ? AND version = ?`, h.id, d.Version).Scan(&sum)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("find version: %w", db.Map(err))
				}
				known = err == nil
			}
			switch {
			case known && sum == d.SHA256:
				written[p] = h.id // the same version again: nothing to do
				continue
			case known:
				refused[p] = ItemError{File: p.in.Name, Code: "version_conflict", Message: fmt.Sprintf(
					"%s version %s is already held with other content: a changed document needs a new tracking.version", d.TrackingID, d.Version),
					Detail: "version_conflict", Subject: d.TrackingID, Got: d.Version}
				continue
			}
			// A new version marked more strictly than the advisory is
			// shared now narrows it (a publisher's restriction is never
			// lost by an update): a new disclosure, checked and audited.
			if l := level(d, least); !h.created && l > h.tlp {
				if err := policy.ValidateAudience(l, h.aud); err != nil {
					msg := err.Error()
					if e, ok := fault.As(err); ok {
						msg = e.Message
					}
					refused[p] = ItemError{File: p.in.Name, Code: "sharing", Message: fmt.Sprintf("%s version %s is %s: %s", d.TrackingID, d.Version, l, msg),
						Detail: "sharing_version", Subject: d.TrackingID, Got: l.String(), Want: d.Version}
					continue
				}
				dis, err := s.advisories.Reshare(ctx, tx, a, h.id, l, h.aud)
				if err != nil {
					return err
				}
				if err := audit.Write(ctx, tx, a, audit.Entry{Action: "vulns.advisory.reshare", ObjectType: "vuln_advisory", ObjectID: h.id,
					Detail: dis.Detail(), Touches: []string{"vulns", "vuln_advisory:" + h.id}}); err != nil {
					return err
				}
				h.tlp = l
				narrowed = append(narrowed, h.id)
			}
			h.versions[d.Version] = d.SHA256
			cur := d.CurrentRelease.UnixMicro()
			isCurrent := h.current == 0 || cur >= h.current
			if isCurrent {
				h.current = cur
			}
			work = append(work, todo{p: p, adv: h, current: isCurrent})
			written[p] = h.id
		}
		disclosed := map[string]policy.Disclosure{}
		if len(fresh) > 0 {
			ds, err := s.advisories.DiscloseAll(ctx, tx, a, fresh)
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
		var changed []string
		for _, t := range work {
			d := t.p.doc
			action, detail := "vulns.advisory.version", map[string]any{"tracking_id": d.TrackingID, "version": d.Version, "sha256": d.SHA256}
			if dis, ok := disclosed[t.adv.id]; ok && !inserted[t.adv.id] {
				action, detail["sharing"] = "vulns.advisory.import", dis.Detail()
			}
			if t.current {
				if err := s.writeCurrent(ctx, tx, a, t.adv.id, d, !inserted[t.adv.id] && t.adv.created, now); err != nil {
					return err
				}
				inserted[t.adv.id] = true
				if !slices.Contains(changed, t.adv.id) {
					changed = append(changed, t.adv.id)
				}
			}
			// The advisory's row first: the version refers to it.
			if _, err := tx.Exec(ctx, `INSERT INTO vuln_advisory_versions (advisory_id, version, sha256, document, released_at, imported_at) VALUES (?, ?, ?, ?, ?, ?)`,
				t.adv.id, d.Version, d.SHA256, string(d.Raw), d.CurrentRelease.UnixMicro(), now); err != nil {
				return fmt.Errorf("store %s version %s: %w", d.TrackingID, d.Version, err)
			}
			if err := audit.Write(ctx, tx, a, audit.Entry{Action: action, ObjectType: "vuln_advisory", ObjectID: t.adv.id,
				Detail: detail, Touches: []string{"vulns", "vuln_advisory:" + t.adv.id}}); err != nil {
				return err
			}
		}
		for _, id := range narrowed {
			if !slices.Contains(changed, id) {
				changed = append(changed, id)
			}
		}
		if err := s.matchAdvisories(ctx, tx, a, changed); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, sh := range announce {
		s.Events.Publish(events.Event{Type: "vulns.advisory", Share: &sh, Topics: []string{"vulns"}, Data: map[string]string{"id": sh.ID}})
	}
	return written, refused, nil
}

// writeCurrent makes d the advisory's current version: its row (inserted
// for a new advisory) and its products, vulnerabilities, product status
// and remediations (replaced).
func (s *Service) writeCurrent(ctx context.Context, tx *db.Tx, a policy.Actor, id string, d *csaf.Document, create bool, now int64) error {
	var score float64
	severity := ""
	var cves []string
	for _, v := range d.Vulns {
		if v.CVE != "" && !slices.Contains(cves, v.CVE) {
			cves = append(cves, v.CVE)
		}
		if b, ok := v.Best(); ok && b.Score > score {
			score, severity = b.Score, b.Severity
		}
	}
	summary := d.Summary
	if len(summary) > 2000 {
		summary = summary[:2000]
	}
	if create {
		if _, err := tx.Exec(ctx, `INSERT INTO vuln_advisories (id, org_id, publisher, namespace, tracking_id, title, category, version, status, doc_tlp,
			initial_release, current_release, score, severity, cves, summary, created_at, updated_at) VALUES (`+db.Placeholders(18)+`)`,
			id, a.OrgID, d.Publisher, d.Namespace, d.TrackingID, d.Title, d.Category, d.Version, d.Status, d.TLP,
			d.InitialRelease.UnixMicro(), d.CurrentRelease.UnixMicro(), score, severity, strings.Join(cves, " "), summary, now, now); err != nil {
			return fmt.Errorf("store advisory %s: %w", d.TrackingID, err)
		}
	} else {
		if _, err := tx.Exec(ctx, `UPDATE vuln_advisories SET publisher = ?, title = ?, category = ?, version = ?, status = ?, doc_tlp = ?,
			initial_release = ?, current_release = ?, score = ?, severity = ?, cves = ?, summary = ?, updated_at = ? WHERE id = ? AND org_id = ?`,
			d.Publisher, d.Title, d.Category, d.Version, d.Status, d.TLP, d.InitialRelease.UnixMicro(), d.CurrentRelease.UnixMicro(),
			score, severity, strings.Join(cves, " "), summary, now, id, a.OrgID); err != nil {
			return fmt.Errorf("update advisory %s: %w", d.TrackingID, err)
		}
		for _, t := range []string{"vuln_remediations", "vuln_product_status", "vuln_vulnerabilities", "vuln_products"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE advisory_id = ?`, id); err != nil {
				return fmt.Errorf("replace %s: %w", t, err)
			}
		}
	}
	var prods, vulns, status, rems []any
	// The hub's search finds an advisory by its tracking id, title,
	// summary, CVEs, vulnerability titles and product names.
	body := []string{summary, strings.Join(cves, " ")}
	for _, p := range d.Products {
		prods = append(prods, id, p.ID, p.Name, p.Vendor, p.Product, p.Version, p.VersionRange, p.CPE, p.PURL)
		body = append(body, p.Name)
	}
	for _, v := range d.Vulns {
		body = append(body, v.Title)
	}
	text := strings.Join(body, "\n")
	if len(text) > 100000 {
		text = text[:100000]
	}
	if err := s.advisories.Index(ctx, tx, id, d.TrackingID+" "+d.Title, text); err != nil {
		return err
	}
	for i, v := range d.Vulns {
		v2, s2 := v.Vector("2")
		v3, s3 := v.Vector("3")
		v4, s4 := v.Vector("4")
		b, _ := v.Best()
		vulns = append(vulns, id, i, v.CVE, v.Title, v.CWE, v2, s2, v3, s3, v4, s4, b.Score, b.Severity)
		for st, ids := range v.Status {
			seen := map[string]bool{}
			for _, pid := range ids {
				if !seen[pid] {
					seen[pid] = true
					status = append(status, id, i, pid, st)
				}
			}
		}
		for j, r := range v.Remediations {
			rems = append(rems, id, i, j, r.Category, r.Details, r.URL, strings.Join(r.Products, " "))
		}
	}
	for _, w := range []struct {
		into  string
		width int
		vals  []any
	}{
		{"vuln_products (advisory_id, product_id, name, vendor, product, version, version_range, cpe, purl)", 9, prods},
		{"vuln_vulnerabilities (advisory_id, ord, cve, title, cwe, cvss_v2, cvss_v2_score, cvss_v3, cvss_v3_score, cvss_v4, cvss_v4_score, score, severity)", 13, vulns},
		{"vuln_product_status (advisory_id, ord, product_id, status)", 4, status},
		{"vuln_remediations (advisory_id, ord, seq, category, details, url, product_ids)", 7, rems},
	} {
		if len(w.vals) == 0 {
			continue
		}
		if err := tx.InsertMany(ctx, w.into, w.width, w.vals); err != nil {
			return err
		}
	}
	return nil
}
