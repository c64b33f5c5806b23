package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// sharedData returns the path of a file or folder under ../shared/data
// (the repository is /work/<tree>, shared data /work/shared), or skips the
// test when it is not there.
func sharedData(tb testing.TB, rel string) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(wd, "..", "..", "..", "shared", "data", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data not available: %v", err)
	}
	return p
}

func realBundles(t *testing.T) []string {
	files := []string{sharedData(t, "attack/mobile-attack-17.1.json")}
	examples := sharedData(t, "stix2.1-schemas/examples")
	for _, pat := range []string{"*.json", "threat-reports/*.json"} {
		m, err := filepath.Glob(filepath.Join(examples, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	return files
}

// TestRealBundles decodes every object of the ATT&CK bundle and the
// official examples with the streaming decoder, validates it, and checks
// that re-encoding the bundle gives an equal JSON value.
func TestRealBundles(t *testing.T) {
	schemas := NewSchemas()
	for _, file := range realBundles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var top struct{ Type string }
			if err := json.Unmarshal(data, &top); err != nil {
				t.Fatal(err)
			}
			if top.Type != "bundle" {
				// interop-objectmarking-test.json is one object, not a bundle.
				o, err := ParseObject(data)
				if err != nil {
					t.Fatal(err)
				}
				if err := errors.Join(Validate(o), schemas.Validate(o)); err != nil {
					t.Errorf("%s: %v", o.ID(), err)
				}
				return
			}
			d := NewDecoder(bytes.NewReader(data))
			var out bytes.Buffer
			enc := NewEncoder(&out, "")
			n := 0
			for o, err := range d.All() {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				n++
				if err := Validate(o); err != nil {
					t.Errorf("%s: %v", o.ID(), err)
				}
				if err := schemas.Validate(o); err != nil {
					t.Errorf("%s: %v", o.ID(), err)
				}
				if err := enc.Encode(o); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.BundleErr(); err != nil {
				t.Errorf("bundle: %v", err)
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			var in, back map[string]any
			if err := json.Unmarshal(data, &in); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out.Bytes(), &back); err != nil {
				t.Fatalf("re-encoded bundle is not JSON: %v", err)
			}
			if !reflect.DeepEqual(in["objects"], back["objects"]) {
				t.Errorf("objects changed in the round trip")
			}
			t.Logf("%d objects", n)
		})
	}
}
