package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/demo"
	"verbund/internal/playbooks"
)

// formValues reads a page's form as a browser would submit it (without
// any submit button): inputs, textareas and the selected options.
func formValues(t *testing.T, page []byte) url.Values {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, k string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == k {
				return a.Val, true
			}
		}
		return "", false
	}
	text := func(n *html.Node) string {
		var b strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				b.WriteString(c.Data)
			}
		}
		return b.String()
	}
	v := url.Values{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			name, named := attr(n, "name")
			switch {
			case n.Data == "input" && named:
				val, _ := attr(n, "value")
				v.Add(name, val)
			case n.Data == "textarea" && named:
				v.Add(name, strings.TrimPrefix(text(n), "\n"))
			case n.Data == "select" && named:
				var first, chosen string
				var found, have bool
				var opts func(*html.Node)
				opts = func(o *html.Node) {
					for c := o.FirstChild; c != nil; c = c.NextSibling {
						if c.Type == html.ElementNode && c.Data == "option" {
							val, ok := attr(c, "value")
							if !ok {
								val = text(c)
							}
							if !have {
								first, have = val, true
							}
							if _, sel := attr(c, "selected"); sel && !found {
								chosen, found = val, true
							}
						}
						opts(c)
					}
				}
				opts(n)
				if !found {
					chosen = first
				}
				v.Add(name, chosen)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return v
}

// TestPlaybookEditorKeepsContent: the demo playbook opened in the editor
// and saved without changes is a new version equal to the stored one
// except modified: playbook_types, labels, the decision's condition, the
// names of start and end steps, markings and agents are kept. A playbook
// with steps the editor cannot show is refused with a message naming them.
func TestPlaybookEditorKeepsContent(t *testing.T) {
	doc, err := demo.RansomwarePlaybook()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			u := h.Users["sme.analyst"]
			if st, rep := importPlaybook(t, h, u, doc, url.Values{}); st != http.StatusOK || rep.Accepted != 1 {
				t.Fatalf("import: %d %+v", st, rep)
			}
			id := rep1(t, h, u)
			b := h.Login(t, u)
			page := b.Get(t, "/playbooks/"+id+"/edit")
			if page.Status != http.StatusOK {
				t.Fatalf("edit page: %d", page.Status)
			}
			form := formValues(t, page.Body)
			form.Set("op", "save")
			if r := b.PostForm(t, "/playbooks/editor", form); r.Status != http.StatusSeeOther {
				t.Fatalf("save: %d %s", r.Status, r.Body)
			}
			var p playbooks.Playbook
			h.API(t, u.ReadToken, http.MethodGet, "/api/v1/playbooks/"+id, nil).JSON(t, &p)
			if len(p.Versions) != 2 {
				t.Fatalf("versions after saving: %d", len(p.Versions))
			}
			r := h.API(t, u.ReadToken, http.MethodGet, "/api/v1/playbooks/"+id+"/cacao", nil)
			var before, after map[string]any
			if err := json.Unmarshal(doc, &before); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(r.Body, &after); err != nil {
				t.Fatalf("document: %d %v", r.Status, err)
			}
			if after["modified"] == before["modified"] {
				t.Errorf("modified unchanged: %v", after["modified"])
			}
			delete(before, "modified")
			delete(after, "modified")
			if !reflect.DeepEqual(before, after) {
				a, _ := json.MarshalIndent(after, "", " ")
				t.Errorf("the editor changed the playbook:\n%s", a)
			}

			// The German page names the playbook types and dates in German.
			de := string(b.Get(t, "/playbooks/"+id+"?lang=de").Body)
			if !strings.Contains(de, "Benachrichtigung") || regexp.MustCompile(`>\d{4}-\d\d-\d\dT`).MatchString(de) || strings.Contains(de, "1. 1.") {
				t.Errorf("the German page shows raw types or ISO dates")
			}

			// A playbook with a step that is not for people is not opened in the editor.
			var m map[string]any
			_ = json.Unmarshal(doc, &m)
			wf := m["workflow"].(map[string]any)
			for _, s := range wf {
				if st := s.(map[string]any); st["type"] == "action" {
					st["commands"] = []any{map[string]any{"type": "bash", "command": "isolate.sh"}}
					break
				}
			}
			m["id"] = "playbook--6f1d3c2e-8a4b-4c1d-9e2f-3a5b7c9d1e21"
			doc2, _ := json.Marshal(m)
			if st, rep := importPlaybook(t, h, u, doc2, url.Values{}); st != http.StatusOK || rep.Accepted != 1 {
				t.Fatalf("import bash: %d %+v", st, rep)
			}
			var id2 string
			for _, x := range listAll(t, h, u, "/api/v1/playbooks?library=org") {
				if x != id {
					id2 = x
				}
			}
			r = b.Get(t, "/playbooks/"+id2+"/edit")
			if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "commands not manual") || !strings.Contains(string(r.Body), "import") {
				t.Errorf("a bash step in the editor: %d %s", r.Status, r.Body)
			}
		})
	}
}

// rep1 is the hub's id of the one playbook of u's org.
func rep1(t *testing.T, h *apptest.Hub, u *apptest.User) string {
	t.Helper()
	ids := listAll(t, h, u, "/api/v1/playbooks?library=org")
	if len(ids) != 1 {
		t.Fatalf("playbooks of the org: %v", ids)
	}
	return ids[0]
}

// TestPlaybookImportListsEveryProblem: a document with several problems
// (its start leads to a step that does not exist, so no step is reached)
// is refused with every problem listed, each with a stable code and the
// path of the property at fault; error still names the first.
func TestPlaybookImportListsEveryProblem(t *testing.T) {
	doc, err := demo.RansomwarePlaybook()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	start := m["workflow_start"].(string)
	m["workflow"].(map[string]any)[start].(map[string]any)["on_completion"] = "action--00000000-0000-4000-8000-000000000000"
	doc, _ = json.Marshal(m)
	h := apptest.World(t, db.SQLite)
	st, rep := importPlaybook(t, h, h.Users["sme.analyst"], doc, url.Values{})
	if st != http.StatusUnprocessableEntity || len(rep.Items) != 1 {
		t.Fatalf("import: %d %+v", st, rep)
	}
	it := rep.Items[0]
	if len(it.Problems) < 10 || it.Error == "" || !strings.Contains(it.Error, it.Problems[0].Message) {
		t.Fatalf("problems: %d, error %q", len(it.Problems), it.Error)
	}
	codes := map[string]bool{}
	for _, p := range it.Problems {
		if p.Code == "" || p.Field == "" || p.Message == "" {
			t.Errorf("a problem without code, field or message: %+v", p)
		}
		codes[p.Code] = true
	}
	if !codes["cacao_reference"] || !codes["cacao_orphan"] {
		t.Errorf("codes %v", codes)
	}
}
