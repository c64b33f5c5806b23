package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/cacao"
	"verbund/internal/db/dbtest"
	"verbund/internal/playbooks"
)

// fanOutPlaybook is the ransomware playbook with k if-conditions put
// between its start and its first action, each with on_true the same
// parallel step that fans out to groups parallel steps of 100 end steps,
// each with on_completion the next: the shape whose flow layout used to
// cost k × ends (every if's branch reaches every end).
func fanOutPlaybook(t *testing.T, k, groups int) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(ransomwarePlaybook(t), &d); err != nil {
		t.Fatal(err)
	}
	id := func(typ string, kind, i int) string {
		return fmt.Sprintf("%s--%08x-0000-4000-8000-%012x", typ, kind, i)
	}
	wf := d["workflow"].(map[string]any)
	start := wf[d["workflow_start"].(string)].(map[string]any)
	first := start["on_completion"].(string)
	p := id("parallel", 0, 0)
	for i := range k {
		next := first
		if i+1 < k {
			next = id("if-condition", 1, i+1)
		}
		wf[id("if-condition", 1, i)] = map[string]any{"type": "if-condition", "condition": "[x-case:open = true]", "on_true": p, "on_completion": next}
	}
	start["on_completion"] = id("if-condition", 1, 0)
	var branches []any
	for g := range groups {
		q := id("parallel", 2, g)
		branches = append(branches, q)
		var ends []any
		for j := range 100 {
			e := id("end", 3+g, j)
			wf[e] = map[string]any{"type": "end"}
			ends = append(ends, e)
		}
		wf[q] = map[string]any{"type": "parallel", "next_steps": ends}
	}
	wf[p] = map[string]any{"type": "parallel", "next_steps": branches}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPlaybookLimits: the fan-out shape at cacao.MaxSteps imports, and
// its page and API answer (the page lists the steps and says the flow is
// too large to draw, instead of drawing it); one step more is refused
// with the code limit, naming the limit, and nothing is written.
func TestPlaybookLimits(t *testing.T) {
	ransomware := 13
	k := cacao.MaxSteps - ransomware - 1 - 5 - 500
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			sme := h.Users["sme.analyst"]
			org := url.Values{"tlp": {"AMBER"}, "audience": {"org"}}
			status, rep := importPlaybook(t, h, sme, fanOutPlaybook(t, k+1, 5), org)
			if status != http.StatusUnprocessableEntity || rep.Rejected != 1 || rep.Items[0].Code != "limit" ||
				!strings.Contains(rep.Items[0].Error, fmt.Sprintf("at most %d", cacao.MaxSteps)) {
				t.Fatalf("%d steps: %d %+v", cacao.MaxSteps+1, status, rep)
			}
			if ids := listAll(t, h, sme, "/api/v1/playbooks"); len(ids) != 0 {
				t.Fatalf("a refused playbook was stored: %v", ids)
			}
			status, rep = importPlaybook(t, h, sme, fanOutPlaybook(t, k, 5), org)
			if status != http.StatusOK || rep.Accepted != 1 {
				t.Fatalf("%d steps: %d %+v", cacao.MaxSteps, status, rep)
			}
			id := rep.Items[0].ID
			var p playbooks.Playbook
			if r := h.API(t, sme.ReadToken, http.MethodGet, "/api/v1/playbooks/"+id, nil); r.Status != http.StatusOK {
				t.Fatalf("API: %d", r.Status)
			} else {
				r.JSON(t, &p)
			}
			if len(p.Flow) != cacao.MaxSteps || p.Flow[0].Type != "start" {
				t.Fatalf("API: %d steps", len(p.Flow))
			}
			page := h.Login(t, sme).Get(t, "/playbooks/"+id)
			body := string(page.Body)
			if page.Status != http.StatusOK || strings.Contains(body, `<svg class="playbook-flow"`) || !strings.Contains(body, `class="flow-too-large"`) ||
				!strings.Contains(body, fmt.Sprintf(`id="step-%d"`, cacao.MaxSteps)) {
				t.Fatalf("page: %d, svg %v, note %v", page.Status, strings.Contains(body, `<svg class="playbook-flow"`), strings.Contains(body, "flow-too-large"))
			}
			// A playbook within MaxDrawn is still drawn.
			cloud := h.Users["cloud.analyst"]
			status, rep = importPlaybook(t, h, cloud, ransomwarePlaybook(t), org)
			if status != http.StatusOK {
				t.Fatalf("ransomware: %d %+v", status, rep)
			}
			if body := string(h.Login(t, cloud).Get(t, "/playbooks/"+rep.Items[0].ID).Body); !strings.Contains(body, `<svg class="playbook-flow"`) {
				t.Error("the ransomware playbook is not drawn")
			}
		})
	}
}

// TestPlaybookByCACAOIDFirstHolder: an org in the circle that imports a
// playbook under another org's CACAO id, later, does not take its place
// for a third org looking the id up (export by CACAO id): the first
// holder's stays, however recently the second changed its copy; each org
// gets its own.
func TestPlaybookByCACAOIDFirstHolder(t *testing.T) {
	doc := ransomwarePlaybook(t)
	var head struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(doc, &head); err != nil {
		t.Fatal(err)
	}
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			sme, cloud, cert := h.Users["sme.analyst"], h.Users["cloud.analyst"], h.Users["cert.analyst"]
			circle := url.Values{"tlp": {"AMBER"}, "audience": {"community"}, "community_id": {h.Circle}}
			status, rep := importPlaybook(t, h, sme, doc, circle)
			if status != http.StatusOK {
				t.Fatalf("first holder: %d %+v", status, rep)
			}
			original := rep.Items[0].ID
			shadow := []byte(strings.Replace(string(doc), "Rebuild from offline media", "Send us the backups", 1))
			later := []byte(strings.Replace(string(shadow), `"modified": "2026-03-09T14:30:00.000Z"`, `"modified": "2026-05-01T08:00:00.000Z"`, 1))
			var copyID string
			for _, d := range [][]byte{shadow, later} {
				status, rep := importPlaybook(t, h, cloud, d, circle)
				if status != http.StatusOK {
					t.Fatalf("second holder: %d %+v", status, rep)
				}
				copyID = rep.Items[0].ID
			}
			for _, c := range []struct {
				u    *apptest.User
				want string
			}{{cert, original}, {sme, original}, {cloud, copyID}} {
				_, p, err := h.App.Playbooks.FindDocumentByCACAOID(context.Background(), c.u.Actor, head.ID, "")
				if err != nil || p.ID != c.want {
					t.Errorf("%s gets %s (%v), want %s", c.u.Key, p.ID, err, c.want)
				}
			}
		})
	}
}
