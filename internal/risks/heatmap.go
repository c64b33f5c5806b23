package risks

import (
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"html/template"
	"io"
	"strconv"
	"strings"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// MaxNamed is how many risks a heatmap cell names (by priority); the
// count is always the whole.
const MaxNamed = 10

// Heatmap counts the risks a reader may see per cell of the reader's
// org's matrix.
type Heatmap struct {
	Score      string `json:"score"` // residual or inherent
	Likelihood int    `json:"likelihood_levels"`
	Impact     int    `json:"impact_levels"`
	Appetite   int    `json:"appetite"`
	Total      int    `json:"total"`
	// Cells has every cell, highest likelihood first, then impact
	// ascending (the order the chart draws them).
	Cells []Cell `json:"cells"`
}

// Cell is one cell of the heatmap.
type Cell struct {
	Likelihood    int       `json:"likelihood"`
	Impact        int       `json:"impact"`
	Score         int       `json:"score"`
	Count         int       `json:"count"`
	AboveAppetite bool      `json:"above_appetite"`
	Risks         []RiskRef `json:"risks"`
}

// RiskRef names a risk in a heatmap cell.
type RiskRef struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// scale places level l of a dimension of n levels on one of m levels.
func scale(l, n, m int) int {
	if n == m || n <= 0 {
		return l
	}
	return (l*m + n - 1) / n
}

// FindHeatmap counts the risks the reader may see (narrowed by f) on the
// reader's org's matrix by their residual (or inherent) likelihood and
// impact; a risk scored on a matrix of another size is placed
// proportionally. Each cell names its first MaxNamed risks by priority.
func (s *Service) FindHeatmap(ctx context.Context, a policy.Actor, f ListFilter, score string) (Heatmap, error) {
	cols := "r.residual_likelihood, r.residual_impact"
	switch score {
	case "", "residual":
		score = "residual"
	case "inherent":
		cols = "r.likelihood, r.impact"
	default:
		return Heatmap{}, fault.BadInput("score", "bad_heatmap_score", `unknown score "{score}": use residual or inherent`).With("score", score)
	}
	h := s.DB.R()
	now := s.now()
	m, err := s.FindMatrix(ctx, h, a.OrgID)
	if err != nil {
		return Heatmap{}, err
	}
	hm := Heatmap{Score: score, Likelihood: m.Likelihood, Impact: m.Impact, Appetite: m.Appetite}
	for l := m.Likelihood; l >= 1; l-- {
		for i := 1; i <= m.Impact; i++ {
			hm.Cells = append(hm.Cells, Cell{Likelihood: l, Impact: i, Score: l * i, AboveAppetite: l*i > m.Appetite, Risks: []RiskRef{}})
		}
	}
	rd, err := policy.NewReader(ctx, h, a, now)
	if err != nil {
		return hm, err
	}
	// One pass over the visible risks reads only ids and numbers (no
	// sort, no titles): each cell keeps its first MaxNamed by priority;
	// their titles are read afterwards. Ordering and reading every title
	// in SQL took three times as long for 10,000 risks.
	q := db.Q(`SELECT r.id, r.likelihood_levels, r.impact_levels, ` + cols + `, r.residual_score, r.inherent_score, r.due_key FROM `).Append(rd.From(s.risks, "r")).Add(` WHERE 1 = 1`)
	f.where(q, now)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return hm, fmt.Errorf("heatmap: %w", err)
	}
	type ranked struct {
		id       string
		res, inh int
		due      int64
	}
	before := func(x, y ranked) bool {
		if x.res != y.res {
			return x.res > y.res
		}
		if x.inh != y.inh {
			return x.inh > y.inh
		}
		if x.due != y.due {
			return x.due < y.due
		}
		return x.id < y.id
	}
	top := make([][]ranked, len(hm.Cells))
	for rows.Next() {
		var r ranked
		var nl, ni, l, i int
		if err := rows.Scan(&r.id, &nl, &ni, &l, &i, &r.res, &r.inh, &r.due); err != nil {
			rows.Close()
			return hm, fmt.Errorf("heatmap: %w", err)
		}
		l, i = scale(l, nl, m.Likelihood), scale(i, ni, m.Impact)
		if l < 1 || l > m.Likelihood || i < 1 || i > m.Impact {
			continue
		}
		n := (m.Likelihood-l)*m.Impact + i - 1
		hm.Cells[n].Count++
		hm.Total++
		// Insert into the cell's short list, kept sorted.
		t := top[n]
		if len(t) == MaxNamed && !before(r, t[MaxNamed-1]) {
			continue
		}
		at := len(t)
		for at > 0 && before(r, t[at-1]) {
			at--
		}
		t = append(t, ranked{})
		copy(t[at+1:], t[at:])
		t[at] = r
		if len(t) > MaxNamed {
			t = t[:MaxNamed]
		}
		top[n] = t
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return hm, fmt.Errorf("heatmap: %w", err)
	}
	rows.Close()
	var ids []any
	for _, t := range top {
		for _, r := range t {
			ids = append(ids, r.id)
		}
	}
	if len(ids) == 0 {
		return hm, nil
	}
	// The titles, through the kernel again (the same reader, a moment
	// later: a risk withdrawn since drops out of its cell's names).
	tq := db.Q(`SELECT r.id, r.title FROM `).Append(rd.From(s.risks, "r")).Add(` WHERE r.id IN (`+db.Placeholders(len(ids))+`)`, ids...)
	trows, err := h.Select(ctx, tq)
	if err != nil {
		return hm, fmt.Errorf("heatmap titles: %w", err)
	}
	titles, err := db.Collect(trows, "heatmap titles", func(sc db.Scanner) (v [2]string, err error) { err = sc.Scan(&v[0], &v[1]); return v, err })
	if err != nil {
		return hm, err
	}
	byID := make(map[string]string, len(titles))
	for _, v := range titles {
		byID[v[0]] = v[1]
	}
	for n, t := range top {
		for _, r := range t {
			if title, ok := byID[r.id]; ok {
				hm.Cells[n].Risks = append(hm.Cells[n].Risks, RiskRef{ID: r.id, Title: title})
			}
		}
	}
	return hm, nil
}

// band is a cell's colour class by its score against the appetite.
func band(score, appetite int) (fill, name string) {
	switch {
	case score > 2*appetite:
		return "#c62828", "critical"
	case score > appetite:
		return "#ef6c00", "high"
	case 2*score > appetite:
		return "#f9a825", "medium"
	}
	return "#2e7d32", "low"
}

// HeatmapSVG draws the heatmap as an accessible SVG: every cell is a
// focusable group whose label says its likelihood, impact, count and the
// risks it holds (a table beside it carries the same as text). label
// names levels, t translates with named arguments.
func HeatmapSVG(hm Heatmap, label func(dim string, n int) string, t func(key string, args ...any) string) template.HTML {
	const cell, left, top, bottom = 72, 130, 10, 60
	w := left + cell*hm.Impact + 10
	hgt := top + cell*hm.Likelihood + bottom
	var b strings.Builder
	esc := html.EscapeString
	title := t("risks.heatmap.svg_title", "total", hm.Total)
	fmt.Fprintf(&b, `<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="group" aria-labelledby="heatmap-title"><title id="heatmap-title">%s</title>`,
		w, hgt, w, hgt, esc(title))
	for _, c := range hm.Cells {
		x := left + (c.Impact-1)*cell
		y := top + (hm.Likelihood-c.Likelihood)*cell
		fill, name := band(c.Score, hm.Appetite)
		names := make([]string, len(c.Risks))
		for i, r := range c.Risks {
			names[i] = r.Title
		}
		list := strings.Join(names, "; ")
		if more := c.Count - len(c.Risks); more > 0 {
			list += "; " + t("risks.heatmap.more", "n", more)
		}
		aria := t("risks.heatmap.cell", "likelihood", label("likelihood", c.Likelihood), "impact", label("impact", c.Impact), "n", c.Count)
		if c.Count > 0 {
			aria += ": " + list
		}
		fmt.Fprintf(&b, `<g class="heatmap-cell band-%s" id="cell-%d-%d" tabindex="0" role="img" aria-label="%s" data-count="%d"><title>%s</title>`,
			name, c.Likelihood, c.Impact, esc(aria), c.Count, esc(aria))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="#fff" stroke-width="2"/>`, x, y, cell, cell, fill)
		if c.Count > 0 {
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="20" font-weight="bold" fill="#fff">%d</text>`, x+cell/2, y+cell/2+7, c.Count)
		}
		b.WriteString(`</g>`)
	}
	for l := 1; l <= hm.Likelihood; l++ {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="11" fill="currentColor" aria-hidden="true">%s</text>`, left-6, top+(hm.Likelihood-l)*cell+cell/2+4, esc(label("likelihood", l)))
	}
	for i := 1; i <= hm.Impact; i++ {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="11" fill="currentColor" aria-hidden="true">%s</text>`, left+(i-1)*cell+cell/2, top+hm.Likelihood*cell+16, esc(label("impact", i)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="12" font-weight="bold" fill="currentColor" aria-hidden="true">%s</text>`, left+hm.Impact*cell/2, hgt-14, esc(t("risks.impact")))
	fmt.Fprintf(&b, `<text x="14" y="%d" font-size="12" font-weight="bold" fill="currentColor" aria-hidden="true" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>`, top+hm.Likelihood*cell/2, top+hm.Likelihood*cell/2, esc(t("risks.likelihood")))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every text above is escaped
}

// csvCell keeps a spreadsheet from reading a cell as a formula: a value
// that starts with =, +, -, @, a tab or a carriage return is prefixed
// with an apostrophe (OWASP's advice for CSV injection).
func csvCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// ExportCSV writes every risk the reader may see (narrowed by f) in
// priority order as CSV.
func (s *Service) ExportCSV(ctx context.Context, a policy.Actor, f ListFilter, w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "title", "owner", "co_owners", "likelihood", "impact", "inherent_score", "residual_likelihood", "residual_impact",
		"residual_score", "appetite", "above_appetite", "treatment", "due", "next_review", "review_overdue", "tlp"})
	f.Limit = 200
	for {
		rs, next, err := s.FindRisks(ctx, a, f)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var co []string
			for _, p := range r.Parts {
				if p.OrgID != r.OrgID {
					co = append(co, p.OrgName)
				}
			}
			it := strconv.Itoa
			if err := cw.Write([]string{r.ID, csvCell(r.Title), csvCell(r.OrgName), csvCell(strings.Join(co, "; ")), it(r.Likelihood), it(r.Impact), it(r.Inherent),
				it(r.ResidualLikelihood), it(r.ResidualImpact), it(r.Residual), it(r.Appetite), strconv.FormatBool(r.AboveAppetite), r.Treatment,
				dueText(r.DueAt), dueText(r.NextReview), strconv.FormatBool(r.ReviewOverdue), r.Share.TLP.String()}); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		if next == "" {
			return nil
		}
		f.After = next
	}
}
