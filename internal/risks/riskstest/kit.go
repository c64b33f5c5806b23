// Package riskstest describes the risk register to the hub-wide tests
// (internal/app): the authorization matrix rows of its routes and its
// shareable kinds (risks, workshops) for the leak harness — lists, the
// heatmap's counts, the CSV export, search, workshop pages and live
// events included.
package riskstest

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/policy"
	"verbund/internal/risks"
)

// Kit is the risk capability's kit.
func Kit() apptest.Kit {
	return apptest.Kit{Name: "risks", Setup: setup, Rows: rows(), Kinds: []apptest.LeakKind{riskKind(), workshopKind()}}
}

// NewRisk creates a risk of sme.analyst with sharing s.
func NewRisk(t testing.TB, h *apptest.Hub, title string, s policy.Sharing) string {
	t.Helper()
	r, err := h.App.Risks.CreateRisk(context.Background(), h.Users["sme.analyst"].Actor, risks.NewRisk{
		Title: title, Description: "Text of " + title, Likelihood: 4, Impact: 3, Treatment: "mitigate", Sharing: s})
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// NewWorkshop opens a workshop of sme.analyst on the risks with sharing s.
func NewWorkshop(t testing.TB, h *apptest.Hub, title string, s policy.Sharing, ids ...string) string {
	t.Helper()
	w, err := h.App.Risks.CreateWorkshop(context.Background(), h.Users["sme.analyst"].Actor, risks.NewWorkshop{Title: title, Risks: ids, Sharing: s})
	if err != nil {
		t.Fatal(err)
	}
	return w.ID
}

func circle(h *apptest.Hub, tlp string) policy.Sharing {
	return policy.Sharing{TLP: tlp, Audience: "community", Community: h.Circle}
}

// setup makes the matrix's objects: an AMBER circle risk of sme.analyst
// ({risk}) and an AMBER circle workshop on it ({workshop}), facilitated
// by sme.analyst.
func setup(t *testing.T, f *apptest.Fixture) {
	f.IDs["risk"] = NewRisk(t, f.Hub, "risk "+f.Uniq(), circle(f.Hub, "AMBER"))
	f.IDs["workshop"] = NewWorkshop(t, f.Hub, "workshop "+f.Uniq(), circle(f.Hub, "AMBER"), f.IDs["risk"])
}

func rows() map[string]apptest.Row {
	const (
		hidden  = " partner=404 coord=404 nocontract=404 outsider=404"
		objPage = "anon=303" + hidden + " *=200" // the AMBER circle risk: the charter of the matrix world covers no risks
		objAPI  = "anon=401" + hidden + " *=200"
		writer  = apptest.WriterOnly
	)
	w, get, send, form := apptest.W, apptest.Get, apptest.Send, apptest.Form
	fresh := func(t *testing.T, f *apptest.Fixture) string {
		return NewRisk(t, f.Hub, "fresh "+f.Uniq(), circle(f.Hub, "AMBER"))
	}
	// A fresh workshop with the facilitator's vote: the reveal waits for one.
	freshWS := func(t *testing.T, f *apptest.Fixture) string {
		id := NewWorkshop(t, f.Hub, "fresh "+f.Uniq(), circle(f.Hub, "AMBER"), f.IDs["risk"])
		if err := f.Hub.App.Risks.Score(context.Background(), f.Hub.Users["sme.analyst"].Actor, id, f.IDs["risk"], 2, 3); err != nil {
			t.Fatal(err)
		}
		return id
	}
	revealed := func(t *testing.T, f *apptest.Fixture) string {
		id := freshWS(t, f)
		if err := f.Hub.App.Risks.Reveal(context.Background(), f.Hub.Users["sme.analyst"].Actor, id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	// A fresh revealed workshop, and the body of an agreed score on its risk.
	agreeReq := func(path string, body func(risk string) any) func(*testing.T, *apptest.Fixture) (string, any) {
		return func(t *testing.T, f *apptest.Fixture) (string, any) {
			return strings.ReplaceAll(path, "{new}", revealed(t, f)), body(f.IDs["risk"])
		}
	}
	risk := map[string]any{"title": "A risk", "likelihood": 3, "impact": 4, "treatment": "mitigate", "tlp": "AMBER", "audience": "community", "community_id": "{circle}"}
	return map[string]apptest.Row{
		"GET /risks":     {Req: apptest.Static("/risks"), Want: w(apptest.PageRead)},
		"GET /risks/new": {Req: apptest.Static("/risks/new"), Want: w(apptest.PageRead)},
		"POST /risks": {Req: send("/risks", form("title", "x", "likelihood", "2", "impact", "2", "treatment", "accept", "tlp", "AMBER", "audience", "community", "community_id", "{circle}")),
			Want: w(writer + " outsider=400 *=303")},
		"GET /risks/{id}":         {Req: get("/risks/{risk}"), Want: w(objPage)},
		"POST /risks/{id}":        {Req: apptest.Fresh(fresh, "/risks/{new}", form("title", "edited")), Want: w(writer + hidden + " *=303")},
		"POST /risks/{id}/part":   {Req: apptest.Fresh(fresh, "/risks/{new}/part", form("controls", "offline copies")), Want: w(writer + hidden + " *=303")},
		"GET /risk-workshops/new": {Req: apptest.Static("/risk-workshops/new"), Want: w(apptest.PageRead)},
		"POST /risk-workshops": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/risk-workshops", form("title", "w", "community_id", f.Hub.Circle, "risks", f.IDs["risk"])
		}, Want: w(writer + " partner=400 coord=400 nocontract=400 outsider=400 *=303")},
		"GET /risk-workshops/{id}":             {Req: get("/risk-workshops/{workshop}"), Want: w(objPage)},
		"POST /risk-workshops/{id}/votes":      {Req: send("/risk-workshops/{workshop}/votes", form("risk_id", "{risk}", "likelihood", "2", "impact", "3")), Want: w(writer + hidden + " *=303")},
		"POST /risk-workshops/{id}/reveal":     {Req: apptest.Fresh(freshWS, "/risk-workshops/{new}/reveal", nil), Want: w(writer + hidden + " admin=403 *=303")},
		"POST /risk-workshops/{id}/comments":   {Req: send("/risk-workshops/{workshop}/comments", form("body", "agreed?")), Want: w(writer + hidden + " *=303")},
		"POST /risk-workshops/{id}/agreements": {Req: agreeReq("/risk-workshops/{new}/agreements", func(r string) any { return form("risk_id", r, "likelihood", "2", "impact", "2") }), Want: w(writer + hidden + " admin=403 *=303")},

		"GET /api/v1/risks":              {Req: apptest.Static("/api/v1/risks"), Want: w(apptest.APIRead)},
		"POST /api/v1/risks":             {Req: send("/api/v1/risks", risk), Want: w(writer + " outsider=400 *=201")},
		"GET /api/v1/risks/heatmap":      {Req: apptest.Static("/api/v1/risks/heatmap"), Want: w(apptest.APIRead)},
		"GET /api/v1/risks/export":       {Req: apptest.Static("/api/v1/risks/export"), Want: w(apptest.APIRead)},
		"GET /api/v1/risks/{id}":         {Req: get("/api/v1/risks/{risk}"), Want: w(objAPI)},
		"PATCH /api/v1/risks/{id}":       {Req: apptest.Fresh(fresh, "/api/v1/risks/{new}", map[string]any{"title": "edited"}), Want: w(writer + hidden + " *=200")},
		"GET /api/v1/risks/{id}/history": {Req: get("/api/v1/risks/{risk}/history"), Want: w(objAPI)},
		"GET /api/v1/risk-matrix":        {Req: apptest.Static("/api/v1/risk-matrix"), Want: w(apptest.APIRead)},
		"PUT /api/v1/risk-matrix": {Req: send("/api/v1/risk-matrix", map[string]any{"likelihood_levels": 5, "impact_levels": 5, "appetite": 9}),
			Want: w(apptest.AdminOnly + " *=200")},
		"GET /api/v1/risk-workshops": {Req: apptest.Static("/api/v1/risk-workshops"), Want: w(apptest.APIRead)},
		"POST /api/v1/risk-workshops": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/api/v1/risk-workshops", map[string]any{"title": "A workshop", "risks": []string{f.IDs["risk"]}, "community_id": f.Hub.Circle}
		}, Want: w(writer + " partner=400 coord=400 nocontract=400 outsider=400 *=201")},
		"GET /api/v1/risk-workshops/{id}":           {Req: get("/api/v1/risk-workshops/{workshop}"), Want: w(objAPI)},
		"POST /api/v1/risk-workshops/{id}/votes":    {Req: send("/api/v1/risk-workshops/{workshop}/votes", map[string]any{"risk_id": "{risk}", "likelihood": 2, "impact": 3}), Want: w(writer + hidden + " *=200")},
		"POST /api/v1/risk-workshops/{id}/reveal":   {Req: apptest.Fresh(freshWS, "/api/v1/risk-workshops/{new}/reveal", nil), Want: w(writer + hidden + " admin=403 *=200")},
		"POST /api/v1/risk-workshops/{id}/comments": {Req: send("/api/v1/risk-workshops/{workshop}/comments", map[string]any{"body": "agreed?"}), Want: w(writer + hidden + " *=201")},
		"POST /api/v1/risk-workshops/{id}/agreements": {Req: agreeReq("/api/v1/risk-workshops/{new}/agreements", func(r string) any {
			return map[string]any{"risk_id": r, "likelihood": 2, "impact": 2}
		}), Want: w(writer + hidden + " admin=403 *=200")},
	}
}

// riskState is what the harness's risks carry: each its workshop (TLP:CLEAR
// for the circle, so every reader sees the workshop and only the risks in
// it the reader may see).
type riskState struct{ workshop map[string]string }

func create(t testing.TB, h *apptest.Hub, path string, body map[string]any) string {
	r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, path, body)
	if r.Status != http.StatusCreated {
		t.Fatalf("POST %s: %d %s", path, r.Status, r.Body)
	}
	var out struct{ ID string }
	r.JSON(t, &out)
	return out.ID
}

func sharingBody(s policy.Sharing, body map[string]any) map[string]any {
	body["tlp"], body["audience"], body["community_id"], body["orgs"], body["people"] = s.TLP, s.Audience, s.Community, s.Orgs, s.People
	return body
}

func htmlIDs(page, prefix string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`id="`+regexp.QuoteMeta(prefix)+`([0-9a-f-]{36})"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

func riskKind() apptest.LeakKind {
	detail := func(route, path string) apptest.Path {
		return apptest.Path{Route: route, Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
			apptest.ExpectDetail(t, c, r, path, objs)
		}}
	}
	st := func(c *apptest.LeakCase) *riskState { return c.State.(*riskState) }
	return apptest.LeakKind{
		Kind:  "risk",
		Setup: func(testing.TB, *apptest.LeakCase) any { return &riskState{workshop: map[string]string{}} },
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			id := create(t, c.Hub, "/api/v1/risks", sharingBody(s, map[string]any{"title": "risk " + marker, "description": "Text " + marker + ".",
				"likelihood": 4, "impact": 4, "treatment": "mitigate", "controls": "controls " + marker}))
			st(c).workshop[id] = NewWorkshop(t, c.Hub, "carrier of "+id, circle(c.Hub, "CLEAR"), id)
			return id
		},
		Streamed: true,
		Touch: func(t testing.TB, c *apptest.LeakCase, o apptest.LeakObject) {
			h := c.Hub
			r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPatch, "/api/v1/risks/"+o.ID, map[string]any{"description": fmt.Sprintf("Edited %s %d", o.Marker, time.Now().UnixNano())})
			if r.Status != http.StatusOK {
				t.Fatalf("edit %s: %d %s", o.Marker, r.Status, r.Body)
			}
		},
		Paths: append([]apptest.Path{
			detail("GET /api/v1/risks/{id}", "/api/v1/risks/%s"),
			detail("GET /api/v1/risks/{id}/history", "/api/v1/risks/%s/history"),
			detail("GET /risks/{id}", "/risks/%s"),
			{Route: "GET /api/v1/risks", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the register", r, apptest.ListIDs(t, c, r, "/api/v1/risks?limit=4"), objs)
				circle := apptest.ListIDs(t, c, r, "/api/v1/risks?community_id="+c.Hub.Circle)
				for _, o := range objs {
					if !o.Visible && slices.Contains(circle, o.ID) {
						t.Errorf("LEAK on the circle's register: %s sees %s", r.Key, o.Envelope)
					}
				}
			}},
			{Route: "GET /risks", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/risks")
				apptest.ExpectIDs(t, "the register page", r, htmlIDs(page, "risk-"), objs)
				apptest.ExpectMarkers(t, "the register page (list and heatmap)", r, page, objs, true)
				want := 0
				for _, o := range objs {
					if o.Visible {
						want++
					}
				}
				if got := strings.Count(page, `class="heatmap-cell`); got != 25 {
					t.Errorf("the register page's heatmap has %d cells, want 25", got)
				}
				if caption := fmt.Sprintf("Risk matrix with %d risks", want); !strings.Contains(page, caption) {
					t.Errorf("LEAK on the register page's heatmap: %s is not shown %q", r.Key, caption)
				}
			}},
			{Route: "GET /api/v1/risks/heatmap", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				resp := c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/risks/heatmap", nil)
				var hm risks.Heatmap
				resp.JSON(t, &hm)
				var ids []string
				count := 0
				for _, cell := range hm.Cells {
					count += cell.Count
					for _, x := range cell.Risks {
						ids = append(ids, x.ID)
					}
				}
				apptest.ExpectIDs(t, "the heatmap", r, ids, objs)
				apptest.ExpectMarkers(t, "the heatmap", r, string(resp.Body), objs, true)
				want := 0
				for _, o := range objs {
					if o.Visible {
						want++
					}
				}
				if count != want || hm.Total != want {
					t.Errorf("LEAK on the heatmap's counts: %s counts %d (total %d), sees %d", r.Key, count, hm.Total, want)
				}
			}},
			{Route: "GET /api/v1/risks/export", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				resp := c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/risks/export", nil)
				recs, err := csv.NewReader(strings.NewReader(string(resp.Body))).ReadAll()
				if resp.Status != http.StatusOK || err != nil {
					t.Fatalf("export as %s: %d %v", r.Key, resp.Status, err)
				}
				var ids []string
				for _, rec := range recs[1:] {
					ids = append(ids, rec[0])
				}
				apptest.ExpectIDs(t, "the CSV export", r, ids, objs)
				apptest.ExpectMarkers(t, "the CSV export", r, string(resp.Body), objs, true)
			}},
			{Route: "GET /api/v1/risk-workshops/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				for _, o := range objs {
					resp := c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/risk-workshops/"+st(c).workshop[o.ID], nil)
					var w risks.Workshop
					resp.JSON(t, &w)
					shown := len(w.Items) == 1 && w.Items[0].RiskID == o.ID
					if shown != o.Visible {
						t.Errorf("the workshop API: %s sees risk %s: %v, want %v", r.Key, o.Envelope, shown, o.Visible)
					}
					if !o.Visible && strings.Contains(string(resp.Body), o.Marker) {
						t.Errorf("LEAK on the workshop API: %s reads %s", r.Key, o.Envelope)
					}
				}
			}},
			{Route: "GET /risk-workshops/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				for _, o := range objs {
					_, page := apptest.Page(t, c, r, "/risk-workshops/"+st(c).workshop[o.ID])
					apptest.ExpectMarkers(t, "the workshop page", r, page, []apptest.LeakObject{o}, true)
				}
			}},
			{Route: "GET /risk-workshops/new", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/risk-workshops/new")
				apptest.ExpectMarkers(t, "the new workshop page", r, page, objs, false)
			}},
			{Route: "GET /audit", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				status, page := apptest.Page(t, c, r, "/audit")
				if status == http.StatusForbidden {
					return
				}
				apptest.ExpectMarkers(t, "the audit page", r, page, objs, false)
				for _, o := range objs {
					if !o.Visible && strings.Contains(page, `href="/risks/`+o.ID) {
						t.Errorf("LEAK on the audit page: %s gets a link to %s", r.Key, o.Envelope)
					}
				}
			}},
		}, apptest.SearchPaths("risk", nil)...),
	}
}

func workshopKind() apptest.LeakKind {
	carrier := func(c *apptest.LeakCase) string { return c.State.(string) }
	return apptest.LeakKind{
		Kind: "risk_workshop",
		// The carrier is CERT Süd's risk that Müller co-owns: the score a
		// workshop of Müller's agrees is offered to CERT Süd on the risk
		// (Risk.WorkshopScores), shown only to readers of the workshop.
		Setup: func(t testing.TB, c *apptest.LeakCase) any {
			r, err := c.Hub.App.Risks.CreateRisk(context.Background(), c.Hub.Users["cert.analyst"].Actor, risks.NewRisk{Title: "carrier risk",
				Likelihood: 4, Impact: 3, Treatment: "mitigate", CoOwners: []string{c.Hub.Orgs["sme"]}, Sharing: circle(c.Hub, "CLEAR")})
			if err != nil {
				t.Fatal(err)
			}
			return r.ID
		},
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			id := create(t, c.Hub, "/api/v1/risk-workshops", sharingBody(s, map[string]any{"title": "workshop " + marker, "risks": []string{carrier(c)}}))
			create(t, c.Hub, "/api/v1/risk-workshops/"+id+"/comments", map[string]any{"body": "comment " + marker})
			ctx, sme := context.Background(), c.Hub.Users["sme.analyst"].Actor
			if err := c.Hub.App.Risks.Score(ctx, sme, id, carrier(c), 2, 2); err != nil {
				t.Fatal(err)
			}
			if err := c.Hub.App.Risks.Reveal(ctx, sme, id); err != nil {
				t.Fatal(err)
			}
			if err := c.Hub.App.Risks.Agree(ctx, sme, id, carrier(c), 2, 2); err != nil {
				t.Fatal(err)
			}
			return id
		},
		Streamed: true,
		Touch: func(t testing.TB, c *apptest.LeakCase, o apptest.LeakObject) {
			create(t, c.Hub, "/api/v1/risk-workshops/"+o.ID+"/comments", map[string]any{"body": "again " + o.Marker})
		},
		Paths: []apptest.Path{
			{Route: "GET /api/v1/risk-workshops/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectDetail(t, c, r, "/api/v1/risk-workshops/%s", objs)
			}},
			{Route: "GET /risk-workshops/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectDetail(t, c, r, "/risk-workshops/%s", objs)
			}},
			{Route: "GET /api/v1/risk-workshops", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the workshop list", r, apptest.ListIDs(t, c, r, "/api/v1/risk-workshops"), objs)
			}},
			{Route: "GET /api/v1/risks/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				resp := c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/risks/"+carrier(c), nil)
				var rk risks.Risk
				if resp.Status == http.StatusOK {
					resp.JSON(t, &rk)
				}
				var got []string
				for _, w := range rk.WorkshopScores {
					got = append(got, w.WorkshopID)
				}
				expectOffered(t, "the carrier risk's workshop scores", r, resp.Status == http.StatusOK, got, objs)
				for _, o := range objs {
					if !o.Visible && strings.Contains(string(resp.Body), o.Marker) {
						t.Errorf("LEAK on the risk API: %s reads %s", r.Key, o.Envelope)
					}
				}
			}},
			{Route: "GET /risks/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				status, page := apptest.Page(t, c, r, "/risks/"+carrier(c))
				expectOffered(t, "the carrier risk's page", r, status == http.StatusOK, htmlIDs(page, "offer-"), objs)
				apptest.ExpectMarkers(t, "the carrier risk's page", r, page, objs, status == http.StatusOK)
			}},
			{Route: "GET /risks", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/risks")
				apptest.ExpectIDs(t, "the register page's workshops", r, htmlIDs(page, "workshop-"), objs)
				apptest.ExpectMarkers(t, "the register page", r, page, objs, true)
			}},
			{Route: "GET /audit", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				status, page := apptest.Page(t, c, r, "/audit")
				if status == http.StatusForbidden {
					return
				}
				apptest.ExpectMarkers(t, "the audit page", r, page, objs, false)
				for _, o := range objs {
					if !o.Visible && strings.Contains(page, `href="/risk-workshops/`+o.ID) {
						t.Errorf("LEAK on the audit page: %s gets a link to %s", r.Key, o.Envelope)
					}
				}
			}},
		},
	}
}

// expectOffered checks the workshops whose scores a risk offers: none the
// reader may not see, and, when the reader reads the risk, each it may.
func expectOffered(t testing.TB, what string, r *apptest.User, readsRisk bool, got []string, objs []apptest.LeakObject) {
	t.Helper()
	if readsRisk {
		apptest.ExpectIDs(t, what, r, got, objs)
		return
	}
	for _, o := range objs {
		if slices.Contains(got, o.ID) && !o.Visible {
			t.Errorf("LEAK on %s: %s sees %s (%s)", what, r.Key, o.Envelope, o.ID)
		}
	}
}
