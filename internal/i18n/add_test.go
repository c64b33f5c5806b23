package i18n

import (
	"strings"
	"testing"
	"testing/fstest"

	"verbund/internal/fault"
)

func TestAdd(t *testing.T) {
	frag := func(en, de string) fstest.MapFS {
		return fstest.MapFS{"x/i18n/en.json": {Data: []byte(en)}, "x/i18n/de.json": {Data: []byte(de)}}
	}
	c := mustLoad(t)
	n := len(c.Keys())
	if err := c.Add(frag(`{"x.hello":"Hello {name}"}`, `{"x.hello":"Hallo {name}"}`), "x/i18n"); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if got := c.T("de", "x.hello", "name", "Eva"); got != "Hallo Eva" || len(c.Keys()) != n+1 || !c.Has("x.hello") {
		t.Errorf("after Add: %q, %d keys", got, len(c.Keys()))
	}
	for _, tt := range []struct {
		name, en, de, want string
	}{
		{"defined twice", `{"x.hello":"Hi","x.other":"O"}`, `{"x.hello":"Hallo","x.other":"A"}`, "defined twice: x.hello"},
		{"shared key again", `{"nav.forum":"F"}`, `{"nav.forum":"F"}`, "nav.forum"},
		{"missing in de", `{"y.a":"a","y.b":"b"}`, `{"y.a":"A"}`, "missing in de.json"},
		{"placeholders", `{"y.a":"{n}"}`, `{"y.a":"{m}"}`, "placeholders differ"},
		{"malformed", `{"y.a":}`, `{"y.a":"A"}`, "x/i18n/en.json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(c.Keys())
			err := c.Add(frag(tt.en, tt.de), "x/i18n")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Add = %v, want an error mentioning %q", err, tt.want)
			}
			if len(c.Keys()) != before || c.Has("y.a") || c.Has("x.other") {
				t.Errorf("a failed Add changed the catalogue")
			}
		})
	}
	if err := c.Add(fstest.MapFS{}, "none"); err == nil {
		t.Error("Add of a missing folder succeeded")
	}
}

func TestFault(t *testing.T) {
	c := mustLoad(t)
	err := c.Add(fstest.MapFS{
		"f/en.json": {Data: []byte(`{"fault.x_missing":"No agreement with {org} covers {category} up to {n}.","category.none":"nothing"}`)},
		"f/de.json": {Data: []byte(`{"fault.x_missing":"Keine Vereinbarung mit {org} deckt {category} bis {n} ab.","category.none":"nichts"}`)},
	}, "f")
	if err != nil {
		t.Fatal(err)
	}
	e := fault.New(fault.Forbidden, "x_missing", "no agreement with {org}: {what}").
		With("org", "CERT Süd").With("what", "English only").WithKey("category", "none", "category.none").With("n", 12345)
	if got, want := c.Fault("de", e), "Keine Vereinbarung mit CERT Süd deckt nichts bis 12.345 ab."; got != want {
		t.Errorf("Fault de = %q, want %q", got, want)
	}
	if got, want := c.Fault("en", e), "No agreement with CERT Süd covers nothing up to 12,345."; got != want {
		t.Errorf("Fault en = %q, want %q", got, want)
	}
	if got, want := e.Message, "no agreement with CERT Süd: English only"; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
	unknown := fault.New(fault.Invalid, "no_such_code", "plain English")
	if got := c.Fault("de", unknown); got != "plain English" {
		t.Errorf("Fault without a key = %q, want the English message", got)
	}
}
