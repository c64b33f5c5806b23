package forum

import (
	"slices"

	"verbund/internal/fault"
)

// localWithin gives policy.Within's refusal ("a contribution cannot reach
// further than what it belongs to: {what} does not receive it") a name of
// what that the catalogue translates: the kernel names it in English only,
// and a German reader would read "a named organisation" in a German
// sentence. (Keying the value in the kernel, fault.WithKey, would make
// this unnecessary.)
func localWithin(err error) error {
	e, ok := fault.As(err)
	if !ok || e.Code != "audience_beyond_container" {
		return err
	}
	i := slices.IndexFunc(e.Params, func(p fault.Param) bool { return p.Name == "what" })
	if i < 0 {
		return err
	}
	var key string
	switch e.Params[i].Value {
	case "your organisation":
		key = "forum.beyond.own_org"
	case "the trust circle":
		key = "forum.beyond.circle"
	case "a named organisation":
		key = "forum.beyond.named_org"
	case "a named person":
		key = "forum.beyond.named_person"
	default:
		return err
	}
	c := *e
	c.Params = slices.Delete(slices.Clone(e.Params), i, i+1)
	return c.WithKey("what", e.Params[i].Value, key)
}
