package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// matrixGolden is the table published in docs/SECURITY.md. A change to
// the matrix must change this too, on purpose.
const matrixGolden = "| action | GOD | admin | manager | user | viewer |\n" +
	"| --- | :-: | :-: | :-: | :-: | :-: |\n" +
	"| `company.create` | ✓ | — | — | — | — |\n" +
	"| `company.archive` | ✓ | — | — | — | — |\n" +
	"| `company.update` | ✓ | ✓ | — | — | — |\n" +
	"| `company.read` | ✓ | ✓ | ✓ | ✓ | ✓ |\n" +
	"| `users.manage` | ✓ | ✓ | — | — | — |\n" +
	"| `audit.read` | ✓ | ✓ | — | — | — |\n" +
	"| `ledger.read` | ✓ | ✓ | ✓ | ✓ | ✓ |\n" +
	"| `ledger.draft` | ✓ | ✓ | ✓ | ✓ | — |\n" +
	"| `ledger.post` | ✓ | ✓ | ✓ | — | — |\n" +
	"| `ledger.approve` | ✓ | ✓ | ✓ | — | — |\n" +
	"| `reports.read` | ✓ | ✓ | ✓ | ✓ | ✓ |\n" +
	"| `documents.read` | ✓ | ✓ | ✓ | ✓ | ✓ |\n" +
	"| `documents.upload` | ✓ | ✓ | ✓ | ✓ | — |\n" +
	"| `documents.approve` | ✓ | ✓ | ✓ | — | — |\n"

func TestMatrixGolden(t *testing.T) {
	t.Parallel()
	if got := MatrixMarkdown(); got != matrixGolden {
		t.Errorf("matrix changed; new table:\n%s", got)
	}
}

func TestMatrixShape(t *testing.T) {
	t.Parallel()
	if len(Matrix) != len(Actions) {
		t.Errorf("Matrix has %d actions, Actions lists %d", len(Matrix), len(Actions))
	}
	for _, a := range Actions {
		if _, ok := Matrix[a]; !ok {
			t.Errorf("%s is listed but has no row", a)
		}
		if !Allowed(RoleGOD, a) {
			t.Errorf("GOD may not %s", a)
		}
		// Rights only shrink down the ladder admin → manager → user → viewer.
		for i := 2; i < len(Roles); i++ {
			if Allowed(Roles[i], a) && !Allowed(Roles[i-1], a) {
				t.Errorf("%s may %s but %s may not", Roles[i], a, Roles[i-1])
			}
		}
	}
	for _, a := range []Action{ActCompanyCreate, ActCompanyArchive} {
		for _, r := range CompanyRoles {
			if Allowed(r, a) {
				t.Errorf("%s may %s: GOD only", r, a)
			}
		}
	}
	for a := range Matrix {
		for r := range Matrix[a] {
			if r == RoleViewer && Matrix[a][r] && a != ActCompanyRead && a != ActLedgerRead && a != ActReportsRead && a != ActDocumentsRead {
				t.Errorf("viewer may %s: viewers only read", a)
			}
		}
	}
	if Allowed("", ActCompanyRead) || Allowed("owner", ActCompanyRead) || Allowed(RoleGOD, "ledger.delete") {
		t.Error("unknown role or action allowed")
	}
	if _, err := ParseRole("god"); err == nil {
		t.Error("god accepted as a company role")
	}
	if r, err := ParseRole("manager"); err != nil || r != RoleManager {
		t.Errorf("ParseRole(manager) = %v, %v", r, err)
	}
}

// TestMatrixInDocs keeps docs/SECURITY.md's table the code's.
func TestMatrixInDocs(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "SECURITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), MatrixMarkdown()) {
		t.Errorf("docs/SECURITY.md does not hold the current role matrix:\n%s", MatrixMarkdown())
	}
}
