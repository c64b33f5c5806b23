// Package trainingtest describes training to the hub-wide tests
// (internal/app): the authorization matrix rows of its routes and its
// shareable kinds (training modules, rate shares) for the leak harness.
package trainingtest

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/policy"
	"verbund/internal/training"
)

// Kit is training's kit.
func Kit() apptest.Kit {
	return apptest.Kit{Name: "training", Setup: setup, Rows: rows(), Kinds: []apptest.LeakKind{moduleKind(), ratesKind()}}
}

// Quiz is the one-question quiz of the kit's modules: the second answer
// is right.
func Quiz() []training.NewQuestion {
	return []training.NewQuestion{{Kind: training.Single, Text: training.Text{"en": "Which link is safe?", "de": "Welcher Link ist sicher?"},
		Options: []training.Text{{"en": "the one in the mail", "de": "der in der Mail"}, {"en": "the one I typed", "de": "der selbst eingegebene"}},
		Correct: []int{1}}}
}

// Right are the right answers to Quiz.
var Right = [][]int{{1}}

// setup creates the matrix's objects: an AMBER circle module of sme
// ({module}), assigned to all of sme ({assignment}), passed by sme.analyst
// ({attempt}).
func setup(t *testing.T, f *apptest.Fixture) {
	ctx := context.Background()
	h := f.Hub
	m, err := h.App.Training.CreateModule(ctx, h.Users["sme.analyst"].Actor, training.NewModule{
		Title: training.Text{"en": "Phishing basics", "de": "Phishing-Grundlagen"}, Guide: training.Text{"en": "Check links.", "de": "Links prüfen."},
		Questions: Quiz(), Sharing: policy.Sharing{TLP: "AMBER", Audience: "community", Community: h.Circle}})
	if err != nil {
		t.Fatal(err)
	}
	f.IDs["module"] = m.ID
	// A second one for the assignment rows: {module} stays assigned to
	// sme's people only, whatever the rows assign.
	m2, err := h.App.Training.CreateModule(ctx, h.Users["sme.analyst"].Actor, training.NewModule{
		Title: training.Text{"en": "Passwords", "de": "Passwörter"}, Guide: training.Text{"en": "Use a manager.", "de": "Nutzen Sie einen Passwortmanager."},
		Questions: Quiz(), Sharing: policy.Sharing{TLP: "AMBER", Audience: "community", Community: h.Circle}})
	if err != nil {
		t.Fatal(err)
	}
	f.IDs["module2"] = m2.ID
	as, err := h.App.Training.CreateAssignment(ctx, h.Users["sme.admin"].Actor, m.ID, training.NewAssignment{Target: training.TargetOrg})
	if err != nil {
		t.Fatal(err)
	}
	f.IDs["assignment"] = as.ID
	res, err := h.App.Training.SubmitAnswers(ctx, h.Users["sme.analyst"].Actor, m.ID, training.Answers{Answers: Right})
	if err != nil || !res.Passed {
		t.Fatalf("pass the quiz: %+v %v", res, err)
	}
	f.IDs["attempt"] = res.ID
}

// newRateShare shares sme's completion rates with the circle's
// coordinator (for withdrawals, which consume it).
func newRateShare(t *testing.T, f *apptest.Fixture) string {
	rs, err := f.Hub.App.Training.ShareRates(context.Background(), f.Hub.Users["sme.admin"].Actor, training.NewRateShare{CoordinatorOf: f.Hub.Circle})
	if err != nil {
		t.Fatal(err)
	}
	return rs.ID
}

// moduleJSON is the body of a new module with the kit's quiz.
func moduleJSON(title string, s policy.Sharing) map[string]any {
	return map[string]any{"title": map[string]string{"en": title, "de": title}, "guide": map[string]string{"en": "guide " + title, "de": "Leitfaden " + title},
		"questions": []map[string]any{{"kind": "single", "text": map[string]string{"en": "Which link is safe?", "de": "Welcher Link ist sicher?"},
			"options": []map[string]string{{"en": "the one in the mail", "de": "der in der Mail"}, {"en": "the one I typed", "de": "der selbst eingegebene"}},
			"correct": []int{1}}},
		"tlp": s.TLP, "audience": s.Audience, "community_id": s.Community, "orgs": s.Orgs, "people": s.People}
}

func rows() map[string]apptest.Row {
	const (
		modulePage = "anon=303 nocontract=404 outsider=404 *=200" // the AMBER circle module: members with agreement
		moduleAPI  = "anon=401 nocontract=404 outsider=404 *=200"
		// Answers: sme's people are assigned it; cert sees it but is not.
		answers = "anon=401 readtok=403 partner=403 coord=403 nocontract=404 outsider=404"
		admin   = apptest.AdminOnly
	)
	w, get, send, fresh, form := apptest.W, apptest.Get, apptest.Send, apptest.Fresh, apptest.Form
	newModule := moduleJSON("UNIQ", policy.Sharing{TLP: "AMBER", Audience: "org"})
	newForm := form("title_en", "Passwords", "guide_en", "Use a manager.", "questions", "1", "q1_kind", "single", "q1_text_en", "Reuse passwords?",
		"q1_o1_en", "yes", "q1_o2_en", "no", "q1_correct", "2", "tlp", "AMBER", "audience", "org")
	return map[string]apptest.Row{
		"GET /training":                                         {Req: apptest.Static("/training"), Want: w(apptest.PageRead)},
		"GET /training/new":                                     {Req: apptest.Static("/training/new"), Want: w("anon=303 viewer=403 auditor=403 readtok=403 *=200")},
		"GET /training/modules/{id}":                            {Req: get("/training/modules/{module}"), Want: w(modulePage)},
		"GET /training/modules/{id}/row":                        {Req: get("/training/modules/{module}/row"), Want: w(modulePage)},
		"GET /training/assignments/{id}/fragment":               {Req: get("/training/assignments/{assignment}/fragment"), Want: w(apptest.OwnOrgPage)},
		"GET /training/assignments/{id}/people/{user}/fragment": {Req: get("/training/assignments/{assignment}/people/{analyst}/fragment"), Want: w("anon=303 viewer=404 auditor=404 analyst=404 partner=404 coord=404 nocontract=404 outsider=404 *=200")},
		"GET /training/attempts/{id}/certificate":               {Req: get("/training/attempts/{attempt}/certificate"), Want: w("anon=303 viewer=404 auditor=404 partner=404 coord=404 nocontract=404 outsider=404 *=200")},
		"GET /training/rates":                                   {Req: apptest.Static("/training/rates"), Want: w(apptest.PageRead)},
		"GET /api/v1/training/modules":                          {Req: apptest.Static("/api/v1/training/modules"), Want: w(apptest.APIRead)},
		"GET /api/v1/training/modules/{id}":                     {Req: get("/api/v1/training/modules/{module}"), Want: w(moduleAPI)},
		"GET /api/v1/training/modules/{id}/progress":            {Req: get("/api/v1/training/modules/{module}/progress"), Want: w(moduleAPI)},
		"GET /api/v1/training/assignments":                      {Req: apptest.Static("/api/v1/training/assignments"), Want: w(apptest.APIRead)},
		"GET /api/v1/training/rates":                            {Req: apptest.Static("/api/v1/training/rates"), Want: w(apptest.APIRead)},
		"GET /api/v1/training/rate-shares":                      {Req: apptest.Static("/api/v1/training/rate-shares"), Want: w(apptest.APIRead)},

		"POST /api/v1/training/modules":                    {Req: send("/api/v1/training/modules", newModule), Want: w(apptest.WriterOnly + " *=201")},
		"POST /training/modules":                           {Req: send("/training/modules", newForm), Want: w(apptest.WriterOnly + " *=303")},
		"POST /api/v1/training/modules/{id}/assignments":   {Req: send("/api/v1/training/modules/{module2}/assignments", map[string]any{"target": "org"}), Want: w(admin + " outsider=404 *=201")},
		"POST /training/modules/{id}/assignments":          {Req: send("/training/modules/{module2}/assignments", form("target", "org")), Want: w(admin + " outsider=404 *=303")},
		"POST /api/v1/training/modules/{id}/answers":       {Req: send("/api/v1/training/modules/{module}/answers", map[string]any{"answers": Right}), Want: w(answers + " *=201")},
		"POST /training/modules/{id}/answers":              {Req: send("/training/modules/{module}/answers", form("questions", "1", "q1", "1")), Want: w(answers + " *=303")},
		"POST /api/v1/training/assignments/{id}/reminders": {Req: send("/api/v1/training/assignments/{assignment}/reminders", nil), Want: w(admin + " coord=404 outsider=404 *=200")},
		"POST /training/assignments/{id}/remind":           {Req: send("/training/assignments/{assignment}/remind", form()), Want: w(admin + " coord=404 outsider=404 *=303")},
		"POST /api/v1/training/rate-shares":                {Req: send("/api/v1/training/rate-shares", map[string]any{"coordinator_of": "{circle}"}), Want: w(admin + " coord=400 outsider=400 *=201")},
		"POST /training/rates":                             {Req: send("/training/rates", form("coordinator_of", "{circle}")), Want: w(admin + " coord=400 outsider=400 *=303")},
		"DELETE /api/v1/training/rate-shares/{id}":         {Req: fresh(newRateShare, "/api/v1/training/rate-shares/{new}", nil), Want: w(admin + " coord=403 outsider=404 *=204")},
		"POST /training/rates/{id}/delete":                 {Req: fresh(newRateShare, "/training/rates/{new}/delete", nil), Want: w(admin + " coord=403 outsider=404 *=303")},
	}
}

// orgOf is the test world's short name of a reader's org ("sme").
func orgOf(u *apptest.User) string { return strings.SplitN(u.Key, ".", 2)[0] }

// moduleState is what the harness's modules live with: which orgs
// assigned each (their admins, to everyone), the assignment ids, and the
// passing attempt of sme.viewer (a certificate).
type moduleState struct {
	assigned map[string]map[string]string // org → module → assignment
	attempt  map[string]string            // module → sme.viewer's passing attempt
}

func moduleKind() apptest.LeakKind {
	state := func(c *apptest.LeakCase) *moduleState { return c.State.(*moduleState) }
	detail := func(route, path string) apptest.Path {
		return apptest.Path{Route: route, Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
			apptest.ExpectDetail(t, c, r, path, objs)
		}}
	}
	// assignedTo gives each object the visibility the reader's org's
	// assignment list owes it: visible and assigned by that org.
	assignedTo := func(c *apptest.LeakCase, org string, objs []apptest.LeakObject) []apptest.LeakObject {
		out := slices.Clone(objs)
		for i := range out {
			_, ok := state(c).assigned[org][out[i].ID]
			out[i].Visible = out[i].Visible && ok
		}
		return out
	}
	// status expects 200 from path (%s: the id) for each of ids where want
	// says so, else the plain 404.
	status := func(t testing.TB, c *apptest.LeakCase, r *apptest.User, what string, path string, ids map[string]bool) {
		for id, want := range ids {
			resp := c.Hub.API(t, r.ReadToken, http.MethodGet, fmt.Sprintf(path, id), nil)
			switch {
			case want && resp.Status != http.StatusOK:
				t.Errorf("%s: %s gets %d for %s, want 200", what, r.Key, resp.Status, id)
			case !want && resp.Status != http.StatusNotFound:
				t.Errorf("LEAK on %s: %s gets %d for %s, want 404", what, r.Key, resp.Status, id)
			}
		}
	}
	return apptest.LeakKind{
		Kind: "training_module",
		Setup: func(t testing.TB, c *apptest.LeakCase) any {
			// sme shows its completion rates to the circle's coordinator
			// (cert): the rates pages list sme's rates of the modules cert
			// may see.
			h := c.Hub
			r := h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPost, "/api/v1/training/rate-shares", map[string]any{"coordinator_of": h.Circle})
			if r.Status != http.StatusCreated {
				t.Fatalf("share rates: %d %s", r.Status, r.Body)
			}
			return &moduleState{assigned: map[string]map[string]string{}, attempt: map[string]string{}}
		},
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			h := c.Hub
			r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/training/modules", moduleJSON("module "+marker, s))
			if r.Status != http.StatusCreated {
				t.Fatalf("create module %s: %d %s", marker, r.Status, r.Body)
			}
			var m struct{ ID string }
			r.JSON(t, &m)
			// Every org's admin assigns it to everyone, where they may see it.
			for _, org := range []string{"sme", "cloud", "cert"} {
				r := h.API(t, h.Users[org+".admin"].WriteToken, http.MethodPost, "/api/v1/training/modules/"+m.ID+"/assignments", map[string]any{"target": "org"})
				switch r.Status {
				case http.StatusCreated:
					var as struct{ ID string }
					r.JSON(t, &as)
					if state(c).assigned[org] == nil {
						state(c).assigned[org] = map[string]string{}
					}
					state(c).assigned[org][m.ID] = as.ID
				case http.StatusNotFound:
				default:
					t.Fatalf("assign %s as %s.admin: %d %s", marker, org, r.Status, r.Body)
				}
			}
			if _, ok := state(c).assigned["sme"][m.ID]; ok {
				r := h.API(t, h.Users["sme.viewer"].WriteToken, http.MethodPost, "/api/v1/training/modules/"+m.ID+"/answers", map[string]any{"answers": Right})
				if r.Status != http.StatusCreated {
					t.Fatalf("answer %s as sme.viewer: %d %s", marker, r.Status, r.Body)
				}
				var res struct {
					ID     string
					Passed bool
				}
				r.JSON(t, &res)
				state(c).attempt[m.ID] = res.ID
			}
			return m.ID
		},
		Streamed: true,
		Paths: append([]apptest.Path{
			detail("GET /api/v1/training/modules/{id}", "/api/v1/training/modules/%s"),
			detail("GET /api/v1/training/modules/{id}/progress", "/api/v1/training/modules/%s/progress"),
			detail("GET /training/modules/{id}", "/training/modules/%s"),
			detail("GET /training/modules/{id}/row", "/training/modules/%s/row"),
			{Route: "GET /api/v1/training/modules", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the module list", r, apptest.ListIDs(t, c, r, "/api/v1/training/modules?limit=4"), objs)
			}},
			{Route: "GET /training", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/training")
				apptest.ExpectIDs(t, "the library", r, htmlIDs(page, "module-"), objs)
				// The reader's training list names the modules assigned.
				apptest.ExpectMarkers(t, "the training page", r, page, objs, true)
				var mine []string
				for _, m := range regexp.MustCompile(`<li id="mine-[0-9a-f-]{36}" class="training-mine" data-module="([0-9a-f-]{36})"`).FindAllStringSubmatch(page, -1) {
					mine = append(mine, m[1])
				}
				apptest.ExpectIDs(t, "the reader's training list", r, mine, assignedTo(c, orgOf(r), objs))
			}},
			{Route: "GET /api/v1/training/assignments", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				var list struct {
					Items []struct {
						ModuleID string `json:"module_id"`
					}
				}
				c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/training/assignments?limit=200", nil).JSON(t, &list)
				var got []string
				for _, it := range list.Items {
					got = append(got, it.ModuleID)
				}
				apptest.ExpectIDs(t, "the assignment list", r, got, assignedTo(c, orgOf(r), objs))
			}},
			{Route: "GET /training/assignments/{id}/fragment", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				ids := map[string]bool{}
				for _, o := range objs {
					if as, ok := state(c).assigned[orgOf(r)][o.ID]; ok {
						ids[as] = o.Visible
					}
				}
				status(t, c, r, "the reader's training line", "/training/assignments/%s/fragment", ids)
			}},
			{Route: "GET /training/assignments/{id}/people/{user}/fragment", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				ids := map[string]bool{}
				for _, o := range objs {
					if as, ok := state(c).assigned[orgOf(r)][o.ID]; ok {
						ids[as+"/people/"+r.ID] = o.Visible && r.Role == policy.Admin
					}
				}
				status(t, c, r, "an admin's progress line", "/training/assignments/%s/fragment", ids)
			}},
			{Route: "GET /training/attempts/{id}/certificate", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				ids := map[string]bool{}
				for _, o := range objs {
					if at, ok := state(c).attempt[o.ID]; ok {
						ids[at] = o.Visible && r.Key == "sme.viewer"
					}
				}
				status(t, c, r, "the certificate", "/training/attempts/%s/certificate", ids)
			}},
			{Route: "GET /api/v1/training/rates", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				var list struct {
					Items []struct {
						OrgID   string `json:"org_id"`
						Modules []struct {
							ModuleID string `json:"module_id"`
						}
					}
				}
				c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/training/rates", nil).JSON(t, &list)
				var got []string
				for _, it := range list.Items {
					for _, m := range it.Modules {
						if it.OrgID == c.Hub.Orgs["sme"] {
							got = append(got, m.ModuleID)
						}
					}
				}
				apptest.ExpectIDs(t, "the rates shared with the reader", r, got, ratedFor(c, r, assignedTo(c, "sme", objs)))
			}},
			{Route: "GET /training/rates", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/training/rates")
				var got []string
				for _, m := range regexp.MustCompile(`id="rate-`+c.Hub.Orgs["sme"]+`-([0-9a-f-]{36})"`).FindAllStringSubmatch(page, -1) {
					got = append(got, m[1])
				}
				want := ratedFor(c, r, assignedTo(c, "sme", objs))
				apptest.ExpectIDs(t, "the rates page", r, got, want)
				apptest.ExpectMarkers(t, "the rates page", r, page, want, true)
			}},
			{Route: "GET /audit", Check: auditPage},
		}, apptest.SearchPaths("training_module", nil)...),
	}
}

// ratedFor keeps the objects visible only for readers who see sme's
// rates: cert's people (sme shares them with the circle's coordinator).
func ratedFor(c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) []apptest.LeakObject {
	out := slices.Clone(objs)
	for i := range out {
		out[i].Visible = out[i].Visible && orgOf(r) == "cert"
	}
	return out
}

// auditPage checks the audit trail's page, which names and links the
// objects its records refer to (the modules, their assignments and
// attempts): a module the reader may not see is neither named (its
// marker, in the title) nor linked.
func auditPage(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
	status, page := apptest.Page(t, c, r, "/audit")
	if status == http.StatusForbidden {
		return // analysts and viewers read no audit trail
	}
	if status != http.StatusOK {
		t.Errorf("the audit page answers %s with %d", r.Key, status)
		return
	}
	apptest.ExpectMarkers(t, "the audit page", r, page, objs, false)
	for _, o := range objs {
		if !o.Visible && (strings.Contains(page, `href="/training/modules/`+o.ID) || strings.Contains(page, `#rates-`+o.ID+`"`)) {
			t.Errorf("LEAK on the audit page: %s gets a link to %s", r.Key, o.Envelope)
		}
	}
}

// ratesState is what the harness's rate shares are about: a TLP:CLEAR
// module of sme (everyone sees it) that sme assigned to everyone.
type ratesState struct{ module string }

// byAdmin corrects the table for rate shares, which sme.admin makes (an
// organisation's admins share its rates), not sme.analyst: the author of
// the TLP:RED one is sme.admin, so sme.analyst, not named, may not see it.
func byAdmin(r *apptest.User, objs []apptest.LeakObject) []apptest.LeakObject {
	out := slices.Clone(objs)
	for i := range out {
		if out[i].Envelope == "RED to two people" && r.Key == "sme.analyst" {
			out[i].Visible = false
		}
	}
	return out
}

func ratesKind() apptest.LeakKind {
	state := func(c *apptest.LeakCase) *ratesState { return c.State.(*ratesState) }
	// others keeps the objects visible only for readers of other orgs:
	// an org's own rates are not "shared with" it.
	others := func(r *apptest.User, objs []apptest.LeakObject) []apptest.LeakObject {
		out := byAdmin(r, objs)
		for i := range out {
			out[i].Visible = out[i].Visible && orgOf(r) != "sme"
		}
		return out
	}
	anyVisible := func(objs []apptest.LeakObject) bool {
		return slices.ContainsFunc(objs, func(o apptest.LeakObject) bool { return o.Visible })
	}
	return apptest.LeakKind{
		Kind: "training_rates",
		Setup: func(t testing.TB, c *apptest.LeakCase) any {
			h := c.Hub
			r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/training/modules", moduleJSON("carrier", policy.Sharing{TLP: "CLEAR", Audience: "org"}))
			if r.Status != http.StatusCreated {
				t.Fatalf("create the carrier module: %d %s", r.Status, r.Body)
			}
			var m struct{ ID string }
			r.JSON(t, &m)
			if r := h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPost, "/api/v1/training/modules/"+m.ID+"/assignments", map[string]any{"target": "org"}); r.Status != http.StatusCreated {
				t.Fatalf("assign the carrier module: %d %s", r.Status, r.Body)
			}
			for _, who := range []string{"sme.viewer", "sme.analyst"} {
				if r := h.API(t, h.Users[who].WriteToken, http.MethodPost, "/api/v1/training/modules/"+m.ID+"/answers", map[string]any{"answers": Right}); r.Status != http.StatusCreated {
					t.Fatalf("answer the carrier module as %s: %d %s", who, r.Status, r.Body)
				}
			}
			return &ratesState{module: m.ID}
		},
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			h := c.Hub
			r := h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPost, "/api/v1/training/rate-shares", map[string]any{"note": "rates " + marker,
				"tlp": s.TLP, "audience": s.Audience, "community_id": s.Community, "orgs": s.Orgs, "people": s.People})
			if r.Status != http.StatusCreated {
				t.Fatalf("share rates %s: %d %s", marker, r.Status, r.Body)
			}
			var rs struct{ ID string }
			r.JSON(t, &rs)
			return rs.ID
		},
		Paths: []apptest.Path{
			{Route: "GET /api/v1/training/rate-shares", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the rate shares", r, apptest.ListIDs(t, c, r, "/api/v1/training/rate-shares?limit=3"), byAdmin(r, objs))
			}},
			{Route: "GET /training/rates", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/training/rates")
				apptest.ExpectIDs(t, "the rates page's shares", r, htmlIDs(page, "rates-"), byAdmin(r, objs))
				apptest.ExpectMarkers(t, "the rates page", r, page, byAdmin(r, objs), true)
				shown := strings.Contains(page, `id="rate-`+c.Hub.Orgs["sme"]+`-`+state(c).module+`"`)
				expectShown(t, "the rates page", r, shown, anyVisible(others(r, objs)))
			}},
			{Route: "GET /api/v1/training/rates", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				var list struct {
					Items []struct {
						OrgID   string `json:"org_id"`
						Shares  []string
						Modules []struct {
							ModuleID  string `json:"module_id"`
							Completed *int
						}
					}
				}
				c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/training/rates", nil).JSON(t, &list)
				var shares []string
				for _, it := range list.Items {
					if it.OrgID == c.Hub.Orgs["sme"] {
						shares = append(shares, it.Shares...)
						for _, m := range it.Modules {
							if m.ModuleID == state(c).module && (m.Completed == nil || *m.Completed != 2) {
								t.Errorf("the rates shared with %s count %v completions of the carrier module, want 2", r.Key, m.Completed)
							}
						}
					}
				}
				apptest.ExpectIDs(t, "the rates shared with the reader", r, shares, others(r, objs))
			}},
			{Route: "GET /api/v1/training/modules/{id}/progress", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				var p struct {
					Orgs []struct {
						OrgID  string `json:"org_id"`
						Shares []string
					}
				}
				c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/training/modules/"+state(c).module+"/progress", nil).JSON(t, &p)
				var shares []string
				for _, o := range p.Orgs {
					if o.OrgID == c.Hub.Orgs["sme"] {
						shares = append(shares, o.Shares...)
					}
				}
				apptest.ExpectIDs(t, "the module's rates by org", r, shares, others(r, objs))
			}},
			{Route: "GET /training/modules/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/training/modules/"+state(c).module)
				expectShown(t, "the module page's rates", r, strings.Contains(page, `id="org-rate-`+c.Hub.Orgs["sme"]+`"`), anyVisible(others(r, objs)))
			}},
			{Route: "GET /audit", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				auditPage(t, c, r, byAdmin(r, objs))
			}},
		},
	}
}

func expectShown(t testing.TB, what string, r *apptest.User, shown, want bool) {
	t.Helper()
	if shown && !want {
		t.Errorf("LEAK on %s: %s sees sme's completion rates", what, r.Key)
	}
	if !shown && want {
		t.Errorf("%s: %s does not see sme's completion rates", what, r.Key)
	}
}

// htmlIDs lists the ids of elements id="<prefix><id>" in a page.
func htmlIDs(page, prefix string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`id="`+regexp.QuoteMeta(prefix)+`([0-9a-f-]{36})"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}
