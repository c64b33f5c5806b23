package vulns

import (
	"context"
	"fmt"
	"strings"

	"verbund/internal/csaf"
	"verbund/internal/db"
	"verbund/internal/fault"
)

// The publisher identity of an org's provider (document.publisher): its
// name is the org's name as the hub knows it, its category follows the
// org's kind, and its namespace is the one the org's first publication
// claimed (while it has any). Consumers key documents by namespace and
// tracking id, so no org may publish under another's name or namespace:
// Publish refuses a document whose publisher differs
// (publish_publisher_mismatch) and a namespace another org of the hub
// uses or that is another org's provider address (publish_namespace_taken),
// and the provider metadata names the org's identity, never a document's.

// identity is the publisher an org publishes as; Namespace is "" while
// the org has claimed none.
func identity(ctx context.Context, q db.Handle, org string) (csaf.Publisher, error) {
	var p csaf.Publisher
	var kind string
	if err := q.QueryRow(ctx, `SELECT name, kind, security_contact FROM orgs WHERE id = ?`, org).Scan(&p.Name, &kind, &p.Contact); err != nil {
		return p, db.NotFound(err, "load org")
	}
	p.Category = "vendor"
	if kind == "cert" || kind == "isac" {
		p.Category = "coordinator"
	}
	rows, err := q.Query(ctx, `SELECT namespace FROM csaf_publications WHERE org_id = ? ORDER BY published_at, advisory_id LIMIT 1`, org)
	if err != nil {
		return p, fmt.Errorf("load namespace: %w", err)
	}
	ns, err := db.Collect(rows, "namespace", func(r db.Scanner) (s string, err error) { return s, r.Scan(&s) })
	if err != nil {
		return p, err
	}
	if len(ns) > 0 {
		p.Namespace = ns[0]
	}
	return p, nil
}

// sameNamespace compares namespaces as URLs are written: the scheme and
// host in any case, a trailing slash or not.
func sameNamespace(a, b string) bool {
	return strings.EqualFold(strings.TrimRight(strings.TrimSpace(a), "/"), strings.TrimRight(strings.TrimSpace(b), "/"))
}

// checkPublisher refuses a document of org (whose provider handle is
// slug) published as name under namespace ns unless that is the org's
// identity, and a namespace not yet claimed that is another org's.
func (s *Service) checkPublisher(ctx context.Context, q db.Handle, org, slug, name, ns string) error {
	id, err := identity(ctx, q, org)
	if err != nil {
		return err
	}
	want := id.Namespace
	if want == "" {
		want = ns
	}
	if name != id.Name || !sameNamespace(ns, want) {
		return fault.BadInput("document", "publish_publisher_mismatch",
			"the document's publisher is {name} at {namespace}; your organisation publishes as {want_name} at {want_namespace}: set document.publisher.name and document.publisher.namespace to these").
			With("name", name).With("namespace", ns).With("want_name", id.Name).With("want_namespace", want)
	}
	if id.Namespace != "" {
		return nil // the org's own claim
	}
	taken := fault.BadInput("document", "publish_namespace_taken",
		"the namespace {namespace} belongs to another organisation of this hub: use your organisation's own namespace, e.g. {own}").
		With("namespace", ns).With("own", s.providerBase(ctx, slug))
	// The hub's provider addresses are each their org's.
	if hub := s.providerBase(ctx, ""); hub != "/csaf/" && strings.HasPrefix(strings.ToLower(strings.TrimRight(ns, "/")+"/"), strings.ToLower(hub)) &&
		!sameNamespace(ns, s.providerBase(ctx, slug)) {
		return taken
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT namespace FROM csaf_publications WHERE org_id <> ?`, org)
	if err != nil {
		return fmt.Errorf("check namespace: %w", err)
	}
	others, err := db.Collect(rows, "namespaces", func(r db.Scanner) (s string, err error) { return s, r.Scan(&s) })
	if err != nil {
		return err
	}
	for _, o := range others {
		if sameNamespace(o, ns) {
			return taken
		}
	}
	return nil
}
