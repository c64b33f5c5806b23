package apptest

import (
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A Kit is what a capability gives the hub-wide tests, from its own folder
// (internal/<capability>/<capability>test): the rows of the authorization
// matrix for its routes and the leak harness's description of its
// shareable kinds. internal/app's tests run every kit; a route without a
// row, a route that serves a kind without a harness path, or a registered
// kind without a harness entry fails them.
type Kit struct {
	Name string
	// Setup creates the objects the kit's rows refer to as {name}, in
	// f.IDs (e.g. "thread", "post").
	Setup func(t *testing.T, f *Fixture)
	Rows  map[string]Row // by route pattern, e.g. "GET /api/v1/posts/{id}"
	Kinds []LeakKind
}

// Fixture is the world the matrix rows run in: the hub with its test world
// and the ids of the objects the kits set up.
type Fixture struct {
	Hub *Hub
	IDs map[string]string
	n   atomic.Int64
}

// Uniq returns a value no other call returns (names, e-mails).
func (f *Fixture) Uniq() string { return fmt.Sprintf("%d-%d", f.n.Add(1), time.Now().UnixNano()) }

// Expand replaces {name} in s by the fixture's ids and the world's:
// {circle}, {chan} (the circle's channel), {sme}, {analyst} and {analyst2}
// (sme's analysts), {bilateral} (the sme↔cloud agreement).
func (f *Fixture) Expand(s string) string {
	h := f.Hub
	pairs := []string{"{circle}", h.Circle, "{chan}", h.CircleChannel, "{sme}", h.Orgs["sme"],
		"{analyst}", h.Users["sme.analyst"].ID, "{analyst2}", h.Users["sme.analyst2"].ID, "{bilateral}", h.Bilateral}
	for k, v := range f.IDs {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// Row is one route's line of the matrix: Req builds the request of one call
// (fresh objects where the call consumes them); Want maps actor → status,
// with "*" as the default.
type Row struct {
	Req  func(t *testing.T, f *Fixture) (path string, body any)
	Want map[string]int
}

// Actors of the matrix, all API-token based so that route permission,
// role, scope and object visibility are what is tested (CSRF and sessions
// have their own tests):
//
//	anon       no credentials
//	viewer     sme.viewer            (read only)
//	auditor    sme.auditor           (read + audit trail)
//	analyst    sme.analyst           (owner org of the fixtures)
//	admin      sme.admin
//	readtok    sme.admin's read token (read scope never writes)
//	partner    cert.analyst          (circle member covered by the charter)
//	coord      cert.admin            (admin of the circle's coordinator)
//	nocontract nocontract.analyst    (circle member without agreement)
//	outsider   outsider.admin        (admin of an org in no shared circle)
func matrixActors() []struct{ name, user string } {
	return []struct{ name, user string }{
		{"anon", ""}, {"viewer", "sme.viewer"}, {"auditor", "sme.auditor"}, {"analyst", "sme.analyst"}, {"admin", "sme.admin"},
		{"readtok", "sme.admin"}, {"partner", "cert.analyst"}, {"coord", "cert.admin"}, {"nocontract", "nocontract.analyst"},
		{"outsider", "outsider.admin"},
	}
}

// W reads an expectation like "anon=401 outsider=404 *=200".
func W(spec string) map[string]int {
	m := map[string]int{}
	for _, part := range strings.Fields(spec) {
		k, v, _ := strings.Cut(part, "=")
		var n int
		_, _ = fmt.Sscan(v, &n)
		m[k] = n
	}
	return m
}

// Common expectations.
const (
	PageRead   = "anon=303 *=200"
	APIRead    = "anon=401 *=200"
	OwnOrgAPI  = "anon=401 partner=404 coord=404 nocontract=404 outsider=404 *=200"
	OwnOrgPage = "anon=303 partner=404 coord=404 nocontract=404 outsider=404 *=200"
	AuditOnly  = "anon=401 viewer=403 analyst=403 partner=403 nocontract=403 *=200"
	SelfAPI    = "anon=401 readtok=403"
	AdminOnly  = "anon=401 viewer=403 auditor=403 analyst=403 readtok=403 partner=403 nocontract=403"
	WriterOnly = "anon=401 viewer=403 auditor=403 readtok=403"
)

// Static requests path as it is.
func Static(p string) func(*testing.T, *Fixture) (string, any) {
	return func(*testing.T, *Fixture) (string, any) { return p, nil }
}

// Get requests path with its {ids} expanded.
func Get(p string) func(*testing.T, *Fixture) (string, any) {
	return func(_ *testing.T, f *Fixture) (string, any) { return f.Expand(p), nil }
}

// Send requests path with a body (url.Values go as a form, others as
// JSON); {ids} in the path and in string values are expanded, and the
// values "UNIQ" and "UNIQMAIL" become fresh names and e-mail addresses.
func Send(p string, body any) func(*testing.T, *Fixture) (string, any) {
	return func(_ *testing.T, f *Fixture) (string, any) {
		switch b := body.(type) {
		case url.Values:
			c := url.Values{}
			for k, vs := range b {
				for _, x := range vs {
					c.Add(k, f.Expand(x))
				}
			}
			if c.Get("name") == "UNIQ" {
				c.Set("name", "n"+f.Uniq())
			}
			if c.Get("email") == "UNIQ" {
				c.Set("email", "p"+f.Uniq()+"@x.example")
			}
			return f.Expand(p), c
		case map[string]any:
			c := map[string]any{}
			for k, x := range b {
				if s, ok := x.(string); ok {
					x = f.Expand(s)
					switch s {
					case "UNIQ":
						x = "n" + f.Uniq()
					case "UNIQMAIL":
						x = "p" + f.Uniq() + "@x.example"
					}
				}
				c[k] = x
			}
			return f.Expand(p), c
		}
		return f.Expand(p), body
	}
}

// Fresh requests path with {new} replaced by an object build makes for
// this one call (edits and deletes consume their object).
func Fresh(build func(t *testing.T, f *Fixture) string, p string, body any) func(*testing.T, *Fixture) (string, any) {
	return func(t *testing.T, f *Fixture) (string, any) {
		return strings.ReplaceAll(f.Expand(p), "{new}", build(t, f)), body
	}
}

// Raw is a request body sent as it is, with its media type (a STIX
// bundle, a TAXII envelope).
type Raw struct {
	ContentType, Body string
}

// Form builds form values from key/value pairs.
func Form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}
