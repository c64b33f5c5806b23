package vulns

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"verbund/internal/csaf"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// The CSAF 2.0 trusted provider of each publishing org (§7.1), under
// /csaf/{slug}/:
//
//	provider-metadata.json, service.json   public
//	openpgp/{FINGERPRINT}.asc              public: the signing key
//	white/                                 public: TLP:WHITE
//	green/, amber/, red/                   signed-in readers the envelope lets see
//
// Each TLP folder is a directory distribution and a ROLIE feed at once:
// csaf-feed-tlp-<label>.json, category-<label>.json, index.txt,
// changes.csv (newest first), <YYYY>/ folders (by initial_release_date)
// with each document and its .sha256, .sha512 and .asc, and a listing
// of every folder. Nothing here redirects. Who reads a GREEN, AMBER or
// RED document is decided by the kernel's reader on its advisory's
// envelope; a WHITE one is served while its envelope is still CLEAR.
// The org the operator names (ProviderConfig.WellKnown) also answers at
// /.well-known/csaf/ and in /.well-known/security.txt.

// pub is one publication as the provider serves it.
type pub struct {
	advisoryID, version, label, name, title, trackingID string
	year                                                int
	initial, current                                    time.Time
	sha256, sha512, signature                           string
}

const pubColumns = `p.advisory_id, p.version, p.label, p.filename, p.title, a.tracking_id, p.year, p.initial_release, p.current_release, p.sha256, p.sha512, p.signature`

func scanPub(r db.Scanner, extra ...any) (pub, error) {
	var p pub
	var initial, current string
	if err := r.Scan(append([]any{&p.advisoryID, &p.version, &p.label, &p.name, &p.title, &p.trackingID, &p.year, &initial, &current,
		&p.sha256, &p.sha512, &p.signature}, extra...)...); err != nil {
		return p, err
	}
	var err error
	if p.initial, err = time.Parse(time.RFC3339Nano, initial); err != nil {
		return p, fmt.Errorf("publication %s: %w", p.advisoryID, err)
	}
	if p.current, err = time.Parse(time.RFC3339Nano, current); err != nil {
		return p, fmt.Errorf("publication %s: %w", p.advisoryID, err)
	}
	return p, nil
}

type baseKey struct{}

// baseURL is the hub's external address the provider names itself by:
// ProviderConfig.BaseURL (serve sets it from --base-url or its
// listener), else the address the request came to (tests, a hub built
// without serve).
func (s *Service) baseURL(ctx context.Context) string {
	if b := strings.TrimRight(s.Provider.BaseURL, "/"); b != "" {
		return b
	}
	b, _ := ctx.Value(baseKey{}).(string)
	return b
}

// withBase keeps the request's own address for baseURL.
func withBase(h web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), baseKey{}, scheme+"://"+r.Host)))
	}
}

func (s *Service) providerBase(ctx context.Context, slug string) string {
	return s.baseURL(ctx) + "/csaf/" + slug
}

func (s *Service) folderURL(ctx context.Context, slug, label string) string {
	return s.providerBase(ctx, slug) + "/" + strings.ToLower(label) + "/"
}

func (s *Service) documentURL(ctx context.Context, slug, label string, year int, name string) string {
	return s.folderURL(ctx, slug, label) + strconv.Itoa(year) + "/" + name
}

func feedName(label string) string { return "csaf-feed-tlp-" + strings.ToLower(label) + ".json" }

// providerBySlug finds the provider of the org named by slug.
func (s *Service) providerBySlug(ctx context.Context, slug string) (provider, error) {
	p := provider{slug: slug}
	err := s.DB.R().QueryRow(ctx, `SELECT org_id, fingerprint, public_key FROM csaf_providers WHERE slug = ?`, slug).Scan(&p.org, &p.fingerprint, &p.public)
	return p, db.NotFound(err, "load provider")
}

// wellKnown is the provider of the org the operator named for
// /.well-known/csaf/: only that org's, by its id (never by a slug, which
// another org's name could yield).
func (s *Service) wellKnown(ctx context.Context) (provider, error) {
	org, err := s.wellKnownOrg(ctx)
	if err != nil {
		return provider{}, err
	}
	p := provider{org: org}
	err = s.DB.R().QueryRow(ctx, `SELECT slug, fingerprint, public_key FROM csaf_providers WHERE org_id = ?`, org).Scan(&p.slug, &p.fingerprint, &p.public)
	return p, db.NotFound(err, "load provider")
}

// wellKnownOrg is the id of the org ProviderConfig.WellKnown names by its
// id or its exact name (not found when it names none).
func (s *Service) wellKnownOrg(ctx context.Context) (string, error) {
	name := strings.TrimSpace(s.Provider.WellKnown)
	if name == "" {
		return "", fault.ErrNotFound
	}
	var id string
	err := s.DB.R().QueryRow(ctx, `SELECT id FROM orgs WHERE id = ? UNION ALL SELECT id FROM orgs WHERE name = ? AND id <> ? LIMIT 1`, name, name, name).Scan(&id)
	return id, db.NotFound(err, "find provider org")
}

// ResolveWellKnown fixes ProviderConfig.WellKnown (serve's
// --csaf-provider-org: an org's id or exact name) to the org's id at
// start; an org it does not name is an error.
func (s *Service) ResolveWellKnown(ctx context.Context) error {
	if strings.TrimSpace(s.Provider.WellKnown) == "" {
		return nil
	}
	id, err := s.wellKnownOrg(ctx)
	if err != nil {
		return fmt.Errorf("--csaf-provider-org %q names no organisation (give its id or its exact name): %w", s.Provider.WellKnown, err)
	}
	s.Provider.WellKnown = id
	return nil
}

// entries are the publications of org under label that reader a may
// read, newest first. WHITE is public: each is served while its envelope
// is still CLEAR. The others go through the kernel's reader and are
// served while the envelope's level is still their label.
func (s *Service) entries(ctx context.Context, a policy.Actor, org, label string) ([]pub, error) {
	h := s.DB.R()
	var out []pub
	if label == "WHITE" {
		rows, err := h.Query(ctx, `SELECT `+pubColumns+` FROM csaf_publications p JOIN vuln_advisories a ON a.id = p.advisory_id
			WHERE p.org_id = ? AND p.label = 'WHITE'`, org)
		if err != nil {
			return nil, fmt.Errorf("list publications: %w", err)
		}
		all, err := db.Collect(rows, "publications", func(r db.Scanner) (pub, error) { return scanPub(r) })
		if err != nil {
			return nil, err
		}
		for _, p := range all {
			sh, ok, err := policy.LoadShare(ctx, h, p.advisoryID)
			if err != nil {
				return nil, err
			}
			if ok && sh.TLP == policy.Clear {
				out = append(out, p)
			}
		}
	} else {
		r, err := policy.NewReader(ctx, h, a, db.Now())
		if err != nil {
			return nil, err
		}
		q := db.Q(`SELECT `+pubColumns+`, `+s.advisories.Columns("a")+` FROM `).Append(r.From(s.advisories, "a")).
			Add(` JOIN csaf_publications p ON p.advisory_id = a.id WHERE p.org_id = ? AND p.label = ?`, org, label)
		rows, err := h.Select(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("list publications: %w", err)
		}
		type seen struct {
			p  pub
			sh policy.Share
		}
		all, err := db.Collect(rows, "publications", func(r db.Scanner) (x seen, err error) {
			x.p, err = scanPub(r, s.advisories.Dest(&x.sh, nil)...)
			return x, err
		})
		if err != nil {
			return nil, err
		}
		for _, x := range all {
			if l, ok := envLabel(x.sh.TLP); ok && l == label {
				out = append(out, x.p)
			}
		}
	}
	slices.SortFunc(out, func(x, y pub) int {
		if c := y.current.Compare(x.current); c != 0 {
			return c
		}
		return strings.Compare(x.name, y.name)
	})
	return out, nil
}

// labels are the TLP labels of the org's provider: WHITE (public) and
// GREEN, AMBER and RED (signed-in readers) always, whatever is published
// under them, so that the public provider metadata tells nothing of
// what is published where. An org that has published nothing has no
// provider (not found); that an org is a provider at all is public.
func (s *Service) labels(ctx context.Context, org string) ([]string, error) {
	var n int
	if err := s.DB.R().QueryRow(ctx, `SELECT COUNT(*) FROM csaf_publications WHERE org_id = ?`, org).Scan(&n); err != nil {
		return nil, fmt.Errorf("count publications: %w", err)
	}
	if n == 0 {
		return nil, fault.ErrNotFound
	}
	return slices.Clone(csaf.Labels[:4]), nil
}

// lastUpdated is the provider metadata's last_updated: when the last
// WHITE publication was published (it was public then: a document is
// published WHITE only while shared CLEAR), else when the provider was
// made; a protected publication never moves it. One query, however many
// publications.
func (s *Service) lastUpdated(ctx context.Context, p provider) (time.Time, error) {
	var created, white int64
	if err := s.DB.R().QueryRow(ctx, `SELECT c.created_at, COALESCE((SELECT MAX(published_at) FROM csaf_publications WHERE org_id = c.org_id AND label = 'WHITE'), 0)
		FROM csaf_providers c WHERE c.org_id = ?`, p.org).Scan(&created, &white); err != nil {
		return time.Time{}, db.NotFound(err, "load provider")
	}
	return time.UnixMicro(max(created, white)), nil
}

func (s *Service) feeds(ctx context.Context, p provider, labels []string) []csaf.FeedRef {
	out := make([]csaf.FeedRef, 0, len(labels))
	for _, l := range labels {
		out = append(out, csaf.FeedRef{Label: l, URL: s.folderURL(ctx, p.slug, l) + feedName(l), Summary: "TLP:" + l + " advisories"})
	}
	return out
}

// metadata writes provider-metadata.json of p.
func (s *Service) metadata(ctx context.Context, p provider) ([]byte, error) {
	labels, err := s.labels(ctx, p.org)
	if err != nil {
		return nil, err
	}
	last, err := s.lastUpdated(ctx, p)
	if err != nil {
		return nil, err
	}
	// The publisher is the org's identity, never a document's.
	pubr, err := identity(ctx, s.DB.R(), p.org)
	if err != nil {
		return nil, err
	}
	if pubr.Namespace == "" {
		pubr.Namespace = s.providerBase(ctx, p.slug)
	}
	dirs := make([]string, 0, len(labels))
	for _, l := range labels {
		dirs = append(dirs, s.folderURL(ctx, p.slug, l))
	}
	return csaf.ProviderMetadata(csaf.Metadata{CanonicalURL: s.providerBase(ctx, p.slug) + "/provider-metadata.json", Publisher: pubr,
		Fingerprint: p.fingerprint, KeyURL: s.providerBase(ctx, p.slug) + "/openpgp/" + p.fingerprint + ".asc",
		Directories: dirs, Feeds: s.feeds(ctx, p, labels), LastUpdated: last})
}

// registerProvider adds the provider's routes. Every address is under a
// web.Protocol: errors are plain text, 401 (with WWW-Authenticate) for a
// protected file asked for without credentials, 404 for what the reader
// may not see; never a redirect to the sign-in page.
func registerProvider(srv *web.Server, h *handler) {
	plain := func(w http.ResponseWriter, _ *http.Request, status int, e *fault.Error) {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="verbund"`)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, "%d %s: %s\n", status, e.Code, e.Message)
	}
	srv.AddProtocol(web.Protocol{Prefix: "/csaf/", WriteError: plain})
	srv.AddProtocol(web.Protocol{Prefix: "/.well-known/csaf/", WriteError: plain})
	r := srv.Router
	r.Handle("GET /csaf/{org}/provider-metadata.json", web.Public, withBase(h.providerMetadata))
	r.Handle("GET /csaf/{org}/service.json", web.Public, withBase(h.providerService))
	r.Handle("GET /csaf/{org}/openpgp/{file}", web.Public, withBase(h.providerKey))
	r.Handle("GET /.well-known/csaf/provider-metadata.json", web.Public, withBase(h.providerMetadata))
	r.Handle("GET /.well-known/csaf/service.json", web.Public, withBase(h.providerService))
	r.Handle("GET /.well-known/security.txt", web.Public, withBase(h.securityTxt))
	// A folder's address without its slash is not found rather than
	// redirected (ServeMux would redirect to a pattern ending in {$}).
	r.Handle("GET /csaf/{org}/{folder}", web.Public, withBase(h.providerNoFolder))
	r.Handle("GET /csaf/{org}/white/{$}", web.Public, withBase(h.providerFolder))
	r.Handle("GET /csaf/{org}/white/{name}", web.Public, withBase(h.providerFolderFile))
	r.Handle("GET /csaf/{org}/white/{year}/{$}", web.Public, withBase(h.providerYear))
	r.Handle("GET /csaf/{org}/white/{year}/{file}", web.Public, withBase(h.providerDocument))
	r.Handle("GET /csaf/{org}/{tlp}/{$}", web.Read, withBase(h.providerFolder))
	r.Handle("GET /csaf/{org}/{tlp}/{name}", web.Read, withBase(h.providerFolderFile))
	r.Handle("GET /csaf/{org}/{tlp}/{year}/{$}", web.Read, withBase(h.providerYear))
	r.Handle("GET /csaf/{org}/{tlp}/{year}/{file}", web.Read, withBase(h.providerDocument))
}

// provider is the provider the request names: /csaf/{org}/ or the
// well-known one.
func (h *handler) provider(r *http.Request) (provider, error) {
	if slug := r.PathValue("org"); slug != "" {
		return h.svc.providerBySlug(r.Context(), slug)
	}
	return h.svc.wellKnown(r.Context())
}

// label is the TLP label of the request's folder: WHITE on the public
// routes, else green, amber or red.
func label(r *http.Request) (string, error) {
	t := r.PathValue("tlp")
	if t == "" {
		return "WHITE", nil
	}
	switch t {
	case "green", "amber", "red":
		return strings.ToUpper(t), nil
	}
	return "", fault.ErrNotFound
}

func serveBytes(w http.ResponseWriter, typ string, b []byte) error {
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

func (h *handler) providerMetadata(w http.ResponseWriter, r *http.Request) error {
	p, err := h.provider(r)
	if err != nil {
		return err
	}
	b, err := h.svc.metadata(r.Context(), p)
	if err != nil {
		return err
	}
	return serveBytes(w, "application/json", b)
}

func (h *handler) providerService(w http.ResponseWriter, r *http.Request) error {
	p, err := h.provider(r)
	if err != nil {
		return err
	}
	labels, err := h.svc.labels(r.Context(), p.org)
	if err != nil {
		return err
	}
	b, err := csaf.ServiceDocument("CSAF feeds of "+p.slug, h.svc.feeds(r.Context(), p, labels))
	if err != nil {
		return err
	}
	return serveBytes(w, "application/json", b)
}

func (h *handler) providerKey(w http.ResponseWriter, r *http.Request) error {
	p, err := h.provider(r)
	if err != nil {
		return err
	}
	if r.PathValue("file") != p.fingerprint+".asc" {
		return fault.ErrNotFound
	}
	return serveBytes(w, "application/pgp-keys", []byte(p.public))
}

func (h *handler) securityTxt(w http.ResponseWriter, r *http.Request) error {
	p, err := h.svc.wellKnown(r.Context())
	if err != nil {
		return err
	}
	var contact string
	if err := h.svc.DB.R().QueryRow(r.Context(), `SELECT security_contact FROM orgs WHERE id = ?`, p.org).Scan(&contact); err != nil {
		return db.NotFound(err, "load org")
	}
	if contact == "" {
		contact = h.svc.providerBase(r.Context(), p.slug) + "/provider-metadata.json"
	} else if strings.Contains(contact, "@") && !strings.Contains(contact, ":") {
		contact = "mailto:" + contact
	}
	// RFC 9116: Expires is required; a year ahead, as the file is made
	// when asked for.
	body := fmt.Sprintf("Contact: %s\nExpires: %s\nCSAF: %s\n", contact,
		time.Now().UTC().AddDate(1, 0, 0).Truncate(24*time.Hour).Format(time.RFC3339), h.svc.providerBase(r.Context(), p.slug)+"/provider-metadata.json")
	return serveBytes(w, "text/plain; charset=utf-8", []byte(body))
}

func (h *handler) providerNoFolder(http.ResponseWriter, *http.Request) error {
	return fault.ErrNotFound
}

// folder is what a TLP folder request names, with the entries the reader
// may read there; a protected folder of which the reader may read
// nothing is not found.
func (h *handler) folder(r *http.Request) (provider, string, []pub, error) {
	l, err := label(r)
	if err != nil {
		return provider{}, "", nil, err
	}
	p, err := h.provider(r)
	if err != nil {
		return p, l, nil, err
	}
	labels, err := h.svc.labels(r.Context(), p.org)
	if err != nil {
		return p, l, nil, err
	}
	if !slices.Contains(labels, l) {
		return p, l, nil, fault.ErrNotFound
	}
	es, err := h.svc.entries(r.Context(), web.ActorFrom(r), p.org, l)
	if err != nil {
		return p, l, nil, err
	}
	if l != "WHITE" && len(es) == 0 {
		// A feed the metadata names but under which the org has
		// published nothing is served empty to the org's own people (so
		// that a checker reading the whole provider finds every feed);
		// to others a folder of which they may read nothing is not found.
		if a := web.ActorFrom(r); a.OrgID != p.org {
			return p, l, nil, fault.ErrNotFound
		}
		var n int
		if err := h.svc.DB.R().QueryRow(r.Context(), `SELECT COUNT(*) FROM csaf_publications WHERE org_id = ? AND label = ?`, p.org, l).Scan(&n); err != nil {
			return p, l, nil, fmt.Errorf("count publications: %w", err)
		}
		if n > 0 {
			return p, l, nil, fault.ErrNotFound
		}
	}
	return p, l, es, nil
}

func (h *handler) csafEntries(ctx context.Context, p provider, l string, es []pub) []csaf.Entry {
	out := make([]csaf.Entry, len(es))
	for i, e := range es {
		out[i] = csaf.Entry{URL: h.svc.documentURL(ctx, p.slug, l, e.year, e.name), Title: e.title, TrackingID: e.trackingID, Label: l,
			Path: strconv.Itoa(e.year) + "/" + e.name, InitialRelease: e.initial, CurrentRelease: e.current}
	}
	return out
}

// listing writes a folder's HTML listing (§7.1.14) with links relative
// to it.
func listing(w http.ResponseWriter, title string, names []string) error {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html.EscapeString(title) +
		"</title></head><body><h1>" + html.EscapeString(title) + "</h1><ul>\n")
	for _, n := range names {
		fmt.Fprintf(&b, "<li><a href=\"%s\">%s</a></li>\n", html.EscapeString(n), html.EscapeString(n))
	}
	b.WriteString("</ul></body></html>\n")
	return serveBytes(w, "text/html; charset=utf-8", []byte(b.String()))
}

func (h *handler) providerFolder(w http.ResponseWriter, r *http.Request) error {
	p, l, es, err := h.folder(r)
	if err != nil {
		return err
	}
	names := []string{"category-" + strings.ToLower(l) + ".json", "changes.csv", feedName(l), "index.txt"}
	var years []string
	for _, e := range es {
		if y := strconv.Itoa(e.year) + "/"; !slices.Contains(years, y) {
			years = append(years, y)
		}
	}
	slices.Sort(years)
	return listing(w, "CSAF "+p.slug+" TLP:"+l, append(names, years...))
}

func (h *handler) providerFolderFile(w http.ResponseWriter, r *http.Request) error {
	p, l, es, err := h.folder(r)
	if err != nil {
		return err
	}
	entries := h.csafEntries(r.Context(), p, l, es)
	switch r.PathValue("name") {
	case "index.txt":
		return serveBytes(w, "text/plain; charset=utf-8", csaf.Index(entries))
	case "changes.csv":
		return serveBytes(w, "text/csv; charset=utf-8", csaf.Changes(entries))
	case feedName(l):
		updated := time.Unix(0, 0)
		for _, e := range es {
			if e.current.After(updated) {
				updated = e.current
			}
		}
		b, err := csaf.Feed(h.svc.folderURL(r.Context(), p.slug, l)+feedName(l), "CSAF feed (TLP:"+l+") of "+p.slug, l, entries, updated)
		if err != nil {
			return err
		}
		return serveBytes(w, "application/json", b)
	case "category-" + strings.ToLower(l) + ".json":
		cats, err := h.svc.documentCategories(r.Context(), es)
		if err != nil {
			return err
		}
		b, err := csaf.CategoryDocument(cats)
		if err != nil {
			return err
		}
		return serveBytes(w, "application/json", b)
	}
	return fault.ErrNotFound
}

// documentCategories are the CSAF document categories of the entries.
func (s *Service) documentCategories(ctx context.Context, es []pub) ([]string, error) {
	var out []string
	for _, e := range es {
		var c string
		if err := s.DB.R().QueryRow(ctx, `SELECT category FROM vuln_advisories WHERE id = ?`, e.advisoryID).Scan(&c); err != nil {
			return nil, db.NotFound(err, "load advisory")
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (h *handler) providerYear(w http.ResponseWriter, r *http.Request) error {
	p, l, es, err := h.folder(r)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range es {
		if strconv.Itoa(e.year) == r.PathValue("year") {
			names = append(names, e.name, e.name+".asc", e.name+".sha256", e.name+".sha512")
		}
	}
	if len(names) == 0 {
		return fault.ErrNotFound
	}
	slices.Sort(names)
	return listing(w, "CSAF "+p.slug+" TLP:"+l+" "+r.PathValue("year"), names)
}

func (h *handler) providerDocument(w http.ResponseWriter, r *http.Request) error {
	_, _, es, err := h.folder(r)
	if err != nil {
		return err
	}
	file := r.PathValue("file")
	for _, e := range es {
		if strconv.Itoa(e.year) != r.PathValue("year") || !strings.HasPrefix(file, e.name) {
			continue
		}
		switch strings.TrimPrefix(file, e.name) {
		case "":
			var doc string
			if err := h.svc.DB.R().QueryRow(r.Context(), `SELECT document FROM vuln_advisory_versions WHERE advisory_id = ? AND version = ?`,
				e.advisoryID, e.version).Scan(&doc); err != nil {
				return db.NotFound(err, "load document")
			}
			return serveBytes(w, "application/json", []byte(doc))
		case ".sha256":
			return serveBytes(w, "text/plain; charset=utf-8", []byte(e.sha256+"  "+e.name+"\n"))
		case ".sha512":
			return serveBytes(w, "text/plain; charset=utf-8", []byte(e.sha512+"  "+e.name+"\n"))
		case ".asc":
			return serveBytes(w, "application/pgp-signature", []byte(e.signature))
		}
	}
	return fault.ErrNotFound
}
