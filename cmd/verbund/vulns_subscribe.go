package main

import (
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"verbund/internal/config"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/notify"
	"verbund/internal/policy"
	"verbund/internal/vulns"
)

// subscribeHelp is what the subscription commands share in their --help.
const subscribeHelp = "The hub reads the provider's ROLIE feeds (else its directory distribution: changes.csv, else\n" +
	"index.txt), downloads each new or changed document with its .sha256/.sha512 and .asc files, checks\n" +
	"the digests, the OpenPGP signatures (against the keys provider-metadata.json names, fingerprints\n" +
	"checked) and the documents (CSAF 2.0 schema and rules, CVSS vectors), and imports them as\n" +
	"\"vulns import\" does; a refused document is named with its reason and leaves nothing behind.\n" +
	"Only https:// on public addresses, no redirects, no proxy from the environment; --csaf-allow-private\n" +
	"lets a lab reach http:// and private or loopback addresses. serve reads each subscription hourly."

// vulnsSubscribe subscribes an org to a CSAF trusted provider and reads it
// once.
func (c *cli) vulnsSubscribe(args []string) error {
	fs, cfg := c.flagSet("vulns subscribe URL --org O [--user E] [--tlp L] [--community C] [--csaf-allow-private] [--csaf-ca-file F] [--json]",
		"Subscribes an organisation to a CSAF 2.0 trusted provider by the URL of its provider-metadata.json\n"+
			"and reads the provider once. "+subscribeHelp, "data", "db", "csaf-allow-private", "csaf-ca-file")
	org := fs.String("org", "", "the organisation that subscribes (name or id)")
	user := fs.String("user", "", "the person recorded as subscriber and importer (e-mail; default: the organisation's first admin)")
	tlp := fs.String("tlp", "", "the least TLP level of the imported advisories: CLEAR, GREEN, AMBER, AMBER+STRICT, RED (default: the document's)")
	community := fs.String("community", "", "share the imported advisories with this trust circle of the organisation (name or id)")
	asJSON := fs.Bool("json", false, `print the subscription and its first run as JSON: {"subscription":{…},"run":{"listed":N,"checked":N,"imported":N,"rejected":N,"errors":[…]}}`)
	u, err := positional(fs, args, c)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	if err := required(fs, "org"); err != nil {
		return err
	}
	if u == "" {
		return usageError{"name the URL of the provider's provider-metadata.json (see --help)"}
	}
	a, svc, actor, err := c.openVulns(cfg, *asJSON, *org, *user)
	if err != nil {
		return err
	}
	defer a.d.Close()
	in := vulns.SubscriptionInput{URL: u, TLP: *tlp}
	if *community != "" {
		cm, err := a.orgs.FindCommunityByRef(c.ctx, *community)
		if err != nil {
			return err
		}
		in.Community = cm.ID
	}
	sub, err := svc.CreateSubscription(c.ctx, actor, in)
	if e, ok := fault.As(err); ok && e.Field == "url" {
		// The URL is the command's argument, not a flag.
		c := *e
		c.Field = ""
		return &c
	}
	if err != nil {
		return asFlag(err, map[string]string{"tlp": "tlp", "community_id": "community"})
	}
	rep, err := svc.RunSubscription(c.ctx, actor, sub.ID)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("subscribed %s to %s (%s)\n%s", actor.Name, cmpOr(sub.Publisher, sub.URL), sub.ID, runText(sub.URL, rep))
	if err := c.out(a, map[string]any{"subscription": sub, "run": rep}, text); err != nil {
		return err
	}
	return runErr(rep)
}

// vulnsFetch reads every subscription of an org now.
func (c *cli) vulnsFetch(args []string) error {
	fs, cfg := c.flagSet("vulns fetch --org O [--user E] [--csaf-allow-private] [--csaf-ca-file F] [--json]",
		"Reads every provider an organisation subscribes to now (\"vulns subscribe\" makes a subscription).\n"+subscribeHelp,
		"data", "db", "csaf-allow-private", "csaf-ca-file")
	org := fs.String("org", "", "the organisation whose subscriptions are read (name or id)")
	user := fs.String("user", "", "the person recorded as importer (e-mail; default: the organisation's first admin)")
	asJSON := fs.Bool("json", false, `print each run as JSON: [{"subscription":"ID","url":"…","run":{"listed":N,"checked":N,"imported":N,"rejected":N,"errors":[…]}}]`)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	if err := required(fs, "org"); err != nil {
		return err
	}
	a, svc, actor, err := c.openVulns(cfg, *asJSON, *org, *user)
	if err != nil {
		return err
	}
	defer a.d.Close()
	subs, err := svc.FindSubscriptions(c.ctx, actor)
	if err != nil {
		return err
	}
	type one struct {
		ID  string          `json:"subscription"`
		URL string          `json:"url"`
		Run vulns.RunReport `json:"run"`
	}
	out := []one{}
	var texts []string
	failed := 0
	for _, s := range subs {
		rep, err := svc.RunSubscription(c.ctx, actor, s.ID)
		if err != nil {
			return err
		}
		if rep.Error != "" {
			failed++
		}
		out = append(out, one{ID: s.ID, URL: s.URL, Run: rep})
		texts = append(texts, runText(s.URL, rep))
	}
	if len(subs) == 0 {
		texts = append(texts, "the organisation subscribes to no provider (see \"verbund vulns subscribe --help\")")
	}
	if err := c.out(a, out, strings.Join(texts, "\n")); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d providers could not be read (see above)", failed, len(subs))
	}
	return nil
}

// openVulns opens the database with the vulns service as the org's
// importer; providers are reached as cfg allows.
func (c *cli) openVulns(cfg *config.Config, asJSON bool, org, user string) (*admin, *vulns.Service, policy.Actor, error) {
	a, err := c.open(cfg, asJSON)
	if err != nil {
		return nil, nil, policy.Actor{}, err
	}
	o, err := a.orgs.FindOrgByRef(c.ctx, org)
	if err == nil {
		var actor policy.Actor
		if actor, err = c.importer(a, o.ID, user); err == nil {
			svc := vulns.New(a.d, events.New("cli"), policy.NewKernel())
			// Matches go to the affected orgs' webhooks through the
			// durable outbox, as for "vulns import".
			svc.Notify = notify.New(a.d, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
			var roots *x509.CertPool
			if roots, err = vulns.Roots(cfg.CSAFCAFile); err == nil {
				svc.SetFetch(cfg.CSAFAllowPrivate, roots)
				return a, svc, actor, nil
			}
		}
	}
	_ = a.d.Close() // nothing was written
	return nil, nil, policy.Actor{}, err
}

func runText(u string, rep vulns.RunReport) string {
	if rep.Error != "" {
		return fmt.Sprintf("%s: not read: %s (%s)", u, rep.Message, rep.Error)
	}
	text := fmt.Sprintf("%s: %d documents listed, %d new or changed checked, %d imported, %d refused", u, rep.Listed, rep.Checked, rep.Imported, rep.Rejected)
	for i, e := range rep.Errors {
		if i == 20 {
			text += fmt.Sprintf("\n  … and %d more (--json lists them all)", len(rep.Errors)-20)
			break
		}
		text += fmt.Sprintf("\n  %s: %s (%s)", e.File, e.Message, e.Code)
	}
	return text
}

func runErr(rep vulns.RunReport) error {
	if rep.Error != "" {
		return fmt.Errorf("the provider could not be read: %s", rep.Message)
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
