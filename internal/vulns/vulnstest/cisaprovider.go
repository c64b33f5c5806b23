package vulnstest

import (
	"bytes"
	"context"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"verbund/internal/app/apptest"
	"verbund/internal/vulns"
)

// Provider is a CSAF trusted provider on 127.0.0.1 over TLS that serves
// CISA's real provider layout (../shared/data/csaf-cisa: the IT folder's
// ROLIE feed, index.txt and changes.csv, the documents with their .sha512
// files), with provider metadata written for it:
//
//	/provider-metadata.json     the IT documents by their ROLIE feed
//	/ot/provider-metadata.json  the OT documents as a directory
//	                            distribution (/ot/index.txt, listing them)
//	/dir/provider-metadata.json the IT documents as a directory
//	                            distribution (CISA's changes.csv)
//	/amber/provider-metadata.json the IT feed and a TLP:AMBER feed the
//	                            provider keeps behind access control (401)
//	/amber-only/provider-metadata.json only that feed
//	/key.asc                    the provider's OpenPGP public key
//
// CISA's own .asc files are signed with CISA's key, which the data does
// not hold: the provider signs each document with its own key (Key) and
// serves that signature, unless told to serve CISA's (RealSignature). The
// fields set before a request change what it serves, to test refusals.
type Provider struct {
	Server *httptest.Server
	URL    string // https://127.0.0.1:port
	Roots  *x509.CertPool
	Key    *openpgp.Entity
	root   string // csaf-cisa

	mu   sync.Mutex
	sigs map[string][]byte
	// Each names document file names (va-24-254-01.json) to serve wrong:
	// a .sha512 of other content, CISA's own signature, broken JSON, a
	// redirect.
	TamperHash, RealSignature, Broken, Redirect []string
	// Bump makes the feed say these documents changed now.
	Bump []string
	// WrongFingerprint makes the metadata name another key's fingerprint.
	WrongFingerprint bool
	// Hold, while open, holds every request for a ROLIE feed until it is
	// closed (a slow provider); Held counts the requests it holds.
	Hold chan struct{}
	Held int
}

// CISADir is the folder of CISA's data, or "" when it is not there.
func CISADir() string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "shared", "data", "csaf-cisa")
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

// NewProvider starts a provider; it stops with the test.
func NewProvider(t testing.TB) *Provider {
	t.Helper()
	dir := CISADir()
	if dir == "" {
		t.Skip("no CISA data in ../shared/data/csaf-cisa")
	}
	key, err := openpgp.NewEntity("Test CSAF provider", "", "csaf@provider.example", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{Key: key, root: dir, sigs: map[string][]byte{}}
	p.Server = httptest.NewUnstartedServer(p)
	p.Server.StartTLS()
	t.Cleanup(p.Server.Close)
	p.URL = p.Server.URL
	p.Roots = x509.NewCertPool()
	p.Roots.AddCert(p.Server.Certificate())
	return p
}

// Fingerprint is the provider key's fingerprint as metadata names it.
func (p *Provider) Fingerprint() string {
	return strings.ToUpper(hex.EncodeToString(p.Key.PrimaryKey.Fingerprint))
}

func (p *Provider) metadata(dist string) []byte {
	fp := p.Fingerprint()
	p.mu.Lock()
	if p.WrongFingerprint {
		fp = strings.Repeat("AB", 20)
	}
	p.mu.Unlock()
	return fmt.Appendf(nil, `{
  "canonical_url": %q,
  "distributions": [%s],
  "last_updated": "2026-11-30T10:00:00Z",
  "list_on_CSAF_aggregators": true,
  "metadata_version": "2.0",
  "mirror_on_CSAF_aggregators": true,
  "public_openpgp_keys": [{"fingerprint": %q, "url": %q}],
  "publisher": {"category": "coordinator", "name": "CISA", "namespace": "https://www.cisa.gov/"},
  "role": "csaf_trusted_provider"
}`, p.URL+"/provider-metadata.json", dist, fp, p.URL+"/key.asc")
}

func (p *Provider) has(list []string, name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(list, name)
}

// ServeHTTP serves the provider.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := r.URL.Path
	p.mu.Lock()
	hold := p.Hold
	p.mu.Unlock()
	if hold != nil && strings.HasSuffix(up, "-feed-tlp-white.json") {
		p.Set(func(p *Provider) { p.Held++ })
		defer p.Set(func(p *Provider) { p.Held-- })
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	switch up {
	case "/provider-metadata.json":
		_, _ = w.Write(p.metadata(fmt.Sprintf(`{"rolie": {"feeds": [{"summary": "TLP:WHITE", "tlp_label": "WHITE", "url": %q}]}}`,
			p.URL+"/csaf_files/IT/white/cisa-csaf-it-feed-tlp-white.json")))
		return
	case "/amber/provider-metadata.json":
		_, _ = w.Write(p.metadata(fmt.Sprintf(`{"rolie": {"feeds": [{"summary": "TLP:WHITE", "tlp_label": "WHITE", "url": %q}, {"summary": "TLP:AMBER", "tlp_label": "AMBER", "url": %q}]}}`,
			p.URL+"/csaf_files/IT/white/cisa-csaf-it-feed-tlp-white.json", p.URL+"/csaf_files/IT/amber/feed.json")))
		return
	case "/amber-only/provider-metadata.json":
		_, _ = w.Write(p.metadata(fmt.Sprintf(`{"rolie": {"feeds": [{"summary": "TLP:AMBER", "tlp_label": "AMBER", "url": %q}]}}`, p.URL+"/csaf_files/IT/amber/feed.json")))
		return
	case "/csaf_files/IT/amber/feed.json":
		http.Error(w, "sign in with a client certificate", http.StatusUnauthorized)
		return
	case "/ot/provider-metadata.json":
		_, _ = w.Write(p.metadata(fmt.Sprintf(`{"directory_url": %q}`, p.URL+"/ot/")))
		return
	case "/dir/provider-metadata.json":
		_, _ = w.Write(p.metadata(fmt.Sprintf(`{"directory_url": %q}`, p.URL+"/dir/")))
		return
	case "/redirect/provider-metadata.json":
		http.Redirect(w, r, "/provider-metadata.json", http.StatusFound)
		return
	case "/bad/provider-metadata.json":
		_, _ = w.Write([]byte(`{"canonical_url": "https://x.example/provider-metadata.json", "role": "csaf_trusted_provider"}`))
		return
	case "/key.asc":
		var b bytes.Buffer
		aw, _ := armor.Encode(&b, openpgp.PublicKeyType, nil)
		_ = p.Key.Serialize(aw)
		_ = aw.Close()
		_, _ = w.Write(b.Bytes())
		return
	case "/ot/index.txt":
		files, _ := filepath.Glob(filepath.Join(p.root, "csaf_files", "OT", "white", "2017", "*.json"))
		for _, f := range files {
			fmt.Fprintf(w, "../csaf_files/OT/white/2017/%s\n", filepath.Base(f))
		}
		return
	case "/dir/changes.csv":
		http.ServeFile(w, r, filepath.Join(p.root, "csaf_files", "IT", "white", "changes.csv"))
		return
	case "/csaf_files/IT/white/cisa-csaf-it-feed-tlp-white.json":
		p.feed(w)
		return
	}
	if up == "/dir/csaf_files" || strings.HasPrefix(up, "/dir/csaf_files/") {
		// CISA's changes.csv names its documents from the folder above
		// csaf_files: the directory distribution is /dir/.
		up = strings.TrimPrefix(up, "/dir")
	}
	if !strings.HasPrefix(up, "/csaf_files/") || strings.Contains(up, "..") {
		http.NotFound(w, r)
		return
	}
	file := filepath.Join(p.root, filepath.FromSlash(path.Clean(up)))
	doc := strings.TrimSuffix(strings.TrimSuffix(path.Base(up), ".asc"), ".sha512")
	switch {
	case strings.HasSuffix(up, ".asc") && !p.has(p.RealSignature, doc):
		sig, err := p.sign(strings.TrimSuffix(file, ".asc"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(sig) // #nosec G705 -- a test provider's signature file
	case strings.HasSuffix(up, ".sha512") && p.has(p.TamperHash, doc):
		sum := sha512.Sum512([]byte("something else"))
		fmt.Fprintf(w, "%s  %s\n", hex.EncodeToString(sum[:]), doc) // #nosec G705 -- a test provider's digest file
	case strings.HasSuffix(up, ".json") && p.has(p.Broken, doc):
		_, _ = w.Write([]byte(`{"document": {"csaf_version": "2.0", "title": `))
	case strings.HasSuffix(up, ".json") && p.has(p.Redirect, doc):
		http.Redirect(w, r, "https://elsewhere.example/"+doc, http.StatusMovedPermanently) // #nosec G710 -- the redirect a test provider is asked to send
	default:
		http.ServeFile(w, r, file) // #nosec G703 -- inside the test's data folder: the path is cleaned and holds no ".."
	}
}

// feed serves CISA's ROLIE feed with its links pointing here (they point
// to raw.githubusercontent.com), Bump's entries updated now.
func (p *Provider) feed(w http.ResponseWriter) {
	raw, err := os.ReadFile(filepath.Join(p.root, "csaf_files", "IT", "white", "cisa-csaf-it-feed-tlp-white.json"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	raw = bytes.ReplaceAll(raw, []byte("https://raw.githubusercontent.com/cisagov/CSAF/develop/"), []byte(p.URL+"/"))
	var f map[string]any
	if err := json.Unmarshal(raw, &f); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	entries, _ := f["feed"].(map[string]any)["entry"].([]any)
	for _, e := range entries {
		en := e.(map[string]any)
		src, _ := en["content"].(map[string]any)["src"].(string)
		if p.has(p.Bump, path.Base(src)) {
			en["updated"] = "2026-12-01T10:00:00Z"
		}
	}
	_ = json.NewEncoder(w).Encode(f)
}

func (p *Provider) sign(file string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.sigs[file]; ok {
		return s, nil
	}
	doc, err := os.ReadFile(file) // #nosec G304 G703 -- a test's own data folder
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, p.Key, bytes.NewReader(doc), nil); err != nil {
		return nil, err
	}
	p.sigs[file] = b.Bytes()
	return b.Bytes(), nil
}

// Set changes what the provider serves (under its lock).
func (p *Provider) Set(f func(p *Provider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

// subscriptionSetup starts the provider the subscription rows use and
// subscribes sme to it ({subscription}).
func subscriptionSetup(t *testing.T, f *apptest.Fixture) {
	p := NewProvider(t)
	f.Hub.App.Vulns.SetFetch(true, p.Roots)
	f.IDs["cisaprovider"] = p.URL
	f.IDs["subscription"] = freshSubscription(t, f)
}

// freshSubscription subscribes sme (as its analyst) to another URL of
// the provider each time (the query makes it another subscription).
func freshSubscription(t *testing.T, f *apptest.Fixture) string {
	s, err := f.Hub.App.Vulns.CreateSubscription(context.Background(), f.Hub.Users["sme.analyst"].Actor,
		vulns.SubscriptionInput{URL: f.IDs["cisaprovider"] + "/provider-metadata.json?n=" + f.Uniq()})
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// freshSubscriptionBody is a request to subscribe to a URL not yet
// subscribed (as a form for the page, else as JSON).
func freshSubscriptionBody(p string, form bool) func(*testing.T, *apptest.Fixture) (string, any) {
	return func(_ *testing.T, f *apptest.Fixture) (string, any) {
		u := f.IDs["cisaprovider"] + "/provider-metadata.json?n=" + f.Uniq()
		if form {
			return p, apptest.Form("url", u)
		}
		return p, map[string]any{"url": u}
	}
}
