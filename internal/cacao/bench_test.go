package cacao

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkCheck decodes and validates (schema and semantic rules) the
// ransomware playbook, 14 steps; the figure is playbooks per second on one
// core (goal: ≥ 1,000/s for the whole import, docs/PERFORMANCE.md).
func BenchmarkCheck(b *testing.B) {
	v := validator(b)
	in := readFile(b, "ransomware.json")
	// Distinct documents, so nothing is cached by accident.
	docs := make([][]byte, 64)
	for i := range docs {
		docs[i] = bytes.Replace(in, []byte(`"priority": 1,`), []byte(fmt.Sprintf(`"priority": %d,`, i%100)), 1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := v.Check(docs[i%len(docs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "playbooks/s")
}
