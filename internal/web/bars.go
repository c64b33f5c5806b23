package web

// BarWidth is the width class of a bar chart's bar (w-0 … w-100 in
// app.css, in steps of 5: the CSP allows no inline styles) for n of most:
// rounded up to the next step, so any count above zero shows.
func BarWidth(n, most int) int {
	if n <= 0 || most <= 0 {
		return 0
	}
	return min(100, (n*100/most+4)/5*5)
}
