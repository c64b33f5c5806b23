package csaf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	gocsaf "github.com/gocsaf/csaf/v3/csaf"
	"github.com/gocsaf/csaf/v3/util"
)

// The publishing side of CSAF 2.0 (§7.1, the trusted provider): file
// names, the provider metadata, ROLIE feeds with their service and
// category documents, the directory distribution's index.txt and
// changes.csv. The documents are built with gocsaf's types and checked
// against the official schemas it embeds, so that what the hub serves is
// what csaf_checker reads.

// FileName is the file name of a document with tracking id id (§5.1):
// lower case, every run of characters outside [+\-a-z0-9] replaced by
// "_", then ".json" (gocsaf's rule, which csaf_checker applies).
func FileName(id string) string { return util.CleanFileName(id) }

// Label is the CSAF 2.0 TLP label of a hub level: CSAF 2.0 knows TLP 1.0
// only, so CLEAR is WHITE. AMBER+STRICT has no CSAF 2.0 label and is
// refused (the hub does not publish it; see docs/SECURITY.md).
func Label(level string) (string, error) {
	switch strings.ToUpper(strings.TrimSpace(level)) {
	case "CLEAR", "WHITE":
		return "WHITE", nil
	case "GREEN":
		return "GREEN", nil
	case "AMBER":
		return "AMBER", nil
	case "RED":
		return "RED", nil
	}
	return "", fmt.Errorf("TLP %q has no CSAF 2.0 label", level)
}

// Labels are the CSAF 2.0 TLP labels, the order of the provider's feeds.
var Labels = []string{"WHITE", "GREEN", "AMBER", "RED"}

// Entry is one published document as a provider lists it.
type Entry struct {
	URL            string // absolute URL of the .json file
	Title          string
	TrackingID     string
	Label          string // WHITE, GREEN, AMBER, RED
	Path           string // relative to the distribution: "2026/x.json"
	InitialRelease time.Time
	CurrentRelease time.Time
}

// Publisher names the provider's publisher (provider-metadata.json).
type Publisher struct {
	Category, Name, Namespace, Contact string
}

// FeedRef is one ROLIE feed of a provider.
type FeedRef struct {
	Label, URL, Summary string
}

// Metadata is what provider-metadata.json says.
type Metadata struct {
	CanonicalURL string // https://…/provider-metadata.json
	Publisher    Publisher
	Fingerprint  string // hex of the OpenPGP key
	KeyURL       string
	Directories  []string // directory_url of each directory distribution
	Feeds        []FeedRef
	LastUpdated  time.Time
}

// ProviderMetadata writes provider-metadata.json for role
// csaf_trusted_provider and checks it against the provider schema.
func ProviderMetadata(m Metadata) ([]byte, error) {
	canonical := gocsaf.ProviderURL(m.CanonicalURL)
	role := gocsaf.MetadataRoleTrustedProvider
	version := gocsaf.MetadataVersion20
	list, mirror := true, true
	cat := gocsaf.Category(m.Publisher.Category)
	name, ns := m.Publisher.Name, m.Publisher.Namespace
	updated := gocsaf.TimeStamp(m.LastUpdated.UTC().Truncate(time.Second))
	keyURL := m.KeyURL
	pmd := gocsaf.ProviderMetadata{
		CanonicalURL: &canonical, LastUpdated: &updated, ListOnCSAFAggregators: &list, MirrorOnCSAFAggregators: &mirror,
		MetadataVersion: &version, Role: &role,
		Publisher: &gocsaf.Publisher{Category: &cat, Name: &name, Namespace: &ns, ContactDetails: m.Publisher.Contact},
		PGPKeys:   []gocsaf.PGPKey{{Fingerprint: gocsaf.Fingerprint(strings.ToUpper(m.Fingerprint)), URL: &keyURL}},
	}
	for _, d := range m.Directories {
		pmd.Distributions = append(pmd.Distributions, gocsaf.Distribution{DirectoryURL: d})
	}
	if len(m.Feeds) > 0 {
		r := &gocsaf.ROLIE{}
		for _, f := range m.Feeds {
			label, u := gocsaf.TLPLabel(f.Label), gocsaf.JSONURL(f.URL)
			r.Feeds = append(r.Feeds, gocsaf.Feed{Summary: f.Summary, TLPLabel: &label, URL: &u})
		}
		pmd.Distributions = append(pmd.Distributions, gocsaf.Distribution{Rolie: r})
	}
	return encodeChecked(&pmd, gocsaf.ValidateProviderMetadata, "provider metadata")
}

// encodeChecked writes v as indented JSON and checks it with the schema
// validation validate.
func encodeChecked(v any, validate func(any) ([]string, error), what string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("write %s: %w", what, err)
	}
	if validate == nil {
		return b.Bytes(), nil
	}
	var generic any
	if err := json.Unmarshal(b.Bytes(), &generic); err != nil {
		return nil, fmt.Errorf("read back %s: %w", what, err)
	}
	errs, err := validate(generic)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", what, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s breaks its schema: %s", what, strings.Join(errs, "; "))
	}
	return b.Bytes(), nil
}

// Feed writes the ROLIE feed (RFC 8322, CSAF 2.0 §7.1.15) of label at
// feedURL with the entries, newest first; each entry links the document
// (self), its .sha256 and .sha512 (hash) and its .asc (signature).
func Feed(feedURL, title, label string, entries []Entry, updated time.Time) ([]byte, error) {
	f := gocsaf.ROLIEFeed{Feed: gocsaf.FeedData{
		ID: "csaf-feed-tlp-" + strings.ToLower(label), Title: title,
		Link:     []gocsaf.Link{{Rel: "self", HRef: feedURL}},
		Category: []gocsaf.ROLIECategory{{Scheme: "urn:ietf:params:rolie:category:information-type", Term: "csaf"}},
		Updated:  gocsaf.TimeStamp(updated.UTC()),
		Entry:    []*gocsaf.Entry{},
	}}
	for _, e := range entries {
		f.Feed.Entry = append(f.Feed.Entry, &gocsaf.Entry{
			ID: e.TrackingID, Titel: e.Title,
			Link: []gocsaf.Link{{Rel: "self", HRef: e.URL}, {Rel: "hash", HRef: e.URL + ".sha256"},
				{Rel: "hash", HRef: e.URL + ".sha512"}, {Rel: "signature", HRef: e.URL + ".asc"}},
			Published: gocsaf.TimeStamp(e.InitialRelease.UTC()),
			Updated:   gocsaf.TimeStamp(e.CurrentRelease.UTC()),
			Content:   gocsaf.Content{Type: "application/json", Src: e.URL},
			Format:    gocsaf.Format{Schema: "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json", Version: "2.0"},
		})
	}
	// The ROLIE schema demands https addresses: a hub served without TLS
	// (development, tests over plain HTTP) still lists its feed, which no
	// CSAF consumer takes (CSAF 2.0 R3); the checks over TLS validate it.
	validate := gocsaf.ValidateROLIE
	if !strings.HasPrefix(feedURL, "https://") {
		validate = nil
	}
	return encodeChecked(&f, validate, "ROLIE feed")
}

// ServiceDocument writes the ROLIE service document listing the feeds
// (csaf_checker looks for it beside provider-metadata.json).
func ServiceDocument(title string, feeds []FeedRef) ([]byte, error) {
	ws := gocsaf.ROLIEServiceWorkspace{Title: title}
	for _, f := range feeds {
		ws.Collection = append(ws.Collection, gocsaf.ROLIEServiceWorkspaceCollection{Title: f.Summary, HRef: f.URL,
			Categories: gocsaf.ROLIEServiceWorkspaceCollectionCategories{Category: []gocsaf.ROLIEServiceWorkspaceCollectionCategoriesCategory{
				{Scheme: "urn:ietf:params:rolie:category:information-type", Term: "csaf"}}}})
	}
	return encodeChecked(&gocsaf.ROLIEServiceDocument{Service: gocsaf.ROLIEService{Workspace: []gocsaf.ROLIEServiceWorkspace{ws}}}, nil, "ROLIE service document")
}

// CategoryDocument writes the ROLIE category document of a feed: the
// document categories its entries have (csaf_security_advisory …).
func CategoryDocument(categories []string) ([]byte, error) {
	if len(categories) == 0 {
		categories = []string{"csaf"}
	}
	return encodeChecked(gocsaf.NewROLIECategoryDocument(categories...), nil, "ROLIE category document")
}

// Index writes index.txt: the path of every document, one a line.
func Index(entries []Entry) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		b.WriteString(e.Path + "\n")
	}
	return b.Bytes()
}

// Changes writes changes.csv: path and current release date of every
// document, newest first (§7.1.13).
func Changes(entries []Entry) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		fmt.Fprintf(&b, "%q,%q\n", e.Path, e.CurrentRelease.UTC().Format(time.RFC3339Nano))
	}
	return b.Bytes()
}
