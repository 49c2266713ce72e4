package tenancy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewScopeHasOneCaller keeps the promise that only the API's company
// gate makes scopes: a second caller outside this package fails the build.
func TestNewScopeHasOneCaller(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	allowed := filepath.Join("internal", "api", "companies.go")
	var callers []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "var" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if filepath.Dir(rel) == filepath.Join("internal", "tenancy") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "tenancy" {
				return true
			}
			switch {
			case sel.Sel.Name == "NewScope":
				callers = append(callers, rel)
			case sel.Sel.Name == "NewScopeForTest" && !strings.HasSuffix(rel, "_test.go"):
				t.Errorf("%s makes a scope with NewScopeForTest outside a test", rel)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(callers) != 1 || callers[0] != allowed {
		t.Errorf("tenancy.NewScope is used in %v; only %s may make scopes", callers, allowed)
	}
}
