package policy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"verbund/internal/policy"
)

func FuzzParseTLP(f *testing.F) {
	for _, s := range []string{"CLEAR", "TLP:AMBER+STRICT", "white", "red", "", "TLP:", "amber-strict"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := policy.ParseTLP(s)
		if err != nil {
			return
		}
		if l < policy.Clear || l > policy.Red {
			t.Fatalf("%q parsed to out-of-range level %d", s, l)
		}
		// Whatever was accepted round-trips through its canonical label.
		again, err := policy.ParseTLP(l.String())
		if err != nil || again != l {
			t.Fatalf("%q → %v does not round-trip", s, l)
		}
	})
}

func FuzzParseCategories(f *testing.F) {
	for _, s := range []string{"incident,knowledge", "all", "", ",,", "vulnerabilities", "logs,risk"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := policy.ParseCategories([]string{s})
		if err != nil {
			return
		}
		if c == 0 || c&^policy.AllCategories != 0 {
			t.Fatalf("%q parsed to invalid set %b", s, c)
		}
		back, err := policy.ParseCategories([]string{strings.Join(c.Names(), ",")})
		if err != nil || back != c {
			t.Fatalf("%q → %v does not round-trip", s, c.Names())
		}
	})
}

func TestShareJSONRoundTrip(t *testing.T) {
	in := policy.Share{ID: "s", Kind: "post", Owner: "o", Author: "a", Category: policy.Knowledge, TLP: policy.AmberStrict,
		Audience: policy.Audience{Kind: policy.AudOrgs, Orgs: []string{"x"}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"tlp":"TLP:AMBER+STRICT"`) || !strings.Contains(string(b), `"category":"knowledge"`) {
		t.Errorf("encoding: %s", b)
	}
	var out policy.Share
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.TLP != in.TLP || out.Category != in.Category || out.Audience.Orgs[0] != "x" {
		t.Errorf("round trip: %+v", out)
	}
}
