// Package web is verbund's HTTP kernel: the router where every route
// declares its permission, the middleware (authentication, CSRF, security
// headers, limits), error rendering and page templates. Capabilities (and
// the live-update streams of internal/live) register their routes and never
// handle these concerns themselves.
package web

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"verbund/internal/policy"
)

// Perm is the permission a route needs before its handler runs. Object-level
// rules (may this actor see this post?) are the capability's job, through
// policy; Perm only gates who may call the route at all.
type Perm string

const (
	// Public routes need no sign-in: login, health, static files.
	Public Perm = "public"
	// MFA routes serve a session that has passed the password but not yet
	// the second factor.
	MFA Perm = "mfa"
	// Read routes need a signed-in user of any role.
	Read Perm = "read"
	// Query routes are POSTs that only read (a batch lookup whose values
	// do not fit in a URL): like Read, and a read-only token may call
	// them.
	Query Perm = "query"
	// Self routes let any signed-in user change their own account (profile,
	// second factor, own tokens, logout); not through a read token.
	Self Perm = "self"
	// SessionOnly routes make or change credentials (API tokens, the
	// password, the second factor): a signed-in browser session only,
	// never an API token. A stolen token must not mint tokens that outlive
	// its revocation, nor set up a second factor that locks its person out.
	SessionOnly Perm = "session"
	// Write routes need an analyst or admin, not through a read token.
	Write Perm = "write"
	// OrgAdmin routes need an admin of the actor's org.
	OrgAdmin Perm = "org-admin"
	// Audit routes need an admin or auditor.
	Audit Perm = "audit"
)

// identifyOnly is no route's permission: it identifies the caller (for
// the language and navigation of an error page) and enforces nothing. The
// answer to a request no route takes runs under it (Server.noRoute).
const identifyOnly Perm = "identify-only"

// Perms lists every permission (for the authorization matrix test).
func Perms() []Perm {
	return []Perm{Public, MFA, Read, Query, Self, SessionOnly, Write, OrgAdmin, Audit}
}

// HandlerFunc is a handler that returns its error; the router renders it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one registered route.
type Route struct {
	Pattern string // e.g. "GET /api/v1/posts/{id}"
	Method  string
	Path    string
	Perm    Perm
}

// Router wraps http.ServeMux so that no route can be registered without a
// permission.
type Router struct {
	mux     *http.ServeMux
	routes  []Route
	methods []string // every method some route takes, sorted
	s       *Server
	// kinds are the shareable kinds each route pattern has read (only
	// with Config.TraceKinds).
	mu    sync.Mutex
	kinds map[string]map[string]bool
}

// Handle registers h for pattern ("METHOD /path") with permission p.
func (rt *Router) Handle(pattern string, p Perm, h HandlerFunc) {
	rt.handle(pattern, p, h, false, false)
}

// HandleLong registers a route whose requests may run long (a live
// stream, an export): it gets no request deadline.
func (rt *Router) HandleLong(pattern string, p Perm, h HandlerFunc) {
	rt.handle(pattern, p, h, true, false)
}

// HandleUpload registers a route that takes a file upload: a
// multipart/form-data body of any size that its handler reads as a stream
// (r.MultipartReader), without a request deadline like HandleLong. The
// guard parses no form from such a body (every other route's form is read
// into memory up to MaxBody before its handler runs): a cookie-signed-in
// upload sends its CSRF token in the header X-CSRF-Token or as the form's
// first field, _csrf, which the guard reads and puts back. The handler
// skips the _csrf part and checks the text of the fields it reads
// (ValidText).
func (rt *Router) HandleUpload(pattern string, p Perm, h HandlerFunc) {
	rt.handle(pattern, p, h, true, true)
}

func (rt *Router) handle(pattern string, p Perm, h HandlerFunc, long, upload bool) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || p == "" {
		panic("web: route " + pattern + " needs a method and a permission")
	}
	rt.routes = append(rt.routes, Route{Pattern: pattern, Method: method, Path: path, Perm: p})
	if !slices.Contains(rt.methods, method) {
		rt.methods = append(rt.methods, method)
		slices.Sort(rt.methods)
	}
	g := rt.s.guard(p, h, long)
	if upload {
		g = markUpload(g)
	}
	rt.mux.Handle(pattern, g)
}

// DefaultRequestTimeout is how long a request may take
// (Config.RequestTimeout): a page or an API call answers in milliseconds,
// so a request still running after it waits for a database that does not
// answer (a stalled server, a lost network), and is better told so (503,
// database_timeout) than left hanging.
const DefaultRequestTimeout = 10 * time.Second

// served notes that a request of route pattern read kinds.
func (rt *Router) served(pattern string, kinds []string) {
	if len(kinds) == 0 {
		return
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.kinds == nil {
		rt.kinds = map[string]map[string]bool{}
	}
	if rt.kinds[pattern] == nil {
		rt.kinds[pattern] = map[string]bool{}
	}
	for _, k := range kinds {
		rt.kinds[pattern][k] = true
	}
}

// KindsServed maps each route pattern to the shareable kinds its requests
// have read so far (with Config.TraceKinds; empty otherwise).
func (rt *Router) KindsServed() map[string][]string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := map[string][]string{}
	for p, ks := range rt.kinds {
		for k := range ks {
			out[p] = append(out[p], k)
		}
		sort.Strings(out[p])
	}
	return out
}

// Routes lists the registered routes, sorted.
func (rt *Router) Routes() []Route {
	out := append([]Route(nil), rt.routes...)
	sort.Slice(out, func(i, j int) bool { return out[i].Pattern < out[j].Pattern })
	return out
}

type ctxKey int

const (
	actorKey ctxKey = iota
	sessionKey
	langKey   // the language of a caller the guard refused (render.go)
	uploadKey // the route streams a multipart body (HandleUpload)
	// pendingKey: the bearer token was answered from memory, to be
	// confirmed once the request has its place (confirmToken).
	pendingKey
	noTokenCacheKey // read the token, even if it is kept
)

// Session is the browser session behind a request, if any.
type Session struct {
	ID         string // raw id (only in memory)
	CSRF       string
	MFAPending bool
}

// ActorFrom returns the signed-in actor of the request (zero Actor if none).
func ActorFrom(r *http.Request) policy.Actor {
	a, _ := r.Context().Value(actorKey).(policy.Actor)
	return a
}

// SessionFrom returns the browser session of the request, if any.
func SessionFrom(r *http.Request) (Session, bool) {
	s, ok := r.Context().Value(sessionKey).(Session)
	return s, ok
}
