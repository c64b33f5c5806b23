package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/i18n"
	"verbund/internal/policy"
)

//go:embed static
var staticFS embed.FS

// Authenticator resolves credentials to actors. internal/accounts
// implements it; web only knows the interface.
type Authenticator interface {
	// Session resolves a session cookie value. A session waiting for its
	// second factor returns the actor with Session.MFAPending set.
	Session(ctx context.Context, id, ip string) (policy.Actor, Session, error)
	// Token resolves an API token (Authorization: Bearer).
	Token(ctx context.Context, token, ip string) (policy.Actor, error)
	// BasicToken resolves HTTP Basic credentials: the e-mail address of
	// a user and one of their API tokens (Protocol.Basic).
	BasicToken(ctx context.Context, email, token, ip string) (policy.Actor, error)
}

// Config is what the web kernel needs.
type Config struct {
	Log           *slog.Logger
	DB            *db.DB
	Auth          Authenticator
	Catalog       *i18n.Catalog
	SecureCookies bool // set under TLS
	Registry      *prometheus.Registry
	TrustProxy    bool // take the client address from X-Forwarded-For (ClientIP)
	// TrustedProxies are the reverse proxies in front of the hub whose
	// X-Forwarded-For entries are believed; empty: only the connection's
	// peer (one proxy).
	TrustedProxies []netip.Prefix
	// TraceKinds records which shareable kinds each route reads (tests:
	// the authorization matrix insists that the leak harness covers every
	// route that serves a kind). Off in production.
	TraceKinds bool
	// RequestTimeout bounds a request's time (0: DefaultRequestTimeout);
	// routes registered with HandleLong have none.
	RequestTimeout time.Duration
	// MaxActive is how many requests the hub works on at once, writes
	// first (admission.go); 0: DefaultActive per core.
	MaxActive int
	// ReadContext prepares a safe request's context (GET, HEAD; not a
	// stream or any other long request) once it has its turn (admission.go):
	// within it the app's caches read the audit trail's state once and
	// share orgs' views (audit.Remember, policy.WithViews). After the
	// wait, so that the state a request remembers is read when its work
	// begins, not before a queue. nil: nothing is shared.
	ReadContext func(context.Context) context.Context
}

// Server is the HTTP side of the hub.
type Server struct {
	Config
	Router        *Router
	layout        *templateSet
	staticVersion string
	metrics       *metrics
	gate          *admission
	apiDoc        map[string]any        // the OpenAPI document as merged so far (openapi.go)
	nav           []NavItem             // capabilities' navigation entries (AddNav)
	objects       map[string]ObjectType // how to name objects of each type (AddObjectType)
	protocols     []Protocol            // standard protocols under their own prefixes (AddProtocol)
}

// Protocol is a standard protocol the hub serves under a path prefix
// (TAXII 2.1 under /taxii2/), with the standard's error format and, if
// it says so, HTTP Basic authentication.
type Protocol struct {
	Prefix string // e.g. "/taxii2/"
	// Basic takes "Authorization: Basic" with the user's e-mail address
	// and an API token as the password, as TAXII clients send it. Only
	// under Prefix: a browser keeps Basic credentials and sends them by
	// itself, so they are accepted only where no cross-site form can
	// reach (the protocol's writes need a media type forms cannot send,
	// and cross-origin requests are refused before any route).
	Basic bool
	// WriteError writes e (HTTP status) in the protocol's format.
	WriteError func(w http.ResponseWriter, r *http.Request, status int, e *fault.Error)
	// SlashOptional serves the protocol's addresses, which end in a slash
	// (TAXII's do), without it too: a client that leaves it off gets the
	// resource instead of the router's redirect with an HTML body.
	SlashOptional bool
}

// AddProtocol serves p's prefix with its rules.
func (s *Server) AddProtocol(p Protocol) { s.protocols = append(s.protocols, p) }

// protocol is the protocol whose prefix the request's path has, if any.
func (s *Server) protocol(r *http.Request) (Protocol, bool) {
	for _, p := range s.protocols {
		if strings.HasPrefix(r.URL.Path, p.Prefix) {
			return p, true
		}
	}
	return Protocol{}, false
}

// SessionCookie is the name of the session cookie.
const SessionCookie = "vb_session"

// preCookie carries the CSRF secret of anonymous forms (login).
const preCookie = "vb_pre"

// NewServer builds the kernel; capabilities then register their routes on
// s.Router.
func NewServer(cfg Config) (*Server, error) {
	s := &Server{Config: cfg, gate: newAdmission(cfg.MaxActive)}
	s.Router = &Router{mux: http.NewServeMux(), s: s}
	var err error
	if s.layout, err = parseLayout(); err != nil {
		return nil, err
	}
	sum := sha256.New()
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := staticFS.ReadFile(p)
			sum.Write(b)
		}
		return nil
	})
	s.staticVersion = hex.EncodeToString(sum.Sum(nil))[:12]
	s.metrics = newMetrics(cfg.Registry)
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "verbund_http_requests_waiting",
			Help: "Requests waiting for their turn (--max-active)."}, func() float64 { return float64(s.gate.waiting()) }))
	}
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	s.Router.Handle("GET /static/", Public, func(w http.ResponseWriter, r *http.Request) error {
		// Files only: no folder listings, and a missing file is the hub's
		// 404, not the file server's plain text.
		if fi, err := fs.Stat(static, strings.TrimPrefix(r.URL.Path, "/static/")); err != nil || !fi.Mode().IsRegular() {
			return fault.ErrNotFound
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		files.ServeHTTP(w, r)
		return nil
	})
	// Every other address: ServeMux's own answer would be a plain-text
	// "404 page not found"; this one is the styled page in the reader's
	// language (or the API's JSON error). "GET /{$}" is the start page.
	s.Router.Handle("GET /", Public, func(http.ResponseWriter, *http.Request) error { return fault.ErrNotFound })
	return s, nil
}

// Handler returns the complete handler with the outer middleware.
func (s *Server) Handler() http.Handler {
	cop := http.NewCrossOriginProtection()
	// Refused in the hub's format (a TAXII error object under /taxii2/,
	// JSON for the API, the styled page otherwise), not net/http's text.
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Error(w, r, fault.New(fault.Forbidden, "cross_origin", "requests from other sites are refused: use the hub's own pages or an API token"))
	}))
	var h http.Handler = s.routes()
	h = cop.Handler(h)
	h = s.headers(h)
	h = s.recoverer(h)
	return h
}

// routes is the router's ServeMux, except for a request whose method no
// route of its address takes: ServeMux answers that with a plain-text 405
// of its own, outside the hub's error format and language. GET and HEAD
// always find a route (the catch-all "GET /"), so only other methods are
// looked up first; the lookup is one more walk of the routing tree before
// a write.
func (s *Server) routes() http.Handler {
	mux := s.Router.mux
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/") {
			probe := r.URL.Path + "/"
			for _, p := range s.protocols {
				if p.SlashOptional && strings.HasPrefix(probe, p.Prefix) {
					r.URL.Path = probe
					if r.URL.RawPath != "" {
						r.URL.RawPath += "/"
					}
					break
				}
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if _, pattern := mux.Handler(r); pattern == "" {
				s.noRoute(w, r)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// noRoute answers a request no route takes: 405 with the methods the
// address does take (Allow), as the hub's error (JSON for the API, the
// page in the caller's language otherwise, code method_not_allowed), or
// not found where only the catch-all page would have answered.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range s.Router.methods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.Router.mux.Handler(probe); pattern != "" && pattern != "GET /" {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	s.guard(identifyOnly, func(w http.ResponseWriter, r *http.Request) error {
		if len(allow) == 0 {
			return fault.ErrNotFound
		}
		list := strings.Join(allow, ", ")
		w.Header().Set("Allow", list)
		return fault.New(fault.NotAllowed, "method_not_allowed", "this address does not take {method}: use {allowed}").
			With("method", r.Method).With("allowed", list)
	}, false).ServeHTTP(w, r)
}

// headers sets the security headers of every response.
func (s *Server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.SecureCookies {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("panic", "path", r.URL.Path, "panic", v)
				s.Error(w, r, fault.New(fault.Internal, "internal", "something went wrong on our side"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// ClientIP is the request's client address: the connection's peer, or,
// behind reverse proxies (TrustProxy), the address they recorded in
// X-Forwarded-For. Each proxy appends the address it got the request from,
// and everything to the left of what the proxies appended is whatever the
// client sent, so the list is read from the right: the client is the
// rightmost entry that is not a trusted proxy (TrustedProxies; without a
// list only the peer is one, so it is the last entry). A peer outside the
// list is no proxy of ours and its header is ignored; an entry that is no
// address ends the walk at the last good one. The address decides the
// per-address sign-in limit and is written to the audit trail: taking the
// leftmost entry let anyone choose theirs.
func (s *Server) ClientIP(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		peer = host
	}
	if !s.TrustProxy {
		return peer
	}
	if a, ok := parseHop(peer); !ok || len(s.TrustedProxies) > 0 && !s.trustedProxy(a) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		a, ok := parseHop(h)
		if !ok {
			break
		}
		client = a.String()
		if !s.trustedProxy(a) {
			break
		}
	}
	return client
}

// trustedProxy reports whether a is one of the configured proxies.
func (s *Server) trustedProxy(a netip.Addr) bool {
	for _, p := range s.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port (some proxies add it), IPv4 in IPv6 form read as IPv4.
func parseHop(h string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(h)
	if err != nil {
		ap, perr := netip.ParseAddrPort(h)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

// guard authenticates the request and enforces the route's permission
// before the handler runs; then it renders the handler's error, if any.
func (s *Server) guard(p Perm, h HandlerFunc, long bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if !long {
			timeout := s.RequestTimeout
			if timeout <= 0 {
				timeout = DefaultRequestTimeout
			}
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		sw := &statusWriter{ResponseWriter: w, status: 200}
		if s.TraceKinds {
			ctx, trace := policy.WithTrace(r.Context())
			r = r.WithContext(ctx)
			defer func() { s.Router.served(r.Pattern, trace.Kinds()) }()
		}
		r, err := s.authorize(sw, r, p)
		if err == nil && long {
			c, a := s.Credential(r), ActorFrom(r)
			r = r.WithContext(WithRecheck(r.Context(), func(ctx context.Context) error { return s.CheckCredential(ctx, c, a) }))
		}
		if err == nil {
			err = checkText(sw, r)
		}
		if err == nil {
			err = s.run(sw, r, p, h, long)
		}
		if err != nil && sw.wrote {
			// The answer is already under way (a long export whose client
			// went away, or whose credential ended between two pages):
			// nothing more can be said to the client, but the cause is
			// still logged and counted, and the answer is broken off, not
			// ended as if whole: a block list cut at a revoked token must
			// not look like a complete one.
			if e := publicError(s.Log, r, err); e.Kind == fault.Internal {
				sw.status = http.StatusInternalServerError
			}
			s.metrics.observe(r.Pattern, sw.status, time.Since(start))
			panic(http.ErrAbortHandler)
		} else if err != nil {
			s.Error(sw, errorRequest(r), err)
		}
		s.metrics.observe(r.Pattern, sw.status, time.Since(start))
	})
}

// authorize authenticates the request and enforces the permission p. The
// request it returns carries the caller's identity for the handler. When it
// refuses, the request still carries what the error page needs: the
// caller's language and, for a signed-in caller, who it is (the layout
// with navigation); a session still waiting for its second factor gets
// only the language.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, p Perm) (*http.Request, error) {
	ctx := r.Context()
	ip := s.ClientIP(r)
	var actor policy.Actor
	var sess Session
	var haveSession bool
	if user, tok, ok := r.BasicAuth(); ok && s.basicAllowed(r) {
		a, err := s.Auth.BasicToken(ctx, user, tok, ip)
		if err != nil {
			return r, err
		}
		actor = a
	} else if tok, ok := bearer(r); ok {
		var pending *pendingToken
		// Writes too: the answer counts only once confirmed after the
		// queue (confirmToken), with a state read that began after the
		// request asked, as for reads; reading the token was a round trip
		// of every write.
		if tc, ok := s.Auth.(TokenCache); ok && r.Context().Value(noTokenCacheKey) == nil {
			if a, at, ok := tc.CachedToken(ctx, tok, ip); ok {
				actor, pending = a, &pendingToken{token: tok, ip: ip, at: at}
				ctx = context.WithValue(ctx, pendingKey, pending)
			}
		}
		if pending == nil {
			a, err := s.Auth.Token(ctx, tok, ip)
			if err != nil {
				return r, err
			}
			actor = a
		} else if err := permit(p, actor, false, Session{}, true, false); err != nil && p != identifyOnly {
			// Refused with the kept answer: the refusal must rest on the
			// token as it is now.
			return s.authorize(w, r.WithContext(context.WithValue(r.Context(), noTokenCacheKey, true)), p)
		}
	} else if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		a, se, err := s.Auth.Session(ctx, c.Value, ip)
		switch {
		case err == nil:
			actor, sess, haveSession = a, se, true
		case fault.Is(err, fault.Unauthenticated):
			// A stale cookie is treated as no session; clear it.
			http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode}) // #nosec G124 -- Secure follows SecureCookies (on under TLS, off only for plain-HTTP development and tests)
		default:
			return r, err
		}
	}
	signedIn := actor.UserID != "" && !sess.MFAPending
	unsafe := changes(r)
	identified := func() *http.Request {
		ctx := context.WithValue(ctx, actorKey, actor)
		if haveSession {
			ctx = context.WithValue(ctx, sessionKey, sess)
		}
		return r.WithContext(ctx)
	}
	refused := r.WithContext(context.WithValue(ctx, langKey, actor.Lang))
	if signedIn {
		refused = identified()
	}
	if p == identifyOnly {
		return refused, nil
	}
	if err := permit(p, actor, haveSession, sess, signedIn, unsafe); err != nil {
		return refused, err
	}
	if unsafe {
		if err := s.checkCSRF(r, haveSession, sess); err != nil {
			return refused, err
		}
	}
	return identified(), nil
}

// TokenCache is what an Authenticator may add to answer a request's
// bearer token from memory (internal/accounts, tokencache.go):
// CachedToken before the admission queue, TokenFresh (with the request's
// read context, for a read) once the request has its place; only then
// does the kept answer count (confirmToken).
type TokenCache interface {
	CachedToken(ctx context.Context, token, ip string) (a policy.Actor, at int64, ok bool)
	TokenFresh(ctx context.Context, a policy.Actor, at int64) (bool, error)
}

// pendingToken is a bearer token answered from memory and not yet
// confirmed. confirmToken notes the outcome for the error page.
type pendingToken struct {
	token, ip string
	at        int64
	confirmed *policy.Actor // nil until confirmed (or read again)
}

// errorRequest is r as its error page may show it: the caller a kept
// token stands for only once confirmed (else only its language), what
// it stands for now when it was read again.
func errorRequest(r *http.Request) *http.Request {
	pt, ok := r.Context().Value(pendingKey).(*pendingToken)
	if !ok {
		return r
	}
	if pt.confirmed != nil {
		return r.WithContext(context.WithValue(r.Context(), actorKey, *pt.confirmed))
	}
	ctx := context.WithValue(r.Context(), actorKey, policy.Actor{})
	return r.WithContext(context.WithValue(ctx, langKey, ActorFrom(r).Lang))
}

// confirmToken confirms the kept answer of r's token, if it was one: when
// a change that may alter it has been recorded since, the token is read
// again and the route's permission checked again with what it stands for
// now.
func (s *Server) confirmToken(r *http.Request, p Perm) (*http.Request, error) {
	pt, ok := r.Context().Value(pendingKey).(*pendingToken)
	if !ok {
		return r, nil
	}
	ctx := context.WithValue(r.Context(), pendingKey, nil)
	a := ActorFrom(r)
	fresh, err := s.Auth.(TokenCache).TokenFresh(ctx, a, pt.at)
	if err != nil {
		return r, err
	}
	if fresh {
		pt.confirmed = &a
		return r.WithContext(ctx), nil
	}
	a, err = s.Auth.Token(ctx, pt.token, pt.ip)
	if err != nil {
		return r, err
	}
	pt.confirmed = &a
	if p != identifyOnly {
		if err := permit(p, a, false, Session{}, true, false); err != nil {
			return r, err
		}
	}
	return r.WithContext(context.WithValue(ctx, actorKey, a)), nil
}

// changes reports whether the request's method may change state (HTTP's
// unsafe methods): CSRF is checked for it, and it counts as a write for
// admission unless its route only reads (Query).
func changes(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
}

// permit is the permission p applied to the caller.
func permit(p Perm, actor policy.Actor, haveSession bool, sess Session, signedIn, unsafe bool) error {
	switch p {
	case Public:
	case MFA:
		if !haveSession || !sess.MFAPending {
			return fault.New(fault.Unauthenticated, "signin_required", "sign in with your password first")
		}
	default:
		if !signedIn {
			return fault.New(fault.Unauthenticated, "signin_required", "sign in first, or send an API token as Authorization: Bearer")
		}
	}
	readToken := actor.Scope == policy.ScopeRead
	switch p {
	case Self:
		if readToken && unsafe {
			return fault.New(fault.Forbidden, "token_read_only", "this API token may only read; create a write token")
		}
	case SessionOnly:
		if actor.Scope != policy.ScopeSession || !haveSession {
			return fault.New(fault.Forbidden, "session_required", "sign in with the web interface to do this: API tokens cannot create tokens or change how their person signs in")
		}
	case Write:
		if readToken {
			return fault.New(fault.Forbidden, "token_read_only", "this API token may only read; create a write token")
		}
		if !actor.CanWrite() {
			return fault.New(fault.Forbidden, "role_insufficient", "your role may only read: ask an admin of your organisation for the analyst role")
		}
	case OrgAdmin:
		if readToken && unsafe {
			return fault.New(fault.Forbidden, "token_read_only", "this API token may only read; create a write token")
		}
		if actor.Role != policy.Admin {
			return fault.New(fault.Forbidden, "admin_required", "only an admin of your organisation may do this")
		}
	case Audit:
		if !actor.CanAudit() {
			return fault.New(fault.Forbidden, "auditor_required", "only admins and auditors of your organisation may read the audit trail")
		}
	case Read:
		if unsafe && readToken {
			return fault.New(fault.Forbidden, "token_read_only", "this API token may only read; create a write token")
		}
	}
	return nil
}

// checkCSRF: state changes by cookie need the session's token (form field
// _csrf or header X-CSRF-Token); anonymous forms need the pre-session
// cookie's value. Bearer-token requests carry no ambient credentials and
// need none.
func (s *Server) checkCSRF(r *http.Request, haveSession bool, sess Session) error {
	if _, ok := bearer(r); ok {
		return nil
	}
	if _, _, ok := r.BasicAuth(); ok && s.basicAllowed(r) {
		return nil // see Protocol.Basic
	}
	sent := r.Header.Get("X-CSRF-Token")
	if sent == "" && streamed(r) {
		sent = uploadToken(r)
	} else if sent == "" {
		r.Body = http.MaxBytesReader(nil, r.Body, MaxBody)
		// A form too large to read has no token to check: say that it is
		// too large (the person can shorten it), not that it expired.
		err := r.ParseForm()
		if err == nil {
			if err = r.ParseMultipartForm(MaxBody); errors.Is(err, http.ErrNotMultipart) { // #nosec G120 -- r.Body is bounded by the MaxBytesReader above
				err = nil
			}
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fault.New(fault.TooLarge, "body_too_large", "the request body is larger than {max} bytes").With("max", MaxBody)
		}
		sent = r.PostFormValue("_csrf")
	}
	want := sess.CSRF
	if !haveSession {
		c, err := r.Cookie(preCookie)
		if err != nil {
			return fault.New(fault.Forbidden, "csrf_failed", "the form has expired: reload the page and try again")
		}
		want = c.Value
	}
	if want == "" || !equal(sent, want) {
		return fault.New(fault.Forbidden, "csrf_failed", "the form has expired: reload the page and try again")
	}
	return nil
}

// PreCSRF returns the anonymous-form CSRF value, setting its cookie.
func (s *Server) PreCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	v := randomToken()
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: v, Path: "/", HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: 3600}) // #nosec G124 -- Secure follows SecureCookies (on under TLS, off only for plain-HTTP development and tests)
	return v
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// basicAllowed: the request's path is a protocol's that takes Basic.
func (s *Server) basicAllowed(r *http.Request) bool {
	p, ok := s.protocol(r)
	return ok && p.Basic
}

// Error renders err as JSON (API) or as an HTML page, or in the format of
// the protocol whose path the request has.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	e := publicError(s.Log, r, err)
	switch {
	case e.Kind == fault.RateLimited:
		w.Header().Set("Retry-After", "60")
	case e.Code == errBusy.Code:
		w.Header().Set("Retry-After", "1")
	}
	if p, ok := s.protocol(r); ok && p.WriteError != nil {
		p.WriteError(w, r, Status(e.Kind), e)
		return
	}
	if IsAPI(r) {
		s.writeAPIError(w, r, e)
		return
	}
	if e.Kind == fault.Unauthenticated && r.Method == http.MethodGet {
		http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther) // #nosec G710 -- fixed local target; next is query-escaped and checked by SafeNext where it is used
		return
	}
	s.renderError(w, r, e)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	// answering, if set, runs once as the answer starts (the request
	// gives back its place, see Server.run).
	answering func()
}

func (w *statusWriter) start() {
	if f := w.answering; f != nil {
		w.answering = nil
		f()
	}
}

func (w *statusWriter) WriteHeader(code int) {
	w.start()
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.start()
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush lets SSE flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
