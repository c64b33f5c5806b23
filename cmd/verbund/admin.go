package main

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"verbund/internal/accounts"
	"verbund/internal/agreements"
	"verbund/internal/app"
	"verbund/internal/audit"
	"verbund/internal/config"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/orgs"
	"verbund/internal/policy"
)

// admin is an open database with the services, acting as the operator.
type admin struct {
	d          *db.DB
	accounts   *accounts.Service
	orgs       *orgs.Service
	agreements *agreements.Service
	op         policy.Actor
	json       bool
}

func (c *cli) open(cfg *config.Config, asJSON bool) (*admin, error) {
	d, err := app.OpenExisting(c.ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	b := events.New("cli")
	return &admin{d: d, accounts: accounts.New(d, b), orgs: orgs.New(d, b), agreements: agreements.New(d, b),
		op: policy.System("cli"), json: asJSON}, nil
}

func (c *cli) out(a *admin, v any, text string) error {
	if a.json {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := fmt.Fprintln(c.stdout, text)
	return err
}

// begin parses an admin command's flags, checks the required ones and
// opens the database as the operator.
func (c *cli) begin(fs *flag.FlagSet, cfg *config.Config, args []string, asJSON *bool, need ...string) (*admin, error) {
	if err := c.parseConfig(fs, cfg, args); err != nil {
		return nil, err
	}
	if err := required(fs, need...); err != nil {
		return nil, err
	}
	return c.open(cfg, asJSON != nil && *asJSON)
}

func required(fs *flag.FlagSet, names ...string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, n := range names {
		if !set[n] {
			return usageError{fmt.Sprintf("--%s is required (see --help)", n)}
		}
	}
	return nil
}

func (c *cli) orgCreate(args []string) error {
	fs, cfg := c.flags("org create --name N --kind company|provider|cert|isac [--contact C]", "Registers an organisation on the hub.")
	name := fs.String("name", "", "organisation name")
	kind := fs.String("kind", "", "company, provider, cert or isac")
	contact := fs.String("contact", "", "security contact (e-mail or phone)")
	asJSON := fs.Bool("json", false, "print JSON")
	a, err := c.begin(fs, cfg, args, asJSON, "name", "kind")
	if err != nil {
		return err
	}
	defer a.d.Close()
	o, err := a.orgs.CreateOrg(c.ctx, a.op, *name, *kind, *contact)
	if err != nil {
		return asFlag(err, map[string]string{"security_contact": "contact"})
	}
	return c.out(a, o, fmt.Sprintf("created organisation %s (%s) id %s", o.Name, o.Kind, o.ID))
}

func (c *cli) orgList(args []string) error {
	fs, cfg := c.flags("org list", "Lists the organisations.")
	asJSON := fs.Bool("json", false, "print JSON")
	a, err := c.begin(fs, cfg, args, asJSON)
	if err != nil {
		return err
	}
	defer a.d.Close()
	os, err := a.orgs.FindOrgs(c.ctx)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, o := range os {
		fmt.Fprintf(&b, "%s  %-9s %s\n", o.ID, o.Kind, o.Name)
	}
	return c.out(a, os, strings.TrimRight(b.String(), "\n"))
}

func (c *cli) readSecret(path string) (string, error) {
	var r io.Reader
	if path == "-" {
		r = c.stdin
	} else {
		f, err := os.Open(path) // #nosec G304 -- the operator names this file on the command line
		if err != nil {
			return "", fmt.Errorf("read password file: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func (c *cli) userCreate(args []string) error {
	fs, cfg := c.flags("user create --org N --email E --role R [--password-file F]",
		"Adds a person to an organisation. Without --password-file a random password is generated and printed once.")
	org := fs.String("org", "", "organisation name or id")
	email := fs.String("email", "", "e-mail address (sign-in name)")
	role := fs.String("role", "", "admin, analyst, viewer or auditor")
	name := fs.String("name", "", "display name (default: from the e-mail)")
	lang := fs.String("lang", "", "language: de or en (default: from the browser)")
	pwFile := fs.String("password-file", "", "file holding the password (- for standard input)")
	asJSON := fs.Bool("json", false, "print JSON")
	a, err := c.begin(fs, cfg, args, asJSON, "org", "email", "role")
	if err != nil {
		return err
	}
	defer a.d.Close()
	o, err := a.orgs.FindOrgByRef(c.ctx, *org)
	if err != nil {
		return err
	}
	pw, generated := "", false
	if *pwFile != "" {
		if pw, err = c.readSecret(*pwFile); err != nil {
			return err
		}
	} else {
		pw, generated = randomPassword(), true
	}
	u, err := a.accounts.CreateUser(c.ctx, a.op, accounts.NewUser{OrgID: o.ID, Email: *email, Name: *name, Role: *role, Lang: *lang, Password: pw})
	if err != nil {
		return asFlag(err, map[string]string{"password": "password-file"})
	}
	text := fmt.Sprintf("created %s (%s) in %s", u.Email, u.Role, o.Name)
	out := map[string]any{"user": u}
	if generated {
		text += "\npassword (shown once): " + pw
		out["password"] = pw
	}
	return c.out(a, out, text)
}

func (c *cli) userPassword(args []string) error {
	fs, cfg := c.flags("user password --email E --password-file F", "Sets a person's password.")
	email := fs.String("email", "", "e-mail address")
	pwFile := fs.String("password-file", "", "file holding the password (- for standard input)")
	a, err := c.begin(fs, cfg, args, nil, "email", "password-file")
	if err != nil {
		return err
	}
	defer a.d.Close()
	u, err := a.accounts.FindUserByEmail(c.ctx, *email)
	if err != nil {
		return fmt.Errorf("no person with e-mail %s", *email)
	}
	pw, err := c.readSecret(*pwFile)
	if err != nil {
		return err
	}
	// Every session of the person ends (none is kept: the operator has
	// none); open live streams follow at their next re-check.
	if err := a.accounts.SetPassword(c.ctx, a.op, u.ID, "", pw, ""); err != nil {
		return asFlag(err, map[string]string{"password": "password-file"})
	}
	fmt.Fprintf(c.stdout, "password of %s changed\n", u.Email)
	return nil
}

func (c *cli) tokenCreate(args []string) error {
	fs, cfg := c.flags("token create --user E --scope read|write [--expires 90d]", "Creates an API token for a person and prints it once.")
	user := fs.String("user", "", "e-mail of the token's owner")
	scope := fs.String("scope", "", "read or write")
	expires := fs.String("expires", "90d", "lifetime, e.g. 30d, 12h; empty for none")
	name := fs.String("name", "", "a name to recognise the token by")
	asJSON := fs.Bool("json", false, "print JSON")
	a, err := c.begin(fs, cfg, args, asJSON, "user", "scope")
	if err != nil {
		return err
	}
	defer a.d.Close()
	u, err := a.accounts.FindUserByEmail(c.ctx, *user)
	if err != nil {
		return fmt.Errorf("no person with e-mail %s", *user)
	}
	t, secret, err := a.accounts.CreateToken(c.ctx, a.op, u.ID, accounts.NewToken{Name: *name, Scope: *scope, Expires: *expires})
	if err != nil {
		return err
	}
	if a.json {
		return c.out(a, map[string]any{"token": t, "secret": secret}, "")
	}
	fmt.Fprintln(c.stdout, secret)
	fmt.Fprintf(c.stderr, "token %q (%s) for %s; it is shown only now\n", t.Name, t.Scope, u.Email)
	return nil
}

func (c *cli) communityCreate(args []string) error {
	fs, cfg := c.flags("community create --name N --coordinator ORG", "Founds a trust circle coordinated by ORG (its first member).")
	name := fs.String("name", "", "trust circle name")
	coord := fs.String("coordinator", "", "coordinating organisation (name or id)")
	desc := fs.String("description", "", "description")
	asJSON := fs.Bool("json", false, "print JSON")
	a, err := c.begin(fs, cfg, args, asJSON, "name", "coordinator")
	if err != nil {
		return err
	}
	defer a.d.Close()
	o, err := a.orgs.FindOrgByRef(c.ctx, *coord)
	if err != nil {
		return err
	}
	cm, err := a.orgs.CreateCommunity(c.ctx, a.op, *name, *desc, o.ID)
	if err != nil {
		return err
	}
	return c.out(a, cm, fmt.Sprintf("created trust circle %s coordinated by %s, id %s", cm.Name, o.Name, cm.ID))
}

func (c *cli) communityAdd(args []string) error {
	fs, cfg := c.flags("community add --community N --org ORG", "Makes ORG an active member of the trust circle.")
	comm := fs.String("community", "", "trust circle (name or id)")
	org := fs.String("org", "", "organisation (name or id)")
	a, err := c.begin(fs, cfg, args, nil, "community", "org")
	if err != nil {
		return err
	}
	defer a.d.Close()
	cm, err := a.orgs.FindCommunityByRef(c.ctx, *comm)
	if err != nil {
		return err
	}
	o, err := a.orgs.FindOrgByRef(c.ctx, *org)
	if err != nil {
		return err
	}
	if err := a.orgs.AddMember(c.ctx, a.op, cm.ID, o.ID); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s is now a member of %s\n", o.Name, cm.Name)
	return nil
}

func (c *cli) agreementCreate(args []string) error {
	fs, cfg := c.flags("agreement create --community N [--between ORG --and ORG] --categories C,… --max-tlp LEVEL --purpose P",
		"With --between/--and: an active bilateral agreement between two members of the circle.\nWithout: the circle's charter, accepted by all its current members.")
	comm := fs.String("community", "", "trust circle (name or id)")
	between := fs.String("between", "", "first organisation of a bilateral agreement")
	and := fs.String("and", "", "second organisation of a bilateral agreement")
	cats := fs.String("categories", "", "comma separated: incident,indicator,vulnerability,log,risk,exercise,knowledge (or all)")
	maxTLP := fs.String("max-tlp", "", "highest level: CLEAR, GREEN, AMBER, AMBER+STRICT, RED")
	retention := fs.String("retention", "365d", "how long recipients may keep data, in days (e.g. 365d)")
	until := fs.String("until", "", "last day of validity, YYYY-MM-DD (default: open-ended)")
	purpose := fs.String("purpose", "", "what the data may be used for (required)")
	title := fs.String("title", "", "title")
	personal := fs.Bool("personal-data", false, "personal data may be shared")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parseConfig(fs, cfg, args); err != nil {
		return err
	}
	if err := required(fs, "community", "categories", "max-tlp"); err != nil {
		return err
	}
	if (*between == "") != (*and == "") {
		return usageError{"--between and --and go together"}
	}
	days := strings.TrimSuffix(*retention, "d")
	var n int
	if _, err := fmt.Sscanf(days, "%d", &n); err != nil || fmt.Sprint(n) != days {
		return usageError{fmt.Sprintf("--retention %q: use a number of days like 365d", *retention)}
	}
	a, err := c.open(cfg, *asJSON)
	if err != nil {
		return err
	}
	defer a.d.Close()
	cm, err := a.orgs.FindCommunityByRef(c.ctx, *comm)
	if err != nil {
		return err
	}
	in := agreements.Input{Kind: "charter", Community: cm.ID, Title: *title, Categories: []string{*cats}, MaxTLP: *maxTLP,
		Purpose: *purpose, PersonalData: *personal, RetentionDays: n, ValidUntil: *until}
	proposer := cm.CoordinatorID
	if *between != "" {
		o1, err := a.orgs.FindOrgByRef(c.ctx, *between)
		if err != nil {
			return err
		}
		o2, err := a.orgs.FindOrgByRef(c.ctx, *and)
		if err != nil {
			return err
		}
		in.Kind, in.Partner, proposer = "bilateral", o2.ID, o1.ID
		ms, err := a.orgs.FindMembers(c.ctx, a.op, cm.ID)
		if err != nil {
			return err
		}
		for _, o := range []string{o1.ID, o2.ID} {
			found := false
			for _, m := range ms {
				found = found || (m.OrgID == o && m.Status == "active")
			}
			if !found {
				return fmt.Errorf("both organisations must be active members of %s", cm.Name)
			}
		}
	}
	// The services' fields by this command's flags.
	flags := map[string]string{"tlp": "max-tlp", "max_tlp": "max-tlp", "retention_days": "retention", "valid_until": "until"}
	if err := in.Validate(); err != nil { // a purpose too, as in the form and the API
		return asFlag(err, flags)
	}
	g, err := a.agreements.Propose(c.ctx, a.op, proposer, in)
	if err != nil {
		return asFlag(err, flags)
	}
	var names []string
	for _, p := range g.Parties {
		names = append(names, p.OrgName)
	}
	return c.out(a, g, fmt.Sprintf("created %s agreement %s (%s up to %s) accepted by %s", g.Kind, g.ID, strings.Join(g.Categories, ","), g.MaxTLP, strings.Join(names, ", ")))
}

func (c *cli) auditVerify(args []string) error {
	fs, cfg := c.flags("audit verify", "Checks the whole audit trail's hash chain and names the first bad record.")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parseConfig(fs, cfg, args); err != nil {
		return err
	}
	// Verifying changes nothing: no new database, no migration.
	d, err := app.OpenExisting(c.ctx, cfg, false)
	if err != nil {
		return err
	}
	defer d.Close()
	res, err := audit.Verify(c.ctx, d)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else if res.OK {
		fmt.Fprintf(c.stdout, "audit trail intact: %d records, head %s\n", res.Records, res.Head)
	}
	if !res.OK {
		return fmt.Errorf("audit trail broken at record %d: %s", res.FirstBad, res.Reason)
	}
	return nil
}

func randomPassword() string {
	b := make([]byte, 15)
	if _, err := randRead(b); err != nil {
		panic(err)
	}
	return "vb-" + strings.ToLower(base32NoPad(b))
}

func randRead(b []byte) (int, error) { return rand.Read(b) }

func base32NoPad(b []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}
