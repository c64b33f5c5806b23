package app_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"verbund/internal/i18n"
)

// packageOf names the package directory of a file:line under internal/.
func packageOf(at string) string {
	rel, _ := filepath.Rel("../../internal", at)
	return strings.Split(filepath.ToSlash(rel), "/")[0]
}

// ownTexts maps each capability with its own texts (internal/<cap>/i18n) to
// its keys.
func ownTexts(t *testing.T) map[string]map[string]string {
	t.Helper()
	files, _ := filepath.Glob("../*/i18n/en.json")
	out := map[string]map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(filepath.Dir(filepath.Dir(f)))] = m
	}
	return out
}

// faultUse is one place that makes a fault with a constant code.
type faultUse struct {
	at     string   // file:line
	code   string   // "" when the code is not a string literal
	msg    string   // the English message, when it is a string literal
	params []string // names given with With and WithKey
	// literal is a &fault.Error{…}: its parameters cannot be checked.
	literal bool
}

var placeholderRE = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func placeholders(s string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// faultConstructors are fault's functions that make an error, with the
// position of their code and message arguments.
var faultConstructors = map[string]struct{ code, msg int }{
	"New": {1, 2}, "Wrap": {1, 2}, "BadInput": {1, 2},
}

// findFaults parses the module's Go sources (not tests) and returns every
// fault made: calls of fault.New, fault.Wrap and fault.BadInput with the
// parameters chained to them with With/WithKey, and &fault.Error literals.
// Inside package fault the constructors are called without "fault.".
func findFaults(t *testing.T) []faultUse {
	t.Helper()
	var uses []faultUse
	fset := token.NewFileSet()
	for _, root := range []string{"../../internal", "../../cmd"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			uses = append(uses, faultsIn(fset, f)...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return uses
}

func faultsIn(fset *token.FileSet, f *ast.File) []faultUse {
	inFault := f.Name.Name == "fault"
	// constructor returns the fault function a call names, if it is one.
	constructor := func(call *ast.CallExpr) (string, bool) {
		switch fn := call.Fun.(type) {
		case *ast.SelectorExpr:
			if x, ok := fn.X.(*ast.Ident); ok && x.Name == "fault" {
				_, ok := faultConstructors[fn.Sel.Name]
				return fn.Sel.Name, ok
			}
		case *ast.Ident:
			_, ok := faultConstructors[fn.Name]
			return fn.Name, ok && inFault
		}
		return "", false
	}
	str := func(e ast.Expr) (string, bool) {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, err := strconv.Unquote(lit.Value)
			return s, err == nil
		}
		return "", false
	}
	chained := map[*ast.CallExpr][]string{} // constructor call → names chained to it
	var uses []faultUse
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			// X.With(name, …).WithKey(name, …): walk down to the constructor.
			var names []string
			cur := n
			for {
				sel, ok := cur.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "With" && sel.Sel.Name != "WithKey") || len(cur.Args) == 0 {
					break
				}
				name, _ := str(cur.Args[0])
				names = append(names, name)
				inner, ok := sel.X.(*ast.CallExpr)
				if !ok {
					break
				}
				cur = inner
			}
			if _, ok := constructor(cur); ok && cur != n {
				if len(names) > len(chained[cur]) {
					chained[cur] = names
				}
			}
		case *ast.CompositeLit:
			typ := n.Type
			if sel, ok := typ.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "fault" || sel.Sel.Name != "Error" {
					return true
				}
			} else if id, ok := typ.(*ast.Ident); !ok || id.Name != "Error" || !inFault {
				return true
			}
			u := faultUse{at: fset.Position(n.Pos()).String(), literal: true}
			for _, el := range n.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
					u.code, _ = str(kv.Value)
				}
			}
			if !inFault || u.code != "" { // the constructors' own literals take the code as it comes
				uses = append(uses, u)
			}
		}
		return true
	})
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		name, ok := constructor(call)
		if !ok {
			return true
		}
		pos := faultConstructors[name]
		if len(call.Args) <= pos.msg {
			return true
		}
		u := faultUse{at: fset.Position(call.Pos()).String(), params: chained[call]}
		u.code, _ = str(call.Args[pos.code])
		if m, ok := str(call.Args[pos.msg]); ok {
			u.msg = m
		} else if c, ok := call.Args[pos.msg].(*ast.CallExpr); ok {
			if s, ok := c.Fun.(*ast.SelectorExpr); ok && fmt.Sprint(s.X) == "fmt" {
				u.msg = "%!fmt" // formatted: the test refuses it
			}
		}
		uses = append(uses, u)
		return true
	})
	return uses
}

// Every fault code has its message in the catalogue ("fault.<code>", in
// both languages, so pages show it in the reader's language), each place
// that makes a fault gives exactly the parameters its messages use, and
// every fault.* key belongs to a code that is used.
func TestFaultCodesHaveMessages(t *testing.T) {
	cat := hubCatalog(t)
	uses := findFaults(t)
	if len(uses) < 100 {
		t.Fatalf("found only %d faults in the sources", len(uses))
	}
	used := map[string]bool{}
	for _, u := range uses {
		if u.code == "" {
			t.Errorf("%s: a fault's code must be a string literal (so this test can find its message)", u.at)
			continue
		}
		used[u.code] = true
		key := i18n.FaultKey(u.code)
		if !cat.Has(key) {
			t.Errorf("%s: fault code %q has no message %q in the catalogue: add it to the shared one or its capability's", u.at, u.code, key)
			continue
		}
		want := placeholders(cat.T("en", key))
		if u.literal {
			if len(want) > 0 {
				t.Errorf("%s: %q needs parameters %v: make it with fault.New/BadInput and With, not as a literal", u.at, u.code, want)
			}
			continue
		}
		if u.msg == "%!fmt" {
			t.Errorf("%s: %q formats values into its message: name them in the text (\"{name}\") and give them with With", u.at, u.code)
		}
		for _, p := range want {
			if !slices.Contains(u.params, p) {
				t.Errorf("%s: %q does not give {%s}, which %s uses: add .With(%q, …)", u.at, u.code, p, key, p)
			}
		}
		inMsg := placeholders(u.msg)
		for _, p := range inMsg {
			if !slices.Contains(u.params, p) {
				t.Errorf("%s: %q's message has {%s} but no .With(%q, …) fills it", u.at, u.code, p, p)
			}
		}
		for _, p := range u.params {
			if !slices.Contains(want, p) && !slices.Contains(inMsg, p) {
				t.Errorf("%s: %q gives parameter %q that neither its message nor %s uses", u.at, u.code, p, key)
			}
		}
	}
	// A capability's own texts hold only the messages of codes it alone
	// raises: one another package raises is shared.
	for pkg, keys := range ownTexts(t) {
		for _, u := range uses {
			if _, own := keys[i18n.FaultKey(u.code)]; own && packageOf(u.at) != pkg {
				t.Errorf("%s: %q is raised outside %s, which keeps %s: move the message to internal/i18n/catalog",
					u.at, u.code, pkg, i18n.FaultKey(u.code))
			}
		}
	}
	for _, k := range cat.Keys() {
		if code, ok := strings.CutPrefix(k, "fault."); ok && !used[code] {
			t.Errorf("%s: no fault in the sources has code %q: remove the message", k, code)
		}
	}
}
