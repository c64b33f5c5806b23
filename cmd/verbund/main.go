// Command verbund is the security collaboration hub: `verbund serve` runs
// it, the other commands administer the same database from scripts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"verbund/internal/fault"
)

// Version is set at build time (-ldflags "-X main.Version=…").
var Version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "verbund:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "verbund:", message(err))
		os.Exit(1)
	}
}

// message is what the operator reads: the safe message of a fault, with
// the field it concerns.
func message(err error) string {
	if e, ok := fault.As(err); ok {
		s := e.Message
		if e.Field != "" {
			// The services name the API's fields (max_tlp); a command
			// renames those its flags call otherwise (asFlag).
			s = "--" + strings.ReplaceAll(e.Field, "_", "-") + ": " + s
		}
		if e.Kind == fault.Internal || e.Kind == fault.Unavailable {
			s += " (" + err.Error() + ")"
		}
		return s
	}
	return err.Error()
}

// asFlag names the flag of the field a fault concerns where the command's
// flag is called otherwise than the service's field (--max-tlp for tlp).
func asFlag(err error, flags map[string]string) error {
	e, ok := fault.As(err)
	if !ok || flags[e.Field] == "" {
		return err
	}
	c := *e
	c.Field = flags[e.Field]
	return &c
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

const usage = `verbund — security collaboration hub

Usage:
  verbund serve [--addr 127.0.0.1:8080] [--data DIR] [--db URL] [--demo] [--tls-cert F --tls-key F]
  verbund org create --name N --kind company|provider|cert|isac [--contact C]
  verbund org list
  verbund user create --org N --email E --role admin|analyst|viewer|auditor [--name N] [--password-file F]
  verbund user password --email E --password-file F
  verbund token create --user E --scope read|write [--expires 90d] [--name N]
  verbund community create --name N --coordinator ORG [--description D]
  verbund community add --community N --org ORG
  verbund agreement create --community N [--between ORG --and ORG] --categories C,… --max-tlp LEVEL
                           --purpose P [--retention 365d] [--until YYYY-MM-DD] [--personal-data]
  verbund audit verify
  verbund intel import FILE|- --org O [--tlp L] [--community C] [--json]
  verbund mail test --to ADDRESS [--smtp-addr HOST:PORT --smtp-from A --smtp-tls none|starttls|tls --base-url U]
  verbund vulns import FILE|DIR --org O [--tlp L] [--community C] [--json]
  verbund vulns kev import FILE [--json]
  verbund vulns subscribe URL --org O [--tlp L] [--community C] [--json]   (a CSAF provider-metadata.json)
  verbund vulns fetch --org O [--json]
  verbund playbooks import FILE… --org O [--tlp L] [--community C] [--json]
  verbund playbooks export CACAO_ID --org O [--modified M]
  verbund migrate
  verbund bench startup|list|fanout|mixed|intel|search|vulns|playbooks|risks|webhooks|all [--json]   (measures docs/PERFORMANCE.md)
  verbund version

serve, migrate and the admin commands take --data DIR or --db URL to choose
the database (default ./verbund-data with SQLite); every command takes --help,
"verbund org --help" lists the commands of a group. Admin commands take --json
for machine-readable output. Environment: VERBUND_DB, VERBUND_DATA, VERBUND_ADDR;
e-mail: VERBUND_SMTP_ADDR, VERBUND_SMTP_USER, VERBUND_SMTP_PASSWORD(_FILE),
VERBUND_SMTP_FROM, VERBUND_SMTP_TLS (see "verbund serve --help").
`

// command is one of verbund's commands: a name and, for the admin
// commands, which of its group (org create, org list).
type command struct {
	name, sub string
	summary   string // one line, for the group's usage
	run       func(c *cli, args []string) error
}

var commands = []command{
	{"serve", "", "runs the hub", (*cli).serve},
	{"migrate", "", "creates or upgrades the database schema", (*cli).migrate},
	{"org", "create", "registers an organisation on the hub", (*cli).orgCreate},
	{"org", "list", "lists the organisations", (*cli).orgList},
	{"user", "create", "adds a person to an organisation (a random password unless --password-file)", (*cli).userCreate},
	{"user", "password", "sets a person's password and ends their sessions", (*cli).userPassword},
	{"token", "create", "creates an API token for a person and prints it once", (*cli).tokenCreate},
	{"community", "create", "founds a trust circle coordinated by an organisation", (*cli).communityCreate},
	{"community", "add", "makes an organisation an active member of a trust circle", (*cli).communityAdd},
	{"agreement", "create", "a trust circle's charter, or a bilateral agreement between two of its members", (*cli).agreementCreate},
	{"audit", "verify", "checks the audit trail's hash chain and names the first bad record", (*cli).auditVerify},
	{"intel", "import", "imports a STIX 2.1 bundle as an organisation's threat intelligence", (*cli).intelImport},
	{"mail", "test", "sends one test mail with the hub's mail settings and says what failed", (*cli).mailTest},
	{"vulns", "import", "imports CSAF 2.0 advisories (a file or a provider's folder) into an organisation's advisories", (*cli).vulnsImport},
	{"vulns", "subscribe", "subscribes an organisation to a CSAF trusted provider (its provider-metadata.json URL) and reads it", (*cli).vulnsSubscribe},
	{"vulns", "fetch", "reads every CSAF provider an organisation subscribes to now", (*cli).vulnsFetch},
	{"vulns", "kev", "imports CISA's catalogue of known exploited vulnerabilities (vulns kev import FILE)", (*cli).vulnsKEV},
	{"playbooks", "import", "imports CACAO 2.0 playbooks into an organisation's library", (*cli).playbooksImport},
	{"playbooks", "export", "prints a playbook's CACAO 2.0 document as it was imported", (*cli).playbooksExport},
	{"bench", "", "measures docs/PERFORMANCE.md", (*cli).bench},
	{"version", "", "prints the version", func(c *cli, _ []string) error { _, err := fmt.Fprintln(c.stdout, "verbund", Version); return err }},
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

func run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return usageError{"name a command"}
		}
		return nil
	}
	c := &cli{ctx: ctx, env: env, stdin: stdin, stdout: stdout, stderr: stderr}
	name, rest := args[0], args[1:]
	var group []command
	for _, k := range commands {
		if k.name == name {
			group = append(group, k)
		}
	}
	switch {
	case len(group) == 0:
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Sprintf("unknown command %q", name)}
	case group[0].sub == "":
		return group[0].run(c, rest)
	case len(rest) > 0 && isHelp(rest[0]):
		groupUsage(stdout, name, group)
		return flag.ErrHelp
	case len(rest) == 0 || strings.HasPrefix(rest[0], "-"):
		groupUsage(stderr, name, group)
		return usageError{fmt.Sprintf("%s: name a command: %s", name, subNames(group))}
	}
	for _, k := range group {
		if k.sub == rest[0] {
			return k.run(c, rest[1:])
		}
	}
	// No usage dump here: the message would scroll away above it.
	return usageError{fmt.Sprintf("unknown command %q: %s has %s (\"verbund %s --help\" says what each does)", name+" "+rest[0], name, subNames(group), name)}
}

// groupUsage lists the commands of a group (verbund org …) with what each does.
func groupUsage(w io.Writer, name string, group []command) {
	fmt.Fprintf(w, "usage: verbund %s <command> [flags]\n\ncommands:\n", name)
	width := 0
	for _, k := range group {
		width = max(width, len(k.sub))
	}
	for _, k := range group {
		fmt.Fprintf(w, "  %-*s  %s\n", width, k.sub, k.summary)
	}
	fmt.Fprintf(w, "\n\"verbund %s <command> --help\" lists a command's flags.\n", name)
}

func subNames(group []command) string {
	var n []string
	for _, k := range group {
		n = append(n, k.sub)
	}
	if len(n) == 1 {
		return n[0]
	}
	return strings.Join(n[:len(n)-1], ", ") + " or " + n[len(n)-1]
}
