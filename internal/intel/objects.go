package intel

import (
	"context"

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
	// One query for the page's records, whatever their number (the audit
	// page shows up to 500).
	objs, _, err := s.List(ctx, a, Filter{HubIDs: ids, All: true, AllHolders: true, Limit: len(ids)})
	if err != nil {
		return nil, err
	}
	out := make(map[string]web.Ref, len(objs))
	for _, o := range objs {
		name := o.Name
		if name == "" {
			name = o.STIXID
		}
		out[o.ID] = web.Ref{Name: name, URL: "/intel/objects/" + o.ID}
	}
	return out, nil
}
