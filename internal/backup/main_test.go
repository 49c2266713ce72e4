package backup

import (
	"fmt"
	"os"
	"testing"
)

// TestMain starts, once for the package, a real PostgreSQL cluster that
// archives its WAL into a pgBackRest repository (pgCluster).
func TestMain(m *testing.M) {
	c, err := startPGCluster()
	if err != nil {
		fmt.Fprintln(os.Stderr, "backup tests:", err)
		os.Exit(1)
	}
	pgc = c
	code := m.Run()
	c.close()
	os.Exit(code)
}
