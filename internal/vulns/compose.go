package vulns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"verbund/internal/csaf"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// Draft is an advisory written in the hub instead of uploaded: the
// fields of a small CSAF 2.0 security advisory (one product with an
// affected and optionally a fixed version, one vulnerability). Compose
// turns it into the document and imports it like an upload.
type Draft struct {
	TrackingID  string `json:"tracking_id"`
	Title       string `json:"title"`
	Summary     string `json:"summary"`
	Vendor      string `json:"vendor"`
	Product     string `json:"product"`
	Affected    string `json:"affected_version"`
	Fixed       string `json:"fixed_version,omitempty"`
	CVE         string `json:"cve,omitempty"`
	CVSS        string `json:"cvss_v3,omitempty"`
	Remediation string `json:"remediation,omitempty"`
	// Namespace is publisher.namespace; "" is the org's own (the one it
	// claimed, else its provider's address on the hub). Another is
	// refused (publish_publisher_mismatch, publish_namespace_taken).
	Namespace string `json:"namespace,omitempty"`
	policy.Sharing
	// Publish publishes it on the org's CSAF provider at once.
	Publish bool `json:"publish,omitempty"`
}

// Composed is what Compose made.
type Composed struct {
	ID          string       `json:"id"`
	Publication *Publication `json:"publication,omitempty"`
}

// Compose writes d as a CSAF 2.0 csaf_security_advisory of the actor's
// org and imports it (checked like any document; shared as d.Sharing,
// the document marked with that level, CLEAR as WHITE). With d.Publish it
// is published too; a draft that could not be published is refused
// before anything is written.
func (s *Service) Compose(ctx context.Context, a policy.Actor, d Draft) (Composed, error) {
	if !a.CanWrite() || a.OrgID == "" {
		return Composed{}, fault.New(fault.Forbidden, "forbidden", "only analysts and admins of an organisation import advisories")
	}
	if strings.TrimSpace(d.Sharing.TLP) == "" {
		d.Sharing.TLP = "AMBER"
	}
	tlp, _, err := d.Sharing.Parse()
	if err != nil {
		return Composed{}, err
	}
	label, ok := envLabel(tlp)
	if !ok {
		label = "AMBER" // AMBER+STRICT: the nearest CSAF label, stricter sharing
	}
	if d.Publish {
		if _, err := publishLabel(label, tlp); err != nil {
			return Composed{}, err
		}
	}
	ns, err := s.draftNamespace(ctx, a, d)
	if err != nil {
		return Composed{}, err
	}
	d.Namespace = ns
	doc, err := s.draftDocument(ctx, a, d, label)
	if err != nil {
		return Composed{}, err
	}
	rep, err := s.Import(ctx, a, []Input{{Name: csaf.FileName(d.TrackingID), Data: doc}}, ImportOptions{TLP: d.Sharing.TLP, Sharing: d.Sharing, Via: a.Via})
	if err != nil {
		return Composed{}, err
	}
	if len(rep.Errors) > 0 {
		return Composed{}, fault.BadInput("document", "draft_invalid", "the advisory would not be valid CSAF 2.0: {reason}").With("reason", rep.Errors[0].Message)
	}
	out := Composed{ID: rep.Advisories[0]}
	if d.Publish {
		p, err := s.Publish(ctx, a, out.ID)
		if err != nil {
			return out, err
		}
		out.Publication = &p
	}
	return out, nil
}

// draftNamespace is the publisher.namespace of a draft: the org's own
// (the one it claimed, else its provider's address on the hub); a
// namespace the draft names must be that one, and one not yet claimed
// must not be another org's.
func (s *Service) draftNamespace(ctx context.Context, a policy.Actor, d Draft) (string, error) {
	id, err := identity(ctx, s.DB.R(), a.OrgID)
	if err != nil {
		return "", err
	}
	ns := strings.TrimSpace(d.Namespace)
	if ns == "" && id.Namespace != "" {
		return id.Namespace, nil
	}
	slug, err := providerSlug(ctx, s.DB.R(), a.OrgID, id.Name)
	if err != nil {
		return "", err
	}
	if ns == "" {
		ns = s.providerBase(ctx, slug)
		if !strings.HasPrefix(ns, "http") {
			ns = "https://" + strings.TrimPrefix(ns, "/")
		}
		return ns, nil
	}
	if err := s.checkPublisher(ctx, s.DB.R(), a.OrgID, slug, id.Name, ns); err != nil {
		return "", err
	}
	return ns, nil
}

// draftDocument builds the CSAF document of d.
func (s *Service) draftDocument(ctx context.Context, a policy.Actor, d Draft, label string) ([]byte, error) {
	trim := func(v *string) { *v = strings.TrimSpace(*v) }
	for _, v := range []*string{&d.TrackingID, &d.Title, &d.Summary, &d.Vendor, &d.Product, &d.Affected, &d.Fixed, &d.CVE, &d.CVSS, &d.Remediation, &d.Namespace} {
		trim(v)
	}
	for _, f := range []struct{ name, v string }{{"tracking_id", d.TrackingID}, {"title", d.Title}, {"summary", d.Summary},
		{"vendor", d.Vendor}, {"product", d.Product}, {"affected_version", d.Affected}} {
		if f.v == "" {
			return nil, fault.BadInput(f.name, "draft_missing", "fill in {field}: a CSAF advisory needs it").With("field", f.name)
		}
	}
	var name, kind string
	if err := s.DB.R().QueryRow(ctx, `SELECT name, kind FROM orgs WHERE id = ?`, a.OrgID).Scan(&name, &kind); err != nil {
		return nil, fmt.Errorf("load org: %w", db.Map(err))
	}
	category := "vendor"
	if kind == "cert" || kind == "isac" {
		category = "coordinator"
	}
	ns := d.Namespace
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	type obj = map[string]any
	products := []obj{{"category": "product_version", "name": d.Affected, "product": obj{"name": d.Product + " " + d.Affected, "product_id": "AFFECTED"}}}
	status := obj{"known_affected": []string{"AFFECTED"}}
	if d.Fixed != "" {
		products = append(products, obj{"category": "product_version", "name": d.Fixed, "product": obj{"name": d.Product + " " + d.Fixed, "product_id": "FIXED"}})
		status["fixed"] = []string{"FIXED"}
	}
	vuln := obj{"title": d.Title, "product_status": status, "notes": []obj{{"category": "description", "title": "Description", "text": d.Summary}}}
	if d.CVE != "" {
		if !cvePattern.MatchString(d.CVE) { // said here, not as the schema's English error
			return nil, fault.BadInput("cve", "draft_bad_cve", "{cve} is no CVE identifier (CVE-YYYY-NNNN)").With("cve", d.CVE)
		}
		vuln["cve"] = d.CVE
	}
	if d.CVSS != "" {
		sc, err := csaf.ScoreVector(d.CVSS)
		if err != nil || !strings.HasPrefix(d.CVSS, "CVSS:3.") {
			return nil, fault.BadInput("cvss_v3", "draft_bad_cvss", "{vector} is no CVSS 3.0 or 3.1 vector").With("vector", d.CVSS)
		}
		vuln["scores"] = []obj{{"products": []string{"AFFECTED"}, "cvss_v3": obj{"version": sc.Version, "vectorString": d.CVSS,
			"baseScore": sc.Score, "baseSeverity": sc.Severity}}}
	}
	if d.Remediation != "" {
		vuln["remediations"] = []obj{{"category": "vendor_fix", "details": d.Remediation, "product_ids": []string{"AFFECTED"}}}
	}
	doc := obj{
		"document": obj{
			"category": "csaf_security_advisory", "csaf_version": "2.0", "lang": a.Lang,
			"distribution": obj{"tlp": obj{"label": label}},
			"notes":        []obj{{"category": "summary", "title": "Summary", "text": d.Summary}},
			"publisher":    obj{"category": category, "name": name, "namespace": ns},
			"references":   []obj{{"category": "self", "summary": "this advisory", "url": strings.TrimRight(ns, "/") + "/" + csaf.FileName(d.TrackingID)}},
			"title":        d.Title,
			"tracking": obj{"id": d.TrackingID, "version": "1", "status": "final", "initial_release_date": now, "current_release_date": now,
				"revision_history": []obj{{"number": "1", "date": now, "summary": "Initial release"}},
				"generator":        obj{"engine": obj{"name": "verbund"}, "date": now}},
		},
		"product_tree": obj{"branches": []obj{{"category": "vendor", "name": d.Vendor,
			"branches": []obj{{"category": "product_name", "name": d.Product, "branches": products}}}}},
		"vulnerabilities": []obj{vuln},
	}
	if a.Lang == "" {
		delete(doc["document"].(obj), "lang")
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("write CSAF document: %w", err)
	}
	if _, err := csaf.Parse(b); err != nil {
		var pr *csaf.Problem
		if errors.As(err, &pr) {
			return nil, fault.BadInput("document", "draft_invalid", "the advisory would not be valid CSAF 2.0: {reason}").With("reason", pr.Message)
		}
		return nil, err
	}
	return b, nil
}

// composeData is the write form's page.
type composeData struct {
	Draft   Draft
	Circles []option
	Error   *fault.Error
}

func (h *handler) renderCompose(w http.ResponseWriter, r *http.Request, status int, d composeData) error {
	var err error
	if d.Circles, err = circles(r.Context(), h.svc.DB.R(), web.ActorFrom(r).OrgID); err != nil {
		return err
	}
	return h.tpl.Render(w, r, status, "compose", web.Page{Nav: "vulns", Title: h.t(r, "vulns.publish.compose"), Data: d})
}

func (h *handler) composePage(w http.ResponseWriter, r *http.Request) error {
	return h.renderCompose(w, r, http.StatusOK, composeData{Draft: Draft{Sharing: policy.Sharing{TLP: "CLEAR"}, Publish: true}})
}

func (h *handler) composeForm(w http.ResponseWriter, r *http.Request) error {
	f := r.PostFormValue
	d := Draft{TrackingID: f("tracking_id"), Title: f("title"), Summary: f("summary"), Vendor: f("vendor"), Product: f("product"),
		Affected: f("affected_version"), Fixed: f("fixed_version"), CVE: f("cve"), CVSS: f("cvss_v3"), Remediation: f("remediation"),
		Sharing: policy.Sharing{TLP: f("tlp")}, Publish: f("publish") != ""}
	if c := f("community_id"); c != "" {
		d.Sharing.Audience, d.Sharing.Community = "community", c
	}
	c, err := h.svc.Compose(r.Context(), web.ActorFrom(r), d)
	if err != nil {
		if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
			return h.renderCompose(w, r, http.StatusBadRequest, composeData{Draft: d, Error: e})
		}
		return err
	}
	flash := "advisory_written"
	if c.Publication != nil {
		flash = "advisory_published"
	}
	return web.Redirect(w, r, "/vulns/advisories/"+c.ID, flash)
}

func (h *handler) apiCompose(w http.ResponseWriter, r *http.Request) error {
	var d Draft
	if err := web.DecodeJSON(w, r, &d); err != nil {
		return err
	}
	c, err := h.svc.Compose(r.Context(), web.ActorFrom(r), d)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, c)
	return nil
}
