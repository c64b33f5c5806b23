package stix

import (
	"strings"
	"testing"
)

func TestSCOIDVectors(t *testing.T) {
	cases := []struct{ obj, want string }{
		// STANDARDS.md §2.1: verified in python stix2, npm and Go (google/uuid + gowebpki/jcs).
		{`{"type":"ipv4-addr","value":"198.51.100.3"}`, "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"},
		{`{"type":"domain-name","value":"example.com"}`, "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"},
		{`{"type":"url","value":"https://example.com/a"}`, "url--6ccd10ff-4c3f-5062-a19f-b6bd987c6637"},
	}
	for _, c := range cases {
		o, err := ParseObject([]byte(c.obj))
		if err != nil {
			t.Fatal(err)
		}
		got, err := SCOID(o)
		if err != nil || got != c.want {
			t.Errorf("SCOID(%s) = %s, %v; want %s", c.obj, got, err, c.want)
		}
	}
}

func TestSCOIDRules(t *testing.T) {
	id := func(s string) string {
		t.Helper()
		o, err := ParseObject([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		got, err := SCOID(o)
		if err != nil {
			t.Fatalf("SCOID(%s): %v", s, err)
		}
		return got
	}
	// Non-contributing properties, member order and whitespace do not matter.
	a := id(`{"type":"file","name":"x.exe","hashes":{"SHA-256":"aa","MD5":"bb"},"size":10}`)
	b := id(`{ "hashes": {"MD5":"bb", "SHA-256":"aa"}, "name": "x.exe", "type": "file", "size": 99 }`)
	if a != b {
		t.Errorf("same contributing properties, different ids: %s %s", a, b)
	}
	// Only one hash contributes, MD5 first: another SHA-256 gives the same id.
	if c := id(`{"type":"file","name":"x.exe","hashes":{"MD5":"bb","SHA-256":"cc"}}`); c != a {
		t.Errorf("the preferred hash should decide alone: %s != %s", c, a)
	}
	if !strings.HasPrefix(a, "file--") {
		t.Errorf("id %s lacks its type", a)
	}
	if _, _, err := ParseID(a); err != nil {
		t.Errorf("ParseID(%s): %v", a, err)
	}
	for _, s := range []string{
		`{"type":"process","pid":4}`,
		`{"type":"x-custom","value":"a"}`,
		`{"type":"ipv4-addr"}`,
	} {
		o, _ := ParseObject([]byte(s))
		if _, err := SCOID(o); err == nil {
			t.Errorf("SCOID(%s) succeeded", s)
		}
	}
	if len(scoIDProperties) != 18 {
		t.Errorf("%d SCO types have ID contributing properties, the spec defines 18", len(scoIDProperties))
	}
}

func TestParseID(t *testing.T) {
	good := []string{
		"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
		"x-mitre-tactic--2d9f6b0e-3c2b-4a4b-9d6e-2b1f5a3c7d8e",
		"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4",
	}
	bad := []string{
		"", "indicator", "indicator--", "indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f",
		"Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
		"indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f", // version 0
		"indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f", // variant 110
		"in--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",        // type too short
		"indicator--{8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f}",
		"urn:uuid:8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
	}
	for _, s := range good {
		if _, _, err := ParseID(s); err != nil {
			t.Errorf("ParseID(%q): %v", s, err)
		}
	}
	for _, s := range bad {
		if _, _, err := ParseID(s); err == nil {
			t.Errorf("ParseID(%q) succeeded", s)
		}
	}
}

func TestCanonicalize(t *testing.T) {
	cases := map[string]string{
		`{"b":1,"a":[true,false,null],"c":{"z":"x","y":""}}`:                    `{"a":[true,false,null],"b":1,"c":{"y":"","z":"x"}}`,
		`"\u20ac\u00e9\n\u001f\"\\/"`:                                           "\"€é\\n\\u001f\\\"\\\\/\"",
		`[1.0, -0, 1e21, 1e-7, 123e-9, 0.000001, 1.5e300, 100, 4.5, 2e-3]`:      `[1,0,1e+21,1e-7,1.23e-7,0.000001,1.5e+300,100,4.5,0.002]`,
		`[333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]`: `[333333333.3333333,1e+30,4.5,0.002,1e-27]`,
		`[9007199254740993, 295147905179352830000, 1e20]`:                       `[9007199254740992,295147905179352830000,100000000000000000000]`,
		// RFC 8785 §3.2.3: sorting by UTF-16 code units, not by code points.
		`{"\ud83d\ude00":1,"\ufb33":2,"\u20ac":3,"1":4,"\u0080":5,"\r":6}`: "{\"\\r\":6,\"1\":4,\"\u0080\":5,\"€\":3,\"😀\":1,\"\ufb33\":2}",
	}
	for in, want := range cases {
		got, err := Canonicalize([]byte(in))
		if err != nil {
			t.Errorf("Canonicalize(%s): %v", in, err)
			continue
		}
		if string(got) != want {
			t.Errorf("Canonicalize(%s)\n got %s\nwant %s", in, got, want)
		}
	}
	for _, bad := range []string{`{"a":1,"a":2}`, `1e400`, `[1] 2`, `{`} {
		if _, err := Canonicalize([]byte(bad)); err == nil {
			t.Errorf("Canonicalize(%s) succeeded", bad)
		}
	}
}
