package accounts

import (
	"net/http"
	"net/url"

	"verbund/internal/fault"
	"verbund/internal/web"
)

func urlEscape(s string) string { return url.QueryEscape(s) }

type profileData struct {
	User          User
	TOTPSecret    string
	TOTPURI       string
	RecoveryCodes []string
	Error         *fault.Error
}

func (h *Handler) profilePage(w http.ResponseWriter, r *http.Request) error {
	return h.renderProfile(w, r, http.StatusOK, profileData{})
}

func (h *Handler) renderProfile(w http.ResponseWriter, r *http.Request, status int, d profileData) error {
	u, err := h.svc.GetUser(r.Context(), web.ActorFrom(r), web.ActorFrom(r).UserID)
	if err != nil {
		return err
	}
	d.User = u
	p := web.Page{Nav: "profile", Data: d}
	p.Title = h.srv.Catalog.T(h.srv.Lang(r), "profile.title")
	return h.tpl.Render(w, r, status, "profile", p)
}

// formError re-renders a form page with a user-fixable error instead of
// an error page, so that the user's input stays in front of them.
func formError(err error) (*fault.Error, bool) {
	e, ok := fault.As(err)
	if ok && (e.Kind == fault.Invalid || e.Kind == fault.Conflict || e.Kind == fault.Forbidden) {
		return e, true
	}
	return nil, false
}

func (h *Handler) saveProfile(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	name, lang := r.PostFormValue("name"), r.PostFormValue("lang")
	if _, err := h.svc.UpdateUser(r.Context(), a, a.UserID, UserUpdate{Name: &name, Lang: &lang}); err != nil {
		if e, ok := formError(err); ok {
			return h.renderProfile(w, r, web.Status(e.Kind), profileData{Error: e})
		}
		return err
	}
	return web.Redirect(w, r, "/profile", "saved")
}

func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	if r.PostFormValue("new") != r.PostFormValue("confirm") {
		return h.renderProfile(w, r, http.StatusBadRequest, profileData{Error: fault.Invalidf("confirm", "password_mismatch", "the two new passwords differ")})
	}
	if err := h.svc.SetPassword(r.Context(), a, a.UserID, r.PostFormValue("current"), r.PostFormValue("new")); err != nil {
		if e, ok := formError(err); ok {
			return h.renderProfile(w, r, web.Status(e.Kind), profileData{Error: e})
		}
		return err
	}
	return web.Redirect(w, r, "/profile", "saved")
}

func (h *Handler) totpStart(w http.ResponseWriter, r *http.Request) error {
	secret, uri, err := h.svc.StartTOTP(r.Context(), web.ActorFrom(r))
	if err != nil {
		if e, ok := formError(err); ok {
			return h.renderProfile(w, r, web.Status(e.Kind), profileData{Error: e})
		}
		return err
	}
	return h.renderProfile(w, r, http.StatusOK, profileData{TOTPSecret: secret, TOTPURI: uri})
}

func (h *Handler) totpEnable(w http.ResponseWriter, r *http.Request) error {
	codes, err := h.svc.EnableTOTP(r.Context(), web.ActorFrom(r), r.PostFormValue("code"))
	if err != nil {
		if e, ok := formError(err); ok {
			return h.renderProfile(w, r, web.Status(e.Kind), profileData{Error: e})
		}
		return err
	}
	return h.renderProfile(w, r, http.StatusOK, profileData{RecoveryCodes: codes})
}

func (h *Handler) totpDisable(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DisableTOTP(r.Context(), web.ActorFrom(r), r.PostFormValue("password")); err != nil {
		if e, ok := formError(err); ok {
			return h.renderProfile(w, r, web.Status(e.Kind), profileData{Error: e})
		}
		return err
	}
	return web.Redirect(w, r, "/profile", "saved")
}

type tokensData struct {
	Tokens []Token
	New    *Token
	Secret string
	Error  *fault.Error
}

func (h *Handler) tokensPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderTokens(w, r, http.StatusOK, tokensData{})
}

func (h *Handler) renderTokens(w http.ResponseWriter, r *http.Request, status int, d tokensData) error {
	ts, err := h.svc.ListTokens(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	d.Tokens = ts
	p := web.Page{Nav: "tokens", Data: d}
	p.Title = h.srv.Catalog.T(h.srv.Lang(r), "token.title")
	return h.tpl.Render(w, r, status, "tokens", p)
}

func (h *Handler) createTokenForm(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	t, secret, err := h.svc.CreateToken(r.Context(), a, a.UserID, NewToken{Name: r.PostFormValue("name"), Scope: r.PostFormValue("scope"), Expires: r.PostFormValue("expires")})
	if err != nil {
		if e, ok := formError(err); ok {
			return h.renderTokens(w, r, web.Status(e.Kind), tokensData{Error: e})
		}
		return err
	}
	return h.renderTokens(w, r, http.StatusCreated, tokensData{New: &t, Secret: secret})
}

func (h *Handler) revokeTokenForm(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.RevokeToken(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	return web.Redirect(w, r, "/tokens", "revoked")
}

type peopleData struct {
	People []User
	Error  *fault.Error
	Form   NewUser
}

func (h *Handler) peoplePage(w http.ResponseWriter, r *http.Request) error {
	return h.renderPeople(w, r, http.StatusOK, peopleData{})
}

func (h *Handler) renderPeople(w http.ResponseWriter, r *http.Request, status int, d peopleData) error {
	ps, err := h.svc.ListUsers(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	d.People = ps
	p := web.Page{Nav: "people", Data: d}
	p.Title = h.srv.Catalog.T(h.srv.Lang(r), "people.title")
	return h.tpl.Render(w, r, status, "people", p)
}

func (h *Handler) createPersonForm(w http.ResponseWriter, r *http.Request) error {
	in := NewUser{Email: r.PostFormValue("email"), Name: r.PostFormValue("name"), Role: r.PostFormValue("role"), Password: r.PostFormValue("password")}
	if _, err := h.svc.CreateUser(r.Context(), web.ActorFrom(r), in); err != nil {
		if e, ok := formError(err); ok {
			in.Password = ""
			return h.renderPeople(w, r, web.Status(e.Kind), peopleData{Error: e, Form: in})
		}
		return err
	}
	return web.Redirect(w, r, "/people", "saved")
}

func (h *Handler) updatePersonForm(w http.ResponseWriter, r *http.Request) error {
	var up UserUpdate
	if v := r.PostFormValue("role"); v != "" {
		up.Role = &v
	}
	switch r.PostFormValue("disabled") {
	case "1":
		t := true
		up.Disabled = &t
	case "0":
		f := false
		up.Disabled = &f
	}
	if _, err := h.svc.UpdateUser(r.Context(), web.ActorFrom(r), r.PathValue("id"), up); err != nil {
		if e, ok := formError(err); ok {
			return h.renderPeople(w, r, web.Status(e.Kind), peopleData{Error: e})
		}
		return err
	}
	return web.Redirect(w, r, "/people", "saved")
}
