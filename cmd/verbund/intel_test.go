package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
)

// TestIntelImportCommand: `verbund intel import` takes a bundle file as an
// org's, reports accepted and refused objects as JSON, names the problem
// of a refused one, and importing again adds nothing.
func TestIntelImportCommand(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			env := map[string]string{"VERBUND_DATA": t.TempDir()}
			if e == db.Postgres {
				env["VERBUND_DB"] = dbtest.NewPostgresDB(t)
			}
			for _, args := range [][]string{{"migrate"}, {"org", "create", "--name", "CERT Test", "--kind", "cert"},
				{"user", "create", "--org", "CERT Test", "--email", "admin@cert.example", "--role", "admin"}} {
				if out, err := cmd(t, env, args...); err != nil {
					t.Fatalf("%v: %v %s", args, err, out)
				}
			}
			bundle := `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
				{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"C2","pattern":"[ipv4-addr:value = '198.51.100.3']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"},
				{"type":"indicator","spec_version":"2.1","id":"indicator--0b1d6c8e-3d1c-4d0e-9a55-8c2f0bbdbf11","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"broken","pattern":"[ipv4-addr:value = ","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}`
			file := filepath.Join(t.TempDir(), "b.json")
			if err := os.WriteFile(file, []byte(bundle), 0o600); err != nil {
				t.Fatal(err)
			}
			for round := range 2 {
				out, err := cmd(t, env, "intel", "import", file, "--org", "CERT Test", "--json")
				if err != nil {
					t.Fatalf("import: %v %s", err, out)
				}
				var rep struct {
					Accepted, Rejected int
					Errors             []struct {
						Index                       int
						ID, Code, Property, Message string
					}
				}
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("the report is not JSON: %q", out)
				}
				if rep.Accepted != 1 || rep.Rejected != 1 || len(rep.Errors) != 1 || rep.Errors[0].Index != 1 || rep.Errors[0].Property != "pattern" {
					t.Errorf("round %d: %+v", round, rep)
				}
			}
			// A flag after the file, and a readable text report.
			out, err := cmd(t, env, "intel", "import", "--org", "CERT Test", file)
			if err != nil || !strings.Contains(out, "imported 1 objects") || !strings.Contains(out, "object 1 indicator--0b1d6c8e") {
				t.Errorf("text report: %v %q", err, out)
			}
			if out, err := cmd(t, env, "intel", "import", file, "--org", "Nobody"); err == nil {
				t.Errorf("an unknown org is taken: %s", out)
			}
			if out, err := cmd(t, env, "intel", "import", "--org", "CERT Test"); err == nil || !strings.Contains(err.Error(), "name the bundle") {
				t.Errorf("no file: %v %s", err, out)
			}
			if out, err := cmd(t, env, "audit", "verify"); err != nil {
				t.Errorf("audit verify: %v %s", err, out)
			}
		})
	}
}
