// Package searchtest describes the hub's search to the hub-wide tests
// (internal/app): the matrix rows of its routes. What the search finds of
// each kind is checked by that kind's own leak harness entry
// (apptest.SearchPaths), because only the kind's kit can create its
// objects.
package searchtest

import "verbund/internal/app/apptest"

// Kit is the search's kit.
func Kit() apptest.Kit {
	return apptest.Kit{Name: "search", Rows: map[string]apptest.Row{
		"GET /search":        {Req: apptest.Static("/search?q=article"), Want: apptest.W(apptest.PageRead)},
		"GET /api/v1/search": {Req: apptest.Static("/api/v1/search?q=article"), Want: apptest.W(apptest.APIRead)},
	}}
}
