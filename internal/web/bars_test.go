package web

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// Every width BarWidth gives has its class in app.css.
func TestBarWidthHasAClass(t *testing.T) {
	css, err := os.ReadFile("static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	for most := 1; most <= 60; most++ {
		for n := 0; n <= most; n++ {
			w := BarWidth(n, most)
			if !strings.Contains(string(css), ".w-"+strconv.Itoa(w)+" {") {
				t.Fatalf("BarWidth(%d, %d) = %d: no class .w-%d in app.css", n, most, w, w)
			}
			if n > 0 && w == 0 {
				t.Fatalf("BarWidth(%d, %d) = 0: a count shows no bar", n, most)
			}
		}
	}
}
