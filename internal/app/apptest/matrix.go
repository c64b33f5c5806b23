package apptest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"verbund/internal/db"
	"verbund/internal/web"
)

// RunMatrix is the authorization matrix: every registered route, called by
// every kind of actor, must answer as its kit's row says. It fails on a
// route no kit has a row for, on a row for no route, on a route without a
// known permission, and on a GET route that read a shareable kind (traced
// through the sharing kernel while the rows ran) for which no kit's leak
// harness has a path: what serves shared data must be in the harness.
func RunMatrix(t *testing.T, kits ...Kit) {
	h := World(t, db.SQLite)
	f := &Fixture{Hub: h, IDs: map[string]string{}}
	rows := map[string]Row{}
	for _, k := range kits {
		if k.Setup != nil {
			k.Setup(t, f)
		}
		for p, r := range k.Rows {
			if _, dup := rows[p]; dup {
				t.Errorf("kit %s: route %q has a row in another kit too", k.Name, p)
			}
			rows[p] = r
		}
	}
	routes := h.App.Web.Router.Routes()
	for _, r := range routes {
		row, ok := rows[r.Pattern]
		if !ok {
			t.Errorf("route %q (permission %s) is missing from the authorization matrix: add a row to its capability's kit", r.Pattern, r.Perm)
			continue
		}
		t.Run(r.Pattern, func(t *testing.T) {
			for _, a := range matrixActors() {
				want, ok := row.Want[a.name]
				if !ok {
					want, ok = row.Want["*"]
				}
				if !ok {
					t.Fatalf("no expectation for actor %s", a.name)
				}
				path, body := row.Req(t, f)
				token := ""
				if a.user != "" {
					token = h.Users[a.user].WriteToken
					if a.name == "readtok" {
						token = h.Users[a.user].ReadToken
					}
				}
				got, resp := call(t, h, token, r.Method, path, body)
				if got != want {
					t.Errorf("%s as %s: status %d, want %d (%s)", r.Method+" "+path, a.name, got, want, resp)
				}
			}
		})
	}
	registered := map[string]bool{}
	for _, r := range routes {
		registered[r.Pattern] = true
		if !slices.Contains(web.Perms(), r.Perm) {
			t.Errorf("route %q has no known permission (%q)", r.Pattern, r.Perm)
		}
	}
	for p := range rows {
		if !registered[p] {
			t.Errorf("the matrix names %q but no such route is registered", p)
		}
	}
	covered := map[string]map[string]bool{} // kind → routes with a harness path
	for _, k := range kits {
		for _, lk := range k.Kinds {
			if covered[lk.Kind] == nil {
				covered[lk.Kind] = map[string]bool{}
			}
			for _, p := range lk.Paths {
				covered[lk.Kind][p.Route] = true
			}
		}
	}
	for pattern, kinds := range h.App.Web.Router.KindsServed() {
		if !strings.HasPrefix(pattern, "GET ") {
			continue // writes read the object they change; the matrix covers them
		}
		for _, kind := range kinds {
			if !covered[kind][pattern] {
				t.Errorf("route %q serves objects of kind %q, but the leak harness has no path for it: add one to the kind's LeakKind.Paths", pattern, kind)
			}
		}
	}
	for _, kind := range h.App.Sharing.Kinds() {
		if covered[kind.Name()] == nil {
			t.Errorf("kind %q is registered with the sharing kernel but no kit describes it to the leak harness", kind.Name())
		}
	}
}

var titleRe = regexp.MustCompile(`<title>([^<]*)</title>`)

// call sends one request; bodies of type url.Values go as a form, others
// as JSON. Streams (SSE) are cut after the headers. It returns the status
// and a short description of the answer.
func call(t *testing.T, h *Hub, token, method, path string, body any) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case Raw:
		rd, ct = strings.NewReader(b.Body), b.ContentType
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		js, err := json.Marshal(b)
		must(t, err)
		rd, ct = strings.NewReader(string(js)), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, h.URL+path, rd)
	must(t, err)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, "stream"
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if m := titleRe.FindSubmatch(b); m != nil {
		return resp.StatusCode, string(m[1])
	}
	return resp.StatusCode, string(b[:min(len(b), 200)])
}
