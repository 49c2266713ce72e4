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
			if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "NewScope" {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "tenancy" {
					callers = append(callers, rel)
				}
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
