// Package vulns is the hub's vulnerability coordination: CSAF 2.0
// advisories imported by an org (every tracking.version kept, each
// advisory a shareable object of the sharing kernel, category
// vulnerability), CISA's catalogue of known exploited vulnerabilities,
// each org's own asset inventory (never shared) matched against the
// advisories the org may see, VEX statements per org and (advisory,
// product) with patch deadlines from the org's policy. The standard's
// parsing and checks are internal/csaf (on github.com/gocsaf/csaf/v3 and
// github.com/pandatix/go-cvss).
package vulns

import (
	"log/slog"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/notify"
	"verbund/internal/policy"
)

// Service is the vulns capability.
type Service struct {
	DB     *db.DB
	Events *events.Broker
	// Notify takes the webhook events (EventMatch); nil: none.
	Notify   *notify.Service
	Provider ProviderConfig // the CSAF provider's addresses (publish.go)
	// Log takes what users are not shown (a provider's network errors);
	// nil: slog.Default.
	Log        *slog.Logger
	advisories *policy.Kind
	statements *policy.Kind
	fetch      fetchConfig // how subscriptions reach providers (SetFetch)
}

// EventMatch is the webhook event that tells an org that an advisory
// names one of its assets: only that org's webhooks receive it.
const EventMatch = "vuln.match"

// New returns the service and registers its kinds with the sharing kernel.
//
// Webhooks may subscribe to its event types: EventMatch.
func New(d *db.DB, b *events.Broker, k *policy.Kernel) *Service {
	adv := k.Register(policy.KindSpec{Name: "vuln_advisory", Table: "vuln_advisories", Category: policy.Vulnerability, Search: true})
	return &Service{DB: d, Events: b, advisories: adv,
		statements: k.Register(policy.KindSpec{Name: "vuln_statement", Table: "vuln_statements", Category: policy.Vulnerability, In: adv}),
	}
}

// Advisories is the kernel's handle of advisories (for the leak harness).
func (s *Service) Advisories() *policy.Kind { return s.advisories }

// The values the pages build catalogue keys from (vulns.severity.<…>,
// vulns.status.<…>, vulns.ps.<…>, vulns.rem.<…>, vulns.reject.<…>,
// vulns.reject_detail.<…>, vulns.doccat.<…>): the
// template test checks each has its text.
var (
	SeverityKeys     = []string{"critical", "high", "medium", "low", "none"}
	TrackingStatuses = []string{"draft", "final", "interim"}
	ProductStatuses  = []string{"first_affected", "first_fixed", "fixed", "known_affected", "known_not_affected", "last_affected", "recommended", "under_investigation"}
	RemediationKinds = []string{"mitigation", "no_fix_planned", "none_available", "vendor_fix", "workaround"}
	DocCategories    = []string{"csaf_base", "csaf_security_advisory", "csaf_vex", "csaf_security_incident_response", "csaf_informational_advisory"}
	RejectDetails    = []string{"too_large", "csaf_version_missing", "csaf_version", "sha256", "sha512", "sharing_level", "sharing_version", "version_conflict"}
	RejectCodes      = []string{"too_large", "bad_json", "not_csaf", "wrong_version", "schema", "invalid", "bad_cvss", "hash_mismatch", "bad_signature", "version_conflict", "sharing"}
)

// MatchRules are the values of vuln_matches.matched_by (vulns.by.<…>).
var MatchRules = []string{"cpe", "purl", "name"}
