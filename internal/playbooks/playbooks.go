// Package playbooks is the hub's library of CACAO 2.0 playbooks: each
// playbook a shareable object of the sharing kernel (kind "playbook",
// category knowledge) in the library of its org and of the trust circles
// it is shared with, every version (by the document's modified) kept
// byte for byte, imported by page, API and CLI, exported as it was
// imported, found by the hub's search, and shown as a flow (a
// server-rendered SVG of the workflow) beside a list of its steps. The
// standard itself (decoding, schemas, semantic checks) is internal/cacao.
package playbooks

import (
	"sync"

	"verbund/internal/cacao"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/policy"
)

// Service is the playbooks capability.
type Service struct {
	DB        *db.DB
	Events    *events.Broker
	playbooks *policy.Kind
	// validator compiles the CACAO schema at its first use (30 ms and
	// 10 MB of allocations the hub's start need not pay).
	validator func() (*cacao.Validator, error)
	// Proposals, when set, reads what an incident's playbook run proposes
	// for a new version (propose.go).
	Proposals Proposals
}

// New returns the service and registers its kind with the sharing
// kernel.
func New(d *db.DB, b *events.Broker, k *policy.Kernel) (*Service, error) {
	return &Service{DB: d, Events: b, validator: sync.OnceValues(cacao.NewValidator),
		playbooks: k.Register(policy.KindSpec{Name: "playbook", Table: "playbooks", Category: policy.Knowledge, Search: true}),
	}, nil
}

// Kind is the kernel's handle of playbooks (for the leak harness).
func (s *Service) Kind() *policy.Kind { return s.playbooks }

// RejectCodes are the codes of a refused document in an import report
// (playbooks.reject.<code> in the catalogue).
var RejectCodes = []string{"too_large", "bad_json", "spec_version", "schema", "limit", "invalid", "version_conflict", "sharing"}

// StepTypes are the CACAO step types the pages name (TypeKey).
var StepTypes = []string{cacao.StepStart, cacao.StepEnd, cacao.StepAction, cacao.StepPlaybookAction, cacao.StepParallel,
	cacao.StepIfCondition, cacao.StepWhileCondition, cacao.StepSwitchCondition}

// tlpOf maps the standard's TLP level (stix.TLP, 1 = CLEAR) to the
// kernel's (0 = CLEAR); ok is false for a document without one.
func tlpOf(p *cacao.Playbook) (policy.TLP, bool) {
	l := p.TLP()
	if l == 0 {
		return 0, false
	}
	return policy.TLP(int(l) - 1), true
}
