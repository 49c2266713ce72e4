package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sqlStart is a string that begins like a statement: a SQL keyword as a
// whole word at the start, followed by what makes it a statement (an HTTP
// method in a route, "DELETE /api/…", or a sentence, "Create a company",
// is not). Keywords that read like English (SELECT, GRANT, WITH…) count
// in capitals only, as this code base writes SQL.
var sqlStart = regexp.MustCompile(`^\s*(` +
	`SELECT\s+\S|GRANT\s|REVOKE\s|TRUNCATE\s|WITH\s+\w+\s+AS\s*\(|` +
	`(?i:insert\s+into\s|update\s+\S+\s+set\s|delete\s+from\s|` +
	`(create|alter|drop)\s+(or\s+replace\s+)?(temp\w*\s+|unique\s+)?` +
	`(table|schema|role|index|function|trigger|policy|view|extension|type|sequence|database|user)\b))`)

// databaseImports are the packages that run queries. pgconn alone (error
// types) is allowed in errors.go, which classifies a store that is down.
var databaseImports = map[string]bool{
	"github.com/jackc/pgx/v5":         true,
	"github.com/jackc/pgx/v5/pgxpool": true,
	"github.com/jackc/pgx/v5/stdlib":  true,
	"database/sql":                    true,
}

// sqlProblems lists where a source file of internal/api reaches the
// database itself: an import of a query package, or a string literal
// that is a SQL statement.
func sqlProblems(name string, src []byte) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, 0)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if databaseImports[path] || (path == "github.com/jackc/pgx/v5/pgconn" && filepath.Base(name) != "errors.go") {
			out = append(out, fset.Position(imp.Pos()).String()+": imports "+path)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err == nil && sqlStart.MatchString(s) {
			out = append(out, fset.Position(lit.Pos()).String()+": SQL "+strconv.Quote(truncate(strings.TrimSpace(s), 60)))
		}
		return true
	})
	return out, nil
}

// TestNoSQLInAPI keeps SQL with its domain (acceptance 2 of issue 9):
// handlers call store functions of internal/tenancy, internal/audit,
// internal/auth and internal/seal, and no file of this package opens a
// query of its own.
func TestNoSQLInAPI(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		problems, err := sqlProblems(name, src)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: move the query into its domain package's store", p)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("checked only %d files: is the test running in internal/api?", checked)
	}
}

// TestNoSQLInAPIFinds proves the check finds what it looks for, so that
// TestNoSQLInAPI passing means something.
func TestNoSQLInAPIFinds(t *testing.T) {
	src := "package api\n\nimport (\n\t\"net/http\"\n\t\"github.com/jackc/pgx/v5/pgxpool\"\n)\n\n" +
		"var _ *pgxpool.Pool\nvar _ = http.MethodDelete\n" +
		"const q = `\n\tSELECT name FROM vanta.companies WHERE id = $1`\n" +
		"var methods = []string{\"DELETE\", \"GET\"}\n" +
		"func f() string { return \"update vanta.companies SET name = $1\" + \"insert into x values (1)\" }\n"
	problems, err := sqlProblems("handlers.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 4 {
		t.Errorf("found %d problems, want 4 (the import and three statements): %q", len(problems), problems)
	}
	problems, err = sqlProblems("errors.go", []byte("package api\nimport \"github.com/jackc/pgx/v5/pgconn\"\nvar _ *pgconn.PgError\n"))
	if err != nil || len(problems) != 0 {
		t.Errorf("errors.go may classify pgconn errors: %q %v", problems, err)
	}
}
