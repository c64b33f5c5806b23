package app_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/risks"
	"verbund/internal/vulns"
	"verbund/internal/vulns/vulnstest"
	"verbund/internal/web"
)

// riskAPI calls the API as user key and decodes a 2xx answer into out.
func riskAPI(t *testing.T, h *apptest.Hub, key, method, path string, body any, want int, out any) apptest.Response {
	t.Helper()
	r := h.API(t, h.Users[key].WriteToken, method, path, body)
	if r.Status != want {
		t.Fatalf("%s %s as %s: %d %s, want %d", method, path, key, r.Status, r.Body, want)
	}
	if out != nil {
		r.JSON(t, out)
	}
	return r
}

// TestRiskCoOwnersEditOnlyTheirPart: a risk Müller owns with Wolke as
// co-owner; each edits only its own part, the risk's own fields stay
// Müller's, a circle member that owns no part edits nothing, and every
// refusal leaves the risk as it was. Every change is in the history.
func TestRiskCoOwnersEditOnlyTheirPart(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.WorldCovering(t, e)
			var r risks.Risk
			riskAPI(t, h, "sme.analyst", http.MethodPost, "/api/v1/risks", map[string]any{"title": "Dependency on Wolke Cloud AG", "likelihood": 3, "impact": 5,
				"treatment": "mitigate", "controls": "ERP export", "co_owners": []string{h.Orgs["cloud"]}, "tlp": "AMBER", "audience": "community", "community_id": h.Circle}, http.StatusCreated, &r)
			if len(r.Parts) != 2 || r.Parts[0].OrgID != h.Orgs["sme"] || r.Parts[1].OrgID != h.Orgs["cloud"] || r.Inherent != 15 || r.Residual != 15 {
				t.Fatalf("new joint risk: %+v", r)
			}
			path := "/api/v1/risks/" + r.ID
			riskAPI(t, h, "cloud.analyst", http.MethodPatch, path, map[string]any{"part": map[string]any{"controls": "two data centres", "due": "2030-06-30"}}, http.StatusOK, &r)
			if r.Parts[1].Controls != "two data centres" || r.Parts[0].Controls != "ERP export" || !r.Parts[1].Mine || r.Parts[0].Mine {
				t.Errorf("after Wolke's edit of its part: %+v", r.Parts)
			}
			refused := []struct {
				who, code string
				status    int
				body      map[string]any
			}{
				{"cloud.analyst", "risk_owner_only", http.StatusForbidden, map[string]any{"title": "Wolke renames it"}},
				{"cloud.analyst", "risk_owner_only", http.StatusForbidden, map[string]any{"residual_likelihood": 1}},
				{"cloud.analyst", "risk_part_not_yours", http.StatusForbidden, map[string]any{"part": map[string]any{"org_id": h.Orgs["sme"], "controls": "none"}}},
				{"sme.analyst", "risk_part_not_yours", http.StatusForbidden, map[string]any{"part": map[string]any{"org_id": h.Orgs["cloud"], "controls": "none"}}},
				{"cert.analyst", "risk_not_owner", http.StatusForbidden, map[string]any{"part": map[string]any{"controls": "none"}}},
				{"cert.analyst", "risk_owner_only", http.StatusForbidden, map[string]any{"title": "CERT renames it"}},
				{"sme.viewer", "role_insufficient", http.StatusForbidden, map[string]any{"part": map[string]any{"controls": "none"}}},
				{"outsider.admin", "not_found", http.StatusNotFound, map[string]any{"part": map[string]any{"controls": "none"}}},
				{"sme.analyst", "bad_level", http.StatusBadRequest, map[string]any{"title": "half", "likelihood": 9}},
			}
			for _, c := range refused {
				resp := h.API(t, h.Users[c.who].WriteToken, http.MethodPatch, path, c.body)
				if resp.Status != c.status || resp.ErrorCode() != c.code {
					t.Errorf("%s PATCH %v: %d %s, want %d %s", c.who, c.body, resp.Status, resp.Body, c.status, c.code)
				}
			}
			var now risks.Risk
			riskAPI(t, h, "sme.analyst", http.MethodGet, path, nil, http.StatusOK, &now)
			if now.Title != "Dependency on Wolke Cloud AG" || now.Parts[0].Controls != "ERP export" || now.Parts[1].Controls != "two data centres" || now.Version != 2 {
				t.Errorf("after the refusals the risk changed: %+v", now)
			}
			// The owner changes the risk's fields; the history says who
			// changed what.
			riskAPI(t, h, "sme.analyst", http.MethodPatch, path, map[string]any{"residual_likelihood": 2, "residual_impact": 4, "appetite": 6}, http.StatusOK, &now)
			if now.Residual != 8 || !now.AboveAppetite || now.DueAt == 0 {
				t.Errorf("after the owner's edit: residual %d, above appetite %v, due %d", now.Residual, now.AboveAppetite, now.DueAt)
			}
			var hist struct{ Items []risks.Change }
			riskAPI(t, h, "cloud.analyst", http.MethodGet, path+"/history", nil, http.StatusOK, &hist)
			fields := map[string]string{}
			for _, c := range hist.Items {
				fields[c.Field] = c.UserName + " " + c.Old + "→" + c.New
			}
			for f, want := range map[string]string{"created": "sme.analyst →Dependency on Wolke Cloud AG", "part.controls": "cloud.analyst →two data centres",
				"part.due": "cloud.analyst →2030-06-30", "residual_likelihood": "sme.analyst 3→2", "appetite": "sme.analyst 9→6"} {
				if fields[f] != want {
					t.Errorf("history of %s: %q, want %q", f, fields[f], want)
				}
			}
			// The page writes the history's dates as the hub writes dates.
			de := string(h.Login(t, h.Users["sme.analyst"]).Get(t, "/risks/"+r.ID+"?lang=de").Body)
			if !strings.Contains(de, `<span class="new">30.06.2030</span>`) || strings.Contains(de, `<span class="new">2030-06-30</span>`) {
				t.Errorf("the German history does not write the due date as 30.06.2030")
			}
			// The audience is said once, without a second label before it.
			if strings.Contains(de, "Empfängerkreis: Vertrauenskreis") {
				t.Errorf("the risk page labels its audience twice")
			}
			// A co-owner that cannot read the risk is refused, and nothing
			// is written.
			before := len(apptest.ListIDs(t, &apptest.LeakCase{Hub: h}, h.Users["sme.analyst"], "/api/v1/risks"))
			resp := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/risks", map[string]any{"title": "x", "likelihood": 1, "impact": 1,
				"treatment": "accept", "co_owners": []string{h.Orgs["outsider"]}, "tlp": "AMBER", "audience": "community", "community_id": h.Circle})
			if resp.Status != http.StatusBadRequest || resp.ErrorCode() != "co_owner_cannot_see" {
				t.Errorf("a co-owner outside the circle: %d %s", resp.Status, resp.Body)
			}
			if after := len(apptest.ListIDs(t, &apptest.LeakCase{Hub: h}, h.Users["sme.analyst"], "/api/v1/risks")); after != before {
				t.Errorf("a refused risk was written: %d risks, before %d", after, before)
			}
		})
	}
}

// stream reads a live stream's events (as maps) until the test ends.
func riskStream(t *testing.T, h *apptest.Hub, token, topic string) <-chan map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URL+"/events?topic="+topic, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("open stream: %v %v", resp, err)
	}
	out := make(chan map[string]string, 100)
	ready := make(chan struct{})
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), ": connected") {
				close(ready)
			}
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var m map[string]string
				if json.Unmarshal([]byte(d), &m) == nil {
					out <- m
				}
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not connect")
	}
	return out
}

func nextRiskEvent(t *testing.T, ch <-chan map[string]string, typ string) map[string]string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-ch:
			if m["type"] == typ {
				return m
			}
		case <-deadline:
			t.Fatalf("no %s event", typ)
		}
	}
}

// TestRiskWorkshopVotesHiddenUntilReveal: three orgs score a risk; before
// the reveal nobody — the facilitator included — reads another's numbers
// in the API, the page or the live events, only who voted; the reveal is
// the facilitator's; after it everyone sees spread and median, a vote is
// refused (409), and the agreed score goes into the risk with who took
// part.
func TestRiskWorkshopVotesHiddenUntilReveal(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.WorldCovering(t, e)
			var r risks.Risk
			riskAPI(t, h, "sme.analyst", http.MethodPost, "/api/v1/risks", map[string]any{"title": "Missing offline backups", "likelihood": 4, "impact": 5,
				"treatment": "mitigate", "tlp": "AMBER", "audience": "community", "community_id": h.Circle}, http.StatusCreated, &r)
			var w risks.Workshop
			riskAPI(t, h, "sme.analyst", http.MethodPost, "/api/v1/risk-workshops", map[string]any{"title": "Autumn workshop", "risks": []string{r.ID}, "community_id": h.Circle}, http.StatusCreated, &w)
			ws := "/api/v1/risk-workshops/" + w.ID
			events := riskStream(t, h, h.Users["cert.analyst"].ReadToken, "risk-workshop:"+w.ID)
			riskAPI(t, h, "cloud.analyst", http.MethodPost, ws+"/votes", map[string]any{"risk_id": r.ID, "likelihood": 5, "impact": 2}, http.StatusOK, nil)
			ev := nextRiskEvent(t, events, "risks.workshop.vote")
			for k := range ev {
				if k != "type" && k != "id" && k != "workshop" && k != "risk" {
					t.Errorf("the live vote event carries %q: %v", k, ev)
				}
			}
			riskAPI(t, h, "cert.analyst", http.MethodPost, ws+"/votes", map[string]any{"risk_id": r.ID, "likelihood": 3, "impact": 3}, http.StatusOK, nil)
			riskAPI(t, h, "sme.analyst", http.MethodPost, ws+"/votes", map[string]any{"risk_id": r.ID, "likelihood": 4, "impact": 4}, http.StatusOK, nil)
			for _, who := range []string{"sme.analyst", "cloud.analyst", "cert.analyst"} {
				resp := riskAPI(t, h, who, http.MethodGet, ws, nil, http.StatusOK, &w)
				it := w.Items[0]
				if len(it.Voters) != 3 || it.Votes != nil || it.Spread != nil || it.MyVote == nil {
					t.Errorf("%s before the reveal: %+v", who, it)
				}
				var raw map[string]any
				resp.JSON(t, &raw)
				if strings.Count(string(resp.Body), `"likelihood"`) != 1 {
					t.Errorf("%s reads more than its own vote before the reveal: %s", who, resp.Body)
				}
				page := h.Login(t, h.Users[who]).Get(t, "/risk-workshops/"+w.ID)
				if strings.Contains(string(page.Body), `class="votes"`) || strings.Contains(string(page.Body), `class="facts spread"`) || !strings.Contains(string(page.Body), "3 voted") {
					t.Errorf("%s's workshop page before the reveal shows votes or not who voted", who)
				}
			}
			if resp := h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPost, ws+"/reveal", nil); resp.Status != http.StatusForbidden || resp.ErrorCode() != "workshop_facilitator_only" {
				t.Errorf("reveal by another person: %d %s", resp.Status, resp.Body)
			}
			if resp := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, ws+"/agreements", map[string]any{"risk_id": r.ID, "likelihood": 4, "impact": 4}); resp.Status != http.StatusConflict || resp.ErrorCode() != "workshop_not_revealed" {
				t.Errorf("agreement before the reveal: %d %s", resp.Status, resp.Body)
			}
			riskAPI(t, h, "sme.analyst", http.MethodPost, ws+"/reveal", nil, http.StatusOK, &w)
			nextRiskEvent(t, events, "risks.workshop.reveal")
			riskAPI(t, h, "cloud.analyst", http.MethodGet, ws, nil, http.StatusOK, &w)
			sp := w.Items[0].Spread
			if len(w.Items[0].Votes) != 3 || sp == nil || sp.MedianLikelihood != 4 || sp.MinLikelihood != 3 || sp.MaxLikelihood != 5 || sp.MedianImpact != 3 {
				t.Errorf("after the reveal: %+v %+v", w.Items[0].Votes, sp)
			}
			resp := h.API(t, h.Users["cert.analyst"].WriteToken, http.MethodPost, ws+"/votes", map[string]any{"risk_id": r.ID, "likelihood": 1, "impact": 1})
			if resp.Status != http.StatusConflict || resp.ErrorCode() != "workshop_revealed" {
				t.Errorf("a vote after the reveal: %d %s, want 409 workshop_revealed", resp.Status, resp.Body)
			}
			riskAPI(t, h, "cert.analyst", http.MethodGet, ws, nil, http.StatusOK, &w)
			if w.Items[0].MyVote.Likelihood != 3 {
				t.Errorf("the refused vote changed the stored one: %+v", w.Items[0].MyVote)
			}
			riskAPI(t, h, "cert.analyst", http.MethodPost, ws+"/comments", map[string]any{"body": "Median is fine"}, http.StatusCreated, nil)
			nextRiskEvent(t, events, "risks.workshop.comment")
			riskAPI(t, h, "sme.analyst", http.MethodPost, ws+"/agreements", map[string]any{"risk_id": r.ID, "likelihood": 4, "impact": 3}, http.StatusOK, &w)
			if w.Status != risks.WorkshopClosed || w.Items[0].Agreed == nil || w.Items[0].Agreed.Score != 12 || !w.Items[0].Agreed.Applied {
				t.Errorf("after the agreement: %+v", w)
			}
			riskAPI(t, h, "cloud.analyst", http.MethodGet, "/api/v1/risks/"+r.ID, nil, http.StatusOK, &r)
			if r.ResidualLikelihood != 4 || r.ResidualImpact != 3 || r.Residual != 12 {
				t.Errorf("the agreed score is not the risk's residual: %+v", r)
			}
			var hist struct{ Items []risks.Change }
			riskAPI(t, h, "cert.analyst", http.MethodGet, "/api/v1/risks/"+r.ID+"/history", nil, http.StatusOK, &hist)
			last := hist.Items[len(hist.Items)-1]
			if last.Field != "residual_impact" || !strings.Contains(last.Note, "Autumn workshop") || !strings.Contains(last.Note, "cloud.analyst (Wolke Cloud AG)") ||
				!strings.Contains(last.Note, "cert.analyst (CERT Süd)") || !strings.Contains(last.Note, "sme.analyst (Müller Maschinenbau GmbH)") {
				t.Errorf("the history does not say who took part: %+v", last)
			}
			// The outsider reads nothing of it.
			if resp := h.API(t, h.Users["outsider.admin"].ReadToken, http.MethodGet, ws, nil); resp.Status != http.StatusNotFound {
				t.Errorf("the outsider reads the workshop: %d", resp.Status)
			}
		})
	}
}

// TestRiskExportDefusesFormulas: a title a spreadsheet would run is
// exported with an apostrophe in front; the file starts with a UTF-8
// byte order mark (Excel reads umlauts right), separates by commas, or
// by semicolons on ?sep=semicolon, which the German register links to.
func TestRiskExportDefusesFormulas(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.WorldCovering(t, e)
			riskAPI(t, h, "sme.analyst", http.MethodPost, "/api/v1/risks", map[string]any{"title": `=HYPERLINK("http://evil.example","x")`, "likelihood": 2, "impact": 2,
				"treatment": "accept", "tlp": "AMBER", "audience": "org"}, http.StatusCreated, nil)
			riskAPI(t, h, "sme.analyst", http.MethodPost, "/api/v1/risks", map[string]any{"title": "Ausfall der Kühlung; Rechenzentrum", "likelihood": 1, "impact": 1,
				"treatment": "accept", "tlp": "AMBER", "audience": "org"}, http.StatusCreated, nil)
			read := func(path string, sep rune) [][]string {
				t.Helper()
				resp := riskAPI(t, h, "sme.analyst", http.MethodGet, path, nil, http.StatusOK, nil)
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
					t.Errorf("export content type %q", ct)
				}
				body, ok := strings.CutPrefix(string(resp.Body), "\ufeff")
				if !ok {
					t.Errorf("%s does not start with a UTF-8 byte order mark: %q", path, resp.Body[:min(8, len(resp.Body))])
				}
				cr := csv.NewReader(strings.NewReader(body))
				cr.Comma = sep
				recs, err := cr.ReadAll()
				if err != nil || len(recs) != 3 || len(recs[0]) != 17 {
					t.Fatalf("%s: %q %v", path, recs, err)
				}
				return recs
			}
			for path, sep := range map[string]rune{"/api/v1/risks/export": ',', "/api/v1/risks/export?sep=comma": ',', "/api/v1/risks/export?sep=semicolon": ';'} {
				recs := read(path, sep)
				titles := []string{recs[1][1], recs[2][1]}
				if !slices.Contains(titles, `'=HYPERLINK("http://evil.example","x")`) || !slices.Contains(titles, "Ausfall der Kühlung; Rechenzentrum") {
					t.Errorf("%s: titles %q", path, titles)
				}
			}
			if resp := h.API(t, h.Users["sme.analyst"].ReadToken, http.MethodGet, "/api/v1/risks/export?sep=tab", nil); resp.Status != http.StatusBadRequest || resp.ErrorCode() != "bad_csv_separator" {
				t.Errorf("an unknown separator: %d %s", resp.Status, resp.Body)
			}
			// The register page's export link works signed in with a session;
			// the German page's link asks for semicolons.
			b := h.Login(t, h.Users["sme.analyst"])
			if page := b.Get(t, "/api/v1/risks/export"); page.Status != http.StatusOK || !strings.Contains(string(page.Body), "'=HYPERLINK") {
				t.Errorf("the export signed in: %d %s", page.Status, page.Body)
			}
			if de := string(b.Get(t, "/risks?lang=de").Body); !strings.Contains(de, `href="/api/v1/risks/export?sep=semicolon"`) {
				t.Errorf("the German register does not link the semicolon export")
			}
			if de := string(b.Get(t, "/risks?lang=de&above_appetite=1").Body); !strings.Contains(de, `href="/api/v1/risks/export?above_appetite=1&amp;sep=semicolon"`) {
				t.Errorf("the German register's export link drops the filter")
			}
			if en := string(b.Get(t, "/risks?lang=en").Body); !strings.Contains(en, `href="/api/v1/risks/export"`) {
				t.Errorf("the English register does not link the comma export")
			}
		})
	}
}

// TestRiskMatrixPerOrg: an org's admins set its matrix; its risks are
// scored on it; each reader's heatmap is drawn on the reader's org's
// matrix with risks of other sizes placed proportionally.
func TestRiskMatrixPerOrg(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.WorldCovering(t, e)
			m := map[string]any{"likelihood_levels": 3, "impact_levels": 3, "appetite": 4, "labels": map[string]any{
				"de": map[string]any{"likelihood": []string{"selten", "möglich", "häufig"}, "impact": []string{"klein", "mittel", "groß"}},
				"en": map[string]any{"likelihood": []string{"rare", "possible", "frequent"}, "impact": []string{"small", "medium", "large"}}}}
			if r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPut, "/api/v1/risk-matrix", m); r.Status != http.StatusForbidden || r.ErrorCode() != "risk_matrix_admin_only" {
				t.Errorf("an analyst sets the matrix: %d %s", r.Status, r.Body)
			}
			if r := h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPut, "/api/v1/risk-matrix", map[string]any{"likelihood_levels": 9, "impact_levels": 3}); r.Status != http.StatusBadRequest || r.ErrorCode() != "bad_matrix_size" {
				t.Errorf("a 9×3 matrix: %d %s", r.Status, r.Body)
			}
			riskAPI(t, h, "sme.admin", http.MethodPut, "/api/v1/risk-matrix", m, http.StatusOK, nil)
			circle := func(title string, l, i int) map[string]any {
				return map[string]any{"title": title, "likelihood": l, "impact": i, "treatment": "mitigate", "tlp": "AMBER", "audience": "community", "community_id": h.Circle}
			}
			if r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/risks", circle("too high", 4, 1)); r.Status != http.StatusBadRequest || r.ErrorCode() != "bad_level" {
				t.Errorf("level 4 on a 3×3 matrix: %d %s", r.Status, r.Body)
			}
			var small, big risks.Risk
			riskAPI(t, h, "sme.analyst", http.MethodPost, "/api/v1/risks", circle("small scale", 3, 3), http.StatusCreated, &small)
			riskAPI(t, h, "cloud.analyst", http.MethodPost, "/api/v1/risks", circle("big scale", 5, 1), http.StatusCreated, &big)
			if small.LikelihoodLevels != 3 || small.Appetite != 4 || !small.AboveAppetite || big.LikelihoodLevels != 5 || big.Appetite != 9 {
				t.Errorf("scored on their owners' matrices: %+v / %+v", small, big)
			}
			cell := func(who string, l, i int) (int, []string) {
				var hm risks.Heatmap
				riskAPI(t, h, who, http.MethodGet, "/api/v1/risks/heatmap", nil, http.StatusOK, &hm)
				for _, c := range hm.Cells {
					if c.Likelihood == l && c.Impact == i {
						var names []string
						for _, r := range c.Risks {
							names = append(names, r.Title)
						}
						return c.Count, names
					}
				}
				t.Fatalf("%s's heatmap has no cell %d×%d: %+v", who, l, i, hm)
				return 0, nil
			}
			if n, names := cell("cert.analyst", 5, 5); n != 1 || len(names) != 1 || names[0] != "small scale" {
				t.Errorf("CERT's 5×5 heatmap, cell 5×5: %d %v, want the 3×3 risk", n, names)
			}
			if n, names := cell("sme.analyst", 3, 1); n != 1 || names[0] != "big scale" {
				t.Errorf("Müller's 3×3 heatmap, cell 3×1: %d %v, want Wolke's 5×1 risk", n, names)
			}
			page := h.Login(t, h.Users["sme.analyst"]).Get(t, "/risks")
			if !strings.Contains(string(page.Body), "frequent") || strings.Count(string(page.Body), `class="heatmap-cell`) != 9 {
				t.Errorf("Müller's register page does not draw its 3×3 matrix with its labels")
			}
		})
	}
}

// TestRiskLinksShowWhatTheReaderMaySee: a risk links an advisory (shown
// with its CVSS score), an asset of its owner (only the owner's people see
// it) and a playbook by id; a link to an advisory the writer cannot see is
// refused like one that does not exist.
func TestRiskLinksShowWhatTheReaderMaySee(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.WorldCovering(t, e)
			advisory := func(u, tracking string, q url.Values) string {
				if r := vulnstest.Import(t, h, h.Users[u], vulnstest.Document(tracking, "Gateway "+tracking, "1", ""), q); r.Status != http.StatusOK {
					t.Fatalf("import %s: %d %s", tracking, r.Status, r.Body)
				}
				var list struct{ Items []struct{ ID string } }
				riskAPI(t, h, u, http.MethodGet, "/api/v1/advisories?q="+tracking, nil, http.StatusOK, &list)
				if len(list.Items) != 1 {
					t.Fatalf("advisory %s: %+v", tracking, list)
				}
				return list.Items[0].ID
			}
			shared := advisory("sme.analyst", "WCSA-2026-0101", url.Values{"tlp": {"GREEN"}, "audience": {"community"}, "community_id": {h.Circle}})
			hidden := advisory("cloud.analyst", "WCSA-2026-0102", url.Values{"tlp": {"AMBER"}, "audience": {"org"}})
			asset, err := h.App.Vulns.CreateAsset(context.Background(), h.Users["sme.admin"].Actor, vulns.NewAsset{Name: "edge-gw-01", Vendor: "Wolke", Product: "Wolke Gateway", Version: "2.4.1"})
			if err != nil {
				t.Fatal(err)
			}
			body := map[string]any{"title": "Unpatched VPN appliance", "likelihood": 4, "impact": 5, "treatment": "mitigate", "tlp": "AMBER", "audience": "community", "community_id": h.Circle,
				"links": []map[string]string{{"type": "vuln_advisory", "id": shared}, {"type": "vuln_asset", "id": asset.ID}, {"type": "playbook", "id": "playbook--ransomware-1"}}}
			var r risks.Risk
			riskAPI(t, h, "sme.analyst", http.MethodPost, "/api/v1/risks", body, http.StatusCreated, &r)
			byType := func(r risks.Risk) map[string]risks.Link {
				out := map[string]risks.Link{}
				for _, l := range r.Links {
					out[l.Type] = l
				}
				return out
			}
			mine := byType(r)
			if l := mine["vuln_advisory"]; l.ID != shared || l.CVSS != 9.8 || !strings.Contains(l.Name, "WCSA-2026-0101") {
				t.Errorf("the advisory link: %+v", l)
			}
			if mine["vuln_asset"].Name != "edge-gw-01" || mine["playbook"].ID != "playbook--ransomware-1" {
				t.Errorf("the owner's links: %+v", r.Links)
			}
			var theirs risks.Risk
			riskAPI(t, h, "cloud.analyst", http.MethodGet, "/api/v1/risks/"+r.ID, nil, http.StatusOK, &theirs)
			if l := byType(theirs); l["vuln_asset"].ID != "" || l["vuln_advisory"].CVSS != 9.8 || len(theirs.Links) != 2 {
				t.Errorf("Wolke reads the links %+v, want the advisory and the playbook, not Müller's asset", theirs.Links)
			}
			// The page writes the score as the reader's language writes numbers.
			b := h.Login(t, h.Users["cloud.analyst"])
			if de := string(b.Get(t, "/risks/"+r.ID+"?lang=de").Body); !strings.Contains(de, `CVSS <span class="cvss">9,8</span>`) {
				t.Errorf("the German risk page does not write the CVSS score as 9,8")
			}
			if en := string(b.Get(t, "/risks/"+r.ID+"?lang=en").Body); !strings.Contains(en, `CVSS <span class="cvss">9.8</span>`) {
				t.Errorf("the English risk page does not write the CVSS score as 9.8")
			}
			body["links"] = []map[string]string{{"type": "vuln_advisory", "id": hidden}}
			if resp := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/risks", body); resp.Status != http.StatusBadRequest || resp.ErrorCode() != "risk_link_unknown" {
				t.Errorf("a link to an advisory Müller cannot see: %d %s", resp.Status, resp.Body)
			}
		})
	}
}

// TestRiskWorkshopScoreOnlyByTheOwnerOrg: Wolke co-owns Müller's risk and
// facilitates a workshop on it alone; its agreed score is the workshop's,
// offered to Müller, and becomes the risk's residual only when Müller
// applies it — Wolke cannot apply it, nor change the risk through the
// workshop.
func TestRiskWorkshopScoreOnlyByTheOwnerOrg(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.WorldCovering(t, e)
			var r risks.Risk
			riskAPI(t, h, "sme.analyst", http.MethodPost, "/api/v1/risks", map[string]any{"title": "Abhängigkeit von Wolke Cloud AG", "likelihood": 4, "impact": 5,
				"treatment": "mitigate", "co_owners": []string{h.Orgs["cloud"]}, "tlp": "AMBER", "audience": "community", "community_id": h.Circle}, http.StatusCreated, &r)
			path := "/api/v1/risks/" + r.ID
			var w risks.Workshop
			riskAPI(t, h, "cloud.analyst", http.MethodPost, "/api/v1/risk-workshops", map[string]any{"title": "Wolke alone", "risks": []string{r.ID}, "community_id": h.Circle}, http.StatusCreated, &w)
			ws := "/api/v1/risk-workshops/" + w.ID
			riskAPI(t, h, "cloud.analyst", http.MethodPost, ws+"/votes", map[string]any{"risk_id": r.ID, "likelihood": 1, "impact": 1}, http.StatusOK, nil)
			riskAPI(t, h, "cloud.analyst", http.MethodPost, ws+"/reveal", nil, http.StatusOK, nil)
			riskAPI(t, h, "cloud.analyst", http.MethodPost, ws+"/agreements", map[string]any{"risk_id": r.ID, "likelihood": 1, "impact": 1}, http.StatusOK, &w)
			if w.Items[0].Agreed == nil || w.Items[0].Agreed.Score != 1 || w.Items[0].Agreed.Applied {
				t.Errorf("the workshop does not record its agreed score as offered: %+v", w.Items[0].Agreed)
			}
			if page := h.Login(t, h.Users["cloud.analyst"]).Get(t, "/risk-workshops/"+w.ID); !strings.Contains(string(page.Body), `id="offered-`+r.ID+`"`) {
				t.Errorf("the workshop page does not say the score is offered to the owner")
			}
			var now risks.Risk
			riskAPI(t, h, "sme.analyst", http.MethodGet, path, nil, http.StatusOK, &now)
			if now.Residual != 20 || now.Version != 1 {
				t.Errorf("a co-owner's workshop changed the owner's risk: residual %d×%d by %s, version %d", now.ResidualLikelihood, now.ResidualImpact, now.UpdatedByName, now.Version)
			}
			if len(now.WorkshopScores) != 1 || now.WorkshopScores[0].WorkshopID != w.ID || now.WorkshopScores[0].Score != 1 {
				t.Fatalf("the owner is not offered the workshop's score: %+v", now.WorkshopScores)
			}
			if page := h.Login(t, h.Users["sme.analyst"]).Get(t, "/risks/"+r.ID); !strings.Contains(string(page.Body), `id="apply-`+w.ID+`"`) {
				t.Errorf("the owner's risk page offers no way to apply the workshop's score")
			}
			if page := h.Login(t, h.Users["cloud.analyst"]).Get(t, "/risks/"+r.ID); strings.Contains(string(page.Body), `id="apply-`+w.ID+`"`) {
				t.Errorf("the co-owner's risk page offers to apply the score")
			}
			for _, c := range []struct{ who, code string }{{"cloud.analyst", "risk_owner_only"}, {"cert.analyst", "risk_owner_only"}, {"sme.viewer", "role_insufficient"}} {
				if resp := h.API(t, h.Users[c.who].WriteToken, http.MethodPatch, path, map[string]any{"apply_workshop": w.ID}); resp.Status != http.StatusForbidden || resp.ErrorCode() != c.code {
					t.Errorf("%s applies the workshop's score: %d %s, want 403 %s", c.who, resp.Status, resp.Body, c.code)
				}
			}
			if resp := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPatch, path, map[string]any{"apply_workshop": "no-such-workshop"}); resp.Status != http.StatusBadRequest || resp.ErrorCode() != "workshop_score_unknown" {
				t.Errorf("applying an unknown workshop: %d %s", resp.Status, resp.Body)
			}
			riskAPI(t, h, "sme.analyst", http.MethodGet, path, nil, http.StatusOK, &now)
			if now.Residual != 20 || now.Version != 1 {
				t.Errorf("a refused apply changed the risk: %+v", now)
			}
			// The owner applies it: the history names the workshop and who
			// took part; the offer is gone and cannot be applied twice.
			// (the page's button: a form of its own on the risk page)
			if resp := h.Login(t, h.Users["sme.analyst"]).PostForm(t, "/risks/"+r.ID, url.Values{"apply_workshop": {w.ID}}); resp.Status != http.StatusSeeOther {
				t.Fatalf("the owner applies the workshop's score on the page: %d %s", resp.Status, resp.Body)
			}
			riskAPI(t, h, "sme.analyst", http.MethodGet, path, nil, http.StatusOK, &now)
			if now.Residual != 1 || now.UpdatedByName != "sme.analyst" || len(now.WorkshopScores) != 0 {
				t.Errorf("after the owner applied the score: residual %d by %s, offers %+v", now.Residual, now.UpdatedByName, now.WorkshopScores)
			}
			var hist struct{ Items []risks.Change }
			riskAPI(t, h, "cert.analyst", http.MethodGet, path+"/history", nil, http.StatusOK, &hist)
			last := hist.Items[len(hist.Items)-1]
			if last.Field != "residual_impact" || last.UserName != "sme.analyst" || last.WorkshopID != w.ID || !strings.Contains(last.Note, "Wolke alone: cloud.analyst (Wolke Cloud AG)") {
				t.Errorf("the history of the applied score: %+v", last)
			}
			if resp := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPatch, path, map[string]any{"apply_workshop": w.ID}); resp.Status != http.StatusBadRequest || resp.ErrorCode() != "workshop_score_unknown" {
				t.Errorf("applying the score twice: %d %s", resp.Status, resp.Body)
			}
			riskAPI(t, h, "cloud.analyst", http.MethodGet, ws, nil, http.StatusOK, &w)
			if !w.Items[0].Agreed.Applied {
				t.Errorf("the workshop does not know its score was applied: %+v", w.Items[0].Agreed)
			}
		})
	}
}

// TestRiskHistoryShowsWhatTheReaderMaySee: a risk's history shows a
// reader only the links it may see (a change of hidden links not at
// all), the trust circle by its name and only to its members, and a
// workshop's title and participants only to the workshop's readers.
func TestRiskHistoryShowsWhatTheReaderMaySee(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.WorldCovering(t, e)
			asset, err := h.App.Vulns.CreateAsset(context.Background(), h.Users["sme.admin"].Actor, vulns.NewAsset{Name: "erp-db-01", Vendor: "Wolke", Product: "Wolke DB", Version: "1.0"})
			if err != nil {
				t.Fatal(err)
			}
			var r risks.Risk
			riskAPI(t, h, "sme.analyst", http.MethodPost, "/api/v1/risks", map[string]any{"title": "ERP outage", "likelihood": 3, "impact": 4,
				"treatment": "mitigate", "co_owners": []string{h.Orgs["cloud"]}, "tlp": "AMBER", "audience": "community", "community_id": h.Circle}, http.StatusCreated, &r)
			path := "/api/v1/risks/" + r.ID
			riskAPI(t, h, "sme.analyst", http.MethodPatch, path, map[string]any{"links": []map[string]string{{"type": "vuln_asset", "id": asset.ID}}}, http.StatusOK, nil)
			riskAPI(t, h, "sme.analyst", http.MethodPatch, path, map[string]any{"sharing": map[string]any{"tlp": "GREEN", "audience": "community", "community_id": h.Circle}}, http.StatusOK, nil)
			var w risks.Workshop
			riskAPI(t, h, "sme.analyst", http.MethodPost, "/api/v1/risk-workshops", map[string]any{"title": "Müller internal review", "risks": []string{r.ID}, "tlp": "AMBER", "audience": "org"}, http.StatusCreated, &w)
			ws := "/api/v1/risk-workshops/" + w.ID
			riskAPI(t, h, "sme.analyst", http.MethodPost, ws+"/votes", map[string]any{"risk_id": r.ID, "likelihood": 2, "impact": 2}, http.StatusOK, nil)
			riskAPI(t, h, "sme.analyst", http.MethodPost, ws+"/reveal", nil, http.StatusOK, nil)
			riskAPI(t, h, "sme.analyst", http.MethodPost, ws+"/agreements", map[string]any{"risk_id": r.ID, "likelihood": 2, "impact": 2}, http.StatusOK, nil)

			var circle struct {
				Name string `json:"name"`
			}
			if err := h.App.DB.R().QueryRow(context.Background(), `SELECT name FROM communities WHERE id = ?`, h.Circle).Scan(&circle.Name); err != nil {
				t.Fatal(err)
			}
			history := func(who string) (apptest.Response, map[string]risks.Change) {
				var hist struct{ Items []risks.Change }
				resp := riskAPI(t, h, who, http.MethodGet, path+"/history", nil, http.StatusOK, &hist)
				out := map[string]risks.Change{}
				for _, c := range hist.Items {
					out[c.Field] = c
				}
				return resp, out
			}
			_, mine := history("sme.analyst")
			if c := mine["links"]; c.New != "vuln_asset:"+asset.ID {
				t.Errorf("the owner's history of links: %+v", c)
			}
			if c := mine["residual_impact"]; c.WorkshopID != w.ID || !strings.Contains(c.Note, "Müller internal review: sme.analyst (Müller Maschinenbau GmbH)") {
				t.Errorf("the owner's history of the workshop's score: %+v", c)
			}
			if c := mine["sharing"]; c.Old != "TLP:AMBER community "+circle.Name || c.New != "TLP:GREEN community "+circle.Name {
				t.Errorf("the owner's history of sharing: %+v", c)
			}
			for _, who := range []string{"cloud.analyst", "cert.analyst"} {
				resp, theirs := history(who)
				body := string(resp.Body)
				for _, hidden := range []string{asset.ID, "vuln_asset", "Müller internal review", w.ID, h.Circle} {
					if strings.Contains(body, hidden) {
						t.Errorf("%s reads %q in the risk's history: %s", who, hidden, body)
					}
				}
				if _, ok := theirs["links"]; ok {
					t.Errorf("%s reads a change of links it cannot see: %+v", who, theirs["links"])
				}
				if c := theirs["residual_impact"]; !c.InWorkshop || c.Note != "" || c.New != "2" {
					t.Errorf("%s's history of the workshop's score: %+v", who, c)
				}
				if c := theirs["sharing"]; c.New != "TLP:GREEN community "+circle.Name {
					t.Errorf("%s's history of sharing: %+v", who, c)
				}
				page := string(h.Login(t, h.Users[who]).Get(t, "/risks/"+r.ID).Body)
				page = page[strings.Index(page, `id="history"`):]
				for _, hidden := range []string{asset.ID, "Müller internal review", h.Circle} {
					if strings.Contains(page, hidden) {
						t.Errorf("%s's risk page shows %q", who, hidden)
					}
				}
				if !strings.Contains(page, "agreed in a workshop") {
					t.Errorf("%s's risk page does not say the score was agreed in a workshop", who)
				}
			}
		})
	}
}

// TestRiskWorkshopChoicesAreDeliberate: a workshop takes no accidental
// choice — the vote starts empty, the reveal waits for a vote on every
// risk (409 workshop_no_votes, the button disabled), the agree form starts
// at the medians, the vote's notice stands in the part the reveal
// replaces, and agreeing the score a risk already has is shown as
// confirmed, not as a change.
func TestRiskWorkshopChoicesAreDeliberate(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.WorldCovering(t, e)
			var r risks.Risk
			riskAPI(t, h, "sme.analyst", http.MethodPost, "/api/v1/risks", map[string]any{"title": "Ransomware on the ERP", "likelihood": 4, "impact": 5,
				"residual_likelihood": 3, "residual_impact": 5, "treatment": "mitigate", "tlp": "AMBER", "audience": "community", "community_id": h.Circle}, http.StatusCreated, &r)
			var w risks.Workshop
			riskAPI(t, h, "sme.analyst", http.MethodPost, "/api/v1/risk-workshops", map[string]any{"title": "Winter workshop", "risks": []string{r.ID}, "community_id": h.Circle}, http.StatusCreated, &w)
			ws := "/api/v1/risk-workshops/" + w.ID
			if resp := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, ws+"/reveal", nil); resp.Status != http.StatusConflict || resp.ErrorCode() != "workshop_no_votes" {
				t.Errorf("a reveal without votes: %d %s, want 409 workshop_no_votes", resp.Status, resp.Body)
			}
			b := h.Login(t, h.Users["sme.analyst"])
			page := string(b.Get(t, "/risk-workshops/"+w.ID+"?lang=de").Body)
			if !strings.Contains(page, `id="reveal" disabled`) {
				t.Errorf("the reveal button is not disabled before any vote")
			}
			if !strings.Contains(page, `name="likelihood" required><option value="">– wählen –</option>`) {
				t.Errorf("the vote does not start with an empty required choice")
			}
			resp := b.PostForm(t, "/risk-workshops/"+w.ID+"/votes", url.Values{"risk_id": {r.ID}, "likelihood": {"3"}, "impact": {"5"}})
			loc := resp.Header.Get("Location")
			if resp.Status != http.StatusSeeOther || strings.Contains(loc, "ok=") {
				t.Fatalf("the vote form: %d %s", resp.Status, loc)
			}
			page = string(b.Get(t, loc).Body)
			if !strings.Contains(page, `id="vote-saved-`+r.ID+`"`) || strings.Contains(page, `id="reveal" disabled`) {
				t.Errorf("after the vote the notice is not beside the form or the reveal is still disabled")
			}
			riskAPI(t, h, "cloud.analyst", http.MethodPost, ws+"/votes", map[string]any{"risk_id": r.ID, "likelihood": 3, "impact": 4}, http.StatusOK, nil)
			riskAPI(t, h, "sme.analyst", http.MethodPost, ws+"/reveal", nil, http.StatusOK, nil)
			page = string(b.Get(t, loc).Body)
			if strings.Contains(page, `id="vote-saved-`) {
				t.Errorf("the vote's notice stays after the reveal")
			}
			// Medians 3 and 4.5: the agree form starts at 3 × 5.
			for _, sel := range []string{`id="a-l-` + r.ID + `"`, `id="a-i-` + r.ID + `"`} {
				i := strings.Index(page, sel)
				if i < 0 {
					t.Fatalf("no agree form %s", sel)
				}
				form := page[i : i+strings.Index(page[i:], "</select>")]
				want := map[bool]string{true: `<option value="3" selected>`, false: `<option value="5" selected>`}[strings.Contains(sel, "a-l-")]
				if !strings.Contains(form, want) {
					t.Errorf("the agree form %s does not start at the median: %s", sel, form)
				}
			}
			if !strings.Contains(page, "4,5") {
				t.Errorf("the German page does not write the median 4.5 as 4,5")
			}
			riskAPI(t, h, "sme.analyst", http.MethodPost, ws+"/agreements", map[string]any{"risk_id": r.ID, "likelihood": 3, "impact": 5}, http.StatusOK, nil)
			var hist struct{ Items []risks.Change }
			riskAPI(t, h, "sme.analyst", http.MethodGet, "/api/v1/risks/"+r.ID+"/history", nil, http.StatusOK, &hist)
			for _, c := range hist.Items {
				if c.Field == "residual_likelihood" || c.Field == "residual_impact" {
					t.Errorf("an unchanged agreed score is recorded as a change: %+v", c)
				}
			}
			de := string(b.Get(t, "/risks/"+r.ID+"?lang=de").Body)
			if !strings.Contains(de, "3×5 bestätigt") || strings.Contains(de, "→ <span class=\"new\">3×5") {
				t.Errorf("the history does not show the unchanged score as confirmed")
			}
			if en := string(b.Get(t, "/risk-workshops/"+w.ID+"?lang=en").Body); !strings.Contains(en, `data-status="closed">Closed<`) {
				t.Errorf("the English status does not start with a capital")
			}
		})
	}
}

// TestRiskExportEndsWithItsCredential: the register's export is pages of
// 200, each judged afresh; before each page but the first it asks whether
// the request's credential still holds (web.Recheck, which the long
// route's guard provides) and ends with the answer when it does not, and
// the route runs without the request's remembered state (a long route).
func TestRiskExportEndsWithItsCredential(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	ctx := context.Background()
	sme := h.Users["sme.analyst"]
	for i := range 201 {
		if _, err := h.App.Risks.CreateRisk(ctx, sme.Actor, risks.NewRisk{Title: fmt.Sprintf("risk %d", i), Likelihood: 2, Impact: 2,
			Treatment: "accept", Sharing: policy.Sharing{TLP: "AMBER", Audience: "org"}}); err != nil {
			t.Fatal(err)
		}
	}
	// Whole, over HTTP: a header and 201 rows.
	resp := riskAPI(t, h, "sme.analyst", http.MethodGet, "/api/v1/risks/export", nil, http.StatusOK, nil)
	if recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(resp.Body), "\ufeff"))).ReadAll(); err != nil || len(recs) != 202 {
		t.Fatalf("the export: %d records, %v; want 202", len(recs), err)
	}
	asked := 0
	rctx := web.WithRecheck(ctx, func(context.Context) error {
		asked++
		return fault.New(fault.Unauthenticated, "token_revoked", "revoked")
	})
	var out strings.Builder
	err := h.App.Risks.ExportCSV(rctx, sme.Actor, risks.ListFilter{}, ',', &out)
	if e, ok := fault.As(err); !ok || e.Kind != fault.Unauthenticated {
		t.Errorf("the export after its credential ended: %v, want unauthenticated", err)
	}
	if n := strings.Count(out.String(), "\n"); asked != 1 || n != 201 {
		t.Errorf("asked %d times, %d lines written; want 1 and the header with the first page", asked, n)
	}
}
