package csaf

import (
	"fmt"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"
)

// ScoreVector parses a CVSS vector of version 2.0, 3.0, 3.1 or 4.0 and
// computes its base score and rating. A vector the versions do not define
// is an error that names the vector.
func ScoreVector(vector string) (Score, error) {
	vector = strings.TrimSpace(vector)
	if vector == "" {
		return Score{}, ErrNoVector
	}
	bad := func(err error) (Score, error) {
		return Score{}, fmt.Errorf("unknown CVSS vector %q: %v", vector, err)
	}
	switch {
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		v, err := gocvss40.ParseVector(vector)
		if err != nil {
			return bad(err)
		}
		s := v.Score()
		r, _ := gocvss40.Rating(s)
		return Score{Version: "4.0", Vector: vector, Score: s, Severity: strings.ToUpper(r)}, nil
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		v, err := gocvss31.ParseVector(vector)
		if err != nil {
			return bad(err)
		}
		s := v.BaseScore()
		r, _ := gocvss31.Rating(s)
		return Score{Version: "3.1", Vector: vector, Score: s, Severity: strings.ToUpper(r)}, nil
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		v, err := gocvss30.ParseVector(vector)
		if err != nil {
			return bad(err)
		}
		s := v.BaseScore()
		r, _ := gocvss30.Rating(s)
		return Score{Version: "3.0", Vector: vector, Score: s, Severity: strings.ToUpper(r)}, nil
	case strings.HasPrefix(vector, "CVSS:"):
		return bad(fmt.Errorf("version %s is not one of 2.0, 3.0, 3.1, 4.0", strings.SplitN(strings.TrimPrefix(vector, "CVSS:"), "/", 2)[0]))
	default:
		v, err := gocvss20.ParseVector(vector)
		if err != nil {
			return bad(err)
		}
		s := v.BaseScore()
		return Score{Version: "2.0", Vector: vector, Score: s, Severity: rating2(s)}, nil
	}
}

// rating2 rates a CVSS 2.0 score as NVD does (2.0 itself defines no
// ratings).
func rating2(s float64) string {
	switch {
	case s >= 7:
		return "HIGH"
	case s >= 4:
		return "MEDIUM"
	default:
		return "LOW"
	}
}

// Metric is one base metric of a vector: its abbreviation and value as
// the vector writes them (AV, N), for a reader's words.
type Metric struct {
	Key   string
	Value string
}

// base lists the base metrics per major version, in the specification's
// order: Explain shows these and leaves out temporal, threat,
// environmental and supplemental ones.
var base = map[string][]string{
	"2": {"AV", "AC", "Au", "C", "I", "A"},
	"3": {"AV", "AC", "PR", "UI", "S", "C", "I", "A"},
	"4": {"AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA"},
}

// Explain breaks a vector into its base metrics. It checks the vector
// first (ScoreVector).
func Explain(vector string) ([]Metric, error) {
	s, err := ScoreVector(vector)
	if err != nil {
		return nil, err
	}
	have := map[string]string{}
	for _, part := range strings.Split(s.Vector, "/") {
		k, v, ok := strings.Cut(part, ":")
		if ok && k != "CVSS" {
			have[k] = v
		}
	}
	var out []Metric
	for _, k := range base[s.Version[:1]] {
		if v, ok := have[k]; ok {
			out = append(out, Metric{Key: k, Value: v})
		}
	}
	return out, nil
}
