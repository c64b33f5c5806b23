package web

import (
	"context"
	"fmt"

	"verbund/internal/policy"
)

// Ref is what a reader may know of an object that a record names (an
// audit record's object or actor): its name and the page that shows it
// ("" when there is none the reader may open).
type Ref struct{ Name, URL string }

// ObjectType lets pages that list records of every capability (the audit
// trail) name the objects of one type without importing the capability
// that owns them. Resolve returns a Ref for each id the reader may know
// of, and leaves the others out (not found, not visible, deleted): a page
// never links to what its reader would get 404 for.
type ObjectType struct {
	Name    string // the record's object type, e.g. "thread"
	Label   string // catalogue key of the type's name, e.g. "forum.thread"
	Resolve func(ctx context.Context, a policy.Actor, ids []string) (map[string]Ref, error)
}

// AddObjectType registers how to name the objects of one type; a
// capability adds its types when it registers.
func (s *Server) AddObjectType(t ObjectType) {
	if s.objects == nil {
		s.objects = map[string]ObjectType{}
	}
	s.objects[t.Name] = t
}

// ObjectLabel is the catalogue key of a type's name ("" for an unknown type).
func (s *Server) ObjectLabel(typ string) string { return s.objects[typ].Label }

// Resolve names the objects of type typ among ids that a may know of.
func (s *Server) Resolve(ctx context.Context, a policy.Actor, typ string, ids []string) (map[string]Ref, error) {
	t, ok := s.objects[typ]
	if !ok || len(ids) == 0 || t.Resolve == nil {
		return map[string]Ref{}, nil // a type with a label only (records of requests)
	}
	refs, err := t.Resolve(ctx, a, ids)
	if err != nil {
		return nil, fmt.Errorf("name %s objects: %w", typ, err)
	}
	return refs, nil
}
