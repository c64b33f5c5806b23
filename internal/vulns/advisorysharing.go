package vulns

import (
	"net/http"

	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// sharingForm changes an advisory's level and audience from its page (as
// PATCH /api/v1/advisories/{id} does): only the owner org's writers see
// the form; the kernel checks the change against the agreements.
func (h *handler) sharingForm(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
	}
	in := policy.Sharing{TLP: r.PostFormValue("tlp"), Audience: r.PostFormValue("audience"), Orgs: r.PostForm["orgs"], People: r.PostForm["people"]}
	if in.Audience == "community" {
		in.Community = r.PostFormValue("community_id")
	}
	if _, err := h.svc.ReshareAdvisory(r.Context(), web.ActorFrom(r), r.PathValue("id"), in); err != nil {
		if e, ok := fault.As(err); ok && (e.Kind == fault.Invalid || e.Kind == fault.Forbidden && e.Code != "forbidden") {
			return h.renderAdvisory(w, r, web.Status(e.Kind), advisoryData{Sharing: &in, SharingError: e})
		}
		return err
	}
	return web.Redirect(w, r, "/vulns/advisories/"+r.PathValue("id"), "advisory_reshared")
}
