package auth

import (
	"io/fs"
	"strings"
	"testing"
)

// TestNoticeTriggersUseTheChannel: the triggers' SQL names the channel
// this package listens on (the SQL file cannot use the Go constant).
func TestNoticeTriggersUseTheChannel(t *testing.T) {
	t.Parallel()
	b, err := fs.ReadFile(Migrations, "migrations/system/0007_revocation_notices.sql")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "pg_notify('"+NoticeChannel+"'"); n != 3 {
		t.Errorf("%d of the 3 triggers notify on %s", n, NoticeChannel)
	}
}
