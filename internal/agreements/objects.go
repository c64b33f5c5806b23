package agreements

import (
	"context"

	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// objectType names agreements in records (the audit trail): those the
// reader's org may see (its parties; a charter's circle members).
func (h *Handler) objectType() web.ObjectType {
	return web.ObjectType{Name: "agreement", Label: "agreement.singular",
		Resolve: func(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
			out := map[string]web.Ref{}
			for _, id := range ids {
				g, err := h.svc.FindAgreementByID(ctx, a, id)
				if fault.Is(err, fault.NotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
				out[id] = web.Ref{Name: g.Name(), URL: "/agreements/" + id}
			}
			return out, nil
		}}
}
