package taxii

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// Backend stores objects and decides who may see them. The caller's
// identity travels in the context (the host's authentication put it
// there). Every method answers only with what that caller may know: a
// root, collection, object or status hidden from them is ErrNotFound,
// exactly like one that does not exist.
type Backend interface {
	// Discovery describes the server; its APIRoots and Default are the
	// names of the API roots the caller may use (the server turns them
	// into URLs).
	Discovery(ctx context.Context) (Discovery, error)
	// APIRoot describes root.
	APIRoot(ctx context.Context, root string) (APIRoot, error)
	// Collections lists root's collections the caller may know of, in
	// an order that does not change between requests (§3.3).
	Collections(ctx context.Context, root string) ([]Collection, error)
	// Collection finds one by id or alias.
	Collection(ctx context.Context, root, id string) (Collection, error)
	// Records answers a query on collection c: objects, a manifest or an
	// object's versions (q.Want), oldest date_added first, at most
	// q.Limit records, and a Next token when more follow.
	Records(ctx context.Context, root string, c Collection, q Query) (Page, error)
	// Add takes the objects of an envelope read from body (at most the
	// root's max_content_length; a read error wrapping
	// *http.MaxBytesError means the body was larger) into c, and
	// returns the status resource of the request, kept for the Status
	// endpoint.
	Add(ctx context.Context, root string, c Collection, body io.Reader) (Status, error)
	// Delete removes q.Object's versions that q's match[version] and
	// match[spec_version] select from c.
	Delete(ctx context.Context, root string, c Collection, q Query) error
	// Status returns a status resource made by Add.
	Status(ctx context.Context, root, id string) (Status, error)
}

// Server answers the TAXII 2.1 endpoints under Base.
type Server struct {
	Backend Backend
	// Base is the discovery path, "/taxii2/" by default (§8.2.1: the
	// server root).
	Base string
	// MaxLimit caps a page (default 1,000 records).
	MaxLimit int
	// MaxContentLength is an API root's default max_content_length
	// (default 10 MiB), when the backend's APIRoot leaves it 0.
	MaxContentLength int64
	// OnError sees every error that is not a *Error (the client gets an
	// opaque 500); the host logs it there, or maps its own error types
	// to a TAXII error by returning one.
	OnError func(r *http.Request, err error) *Error
}

// Route is one endpoint: a net/http pattern, whether it changes data
// (the host requires write permission for it) and its handler.
type Route struct {
	Pattern string
	Write   bool
	Handler http.HandlerFunc
}

// Routes lists the endpoints (§3.1 table), for the host's router.
func (s *Server) Routes() []Route {
	b := s.base()
	c := b + "{root}/collections/{collection}/"
	return []Route{
		{"GET " + b + "{$}", false, s.discovery},
		{"GET " + b + "{root}/{$}", false, s.apiRoot},
		{"GET " + b + "{root}/status/{status}/{$}", false, s.status},
		{"GET " + b + "{root}/collections/{$}", false, s.collections},
		{"GET " + c + "{$}", false, s.collection},
		{"GET " + c + "manifest/{$}", false, s.manifest},
		{"GET " + c + "objects/{$}", false, s.objects},
		{"POST " + c + "objects/{$}", true, s.addObjects},
		{"GET " + c + "objects/{object}/{$}", false, s.object},
		{"DELETE " + c + "objects/{object}/{$}", true, s.deleteObject},
		{"GET " + c + "objects/{object}/versions/{$}", false, s.versions},
	}
}

func (s *Server) base() string {
	if s.Base == "" {
		return "/taxii2/"
	}
	return s.Base
}

func (s *Server) maxLimit() int {
	if s.MaxLimit <= 0 {
		return 1000
	}
	return s.MaxLimit
}

// fail writes err as a TAXII error object.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &mbe):
		err = Errorf(http.StatusRequestEntityTooLarge, "too_large", "the request is larger than the API root's max_content_length")
	case s.OnError != nil:
		if mapped := s.OnError(r, err); mapped != nil {
			err = mapped
		}
	}
	WriteError(w, err)
}

// negotiate refuses a request whose Accept admits no TAXII answer (406).
func (s *Server) negotiate(w http.ResponseWriter, r *http.Request) bool {
	if acceptable(r.Header) {
		return true
	}
	s.fail(w, r, Errorf(http.StatusNotAcceptable, "not_acceptable", "accept "+MediaTAXII))
	return false
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	if !s.negotiate(w, r) {
		return
	}
	d, err := s.Backend.Discovery(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for i, name := range d.APIRoots {
		d.APIRoots[i] = s.base() + name + "/"
	}
	if d.Default != "" {
		d.Default = s.base() + d.Default + "/"
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) root(ctx context.Context, name string) (APIRoot, error) {
	root, err := s.Backend.APIRoot(ctx, name)
	if err != nil {
		return root, err
	}
	if len(root.Versions) == 0 {
		root.Versions = []string{MediaTAXII}
	}
	if root.MaxContentLength <= 0 {
		root.MaxContentLength = s.MaxContentLength
		if root.MaxContentLength <= 0 {
			root.MaxContentLength = 10 << 20
		}
	}
	return root, nil
}

func (s *Server) apiRoot(w http.ResponseWriter, r *http.Request) {
	if !s.negotiate(w, r) {
		return
	}
	root, err := s.root(r.Context(), r.PathValue("root"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, root)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if !s.negotiate(w, r) {
		return
	}
	st, err := s.Backend.Status(r.Context(), r.PathValue("root"), r.PathValue("status"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) collections(w http.ResponseWriter, r *http.Request) {
	if !s.negotiate(w, r) {
		return
	}
	cs, err := s.Backend.Collections(r.Context(), r.PathValue("root"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, collections{Collections: cs})
}

func (s *Server) collection(w http.ResponseWriter, r *http.Request) {
	if !s.negotiate(w, r) {
		return
	}
	c, err := s.Backend.Collection(r.Context(), r.PathValue("root"), r.PathValue("collection"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// readable finds the request's collection and checks that it may be read
// (403 when the caller knows it but may not read it, §5.3).
func (s *Server) readable(r *http.Request) (Collection, error) {
	c, err := s.Backend.Collection(r.Context(), r.PathValue("root"), r.PathValue("collection"))
	if err == nil && !c.CanRead {
		err = ErrForbidden
	}
	return c, err
}

// page runs a read query of kind want and writes what it returns with
// the date-added headers (§3.2).
func (s *Server) page(w http.ResponseWriter, r *http.Request, want Want, byID bool) {
	if !s.negotiate(w, r) {
		return
	}
	q, err := parseQuery(r.URL.Query(), want, byID, s.maxLimit())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q.Object = r.PathValue("object")
	c, err := s.readable(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.Backend.Records(r.Context(), r.PathValue("root"), c, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if byID && len(p.Records) == 0 && !p.More && q.Next == "" && q.AddedAfter.IsZero() {
		// An object the collection does not hold (or the caller may not
		// see) is not found, not an empty envelope.
		s.fail(w, r, ErrNotFound)
		return
	}
	if n := len(p.Records); n > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", Time(p.Records[0].DateAdded))
		w.Header().Set("X-TAXII-Date-Added-Last", Time(p.Records[n-1].DateAdded))
	}
	var more *bool
	if len(p.Records) > 0 || p.More {
		more = &p.More
	}
	next := ""
	if p.More {
		next = p.Next
	}
	switch want {
	case WantManifest:
		m := manifest{More: more, Next: next}
		for _, rec := range p.Records {
			m.Objects = append(m.Objects, manifestRecord{ID: rec.ID, DateAdded: Time(rec.DateAdded), Version: rec.Version, MediaType: stixMedia(rec.SpecVersion)})
		}
		writeJSON(w, http.StatusOK, m)
	case WantVersions:
		v := versions{More: more, Next: next}
		for _, rec := range p.Records {
			v.Versions = append(v.Versions, rec.Version)
		}
		writeJSON(w, http.StatusOK, v)
	default:
		objs := make([]json.RawMessage, len(p.Records))
		for i, rec := range p.Records {
			objs[i] = rec.Object
		}
		writeEnvelope(w, more, next, objs)
	}
}

// stixMedia is the media type of an object of spec version v.
func stixMedia(v string) string {
	if v == "" {
		v = "2.1"
	}
	return "application/stix+json;version=" + v
}

func (s *Server) manifest(w http.ResponseWriter, r *http.Request) { s.page(w, r, WantManifest, false) }
func (s *Server) objects(w http.ResponseWriter, r *http.Request)  { s.page(w, r, WantObjects, false) }
func (s *Server) object(w http.ResponseWriter, r *http.Request)   { s.page(w, r, WantObjects, true) }
func (s *Server) versions(w http.ResponseWriter, r *http.Request) { s.page(w, r, WantVersions, true) }

func (s *Server) addObjects(w http.ResponseWriter, r *http.Request) {
	if !s.negotiate(w, r) {
		return
	}
	ctx := r.Context()
	root, err := s.root(ctx, r.PathValue("root"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.Backend.Collection(ctx, r.PathValue("root"), r.PathValue("collection"))
	if err == nil && !c.CanWrite {
		err = ErrForbidden
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !sendsTAXII(r.Header) {
		s.fail(w, r, Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the envelope as "+MediaTAXII))
		return
	}
	if r.ContentLength > root.MaxContentLength {
		s.fail(w, r, Errorf(http.StatusRequestEntityTooLarge, "too_large", "the request is larger than the API root's max_content_length"))
		return
	}
	body := http.MaxBytesReader(w, r.Body, root.MaxContentLength)
	st, err := s.Backend.Add(ctx, r.PathValue("root"), c, body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, st)
}

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request) {
	if !s.negotiate(w, r) {
		return
	}
	q, err := parseQuery(r.URL.Query(), WantObjects, true, s.maxLimit())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q.Object = r.PathValue("object")
	c, err := s.Backend.Collection(r.Context(), r.PathValue("root"), r.PathValue("collection"))
	switch {
	case err != nil:
	case !c.CanRead && !c.CanWrite: // §5.7's table: neither is not found
		err = ErrNotFound
	case !c.CanRead || !c.CanWrite:
		err = ErrForbidden
	}
	if err == nil {
		err = s.Backend.Delete(r.Context(), r.PathValue("root"), c, q)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", MediaTAXII)
	w.WriteHeader(http.StatusOK)
}
