package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"verbund/internal/csaf"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/notify"
	"verbund/internal/policy"
	"verbund/internal/vulns"
)

// vulnsImport imports CSAF 2.0 documents from a file or a folder (a
// provider's directory distribution, with .sha256/.sha512 files) as an
// org's advisories.
func (c *cli) vulnsImport(args []string) error {
	fs, cfg := c.flags("vulns import FILE|DIR --org O [--user E] [--tlp L] [--community C] [--openpgp-key F] [--json]",
		"Imports CSAF 2.0 advisories: one file, or every .json file below a folder (a provider's directory\n"+
			"distribution: X.json.sha256 and X.json.sha512 beside X.json are checked; ROLIE feeds and\n"+
			"provider metadata are skipped). Each document is validated (CSAF 2.0 schema and rules, CVSS vectors);\n"+
			"a refused one is reported with its reason and leaves nothing behind. The advisory's TLP is the\n"+
			"document's (WHITE is CLEAR), raised to --tlp when that is stricter; unmarked documents get --tlp or AMBER.\n"+
			"Importing the same documents again changes nothing; a new tracking.version is added to its advisory.\n"+
			"With --openpgp-key (the provider's armored public key) every X.json.asc beside a document is verified.")
	org := fs.String("org", "", "the organisation that holds the advisories (name or id)")
	user := fs.String("user", "", "the person recorded as importer (e-mail; default: the organisation's first admin)")
	tlp := fs.String("tlp", "", "the least TLP level: CLEAR, GREEN, AMBER, AMBER+STRICT, RED (default: the document's)")
	community := fs.String("community", "", "share with this trust circle of the organisation (name or id)")
	keyFile := fs.String("openpgp-key", "", "the provider's OpenPGP public key(s), armored: .asc signatures are verified with it")
	asJSON := fs.Bool("json", false, `print the report as JSON: {"documents":{"imported":N,"rejected":N},"vulnerabilities":N,"products":N,"errors":[…]}`)
	path, err := positional(fs, args, c)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	if err := required(fs, "org"); err != nil {
		return err
	}
	if path == "" {
		return usageError{"name the CSAF document or the folder to import (see --help)"}
	}
	if *tlp != "" {
		if _, err := policy.ParseTLP(*tlp); err != nil {
			return usageError{fmt.Sprintf("--tlp: %s", errMessage(err))}
		}
	}
	files, err := csafFiles(path)
	if err != nil {
		return err
	}
	var keys csaf.Keys
	if *keyFile != "" {
		f, err := os.Open(*keyFile) // #nosec G304 -- the operator names the key file
		if err != nil {
			return usageError{fmt.Sprintf("--openpgp-key: %v", err)}
		}
		keys, err = csaf.ReadKeys(f)
		_ = f.Close() // read only: nothing is lost when closing fails
		if err != nil {
			return usageError{fmt.Sprintf("--openpgp-key: %v", err)}
		}
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
	opts := vulns.ImportOptions{TLP: *tlp, Via: "cli", Keys: keys}
	if *community != "" {
		cm, err := a.orgs.FindCommunityByRef(c.ctx, *community)
		if err != nil {
			return err
		}
		opts.Sharing = policy.Sharing{Audience: "community", Community: cm.ID}
	}
	svc := vulns.New(a.d, events.New("cli"), policy.NewKernel())
	// Matches are announced to the affected orgs' webhooks through the
	// durable outbox: the hub's deliverer sends them (at once if it runs,
	// else when it starts).
	svc.Notify = notify.New(a.d, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	bar := c.progressBar(len(files), "documents")
	start := time.Now()
	total := vulns.Report{Errors: []vulns.ItemError{}}
	// A few hundred documents at a time: a provider's whole folder is
	// never held in memory at once.
	const chunk = 256
	for i := 0; i < len(files); i += chunk {
		inputs, err := readInputs(files[i:min(i+chunk, len(files))])
		if err != nil {
			return err
		}
		base := i
		opts.Progress = func(done int) { bar(base + done) }
		rep, err := svc.Import(c.ctx, actor, inputs, opts)
		if err != nil {
			return asFlag(err, map[string]string{"tlp": "tlp", "community_id": "community"})
		}
		total.Documents.Imported += rep.Documents.Imported
		total.Documents.Rejected += rep.Documents.Rejected
		total.Vulnerabilities += rep.Vulnerabilities
		total.Products += rep.Products
		total.Errors = append(total.Errors, rep.Errors...)
	}
	bar(-1)
	text := fmt.Sprintf("imported %d CSAF documents as %s in %s (%d vulnerabilities, %d products), refused %d",
		total.Documents.Imported, o.Name, time.Since(start).Round(time.Millisecond), total.Vulnerabilities, total.Products, total.Documents.Rejected)
	for i, e := range total.Errors {
		if i == 20 {
			text += fmt.Sprintf("\n  … and %d more (--json lists them all)", len(total.Errors)-20)
			break
		}
		text += fmt.Sprintf("\n  %s: %s (%s)", e.File, e.Message, e.Code)
	}
	if err := c.out(a, total, text); err != nil {
		return err
	}
	if total.Documents.Imported == 0 && total.Documents.Rejected > 0 {
		return errors.New("every document was refused (see the report)")
	}
	return nil
}

// csafFiles lists the documents to import: the file named, or every .json
// file below the folder in name order, without ROLIE feeds and provider
// metadata.
func csafFiles(path string) ([]string, error) {
	st, err := os.Stat(path) // #nosec G703 -- the operator names this file or folder on the command line
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error { // #nosec G703 -- as above
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		if distributionFile(p) {
			return nil
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the folder %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, usageError{fmt.Sprintf("%s holds no .json files", path)}
	}
	sort.Strings(out)
	return out, nil
}

// distributionFile reports whether p is a provider's distribution file
// rather than a document: a ROLIE feed ("feed") or provider metadata
// ("canonical_url" and "distributions"), judged by its top-level keys.
func distributionFile(p string) bool {
	if filepath.Base(p) == "provider-metadata.json" {
		return true
	}
	b, err := os.ReadFile(p) // #nosec G304 -- a file below the folder the operator named
	if err != nil || len(b) > csaf.MaxDocument {
		return false // the import reports it
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil {
		return false
	}
	_, feed := top["feed"]
	_, canonical := top["canonical_url"]
	_, dists := top["distributions"]
	_, document := top["document"]
	return !document && (feed || canonical && dists)
}

// readInputs reads documents with the digests published beside them.
func readInputs(files []string) ([]vulns.Input, error) {
	out := make([]vulns.Input, 0, len(files))
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		in := vulns.Input{Name: f}
		if st.Size() > csaf.MaxDocument {
			// Refused by its size without being read whole.
			in.Data = make([]byte, csaf.MaxDocument+1)
		} else if in.Data, err = os.ReadFile(f); err != nil { // #nosec G304 -- the operator names the file or folder
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		if sig, err := os.ReadFile(f + ".asc"); err == nil { // #nosec G304 -- beside the document
			in.Signature = sig
		}
		for _, alg := range []string{"sha256", "sha512"} {
			b, err := os.ReadFile(f + "." + alg) // #nosec G304 -- beside the document
			if err != nil {
				continue
			}
			sum := strings.Fields(string(b))
			if len(sum) == 0 {
				sum = []string{"-"}
			}
			if alg == "sha256" {
				in.SHA256 = sum[0]
			} else {
				in.SHA512 = sum[0]
			}
		}
		out = append(out, in)
	}
	return out, nil
}

// progressBar draws a bar of n units on a terminal (stderr) and nothing
// elsewhere, so that scripts and --json output stay clean; done < 0
// finishes it.
func (c *cli) progressBar(n int, unit string) func(done int) {
	f, ok := c.stderr.(*os.File)
	if !ok {
		return func(int) {}
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return func(int) {}
	}
	bar := progressbar.NewOptions(n, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription(unit),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit), progressbar.OptionThrottle(100*time.Millisecond))
	return func(done int) {
		if done < 0 {
			_ = bar.Finish()
			fmt.Fprintln(f)
			return
		}
		_ = bar.Set(done)
	}
}

// vulnsKEV imports CISA's catalogue of known exploited vulnerabilities.
func (c *cli) vulnsKEV(args []string) error {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprint(c.stdout, "usage: verbund vulns kev import FILE [--json]\n\nImports CISA's catalogue of known exploited vulnerabilities (KEV, JSON) into the hub: its CVEs are\nmarked as known exploited with CISA's due dates on every advisory that names them. A newer\ncatalogue replaces the one held. \"verbund vulns kev import --help\" lists the flags.\n")
		if len(args) == 0 {
			return usageError{"vulns kev: name a command: import"}
		}
		return nil
	}
	if strings.HasPrefix(args[0], "-") {
		// verbund vulns kev --data X: the flags belong to import.
		return usageError{fmt.Sprintf("vulns kev: name the command before its flags: verbund vulns kev import FILE %s", strings.Join(args, " "))}
	}
	if args[0] != "import" {
		return usageError{fmt.Sprintf("unknown command %q: vulns kev has only import (verbund vulns kev import FILE)", "vulns kev "+args[0])}
	}
	fs, cfg := c.flags("vulns kev import FILE [--json]",
		"Imports CISA's catalogue of known exploited vulnerabilities (known_exploited_vulnerabilities.json).\n"+
			"Every entry is checked (CVE id, vendor, product, name, description, required action, dates); a\n"+
			"catalogue with a bad entry is refused whole and the entry named.")
	asJSON := fs.Bool("json", false, `print the report as JSON: {"catalog_version":"…","entries":N,"new":N}`)
	file, err := positional(fs, args[1:], c)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	if file == "" {
		return usageError{"name the KEV catalogue file to import (see --help)"}
	}
	f, err := os.Open(file) // #nosec G304 G703 -- the operator names this file on the command line
	if err != nil {
		return fmt.Errorf("open the catalogue: %w", err)
	}
	defer f.Close()
	a, err := c.open(cfg, *asJSON)
	if err != nil {
		return err
	}
	defer a.d.Close()
	svc := vulns.New(a.d, events.New("cli"), policy.NewKernel())
	rep, err := svc.ImportKEV(c.ctx, a.op, f)
	if e, ok := fault.As(err); ok && e.Code == "bad_kev" {
		// The fault names the API's form field; here the file is the
		// argument, and the operator knows it by its name.
		return errors.New(file + strings.TrimPrefix(e.Message, "the file"))
	}
	if err != nil {
		return err
	}
	return c.out(a, rep, fmt.Sprintf("imported KEV catalogue %s: %d known exploited vulnerabilities (%d new)", rep.CatalogVersion, rep.Entries, rep.New))
}
