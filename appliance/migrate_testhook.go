//go:build vantatest

package appliance

import (
	"fmt"
	"os"

	"github.com/vanta-ledger/vanta/internal/migrate"
)

// Only binaries built with the vantatest tag, which only the integration
// tests build, read TestCompanyMigrationsEnv: a shipped appliance has no
// way to run SQL from a directory.
func init() {
	extraMigrations = func() ([]migrate.Migration, error) {
		dir := os.Getenv(TestCompanyMigrationsEnv)
		if dir == "" {
			return nil, nil
		}
		// The folder layout of a domain package: dir/migrations/company.
		reg, err := migrate.NewRegistry(migrate.Source{Name: "test", FS: os.DirFS(dir)})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", TestCompanyMigrationsEnv, err)
		}
		return append(reg.Line(migrate.System), reg.Line(migrate.Company)...), nil
	}
}
