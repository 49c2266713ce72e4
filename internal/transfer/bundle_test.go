package transfer

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/seal"
)

type testSection struct {
	s    Section
	data []byte
}

// bundleFixture writes a bundle of sections and returns it with what
// opens it.
func bundleFixture(t *testing.T, sections []testSection) (bundle []byte, id *age.X25519Identity, company uuid.UUID) {
	t.Helper()
	kr, err := seal.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kr.Destroy)
	company = uuid.New()
	wrapped, err := kr.NewDataKey(company.String())
	if err != nil {
		t.Fatal(err)
	}
	key, err := kr.DataKey(company.String(), wrapped)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Destroy()
	id, err = age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Company: company, CompanyMigration: 4, Created: time.Now().UTC()}, key, id.Recipient())
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
	return buf.Bytes(), id, company
}

// readAll opens a bundle with id and reads every section.
func readAll(b []byte, id age.Identity) ([]testSection, error) {
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	raw, err := r.UnwrapKey(id)
	if err != nil {
		return nil, err
	}
	key, err := seal.ImportDataKey(r.Header.Company.String(), raw)
	if err != nil {
		return nil, err
	}
	defer key.Destroy()
	if err := r.Open(key); err != nil {
		return nil, err
	}
	var out []testSection
	for {
		s, data, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		d, err := io.ReadAll(data)
		if err != nil {
			return out, err
		}
		out = append(out, testSection{s, d})
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func TestBundleRoundTrip(t *testing.T) {
	t.Parallel()
	big := randomBytes(3*chunkSize + 17)
	for _, tc := range []struct {
		name     string
		sections []testSection
	}{
		{"empty body", nil},
		{"one empty section", []testSection{{Section{Kind: KindCompany, Name: "company"}, nil}}},
		{"small sections", []testSection{
			{Section{Kind: KindTable, Name: "accounts", Columns: []string{"a", "b"}}, []byte("1\t2\n")},
			{Section{Kind: KindCollection, Name: "documents"}, []byte("doc")},
		}},
		{"exactly one chunk", []testSection{{Section{Kind: KindFile, Name: "documents/inbox/x"}, randomBytes(chunkSize)}}},
		{"many chunks", []testSection{
			{Section{Kind: KindFile, Name: "documents/inbox/a"}, big},
			{Section{Kind: KindFile, Name: "documents/inbox/b"}, []byte("tail")},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, id, company := bundleFixture(t, tc.sections)
			h, err := Verify(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if h.Company != company || h.CompanyMigration != 4 || h.Format != FormatVersion {
				t.Fatalf("header %+v", h)
			}
			got, err := readAll(b, id)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if len(got) != len(tc.sections) {
				t.Fatalf("%d sections, want %d", len(got), len(tc.sections))
			}
			for i := range got {
				if got[i].s.Kind != tc.sections[i].s.Kind || got[i].s.Name != tc.sections[i].s.Name || !bytes.Equal(got[i].data, tc.sections[i].data) {
					t.Errorf("section %d: got %+v (%d bytes), want %+v (%d bytes)", i, got[i].s, len(got[i].data), tc.sections[i].s, len(tc.sections[i].data))
				}
			}
		})
	}
}

// TestBundleRefusesDamage: a bundle cut short, with a byte flipped
// anywhere, or opened with the wrong identity is refused with an error
// that names the problem, both by Verify (no keys) and by the reader.
func TestBundleRefusesDamage(t *testing.T) {
	t.Parallel()
	secret := []byte("Consulting fee for March, very secret")
	b, id, _ := bundleFixture(t, []testSection{
		{Section{Kind: KindTable, Name: "journal_entries"}, secret},
		{Section{Kind: KindFile, Name: "documents/inbox/a"}, randomBytes(2*chunkSize + 5)},
	})
	if bytes.Contains(b, secret) {
		t.Fatal("the bundle holds its body in the clear")
	}
	flip := func(at int) []byte {
		c := bytes.Clone(b)
		c[at] ^= 0x01
		return c
	}
	// A header that still parses, saying another migration version.
	migration := bytes.Index(b, []byte(`"company_migration":4`)) + len(`"company_migration":`)
	other, _ := age.GenerateX25519Identity()
	for _, tc := range []struct {
		name      string
		bundle    []byte
		id        age.Identity
		verifyErr error // nil: Verify passes
		readErr   error
	}{
		{"empty", nil, id, ErrNotBundle, ErrNotBundle},
		{"not a bundle", []byte("%PDF-1.4 hello"), id, ErrNotBundle, ErrNotBundle},
		{"cut in the header", b[:12], id, ErrTruncated, ErrTruncated},
		{"cut in the body", b[:len(b)/2], id, ErrTruncated, ErrTruncated},
		{"trailer missing", b[:len(b)-40], id, ErrTruncated, ErrTruncated},
		{"checksum cut", b[:len(b)-1], id, ErrTruncated, ErrTruncated},
		{"byte flipped in the body", flip(len(b) / 2), id, ErrChecksum, ErrDecrypt},
		{"byte flipped in the checksum", flip(len(b) - 3), id, ErrChecksum, ErrChecksum},
		{"byte flipped in the header", flip(migration), id, ErrChecksum, ErrDecrypt},
		{"bytes after the trailer", append(bytes.Clone(b), 0), id, ErrMalformed, ErrMalformed},
		{"wrong identity", b, other, nil, age.ErrIncorrectIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Verify(bytes.NewReader(tc.bundle))
			if tc.verifyErr == nil && err != nil || tc.verifyErr != nil && !errors.Is(err, tc.verifyErr) && !errors.Is(err, ErrMalformed) {
				t.Errorf("verify: %v, want %v", err, tc.verifyErr)
			}
			_, err = readAll(tc.bundle, tc.id)
			if err == nil {
				t.Fatal("read a damaged bundle without an error")
			}
			if !errors.Is(err, tc.readErr) && !errors.Is(err, ErrMalformed) {
				t.Errorf("read: %v, want %v", err, tc.readErr)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Error("empty error")
			}
		})
	}
}
