package taxii

import (
	"mime"
	"net/http"
	"strings"
)

// acceptable reports whether an Accept header admits a TAXII 2.1 answer
// (§3.1): some media range is application/taxii+json (or
// application/stix+json, which the spec lists for manifests and objects)
// with no version or version 2.1, or a wildcard that covers it. A missing
// header is taken as "anything": clients MUST send one, but refusing a
// request for lacking it helps nobody.
func acceptable(h http.Header) bool {
	values := h.Values("Accept")
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			if taxiiRange(part) {
				return true
			}
		}
	}
	return false
}

func taxiiRange(part string) bool {
	typ, params, err := mime.ParseMediaType(strings.TrimSpace(part))
	if err != nil {
		return false
	}
	if q, ok := params["q"]; ok && (q == "0" || strings.Trim(q, "0.") == "") {
		return false // q=0: "not acceptable"
	}
	switch typ {
	case "*/*", "application/*":
		return true
	case "application/taxii+json", "application/stix+json":
		v, ok := params["version"]
		return !ok || v == "2.1"
	}
	return false
}

// sendsTAXII reports whether a request body is declared as a TAXII 2.1
// envelope (§5.5): application/taxii+json, version 2.1 or none.
func sendsTAXII(h http.Header) bool {
	typ, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || typ != "application/taxii+json" {
		return false
	}
	v, ok := params["version"]
	return !ok || v == "2.1"
}
