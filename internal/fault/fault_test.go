package fault

import (
	"errors"
	"testing"
)

func TestWith(t *testing.T) {
	base := New(Invalid, "name_taken", `a trust circle named "{name}" already exists`)
	e := base.With("name", "Süd {name}")
	if want := `a trust circle named "Süd {name}" already exists`; e.Message != want {
		t.Errorf("Message = %q, want %q (values are not expanded again)", e.Message, want)
	}
	if base.Message != `a trust circle named "{name}" already exists` || base.Params != nil {
		t.Errorf("With changed the shared original: %+v", base)
	}
	two := New(TooLarge, "x", "{n} of {max} ({unknown}) {n}").With("n", 3).With("max", 1048576)
	if want := "3 of 1048576 ({unknown}) 3"; two.Message != want {
		t.Errorf("Message = %q, want %q", two.Message, want)
	}
	a, b := two.With("n", 4), two.With("n", 5)
	if a.Message != "4 of 1048576 ({unknown}) 4" || b.Message != "5 of 1048576 ({unknown}) 5" || len(two.Params) != 2 {
		t.Errorf("copies share state: %q %q %v", a.Message, b.Message, two.Params)
	}
	k := BadInput("categories", "agreement_missing", "covers {category}").WithKey("category", "incident", "category.incident")
	if k.Message != "covers incident" || k.Field != "categories" || k.Params[0] != (Param{Name: "category", Value: "incident", Key: "category.incident"}) {
		t.Errorf("WithKey: %+v", k)
	}
	lit := (&Error{Kind: Conflict, Code: "c", Message: "at {n}"}).With("n", 1)
	if lit.Message != "at 1" {
		t.Errorf("literal: %q", lit.Message)
	}
}

func TestKinds(t *testing.T) {
	cause := errors.New("disk on fire")
	err := error(Wrap(Unavailable, "disk_full", "full", cause))
	if !Is(err, Unavailable) || KindOf(cause) != Internal || !errors.Is(err, cause) {
		t.Errorf("kinds: %v", err)
	}
	if got := err.Error(); got != "disk_full: full: disk on fire" {
		t.Errorf("Error() = %q", got)
	}
}
