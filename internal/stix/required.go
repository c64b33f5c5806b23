package stix

import (
	"encoding/json"
	"io/fs"
	"path"
	"strings"
	"sync"
)

// requiredOf is, per type the specification defines, the properties its
// official schema requires beyond the common ones: read once from the
// embedded schemas (their "required" lists, top-level and in "allOf"), so
// checking them costs a map lookup, not a schema run (a run costs ~15
// times the rest of Validate).
var requiredOf = sync.OnceValue(func() map[string][]string {
	out := map[string][]string{}
	for _, dir := range []string{"sdos", "sros", "observables"} {
		entries, err := fs.ReadDir(schemaFiles, path.Join("schemas", dir))
		if err != nil {
			continue
		}
		for _, e := range entries {
			b, err := fs.ReadFile(schemaFiles, path.Join("schemas", dir, e.Name()))
			if err != nil {
				continue
			}
			var s struct {
				Required []string `json:"required"`
				AllOf    []struct {
					Required []string `json:"required"`
				} `json:"allOf"`
			}
			if json.Unmarshal(b, &s) != nil {
				continue
			}
			req := s.Required
			for _, a := range s.AllOf {
				req = append(req, a.Required...)
			}
			out[strings.TrimSuffix(e.Name(), ".json")] = req
		}
	}
	return out
})

// required reports the properties the object's type requires and it
// lacks (the common ones are checked on their own).
func (c *checker) required() {
	for _, p := range requiredOf()[c.o.typ] {
		switch p {
		case "type", "id", "spec_version", "created", "modified":
			continue
		}
		if !c.o.Has(p) {
			c.add(CodeMissing, p, "required")
		}
	}
}
