package vulns

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// The pages of vulns: the advisory list with its search, an advisory's
// page (readable CVSS, KEV, product status, remediations, products,
// versions) and the import form. Every page reads through the service,
// so through policy.Reader.

func (h *handler) t(r *http.Request, key string, args ...any) string {
	return h.srv.Catalog.T(h.srv.Lang(r), key, args...)
}

type listData struct {
	Q          string
	After      string // the cursor of this page ("" the first)
	Advisories []Advisory
	Next       string
	// Severities counts the listed advisories by severity, for the chart.
	Severities []bar
}

// bar is one bar of a chart: a catalogue key, a count and its width class.
type bar struct {
	Key, Class string
	Count      int
	Width      int
}

func (h *handler) listPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	list, next, err := h.svc.FindAdvisories(r.Context(), web.ActorFrom(r), AdvisoryFilter{Q: q.Get("q"), After: q.Get("next"), Limit: 50})
	if err != nil {
		return err
	}
	d := listData{Q: q.Get("q"), After: q.Get("next"), Advisories: list, Next: next, Severities: severityBars(list)}
	return h.tpl.Render(w, r, http.StatusOK, "list", web.Page{Nav: "vulns", Title: h.t(r, "vulns.title"), Data: d, Live: "/events?topic=vulns"})
}

func severityBars(list []Advisory) []bar {
	order := []struct{ sev, class string }{{"CRITICAL", "bar-danger"}, {"HIGH", "bar-danger"}, {"MEDIUM", "bar-warning"}, {"LOW", "bar-success"}, {"", ""}}
	counts := map[string]int{}
	most := 0
	for _, a := range list {
		sev := a.Severity
		if !slices.ContainsFunc(order, func(o struct{ sev, class string }) bool { return o.sev == sev }) {
			sev = ""
		}
		counts[sev]++
		most = max(most, counts[sev])
	}
	var out []bar
	for _, o := range order {
		key := "vulns.severity.unscored"
		if o.sev != "" {
			key = "vulns.severity." + SeverityKey(o.sev)
		}
		out = append(out, bar{Key: key, Class: o.class, Count: counts[o.sev], Width: web.BarWidth(counts[o.sev], most)})
	}
	return out
}

type advisoryData struct {
	A Advisory
	// Names maps product ids to their names, for the product status.
	Names      map[string]string
	Statements []Statement
	Form       StatementInput
	Error      *fault.Error
	// The choices of the statement form.
	VEXStatuses, Justifications []string
	// Publication is the advisory's on its org's CSAF provider (nil:
	// not published); PublishError why publishing was refused.
	Publication  *Publication
	PublishError *fault.Error
}

func (h *handler) advisoryPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderAdvisory(w, r, http.StatusOK, advisoryData{})
}

func (h *handler) renderAdvisory(w http.ResponseWriter, r *http.Request, status int, d advisoryData) error {
	a, err := h.svc.FindAdvisoryByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	if d.Statements, err = h.svc.FindStatements(r.Context(), web.ActorFrom(r), a.ID); err != nil {
		return err
	}
	d.A, d.Names, d.VEXStatuses, d.Justifications = a, map[string]string{}, VEXStatuses, Justifications
	if d.Publication, err = h.svc.publicationOf(r.Context(), a); err != nil {
		return err
	}
	for _, p := range a.Products {
		d.Names[p.ID] = p.Name
	}
	return h.tpl.Render(w, r, status, "advisory", web.Page{Nav: "vulns", Title: a.TrackingID + " " + a.Title, Data: d})
}

func (h *handler) statementForm(w http.ResponseWriter, r *http.Request) error {
	in := StatementInput{ProductID: r.PostFormValue("product_id"), Status: r.PostFormValue("status"), Justification: r.PostFormValue("justification"), Note: r.PostFormValue("note")}
	if _, err := h.svc.SetStatement(r.Context(), web.ActorFrom(r), r.PathValue("id"), in); err != nil {
		if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
			return h.renderAdvisory(w, r, http.StatusBadRequest, advisoryData{Form: in, Error: e})
		}
		return err
	}
	return web.Redirect(w, r, "/vulns/advisories/"+r.PathValue("id")+"#statements", "statement_saved")
}

func (h *handler) policyForm(w http.ResponseWriter, r *http.Request) error {
	num := func(k string) int {
		n, _ := strconv.Atoi(r.PostFormValue(k))
		return n
	}
	if _, err := h.svc.SetPolicy(r.Context(), web.ActorFrom(r), PatchPolicy{Critical: num("critical_days"), High: num("high_days"), Medium: num("medium_days"), Low: num("low_days")}); err != nil {
		return err
	}
	return web.Redirect(w, r, "/vulns/board", "policy_saved")
}

// statementType names statements in the audit trail for readers who may
// see them (and their advisory).
func (s *Service) statementType() web.ObjectType {
	return web.ObjectType{Name: "vuln_statement", Label: "vulns.statement", Resolve: func(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
		h := s.DB.R()
		r, err := policy.NewReader(ctx, h, a, db.Now())
		if err != nil {
			return nil, err
		}
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		q := db.Q(`SELECT st.id, adv.tracking_id, st.product_id, st.advisory_id FROM `).Append(r.FromIn(s.statements, "st", "adv")).
			Add(` WHERE st.id IN (`+db.Placeholders(len(ids))+`)`, args...)
		rows, err := h.Select(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("name statements: %w", err)
		}
		found, err := db.Collect(rows, "name statements", func(r db.Scanner) (v [4]string, err error) {
			err = r.Scan(&v[0], &v[1], &v[2], &v[3])
			return v, err
		})
		out := make(map[string]web.Ref, len(found))
		for _, v := range found {
			out[v[0]] = web.Ref{Name: v[1] + " · " + v[2], URL: "/vulns/advisories/" + v[3] + "#statements"}
		}
		return out, err
	}}
}

type importData struct {
	TLP       string
	Audience  string
	Community string
	Circles   []option
	Report    *Report
	Error     *fault.Error
}

type option struct{ ID, Name string }

// circles lists the trust circles org is an active member of.
func circles(ctx context.Context, h db.Handle, org string) ([]option, error) {
	rows, err := h.Query(ctx, `SELECT c.id, c.name FROM community_members m JOIN communities c ON c.id = m.community_id
		WHERE m.org_id = ? AND m.status = 'active' ORDER BY c.name_key`, org)
	if err != nil {
		return nil, fmt.Errorf("list circles: %w", err)
	}
	return db.Collect(rows, "list circles", func(r db.Scanner) (o option, err error) {
		err = r.Scan(&o.ID, &o.Name)
		return o, err
	})
}

func (h *handler) importPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderImport(w, r, http.StatusOK, importData{})
}

func (h *handler) renderImport(w http.ResponseWriter, r *http.Request, status int, d importData) error {
	var err error
	if d.Circles, err = circles(r.Context(), h.svc.DB.R(), web.ActorFrom(r).OrgID); err != nil {
		return err
	}
	return h.tpl.Render(w, r, status, "import", web.Page{Nav: "vulns", Title: h.t(r, "vulns.import.title"), Data: d})
}

// importForm imports the uploaded documents (a file, several, or a
// provider's folder with its .sha256/.sha512 files) and shows the report.
func (h *handler) importForm(w http.ResponseWriter, r *http.Request) error {
	up, err := readUpload(w, r)
	if err != nil {
		if e, ok := fault.As(err); ok && e.Kind != fault.Internal {
			return h.renderImport(w, r, web.Status(e.Kind), importData{Error: e})
		}
		return err
	}
	d := importData{TLP: up.fields["tlp"], Community: up.fields["community_id"]}
	opts := ImportOptions{TLP: d.TLP, Via: "web"}
	if d.Community != "" {
		opts.Sharing = policy.Sharing{Audience: "community", Community: d.Community}
	}
	if len(up.inputs) == 0 {
		d.Error = fault.BadInput("file", "documents_missing", "send at least one CSAF document (JSON)")
		return h.renderImport(w, r, http.StatusBadRequest, d)
	}
	rep, err := h.svc.Import(r.Context(), web.ActorFrom(r), up.inputs, opts)
	if err != nil {
		if e, ok := fault.As(err); ok && e.Kind != fault.Internal {
			d.Error = e
			return h.renderImport(w, r, web.Status(e.Kind), d)
		}
		return err
	}
	d.Report = &rep
	return h.renderImport(w, r, http.StatusOK, d)
}

// advisoryType names advisories in the audit trail for readers who may
// see them.
func (s *Service) advisoryType() web.ObjectType {
	return web.ObjectType{Name: "vuln_advisory", Label: "vulns.advisory", Resolve: func(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
		h := s.DB.R()
		r, err := policy.NewReader(ctx, h, a, db.Now())
		if err != nil {
			return nil, err
		}
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		q := db.Q(`SELECT a.id, a.tracking_id, a.title FROM `).Append(r.From(s.advisories, "a")).Add(` WHERE a.id IN (`+db.Placeholders(len(ids))+`)`, args...)
		rows, err := h.Select(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("name advisories: %w", err)
		}
		found, err := db.Collect(rows, "name advisories", func(r db.Scanner) (v [3]string, err error) {
			err = r.Scan(&v[0], &v[1], &v[2])
			return v, err
		})
		out := make(map[string]web.Ref, len(found))
		for _, v := range found {
			out[v[0]] = web.Ref{Name: v[1] + " " + v[2], URL: "/vulns/advisories/" + v[0]}
		}
		return out, err
	}}
}

// kevType names the KEV catalogue's imports (by their catalogue version).
func kevType() web.ObjectType {
	return web.ObjectType{Name: "vuln_kev", Label: "vulns.kev", Resolve: func(_ context.Context, _ policy.Actor, ids []string) (map[string]web.Ref, error) {
		out := make(map[string]web.Ref, len(ids))
		for _, id := range ids {
			out[id] = web.Ref{Name: id}
		}
		return out, nil
	}}
}

type assetsData struct {
	Assets []Asset
	Form   NewAsset
	Report *AssetReport
	Error  *fault.Error
}

func (h *handler) assetsPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderAssets(w, r, http.StatusOK, assetsData{})
}

func (h *handler) renderAssets(w http.ResponseWriter, r *http.Request, status int, d assetsData) error {
	var err error
	if d.Assets, err = h.svc.FindAssets(r.Context(), web.ActorFrom(r)); err != nil {
		return err
	}
	return h.tpl.Render(w, r, status, "assets", web.Page{Nav: "vulns", Title: h.t(r, "vulns.assets.title"), Data: d})
}

func (h *handler) createAssetForm(w http.ResponseWriter, r *http.Request) error {
	in := NewAsset{Name: r.PostFormValue("name"), Vendor: r.PostFormValue("vendor"), Product: r.PostFormValue("product"),
		Version: r.PostFormValue("version"), CPE: r.PostFormValue("cpe"), PURL: r.PostFormValue("purl")}
	if _, err := h.svc.CreateAsset(r.Context(), web.ActorFrom(r), in); err != nil {
		if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
			return h.renderAssets(w, r, http.StatusBadRequest, assetsData{Form: in, Error: e})
		}
		return err
	}
	return web.Redirect(w, r, "/vulns/assets", "asset_added")
}

func (h *handler) importAssetsForm(w http.ResponseWriter, r *http.Request) error {
	up, err := readUpload(w, r)
	if err == nil && len(up.inputs) == 0 {
		err = fault.BadInput("file", "inventory_missing", "choose a CSV inventory or a CycloneDX SBOM (JSON)")
	}
	var rep AssetReport
	if err == nil {
		rep, err = h.svc.ImportAssets(r.Context(), web.ActorFrom(r), bytes.NewReader(up.inputs[0].Data))
	}
	if err != nil {
		if e, ok := fault.As(err); ok && e.Kind != fault.Internal {
			return h.renderAssets(w, r, web.Status(e.Kind), assetsData{Error: e})
		}
		return err
	}
	return h.renderAssets(w, r, http.StatusOK, assetsData{Report: &rep})
}

func (h *handler) deleteAssetForm(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteAsset(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	return web.Redirect(w, r, "/vulns/assets", "asset_deleted")
}

type boardData struct {
	Affected []Affected
	Policy   PatchPolicy
	Overdue  int
}

func (h *handler) boardPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	list, err := h.svc.FindAffected(r.Context(), a)
	if err != nil {
		return err
	}
	pol, err := h.svc.FindPolicy(r.Context(), a)
	if err != nil {
		return err
	}
	d := boardData{Affected: list, Policy: pol}
	for _, x := range list {
		if x.Overdue {
			d.Overdue++
		}
	}
	return h.tpl.Render(w, r, http.StatusOK, "board", web.Page{Nav: "vulns", Title: h.t(r, "vulns.board.title"), Data: d, Live: "/events?topic=vulns.matches"})
}

// assetType names an org's assets in its audit trail (only for that
// org's readers).
func (s *Service) assetType() web.ObjectType {
	return web.ObjectType{Name: "vuln_asset", Label: "vulns.asset", Resolve: func(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
		args := []any{a.OrgID}
		for _, id := range ids {
			args = append(args, id)
		}
		rows, err := s.DB.R().Query(ctx, `SELECT id, name FROM vuln_assets WHERE org_id = ? AND id IN (`+db.Placeholders(len(ids))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("name assets: %w", err)
		}
		found, err := db.Collect(rows, "name assets", func(r db.Scanner) (v [2]string, err error) {
			err = r.Scan(&v[0], &v[1])
			return v, err
		})
		out := make(map[string]web.Ref, len(found))
		for _, v := range found {
			out[v[0]] = web.Ref{Name: v[1], URL: "/vulns/assets#asset-" + v[0]}
		}
		return out, err
	}}
}

func (h *handler) deleteAdvisoryForm(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteAdvisory(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	return web.Redirect(w, r, "/vulns", "advisory_deleted")
}
