package risks

import (
	"regexp"
	"strings"
	"testing"
)

func TestScalePlacesLevelsProportionally(t *testing.T) {
	for _, c := range []struct{ l, n, m, want int }{
		{1, 5, 5, 1}, {5, 5, 5, 5}, {1, 3, 5, 2}, {2, 3, 5, 4}, {3, 3, 5, 5}, {1, 7, 5, 1}, {7, 7, 5, 5}, {4, 7, 5, 3},
	} {
		if got := scale(c.l, c.n, c.m); got != c.want {
			t.Errorf("scale(%d of %d onto %d) = %d, want %d", c.l, c.n, c.m, got, c.want)
		}
	}
}

func TestSpreadAndMedian(t *testing.T) {
	s := SpreadOf([]Vote{{Likelihood: 2, Impact: 4}, {Likelihood: 5, Impact: 3}, {Likelihood: 3, Impact: 4}, {Likelihood: 4, Impact: 1}})
	if s.Votes != 4 || s.MinLikelihood != 2 || s.MaxLikelihood != 5 || s.MedianLikelihood != 3.5 || s.MinImpact != 1 || s.MaxImpact != 4 || s.MedianImpact != 3.5 {
		t.Errorf("spread of four votes: %+v", s)
	}
	if s := SpreadOf([]Vote{{Likelihood: 1, Impact: 2}, {Likelihood: 3, Impact: 2}, {Likelihood: 2, Impact: 5}}); s.MedianLikelihood != 2 || s.MedianImpact != 2 {
		t.Errorf("median of three votes: %+v", s)
	}
	if SpreadOf(nil) != nil {
		t.Error("no votes have a spread")
	}
}

func TestCSVCellDefusesFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://x\")": "'=HYPERLINK(\"http://x\")", "+1": "'+1", "-2+3": "'-2+3", "@SUM(A1)": "'@SUM(A1)",
		"\tx": "'\tx", "\rx": "'\rx", "Backups": "Backups", "": "", "a=b": "a=b",
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckMatrix(t *testing.T) {
	if _, err := checkMatrix(Matrix{Likelihood: 2, Impact: 5}); err == nil {
		t.Error("a 2×5 matrix is accepted")
	}
	if _, err := checkMatrix(Matrix{Likelihood: 4, Impact: 4, Appetite: 17}); err == nil {
		t.Error("an appetite above the largest score is accepted")
	}
	if _, err := checkMatrix(Matrix{Likelihood: 3, Impact: 3, Labels: map[string]Labels{"de": {Likelihood: []string{"a", "b"}, Impact: []string{"a", "b", "c"}}}}); err == nil {
		t.Error("labels that do not name every level are accepted")
	}
	m, err := checkMatrix(Matrix{Likelihood: 3, Impact: 4, Labels: map[string]Labels{"en": {Likelihood: []string{"low", "mid", "high"}, Impact: []string{"a", "b", "c", "d"}}}})
	if err != nil || m.Appetite != DefaultAppetite {
		t.Errorf("a 3×4 matrix: %+v %v", m, err)
	}
	s := &Service{}
	if got := s.Label(m, "de", "likelihood", 3); got != "high" {
		t.Errorf("a German reader of English-only labels reads %q, want the English label", got)
	}
	if got := s.Label(Matrix{Likelihood: 4, Impact: 4}, "de", "impact", 2); got != "2" {
		t.Errorf("an unlabelled level is named %q, want its number", got)
	}
}

// The heatmap is accessible: every cell is focusable and names its
// likelihood, impact, count and risks; titles are escaped.
func TestHeatmapSVGIsAccessible(t *testing.T) {
	hm := Heatmap{Score: "residual", Likelihood: 5, Impact: 5, Appetite: 9, Total: 3}
	for l := 5; l >= 1; l-- {
		for i := 1; i <= 5; i++ {
			hm.Cells = append(hm.Cells, Cell{Likelihood: l, Impact: i, Score: l * i, Risks: []RiskRef{}})
		}
	}
	hm.Cells[1] = Cell{Likelihood: 5, Impact: 2, Score: 10, Count: 2, Risks: []RiskRef{{ID: "a", Title: "Backups <script>alert(1)</script>"}, {ID: "b", Title: "VPN"}}}
	hm.Cells[24] = Cell{Likelihood: 1, Impact: 5, Score: 5, Count: 12, Risks: []RiskRef{{ID: "c", Title: "Phishing"}}}
	label := func(dim string, n int) string { return dim[:1] + string(rune('0'+n)) }
	tr := func(key string, args ...any) string {
		var b strings.Builder
		b.WriteString(key)
		for i := 0; i+1 < len(args); i += 2 {
			b.WriteString(" " + args[i].(string) + "=")
			switch v := args[i+1].(type) {
			case string:
				b.WriteString(v)
			case int:
				b.WriteString(itoa(v))
			}
		}
		return b.String()
	}
	svg := string(HeatmapSVG(hm, label, tr))
	if n := strings.Count(svg, `tabindex="0"`); n != 25 {
		t.Errorf("%d focusable cells, want 25", n)
	}
	if strings.Contains(svg, "<script>") {
		t.Error("a risk's title is not escaped in the SVG")
	}
	m := regexp.MustCompile(`id="cell-5-2"[^>]*aria-label="([^"]*)"`).FindStringSubmatch(svg)
	if m == nil || !strings.Contains(m[1], "likelihood=l5") || !strings.Contains(m[1], "impact=i2") || !strings.Contains(m[1], "n=2") ||
		!strings.Contains(m[1], "Backups &lt;script&gt;") || !strings.Contains(m[1], "VPN") {
		t.Errorf("cell 5×2 is labelled %q, want likelihood, impact, count and both risks", m)
	}
	m = regexp.MustCompile(`id="cell-1-5"[^>]*aria-label="([^"]*)"`).FindStringSubmatch(svg)
	if m == nil || !strings.Contains(m[1], "risks.heatmap.more n=11") {
		t.Errorf("cell 1×5 with 12 risks, one named, is labelled %q, want the 11 more said", m)
	}
	if !strings.Contains(svg, `role="group"`) || !strings.Contains(svg, "<title id=\"heatmap-title\">risks.heatmap.svg_title total=3</title>") {
		t.Error("the chart has no title naming it")
	}
}
