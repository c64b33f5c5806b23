package search

import "testing"

func TestWholeMerge(t *testing.T) {
	for _, c := range []struct {
		sizes []int
		want  bool
	}{
		{nil, false},
		{[]int{100}, false},
		{[]int{100, 10, 10}, false}, // the rest is a fifth: merge levels only
		{[]int{100, 20, 5}, true},   // a quarter
		{[]int{3, 3, 2, 1}, true},
	} {
		if got := wholeMerge(c.sizes); got != c.want {
			t.Errorf("wholeMerge(%v) = %v, want %v", c.sizes, got, c.want)
		}
	}
}
