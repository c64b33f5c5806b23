package risks

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
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
	// The counts: one pass of the kernel's predicate, aggregated in SQL.
	// Then each cell's first MaxNamed by priority, each an index walk
	// (risks_residual_cell, risks_inherent_cell) that stops at a page.
	// Reading every visible risk into Go and ranking there took half
	// again as long for 10,000 risks, ordering them all in SQL (or with
	// window functions) two to three times as long.
	lc, ic, _ := strings.Cut(cols, ", ")
	q := db.Q(`SELECT r.likelihood_levels, r.impact_levels, ` + cols + `, COUNT(*) FROM `).Append(rd.FromOrdered(h, s.risks, "r")).Add(` WHERE 1 = 1`)
	f.where(q, now)
	// In the order of the cell index, so that SQLite groups while it
	// walks it instead of sorting every visible risk first.
	q.Add(` GROUP BY ` + cols + `, r.likelihood_levels, r.impact_levels`)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return hm, fmt.Errorf("heatmap: %w", err)
	}
	groups, err := db.Collect(rows, "heatmap", func(sc db.Scanner) (g [5]int, err error) {
		err = sc.Scan(&g[0], &g[1], &g[2], &g[3], &g[4])
		return g, err
	})
	if err != nil {
		return hm, err
	}
	type ranked struct {
		ref      RiskRef
		res, inh int
		due      int64
	}
	top := make([][]ranked, len(hm.Cells))
	for _, g := range groups {
		nl, ni, l, i, count := g[0], g[1], g[2], g[3], g[4]
		sl, si := scale(l, nl, m.Likelihood), scale(i, ni, m.Impact)
		if sl < 1 || sl > m.Likelihood || si < 1 || si > m.Impact {
			continue
		}
		n := (m.Likelihood-sl)*m.Impact + si - 1
		hm.Cells[n].Count += count
		hm.Total += count
		nq := db.Q(`SELECT r.id, r.title, r.residual_score, r.inherent_score, r.due_key FROM `).Append(rd.FromOrdered(h, s.risks, "r")).
			Add(` WHERE `+lc+` = ? AND `+ic+` = ? AND r.likelihood_levels = ? AND r.impact_levels = ?`, l, i, nl, ni)
		f.where(nq, now)
		nq.Add(` ORDER BY `+cols+`, r.likelihood_levels, r.impact_levels, r.residual_score DESC, r.inherent_score DESC, r.due_key, r.id LIMIT ?`, MaxNamed)
		nrows, err := h.Select(ctx, nq)
		if err != nil {
			return hm, fmt.Errorf("heatmap names: %w", err)
		}
		got, err := db.Collect(nrows, "heatmap names", func(sc db.Scanner) (r ranked, err error) {
			err = sc.Scan(&r.ref.ID, &r.ref.Title, &r.res, &r.inh, &r.due)
			return r, err
		})
		if err != nil {
			return hm, err
		}
		top[n] = append(top[n], got...)
	}
	for n, t := range top {
		// Risks of matrices of another size may share a cell: the union
		// of their groups' first MaxNamed holds the cell's.
		slices.SortFunc(t, func(x, y ranked) int {
			switch {
			case x.res != y.res:
				return y.res - x.res
			case x.inh != y.inh:
				return y.inh - x.inh
			case x.due != y.due:
				return cmp.Compare(x.due, y.due)
			}
			return strings.Compare(x.ref.ID, y.ref.ID)
		})
		for _, r := range t[:min(len(t), MaxNamed)] {
			hm.Cells[n].Risks = append(hm.Cells[n].Risks, r.ref)
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
	return template.HTML(b.String()) // #nosec G203 -- every text above is escaped (esc); the rest are numbers and fixed band names
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

// utf8BOM starts the CSV: without it Excel reads the file in the
// system's legacy code page and garbles every umlaut.
const utf8BOM = "\ufeff"

// CSVSeparator reads the export's sep parameter: "" or "comma" (RFC 4180,
// the default) or "semicolon" (what Excel expects where the decimal
// separator is a comma, as in German).
func CSVSeparator(sep string) (rune, error) {
	switch sep {
	case "", "comma":
		return ',', nil
	case "semicolon":
		return ';', nil
	}
	return 0, fault.BadInput("sep", "bad_csv_separator", `"{value}" is no separator: use comma or semicolon`).With("value", sep)
}

// ExportCSV writes every risk the reader may see (narrowed by f) in
// priority order as CSV: UTF-8 with a byte order mark, fields separated
// by sep. It is not one snapshot: each page of 200 is judged with the
// reader's view of its moment, and before each page but the first the
// request's credential is checked again (web.Recheck), so an agreement,
// a membership or a token that ends while it runs ends what it writes
// next (as the intel exports do).
func (s *Service) ExportCSV(ctx context.Context, a policy.Actor, f ListFilter, sep rune, w io.Writer) error {
	if _, err := io.WriteString(w, utf8BOM); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	cw := csv.NewWriter(w)
	cw.Comma = sep
	_ = cw.Write([]string{"id", "title", "owner", "co_owners", "likelihood", "impact", "inherent_score", "residual_likelihood", "residual_impact",
		"residual_score", "appetite", "above_appetite", "treatment", "due", "next_review", "review_overdue", "tlp"})
	f.Limit = 200
	for first := true; ; first = false {
		if !first {
			if err := web.Recheck(ctx); err != nil {
				return err
			}
		}
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
