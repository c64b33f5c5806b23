package csaf

import (
	"errors"
	"strings"
	"testing"
)

// vexDoc is a small csaf_vex document; vulns is its vulnerability's body.
func vexDoc(vuln string) string {
	return `{
  "document": {
    "category": "csaf_vex", "csaf_version": "2.0",
    "notes": [{"category": "summary", "title": "Summary", "text": "VEX"}],
    "publisher": {"category": "user", "name": "SME", "namespace": "urn:verbund:org:x"},
    "title": "VEX",
    "tracking": {"current_release_date": "2026-12-01T10:00:00Z", "id": "VEX-1", "initial_release_date": "2026-12-01T10:00:00Z",
      "revision_history": [{"date": "2026-12-01T10:00:00Z", "number": "1", "summary": "first"}], "status": "final", "version": "1"}
  },
  "product_tree": {"full_product_names": [{"product_id": "P1", "name": "Gateway 2.4.1"}, {"product_id": "P2", "name": "Gateway 2.4.2"}]},
  "vulnerabilities": [{"cve": "CVE-2026-10001", "notes": [{"category": "description", "text": "x"}], ` + vuln + `}]
}`
}

// TestCheckVEX: a csaf_vex document passes; each profile test it breaks
// refuses it, naming the test.
func TestCheckVEX(t *testing.T) {
	good := `"product_status": {"known_affected": ["P1"], "known_not_affected": ["P2"]},
	  "remediations": [{"category": "mitigation", "details": "patch", "product_ids": ["P1"]}],
	  "flags": [{"label": "component_not_present", "product_ids": ["P2"]}]`
	if err := CheckVEX([]byte(vexDoc(good))); err != nil {
		t.Fatalf("a good document: %v", err)
	}
	for name, c := range map[string]struct{ doc, want string }{
		"no action":      {vexDoc(`"product_status": {"known_affected": ["P1"]}`), "6.1.27.10"},
		"no impact":      {vexDoc(`"product_status": {"known_not_affected": ["P2"]}`), "6.1.27.9"},
		"no status":      {vexDoc(`"product_status": {"recommended": ["P2"]}`), "6.1.27.6"},
		"undefined":      {vexDoc(`"product_status": {"fixed": ["P9"]}`), "6.1.1"},
		"threat impacts": {vexDoc(`"product_status": {"known_not_affected": ["P2"]}, "threats": [{"category": "impact", "details": "off", "product_ids": ["P2"]}]`), ""},
		"advisory":       {strings.Replace(vexDoc(`"product_status": {"fixed": ["P1"]}`), `"csaf_vex"`, `"csaf_base"`, 1), "csaf_vex"},
	} {
		err := CheckVEX([]byte(c.doc))
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		var p *Problem
		if !errors.As(err, &p) || !strings.Contains(p.Message, c.want) {
			t.Errorf("%s: %v, want a problem naming %s", name, err, c.want)
		}
	}
}
