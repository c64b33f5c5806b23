package csaf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// cisaDir is CISA's published CSAF data (../shared/data beside the repo).
const cisaDir = "../../../shared/data/csaf-cisa/csaf_files"

func cisaFiles(t testing.TB) []string {
	var files []string
	err := filepath.WalkDir(cisaDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".json") && !strings.Contains(filepath.Base(p), "feed") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Skipf("no CISA data: %v", err)
	}
	return files
}

func TestParseCISA(t *testing.T) {
	files := cisaFiles(t)
	if len(files) != 191 {
		t.Fatalf("%d CISA documents, want 191", len(files))
	}
	var vulns, products, withCPE, scored int
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.TLP != "WHITE" || d.TrackingID == "" || d.Version == "" || !strings.HasPrefix(d.Namespace, "https://www.cisa.gov") {
			t.Errorf("%s: tlp %q id %q version %q namespace %q", f, d.TLP, d.TrackingID, d.Version, d.Namespace)
		}
		vulns += len(d.Vulns)
		products += len(d.Products)
		for _, p := range d.Products {
			if p.CPE != "" {
				withCPE++
			}
			if p.Vendor == "" || p.Name == "" {
				t.Errorf("%s: product %+v without vendor or name", f, p)
			}
		}
		for _, v := range d.Vulns {
			if _, ok := v.Best(); ok {
				scored++
			}
		}
	}
	t.Logf("191 documents, %d vulnerabilities (%d scored), %d products (%d with CPE)", vulns, scored, products, withCPE)
	if vulns != 370 || products != wantProducts {
		t.Errorf("%d vulnerabilities and %d products, want 370 and %d", vulns, products, wantProducts)
	}
}

// wantProducts is the number of products in CISA's 191 product trees.
const wantProducts = 791

func TestParseOne(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(cisaDir, "IT/white/2024/va-24-254-01.json"))
	if err != nil {
		t.Skip(err)
	}
	d, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d.Title != "IBM webMethods Integration Multiple Vulnerabilities" || d.TrackingID != "VA-24-254-01" || d.Category != "csaf_vex" {
		t.Errorf("read %+v", d)
	}
	if len(d.Products) == 0 || d.Products[0].Vendor != "IBM" {
		t.Errorf("products %+v", d.Products)
	}
	if len(d.Vulns) == 0 || !strings.HasPrefix(d.Vulns[0].CVE, "CVE-") || len(d.Vulns[0].Status) == 0 {
		t.Errorf("vulnerabilities %+v", d.Vulns)
	}
	t.Logf("%+v", d.Products[0])
}

func TestParseRefusals(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(cisaDir, "IT/white/2024/va-24-254-01.json"))
	if err != nil {
		t.Skip(err)
	}
	cases := []struct {
		name, code string
		doc        []byte
	}{
		{"broken JSON", "bad_json", raw[:len(raw)/2]},
		{"no object", "not_csaf", []byte(`[1,2]`)},
		{"no document", "not_csaf", []byte(`{"product_tree":{}}`)},
		{"CSAF 2.1", "wrong_version", bytes.Replace(raw, []byte(`"csaf_version": "2.0"`), []byte(`"csaf_version": "2.1"`), 1)},
		{"schema", "schema", bytes.Replace(raw, []byte(`"status": "final"`), []byte(`"status": "finished"`), 1)},
		{"oversize", "too_large", append(bytes.Repeat([]byte(" "), MaxDocument), raw...)},
	}
	for _, c := range cases {
		_, err := Parse(c.doc)
		var p *Problem
		if !errors.As(err, &p) || p.Code != c.code {
			t.Errorf("%s: %v, want a problem %s", c.name, err, c.code)
			continue
		}
		t.Logf("%s: %s", c.name, p.Message)
	}
}

func TestScoreVector(t *testing.T) {
	for _, c := range []struct {
		vector, version, severity string
		score                     float64
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.1", "CRITICAL", 9.8},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "4.0", "CRITICAL", 9.3},
		{"CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N", "3.0", "LOW", 3.3},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P", "2.0", "HIGH", 7.5},
	} {
		s, err := ScoreVector(c.vector)
		if err != nil || s.Version != c.version || s.Severity != c.severity || s.Score != c.score {
			t.Errorf("%s: %+v %v", c.vector, s, err)
		}
	}
	for _, bad := range []string{"CVSS:3.1/AV:X", "CVSS:5.0/AV:N", "nonsense", "CVSS:4.0/AV:N"} {
		if _, err := ScoreVector(bad); err == nil || !strings.Contains(err.Error(), "unknown CVSS vector") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	m, err := Explain("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P")
	if err != nil || len(m) != 8 || m[0] != (Metric{"AV", "N"}) || m[7] != (Metric{"A", "H"}) {
		t.Errorf("explain: %v %v", m, err)
	}
}

func TestTLPLevel(t *testing.T) {
	for in, want := range map[string]string{"WHITE": "CLEAR", "GREEN": "GREEN", "AMBER": "AMBER", "RED": "RED", "": ""} {
		if got, err := TLPLevel(in); err != nil || got != want {
			t.Errorf("%s: %s %v", in, got, err)
		}
	}
	if _, err := TLPLevel("PURPLE"); err == nil {
		t.Error("PURPLE accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"document":{"csaf_version":"2.0"}}`))
	f.Add([]byte(`{"document":{"csaf_version":"2.0","category":"csaf_base","title":"t","publisher":{"category":"vendor","name":"n","namespace":"https://e.example"},"tracking":{"id":"X","version":"1","status":"final","initial_release_date":"2024-01-01T00:00:00Z","current_release_date":"2024-01-01T00:00:00Z","revision_history":[{"number":"1","date":"2024-01-01T00:00:00Z","summary":"s"}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err == nil && d.TrackingID == "" {
			t.Fatalf("accepted without tracking id: %s", b)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	files := cisaFiles(b)
	var docs [][]byte
	var size int64
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, raw)
		size += int64(len(raw))
	}
	b.SetBytes(size / int64(len(docs)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := Parse(docs[i%len(docs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

func TestVerify(t *testing.T) {
	signer, err := openpgp.NewEntity("Wolke CSAF", "", "csaf@wolke.example", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := openpgp.NewEntity("Someone else", "", "x@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"document":{}}`)
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, signer, bytes.NewReader(doc), nil); err != nil {
		t.Fatal(err)
	}
	if err := Verify(Keys{signer}, doc, sig.Bytes()); err != nil {
		t.Errorf("good signature: %v", err)
	}
	var p *Problem
	if err := Verify(Keys{signer}, append(doc, ' '), sig.Bytes()); !errors.As(err, &p) || p.Code != "bad_signature" {
		t.Errorf("tampered document: %v", err)
	}
	if err := Verify(Keys{other}, doc, sig.Bytes()); !errors.As(err, &p) || p.Code != "bad_signature" {
		t.Errorf("another key: %v", err)
	}
	if err := Verify(Keys{signer}, doc, []byte("not a signature")); !errors.As(err, &p) || p.Code != "bad_signature" {
		t.Errorf("garbage: %v", err)
	}
}
