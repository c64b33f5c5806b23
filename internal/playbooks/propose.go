package playbooks

import (
	"context"
	"net/http"
	"strings"

	"verbund/internal/fault"
	"verbund/internal/incidents"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// A run's review proposes the playbook's next version: the editor opens
// with the version run, the deviations written beside the steps they
// concern and the incident's lessons learned in the description. The
// playbook's owner saves it as a new version; anyone else as a new
// playbook of their own library (SaveDraft with no id). Like the
// editor's own changes of shape, it is a form's POST that answers with
// the editor (nothing is saved until the editor's save).

// Proposals reads what a run suggests (incidents.Service.ProposeFromRun;
// set by the app).
type Proposals func(ctx context.Context, a policy.Actor, runID string) (incidents.Proposal, error)

func (h *handler) proposePage(w http.ResponseWriter, r *http.Request) error {
	if h.svc.Proposals == nil {
		return fault.ErrNotFound
	}
	a := web.ActorFrom(r)
	ctx := r.Context()
	id := r.PathValue("id")
	prop, err := h.svc.Proposals(ctx, a, r.PostFormValue("run"))
	if err != nil {
		return err
	}
	if prop.PlaybookID != id {
		return fault.ErrNotFound
	}
	p, err := h.svc.FindPlaybookByID(ctx, a, id)
	if err != nil {
		return err
	}
	d, why := draftOf(p.Doc)
	if why != "" {
		return notEditable(why)
	}
	// The deviations and lessons are the incident's text: they go no
	// further than the incident. A new version keeps the playbook's level
	// and audience, so it carries them only when the playbook's readers are
	// among the incident's (policy.Within, the incident as the container);
	// else the editor opens with the version alone and says why. A new
	// playbook of the actor's library is preselected at the stricter of the
	// playbook's and the incident's levels, for the actor's own org, with a
	// note that it holds the incident's text.
	var notice string
	withIncident := true
	if p.OrgID == a.OrgID {
		d.ID = id
		sh, ok, err := policy.LoadShare(ctx, h.svc.DB.R(), id)
		if err != nil {
			return err
		}
		if !ok || policy.Within(ctx, h.svc.DB.R(), sh, prop.Incident) != nil {
			withIncident = false
			notice = h.t(r, "playbooks.propose.withheld")
		}
	} else {
		l := max(p.Share.TLP, prop.Incident.TLP)
		d.TLP, d.Community = l.Name(), ""
		notice = h.t(r, "playbooks.propose.incident_text", "tlp", l.String())
	}
	if !withIncident {
		return h.renderEditor(w, r, http.StatusOK, editorData{D: d, Notice: notice})
	}
	var notes []string
	for _, dv := range prop.Deviations {
		note := h.t(r, "playbooks.propose."+dv.Kind, "step", dv.StepName, "org", dv.ByOrg)
		if dv.Reason != "" {
			note += " – " + dv.Reason
		}
		notes = append(notes, note)
		d.eachAction(func(x *Action) {
			if x.ID == dv.StepID {
				x.Desc = strings.TrimSpace(x.Desc + "\n" + note)
			}
		})
	}
	if prop.Lessons != "" {
		notes = append(notes, h.t(r, "playbooks.propose.lessons", "text", prop.Lessons))
	}
	if len(notes) > 0 {
		d.Desc = strings.TrimSpace(d.Desc + "\n\n" + h.t(r, "playbooks.propose.heading") + "\n" + strings.Join(notes, "\n"))
	}
	return h.renderEditor(w, r, http.StatusOK, editorData{D: d, Notice: notice})
}
