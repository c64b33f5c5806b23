package app_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"verbund/internal/accounts"
	"verbund/internal/agreements"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// Only admins decide on agreements: the API's flags say so for the caller
// (an analyst's organisation may be awaited, the analyst may not accept),
// and the pages name who decides and what ending a proposal means for each
// side: the proposer withdraws it, the partner declines it.
func TestAgreementDecisionsAndWording(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	ctx := context.Background()
	de := "de"
	for _, k := range []string{"sme.analyst", "sme.admin", "cloud.admin"} {
		if _, err := h.App.Accounts.UpdateUser(ctx, h.Users[k].Actor, h.Users[k].ID, accounts.UserUpdate{Lang: &de}); err != nil {
			t.Fatal(err)
		}
	}
	g, err := h.App.Agreements.Propose(ctx, h.Users["cloud.admin"].Actor, "", agreements.Input{Kind: "bilateral", Partner: h.Orgs["sme"],
		Categories: []string{"incident"}, MaxTLP: "GREEN", RetentionDays: 30, Purpose: "Warnungen"})
	if err != nil {
		t.Fatal(err)
	}
	var flags struct {
		AwaitsMyOrg bool `json:"awaits_my_org"`
		CanAccept   bool `json:"can_accept"`
		CanRevoke   bool `json:"can_revoke"`
	}
	for _, c := range []struct {
		user                   string
		awaits, accept, revoke bool
	}{
		{"sme.analyst", true, false, false},
		{"sme.viewer", true, false, false},
		{"sme.auditor", true, false, false},
		{"sme.admin", true, true, true},
		{"cloud.analyst", false, false, false},
		{"cloud.admin", false, false, true},
	} {
		flags.AwaitsMyOrg, flags.CanAccept, flags.CanRevoke = false, false, false
		// A write token: a read token may decide nothing, and the flags say so.
		h.API(t, h.Users[c.user].WriteToken, http.MethodGet, "/api/v1/agreements/"+g.ID, nil).JSON(t, &flags)
		if flags.AwaitsMyOrg != c.awaits || flags.CanAccept != c.accept || flags.CanRevoke != c.revoke {
			t.Errorf("%s: awaits_my_org %v can_accept %v can_revoke %v, want %v %v %v", c.user, flags.AwaitsMyOrg, flags.CanAccept, flags.CanRevoke,
				c.awaits, c.accept, c.revoke)
		}
	}

	page := func(u, path string) string {
		t.Helper()
		r := h.Login(t, h.Users[u]).Get(t, path)
		if r.Status != http.StatusOK {
			t.Fatalf("%s GET %s: %d", u, path, r.Status)
		}
		return readable(string(r.Body))
	}
	if p := page("sme.analyst", "/agreements/"+g.ID); !strings.Contains(p, "wartet auf Annahme durch Ihre Administration (sme.admin)") ||
		strings.Contains(p, "wartet auf Ihre Annahme") || strings.Contains(p, "Ablehnen") {
		t.Errorf("the analyst's page does not say who accepts (or offers a decision): %s", p)
	}
	// The list says whose acceptance is pending (not that a party was
	// "proposed") and names the page once.
	raw := string(h.Login(t, h.Users["sme.analyst"]).Get(t, "/agreements").Body)
	if p := readable(raw); !strings.Contains(p, "Müller Maschinenbau GmbH (Annahme ausstehend)") || strings.Contains(p, "(Vorgeschlagen)") {
		t.Errorf("the list does not say that the SME's acceptance is pending: %s", p)
	}
	if n := len(regexp.MustCompile(`<h[1-6][^>]*>Datenfreigabevereinbarungen</h`).FindAllString(raw, -1)); n != 1 {
		t.Errorf("the agreements page has %d headings \"Datenfreigabevereinbarungen\", want 1", n)
	}
	if p := page("sme.analyst", "/agreements/"+g.ID); !strings.Contains(p, "Müller Maschinenbau GmbH — Annahme ausstehend") {
		t.Errorf("the agreement's page does not say that the SME's acceptance is pending: %s", p)
	}
	if p := page("sme.analyst", "/"); !strings.Contains(p, "wartet auf Annahme durch Ihre Administration (sme.admin)") {
		t.Errorf("the analyst's start page does not say that the agreement waits for the administration: %s", p)
	}
	if p := page("sme.admin", "/agreements/"+g.ID); !strings.Contains(p, "wartet auf Ihre Annahme") || !strings.Contains(p, "Annehmen") ||
		!strings.Contains(p, "Ablehnen") || strings.Contains(p, "Widerrufen") {
		t.Errorf("the partner's admin is not offered to accept or decline: %s", p)
	}
	if p := page("cloud.admin", "/agreements/"+g.ID); !strings.Contains(p, "Vorschlag zurückziehen") || strings.Contains(p, "Widerrufen") {
		t.Errorf("the proposer's admin is not offered to withdraw the proposal: %s", p)
	}
	if p := page("sme.admin", "/agreements/"+h.Bilateral); !strings.Contains(p, "Widerrufen") {
		t.Errorf("an agreement in force is not offered for revocation: %s", p)
	}
	// Declining is recorded as such.
	admin := h.Login(t, h.Users["sme.admin"])
	if r := admin.PostForm(t, "/agreements/"+g.ID+"/revoke", nil); r.Status != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "ok=agreement_decline") {
		t.Errorf("decline: %d %s", r.Status, r.Header.Get("Location"))
	}
	var actions []string
	for _, rec := range auditRecords(t, h, "sme.admin") {
		actions = append(actions, rec.Action)
	}
	if !slices.Contains(actions, "agreement.decline") {
		t.Errorf("the audit trail does not record the decline: %v", actions)
	}
}

// An agreement needs a purpose, and proposing one that repeats an
// agreement in force asks first.
func TestAgreementPurposeAndDuplicates(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	admin := h.Login(t, h.Users["sme.admin"])
	form := url.Values{"kind": {"bilateral"}, "partner_org_id": {h.Orgs["cloud"]}, "categories": {"knowledge"}, "max_tlp": {"GREEN"}, "retention_days": {"30"}}
	r := admin.PostForm(t, "/agreements", form)
	if code, _ := shownError(t, r.Body); r.Status != http.StatusBadRequest || code != "purpose_missing" {
		t.Errorf("without a purpose: %d %s", r.Status, code)
	}
	if r := h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPost, "/api/v1/agreements", map[string]any{"partner_org_id": h.Orgs["cloud"],
		"categories": []string{"knowledge"}, "max_tlp": "GREEN", "retention_days": 30, "purpose": "  "}); r.Status != 400 || r.ErrorCode() != "purpose_missing" {
		t.Errorf("API without a purpose: %d %s", r.Status, r.Body)
	}
	// sme and cloud have a bilateral agreement for knowledge in force.
	form.Set("purpose", "Austausch")
	r = admin.PostForm(t, "/agreements", form)
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), `id="duplicates"`) || !strings.Contains(string(r.Body), "/agreements/"+h.Bilateral) ||
		!strings.Contains(string(r.Body), `name="duplicate_ok" value="1"`) {
		t.Fatalf("a duplicate is not warned about: %d", r.Status)
	}
	form.Set("duplicate_ok", "1")
	if r := admin.PostForm(t, "/agreements", form); r.Status != http.StatusSeeOther {
		t.Errorf("proposing anyway: %d", r.Status)
	}
	// Another category is no duplicate.
	form.Del("duplicate_ok")
	form.Set("categories", "exercise")
	if r := admin.PostForm(t, "/agreements", form); r.Status != http.StatusSeeOther {
		t.Errorf("another category is taken for a duplicate: %d", r.Status)
	}
	// The API proposes and names the duplicates.
	var out struct{ Duplicates []string }
	resp := h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPost, "/api/v1/agreements", map[string]any{"partner_org_id": h.Orgs["cloud"],
		"categories": []string{"log"}, "max_tlp": "GREEN", "retention_days": 30, "purpose": "Logs"})
	resp.JSON(t, &out)
	if resp.Status != http.StatusCreated || !slices.Contains(out.Duplicates, h.Bilateral) {
		t.Errorf("API: %d, duplicates %v, want %s among them", resp.Status, out.Duplicates, h.Bilateral)
	}
}
