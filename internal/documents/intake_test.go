package documents

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vanta-ledger/vanta/internal/docdbtest"
	"github.com/vanta-ledger/vanta/internal/quota"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// pdfLike is size bytes that sniff as a PDF, with a marker repeated in it
// so that a plaintext leak is easy to spot.
func pdfLike(size int, marker string) []byte {
	b := []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	for len(b) < size {
		b = append(b, marker...)
		b = append(b, '\n')
	}
	return b[:size]
}

func inboxFiles(t *testing.T, e *env, sc tenancy.Scope) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(sc.Files(e.store.Files), "documents", CategoryInbox))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	return names
}

func storedPath(e *env, sc tenancy.Scope, id uuid.UUID) string {
	return filepath.Join(sc.Files(e.store.Files), "documents", CategoryInbox, id.String())
}

func TestIntakeRoundTrip(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	for _, size := range []int{100, chunkSize - 1, chunkSize, chunkSize + 1, 2 * chunkSize, 3*chunkSize + 17} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			marker := fmt.Sprintf("SECRET-PAYROLL-%d", size)
			content := pdfLike(size, marker)
			d, err := e.store.Intake(ctx, e.a, bytes.NewReader(content), "scan "+marker+".pdf", tester)
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != StatusQueued || d.Kind != "pdf" || d.Size != int64(size) || d.Duplicate || d.JobID == uuid.Nil ||
				d.Category != CategoryInbox || d.CreatedBy.String() != tester.UserID {
				t.Fatalf("document = %+v", d)
			}
			raw, err := os.ReadFile(storedPath(e, e.a, d.ID))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte(marker)) || bytes.Contains(raw, []byte("%PDF")) {
				t.Fatal("the stored file holds plaintext")
			}
			// The metadata holds neither the filename nor the content.
			var rec bson.Raw
			if err := testDocDB.Client.Database(e.a.MongoDatabase()).Collection(collDocuments).
				FindOne(ctx, bson.D{{Key: "_id", Value: d.ID.String()}}).Decode(&rec); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(rec, []byte(marker)) {
				t.Fatal("the metadata holds the filename in the clear")
			}
			got, err := e.store.Get(ctx, e.a, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Filename != "scan "+marker+".pdf" || got.ID != d.ID || got.JobID != d.JobID {
				t.Fatalf("Get = %+v", got)
			}
			path, kind, err := e.store.Open(ctx, e.a, d.ID, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			plain, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(plain, content) || kind != "pdf" {
				t.Fatalf("Open gave %d bytes of kind %s, want the %d uploaded", len(plain), kind, len(content))
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("plaintext copy mode %v (%v), want 0600", fi.Mode(), err)
			}
			if _, err := e.store.Get(ctx, e.b, d.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("company B gets A's document: %v", err)
			}
		})
	}
	used, err := e.quotas.StorageUsed(ctx, e.a)
	if err != nil {
		t.Fatal(err)
	}
	want := int64(100 + chunkSize - 1 + chunkSize + chunkSize + 1 + 2*chunkSize + 3*chunkSize + 17)
	if used != want {
		t.Fatalf("storage quota counts %d bytes, want %d", used, want)
	}
}

// The encrypted original opens only with its company's key, for its own
// document id, whole and in order.
func TestEncryptedFileTamperAndKeys(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	content := pdfLike(3*chunkSize+100, "tamper")
	d, err := e.store.Intake(ctx, e.a, bytes.NewReader(content), "t.pdf", tester)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(storedPath(e, e.a, d.ID))
	if err != nil {
		t.Fatal(err)
	}
	keyA, err := e.store.Keys.DataKey(ctx, e.a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keyA.Destroy)
	keyB, err := e.store.Keys.DataKey(ctx, e.b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keyB.Destroy)
	// chunk offsets, from the length prefixes
	var offs []int
	for p := len(fileMagic) + 1; p < len(raw); {
		offs = append(offs, p)
		p += 4 + int(uint32(raw[p])<<24|uint32(raw[p+1])<<16|uint32(raw[p+2])<<8|uint32(raw[p+3]))
	}
	if len(offs) != 4 {
		t.Fatalf("%d chunks, want 4", len(offs))
	}
	swap := func() []byte { // chunks 0 and 1 exchanged
		c0, c1 := raw[offs[0]:offs[1]], raw[offs[1]:offs[2]]
		out := append([]byte{}, raw[:offs[0]]...)
		out = append(out, c1...)
		out = append(out, c0...)
		return append(out, raw[offs[2]:]...)
	}
	flip := append([]byte{}, raw...)
	flip[offs[1]+40] ^= 1
	cases := []struct {
		name    string
		file    []byte
		company uuid.UUID
		doc     uuid.UUID
		ok      bool
	}{
		{"as stored", raw, e.a.Company(), d.ID, true},
		{"another company's key", raw, e.b.Company(), d.ID, false},
		{"another document id", raw, e.a.Company(), uuid.New(), false},
		{"cut after a whole chunk", raw[:offs[3]], e.a.Company(), d.ID, false},
		{"cut inside a chunk", raw[:len(raw)-5], e.a.Company(), d.ID, false},
		{"chunks reordered", swap(), e.a.Company(), d.ID, false},
		{"a bit flipped", flip, e.a.Company(), d.ID, false},
		{"header only", raw[:offs[0]], e.a.Company(), d.ID, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := keyA
			if c.company == e.b.Company() {
				key = keyB
			}
			var out bytes.Buffer
			_, err := decryptTo(&out, bytes.NewReader(c.file), key, c.company, c.doc)
			if c.ok {
				if err != nil || !bytes.Equal(out.Bytes(), content) {
					t.Fatalf("did not open: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("opened (err %v)", err)
			}
		})
	}
	// Company B's store cannot open A's document even given its file: B
	// has no record of it, and B's key does not open it (above).
	if _, _, err := e.store.Open(ctx, e.b, d.ID, t.TempDir()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("B opens A's document: %v", err)
	}
}

func TestIntakeDuplicate(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	content := pdfLike(2*chunkSize+5, "duplicate")
	first, err := e.store.Intake(ctx, e.a, bytes.NewReader(content), "one.pdf", tester)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.store.Intake(ctx, e.a, bytes.NewReader(content), "two.pdf", tester)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.ID != first.ID || again.JobID != first.JobID || again.Filename != "one.pdf" {
		t.Fatalf("second upload = %+v, want the first document marked duplicate", again)
	}
	if files := inboxFiles(t, e, e.a); len(files) != 1 || files[0] != first.ID.String() {
		t.Fatalf("inbox holds %v, want only the first document", files)
	}
	dbA := testDocDB.Client.Database(e.a.MongoDatabase())
	if n := docdbtest.Count(t, dbA, collDocuments, bson.D{}); n != 1 {
		t.Fatalf("%d document records, want 1", n)
	}
	if used, _ := e.quotas.StorageUsed(ctx, e.a); used != int64(len(content)) {
		t.Fatalf("storage quota counts %d, want %d", used, len(content))
	}
	// Another company's identical file is its own document: hashes are
	// keyed per company, so nothing links the two.
	other, err := e.store.Intake(ctx, e.b, bytes.NewReader(content), "one.pdf", tester)
	if err != nil {
		t.Fatal(err)
	}
	if other.Duplicate || other.ID == first.ID {
		t.Fatalf("company B's upload = %+v, want a new document", other)
	}
	var ra, rb record
	_ = dbA.Collection(collDocuments).FindOne(ctx, bson.D{}).Decode(&ra)
	_ = testDocDB.Client.Database(e.b.MongoDatabase()).Collection(collDocuments).FindOne(ctx, bson.D{}).Decode(&rb)
	if ra.ContentMAC == "" || ra.ContentMAC == rb.ContentMAC {
		t.Fatalf("content hashes %q and %q: want keyed per company", ra.ContentMAC, rb.ContentMAC)
	}
}

// Every refusal leaves nothing: no file, no temporary file, no record, no
// quota.
func TestIntakeRefusals(t *testing.T) {
	cases := []struct {
		name    string
		content []byte
		setup   func(*env)
		check   func(t *testing.T, err error)
		reader  func([]byte) io.Reader
	}{
		{"upload cut off mid-stream", pdfLike(3*reserveStep, "cut"), nil, func(t *testing.T, err error) {
			if !errors.Is(err, errCut) {
				t.Fatalf("err = %v, want the reader's error", err)
			}
		}, func(b []byte) io.Reader {
			return io.MultiReader(bytes.NewReader(b[:reserveStep+chunkSize+3]), failing{})
		}},
		{"filename too long", pdfLike(1000, "name"), nil, func(t *testing.T, err error) {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "filename" {
				t.Fatalf("err = %v, want a filename field error", err)
			}
		}, nil},
		{"empty", nil, nil, func(t *testing.T, err error) {
			if !errors.Is(err, ErrEmpty) {
				t.Fatalf("err = %v, want ErrEmpty", err)
			}
		}, nil},
		{"zip named pdf", append([]byte("PK\x03\x04"), make([]byte, 2000)...), nil, func(t *testing.T, err error) {
			var te *UnsupportedTypeError
			if !errors.As(err, &te) || te.Filename != "upload.pdf" {
				t.Fatalf("err = %v, want *UnsupportedTypeError", err)
			}
		}, nil},
		{"too large", pdfLike(5*chunkSize, "big"), func(e *env) { e.store.MaxBytes = 2*chunkSize + 1 }, func(t *testing.T, err error) {
			var tl *TooLargeError
			if !errors.As(err, &tl) || tl.Limit != 2*chunkSize+1 {
				t.Fatalf("err = %v, want *TooLargeError with the limit", err)
			}
		}, nil},
		{"over the storage quota", pdfLike(3*chunkSize, "quota"), func(e *env) {
			e.store.Quota = quota.Quotas{Redis: testRedis, Limits: quota.Limits{StorageBytes: 2 * chunkSize}}
		}, func(t *testing.T, err error) {
			var qe *quota.ExceededError
			if !errors.As(err, &qe) || qe.Quota != "storage_bytes" {
				t.Fatalf("err = %v, want *quota.ExceededError", err)
			}
		}, nil},
		{"quota passed only by the last bytes", pdfLike(2*reserveStep+1, "edge"), func(e *env) {
			e.store.Quota = quota.Quotas{Redis: testRedis, Limits: quota.Limits{StorageBytes: 2 * reserveStep}}
		}, func(t *testing.T, err error) {
			var qe *quota.ExceededError
			if !errors.As(err, &qe) {
				t.Fatalf("err = %v, want *quota.ExceededError", err)
			}
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := setup(t)
			if c.setup != nil {
				c.setup(e)
			}
			ctx := context.Background()
			var r io.Reader = bytes.NewReader(c.content)
			if c.reader != nil {
				r = c.reader(c.content)
			}
			name := "upload.pdf"
			if c.name == "filename too long" {
				name = strings.Repeat("x", MaxFilename+1)
			}
			d, err := e.store.Intake(ctx, e.a, r, name, tester)
			if err == nil {
				t.Fatalf("accepted: %+v", d)
			}
			c.check(t, err)
			if files := inboxFiles(t, e, e.a); len(files) != 0 {
				t.Fatalf("left files %v", files)
			}
			db := testDocDB.Client.Database(e.a.MongoDatabase())
			for _, coll := range []string{collDocuments, collHashes} {
				if n := docdbtest.Count(t, db, coll, bson.D{}); n != 0 {
					t.Fatalf("left %d records in %s", n, coll)
				}
			}
			if used, err := e.quotas.StorageUsed(ctx, e.a); err != nil || used != 0 {
				t.Fatalf("left %d bytes of quota (%v)", used, err)
			}
		})
	}
}

// At the quota's exact size, an upload fits.
func TestIntakeFitsQuotaExactly(t *testing.T) {
	e := setup(t)
	content := pdfLike(2*reserveStep, "exact")
	e.store.Quota = quota.Quotas{Redis: testRedis, Limits: quota.Limits{StorageBytes: int64(len(content))}}
	if _, err := e.store.Intake(context.Background(), e.a, bytes.NewReader(content), "x.pdf", tester); err != nil {
		t.Fatal(err)
	}
	if used, _ := e.quotas.StorageUsed(context.Background(), e.a); used != int64(len(content)) {
		t.Fatalf("quota counts %d, want %d", used, len(content))
	}
}

var errCut = errors.New("connection reset by peer")

// failing is a reader whose connection broke.
type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errCut }

// Two uploads of the same content at once make one document: the keyed
// hash is claimed once.
func TestIntakeConcurrentDuplicates(t *testing.T) {
	e := setup(t)
	content := pdfLike(chunkSize+99, "race")
	const n = 4
	docs := make([]Document, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			docs[i], errs[i] = e.store.Intake(context.Background(), e.a, bytes.NewReader(content), fmt.Sprint(i), tester)
		}()
	}
	wg.Wait()
	fresh := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if docs[i].ID != docs[0].ID {
			t.Fatalf("two documents for one content: %v and %v", docs[0].ID, docs[i].ID)
		}
		if !docs[i].Duplicate {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d uploads stored the content, want 1", fresh)
	}
	if files := inboxFiles(t, e, e.a); len(files) != 1 {
		t.Fatalf("inbox holds %v", files)
	}
	if used, _ := e.quotas.StorageUsed(context.Background(), e.a); used != int64(len(content)) {
		t.Fatalf("quota counts %d, want %d", used, len(content))
	}
}
