package accounts

import (
	"embed"
	"net/http"
	"time"

	"verbund/internal/fault"
	"verbund/internal/web"
)

// files are the capability's pages, its texts and its part of the API
// document.
//
//go:embed all:templates i18n openapi.json
var files embed.FS

// Handler serves the accounts pages and API.
type Handler struct {
	svc *Service
	srv *web.Server
	tpl *web.Templates
}

// Register adds the accounts routes.
func Register(srv *web.Server, svc *Service) error {
	tpl, err := srv.Templates(files, "templates/*.html")
	if err != nil {
		return err
	}
	if err := srv.Catalog.Add(files, "i18n"); err != nil {
		return err
	}
	if err := srv.AddOpenAPI(files, "openapi.json"); err != nil {
		return err
	}
	h := &Handler{svc: svc, srv: srv, tpl: tpl}
	for _, t := range h.objectTypes() {
		srv.AddObjectType(t)
	}
	r := srv.Router
	r.Handle("GET /login", web.Public, h.loginPage)
	r.Handle("POST /login", web.Public, h.login)
	r.Handle("GET /login/mfa", web.MFA, h.mfaPage)
	r.Handle("POST /login/mfa", web.MFA, h.mfa)
	r.Handle("POST /logout", web.Self, h.logout)
	r.Handle("POST /logout/all", web.Self, h.logoutAll)
	r.Handle("GET /profile", web.Read, h.profilePage)
	r.Handle("POST /profile", web.Self, h.saveProfile)
	r.Handle("POST /profile/password", web.SessionOnly, h.changePassword)
	r.Handle("POST /profile/totp/start", web.SessionOnly, h.totpStart)
	r.Handle("POST /profile/totp/enable", web.SessionOnly, h.totpEnable)
	r.Handle("POST /profile/totp/disable", web.SessionOnly, h.totpDisable)
	r.Handle("GET /tokens", web.Read, h.tokensPage)
	r.Handle("POST /tokens", web.SessionOnly, h.createTokenForm)
	r.Handle("POST /tokens/{id}/revoke", web.Self, h.revokeTokenForm)
	r.Handle("GET /people", web.Read, h.peoplePage)
	r.Handle("POST /people", web.OrgAdmin, h.createPersonForm)
	r.Handle("POST /people/{id}", web.OrgAdmin, h.updatePersonForm)

	r.Handle("GET /api/v1/me", web.Read, h.apiMe)
	r.Handle("PATCH /api/v1/me", web.Self, h.apiUpdateMe)
	r.Handle("GET /api/v1/users", web.Read, h.apiListUsers)
	r.Handle("POST /api/v1/users", web.OrgAdmin, h.apiCreateUser)
	r.Handle("GET /api/v1/users/{id}", web.Read, h.apiGetUser)
	r.Handle("PATCH /api/v1/users/{id}", web.OrgAdmin, h.apiUpdateUser)
	r.Handle("GET /api/v1/directory", web.Read, h.apiDirectory)
	r.Handle("GET /api/v1/tokens", web.Read, h.apiListTokens)
	r.Handle("POST /api/v1/tokens", web.SessionOnly, h.apiCreateToken)
	r.Handle("DELETE /api/v1/tokens/{id}", web.Self, h.apiRevokeToken)
	r.Handle("POST /api/v1/logout-all", web.Self, h.apiLogoutAll)
	return nil
}

func (h *Handler) setSession(w http.ResponseWriter, sid string, life time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: web.SessionCookie, Value: sid, Path: "/", HttpOnly: true, // #nosec G124 -- Secure follows SecureCookies (on under TLS, off only for plain-HTTP development and tests)
		Secure: h.srv.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: int(life.Seconds())})
}

func (h *Handler) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: web.SessionCookie, Value: "", Path: "/", HttpOnly: true, // #nosec G124 -- Secure follows SecureCookies (on under TLS, off only for plain-HTTP development and tests)
		Secure: h.srv.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

type loginData struct {
	Email, Next string
	Recovery    bool
	Error       *fault.Error
}

// loginPage shows the sign-in form. A language chosen with ?lang= is
// remembered by the page renderer (web), on this page as on any other.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) error {
	if web.ActorFrom(r).UserID != "" {
		return web.Redirect(w, r, "/", "")
	}
	return h.renderLogin(w, r, http.StatusOK, loginData{Next: web.SafeNext(r.URL.Query().Get("next"))})
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) error {
	p := web.Page{Data: d, Title: h.srv.Catalog.T(h.srv.Lang(r), "nav.sign_in")}
	return h.tpl.Render(w, r, status, "login", p)
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) error {
	email, next := r.PostFormValue("email"), web.SafeNext(r.PostFormValue("next"))
	sid, mfa, err := h.svc.Login(r.Context(), email, r.PostFormValue("password"), h.srv.ClientIP(r), r.UserAgent())
	if err != nil {
		e, ok := fault.As(err)
		if !ok || (e.Kind != fault.Unauthenticated && e.Kind != fault.RateLimited) {
			return err
		}
		return h.renderLogin(w, r, web.Status(e.Kind), loginData{Email: email, Next: next, Error: e})
	}
	if mfa {
		h.setSession(w, sid, mfaLifetime)
		return web.Redirect(w, r, "/login/mfa?next="+urlEscape(next), "")
	}
	h.setSession(w, sid, SessionLifetime)
	return web.Redirect(w, r, next, "")
}

func (h *Handler) mfaPage(w http.ResponseWriter, r *http.Request) error {
	return h.tpl.Render(w, r, http.StatusOK, "mfa", web.Page{Data: loginData{Next: web.SafeNext(r.URL.Query().Get("next")),
		Recovery: r.URL.Query().Get("recovery") == "1"}})
}

func (h *Handler) mfa(w http.ResponseWriter, r *http.Request) error {
	sess, _ := web.SessionFrom(r)
	next := web.SafeNext(r.PostFormValue("next"))
	sid, err := h.svc.VerifyMFA(r.Context(), sess.ID, r.PostFormValue("code"), r.PostFormValue("recovery"), h.srv.ClientIP(r), r.UserAgent())
	if err != nil {
		e, ok := fault.As(err)
		if !ok || (e.Kind != fault.Unauthenticated && e.Kind != fault.RateLimited) {
			return err
		}
		return h.tpl.Render(w, r, web.Status(e.Kind), "mfa", web.Page{Data: loginData{Next: next, Error: e, Recovery: r.PostFormValue("recovery") != ""}})
	}
	h.setSession(w, sid, SessionLifetime)
	return web.Redirect(w, r, next, "")
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	sess, ok := web.SessionFrom(r)
	if ok {
		if err := h.svc.Logout(r.Context(), web.ActorFrom(r), sess.ID); err != nil {
			return err
		}
	}
	h.clearSession(w)
	return web.Redirect(w, r, "/login", "signed_out")
}

func (h *Handler) logoutAll(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.LogoutAll(r.Context(), web.ActorFrom(r)); err != nil {
		return err
	}
	h.clearSession(w)
	return web.Redirect(w, r, "/login", "signed_out")
}
