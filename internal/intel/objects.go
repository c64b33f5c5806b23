package intel

import (
	"context"

	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// objectTypes name intel objects, imports and TAXII requests in records
// (the audit trail): an object only for readers who may see it now,
// through the kernel like every read (a record of an object the reader may
// not see names nothing and links nowhere).
func (s *Service) objectTypes() []web.ObjectType {
	return []web.ObjectType{
		{Name: "intel", Label: "intel.object", Resolve: s.nameObjects},
		{Name: "intel_import", Label: "intel.import_record"},
		{Name: "taxii_status", Label: "intel.taxii_request"},
	}
}

func (s *Service) nameObjects(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	out := map[string]web.Ref{}
	for _, id := range ids {
		o, err := s.FindByID(ctx, a, id)
		if fault.Is(err, fault.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		name := o.Name
		if name == "" {
			name = o.STIXID
		}
		out[id] = web.Ref{Name: name, URL: "/intel/objects/" + id}
	}
	return out, nil
}
