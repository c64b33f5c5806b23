package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/intel"
	"verbund/internal/policy"
)

// intelImport imports a STIX 2.1 bundle from a file or stdin as an org's.
func (c *cli) intelImport(args []string) error {
	fs, cfg := c.flags("intel import FILE|- --org O [--user E] [--tlp L] [--community C] [--json]",
		"Imports a STIX 2.1 bundle (a file, or - for standard input) as the organisation's threat intelligence.\n"+
			"Objects without a TLP marking get --tlp (default AMBER); marked objects keep their level.\n"+
			"With --community the objects are shared with that trust circle, else they stay in the organisation.\n"+
			"The bundle is streamed: any size is read without holding it in memory. Invalid objects are\n"+
			"reported and skipped; importing the same bundle again adds nothing.")
	org := fs.String("org", "", "the organisation that shares the objects (name or id)")
	user := fs.String("user", "", "the person recorded as author (e-mail; default: the organisation's first admin)")
	tlp := fs.String("tlp", "", "level of objects without a TLP marking: CLEAR, GREEN, AMBER, AMBER+STRICT, RED (default AMBER)")
	community := fs.String("community", "", "share with this trust circle of the organisation (name or id)")
	asJSON := fs.Bool("json", false, `print the report as JSON: {"accepted":N,"rejected":N,"errors":[…]}`)
	file, err := positional(fs, args, c)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	if err := required(fs, "org"); err != nil {
		return err
	}
	if file == "" {
		return usageError{"name the bundle to import: a file, or - for standard input (see --help)"}
	}
	if *tlp != "" {
		if _, err := policy.ParseTLP(*tlp); err != nil {
			return usageError{fmt.Sprintf("--tlp: %s", errMessage(err))}
		}
	}
	var in io.Reader = c.stdin
	var size int64
	if file != "-" {
		f, err := os.Open(file) // #nosec G304 G703 -- the operator names this file on the command line
		if err != nil {
			return fmt.Errorf("open the bundle: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		in = f
	}
	a, err := c.open(cfg, *asJSON)
	if err != nil {
		return err
	}
	defer a.d.Close()
	o, err := a.orgs.FindOrgByRef(c.ctx, *org)
	if err != nil {
		return err
	}
	actor, err := c.importer(a, o.ID, *user)
	if err != nil {
		return err
	}
	opts := intel.ImportOptions{TLP: *tlp, Via: "cli"}
	if *community != "" {
		cm, err := a.orgs.FindCommunityByRef(c.ctx, *community)
		if err != nil {
			return err
		}
		opts.Community = cm.ID
	}
	importGC()
	counted := &countingReader{r: in}
	bar := c.importProgress(size, counted)
	opts.Progress = func(read int) { bar(read, false) }
	svc := intel.New(a.d, events.New("cli"), policy.NewKernel())
	start := time.Now()
	rep, err := svc.Import(c.ctx, actor, counted, opts)
	bar(rep.Accepted+rep.Rejected, true)
	if err != nil && rep.Accepted+rep.Rejected == 0 {
		return err
	}
	if rep.Errors == nil {
		rep.Errors = []intel.ItemError{}
	}
	text := fmt.Sprintf("imported %d objects as %s in %s (%d new, %d already held), refused %d",
		rep.Accepted, o.Name, time.Since(start).Round(time.Millisecond), rep.New, rep.Accepted-rep.New, rep.Rejected)
	for i, e := range rep.Errors {
		if i == 20 {
			text += fmt.Sprintf("\n  … and %d more (--json lists up to 1,000)", len(rep.Errors)-20)
			break
		}
		text += fmt.Sprintf("\n  object %d %s: %s", e.Index, e.ID, e.Message)
	}
	if err != nil {
		text += "\nthe bundle could not be read to its end: " + errMessage(err)
	}
	if oerr := c.out(a, rep, text); oerr != nil {
		return oerr
	}
	if err != nil {
		return fmt.Errorf("import stopped early: %w", err)
	}
	if rep.Accepted == 0 && rep.Rejected > 0 {
		return errors.New("every object was refused (see the report)")
	}
	return nil
}

// importGC tunes the collector for an import, a process that does
// nothing else: an import allocates about 10 KB an object that dies
// within its batch, and with Go's default (GOGC=100) the collector ran
// every few batches and took about a fifth of the CPU. The heap may grow
// to five times what is live, but not past importHeapLimit, which keeps
// the process well under the 300 MB of docs/PERFORMANCE.md (e) (the
// writer's 64 MB page cache is outside Go's heap). GOGC or GOMEMLIMIT set
// by the operator win.
func importGC() {
	const importHeapLimit = 160 << 20
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(importHeapLimit)
	}
}

// importer is the actor an import runs as: the named person of the org,
// or its first admin (an object's envelope names a person as author).
func (c *cli) importer(a *admin, org, email string) (policy.Actor, error) {
	if email != "" {
		u, err := a.accounts.FindUserByEmail(c.ctx, email)
		if err != nil || u.OrgID != org {
			return policy.Actor{}, usageError{fmt.Sprintf("--user: %s is no person of that organisation", email)}
		}
		return policy.Actor{UserID: u.ID, OrgID: org, Role: u.Role, Scope: policy.ScopeWrite, Via: "cli", Name: u.Name}, nil
	}
	users, err := a.accounts.FindUsers(c.ctx, policy.Actor{OrgID: org})
	if err != nil {
		return policy.Actor{}, err
	}
	for _, u := range users {
		if u.Role == policy.Admin && !u.Disabled {
			return policy.Actor{UserID: u.ID, OrgID: org, Role: u.Role, Scope: policy.ScopeWrite, Via: "cli", Name: u.Name}, nil
		}
	}
	return policy.Actor{}, usageError{"the organisation has no active admin to record as author: name a person with --user"}
}

// positional parses fs from args and returns the one argument that is not
// a flag, wherever it stands (before, between or after the flags).
func positional(fs *flag.FlagSet, args []string, c *cli) (string, error) {
	var pos []string
	for {
		if err := c.parse(fs, args); err != nil {
			if ue, ok := err.(usageError); ok && strings.HasPrefix(ue.msg, "unexpected argument") {
				pos = append(pos, fs.Arg(0))
				args = fs.Args()[1:]
				continue
			}
			return "", err
		}
		break
	}
	if len(pos) > 1 {
		return "", usageError{fmt.Sprintf("unexpected argument %q: import one bundle at a time", pos[1])}
	}
	if len(pos) == 0 {
		return "", nil
	}
	return pos[0], nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// progress returns a function that draws a progress line on a terminal
// (stderr): bytes read of size, objects so far, rate. On anything else it
// draws nothing, so scripts and --json output stay clean.
func (c *cli) importProgress(size int64, r *countingReader) func(objects int, done bool) {
	f, ok := c.stderr.(*os.File)
	if !ok {
		return func(int, bool) {}
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return func(int, bool) {}
	}
	start := time.Now()
	last := time.Time{}
	return func(objects int, done bool) {
		if !done && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		rate := float64(objects) / max(time.Since(start).Seconds(), 0.001)
		line := fmt.Sprintf("\r%d objects, %.0f/s", objects, rate)
		if size > 0 {
			pct := float64(r.n) * 100 / float64(size)
			width := 30
			filled := int(pct / 100 * float64(width))
			line = fmt.Sprintf("\r[%s%s] %3.0f%%  %d objects, %.0f/s", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), pct, objects, rate)
		}
		if done {
			line += "\n"
		}
		fmt.Fprint(c.stderr, line)
	}
}

// errMessage is what an error says to the operator: a fault's safe
// message, else the error's text.
func errMessage(err error) string {
	if e, ok := fault.As(err); ok {
		return e.Message
	}
	return err.Error()
}
