// Package taxii is a TAXII 2.1 server (OASIS TAXII Version 2.1, 2021) as a
// library: the resources, media types, headers, query filters, paging and
// error objects of the standard, speaking to a small Backend that stores
// the objects and decides who may see them. It knows nothing of verbund's
// database or policy: internal/intel implements Backend and registers the
// routes this package lists (Server.Routes), each with its permission.
//
// What the package guarantees on every endpoint, whatever the backend:
// request paths end with "/" (§3.1); a request whose Accept names no TAXII
// media type gets 406 and a POST with another Content-Type 415 (§3.1);
// malformed query parameters get 400 before the backend is asked (§3.4);
// lists are never empty, so an empty result is {} (§2); manifests, objects
// and versions carry X-TAXII-Date-Added-First/-Last (§3.2); every error is
// a TAXII error object whose http_status equals the response's status
// (§3.6.1); a body larger than the API root's max_content_length gets 413
// (§5.5); the collection permission table of §5.7 for DELETE.
package taxii

import (
	"encoding/json"
	"time"
)

// Media types (§1.6.8). The version parameter is written without spaces:
// the OASIS client compares the Accept it sent with the Content-Type it
// gets token by token.
const (
	MediaTAXII = "application/taxii+json;version=2.1"
	MediaSTIX  = "application/stix+json;version=2.1"
)

// TimeFormat is the TAXII timestamp (§2): RFC 3339 in UTC with exactly six
// fractional digits, unlike STIX's at-least-three.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Time writes t as a TAXII timestamp.
func Time(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Discovery is the server's discovery resource (§4.1.1).
type Discovery struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

// APIRoot is an API root's information (§4.2.1). Versions and
// MaxContentLength are filled by the server when left empty.
type APIRoot struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// Collection is a collection resource (§5.2.1). ID is a UUIDv4.
type Collection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types,omitempty"`
}

// Record is one version of one object in a collection, as the backend
// hands it out: its identity and TAXII metadata and, unless the request
// only wants a manifest or a version list, its JSON.
type Record struct {
	ID          string          // STIX id
	Version     string          // STIX modified, else created (as stored, a STIX timestamp)
	SpecVersion string          // "2.1" (SCOs without spec_version are 2.1)
	DateAdded   time.Time       // when the collection got this version
	Object      json.RawMessage // the object itself (nil for manifests and versions)
}

// Page is one page of records, oldest date_added first (§3.3), with
// whether more follow and the opaque token that continues the query.
type Page struct {
	Records []Record
	More    bool
	Next    string
}

// Status is the status of a POST of objects (§4.3.1).
type Status struct {
	ID               string         `json:"id"`
	Status           string         `json:"status"` // "complete" or "pending"
	RequestTimestamp string         `json:"request_timestamp,omitempty"`
	TotalCount       int            `json:"total_count"`
	SuccessCount     int            `json:"success_count"`
	Successes        []StatusDetail `json:"successes,omitempty"`
	FailureCount     int            `json:"failure_count"`
	Failures         []StatusDetail `json:"failures,omitempty"`
	PendingCount     int            `json:"pending_count"`
	Pendings         []StatusDetail `json:"pendings,omitempty"`
}

// StatusDetail names one object of a POST and what became of it.
type StatusDetail struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// envelope is the objects resource (§3.7); manifest and versions are its
// siblings. Lists stay nil when empty, so that they are left out.
type envelope struct {
	More    *bool             `json:"more,omitempty"`
	Next    string            `json:"next,omitempty"`
	Objects []json.RawMessage `json:"objects,omitempty"`
}

type manifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type,omitempty"`
}

type manifest struct {
	More    *bool            `json:"more,omitempty"`
	Next    string           `json:"next,omitempty"`
	Objects []manifestRecord `json:"objects,omitempty"`
}

type versions struct {
	More     *bool    `json:"more,omitempty"`
	Next     string   `json:"next,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

type collections struct {
	Collections []Collection `json:"collections,omitempty"`
}
