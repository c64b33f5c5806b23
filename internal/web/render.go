package web

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/i18n"
	"verbund/internal/policy"
)

//go:embed all:templates
var layoutFS embed.FS

type templateSet struct{ base *template.Template }

var funcs = template.FuncMap{
	"tlpOf":      func(i int) policy.TLP { return policy.TLP(i) },
	"levels":     policy.Levels,
	"categories": policy.CategoryList,
	"roles":      policy.Roles,
	"join":       strings.Join,
	// pageOf gives a partial the page with other data (a row, a post).
	"pageOf": func(p *Page, data any) *Page {
		c := *p
		c.Data = data
		return &c
	},
	// dict passes several named values to a partial.
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict needs key/value pairs")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	// audienceKey names an audience kind's catalog key.
	"audienceKey": func(k policy.AudienceKind) string {
		switch k {
		case policy.AudCommunity:
			return "community"
		case policy.AudOrgs:
			return "named_orgs"
		case policy.AudPeople:
			return "named_people"
		}
		return "own_org"
	},
	"has": slices.Contains[[]string],
	// tlpKey names a level in catalogue keys: tlp.<key>.desc.
	"tlpKey": func(t policy.TLP) string { return strings.ReplaceAll(strings.ToLower(t.Name()), "+", "_") },
}

func parseLayout() (*templateSet, error) {
	t, err := template.New("layout").Funcs(funcs).ParseFS(layoutFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	return &templateSet{base: t}, nil
}

// Templates is one capability's pages, each parsed into its own copy of the
// layout (each page defines "content" and, optionally, "fragment").
type Templates struct {
	pages map[string]*template.Template
	s     *Server
}

// Templates parses the capability's page files (glob inside fsys). Files
// whose name starts with "_" are partials shared by all its pages.
func (s *Server) Templates(fsys fs.FS, glob string) (*Templates, error) {
	files, err := fs.Glob(fsys, glob)
	if err != nil {
		return nil, fmt.Errorf("templates %s: %w", glob, err)
	}
	var partials, pages []string
	for _, f := range files {
		if strings.HasPrefix(path.Base(f), "_") {
			partials = append(partials, f)
		} else {
			pages = append(pages, f)
		}
	}
	ts := &Templates{pages: map[string]*template.Template{}, s: s}
	for _, f := range pages {
		t, err := s.layout.base.Clone()
		if err != nil {
			return nil, err
		}
		if len(partials) > 0 {
			if t, err = t.ParseFS(fsys, partials...); err != nil {
				return nil, fmt.Errorf("parse %v: %w", partials, err)
			}
		}
		if t, err = t.ParseFS(fsys, f); err != nil {
			return nil, fmt.Errorf("parse %s: %w", f, err)
		}
		ts.pages[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	return ts, nil
}

// Page is what every template receives. Handlers fill Title, Nav, Data and
// optionally Live; Render fills the rest.
type Page struct {
	Title string
	Nav   string
	Data  any
	Live  string // SSE URL for live updates, "" for none
	Flash string // translated flash message
	// FlashWarn shows Flash as a warning, not a success (flash keys
	// named warn_…).
	FlashWarn bool

	Lang     string
	Actor    policy.Actor
	CSRF     string
	Static   string
	Path     string
	NowUnix  int64
	NavItems []NavItem // the capabilities' entries in the navigation
	cat      *i18n.Catalog
	query    url.Values // the request's query, for links to the same page (LangLink)
	back     string     // a page shown in answer to a form: the path of the page the form was on ("" for the request's own)
}

// NavItem is a capability's entry in the main navigation, added when it
// registers (Server.AddNav), so that a new capability needs no change to
// the layout.
type NavItem struct {
	Key      string // the Page.Nav value that marks it as the current page, e.g. "forum"
	Path     string // e.g. "/forum"
	Label    string // catalogue key of its name
	Shortcut string // data-shortcut name for app.js ("" for none)
	// Go is the key that opens it after "g" (app.js reads data-go; the
	// shortcuts dialog lists it), "" for none. Keys taken by the layout:
	// h, f, a, c.
	Go string
	// Admins: shown only to those who may administer their org (its
	// settings pages).
	Admins bool
}

// AddNav adds a capability's entry to the navigation, after the ones added
// before it.
//
// A "g" key that the layout's places (h, f, a, c: app.js) or another
// entry already take is a programming error: the second would never
// open, so AddNav panics at start-up, as http.ServeMux does for a
// pattern registered twice.
func (s *Server) AddNav(n NavItem) {
	if n.Go != "" {
		if strings.Contains("hfac", n.Go) {
			panic(fmt.Sprintf("web: navigation %q: g %s is the layout's", n.Key, n.Go))
		}
		for _, o := range s.nav {
			if o.Go == n.Go {
				panic(fmt.Sprintf("web: navigation %q: g %s opens %q already", n.Key, n.Go, o.Key))
			}
		}
	}
	s.nav = append(s.nav, n)
}

// T translates key into the page's language.
func (p *Page) T(key string, args ...any) string { return p.cat.T(p.Lang, key, args...) }

// ShownFault is a fault as a page shows it: its message in the page's
// language, its code for scripts and tests (never as text), the field at
// fault.
type ShownFault struct {
	Code, Message, Field string
}

// Fault prepares e for the partial "form-error" (nil shows nothing):
// {{template "form-error" ($.Fault .Error)}}.
func (p *Page) Fault(e *fault.Error) *ShownFault {
	if e == nil {
		return nil
	}
	return &ShownFault{Code: e.Code, Message: p.cat.Fault(p.Lang, e), Field: e.Field}
}

// LangLink is the address of this page in language lang, relative to it:
// the same query (a sign-in page keeps its next, if it is one SafeNext
// lets through), lang replaced. A page that answers a form (a POST shown
// again with its error) links to the page the form was on instead: the
// form's address may answer no GET.
func (p *Page) LangLink(lang string) string {
	q := url.Values{}
	for k, v := range p.query {
		q[k] = v
	}
	if n := q.Get("next"); n != "" && SafeNext(n) != n {
		q.Del("next")
	}
	q.Del("ok") // a notice is said once, not again in the other language
	q.Set("lang", lang)
	return p.back + "?" + q.Encode()
}

// Time formats a stored timestamp (Unix µs) for the page's language.
func (p *Page) Time(us int64) string {
	if us == 0 {
		return ""
	}
	return i18n.FormatTime(p.Lang, db.Time(us), berlin)
}

// Date formats a stored timestamp as a date.
func (p *Page) Date(us int64) string {
	if us == 0 {
		return ""
	}
	return i18n.FormatDate(p.Lang, db.Time(us), berlin)
}

// Decimal formats a number with this many decimals for the page's
// language (5,5 in German), as the catalogue formats a number argument.
func (p *Page) Decimal(f float64, decimals int) string { return i18n.FormatNumber(p.Lang, f, decimals) }

// ISO formats a stored timestamp for <time datetime>.
func (p *Page) ISO(us int64) string { return db.Time(us).Format(time.RFC3339) }

// SignedIn reports whether a user is signed in.
func (p *Page) SignedIn() bool { return p.Actor.UserID != "" }

// berlin is the display time zone: the hub serves German-speaking
// organisations first. A per-user zone is a later refinement.
var berlin = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Berlin"); err == nil {
		return l
	}
	return time.UTC
}()

// Day reads a date (YYYY-MM-DD, as <input type="date"> sends it) in the
// display time zone: the Unix µs of its first moment and of the next
// day's ("" gives 0, 0). The error names the field by its label, a
// catalogue key.
func Day(field, label, labelKey, s string) (start, next int64, err error) {
	if s == "" {
		return 0, 0, nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, berlin)
	if err != nil {
		return 0, 0, fault.BadInput(field, "bad_date", "{field} must be a date like 2026-12-31").WithKey("field", label, labelKey)
	}
	return t.UnixMicro(), t.AddDate(0, 0, 1).UnixMicro(), nil
}

// Lang decides the language of a page: the language the reader just chose
// (?lang=, on any page, signed in or not), else this browser's last choice
// (the vb_lang cookie: a ?lang= link or saving the profile's language sets
// it), else the user's profile setting, else the browser's
// Accept-Language. The latest explicit choice in this browser wins; the
// profile's setting is the language everywhere else.
func (s *Server) Lang(r *http.Request) string {
	if l := chosenLang(r); l != "" {
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil && slices.Contains(i18n.Languages(), c.Value) {
		return c.Value
	}
	if a := ActorFrom(r); a.Lang != "" {
		return i18n.Normalize(a.Lang)
	}
	if l, _ := r.Context().Value(langKey).(string); l != "" {
		return i18n.Normalize(l)
	}
	return i18n.Negotiate(r.Header.Get("Accept-Language"))
}

// langCookie keeps the language chosen in this browser.
const langCookie = "vb_lang"

// RememberLang keeps lang as this browser's choice of language (Lang);
// "" forgets the choice, so that the profile's setting or the browser's
// language applies again. The profile page calls it when the user saves
// a language, so that the page follows the setting just saved.
func (s *Server) RememberLang(w http.ResponseWriter, lang string) {
	c := &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.SecureCookies} // #nosec G124 -- Secure follows SecureCookies (on under TLS, off only for plain-HTTP development and tests)
	if !slices.Contains(i18n.Languages(), lang) {
		c.Value, c.MaxAge = "", -1
	}
	http.SetCookie(w, c)
}

// Render writes page name with status. It renders into a buffer first so a
// template error never leaves half a page.
func (t *Templates) Render(w http.ResponseWriter, r *http.Request, status int, name string, p Page) error {
	return t.exec(w, r, status, name, "layout", p)
}

// Fragment renders only the page's "fragment" template (for live inserts).
func (t *Templates) Fragment(w http.ResponseWriter, r *http.Request, name string, p Page) error {
	return t.exec(w, r, http.StatusOK, name, "fragment", p)
}

func (t *Templates) exec(w http.ResponseWriter, r *http.Request, status int, name, entry string, p Page) error {
	tpl, ok := t.pages[name]
	if !ok {
		return fmt.Errorf("no template %q", name)
	}
	t.s.fillPage(w, r, &p)
	var buf bytes.Buffer
	if err := tpl.ExecuteTemplate(&buf, entry, &p); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// chosenLang is the supported language a link asked for (?lang=de), or "".
func chosenLang(r *http.Request) string {
	l := r.URL.Query().Get("lang")
	if slices.Contains(i18n.Languages(), l) {
		return l
	}
	return ""
}

func (s *Server) fillPage(w http.ResponseWriter, r *http.Request, p *Page) {
	if l := chosenLang(r); l != "" {
		// Remembered for the next pages; this one reads it from the query.
		s.RememberLang(w, l)
	}
	p.Lang = s.Lang(r)
	p.query = r.URL.Query()
	if back, query, ok := formPage(r); ok {
		p.back, p.query = back, query
	}
	if n := r.PostForm.Get("next"); n != "" && p.query.Get("next") == "" {
		// A form page shown again after a failed POST (a wrong password)
		// keeps where its user was going in its language links.
		p.query.Set("next", n)
	}
	p.Actor = ActorFrom(r)
	p.cat = s.Catalog
	p.Static = s.staticVersion
	p.Path = r.URL.Path
	p.NowUnix = db.Now()
	p.NavItems = s.nav[:0:0]
	for _, n := range s.nav {
		if !n.Admins || p.Actor.CanAdmin() {
			p.NavItems = append(p.NavItems, n)
		}
	}
	if sess, ok := SessionFrom(r); ok {
		p.CSRF = sess.CSRF
	} else {
		p.CSRF = s.PreCSRF(w, r)
	}
	if p.Flash == "" {
		if k := r.URL.Query().Get("ok"); k != "" && s.Catalog.Has("flash."+k) {
			p.Flash = p.T("flash." + k)
			// A notice that something did not work out (a quiz not
			// passed) is named warn_…: it is shown as a warning.
			p.FlashWarn = strings.HasPrefix(k, "warn_")
		}
	}
}

// formPage is, for a page that answers a form (not a GET), the page the
// form was on: the path and query of its Referer (sent for this site's own
// pages: Referrer-Policy same-origin) when it is a path on this site.
func formPage(r *http.Request) (string, url.Values, bool) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Referer() == "" {
		return "", nil, false
	}
	u, err := url.Parse(r.Referer())
	if err != nil || u.Host != r.Host || u.Path == "" || SafeNext(u.Path) != u.Path {
		return "", nil, false
	}
	return u.Path, u.Query(), true
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, e *fault.Error) {
	status := Status(e.Kind)
	p := Page{}
	s.fillPage(w, r, &p)
	p.Data = errorData{Status: status, Fault: p.Fault(e)}
	p.Title = p.T(fmt.Sprintf("error.%d.title", status))
	var buf bytes.Buffer
	if err := s.layout.base.ExecuteTemplate(&buf, "error-page", &p); err != nil {
		s.Log.Error("render error page", "err", err)
		http.Error(w, e.Message, status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct {
	Status int
	Fault  *ShownFault
}

// Redirect sends the browser to target after a form post (303), optionally
// with a flash key (catalog key "flash.<key>").
func Redirect(w http.ResponseWriter, r *http.Request, target, flash string) error {
	if flash != "" {
		path, frag, hasFrag := strings.Cut(target, "#")
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		target = path + sep + "ok=" + url.QueryEscape(flash)
		if hasFrag {
			target += "#" + frag
		}
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// SafeNext returns next if it is a path on this site, else "/". It is
// where the browser goes after signing in, so anything a browser could
// read as another site is refused, not repaired: browsers drop tabs and
// newlines inside URLs and read a backslash as a slash, so "/\t/evil.example"
// and "/\\evil.example" both mean "//evil.example" to them. The targets
// the hub makes itself (RequestURI, query-escaped) are printable ASCII, so
// nothing else is needed: no control characters, spaces, backslashes or
// non-ASCII bytes, one leading slash, and no scheme or host when parsed.
func SafeNext(next string) string {
	if len(next) == 0 || next[0] != '/' || len(next) > 1 && next[1] == '/' {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	return next
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// Zone is the display time zone: pages show times in it, and a form's
// datetime-local field is read in it, so that what one types is what the
// page shows afterwards.
func Zone() *time.Location { return berlin }
