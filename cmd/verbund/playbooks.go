package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/playbooks"
	"verbund/internal/policy"
)

// playbooksImport imports CACAO 2.0 playbooks from files into an org's
// library.
func (c *cli) playbooksImport(args []string) error {
	fs, cfg := c.flags("playbooks import FILE… --org O [--user E] [--tlp L] [--community C] [--json]",
		"Imports CACAO 2.0 playbooks (JSON, one playbook a file) into an organisation's library. Each is\n"+
			"checked against the official CACAO 2.0 schemas and for a sound flow (every referenced step, agent,\n"+
			"target and variable exists, the start step exists, every step reaches an end, no step is orphaned,\n"+
			"ids have their type's prefix, command types are known); a refused file is reported with the field or\n"+
			"step at fault and leaves nothing behind. The playbook's TLP is its marking-tlp, raised to --tlp when\n"+
			"that is stricter (AMBER if unmarked). A later version (a later modified) of a playbook the\n"+
			"organisation holds is added as a version; importing the same files again changes nothing.")
	org := fs.String("org", "", "the organisation whose library takes the playbooks (name or id)")
	user := fs.String("user", "", "the person recorded as importer (e-mail; default: the organisation's first admin)")
	tlp := fs.String("tlp", "", "the least TLP level: CLEAR, GREEN, AMBER, AMBER+STRICT, RED (default: the playbook's)")
	community := fs.String("community", "", "share new playbooks with this trust circle of the organisation (name or id)")
	asJSON := fs.Bool("json", false, `print the report as JSON: {"accepted":N,"rejected":N,"items":[{"file","id","cacao_id","error"}]}`)
	files, err := positionals(fs, args, c)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	if err := required(fs, "org"); err != nil {
		return err
	}
	if len(files) == 0 {
		return usageError{"name the CACAO playbook files to import (see --help)"}
	}
	if *tlp != "" {
		if _, err := policy.ParseTLP(*tlp); err != nil {
			return usageError{fmt.Sprintf("--tlp: %s", errMessage(err))}
		}
	}
	inputs := make([]playbooks.Input, 0, len(files))
	for _, f := range files {
		st, err := os.Stat(f) // #nosec G703 -- the operator names the files on the command line
		if err != nil {
			return fmt.Errorf("read %s: %w", f, err)
		}
		in := playbooks.Input{Name: f}
		if st.Size() > playbooks.MaxDocument {
			in.Data = make([]byte, playbooks.MaxDocument+1) // refused by its size without being read
		} else if in.Data, err = os.ReadFile(f); err != nil { // #nosec G304 G703 -- the operator names the files
			return fmt.Errorf("read %s: %w", f, err)
		}
		inputs = append(inputs, in)
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
	opts := playbooks.ImportOptions{TLP: *tlp}
	if *community != "" {
		cm, err := a.orgs.FindCommunityByRef(c.ctx, *community)
		if err != nil {
			return err
		}
		opts.Sharing = policy.Sharing{Audience: "community", Community: cm.ID}
	}
	svc, err := playbooks.New(a.d, events.New("cli"), policy.NewKernel())
	if err != nil {
		return err
	}
	start := time.Now()
	rep, err := svc.Import(c.ctx, actor, inputs, opts)
	if err != nil {
		return asFlag(err, map[string]string{"tlp": "tlp", "community_id": "community"})
	}
	text := fmt.Sprintf("imported %d CACAO playbooks into the library of %s in %s, refused %d",
		rep.Accepted, o.Name, time.Since(start).Round(time.Millisecond), rep.Rejected)
	for _, it := range rep.Items {
		if it.Error != "" {
			text += fmt.Sprintf("\n  %s: %s (%s)", it.File, it.Error, it.Code)
		} else {
			text += fmt.Sprintf("\n  %s: %s (%s)", it.File, it.CACAOID, it.ID)
		}
	}
	if err := c.out(a, rep, text); err != nil {
		return err
	}
	if rep.Accepted == 0 {
		return errors.New("every playbook was refused (see the report)")
	}
	return nil
}

// playbooksExport prints a playbook's stored CACAO document byte for byte.
func (c *cli) playbooksExport(args []string) error {
	fs, cfg := c.flags("playbooks export CACAO_ID --org O [--user E] [--modified M]",
		"Prints the CACAO 2.0 document of a playbook exactly as it was imported: the playbook with this CACAO\n"+
			"id in the organisation's library, or else the first holder's among those shared with it (the copy the\n"+
			"hub held first: another org importing the same id later cannot take its place). --modified chooses a\n"+
			"version (default: the newest).")
	org := fs.String("org", "", "the organisation that reads the playbook (name or id)")
	user := fs.String("user", "", "the person who reads it (e-mail; default: the organisation's first admin)")
	modified := fs.String("modified", "", "the version's modified timestamp, e.g. 2026-03-09T14:30:00.000Z")
	id, err := positional(fs, args, c)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	if err := required(fs, "org"); err != nil {
		return err
	}
	if !strings.HasPrefix(id, "playbook--") {
		return usageError{"name the playbook's CACAO id (playbook--…; see --help)"}
	}
	a, err := c.open(cfg, false)
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
	svc, err := playbooks.New(a.d, events.New("cli"), policy.NewKernel())
	if err != nil {
		return err
	}
	doc, _, err := svc.FindDocumentByCACAOID(c.ctx, actor, id, *modified)
	if errors.Is(err, fault.ErrNotFound) {
		return fmt.Errorf("no playbook with CACAO id %s is visible to %s", id, o.Name)
	}
	if err != nil {
		return asFlag(err, map[string]string{"modified": "modified"})
	}
	_, err = c.stdout.Write(doc)
	return err
}

// positionals parses fs from args and returns the arguments that are not
// flags, wherever they stand (before, between or after the flags).
func positionals(fs *flag.FlagSet, args []string, c *cli) ([]string, error) {
	var pos []string
	for {
		if err := c.parse(fs, args); err != nil {
			if ue, ok := err.(usageError); ok && strings.HasPrefix(ue.msg, "unexpected argument") {
				pos = append(pos, fs.Arg(0))
				args = fs.Args()[1:]
				continue
			}
			return nil, err
		}
		return pos, nil
	}
}
