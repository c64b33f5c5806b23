// Package bench measures the figures of docs/PERFORMANCE.md against a real
// hub: time to ready and idle memory (Startup), authenticated list
// throughput and latency over 100,000 stored posts (List), live-event
// fan-out to many SSE subscribers (Fanout), and the incident-grade mix of
// reads and writes from many API clients (Mixed). `verbund bench` runs
// them; the Go benchmarks reuse its bulk seeding (SeedPosts).
//
// Every scenario works on a fresh SQLite database in a temporary folder
// (Mixed also on a throwaway PostgreSQL database, with several hubs) and
// talks HTTP over 127.0.0.1 only. The hub under test is a child process
// running `verbund serve` (the same binary), so that its memory and CPU are
// its own; the load comes from this process. Both share the machine's
// cores, which is what a single-host deployment sees too: compare numbers
// taken in one run rather than across machines.
package bench

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Latencies summarises a set of durations.
type Latencies struct {
	N      int     `json:"n"`
	MinMS  float64 `json:"min_ms"`
	P50MS  float64 `json:"p50_ms"`
	P95MS  float64 `json:"p95_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
	MeanMS float64 `json:"mean_ms"`
}

// Summarise sorts d in place and returns its percentiles (nearest rank).
func Summarise(d []time.Duration) Latencies {
	if len(d) == 0 {
		return Latencies{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	pct := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(d)))) - 1
		i = max(0, min(i, len(d)-1))
		return ms(d[i])
	}
	return Latencies{N: len(d), MinMS: ms(d[0]), P50MS: pct(50), P95MS: pct(95), P99MS: pct(99),
		MaxMS: ms(d[len(d)-1]), MeanMS: ms(sum / time.Duration(len(d)))}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func (l Latencies) String() string {
	return fmt.Sprintf("p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms  (n=%d)", l.P50MS, l.P95MS, l.P99MS, l.MaxMS, l.N)
}

// Check is one figure compared with its goal.
type Check struct {
	Figure string  `json:"figure"`
	Goal   string  `json:"goal"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	OK     bool    `json:"ok"`
}

func atMost(figure string, v, goal float64, unit string) Check {
	return Check{Figure: figure, Goal: fmt.Sprintf("≤ %g %s", goal, unit), Value: round2(v), Unit: unit, OK: v <= goal}
}

func atLeast(figure string, v, goal float64, unit string) Check {
	return Check{Figure: figure, Goal: fmt.Sprintf("≥ %g %s", goal, unit), Value: round2(v), Unit: unit, OK: v >= goal}
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// Verdict renders checks as lines "ok|MISSED figure value (goal)".
func Verdict(cs []Check) string {
	s := ""
	for _, c := range cs {
		mark := "ok    "
		if !c.OK {
			mark = "MISSED"
		}
		s += fmt.Sprintf("  %s %-44s %10.2f %-6s (goal %s)\n", mark, c.Figure, c.Value, c.Unit, c.Goal)
	}
	return s
}

// Machine describes where a measurement ran.
type Machine struct {
	CPUs      int     `json:"cpus"`
	Model     string  `json:"cpu_model"`
	MemoryGB  float64 `json:"memory_gb"`
	GoVersion string  `json:"go_version"`
	OS        string  `json:"os"`
	Date      string  `json:"date"`
	LoadAvg   string  `json:"load_average"` // 1, 5, 15 minutes at the start: other work on the machine skews results
}

// ThisMachine reads the machine's description (CPU model and memory from
// /proc on Linux).
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		Date: time.Now().UTC().Format("2006-01-02")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	if kb, err := procStatusKBFile("/proc/meminfo", "MemTotal:"); err == nil {
		m.MemoryGB = round2(float64(kb) / (1 << 30))
	}
	return m
}

func (m Machine) String() string {
	return fmt.Sprintf("%d CPUs (%s), %.1f GB RAM, %s %s, %s, load average %s", m.CPUs, m.Model, m.MemoryGB, m.GoVersion, m.OS, m.Date, m.LoadAvg)
}
