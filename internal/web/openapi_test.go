package web

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"
)

const testBase = `{"openapi":"3.1.0","info":{"title":"t","version":"1"},
 "tags":[{"name":"meta","description":"m"}],
 "paths":{"/api/v1/openapi.json":{"get":{"summary":"doc"}}},
 "components":{"schemas":{"Error":{"type":"object"},"Big":{"type":"integer","maximum":9007199254740993}}}}`

func TestAddOpenAPI(t *testing.T) {
	files := fstest.MapFS{
		"base.json": {Data: []byte(testBase)},
		"a.json": {Data: []byte(`{"tags":[{"name":"a","description":"A"},{"name":"meta","description":"m"}],
 "paths":{"/api/v1/x":{"parameters":[{"$ref":"#/components/parameters/Id"}],"get":{"responses":{"400":{"$ref":"#/components/schemas/Error"}}}}},
 "components":{"schemas":{"A":{"type":"string"},"Error":{"type":"object"}},"parameters":{"Id":{"name":"id","in":"path"}}}}`)},
		"b.json": {Data: []byte(`{"paths":{"/api/v1/x":{"parameters":[{"$ref":"#/components/parameters/Id"}],"post":{"summary":"make"}}}}`)},

		"dup-op.json":     {Data: []byte(`{"paths":{"/api/v1/x":{"get":{"summary":"again"}}}}`)},
		"dup-comp.json":   {Data: []byte(`{"components":{"schemas":{"A":{"type":"integer"}}}}`)},
		"dup-tag.json":    {Data: []byte(`{"tags":[{"name":"a","description":"other"}]}`)},
		"dup-info.json":   {Data: []byte(`{"info":{"title":"u"}}`)},
		"dup-params.json": {Data: []byte(`{"paths":{"/api/v1/x":{"parameters":[],"put":{}}}}`)},
		"bad-ref.json":    {Data: []byte(`{"paths":{"/api/v1/y":{"get":{"responses":{"200":{"$ref":"#/components/schemas/Nope"}}}}}}`)},
		"broken.json":     {Data: []byte(`{"paths":`)},
	}
	s := &Server{}
	for _, f := range []string{"base.json", "a.json", "b.json"} {
		if err := s.AddOpenAPI(files, f); err != nil {
			t.Fatalf("AddOpenAPI(%s): %v", f, err)
		}
	}
	for f, want := range map[string]string{
		"dup-op.json":     "operation GET /api/v1/x is documented twice",
		"dup-comp.json":   `"A": defined twice, differently`,
		"dup-tag.json":    `"a" is defined twice`,
		"dup-info.json":   `"info" is defined twice`,
		"dup-params.json": `"parameters": defined twice`,
		"broken.json":     "broken.json",
		"missing.json":    "missing.json",
	} {
		if err := s.AddOpenAPI(files, f); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("AddOpenAPI(%s) = %v, want an error mentioning %s", f, err, want)
		}
	}
	b, err := s.OpenAPI()
	if err != nil {
		t.Fatalf("OpenAPI: %v", err)
	}
	var doc struct {
		Tags  []struct{ Name string }
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Tags) != 2 || doc.Tags[0].Name != "meta" || doc.Tags[1].Name != "a" {
		t.Errorf("tags %v, want meta, a", doc.Tags)
	}
	x := doc.Paths["/api/v1/x"]
	if _, ok := x["get"]; !ok || x["post"] == nil || len(x) != 3 {
		t.Errorf("/api/v1/x = %v, want get, post and parameters (refused fragments change nothing)", x)
	}
	if !strings.Contains(string(b), "9007199254740993") {
		t.Error("a large number lost its digits")
	}

	if err := s.AddOpenAPI(files, "bad-ref.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenAPI(); err == nil || !strings.Contains(err.Error(), `"#/components/schemas/Nope" does not resolve`) {
		t.Errorf("OpenAPI with a dangling $ref = %v", err)
	}
	if _, err := (&Server{}).OpenAPI(); err == nil {
		t.Error("OpenAPI without a base succeeded")
	}
}
