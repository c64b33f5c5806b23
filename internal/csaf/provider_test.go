package csaf_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"verbund/internal/csaf"
)

// The file name rule of CSAF 2.0 §5.1.
func TestFileName(t *testing.T) {
	for id, want := range map[string]string{
		"WCSA-2026-0007":         "wcsa-2026-0007.json",
		"ICSA-17-124-01":         "icsa-17-124-01.json",
		"Acme:SA/2026 #1":        "acme_sa_2026_1.json",
		"a+b..c":                 "a+b_c.json",
		"Ü-Straße":               "_-stra_e.json",
		"cisco-sa-2024.json":     "cisco-sa-2024.json",
		"RHSA-2024:1234":         "rhsa-2024_1234.json",
		"rhsa-2024_1234":         "rhsa-2024_1234.json",
		"  leading and trailing": "_leading_and_trailing.json",
	} {
		if got := csaf.FileName(id); got != want {
			t.Errorf("FileName(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestLabel(t *testing.T) {
	for in, want := range map[string]string{"CLEAR": "WHITE", "white": "WHITE", "GREEN": "GREEN", "AMBER": "AMBER", "RED": "RED"} {
		if got, err := csaf.Label(in); err != nil || got != want {
			t.Errorf("Label(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := csaf.Label("AMBER+STRICT"); err == nil {
		t.Error("AMBER+STRICT got a CSAF 2.0 label")
	}
}

// A signing key signs what verifies with its public half only; the
// public half carries no secret.
func TestSigningKey(t *testing.T) {
	k, err := csaf.NewSigningKey("Wolke Cloud AG", "psirt@wolke.example", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Fingerprint) != 40 || strings.ToUpper(k.Fingerprint) != k.Fingerprint {
		t.Errorf("fingerprint %q, want 40 upper-case hex digits", k.Fingerprint)
	}
	if bytes.Contains(k.Public, []byte("PRIVATE")) || !bytes.Contains(k.Private, []byte("PRIVATE KEY")) {
		t.Fatal("public and private halves mixed up")
	}
	doc := []byte(`{"document":{}}`)
	sig, err := csaf.Sign(k.Private, doc)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := csaf.ReadKeys(bytes.NewReader(k.Public))
	if err != nil {
		t.Fatal(err)
	}
	if err := csaf.Verify(keys, doc, sig); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	if err := csaf.Verify(keys, []byte(`{"document":{"x":1}}`), sig); err == nil {
		t.Error("signature verifies another document")
	}
	ring, _ := openpgp.ReadArmoredKeyRing(bytes.NewReader(k.Public))
	if ring[0].PrivateKey != nil {
		t.Error("public key file holds a private key")
	}
	if _, err := csaf.Sign(k.Public, doc); err == nil {
		t.Error("signed with a public key")
	}
}

// The provider metadata, a feed and the service document pass the
// official schemas gocsaf embeds (the builders check them; an invalid
// one is an error).
func TestProviderDocuments(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	base := "https://hub.example/csaf/wolke"
	feeds := []csaf.FeedRef{{Label: "WHITE", URL: base + "/white/csaf-feed-tlp-white.json", Summary: "white"},
		{Label: "AMBER", URL: base + "/amber/csaf-feed-tlp-amber.json", Summary: "amber"}}
	pmd, err := csaf.ProviderMetadata(csaf.Metadata{CanonicalURL: base + "/provider-metadata.json",
		Publisher:   csaf.Publisher{Category: "vendor", Name: "Wolke", Namespace: "https://wolke.example"},
		Fingerprint: strings.Repeat("AB", 20), KeyURL: base + "/openpgp/key.asc",
		Directories: []string{base + "/white/"}, Feeds: feeds, LastUpdated: now})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(pmd, &m); err != nil || m["role"] != "csaf_trusted_provider" || m["metadata_version"] != "2.0" {
		t.Errorf("provider metadata: %v %s", err, pmd)
	}
	if _, err := csaf.ProviderMetadata(csaf.Metadata{CanonicalURL: "http://hub.example/x.json", Fingerprint: "zz", LastUpdated: now}); err == nil {
		t.Error("invalid provider metadata accepted")
	}
	entries := []csaf.Entry{
		{URL: base + "/white/2026/b.json", Title: "B", TrackingID: "B", Label: "WHITE", Path: "2026/b.json", InitialRelease: now, CurrentRelease: now.Add(time.Hour)},
		{URL: base + "/white/2025/a.json", Title: "A", TrackingID: "A", Label: "WHITE", Path: "2025/a.json", InitialRelease: now.AddDate(-1, 0, 0), CurrentRelease: now},
	}
	if _, err := csaf.Feed(feeds[0].URL, "feed", "WHITE", entries, now); err != nil {
		t.Errorf("feed: %v", err)
	}
	if _, err := csaf.ServiceDocument("svc", feeds); err != nil {
		t.Errorf("service document: %v", err)
	}
	if got := string(csaf.Index(entries)); got != "2026/b.json\n2025/a.json\n" {
		t.Errorf("index.txt: %q", got)
	}
	if got := string(csaf.Changes(entries)); got != "\"2026/b.json\",\"2026-11-25T10:00:00Z\"\n\"2025/a.json\",\"2026-11-25T09:00:00Z\"\n" {
		t.Errorf("changes.csv: %q", got)
	}
}
