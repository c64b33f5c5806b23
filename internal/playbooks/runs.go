package playbooks

import (
	"context"

	"verbund/internal/cacao"
	"verbund/internal/incidents"
	"verbund/internal/policy"
)

// The library's side of playbook runs (the runs themselves live in their
// incidents, internal/incidents/runs.go): a version's document for the
// starter, and the playbooks the starter may choose.

// RunDocument returns a version of a playbook the actor may see (else
// not found), decoded, for a run.
func (s *Service) RunDocument(ctx context.Context, a policy.Actor, id, modified string) (incidents.RunPlaybook, error) {
	doc, p, err := s.FindDocument(ctx, a, id, modified)
	if err != nil {
		return incidents.RunPlaybook{}, err
	}
	pb, err := cacao.Decode(doc)
	if err != nil {
		return incidents.RunPlaybook{}, err
	}
	return incidents.RunPlaybook{ID: p.ID, TLP: p.Share.TLP, Doc: pb, OrgName: p.OrgName}, nil
}

// RunChoices lists the playbooks with steps for people the actor may
// see, for the start form.
func (s *Service) RunChoices(ctx context.Context, a policy.Actor) ([]policy.Option, error) {
	ps, _, err := s.FindPlaybooks(ctx, a, ListFilter{Limit: 200})
	if err != nil {
		return nil, err
	}
	var out []policy.Option
	for _, p := range ps {
		if p.ManualSteps > 0 {
			out = append(out, policy.Option{ID: p.ID, Name: p.Name + " (" + p.OrgName + ")"})
		}
	}
	return out, nil
}
