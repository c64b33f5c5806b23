package policy_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// shareWrite matches SQL that writes the share tables, and the target of
// a bulk insert (db.Tx.InsertMany(ctx, "shares (id, …)", …)).
var shareWrite = regexp.MustCompile("(?i)(INSERT\\s+INTO|UPDATE|DELETE\\s+FROM)\\s+(shares|share_orgs|share_people)\\b|[\"`](shares|share_orgs|share_people)\\s*\\(")

// TestOnlyTheKernelWritesShares: no Go file outside internal/policy holds
// SQL that writes the share tables (tests aside: they build worlds and
// tamper on purpose), so a capability cannot save, widen or drop an
// envelope past the kernel.
func TestOnlyTheKernelWritesShares(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if filepath.Dir(path) == filepath.Join(root, "internal", "policy") {
			return nil
		}
		b, err := os.ReadFile(path) // #nosec G304 -- the repository's own sources
		if err != nil {
			return err
		}
		if m := shareWrite.Find(b); m != nil {
			t.Errorf("%s writes the share tables (%q): go through policy's Kind.Disclose, Reshare or Withdraw", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNoExportedWriteWithoutCheck reads package policy's own source: every
// function that writes the share tables is unexported, and every exported
// function or method that reaches one of them (directly or through other
// functions of the package) is one of the kernel's doors, each of which
// runs the rule book's check (checkShare) or the owner check (owned)
// itself. There is no exported way to save or widen an envelope unchecked.
func TestNoExportedWriteWithoutCheck(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string][]string{} // function name → names it calls
	writes := map[string]bool{}    // function writes the share tables
	exported := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			name := fn.Name.Name
			if fn.Recv != nil {
				name = recvName(fn.Recv) + "." + name
			}
			exported[name] = fn.Name.IsExported()
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.BasicLit:
					if x.Kind == token.STRING && shareWrite.MatchString(x.Value) {
						writes[name] = true
					}
				case *ast.CallExpr:
					switch f := x.Fun.(type) {
					case *ast.Ident:
						calls[name] = append(calls[name], f.Name)
					case *ast.SelectorExpr:
						calls[name] = append(calls[name], "*."+f.Sel.Name)
					}
				}
				return true
			})
		}
	}
	if len(writes) == 0 {
		t.Fatal("found no function that writes the share tables: the test reads the wrong files")
	}
	for f := range writes {
		if exported[f] || strings.Contains(f, ".") && ast.IsExported(f[strings.Index(f, ".")+1:]) {
			t.Errorf("%s writes the share tables and is exported", f)
		}
	}
	// reaches reports whether f reaches a share-table write, and whether
	// it passes a check on the way (checkShare or owned called by f itself
	// or by a function on the path).
	var reaches func(f string, seen map[string]bool) bool
	reaches = func(f string, seen map[string]bool) bool {
		if writes[f] {
			return true
		}
		if seen[f] {
			return false
		}
		seen[f] = true
		for _, c := range calls[f] {
			for g := range exported {
				if g == c || (strings.HasPrefix(c, "*.") && strings.HasSuffix(g, c[1:])) {
					if reaches(g, seen) {
						return true
					}
				}
			}
		}
		return false
	}
	doors := []string{"Kind.Disclose", "Kind.DiscloseAll", "Kind.Reshare", "Kind.Withdraw"}
	for f, exp := range exported {
		if !exp || !reaches(f, map[string]bool{}) {
			continue
		}
		if !slices.Contains(doors, f) {
			t.Errorf("exported %s reaches a share-table write but is not one of the kernel's doors %v", f, doors)
		}
	}
	checks := func(f string) bool {
		var walk func(f string, seen map[string]bool) bool
		walk = func(f string, seen map[string]bool) bool {
			if seen[f] {
				return false
			}
			seen[f] = true
			for _, c := range calls[f] {
				if c == "checkShare" || c == "*.owned" {
					return true
				}
				if strings.HasPrefix(c, "*.") && walk("Kind"+c[1:], seen) {
					return true
				}
			}
			return false
		}
		return walk(f, map[string]bool{})
	}
	for _, d := range doors {
		if _, ok := exported[d]; !ok {
			t.Errorf("door %s not found", d)
			continue
		}
		if !checks(d) {
			t.Errorf("%s writes without calling checkShare or owned", d)
		}
	}
}

func recvName(fl *ast.FieldList) string {
	switch x := fl.List[0].Type.(type) {
	case *ast.StarExpr:
		return x.X.(*ast.Ident).Name
	case *ast.Ident:
		return x.Name
	}
	return "?"
}

// TestKernelRefusesUncoveredShares: the doors check before they write. A
// disclosure to an org no agreement covers is refused and saves nothing; a
// reshare that widens beyond the agreements is refused and leaves the
// envelope as it was; only the owner's analysts may reshare or withdraw.
func TestKernelRefusesUncoveredShares(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k := policy.NewKernel()
		notes := k.Register(policy.KindSpec{Name: "note", Table: "notes_test", Category: policy.Knowledge})
		err := d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
			for _, q := range []string{
				`INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES ('o1', 'O1', 'o1', 'company', 0), ('o2', 'O2', 'o2', 'company', 0), ('o3', 'O3', 'o3', 'company', 0)`,
				`INSERT INTO users (id, org_id, email, name, role, created_at) VALUES ('u1', 'o1', 'u1@x', 'U1', 'analyst', 0), ('v1', 'o1', 'v1@x', 'V1', 'viewer', 0), ('u2', 'o2', 'u2@x', 'U2', 'analyst', 0)`,
				`INSERT INTO agreements (id, kind, proposer_org, categories, max_tlp, retention_days, valid_from, status, created_at) VALUES ('g', 'bilateral', 'o1', 64, 2, 30, 0, 'active', 0)`,
				`INSERT INTO agreement_parties (agreement_id, org_id, accepted_at) VALUES ('g', 'o1', 0), ('g', 'o2', 0)`,
			} {
				if _, err := tx.Exec(ctx, q); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		u1 := policy.Actor{UserID: "u1", OrgID: "o1", Role: policy.Analyst, Scope: policy.ScopeWrite}
		count := func() int {
			var n int
			if err := d.R().QueryRow(ctx, `SELECT COUNT(*) FROM shares WHERE kind = 'note'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		tx := func(fn func(*db.Tx) error) error { return d.Tx(dbtest.Unaudited(ctx), fn) }
		// Not covered: o3 has no agreement with o1.
		err = tx(func(tx *db.Tx) error {
			_, err := notes.Disclose(ctx, tx, u1, notes.Envelope(u1, policy.Green, policy.Audience{Kind: policy.AudOrgs, Orgs: []string{"o3"}}))
			return err
		})
		if e, ok := fault.As(err); !ok || e.Code != "agreement_missing" || count() != 0 {
			t.Fatalf("uncovered disclosure: %v, %d saved", err, count())
		}
		// Covered up to AMBER: saved.
		var id string
		err = tx(func(tx *db.Tx) error {
			s := notes.Envelope(u1, policy.Amber, policy.Audience{Kind: policy.AudOrgs, Orgs: []string{"o2"}})
			id = s.ID
			_, err := notes.Disclose(ctx, tx, u1, s)
			return err
		})
		if err != nil || count() != 1 {
			t.Fatalf("covered disclosure: %v, %d saved", err, count())
		}
		// Widening to RED people of o2 exceeds the agreement: refused, unchanged.
		err = tx(func(tx *db.Tx) error {
			_, err := notes.Reshare(ctx, tx, u1, id, policy.Red, policy.Audience{Kind: policy.AudPeople, People: []string{"u2"}})
			return err
		})
		if e, ok := fault.As(err); !ok || e.Code != "agreement_missing" {
			t.Fatalf("widening reshare: %v", err)
		}
		var tlp int
		if err := d.R().QueryRow(ctx, `SELECT tlp FROM shares WHERE id = ?`, id).Scan(&tlp); err != nil || policy.TLP(tlp) != policy.Amber {
			t.Fatalf("the refused reshare changed the envelope: %v %v", policy.TLP(tlp), err)
		}
		// Another org's analyst, and a viewer of the owner, may not change it.
		u2 := policy.Actor{UserID: "u2", OrgID: "o2", Role: policy.Analyst, Scope: policy.ScopeWrite}
		v1 := policy.Actor{UserID: "v1", OrgID: "o1", Role: policy.Viewer, Scope: policy.ScopeWrite}
		for _, a := range []policy.Actor{u2, v1} {
			err := tx(func(tx *db.Tx) error { return notes.Withdraw(ctx, tx, a, id) })
			if !fault.Is(err, fault.Forbidden) {
				t.Errorf("withdraw by %s: %v, want forbidden", a.UserID, err)
			}
		}
		// An envelope of another kind or category is not this kind's to save.
		err = tx(func(tx *db.Tx) error {
			s := notes.Envelope(u1, policy.Green, policy.Audience{Kind: policy.AudOrg})
			s.Category = policy.Incident
			_, err := notes.Disclose(ctx, tx, u1, s)
			return err
		})
		if err == nil || errors.Is(err, fault.ErrNotFound) {
			t.Errorf("an envelope of another category was saved: %v", err)
		}
		if err := tx(func(tx *db.Tx) error { return notes.Withdraw(ctx, tx, u1, id) }); err != nil || count() != 0 {
			t.Fatalf("withdraw by the owner: %v, %d left", err, count())
		}
	})
}

// TestTallyFollowsWrites: the tally the doors keep (Disclose, Reshare,
// Withdraw) counts what the predicate lets each reader see of a container,
// after every step.
func TestTallyFollowsWrites(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		tallyWorld(ctx, t, d)
		k := policy.NewKernel()
		notes := k.Register(policy.KindSpec{Name: "note", Table: "notes_test", Category: policy.Knowledge})
		actor := func(u, o string) policy.Actor {
			return policy.Actor{UserID: u, OrgID: o, Role: policy.Analyst, Scope: policy.ScopeWrite}
		}
		u1 := actor("u1", "o1")
		readers := []policy.Actor{u1, actor("w1", "o1"), actor("u2", "o2"), actor("w2", "o2")}
		tx := func(fn func(*db.Tx) error) {
			t.Helper()
			if err := d.Tx(dbtest.Unaudited(ctx), fn); err != nil {
				t.Fatal(err)
			}
		}
		check := func(step string) {
			t.Helper()
			for _, a := range readers {
				if got, n, last := boxTally(ctx, t, d, notes, a); got.N != n || got.Last != last {
					t.Errorf("%s: %s's tally %+v, the predicate counts %d (newest %d)", step, a.UserID, got, n, last)
				}
			}
		}
		in := func(tlp policy.TLP, aud policy.Audience) policy.Share {
			s := notes.Envelope(u1, tlp, aud)
			s.Container = "box"
			return s
		}
		envs := []policy.Share{
			in(policy.Green, policy.Audience{Kind: policy.AudOrg}),
			in(policy.Amber, policy.Audience{Kind: policy.AudOrgs, Orgs: []string{"o2"}}),
			in(policy.Red, policy.Audience{Kind: policy.AudPeople, People: []string{"u2"}}),
			in(policy.Red, policy.Audience{Kind: policy.AudPeople, People: []string{"u2"}}),
			in(policy.Clear, policy.Audience{Kind: policy.AudOrg}),
		}
		tx(func(tx *db.Tx) error { _, err := notes.DiscloseAll(ctx, tx, u1, envs); return err })
		check("disclosed")
		tx(func(tx *db.Tx) error {
			_, err := notes.Reshare(ctx, tx, u1, envs[0].ID, policy.Green, policy.Audience{Kind: policy.AudOrgs, Orgs: []string{"o2"}})
			return err
		})
		check("widened")
		tx(func(tx *db.Tx) error {
			_, err := notes.Reshare(ctx, tx, u1, envs[3].ID, policy.Red, policy.Audience{Kind: policy.AudPeople, People: []string{"w1"}})
			return err
		})
		check("moved to a colleague")
		for _, i := range []int{2, 4} {
			tx(func(tx *db.Tx) error { return notes.Withdraw(ctx, tx, u1, envs[i].ID) })
			check(fmt.Sprintf("withdrew %d", i))
		}
	})
}
