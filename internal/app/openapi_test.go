package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// openapiMethods are the operation keys of an OpenAPI path item.
var openapiMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// TestOpenAPIMatchesRoutes keeps the served OpenAPI document and the router
// in step: every /api/v1 route is documented with its method and declared
// permission, nothing undocumented is registered and nothing documented is
// missing, and every $ref resolves.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	h := apptest.Start(t, db.SQLite)

	resp, err := h.Server.Client().Get(h.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatalf("GET /api/v1/openapi.json: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read /api/v1/openapi.json: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.json without a token: status %d, want 200: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET /api/v1/openapi.json: Content-Type %q, want application/json", ct)
	}

	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("/api/v1/openapi.json is not valid JSON: %v", err)
	}
	if v := doc["openapi"]; v != "3.1.0" {
		t.Fatalf("openapi = %v, want 3.1.0", v)
	}
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatalf("the document has no paths object")
	}

	// Operations in the document, keyed "METHOD /path".
	type operation struct {
		perm     string
		op       map[string]any
		pathItem map[string]any
	}
	documented := map[string]operation{}
	for path, item := range paths {
		pi, ok := item.(map[string]any)
		if !ok {
			t.Errorf("path %s: not an object", path)
			continue
		}
		for _, m := range openapiMethods {
			raw, ok := pi[m]
			if !ok {
				continue
			}
			op, ok := raw.(map[string]any)
			if !ok {
				t.Errorf("%s %s: operation is not an object", strings.ToUpper(m), path)
				continue
			}
			perm, _ := op["x-permission"].(string)
			documented[strings.ToUpper(m)+" "+path] = operation{perm: perm, op: op, pathItem: pi}
		}
	}

	// Registered → documented, with the same permission.
	registered := map[string]bool{}
	for _, r := range h.App.Web.Router.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		key := r.Method + " " + r.Path
		registered[key] = true
		d, ok := documented[key]
		if !ok {
			t.Errorf("route %q (permission %s) is registered but not in openapi.json", r.Pattern, r.Perm)
			continue
		}
		if d.perm != string(r.Perm) {
			t.Errorf("route %q: x-permission %q in openapi.json, but the route is registered with %q", r.Pattern, d.perm, r.Perm)
		}
	}
	if len(registered) == 0 {
		t.Fatal("no /api/v1/ routes are registered")
	}

	// Documented → registered, and each operation complete.
	keys := make([]string, 0, len(documented))
	for k := range documented {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	opIDs := map[string]string{}
	for _, key := range keys {
		d := documented[key]
		if !registered[key] {
			t.Errorf("operation %q is in openapi.json but no such route is registered", key)
		}
		checkOperation(t, doc, key, d.op, d.pathItem)
		if id, _ := d.op["operationId"].(string); id != "" {
			if other, dup := opIDs[id]; dup {
				t.Errorf("operation %q: operationId %q is also used by %q", key, id, other)
			}
			opIDs[id] = key
		}
	}

	// Every $ref resolves inside the document.
	walkRefs(doc, "#", func(at, ref string) {
		if !strings.HasPrefix(ref, "#/components/") {
			t.Errorf("%s: $ref %q does not point into #/components", at, ref)
			return
		}
		if _, ok := resolvePointer(doc, ref); !ok {
			t.Errorf("%s: $ref %q does not resolve", at, ref)
		}
	})
}

// checkOperation checks one documented operation for the parts every
// operation must have.
func checkOperation(t *testing.T, doc map[string]any, key string, op, pathItem map[string]any) {
	t.Helper()
	for _, f := range []string{"operationId", "summary"} {
		if s, _ := op[f].(string); s == "" {
			t.Errorf("operation %q: no %s", key, f)
		}
	}
	tags, _ := op["tags"].([]any)
	if len(tags) == 0 {
		t.Errorf("operation %q: no tags", key)
	}
	perm, _ := op["x-permission"].(string)
	if perm == "" {
		t.Errorf("operation %q: no x-permission", key)
	}

	// Path parameters: each {name} in the path is declared, and nothing else.
	_, path, _ := strings.Cut(key, " ")
	want := map[string]bool{}
	for rest := path; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			t.Errorf("operation %q: unbalanced braces in the path", key)
			break
		}
		want[rest[i+1:i+j]] = true
		rest = rest[i+j+1:]
	}
	got := map[string]bool{}
	for _, list := range []any{pathItem["parameters"], op["parameters"]} {
		ps, _ := list.([]any)
		for _, p := range ps {
			pm, _ := p.(map[string]any)
			if ref, ok := pm["$ref"].(string); ok {
				target, _ := resolvePointer(doc, ref)
				pm, _ = target.(map[string]any)
			}
			if pm["in"] == "path" {
				name, _ := pm["name"].(string)
				got[name] = true
				if pm["required"] != true {
					t.Errorf("operation %q: path parameter %q is not required", key, name)
				}
			}
		}
	}
	for n := range want {
		if !got[n] {
			t.Errorf("operation %q: path parameter {%s} is not declared", key, n)
		}
	}
	for n := range got {
		if !want[n] {
			t.Errorf("operation %q: declares path parameter %q that is not in the path", key, n)
		}
	}

	// Responses: one success status; authenticated routes document 401.
	responses, _ := op["responses"].(map[string]any)
	var success []string
	for code := range responses {
		if strings.HasPrefix(code, "2") {
			success = append(success, code)
		}
	}
	if len(success) != 1 {
		t.Errorf("operation %q: %d success responses %v, want exactly one", key, len(success), success)
	}
	if perm != "public" {
		if _, ok := responses["401"]; !ok {
			t.Errorf("operation %q: needs a token but documents no 401", key)
		}
	}
	if len(want) > 0 {
		if _, ok := responses["404"]; !ok {
			t.Errorf("operation %q: names an object in its path but documents no 404", key)
		}
	}
	if _, ok := op["requestBody"]; ok {
		if _, ok := responses["400"]; !ok {
			t.Errorf("operation %q: takes a body but documents no 400", key)
		}
	}
	if perm == "public" {
		if sec, ok := op["security"].([]any); !ok || len(sec) != 0 {
			t.Errorf("operation %q: public, but does not override security with []", key)
		}
	}
}

// walkRefs calls fn for every "$ref" string in v, with its JSON pointer.
func walkRefs(v any, at string, fn func(at, ref string)) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if k == "$ref" {
				if s, ok := x[k].(string); ok {
					fn(at, s)
				}
				continue
			}
			walkRefs(x[k], at+"/"+escapePointer(k), fn)
		}
	case []any:
		for i, e := range x {
			walkRefs(e, at+"/"+strconv.Itoa(i), fn)
		}
	}
}

// resolvePointer follows a local JSON pointer ("#/a/b") in doc.
func resolvePointer(doc map[string]any, ref string) (any, bool) {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = doc
	for _, tok := range strings.Split(p, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
