package intel

import "encoding/json"

// hashValues reads the values of a STIX hashes dictionary ({"SHA-256":
// "…", …}); anything else gives none.
func hashValues(raw json.RawMessage) []string {
	var m map[string]string
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
