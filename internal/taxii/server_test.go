package taxii

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// memory is a small Backend for the library's own tests: one API root
// "r1" with a readable and writable collection "c1" (alias "main"), a
// read-only "c2", a write-only "c3", and a hidden "c4" that it reports as
// not found. verbund's real backend is internal/intel; its conformance
// tests run over the hub.
type memory struct {
	records []Record // date_added order
	status  map[string]Status
}

var collectionsOf = []Collection{
	{ID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Alias: "main", Title: "c1", CanRead: true, CanWrite: true, MediaTypes: []string{MediaSTIX}},
	{ID: "52892447-4d7e-4f70-b94d-d7f22742ff63", Title: "c2", CanRead: true},
	{ID: "64993447-4d7e-4f70-b94d-d7f22742ff63", Title: "c3", CanWrite: true},
}

const hiddenCollection = "472c94ae-3113-4e3e-a4dd-a9f4ac7471d4"

func (m *memory) Discovery(context.Context) (Discovery, error) {
	return Discovery{Title: "test", Default: "r1", APIRoots: []string{"r1"}}, nil
}

func (m *memory) APIRoot(_ context.Context, root string) (APIRoot, error) {
	if root != "r1" {
		return APIRoot{}, ErrNotFound
	}
	return APIRoot{Title: "root one", MaxContentLength: 4096}, nil
}

func (m *memory) Collections(_ context.Context, root string) ([]Collection, error) {
	if root != "r1" {
		return nil, ErrNotFound
	}
	return collectionsOf, nil
}

func (m *memory) Collection(_ context.Context, root, id string) (Collection, error) {
	if root == "r1" {
		for _, c := range collectionsOf {
			if c.ID == id || c.Alias != "" && c.Alias == id {
				return c, nil
			}
		}
	}
	return Collection{}, ErrNotFound
}

func (m *memory) Records(_ context.Context, _ string, c Collection, q Query) (Page, error) {
	start := 0
	if q.Next != "" {
		n, err := strconv.Atoi(q.Next)
		if err != nil || n < 0 || n > len(m.records) {
			return Page{}, Errorf(http.StatusBadRequest, "bad_next", "unknown next")
		}
		start = n
	}
	var out Page
	for i := start; i < len(m.records); i++ {
		rec := m.records[i]
		if !rec.DateAdded.After(q.AddedAfter) || q.Object != "" && rec.ID != q.Object ||
			len(q.IDs) > 0 && !slices.Contains(q.IDs, rec.ID) ||
			len(q.Types) > 0 && !slices.Contains(q.Types, strings.Split(rec.ID, "--")[0]) {
			continue
		}
		if len(out.Records) == q.Limit {
			out.More, out.Next = true, strconv.Itoa(i)
			break
		}
		if q.Want != WantObjects {
			rec.Object = nil
		}
		out.Records = append(out.Records, rec)
	}
	return out, nil
}

func (m *memory) Add(_ context.Context, _ string, c Collection, body io.Reader) (Status, error) {
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.NewDecoder(body).Decode(&env); err != nil {
		return Status{}, fmt.Errorf("decode: %w", err)
	}
	st := Status{ID: "2d086da7-4bdc-4f91-900e-d77486753710", Status: "complete", TotalCount: len(env.Objects)}
	for _, o := range env.Objects {
		var head struct{ ID, Modified string }
		_ = json.Unmarshal(o, &head)
		m.records = append(m.records, Record{ID: head.ID, Version: head.Modified, SpecVersion: "2.1", DateAdded: time.Now(), Object: o})
		st.SuccessCount++
		st.Successes = append(st.Successes, StatusDetail{ID: head.ID, Version: head.Modified})
	}
	m.status[st.ID] = st
	return st, nil
}

func (m *memory) Delete(_ context.Context, _ string, c Collection, q Query) error {
	n := len(m.records)
	m.records = slices.DeleteFunc(m.records, func(r Record) bool { return r.ID == q.Object })
	if len(m.records) == n {
		return ErrNotFound
	}
	return nil
}

func (m *memory) Status(_ context.Context, root, id string) (Status, error) {
	if st, ok := m.status[id]; ok && root == "r1" {
		return st, nil
	}
	return Status{}, ErrNotFound
}

func newServer(t *testing.T) (*memory, *httptest.Server) {
	t.Helper()
	m := &memory{status: map[string]Status{}}
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 5 {
		id := fmt.Sprintf("indicator--%08d-0000-4000-8000-000000000000", i)
		obj := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z"}`, id)
		m.records = append(m.records, Record{ID: id, Version: "2026-01-01T00:00:00.000Z", SpecVersion: "2.1", DateAdded: base.Add(time.Duration(i) * time.Second), Object: json.RawMessage(obj)})
	}
	s := &Server{Backend: m, MaxLimit: 3}
	mux := http.NewServeMux()
	for _, rt := range s.Routes() {
		mux.HandleFunc(rt.Pattern, rt.Handler)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return m, srv
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func call(t *testing.T, srv *httptest.Server, method, path string, header map[string]string, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", MediaTAXII)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
		}
	}
	if len(raw) > 0 && resp.Header.Get("Content-Type") != MediaTAXII {
		t.Errorf("%s %s: Content-Type %q", method, path, resp.Header.Get("Content-Type"))
	}
	if resp.StatusCode >= 400 {
		if a.body["title"] == nil || a.body["http_status"] != strconv.Itoa(resp.StatusCode) {
			t.Errorf("%s %s: error object %s lacks title or http_status %d", method, path, raw, resp.StatusCode)
		}
	}
	return a
}

const c1 = "/taxii2/r1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/"

func TestEndpoints(t *testing.T) {
	_, srv := newServer(t)
	d := call(t, srv, "GET", "/taxii2/", nil, "")
	if d.status != 200 || d.body["default"] != "/taxii2/r1/" || fmt.Sprint(d.body["api_roots"]) != "[/taxii2/r1/]" {
		t.Errorf("discovery: %d %s", d.status, d.raw)
	}
	root := call(t, srv, "GET", "/taxii2/r1/", nil, "")
	if root.status != 200 || fmt.Sprint(root.body["versions"]) != "["+MediaTAXII+"]" || root.body["max_content_length"] != 4096.0 {
		t.Errorf("api root: %d %s", root.status, root.raw)
	}
	if a := call(t, srv, "GET", "/taxii2/nope/", nil, ""); a.status != 404 {
		t.Errorf("unknown root: %d", a.status)
	}
	cs := call(t, srv, "GET", "/taxii2/r1/collections/", nil, "")
	if cs.status != 200 || len(cs.body["collections"].([]any)) != 3 {
		t.Errorf("collections: %d %s", cs.status, cs.raw)
	}
	for _, path := range []string{c1, "/taxii2/r1/collections/main/"} {
		c := call(t, srv, "GET", path, nil, "")
		if c.status != 200 || c.body["can_read"] != true || c.body["id"] != "91a7b528-80eb-42ed-a74d-c6fbd5a26116" {
			t.Errorf("collection %s: %d %s", path, c.status, c.raw)
		}
	}
	if a := call(t, srv, "GET", "/taxii2/r1/collections/"+hiddenCollection+"/objects/", nil, ""); a.status != 404 {
		t.Errorf("hidden collection: %d", a.status)
	}
	// A collection the caller knows but may not read: 403 (§5.3).
	if a := call(t, srv, "GET", "/taxii2/r1/collections/64993447-4d7e-4f70-b94d-d7f22742ff63/objects/", nil, ""); a.status != 403 {
		t.Errorf("write-only collection read: %d", a.status)
	}
}

func TestPaging(t *testing.T) {
	_, srv := newServer(t)
	// The server caps the page at 3: more and next, and the headers name
	// the first and last date_added of the page.
	p := call(t, srv, "GET", c1+"objects/?limit=10", nil, "")
	if p.status != 200 || len(p.body["objects"].([]any)) != 3 || p.body["more"] != true || p.body["next"] == nil {
		t.Fatalf("first page: %d %s", p.status, p.raw)
	}
	if f, l := p.header.Get("X-TAXII-Date-Added-First"), p.header.Get("X-TAXII-Date-Added-Last"); f != "2026-01-02T03:04:05.000000Z" || l != "2026-01-02T03:04:07.000000Z" {
		t.Errorf("date added headers %q %q", f, l)
	}
	p2 := call(t, srv, "GET", c1+"objects/?limit=10&next="+url.QueryEscape(p.body["next"].(string)), nil, "")
	if len(p2.body["objects"].([]any)) != 2 || p2.body["more"] != false || p2.body["next"] != nil {
		t.Errorf("second page: %s", p2.raw)
	}
	// added_after the last header continues too.
	p3 := call(t, srv, "GET", c1+"manifest/?added_after="+p.header.Get("X-TAXII-Date-Added-Last"), nil, "")
	objs := p3.body["objects"].([]any)
	if len(objs) != 2 {
		t.Fatalf("manifest after: %s", p3.raw)
	}
	rec := objs[0].(map[string]any)
	if rec["date_added"] != "2026-01-02T03:04:08.000000Z" || rec["version"] != "2026-01-01T00:00:00.000Z" || rec["media_type"] != MediaSTIX {
		t.Errorf("manifest record %v", rec)
	}
	// Nothing matches: {} and no date headers.
	empty := call(t, srv, "GET", c1+"objects/?match[type]=malware", nil, "")
	if empty.status != 200 || empty.raw != "{}" || empty.header.Get("X-TAXII-Date-Added-First") != "" {
		t.Errorf("empty envelope: %d %q %v", empty.status, empty.raw, empty.header)
	}
	one := call(t, srv, "GET", c1+"objects/indicator--00000002-0000-4000-8000-000000000000/", nil, "")
	if one.status != 200 || len(one.body["objects"].([]any)) != 1 {
		t.Errorf("by id: %d %s", one.status, one.raw)
	}
	v := call(t, srv, "GET", c1+"objects/indicator--00000002-0000-4000-8000-000000000000/versions/", nil, "")
	if v.status != 200 || fmt.Sprint(v.body["versions"]) != "[2026-01-01T00:00:00.000Z]" || v.header.Get("X-TAXII-Date-Added-Last") == "" {
		t.Errorf("versions: %d %s", v.status, v.raw)
	}
	if a := call(t, srv, "GET", c1+"objects/indicator--00000009-0000-4000-8000-000000000000/", nil, ""); a.status != 404 {
		t.Errorf("unknown object: %d", a.status)
	}
}

func TestMalformedParameters(t *testing.T) {
	_, srv := newServer(t)
	for _, q := range []string{
		"added_after=notatime", "added_after=2026-01-01", "limit=0", "limit=-1", "limit=abc", "limit=1&limit=2",
		"match[type]=indicator,", "match[type]=Indicator", "match[id]=nope", "match[version]=latest",
		"match[version]=last,last", "match[spec_version]=two", "added_after=2026-01-01T00:00:00Z&added_after=2026-01-02T00:00:00Z",
		"next=",
	} {
		a := call(t, srv, "GET", c1+"objects/?"+q, nil, "")
		if a.status != 400 || a.body["error_code"] != "bad_parameter" {
			t.Errorf("?%s: %d %s, want 400 bad_parameter", q, a.status, a.raw)
		}
	}
	// Well-formed values are taken.
	for _, q := range []string{"added_after=2026-01-01T00:00:00Z", "match[version]=first,last,2026-01-01T00:00:00.000Z", "match[version]=all",
		"match[spec_version]=2.1", "match[type]=indicator,x-acme-thing", "match[unknown]=1"} {
		if a := call(t, srv, "GET", c1+"objects/?"+q, nil, ""); a.status != 200 {
			t.Errorf("?%s: %d %s", q, a.status, a.raw)
		}
	}
}

func TestMediaTypes(t *testing.T) {
	_, srv := newServer(t)
	for accept, want := range map[string]int{
		"application/taxii+json;version=2.1":                       200,
		"application/taxii+json; version=2.1":                      200,
		"application/taxii+json":                                   200,
		"application/taxii+json;version=2.1,application/stix+json": 200,
		"*/*":                                200,
		"application/taxii+json;version=2.0": 406,
		"application/json":                   406,
		"text/html":                          406,
	} {
		a := call(t, srv, "GET", "/taxii2/", map[string]string{"Accept": accept}, "")
		if a.status != want {
			t.Errorf("Accept %q: %d, want %d", accept, a.status, want)
		}
	}
	env := `{"objects":[{"type":"indicator","id":"indicator--0000000a-0000-4000-8000-000000000000","modified":"2026-02-01T00:00:00.000Z"}]}`
	if a := call(t, srv, "POST", c1+"objects/", map[string]string{"Content-Type": "application/json"}, env); a.status != 415 {
		t.Errorf("POST as application/json: %d", a.status)
	}
	a := call(t, srv, "POST", c1+"objects/", map[string]string{"Content-Type": MediaTAXII}, env)
	if a.status != 202 || a.body["status"] != "complete" || a.body["success_count"] != 1.0 {
		t.Fatalf("POST: %d %s", a.status, a.raw)
	}
	st := call(t, srv, "GET", "/taxii2/r1/status/"+a.body["id"].(string)+"/", nil, "")
	if st.status != 200 || st.body["total_count"] != 1.0 {
		t.Errorf("status: %d %s", st.status, st.raw)
	}
	big := `{"objects":[` + strings.Repeat(" ", 5000) + `]}`
	if a := call(t, srv, "POST", c1+"objects/", map[string]string{"Content-Type": MediaTAXII}, big); a.status != 413 {
		t.Errorf("POST over max_content_length: %d %s", a.status, a.raw)
	}
	if a := call(t, srv, "POST", "/taxii2/r1/collections/52892447-4d7e-4f70-b94d-d7f22742ff63/objects/", map[string]string{"Content-Type": MediaTAXII}, env); a.status != 403 {
		t.Errorf("POST to a read-only collection: %d", a.status)
	}
}

func TestDeletePermissions(t *testing.T) {
	_, srv := newServer(t)
	obj := "objects/indicator--00000001-0000-4000-8000-000000000000/"
	for coll, want := range map[string]int{
		"52892447-4d7e-4f70-b94d-d7f22742ff63": 403, // read only
		"64993447-4d7e-4f70-b94d-d7f22742ff63": 403, // write only
		hiddenCollection:                       404,
	} {
		if a := call(t, srv, "DELETE", "/taxii2/r1/collections/"+coll+"/"+obj, nil, ""); a.status != want {
			t.Errorf("DELETE in %s: %d, want %d", coll, a.status, want)
		}
	}
	if a := call(t, srv, "DELETE", c1+obj, nil, ""); a.status != 200 {
		t.Fatalf("DELETE: %d %s", a.status, a.raw)
	}
	if a := call(t, srv, "GET", c1+obj, nil, ""); a.status != 404 {
		t.Errorf("GET after DELETE: %d", a.status)
	}
}

// FuzzParseQuery: any query string is either taken or refused with a 400;
// it never panics, and what is taken is within the server's limit.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"limit=5", "added_after=2026-01-01T00:00:00.123456Z", "match[version]=first,last", "match[id]=indicator--00000001-0000-4000-8000-000000000000,x", "next=abc&limit=1", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, want := range []Want{WantObjects, WantManifest, WantVersions} {
			q, err := parseQuery(v, want, false, 100)
			if err != nil {
				var e *Error
				if !asError(err, &e) || e.Status != 400 {
					t.Fatalf("%q: %v is not a 400", raw, err)
				}
				continue
			}
			if q.Limit < 1 || q.Limit > 100 {
				t.Fatalf("%q: limit %d", raw, q.Limit)
			}
		}
	})
}

func asError(err error, e **Error) bool {
	x, ok := err.(*Error)
	*e = x
	return ok
}

// The hand-written envelope is what encoding/json writes for the envelope
// type (not escaped for HTML), for every combination of its optional
// members.
func TestWriteEnvelopeMatchesMarshal(t *testing.T) {
	yes, no := true, false
	objs := []json.RawMessage{json.RawMessage(`{"type":"indicator","id":"indicator--1"}`), json.RawMessage(`{"name":"a \"b\" <c>"}`)}
	for _, more := range []*bool{nil, &yes, &no} {
		for _, next := range []string{"", "abc", `a"b<&>`} {
			for _, o := range [][]json.RawMessage{nil, objs[:1], objs} {
				var buf strings.Builder
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				if err := enc.Encode(envelope{More: more, Next: next, Objects: o}); err != nil {
					t.Fatal(err)
				}
				want := strings.TrimSuffix(buf.String(), "\n")
				rec := httptest.NewRecorder()
				writeEnvelope(rec, more, next, o)
				if got := rec.Body.String(); got != want {
					t.Errorf("more %v next %q objects %d:\n got %s\nwant %s", more, next, len(o), got, want)
				}
				if rec.Header().Get("Content-Length") != strconv.Itoa(len(want)) {
					t.Errorf("Content-Length %s for %d bytes", rec.Header().Get("Content-Length"), len(want))
				}
			}
		}
	}
}
