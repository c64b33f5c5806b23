package app_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/playbooks"
	"verbund/internal/playbooks/playbookstest"
)

// ransomwarePlaybook is the realistic test playbook of internal/cacao:
// manual steps for three organisations, a decision, parallel branches, a
// TLP:AMBER marking, an extension and an unknown property.
func ransomwarePlaybook(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "cacao", "testdata", "ransomware.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func importPlaybook(t *testing.T, h *apptest.Hub, u *apptest.User, doc []byte, q url.Values) (int, playbookstest.Report) {
	t.Helper()
	r := h.API(t, u.WriteToken, http.MethodPost, "/api/v1/playbooks?"+q.Encode(), doc)
	var rep playbookstest.Report
	r.JSON(t, &rep)
	return r.Status, rep
}

// TestPlaybookLibrary: a playbook shared in the circle is in the circle's
// library for the partner, found by the words of its steps, exported byte
// for byte; later versions are added (by modified), the same version again
// changes nothing, older versions stay downloadable, a version with the
// same modified and other content is refused, and an outsider sees none
// of it.
func TestPlaybookLibrary(t *testing.T) {
	v1 := ransomwarePlaybook(t)
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			sme, partner, outsider := h.Users["sme.analyst"], h.Users["cert.analyst"], h.Users["outsider.admin"]
			circle := url.Values{"tlp": {"AMBER"}, "audience": {"community"}, "community_id": {h.Circle}}
			status, rep := importPlaybook(t, h, sme, v1, circle)
			if status != http.StatusOK || rep.Accepted != 1 || rep.Items[0].ID == "" {
				t.Fatalf("import: %d %+v", status, rep)
			}
			id := rep.Items[0].ID
			ids := listAll(t, h, partner, "/api/v1/playbooks?library=community:"+h.Circle)
			if len(ids) != 1 || ids[0] != id {
				t.Fatalf("the circle's library for the partner: %v", ids)
			}
			if ids := listAll(t, h, partner, "/api/v1/playbooks?q=offline+media"); len(ids) != 1 {
				t.Errorf("search by a step's words: %v", ids)
			}
			if ids := listAll(t, h, outsider, "/api/v1/playbooks?q=offline"); len(ids) != 0 {
				t.Errorf("LEAK: the outsider finds %v", ids)
			}
			var p playbooks.Playbook
			h.API(t, partner.ReadToken, http.MethodGet, "/api/v1/playbooks/"+id, nil).JSON(t, &p)
			if p.TLP != "AMBER" || len(p.Flow) != 13 || p.ManualSteps != 5 || p.Flow[0].Type != "start" || len(p.Versions) != 1 {
				t.Fatalf("playbook: %+v", p)
			}
			agents := map[string]bool{}
			for _, s := range p.Flow {
				agents[s.Agent] = true
			}
			for _, a := range []string{"The affected business", "The cloud provider", "The CERT"} {
				if !agents[a] {
					t.Errorf("no step names %q as responsible", a)
				}
			}
			export := func(u *apptest.User, q string) apptest.Response {
				return h.API(t, u.ReadToken, http.MethodGet, "/api/v1/playbooks/"+id+"/cacao"+q, nil)
			}
			if r := export(partner, ""); r.Status != http.StatusOK || !bytes.Equal(r.Body, v1) {
				t.Fatalf("export is not the imported document: %d", r.Status)
			}
			if r := export(outsider, ""); r.Status != http.StatusNotFound {
				t.Errorf("LEAK: the outsider exports: %d", r.Status)
			}
			// A later version: another step name, a later modified.
			v2 := bytes.Replace(v1, []byte(`"modified": "2026-03-09T14:30:00.000Z"`), []byte(`"modified": "2026-04-01T08:00:00.000Z"`), 1)
			v2 = bytes.Replace(v2, []byte(`Restore from the cloud backup`), []byte(`Restore from the provider's snapshot`), 1)
			for _, doc := range [][]byte{v2, v1, v2} {
				if status, rep := importPlaybook(t, h, sme, doc, circle); status != http.StatusOK || rep.Accepted != 1 || rep.Items[0].ID != id {
					t.Fatalf("version: %d %+v", status, rep)
				}
			}
			h.API(t, partner.ReadToken, http.MethodGet, "/api/v1/playbooks/"+id, nil).JSON(t, &p)
			if len(p.Versions) != 2 || p.Modified != "2026-04-01T08:00:00.000Z" {
				t.Fatalf("versions after v2, v1, v2: %+v", p.Versions)
			}
			if r := export(partner, ""); !bytes.Equal(r.Body, v2) {
				t.Error("the current version is not v2")
			}
			if r := export(partner, "?modified=2026-03-09T14:30:00.000Z"); r.Status != http.StatusOK || !bytes.Equal(r.Body, v1) {
				t.Errorf("v1 is not kept: %d", r.Status)
			}
			// The same modified with other content: refused, nothing written.
			v1b := bytes.Replace(v1, []byte(`Rebuild from offline media`), []byte(`Rebuild from scratch`), 1)
			status, rep = importPlaybook(t, h, sme, v1b, circle)
			if status != http.StatusUnprocessableEntity || rep.Rejected != 1 || rep.Items[0].Code != "version_conflict" || rep.Items[0].ID != "" {
				t.Errorf("a changed version with the same modified: %d %+v", status, rep)
			}
			// The author marked it AMBER: the library may not loosen that.
			if r := h.API(t, sme.WriteToken, http.MethodPatch, "/api/v1/playbooks/"+id, map[string]any{"tlp": "GREEN", "audience": "community", "community_id": h.Circle}); r.Status != http.StatusBadRequest || r.ErrorCode() != "playbook_tlp_below_document" {
				t.Errorf("reshare below the marking: %d %s", r.Status, r.Body)
			}
			if r := h.API(t, sme.WriteToken, http.MethodPatch, "/api/v1/playbooks/"+id, map[string]any{"tlp": "AMBER", "audience": "org"}); r.Status != http.StatusOK {
				t.Errorf("reshare to the org: %d %s", r.Status, r.Body)
			}
			if r := export(partner, ""); r.Status != http.StatusNotFound {
				t.Errorf("the partner still exports after the playbook went back to the org: %d", r.Status)
			}
			if r := h.API(t, sme.WriteToken, http.MethodPatch, "/api/v1/playbooks/"+id, map[string]any{"tlp": "AMBER", "audience": "community", "community_id": h.Circle}); r.Status != http.StatusOK {
				t.Errorf("reshare to the circle again: %d %s", r.Status, r.Body)
			}
			// A version marked RED cannot stay in the circle.
			red := bytes.Replace(v1, []byte(`"tlpv2_level": "TLP:AMBER"`), []byte(`"tlpv2_level": "TLP:RED"`), 1)
			red = bytes.ReplaceAll(red, []byte(`marking-tlp--55d920b0-5e8b-4f79-9ee9-91f868d9b421`), []byte(`marking-tlp--e828b379-4e03-4974-9ac4-e53a884c97c1`))
			// The same CACAO id: a new version of the circle's playbook.
			red = bytes.Replace(red, []byte(`"modified": "2026-03-09T14:30:00.000Z"`), []byte(`"modified": "2026-05-01T08:00:00.000Z"`), 1)
			status, rep = importPlaybook(t, h, sme, red, circle)
			if status != http.StatusUnprocessableEntity || rep.Items[0].Code != "sharing" {
				t.Errorf("a RED version of a circle's playbook: %d %+v", status, rep)
			}
			// Withdrawn: gone for everyone, the owner's too.
			if r := h.API(t, partner.WriteToken, http.MethodDelete, "/api/v1/playbooks/"+id, nil); r.Status != http.StatusForbidden {
				t.Errorf("the partner deletes sme's playbook: %d", r.Status)
			}
			if r := h.API(t, sme.WriteToken, http.MethodDelete, "/api/v1/playbooks/"+id, nil); r.Status != http.StatusNoContent {
				t.Fatalf("delete: %d %s", r.Status, r.Body)
			}
			if r := export(sme, ""); r.Status != http.StatusNotFound {
				t.Errorf("export after delete: %d", r.Status)
			}
		})
	}
}

// TestPlaybookImportRefusesBadInput: invalid JSON, another spec_version,
// a missing step, a loop without an end, an unknown agent: 422 with an
// error naming the field or step, and nothing written (no playbook, no
// audit record).
func TestPlaybookImportRefusesBadInput(t *testing.T) {
	good := string(ransomwarePlaybook(t))
	restore, rebuild := stepID(t, good, "Restore from the cloud backup"), stepID(t, good, "Rebuild from offline media")
	cases := []struct{ name, doc, code, names string }{
		{"invalid JSON", good[:200], "bad_json", ""},
		{"spec_version", strings.Replace(good, `"cacao-2.0"`, `"cacao-1.0"`, 1), "spec_version", "spec_version"},
		{"missing step", strings.Replace(good, `"on_completion": "`+rebuild[:6], `"on_completion": "action--99999999-9999-4999-8999-999999999999", "x": "`+rebuild[:6], 1), "invalid", ""},
		{"loop without end", loop(good, restore, rebuild), "invalid", "no end step is reachable"},
		{"unknown agent", strings.Replace(good, `"agent": "`, `"agent": "organization--77777777-7777-4777-8777-777777777777", "x_old_agent": "`, 1), "invalid", ".agent"},
		{"bad command type", strings.Replace(good, `"type": "manual"`, `"type": "checklist"`, 1), "invalid", "commands.0.type"},
	}
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			ctx := context.Background()
			count := func(q string) int {
				var n int
				if err := h.App.DB.R().QueryRow(ctx, q).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			audits := count(`SELECT COUNT(*) FROM audit_log`)
			for _, c := range cases {
				status, rep := importPlaybook(t, h, h.Users["sme.analyst"], []byte(c.doc), url.Values{})
				if status != http.StatusUnprocessableEntity || rep.Rejected != 1 || rep.Items[0].Code != c.code || !strings.Contains(rep.Items[0].Error, c.names) {
					t.Errorf("%s: %d %+v", c.name, status, rep)
				}
			}
			if n := count(`SELECT COUNT(*) FROM playbooks`) + count(`SELECT COUNT(*) FROM playbook_versions`); n != 0 {
				t.Errorf("%d rows written by refused imports", n)
			}
			if n := count(`SELECT COUNT(*) FROM audit_log`); n != audits {
				t.Errorf("refused imports wrote %d audit records", n-audits)
			}
			if r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/playbooks", "<xml/>"); r.Status != http.StatusUnprocessableEntity {
				t.Errorf("XML body: %d", r.Status)
			}
			if r := h.API(t, h.Users["sme.analyst"].ReadToken, http.MethodGet, "/api/v1/playbooks?library=nonsense", nil); r.Status != http.StatusBadRequest || r.ErrorCode() != "playbook_bad_library" {
				t.Errorf("bad library: %d %s", r.Status, r.Body)
			}
		})
	}
}

// stepID finds a step's id by its name in a document.
func stepID(t *testing.T, doc, name string) string {
	t.Helper()
	i := strings.Index(doc, `"name": "`+name+`"`)
	if i < 0 {
		t.Fatalf("no step %q", name)
	}
	j := strings.LastIndex(doc[:i], `"action--`)
	return doc[j+1 : j+1+len("action--")+36]
}

// loop makes two steps lead to each other: neither reaches an end.
func loop(doc, a, b string) string {
	for _, pair := range [][2]string{{a, b}, {b, a}} {
		i := strings.Index(doc, `"`+pair[0]+`": {`)
		j := i + strings.Index(doc[i:], `"on_completion": "`) + len(`"on_completion": "`)
		k := j + strings.Index(doc[j:], `"`)
		doc = doc[:j] + pair[1] + doc[k:]
	}
	return doc
}

// TestPlaybookPages: the library lists and searches, the playbook's page
// draws the flow as SVG with a title, a description and a label on each
// step, beside the step list (in German with ?lang=de), and the import
// form shows the report.
func TestPlaybookPages(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	_, rep := importPlaybook(t, h, h.Users["sme.analyst"], ransomwarePlaybook(t), url.Values{"audience": {"community"}, "community_id": {h.Circle}})
	id := rep.Items[0].ID
	b := h.Login(t, h.Users["cert.analyst"])
	page := string(b.Get(t, "/playbooks/"+id+"?lang=de").Body)
	for _, want := range []string{`<svg class="playbook-flow"`, `<title id="flow-title">Ablauf von Ransomware first response`, `<desc id="flow-desc">Die 13 Schritte`,
		`aria-label="1. Beginn: Ransomware suspected"`, `verantwortlich: The cloud provider`, `>ja</text>`, `>nein</text>`, `class="flow-node flow-parallel"`,
		`<li id="step-1"`, `Entscheidung`, `Parallele Zweige`, `Disconnect __affected_host__:value`, `id="step-list"`} {
		if !strings.Contains(page, want) {
			t.Errorf("playbook page lacks %q", want)
		}
	}
	if strings.Count(page, `class="flow-node`) != 13 || strings.Count(page, `<li id="step-`) != 13 {
		t.Errorf("the flow and the list must name each of the 13 steps")
	}
	list := string(b.Get(t, "/playbooks?library=community:"+h.Circle).Body)
	if !strings.Contains(list, `href="/playbooks/`+id+`"`) || !strings.Contains(list, "Ransomware first response") {
		t.Error("the circle's library page does not list the playbook")
	}
	if found := string(b.Get(t, "/playbooks?q=parallel").Body); !strings.Contains(found, id) {
		t.Error("search on the library page does not find the playbook by a step's name")
	}
	for _, p := range playbooks.StepTypes {
		if got := h.App.Web.Catalog.T("de", playbooks.TypeKey(p)); got == playbooks.TypeKey(p) {
			t.Errorf("no text for step type %s", p)
		}
	}
	for _, c := range playbooks.RejectCodes {
		key := playbooks.Item{Code: c}.RejectKey()
		if got := h.App.Web.Catalog.T("en", key); got == key {
			t.Errorf("no text for refusal %s", c)
		}
	}
}

// TestPlaybookEditor: a playbook of manual steps written in the editor
// (an action, a decision with yes and no, parallel branches, parties of
// every kind) is saved as valid CACAO into the circle's library; the
// editor reads it back, and saving again adds a version; a draft that
// lacks the responsible party is refused naming the field, and nothing
// is written.
func TestPlaybookEditor(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	b := h.Login(t, h.Users["sme.analyst"])
	// A change of shape: the form comes back with the new decision's fields.
	r := b.PostForm(t, "/playbooks/editor", url.Values{"op": {"add:decision"}, "name": {"Erstmaßnahmen"}, "step.len": {"0"}, "party.len": {"0"}})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `name="step.0.yes.0.name"`) || !strings.Contains(string(r.Body), `autofocus`) {
		t.Fatalf("add:decision: %d", r.Status)
	}
	form := url.Values{"name": {"Ransomware – Erstmaßnahmen"}, "desc": {"Erste Schritte"}, "tlp": {"AMBER"}, "community_id": {h.Circle},
		"party.len": {"3"}, "party.0.kind": {"organization"}, "party.0.name": {"Müller Maschinenbau GmbH"},
		"party.1.kind": {"organization"}, "party.1.name": {"Wolke Cloud AG"}, "party.2.kind": {"group"}, "party.2.name": {"IT-Betrieb"},
		"step.len":    {"3"},
		"step.0.kind": {"action"}, "step.0.name": {"Systeme isolieren"}, "step.0.party": {"0"}, "step.0.cmds": {"Netzwerkkabel ziehen\nZeit notieren"},
		"step.1.kind": {"decision"}, "step.1.name": {"Backups unversehrt?"},
		"step.1.yes.len": {"1"}, "step.1.yes.0.name": {"Wiederherstellen"}, "step.1.yes.0.party": {"1"}, "step.1.yes.0.cmds": {"Snapshot zurückspielen"},
		"step.1.no.len": {"1"}, "step.1.no.0.name": {"Neu aufbauen"}, "step.1.no.0.party": {"2"}, "step.1.no.0.cmds": {"Server neu aufsetzen"},
		"step.2.kind": {"parallel"}, "step.2.name": {"Melden"}, "step.2.b.len": {"2"},
		"step.2.b.0.len": {"1"}, "step.2.b.0.0.name": {"Behörde informieren"}, "step.2.b.0.0.party": {"0"}, "step.2.b.0.0.cmds": {"Meldung nach DSGVO Art. 33"},
		"step.2.b.1.len": {"1"}, "step.2.b.1.0.name": {"CERT informieren"}, "step.2.b.1.0.party": {"0"}, "step.2.b.1.0.cmds": {"CERT Süd anrufen"},
	}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("step.1.no.0.party", "-1")
	bad.Set("op", "save")
	if r := b.PostForm(t, "/playbooks/editor", bad); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "Choose who is responsible for step 2 · If no · 1.") {
		t.Errorf("a step without a party: %d", r.Status)
	}
	if ids := listAll(t, h, h.Users["sme.analyst"], "/api/v1/playbooks?library=org"); len(ids) != 0 {
		t.Fatalf("a refused draft wrote %v", ids)
	}
	form.Set("op", "save")
	r = b.PostForm(t, "/playbooks/editor", form)
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/playbooks/") {
		t.Fatalf("save: %d %s %s", r.Status, loc, r.Body)
	}
	id := strings.TrimPrefix(strings.SplitN(loc, "?", 2)[0], "/playbooks/")
	var p playbooks.Playbook
	h.API(t, h.Users["cert.analyst"].ReadToken, http.MethodGet, "/api/v1/playbooks/"+id, nil).JSON(t, &p)
	types := map[string]int{}
	for _, s := range p.Flow {
		types[s.Type]++
	}
	if p.Community != "Mittelstand Süd" || p.ManualSteps != 5 || types["if-condition"] != 1 || types["parallel"] != 1 || types["end"] != 5 {
		t.Fatalf("the circle's partner reads %+v (%v)", p, types)
	}
	// The editor reads it back; saving again is a new version.
	page := string(b.Get(t, "/playbooks/"+id+"/edit").Body)
	for _, want := range []string{`value="Backups unversehrt?"`, `value="Behörde informieren"`, `>IT-Betrieb</option>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the editor lacks %q", want)
		}
	}
	form.Set("id", id)
	form.Set("step.0.name", "Betroffene Systeme isolieren")
	if r := b.PostForm(t, "/playbooks/editor", form); r.Status != http.StatusSeeOther {
		t.Fatalf("save again: %d %s", r.Status, r.Body)
	}
	h.API(t, h.Users["sme.analyst"].ReadToken, http.MethodGet, "/api/v1/playbooks/"+id, nil).JSON(t, &p)
	if len(p.Versions) != 2 || p.Flow[1].Name != "Betroffene Systeme isolieren" {
		t.Errorf("after editing: %d versions, step 2 %q", len(p.Versions), p.Flow[1].Name)
	}
	// Another org's writer may not edit it.
	if r := h.Login(t, h.Users["cert.analyst"]).Get(t, "/playbooks/"+id+"/edit"); r.Status != http.StatusForbidden {
		t.Errorf("the partner edits sme's playbook: %d", r.Status)
	}
}
