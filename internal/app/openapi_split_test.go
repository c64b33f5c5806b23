package app_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"os"
	"reflect"
	"slices"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// TestOpenAPISplitKeepsTheDocument proves once that the document merged from
// the base and the capabilities' fragments says what the single file said
// before the split (testdata/openapi-before-split.json); only the order of
// tags may differ. The old file and this test go in the next commit.
func TestOpenAPISplitKeepsTheDocument(t *testing.T) {
	h := apptest.Start(t, db.SQLite)
	resp, err := h.Server.Client().Get(h.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	served, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile("testdata/openapi-before-split.json")
	if err != nil {
		t.Fatal(err)
	}
	decode := func(b []byte) map[string]any {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		tags, _ := doc["tags"].([]any)
		slices.SortFunc(tags, func(a, b any) int {
			return cmp.Compare(a.(map[string]any)["name"].(string), b.(map[string]any)["name"].(string))
		})
		return doc
	}
	got, want := decode(served), decode(old)
	for k := range want {
		if !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("%q differs from the document before the split", k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%q is new", k)
		}
	}
	for _, section := range []string{"paths", "components"} {
		g, w := got[section].(map[string]any), want[section].(map[string]any)
		for name, v := range w {
			if !reflect.DeepEqual(g[name], v) {
				t.Errorf("%s %q differs or is missing", section, name)
			}
		}
		if len(g) != len(w) {
			t.Errorf("%s: %d entries, before the split %d", section, len(g), len(w))
		}
	}
	comps := got["components"].(map[string]any)
	for sec, names := range want["components"].(map[string]any) {
		if !reflect.DeepEqual(comps[sec], names) {
			t.Errorf("components/%s differ", sec)
		}
	}
}
