package appliance

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// ConnectSuperuser connects an operator's command (vanta migrate status,
// vanta ledger import and export) to the running appliance's PostgreSQL
// on DIR/run/postgres as its superuser, with the password in
// DIR/secrets/postgres-superuser: it needs `vanta init` running and the
// secret readable (root or the appliance's user), not the seal.
func ConnectSuperuser(ctx context.Context, dataDir string) (*pgx.Conn, error) {
	l := Layout{Root: dataDir}
	if fi, err := os.Stat(dataDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s does not exist", ErrDataDir, dataDir)
	}
	pass, err := readSecret(l, "postgres-superuser")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s", ErrDataDir, dataDir, l.Secret("postgres-superuser"))
	}
	if err != nil {
		return nil, fmt.Errorf("%w (run as root or the appliance's user)", err)
	}
	cat := &catalog{layout: l}
	conn, err := pgx.Connect(ctx, cat.postgresDSN(pgSuperuser, pass, pgDatabase))
	if err != nil {
		var ne *net.OpError
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &ne) {
			return nil, fmt.Errorf("%w at %s (is `vanta init --data %s` running?): %v", ErrPostgresDown, l.Path("run", "postgres"), dataDir, err)
		}
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", l.Path("run", "postgres"), err)
	}
	return conn, nil
}
