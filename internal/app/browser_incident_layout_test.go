package app_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/incidents"
	"verbund/internal/policy"
)

// TestBrowserIncidentLayout: the incident pages at 1280 and 390 px, in
// German and English, scroll not sideways; the list's filter bar and the
// task form keep each label above its control and the fields side by
// side on a laptop (one row, not a column of labels and selects).
// Screenshots go to $VERBUND_SCREENSHOTS.
func TestBrowserIncidentLayout(t *testing.T) {
	browserPath(t)
	h := apptest.World(t, db.SQLite)
	ctx := context.Background()
	for key, lang := range map[string]string{"sme.analyst": "de", "cloud.analyst": "en", "cert.analyst": "de"} {
		l := lang
		if _, err := h.App.Accounts.UpdateUser(ctx, h.Users[key].Actor, h.Users[key].ID, accounts.UserUpdate{Lang: &l}); err != nil {
			t.Fatal(err)
		}
	}
	id := newIncident(t, h, policy.Sharing{TLP: "AMBER", Audience: "org"}, true, "")
	if _, err := h.App.Incidents.InviteParticipant(ctx, h.Users["sme.analyst"].Actor, id, incidents.Invitation{OrgID: h.Orgs["cloud"], Role: "responder", AckMinutes: 60, UpdateHours: 4}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.App.Incidents.RequestAssistance(ctx, h.Users["sme.analyst"].Actor, id, incidents.AssistanceRequest{CertOrg: h.Orgs["cert"], Message: "Bitte helfen"}); err != nil {
		t.Fatal(err)
	}
	browser := startBrowser(t, "de-DE")
	pages := []string{"/incidents", "/incidents/new", "/incidents/" + id, "/incidents/figures", "/incidents/" + id + "/draft"}
	for _, key := range []string{"sme.analyst", "cloud.analyst", "cert.analyst"} {
		u := newBrowserUser(t, browser, key)
		u.login(t, h, h.Users[key], nil)
		list := pages
		if key == "cert.analyst" {
			list = []string{"/incidents/inbox", "/incidents/inbox?status=all"}
		}
		for _, w := range []int64{1280, 390} {
			u.do(t, fmt.Sprint("viewport ", w), chromedp.EmulateViewport(w, 900))
			for i, p := range list {
				u.open(t, h, p, false)
				noSideways(t, u, fmt.Sprintf("%s on %s at %d px", key, p, w))
				u.screenshot(t, fmt.Sprintf("incidents-%s-%02d-%d", key, i, w))
				if w != 1280 {
					continue
				}
				for _, form := range []string{"#incident-filters", "#task-form"} {
					height := browserGet(t, u, "form height", chromedp.Evaluate[float64](`(() => { const f = document.querySelector('`+form+`'); return f ? f.getBoundingClientRect().height : 0; })()`))
					// One row of fields: a label and a control (~4.5rem),
					// plus a hint line under the task form.
					if height > 150 {
						t.Errorf("%s on %s at 1280 px: %s is %.0f px high: its fields wrap", key, p, form, height)
					}
				}
			}
		}
		u.noProblems(t)
	}
}
