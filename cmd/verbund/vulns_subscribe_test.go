package main

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/vulns/vulnstest"
)

// TestVulnsSubscribeCommand: `verbund vulns subscribe URL --org O --json`
// subscribes to a provider on loopback (CISA's layout, over TLS with the
// lab's CA given by --csaf-ca-file) and reads its four IT documents;
// `vulns fetch` reads it again and finds nothing new; without
// --csaf-allow-private a loopback provider is refused, and an unreachable
// one is named as such.
func TestVulnsSubscribeCommand(t *testing.T) {
	p := vulnstest.NewProvider(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	must(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Server.Certificate().Raw}), 0o600))
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			env := map[string]string{"VERBUND_DATA": t.TempDir(), "VERBUND_CSAF_CA_FILE": ca}
			if e == db.Postgres {
				env["VERBUND_DB"] = dbtest.NewPostgresDB(t)
			}
			for _, args := range [][]string{{"migrate"}, {"org", "create", "--name", "Wolke Cloud AG", "--kind", "provider"},
				{"user", "create", "--org", "Wolke Cloud AG", "--email", "admin@wolke.example", "--role", "admin"}} {
				if out, err := cmd(t, env, args...); err != nil {
					t.Fatalf("%v: %v %s", args, err, out)
				}
			}
			if out, err := cmd(t, env, "vulns", "subscribe", "--help"); (err != nil && !errors.Is(err, flag.ErrHelp)) || !strings.Contains(out, "provider-metadata.json") || !strings.Contains(out, "--csaf-allow-private") {
				t.Errorf("help: %v %s", err, out)
			}
			meta := p.URL + "/provider-metadata.json"
			out, err := cmd(t, env, "vulns", "subscribe", meta, "--org", "Wolke Cloud AG")
			if err == nil || !strings.Contains(out+err.Error(), "private or loopback") {
				t.Errorf("loopback without the flag: %v %s", err, out)
			}
			lab := maps.Clone(env)
			lab["VERBUND_CSAF_ALLOW_PRIVATE"] = "1"
			out, err = cmd(t, lab, "vulns", "subscribe", meta, "--org", "Wolke Cloud AG", "--json")
			if err != nil {
				t.Fatalf("subscribe: %v %s", err, out)
			}
			var got struct {
				Subscription struct{ ID, Publisher string }
				Run          struct{ Listed, Checked, Imported, Rejected int }
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not JSON: %q", out)
			}
			if got.Subscription.Publisher != "CISA" || got.Run.Listed != 4 || got.Run.Checked != 4 || got.Run.Imported != 4 || got.Run.Rejected != 0 {
				t.Errorf("subscribe: %s", out)
			}
			out, err = cmd(t, lab, "vulns", "fetch", "--org", "Wolke Cloud AG")
			if err != nil || !strings.Contains(out, "4 documents listed, 0 new or changed checked, 0 imported, 0 refused") {
				t.Errorf("fetch: %v %s", err, out)
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			must(t, err)
			closed := "https://" + l.Addr().String() + "/provider-metadata.json"
			must(t, l.Close())
			out, err = cmd(t, lab, "vulns", "subscribe", closed, "--org", "Wolke Cloud AG")
			if err == nil || !strings.Contains(out+err.Error(), "could not be reached") {
				t.Errorf("unreachable: %v %s", err, out)
			}
		})
	}
}
