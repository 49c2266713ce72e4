package transfer

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// craft writes a bundle for a new company id with sections, under a
// random company key, and returns it with that key's raw bytes.
func craft(t *testing.T, migration int, sections ...testSection) (uuid.UUID, []byte, []byte) {
	t.Helper()
	id := uuid.New()
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	key, err := seal.ImportDataKey(id.String(), bytes.Clone(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer key.Destroy()
	who, _ := age.GenerateX25519Identity()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Company: id, CompanyMigration: migration, Created: time.Now().UTC()}, key, who.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sections {
		sw, err := w.Section(s.s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sw.Write(s.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return id, buf.Bytes(), raw
}

// TestImportRefusesCraftedBundles: a bundle made with a valid key but
// naming what is not the new company's — a system table, a column the
// schema lacks, another chain, a foreign collection, a path out of the
// files directory — is refused, and leaves nothing behind: no register
// row, no schema, no document database, no files. A plain bundle goes in
// once; its id again is a conflict; another migration version is refused.
func TestImportRefusesCraftedBundles(t *testing.T) {
	ctx := context.Background()
	db := testPG.Database(t, 4)
	kr, err := seal.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kr.Destroy)
	st := Stores{Admin: db.Super, Mongo: testDocDB.Client, Redis: testRedis, Files: t.TempDir(), Audit: t.TempDir(),
		Migrator: testMigrator, Keyring: func() (*seal.Keyring, error) { return kr, nil }}
	head := testMigrator.Registry().Head("company")
	company := testSection{Section{Kind: KindCompany, Name: "company"}, []byte(`{"company_name":"Crafted Ltd","settings":{}}` + "\n")}
	by := tenancy.Actor{UserID: "tester", Role: "operator"}

	for _, tc := range []struct {
		name    string
		section testSection
	}{
		{"a system table", testSection{Section{Kind: KindTable, Name: "pg_authid", Columns: []string{"rolname"}}, []byte("x\n")}},
		{"a table of the register", testSection{Section{Kind: KindTable, Name: "companies", Columns: []string{"id"}}, nil}},
		{"a column the table lacks", testSection{Section{Kind: KindTable, Name: "accounts", Columns: []string{"company_id", "rolpassword"}}, nil}},
		{"another chain", testSection{Section{Kind: KindAudit, Name: "system", Columns: auditColumns}, nil}},
		{"a foreign collection", testSection{Section{Kind: KindCollection, Name: "system.users"}, nil}},
		{"a path out of the files", testSection{Section{Kind: KindFile, Name: "../../escape"}, []byte("x")}},
		{"a path to another document directory", testSection{Section{Kind: KindFile, Name: "documents/../../x/" + uuid.NewString()}, []byte("x")}},
		{"an unknown kind", testSection{Section{Kind: "shell", Name: "x"}, nil}},
		{"a malformed document", testSection{Section{Kind: KindCollection, Name: "documents"}, []byte{9, 0, 0, 0, 1, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, b, raw := craft(t, head, company, tc.section)
			_, err := Import(ctx, st, bytes.NewReader(b), raw, by)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("import: %v, want %v", err, ErrMalformed)
			}
			var n int
			if err := db.Super.QueryRow(ctx, `SELECT (SELECT count(*) FROM vanta.companies WHERE id = $1)
				+ (SELECT count(*) FROM pg_namespace WHERE nspname = $2) + (SELECT count(*) FROM audit.records WHERE chain = $3)`,
				id, tenancy.MigrationTarget(id).Schema, id.String()).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("a refused import left %d rows or schemas", n)
			}
			names, err := testDocDB.Client.ListDatabaseNames(ctx, map[string]any{})
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range names {
				if name == "vanta_c_"+hexID(id) {
					t.Errorf("a refused import left its document database")
				}
			}
			if _, err := os.Stat(filepath.Join(st.Files, id.String())); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused import left its files directory: %v", err)
			}
			if _, err := os.Stat(filepath.Join(st.Files, "..", "escape")); !errors.Is(err, os.ErrNotExist) {
				t.Error("a file was written outside the files directory")
			}
		})
	}

	id, b, raw := craft(t, head, company)
	res, err := Import(ctx, st, bytes.NewReader(b), bytes.Clone(raw), by)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	testDocDB.DropOnCleanup(t, "vanta_c_"+hexID(id))
	if res.Name != "Crafted Ltd" || !res.AuditChain.OK {
		t.Errorf("import result %+v", res)
	}
	var status string
	if err := db.Super.QueryRow(ctx, "SELECT status FROM vanta.companies WHERE id = $1", id).Scan(&status); err != nil || status != tenancy.StatusActive {
		t.Errorf("imported company: %q %v", status, err)
	}
	if _, err := Import(ctx, st, bytes.NewReader(b), bytes.Clone(raw), by); !errors.Is(err, ErrCompanyExists) {
		t.Errorf("second import: %v", err)
	}
	_, b, raw = craft(t, head+1, company)
	var ve *VersionError
	if _, err := Import(ctx, st, bytes.NewReader(b), raw, by); !errors.As(err, &ve) {
		t.Errorf("import from a newer schema: %v", err)
	}
}

func hexID(id uuid.UUID) string {
	s := id.String()
	return s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
}
