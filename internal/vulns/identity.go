package vulns

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"verbund/internal/csaf"
	"verbund/internal/db"
	"verbund/internal/fault"
)

// The publisher identity of an org's provider (document.publisher): its
// name is the org's name as the hub knows it, its category follows the
// org's kind, and its namespace is the one the org's first publication
// claimed (kept from then on). Consumers key documents by namespace and
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
	var ns sql.NullString
	switch err := q.QueryRow(ctx, `SELECT namespace FROM csaf_providers WHERE org_id = ?`, org).Scan(&ns); {
	case errors.Is(err, sql.ErrNoRows): // no provider yet
	case err != nil:
		return p, fmt.Errorf("load namespace: %w", err)
	}
	p.Namespace = ns.String
	return p, nil
}

// sameNamespace compares namespaces as URLs are written: the scheme and
// host in any case, a trailing slash or not.
func sameNamespace(a, b string) bool {
	return namespaceKey(a) == namespaceKey(b)
}

// namespaceTaken is the refusal of a namespace another org of the hub
// has; own is the org's provider address, offered instead.
func namespaceTaken(ns, own string) error {
	return fault.BadInput("document", "publish_namespace_taken",
		"the namespace {namespace} belongs to another organisation of this hub: use your organisation's own namespace, e.g. {own}").
		With("namespace", ns).With("own", own)
}

// namespaceKey is the form namespaces are compared and claimed in.
func namespaceKey(ns string) string {
	return strings.ToLower(strings.TrimRight(strings.TrimSpace(ns), "/"))
}

// claimNamespace records ns as org's namespace if it has none yet (its
// first publication). The unique key settles a race between two orgs'
// first publications: the second is refused like any taken namespace.
func claimNamespace(ctx context.Context, tx *db.Tx, org, ns string, taken error) error {
	_, err := tx.Exec(ctx, `UPDATE csaf_providers SET namespace = ?, namespace_key = ? WHERE org_id = ? AND namespace IS NULL`, ns, namespaceKey(ns), org)
	if e, ok := fault.As(db.Map(err)); ok && e.Kind == fault.Conflict {
		return taken
	}
	if err != nil {
		return fmt.Errorf("claim namespace: %w", err)
	}
	return nil
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
	taken := namespaceTaken(ns, s.providerBase(ctx, slug))
	// The hub's provider addresses are each their org's.
	if hub := s.providerBase(ctx, ""); hub != "/csaf/" && strings.HasPrefix(strings.ToLower(strings.TrimRight(ns, "/")+"/"), strings.ToLower(hub)) &&
		!sameNamespace(ns, s.providerBase(ctx, slug)) {
		return taken
	}
	var other string
	switch err := q.QueryRow(ctx, `SELECT org_id FROM csaf_providers WHERE namespace_key = ? AND org_id <> ?`, namespaceKey(ns), org).Scan(&other); {
	case err == nil:
		return taken
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("check namespace: %w", err)
	}
	return nil
}
