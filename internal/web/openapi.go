package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// AddOpenAPI merges an OpenAPI document or fragment (name in fsys) into the
// document the hub serves, so that each capability documents its routes
// next to them (internal/forum/openapi.json). The hub's base document
// (internal/app) holds info, servers, security and the shared components;
// a fragment holds paths, components and tags. Merging refuses an operation
// (method and path) documented twice, and a component, tag or top-level
// field defined twice with different content; identical repeats are fine.
// Call it while registering, before OpenAPI.
func (s *Server) AddOpenAPI(fsys fs.FS, name string) error {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers come out as they went in
	var frag map[string]any
	if err := dec.Decode(&frag); err != nil {
		return fmt.Errorf("openapi: %s: %w", name, err)
	}
	if s.apiDoc == nil {
		s.apiDoc = map[string]any{}
	}
	// Merge into a copy so that a refused fragment changes nothing.
	doc := maps.Clone(s.apiDoc)
	if err := mergeOpenAPI(doc, frag); err != nil {
		return fmt.Errorf("openapi: %s: %w", name, err)
	}
	s.apiDoc = doc
	return nil
}

// OpenAPI returns the merged document as JSON, once every capability has
// added its fragment. It fails when a $ref does not resolve inside the
// document or the base (openapi, info, paths) is missing.
func (s *Server) OpenAPI() ([]byte, error) {
	for _, k := range []string{"openapi", "info", "paths"} {
		if _, ok := s.apiDoc[k]; !ok {
			return nil, fmt.Errorf("openapi: the merged document has no %q: add the base document", k)
		}
	}
	var errs []error
	walkRefs(s.apiDoc, "#", func(at, ref string) {
		if _, ok := resolveRef(s.apiDoc, ref); !ok {
			errs = append(errs, fmt.Errorf("openapi: %s: $ref %q does not resolve", at, ref))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(s.apiDoc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return append(b, '\n'), nil
}

// mergeOpenAPI merges frag into doc. Maps in doc that frag extends are
// cloned first, never changed in place.
func mergeOpenAPI(doc, frag map[string]any) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(frag)) {
		v := frag[k]
		switch k {
		case "paths":
			paths, err := mergeObjects(doc[k], v, "paths", func(path string, have, add any) (any, error) {
				return mergePathItem(path, have, add)
			})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			doc[k] = paths
		case "components":
			comps, err := mergeObjects(doc[k], v, "components", func(section string, have, add any) (any, error) {
				return mergeObjects(have, add, "components/"+section, sameOrConflict)
			})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			doc[k] = comps
		case "tags":
			tags, err := mergeTags(doc[k], v)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			doc[k] = tags
		default:
			have, ok := doc[k]
			if ok && !reflect.DeepEqual(have, v) {
				errs = append(errs, fmt.Errorf("%q is defined twice, differently", k))
				continue
			}
			doc[k] = v
		}
	}
	return errors.Join(errs...)
}

// mergeObjects merges the JSON object add into have (either may be absent),
// resolving each name both define with both.
func mergeObjects(have, add any, at string, both func(name string, have, add any) (any, error)) (map[string]any, error) {
	a, ok := add.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not an object", at)
	}
	var out map[string]any
	switch h := have.(type) {
	case nil:
		out = map[string]any{}
	case map[string]any:
		out = maps.Clone(h)
	default:
		return nil, fmt.Errorf("%s: not an object", at)
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(a)) {
		cur, ok := out[name]
		if !ok {
			out[name] = a[name]
			continue
		}
		v, err := both(name, cur, a[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", at, name, err))
			continue
		}
		out[name] = v
	}
	return out, errors.Join(errs...)
}

// mergePathItem joins two path items of one path: an operation may be
// documented once; other fields (path parameters, summary) must agree.
func mergePathItem(path string, have, add any) (any, error) {
	return mergeObjects(have, add, "path item", func(key string, h, a any) (any, error) {
		if slices.Contains(openAPIMethods, key) {
			return nil, fmt.Errorf("operation %s %s is documented twice", strings.ToUpper(key), path)
		}
		return sameOrConflict(key, h, a)
	})
}

func sameOrConflict(_ string, have, add any) (any, error) {
	if !reflect.DeepEqual(have, add) {
		return nil, errors.New("defined twice, differently")
	}
	return have, nil
}

// mergeTags appends add's tags to have's, in order; a tag named twice must
// say the same.
func mergeTags(have, add any) ([]any, error) {
	h, _ := have.([]any)
	a, ok := add.([]any)
	if !ok {
		return nil, errors.New("tags: not a list")
	}
	out := slices.Clone(h)
	for _, t := range a {
		name, _ := t.(map[string]any)["name"].(string)
		i := slices.IndexFunc(out, func(o any) bool { n, _ := o.(map[string]any)["name"].(string); return n == name })
		switch {
		case name == "":
			return nil, errors.New("tags: a tag without a name")
		case i < 0:
			out = append(out, t)
		case !reflect.DeepEqual(out[i], t):
			return nil, fmt.Errorf("tags: %q is defined twice, differently", name)
		}
	}
	return out, nil
}

// walkRefs calls fn for every "$ref" string in v, with its JSON pointer.
func walkRefs(v any, at string, fn func(at, ref string)) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if s, ok := x[k].(string); ok && k == "$ref" {
				fn(at, s)
				continue
			}
			walkRefs(x[k], at+"/"+pointerToken(k), fn)
		}
	case []any:
		for i, e := range x {
			walkRefs(e, fmt.Sprintf("%s/%d", at, i), fn)
		}
	}
}

// pointerToken escapes a key for a JSON pointer (RFC 6901: "~" as "~0",
// "/" as "~1"). Most keys need nothing: building a replacer for each of
// them took a fifth of the hub's start.
func pointerToken(k string) string {
	if !strings.ContainsAny(k, "~/") {
		return k
	}
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// resolveRef follows a local JSON pointer ("#/components/schemas/Post").
func resolveRef(doc map[string]any, ref string) (any, bool) {
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
