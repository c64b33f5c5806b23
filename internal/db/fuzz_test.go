package db_test

import (
	"strings"
	"testing"

	"verbund/internal/db"
)

// Rebinding must turn exactly the placeholders outside string literals
// into $1…$n, in order, and change nothing else.
func FuzzRebind(f *testing.F) {
	for _, s := range []string{"SELECT ?", "a = '?' AND b = ?", "?,?,?", "''?''", "no marks"} {
		f.Add(s)
	}
	d := &db.DB{Dialect: db.Postgres}
	f.Fuzz(func(t *testing.T, q string) {
		out := d.Rebind(q)
		inStr, n := false, 0
		for _, c := range q {
			if c == '\'' {
				inStr = !inStr
			} else if c == '?' && !inStr {
				n++
			}
		}
		if strings.Count(out, "$") < n {
			t.Fatalf("%q → %q: fewer than %d placeholders", q, out, n)
		}
		if n == 0 && out != q {
			t.Fatalf("%q changed without placeholders: %q", q, out)
		}
	})
}
