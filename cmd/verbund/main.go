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
			s = "--" + e.Field + ": " + s
		}
		if e.Kind == fault.Internal || e.Kind == fault.Unavailable {
			s += " (" + err.Error() + ")"
		}
		return s
	}
	return err.Error()
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
  verbund migrate
  verbund bench startup|list|fanout|mixed|all [--json]   (measures docs/PERFORMANCE.md)
  verbund version

Every command takes --data DIR or --db URL to choose the database (default
./verbund-data with SQLite), and --help. Admin commands take --json for
machine-readable output. Environment: VERBUND_DB, VERBUND_DATA, VERBUND_ADDR.
`

func run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return usageError{"name a command"}
		}
		return nil
	}
	c := &cli{ctx: ctx, env: env, stdin: stdin, stdout: stdout, stderr: stderr}
	cmd, rest := args[0], args[1:]
	sub := ""
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		sub, rest = rest[0], rest[1:]
	}
	switch cmd + " " + sub {
	case "serve ":
		return c.serve(rest)
	case "version ":
		fmt.Fprintln(stdout, "verbund", Version)
		return nil
	case "migrate ":
		return c.migrate(rest)
	case "org create":
		return c.orgCreate(rest)
	case "org list":
		return c.orgList(rest)
	case "user create":
		return c.userCreate(rest)
	case "user password":
		return c.userPassword(rest)
	case "token create":
		return c.tokenCreate(rest)
	case "community create":
		return c.communityCreate(rest)
	case "community add":
		return c.communityAdd(rest)
	case "agreement create":
		return c.agreementCreate(rest)
	case "audit verify":
		return c.auditVerify(rest)
	case "intel import":
		return c.intelImport(rest)
	case "bench ":
		return c.bench(rest)
	case "bench startup", "bench list", "bench fanout", "bench mixed", "bench all":
		return c.bench(append([]string{sub}, rest...))
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd+" "+sub)}
}
