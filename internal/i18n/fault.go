package i18n

import "verbund/internal/fault"

// FaultKey is the catalogue key of a fault code's message.
func FaultKey(code string) string { return "fault." + code }

// Fault returns e's message in lang: the catalogue's "fault.<Code>" filled
// from e.Params (a parameter with a Key shows that key's message, such as a
// category's name in lang). Without such a key it falls back to e.Message,
// which is English; a test makes sure every code has one.
func (c *Catalog) Fault(lang string, e *fault.Error) string {
	key := FaultKey(e.Code)
	if !c.Has(key) {
		return e.Message
	}
	args := make([]any, 0, 2*len(e.Params))
	for _, p := range e.Params {
		v := p.Value
		if p.Key != "" && c.Has(p.Key) {
			v = c.T(lang, p.Key)
		}
		args = append(args, p.Name, v)
	}
	return c.T(lang, key, args...)
}
