package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
)

// cisaFolder is CISA's published CSAF folder in ../shared/data.
func cisaFolder(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data", "csaf-cisa", "csaf_files")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no CISA data: %v", err)
	}
	return p
}

// TestVulnsImportCommand: `verbund vulns import DIR --json` imports CISA's
// real folder (its .sha512 files checked, the ROLIE feed skipped) and
// prints exactly the report's JSON; again, it changes nothing; a tampered
// document is refused by its hash; `vulns kev import` takes the real
// catalogue; the audit trail stays intact.
func TestVulnsImportCommand(t *testing.T) {
	dir := cisaFolder(t)
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			env := map[string]string{"VERBUND_DATA": t.TempDir()}
			if e == db.Postgres {
				env["VERBUND_DB"] = dbtest.NewPostgresDB(t)
			}
			for _, args := range [][]string{{"migrate"}, {"org", "create", "--name", "Wolke Cloud AG", "--kind", "provider"},
				{"user", "create", "--org", "Wolke Cloud AG", "--email", "admin@wolke.example", "--role", "admin"}} {
				if out, err := cmd(t, env, args...); err != nil {
					t.Fatalf("%v: %v %s", args, err, out)
				}
			}
			for round := range 2 {
				out, err := cmd(t, env, "vulns", "import", dir, "--org", "Wolke Cloud AG", "--json")
				if err != nil {
					t.Fatalf("import: %v %s", err, out)
				}
				var rep map[string]any
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("the report is not JSON: %q", out)
				}
				want := `{"documents":{"imported":191,"rejected":0},"errors":[],"products":791,"vulnerabilities":370}`
				if got, _ := json.Marshal(rep); string(got) != want {
					t.Errorf("round %d: %s, want %s", round, got, want)
				}
			}
			// A tampered copy of one OT document beside its real .sha512.
			tampered := t.TempDir()
			src := filepath.Join(dir, "OT", "white", "2017", "icsa-17-017-01.json")
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := os.ReadFile(src + ".sha512")
			if err != nil {
				t.Fatal(err)
			}
			b = []byte(strings.Replace(string(b), `"title"`, ` "title"`, 1))
			must(t, os.WriteFile(filepath.Join(tampered, "icsa-17-017-01.json"), b, 0o600))
			must(t, os.WriteFile(filepath.Join(tampered, "icsa-17-017-01.json.sha512"), sum, 0o600))
			out, err := cmd(t, env, "vulns", "import", tampered, "--org", "Wolke Cloud AG")
			if err == nil || !strings.Contains(out, "refused 1") || !strings.Contains(out, "hash_mismatch") {
				t.Errorf("tampered: %v %q", err, out)
			}
			kev := filepath.Join(dir, "..", "..", "kev", "known_exploited_vulnerabilities.json")
			out, err = cmd(t, env, "vulns", "kev", "import", kev, "--json")
			if err != nil || !strings.Contains(out, `"entries": 1404`) {
				t.Errorf("kev: %v %s", err, out)
			}
			// A JSON file that is no catalogue is named by its name, not as a flag.
			notKEV := filepath.Join(t.TempDir(), "phishing.json")
			must(t, os.WriteFile(notKEV, []byte(`{"title":"phishing"}`), 0o600))
			if _, err := cmd(t, env, "vulns", "kev", "import", notKEV); err == nil || err.Error() != notKEV+" is not a CISA KEV catalogue: catalogVersion or vulnerabilities missing" {
				t.Errorf("not a KEV catalogue: %v", err)
			}
			if out, err := cmd(t, env, "vulns", "import", "--org", "Wolke Cloud AG"); err == nil || !strings.Contains(err.Error(), "name the CSAF document") {
				t.Errorf("no file: %v %s", err, out)
			}
			if out, err := cmd(t, env, "audit", "verify"); err != nil {
				t.Errorf("audit verify: %v %s", err, out)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
