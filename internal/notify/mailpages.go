package notify

import (
	"time"

	"net/http"

	"verbund/internal/fault"
	"verbund/internal/web"
)

// The e-mail settings page (/profile/mail): a person's choice per group,
// their own mail log and, for their org's admins, the org's.

type mailPageData struct {
	Prefs MailPrefs
	Modes []string
	Every string // the digest's interval, in words
	Mine  []MailDelivery
	Org   []MailDelivery
	// States are the org log's mails by state (a chart).
	States []stateCount
	Error  *fault.Error
}

func (p *pages) mailPage(w http.ResponseWriter, r *http.Request) error {
	return p.renderMail(w, r, http.StatusOK, nil)
}

func (p *pages) renderMail(w http.ResponseWriter, r *http.Request, status int, ferr *fault.Error) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	lang := p.srv.Lang(r)
	prefs, err := p.svc.MailPreferences(ctx, a)
	if err != nil {
		return err
	}
	d := mailPageData{Prefs: prefs, Modes: []string{ModeInstant, ModeDigest, ModeOff}, Error: ferr, Every: p.svc.digestWords(lang, p.srv)}
	if d.Mine, err = p.svc.MyMails(ctx, a, 50); err != nil {
		return err
	}
	if a.CanAdmin() {
		if d.Org, err = p.svc.OrgMails(ctx, a, 100); err != nil {
			return err
		}
	}
	counts, most := map[string]int{}, 0
	for _, x := range d.Org {
		counts[x.State]++
		most = max(most, counts[x.State])
	}
	for _, st := range []string{"delivered", "pending", "waiting", "gathered", "skipped", "dead"} {
		if counts[st] > 0 {
			d.States = append(d.States, stateCount{State: st, Count: counts[st], Width: web.BarWidth(counts[st], most)})
		}
	}
	for _, rows := range [][]MailDelivery{d.Mine, d.Org} {
		for i := range rows {
			rows[i].Label = p.mailLabel(lang, rows[i])
		}
	}
	pg := web.Page{Nav: "profile", Data: d, Title: p.srv.Catalog.T(lang, "notify.mail.title")}
	return p.tpl.Render(w, r, status, "mail", pg)
}

// mailLabel names a log entry's event in lang.
func (p *pages) mailLabel(lang string, d MailDelivery) string {
	switch d.Kind {
	case "digest", "test":
		return p.srv.Catalog.T(lang, "notify.mail.kind."+d.Kind)
	}
	if k := "notify.mail.event." + d.Type; p.srv.Catalog.Has(k) {
		return p.srv.Catalog.T(lang, k)
	}
	return d.Type
}

// digestWords is how often the digest comes, in lang.
func (s *Service) digestWords(lang string, srv *web.Server) string {
	if s.mail == nil || s.mail.cfg.Digest == 24*time.Hour {
		return srv.Catalog.T(lang, "notify.mail.daily")
	}
	return s.mail.cfg.Digest.String()
}

func (p *pages) mailForm(w http.ResponseWriter, r *http.Request) error {
	in := MailPrefsInput{Preferences: map[string]string{}}
	for _, g := range MailGroups() {
		if v := r.PostFormValue(g); v != "" {
			in.Preferences[g] = v
		}
	}
	_, err := p.svc.SetMailPreferences(r.Context(), web.ActorFrom(r), in)
	if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
		return p.renderMail(w, r, web.Status(e.Kind), e)
	}
	if err != nil {
		return err
	}
	return web.Redirect(w, r, "/profile/mail", "mail_saved")
}
