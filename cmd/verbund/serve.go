package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"time"

	"verbund/internal/app"
	"verbund/internal/config"
	"verbund/internal/db"
	"verbund/internal/demo"
)

type cli struct {
	ctx    context.Context
	env    func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// flags is the flag set of an admin command: its own flags, which it
// adds, and of the hub's settings only where its database is, --data and
// --db. The other settings are still read from the environment and
// checked (config.Config.Validate), but neither offered nor listed.
func (c *cli) flags(name, help string) (*flag.FlagSet, *config.Config) {
	return c.flagSet(name, help, "data", "db")
}

// flagSet is the flag set of command name with the settings named (all
// of them for none: serve).
func (c *cli) flagSet(name, help string, settings ...string) (*flag.FlagSet, *config.Config) {
	fs := flag.NewFlagSet("verbund "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: verbund %s\n\n%s\n\nflags:\n", name, help)
		fs.PrintDefaults()
	}
	if len(settings) == 0 {
		return fs, config.Flags(fs, config.Env(c.env))
	}
	all := flag.NewFlagSet("settings", flag.ContinueOnError)
	cfg := config.Flags(all, config.Env(c.env))
	for _, n := range settings {
		f := all.Lookup(n)
		fs.Var(f.Value, f.Name, f.Usage)
	}
	return fs, cfg
}

func (c *cli) parse(fs *flag.FlagSet, args []string) error {
	// The usage asked for (--help) goes to stdout, as the command
	// groups' does; with a mistake, to stderr.
	var out bytes.Buffer
	fs.SetOutput(&out)
	err := fs.Parse(args)
	fs.SetOutput(c.stderr)
	if err == flag.ErrHelp {
		_, _ = out.WriteTo(c.stdout)
	} else {
		_, _ = out.WriteTo(c.stderr)
	}
	if err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// parseConfig parses the flags of a command that uses the configuration
// and validates it: a setting the environment gets wrong (an unreadable
// VERBUND_*_FILE, a malformed number) stops every such command, not only
// serve.
func (c *cli) parseConfig(fs *flag.FlagSet, cfg *config.Config, args []string) error {
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	return nil
}

func (c *cli) logger(cfg *config.Config) *slog.Logger {
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.LogLevel]
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if f, ok := c.stderr.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(c.stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(c.stderr, opts))
}

// serveGC lets the heap grow to three times what is live before the
// collector runs (Go's default is twice): under many clients a request
// allocates its page and rows and drops them, and the collector took a
// tenth of the hub's CPU; at GOGC=200 the mixed load costs 8–10 % less CPU
// a request for about 40 MB more memory (docs/PERFORMANCE.md (d)). GOGC
// set by the operator wins.
func serveGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
}

func (c *cli) serve(args []string) error {
	fs, cfg := c.flagSet("serve [flags]", "Runs the hub. With --demo on an empty database it creates the demo ecosystem and prints the logins.")
	if err := c.parseConfig(fs, cfg, args); err != nil {
		return err
	}
	start := time.Now()
	serveGC()
	log := c.logger(cfg)
	d, err := app.Open(c.ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	a, err := app.New(c.ctx, cfg, d, log)
	if err != nil {
		return err
	}
	var logins []demo.Login
	if cfg.Demo {
		seeded, err := demo.Seeded(c.ctx, d)
		if err != nil {
			return err
		}
		if seeded {
			log.Info("database already has data: demo not created again", "logins", cfg.DataDir+"/demo-logins.txt")
		} else if logins, err = demo.Seed(c.ctx, demo.Services{DB: d, Accounts: a.Accounts, Orgs: a.Orgs, Agreements: a.Agreements, Forum: a.Forum, Intel: a.Intel, Training: a.Training, Knowledge: a.Knowledge, Incidents: a.Incidents, Vulns: a.Vulns, Playbooks: a.Playbooks, Risks: a.Risks}, cfg.DataDir); err != nil {
			return fmt.Errorf("create demo: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another with --addr)", cfg.Addr, err)
	}
	url := cfg.URL(ln.Addr().String())
	// The CSAF provider names itself by the address users reach the hub at.
	a.Vulns.Provider.BaseURL = url
	if cfg.Demo && a.Vulns.Provider.WellKnown == "" {
		a.Vulns.Provider.WellKnown = demo.CSAFProvider
	}
	if err := a.Vulns.ResolveWellKnown(c.ctx); err != nil {
		return err
	}
	engine := "SQLite " + d.URL
	if d.Dialect == db.Postgres {
		engine = "PostgreSQL"
	}
	if cfg.DebugAddr != "" {
		dln, err := net.Listen("tcp", cfg.DebugAddr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w (choose another with --debug-addr)", cfg.DebugAddr, err)
		}
		go func() {
			if err := a.ServeDebug(c.ctx, dln); err != nil {
				log.Error("diagnostics stopped", "err", err)
			}
		}()
		fmt.Fprintf(c.stdout, "verbund diagnostics: http://%s/metrics and /debug/pprof/\n", dln.Addr())
	}
	log.Info("verbund ready", "url", url, "db", engine, "startup_ms", time.Since(start).Milliseconds(), "version", Version)
	fmt.Fprintf(c.stdout, "verbund is ready: open %s/login\n", url)
	// Building the hub (templates, the API document, migrations) leaves
	// garbage that the collector, at GOGC=200, would keep until the heap
	// has tripled: hand it back to the system once, now that it is built.
	go debug.FreeOSMemory()
	if a.Vulns.Provider.WellKnown != "" {
		fmt.Fprintf(c.stdout, "CSAF provider of %s: %s/.well-known/csaf/provider-metadata.json\n", a.Vulns.Provider.WellKnown, url)
	}
	if len(logins) > 0 {
		fmt.Fprintf(c.stdout, "\nDemo logins (also in %s/demo-logins.txt):\n", cfg.DataDir)
		demo.WriteLogins(c.stdout, logins)
		fmt.Fprintln(c.stdout)
	}
	return a.Serve(c.ctx, ln)
}

func (c *cli) migrate(args []string) error {
	fs, cfg := c.flags("migrate [--data DIR | --db URL]", "Creates or upgrades the database schema; refuses a database newer than this verbund.")
	if err := c.parseConfig(fs, cfg, args); err != nil {
		return err
	}
	d, err := db.Open(c.ctx, cfg.DB, cfg.DataDir)
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := d.Migrate(c.ctx)
	if err != nil {
		return err
	}
	v, _ := d.Version(c.ctx)
	fmt.Fprintf(c.stdout, "applied %d migrations; schema version %d\n", n, v)
	return nil
}
