package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
)

// TestPlaybooksCommands: `verbund playbooks import FILE… --json` prints
// the report {"accepted","rejected","items":[{"file","id","cacao_id",
// "error"}]}, refuses a broken playbook naming the step at fault and
// imports the rest; again, it changes nothing; `playbooks export` prints
// the document byte for byte.
func TestPlaybooksCommands(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("..", "..", "internal", "cacao", "testdata", "ransomware.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	must(t, json.Unmarshal(good, &doc))
	cacaoID := doc["id"].(string)
	dir := t.TempDir()
	goodFile, badFile := filepath.Join(dir, "ransomware.json"), filepath.Join(dir, "broken.json")
	must(t, os.WriteFile(goodFile, good, 0o600))
	// The broken one names an agent nobody defined.
	for id, s := range doc["workflow"].(map[string]any) {
		if st := s.(map[string]any); st["name"] == "Rebuild from offline media" {
			st["agent"] = "organization--33333333-3333-4333-8333-333333333333"
			doc["id"] = "playbook--44444444-4444-4444-8444-444444444444"
			_ = id
		}
	}
	bad, _ := json.Marshal(doc)
	must(t, os.WriteFile(badFile, bad, 0o600))
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			env := map[string]string{"VERBUND_DATA": t.TempDir()}
			if e == db.Postgres {
				env["VERBUND_DB"] = dbtest.NewPostgresDB(t)
			}
			for _, args := range [][]string{{"migrate"}, {"org", "create", "--name", "Müller Maschinenbau GmbH", "--kind", "company"},
				{"user", "create", "--org", "Müller Maschinenbau GmbH", "--email", "admin@mueller.example", "--role", "admin"}} {
				if out, err := cmd(t, env, args...); err != nil {
					t.Fatalf("%v: %v %s", args, err, out)
				}
			}
			var firstID string
			for round := range 2 {
				out, err := cmd(t, env, "playbooks", "import", goodFile, badFile, "--org", "Müller Maschinenbau GmbH", "--tlp", "AMBER", "--json")
				if err != nil {
					t.Fatalf("import: %v %s", err, out)
				}
				var rep struct {
					Accepted int `json:"accepted"`
					Rejected int `json:"rejected"`
					Items    []map[string]any
				}
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("the report is not JSON: %q", out)
				}
				if rep.Accepted != 1 || rep.Rejected != 1 || len(rep.Items) != 2 {
					t.Fatalf("round %d: %s", round, out)
				}
				// The contract's fields are strings; problems is added.
				str := func(m map[string]any, k string) string {
					v, isStr := m[k].(string)
					if !isStr {
						t.Errorf("item without the string %q: %s", k, out)
					}
					return v
				}
				ok, refused := rep.Items[0], rep.Items[1]
				if str(ok, "file") != goodFile || str(ok, "cacao_id") != cacaoID || str(ok, "id") == "" || str(ok, "error") != "" {
					t.Errorf("accepted item: %v", ok)
				}
				if str(refused, "id") != "" || str(refused, "file") != badFile || !strings.Contains(str(refused, "error"), ".agent") || !strings.Contains(str(refused, "error"), "action--") {
					t.Errorf("refused item does not name the step's agent: %v", refused)
				}
				if ps, _ := refused["problems"].([]any); len(ps) != 1 {
					t.Errorf("refused item's problems: %v", refused["problems"])
				}
				if round == 0 {
					firstID = str(ok, "id")
				} else if str(ok, "id") != firstID {
					t.Errorf("a second import made another playbook: %s, %s", firstID, ok["id"])
				}
			}
			out, err := cmd(t, env, "playbooks", "export", cacaoID, "--org", "Müller Maschinenbau GmbH")
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			if !bytes.Equal([]byte(out), good) {
				t.Errorf("export is not the imported document byte for byte")
			}
			if out, err := cmd(t, env, "playbooks", "export", "playbook--55555555-5555-4555-8555-555555555555", "--org", "Müller Maschinenbau GmbH"); err == nil ||
				err.Error() != "no playbook with CACAO id playbook--55555555-5555-4555-8555-555555555555 is visible to Müller Maschinenbau GmbH" {
				t.Errorf("export of an unknown playbook: %v %s", err, out)
			}
			if out, err := cmd(t, env, "audit", "verify"); err != nil {
				t.Errorf("audit verify: %v %s", err, out)
			}
		})
	}
}
