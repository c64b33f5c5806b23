package app_test

import (
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/forum/forumtest"
	"verbund/internal/incidents/incidentstest"
	"verbund/internal/intel/inteltest"
	"verbund/internal/knowledge/knowledgetest"
	"verbund/internal/notify/notifytest"
	"verbund/internal/playbooks/playbookstest"
	"verbund/internal/risks/riskstest"
	"verbund/internal/search/searchtest"
	"verbund/internal/training/trainingtest"
	"verbund/internal/vulns/vulnstest"
)

// kits are what the core and each capability give the hub-wide tests:
// matrix rows and leak harness kinds. A capability adds its kit here (one
// line); TestAuthorizationMatrix fails until it does, because its routes
// have no rows.
func kits() []apptest.Kit {
	return []apptest.Kit{coreKit(), forumtest.Kit(), inteltest.Kit(), notifytest.Kit(), trainingtest.Kit(), knowledgetest.Kit(), incidentstest.Kit(), searchtest.Kit(), vulnstest.Kit(), playbookstest.Kit(), riskstest.Kit()}
}

// TestAuthorizationMatrix calls every registered route as ten kinds of
// actor (apptest.RunMatrix).
func TestAuthorizationMatrix(t *testing.T) { apptest.RunMatrix(t, kits()...) }

// TestLeakHarness reads every registered kind of shareable object on every
// path as every kind of reader, at three moments, on both engines
// (apptest.RunLeaks).
func TestLeakHarness(t *testing.T) { apptest.RunLeaks(t, kits()...) }
