package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
)

func cmd(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestAdminCommandsOnBothEngines(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			env := map[string]string{"VERBUND_DATA": t.TempDir()}
			if e == db.Postgres {
				env["VERBUND_DB"] = dbtest.NewPostgresDB(t)
			}
			adminScript(t, env)
		})
	}
}

func adminScript(t *testing.T, env map[string]string) {
	ok := func(args ...string) string {
		t.Helper()
		out, err := cmd(t, env, args...)
		if err != nil {
			t.Fatalf("verbund %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	ok("migrate")
	ok("org", "create", "--name", "Müller Maschinenbau GmbH", "--kind", "company")
	ok("org", "create", "--name", "Wolke Cloud AG", "--kind", "provider")
	ok("org", "create", "--name", "CERT Süd", "--kind", "cert")
	var org struct{ ID, Kind string }
	if err := json.Unmarshal([]byte(ok("org", "create", "--name", "Hansa", "--kind", "isac", "--json")), &org); err != nil || org.Kind != "isac" {
		t.Fatalf("org --json: %v %+v", err, org)
	}
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("a long enough password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok("user", "create", "--org", "Müller Maschinenbau GmbH", "--email", "anna@mueller.example", "--role", "admin", "--password-file", pw)
	out := ok("user", "create", "--org", "cert süd", "--email", "max@cert.example", "--role", "analyst")
	if !strings.Contains(out, "password (shown once): vb-") {
		t.Errorf("generated password not shown: %s", out)
	}
	tok := strings.TrimSpace(strings.SplitN(ok("token", "create", "--user", "anna@mueller.example", "--scope", "read", "--expires", "30d"), "\n", 2)[0])
	if !strings.HasPrefix(tok, "vbt_") {
		t.Errorf("token: %q", tok)
	}
	ok("community", "create", "--name", "Mittelstand Süd", "--coordinator", "CERT Süd")
	ok("community", "add", "--community", "Mittelstand Süd", "--org", "Müller Maschinenbau GmbH")
	ok("community", "add", "--community", "Mittelstand Süd", "--org", "Wolke Cloud AG")
	out = ok("agreement", "create", "--community", "Mittelstand Süd", "--categories", "incident,knowledge", "--max-tlp", "AMBER", "--retention", "365d",
		"--purpose", "Frühwarnung im Vertrauenskreis")
	if !strings.Contains(out, "charter") || !strings.Contains(out, "Wolke Cloud AG") {
		t.Errorf("charter: %s", out)
	}
	out = ok("agreement", "create", "--community", "Mittelstand Süd", "--between", "Müller Maschinenbau GmbH", "--and", "Wolke Cloud AG",
		"--categories", "log", "--max-tlp", "RED", "--until", "2030-12-31", "--purpose", "Vorfallbearbeitung")
	if !strings.Contains(out, "bilateral") {
		t.Errorf("bilateral: %s", out)
	}
	if out := ok("audit", "verify"); !strings.Contains(out, "intact") {
		t.Errorf("verify: %s", out)
	}
	// Errors name the problem.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"org", "create", "--name", "müller maschinenbau gmbh", "--kind", "company"}, "already exists"},
		{[]string{"org", "create", "--name", "X", "--kind", "bakery"}, "--kind"},
		{[]string{"user", "create", "--org", "Nowhere", "--email", "a@b.example", "--role", "viewer"}, "no organisation named"},
		{[]string{"user", "create", "--org", "CERT Süd", "--email", "b@b.example", "--role", "boss"}, "unknown role"},
		{[]string{"token", "create", "--user", "nobody@x.example", "--scope", "read"}, "no person"},
		{[]string{"agreement", "create", "--community", "Mittelstand Süd", "--categories", "log", "--max-tlp", "PURPLE", "--purpose", "p"}, "--max-tlp: unknown TLP level"},
		{[]string{"agreement", "create", "--community", "Mittelstand Süd", "--categories", "log", "--max-tlp", "RED", "--purpose", "p", "--retention", "0d"}, "--retention: "},
		{[]string{"agreement", "create", "--community", "Mittelstand Süd", "--between", "CERT Süd", "--and", "Hansa", "--categories", "log", "--max-tlp", "RED"}, "members"},
	} {
		out, err := cmd(t, env, c.args...)
		if err == nil || !strings.Contains(message(err)+out, c.want) {
			t.Errorf("verbund %s: err %v, want message containing %q", strings.Join(c.args, " "), err, c.want)
		}
	}
	// Tampering is found and named.
	d, err := db.Open(context.Background(), env["VERBUND_DB"], env["VERBUND_DATA"])
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Tx(context.Background(), func(tx *db.Tx) error {
		_, err := tx.Exec(context.Background(), `UPDATE audit_log SET detail = '{}' WHERE seq = 3`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, err = cmd(t, env, "audit", "verify")
	if err == nil || !strings.Contains(err.Error(), "record 3") {
		t.Errorf("tampered trail: %v", err)
	}
}

func TestHelpAndUsage(t *testing.T) {
	for _, c := range [][]string{{"serve"}, {"org", "create"}, {"org", "list"}, {"user", "create"}, {"user", "password"}, {"token", "create"},
		{"community", "create"}, {"community", "add"}, {"agreement", "create"}, {"audit", "verify"}, {"migrate"}, {"bench"}} {
		out, err := cmd(t, nil, append(c, "--help")...)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out, "usage: verbund") {
			t.Errorf("%v --help: %v %q", c, err, out)
		}
	}
	// --help is asked for: the usage goes to stdout, every command alike.
	for _, c := range [][]string{{"org", "create"}, {"playbooks", "import"}, {"playbooks", "export"}} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(c, "--help"), func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "usage: verbund") || errOut.Len() != 0 {
			t.Errorf("%v --help: %v, stdout %q, stderr %q", c, err, out.String(), errOut.String())
		}
	}
	if _, err := cmd(t, nil, "frobnicate"); !errors.As(err, new(usageError)) {
		t.Errorf("unknown command: %v", err)
	}
	if _, err := cmd(t, map[string]string{"VERBUND_DATA": t.TempDir()}, "org", "create", "--name", "X"); !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "--kind") {
		t.Errorf("missing flag: %v", err)
	}
	if out, err := cmd(t, nil, "--help"); err != nil || !strings.Contains(out, "verbund serve") {
		t.Errorf("--help: %v", err)
	}
}

// A setting the environment gets wrong stops every command that reads the
// configuration before it touches a database.
func TestEnvironmentErrorsStopEveryCommand(t *testing.T) {
	data := t.TempDir()
	missing := filepath.Join(t.TempDir(), "db-url")
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"VERBUND_DATA": data, "VERBUND_DB_FILE": missing}, "VERBUND_DB_FILE: open " + missing + ": no such file or directory"},
		{map[string]string{"VERBUND_DATA": data, "VERBUND_READ_CACHE": "abc"}, `VERBUND_READ_CACHE="abc" is not a number`},
	} {
		for _, args := range [][]string{{"serve"}, {"migrate"}, {"org", "list"}, {"org", "create", "--name", "X", "--kind", "company"},
			{"audit", "verify"}, {"agreement", "create", "--community", "C", "--categories", "all", "--max-tlp", "AMBER"}} {
			_, err := cmd(t, c.env, args...)
			if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v with %v: %v, want a usage error %q", args, c.env, err, c.want)
			}
		}
	}
	if entries, err := os.ReadDir(data); err != nil || len(entries) != 0 {
		t.Errorf("a command went on to open the database: %v %v", entries, err)
	}
}

// Each command's --help lists its own flags (and --data/--db where it
// opens the database), not every setting of serve; a group of commands
// (verbund org) lists its commands: with --help on stdout and status 0,
// without a command as a usage error that names them.
func TestCommandHelp(t *testing.T) {
	serveOnly := []string{"-addr", "-demo", "-tls-cert", "-tls-key", "-debug-addr", "-trust-proxy", "-read-cache", "-search-rate", "-log-level", "-base-url"}
	for _, c := range []struct {
		args []string
		own  []string
	}{
		{[]string{"org", "create"}, []string{"-name", "-kind", "-contact", "-json", "-data", "-db"}},
		{[]string{"org", "list"}, []string{"-json", "-data", "-db"}},
		{[]string{"user", "create"}, []string{"-org", "-email", "-role", "-password-file", "-data", "-db"}},
		{[]string{"agreement", "create"}, []string{"-community", "-between", "-and", "-categories", "-max-tlp", "-purpose", "-data", "-db"}},
		{[]string{"audit", "verify"}, []string{"-json", "-data", "-db"}},
		{[]string{"migrate"}, []string{"-data", "-db"}},
	} {
		out, err := cmd(t, nil, append(c.args, "--help")...)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v --help: %v", c.args, err)
		}
		for _, f := range c.own {
			if !strings.Contains(out, "  "+f+" ") && !strings.Contains(out, "  "+f+"\n") {
				t.Errorf("%v --help does not list %s:\n%s", c.args, f, out)
			}
		}
		for _, f := range serveOnly {
			if strings.Contains(out, "  "+f+" ") || strings.Contains(out, "  "+f+"\n") {
				t.Errorf("%v --help lists serve's %s", c.args, f)
			}
		}
	}
	if out, _ := cmd(t, nil, "serve", "--help"); !strings.Contains(out, "  -addr ") || !strings.Contains(out, "  -demo\n") {
		t.Errorf("serve --help does not list its settings:\n%s", out)
	}
	// Settings the command does not offer are refused as flags, still
	// read from the environment (and checked).
	if _, err := cmd(t, map[string]string{"VERBUND_DATA": t.TempDir()}, "org", "list", "--addr", ":1"); !errors.As(err, new(usageError)) {
		t.Errorf("org list --addr: %v, want a usage error", err)
	}

	for _, c := range []struct {
		args []string
		subs []string
	}{
		{[]string{"org"}, []string{"create", "list"}},
		{[]string{"user"}, []string{"create", "password"}},
		{[]string{"community"}, []string{"create", "add"}},
		{[]string{"token"}, []string{"create"}},
		{[]string{"agreement"}, []string{"create"}},
		{[]string{"audit"}, []string{"verify"}},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(c.args, "--help"), func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
		if !errors.Is(err, flag.ErrHelp) || errOut.Len() != 0 {
			t.Errorf("%v --help: %v (exit status 0 wanted), stderr %q", c.args, err, errOut.String())
		}
		for _, s := range c.subs {
			if !regexp.MustCompile(`(?m)^  ` + s + ` +[a-z]`).MatchString(out.String()) {
				t.Errorf("%v --help does not describe %s:\n%s", c.args, s, out.String())
			}
		}
		if strings.Contains(out.String(), "verbund serve") {
			t.Errorf("%v --help prints the whole usage", c.args)
		}
		full, err := cmd(t, nil, c.args...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(ue.msg, "name a command: "+c.subs[0]) || strings.Contains(full, "unknown command") {
			t.Errorf("%v alone: %v, want a usage error naming its commands", c.args, err)
		}
	}
	if _, err := cmd(t, nil, "org", "frob"); err == nil || err.Error() != `unknown command "org frob": org has create or list ("verbund org --help" says what each does)` {
		t.Errorf("org frob: %v", err)
	}
	// An unknown command is said, not buried under the group's usage.
	if out, err := cmd(t, nil, "vulns", "frobnicate"); err == nil || !strings.HasPrefix(err.Error(), `unknown command "vulns frobnicate": vulns has import`) || strings.Contains(out, "commands:") {
		t.Errorf("vulns frobnicate: %v %q", err, out)
	}
	if _, err := cmd(t, nil, "vulns", "kev", "--data", "X"); err == nil || err.Error() != "vulns kev: name the command before its flags: verbund vulns kev import FILE --data X" {
		t.Errorf("vulns kev --data: %v", err)
	}
	// Every summary is a whole sentence part, not cut off.
	for _, k := range commands {
		if strings.HasSuffix(k.summary, "'s") || strings.HasSuffix(k.summary, " as") || strings.HasSuffix(k.summary, " an") {
			t.Errorf("%s %s: summary ends mid-sentence: %q", k.name, k.sub, k.summary)
		}
	}
	if _, err := cmd(t, nil, "frobnicate"); err == nil || err.Error() != `unknown command "frobnicate"` {
		t.Errorf("frobnicate: %v", err)
	}
}
