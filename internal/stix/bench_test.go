package stix

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"
)

// Run: go test ./internal/stix/ -run '^$' -bench . -benchtime 3x
// objects/s is the figure that counts (the import goal is 30,000/s end to
// end, so the library should do well over 100,000/s without schemas).

func benchDecode(b *testing.B, data []byte, validate bool, schemas *Schemas) {
	b.Helper()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		d := NewDecoder(bytes.NewReader(data))
		for o, err := range d.All() {
			if err != nil {
				b.Fatal(err)
			}
			n++
			if validate {
				if err := Validate(o); err != nil {
					b.Fatal(err)
				}
			}
			if schemas != nil {
				if err := schemas.Validate(o); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "objects/s")
}

func attackBundle(b *testing.B) []byte {
	data, err := os.ReadFile(sharedData(b, "attack/mobile-attack-17.1.json"))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

var synthetic = sync.OnceValue(func() []byte { return syntheticIndicators(100_000) })

// syntheticIndicators builds a bundle of n indicators like a feed's: an IP,
// domain, URL or hash pattern, markings, labels and a custom property.
func syntheticIndicators(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		var pattern string
		switch i % 4 {
		case 0:
			pattern = fmt.Sprintf(`[ipv4-addr:value = '10.%d.%d.%d']`, i>>16&255, i>>8&255, i&255)
		case 1:
			pattern = fmt.Sprintf(`[domain-name:value = 'host-%d.example.com']`, i)
		case 2:
			pattern = fmt.Sprintf(`[url:value = 'https://evil-%d.example.net/path?q=%d']`, i, i)
		case 3:
			pattern = fmt.Sprintf(`[file:hashes.'SHA-256' = '%064x']`, i)
		}
		fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-1111-4111-8111-111111111111",`+
			`"created":"2024-03-01T10:00:00.000Z","modified":"2024-03-01T10:00:00.000Z","name":"Indicator %d",`+
			`"description":"Seen in campaign X","indicator_types":["malicious-activity"],"pattern":"%s",`+
			`"pattern_type":"stix","valid_from":"2024-03-01T10:00:00Z","valid_until":"2025-03-01T10:00:00Z",`+
			`"confidence":80,"labels":["ransomware"],"created_by_ref":"identity--b67d30ff-02ac-498a-92f9-32f845f448cf",`+
			`"object_marking_refs":["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"],"x_verbund_source":"bench"}`,
			i, i, pattern)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func BenchmarkDecodeAttack(b *testing.B)         { benchDecode(b, attackBundle(b), false, nil) }
func BenchmarkDecodeValidateAttack(b *testing.B) { benchDecode(b, attackBundle(b), true, nil) }
func BenchmarkDecodeSchemaAttack(b *testing.B) {
	benchDecode(b, attackBundle(b), true, NewSchemas())
}
func BenchmarkDecodeIndicators(b *testing.B)         { benchDecode(b, synthetic(), false, nil) }
func BenchmarkDecodeValidateIndicators(b *testing.B) { benchDecode(b, synthetic(), true, nil) }
func BenchmarkDecodeSchemaIndicators(b *testing.B) {
	benchDecode(b, synthetic(), true, NewSchemas())
}

func BenchmarkParsePattern(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range specPatterns {
			if _, err := ParsePattern(p); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(specPatterns)*b.N)/b.Elapsed().Seconds(), "patterns/s")
}

func BenchmarkEncodeIndicators(b *testing.B) {
	var objs []*Object
	for o, err := range NewDecoder(bytes.NewReader(synthetic())).All() {
		if err != nil {
			b.Fatal(err)
		}
		objs = append(objs, o)
	}
	b.ReportAllocs()
	for b.Loop() {
		var out bytes.Buffer
		e := NewEncoder(&out, "")
		for _, o := range objs {
			if err := e.Encode(o); err != nil {
				b.Fatal(err)
			}
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(objs)*b.N)/b.Elapsed().Seconds(), "objects/s")
}
