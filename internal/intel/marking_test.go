package intel

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"verbund/internal/policy"
	"verbund/internal/stix"
)

// marked adds the level's marking to an unmarked object, whichever way it
// takes (the textual fast path or parsing), and leaves marked objects and
// marking definitions alone. The result is always one valid JSON object
// with exactly one object_marking_refs.
func TestMarked(t *testing.T) {
	amber := stix.TLPMarkingID(stixTLP(policy.Amber))
	cases := []struct {
		name, typ, raw string
		add            bool
	}{
		{"compact", "malware", `{"type":"malware","id":"malware--1","name":"m <b>"}`, true},
		{"spaced", "malware", " {\n  \"type\": \"malware\",\n  \"id\": \"malware--1\"\n}\n", true},
		{"escaped key", "malware", `{"type":"malware","id":"malware--1","object\u005fmarking_refs":["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]}`, false},
		{"escaped value", "malware", `{"type":"malware","id":"malware--1","name":"M\u00fcller"}`, true},
		{"marked", "malware", `{"type":"malware","id":"malware--1","object_marking_refs":["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]}`, false},
		{"definition", "marking-definition", `{"type":"marking-definition","id":"marking-definition--1","name":"x"}`, false},
	}
	for _, c := range cases {
		got := marked([]byte(c.raw), c.typ, policy.Amber)
		var m map[string]any
		if err := json.Unmarshal(got, &m); err != nil {
			t.Fatalf("%s: %s is not JSON: %v", c.name, got, err)
		}
		if n := strings.Count(string(got), "marking_refs"); n > 1 {
			t.Errorf("%s: %d marking lists in %s", c.name, n, got)
		}
		var want map[string]any
		_ = json.Unmarshal([]byte(c.raw), &want)
		if c.add {
			want["object_marking_refs"] = []any{amber}
		}
		if !reflect.DeepEqual(m, want) {
			t.Errorf("%s: got %s", c.name, got)
		}
		if !c.add && string(got) != c.raw {
			t.Errorf("%s: changed to %s", c.name, got)
		}
	}
}
