package vulns

import "testing"

func TestInRange(t *testing.T) {
	for _, c := range []struct {
		v, r string
		in   bool
	}{
		{"4.00.01", "<= 4.00.02", true},
		{"4.00.02", "<= 4.00.02", true},
		{"4.00.10", "<= 4.00.02", false},
		{"8.2", ">= 8.0.0 | <= 8.5.1", true},
		{"8.6", ">= 8.0.0 | <= 8.5.1", false},
		{"7.9", ">= 8.0.0 | <= 8.5.1", false},
		{"1.5", "< 1.99 | 2.20 | 2.40", true},
		{"2.20", "< 1.99 | 2.20 | 2.40", true},
		{"2.30", "< 1.99 | 2.20 | 2.40", false},
		{"V14", "All versions < V14 SP1", true},
		{"14 SP2", "All versions < V14 SP1", false},
		{"V4.7 HF4", "< V4.7 HF29", true},
		{"anything", "All versions", true},
		{"2.0", "vers:all/*", true},
		{"1.5", "vers:generic/>=1.0|<2.0", true},
		{"2.0", "vers:generic/>=1.0|<2.0", false},
		{"2.10", "< 2.9", false},
		{"1", "< august 28", false},
		{"", "< 2", false},
	} {
		if got := inRange(c.v, c.r); got != c.in {
			t.Errorf("%q in %q: %v, want %v", c.v, c.r, got, c.in)
		}
	}
}

func FuzzInRange(f *testing.F) {
	f.Add("1.2", ">= 1.0 | < 2")
	f.Add("v3", "vers:all/*")
	f.Fuzz(func(t *testing.T, v, r string) {
		_ = inRange(v, r)
		_ = compareVersions(v, r)
	})
}
