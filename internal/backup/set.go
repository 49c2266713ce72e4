package backup

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	_ "modernc.org/sqlite" // VACUUM INTO for the embedded document store's files
)

// IdentityFile is where a generated age identity lives under the data
// directory when no recipient is configured.
func IdentityFile(dataDir string) string {
	return filepath.Join(dataDir, "secrets", "backup-identity.age")
}

// dirParts are the data directory's trees copied as they are, in order.
var dirParts = []string{"companies", "seal", "audit", "secrets", "tls"}

// Options configure a Service.
type Options struct {
	DataDir    string
	Dir        string   // the backup directory; sets go in Dir/sets
	Recipients []string // age1… public keys; none: a generated identity (IdentityFile)
	Engine     string   // docdb (embedded, SQLite files) or mongod
	MongoURI   string   // mongod: where mongodump connects
	// PG gives the pgBackRest of the running appliance (its stanza made
	// on first use); nil: no PostgreSQL part.
	PG      func(ctx context.Context) (*PGBackRest, error)
	Run     CommandRunner // runs mongodump; nil: os/exec
	Version string
	Logger  *slog.Logger
	Now     func() time.Time
}

// Service makes and checks backup sets; one at a time.
type Service struct {
	o  Options
	mu sync.Mutex // one backup or verify at a time

	stateMu   sync.Mutex
	lastOK    time.Time // the newest set's time, once known
	lastErr   error     // the last attempt's failure, nil after a success
	attempted bool
}

// New returns a Service; nothing is touched until it is used.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Run == nil {
		o.Run = ExecRunner
	}
	return &Service{o: o}
}

// Dir is the backup directory.
func (s *Service) Dir() string { return s.o.Dir }

// Progress is one step of a backup, restore or verify.
type Progress struct {
	Phase string `json:"phase"` // postgres, part, verify, restore, done
	Part  string `json:"part,omitempty"`
	Step  int    `json:"step"`
	Steps int    `json:"steps"`
	Bytes int64  `json:"bytes,omitempty"`
}

// recipients resolves the configured recipients, generating the box's
// own identity the first time none is configured.
func (s *Service) recipients() ([]age.Recipient, []string, error) {
	var out []age.Recipient
	var names []string
	for _, r := range s.o.Recipients {
		rec, err := age.ParseX25519Recipient(strings.TrimSpace(r))
		if err != nil {
			return nil, nil, fmt.Errorf("backup recipient %q: %w", r, err)
		}
		out = append(out, rec)
		names = append(names, rec.String())
	}
	if len(out) > 0 {
		return out, names, nil
	}
	id, created, err := ensureIdentity(IdentityFile(s.o.DataDir))
	if err != nil {
		return nil, nil, err
	}
	if created {
		s.o.Logger.Warn("BACKUP KEY GENERATED: backups are encrypted to an age identity kept ON THIS BOX; copy it somewhere safe NOW or set VANTA_BACKUP_RECIPIENTS, since without it no backup can be restored after losing this disk",
			"identity_file", IdentityFile(s.o.DataDir), "recipient", id.Recipient().String())
	}
	return []age.Recipient{id.Recipient()}, []string{id.Recipient().String()}, nil
}

// ensureIdentity reads the identity file, or creates it.
func ensureIdentity(path string) (*age.X25519Identity, bool, error) {
	if b, err := os.ReadFile(path); err == nil {
		ids, err := age.ParseIdentities(strings.NewReader(string(b)))
		if err != nil || len(ids) == 0 {
			return nil, false, fmt.Errorf("backup identity %s: unreadable: %v", path, err)
		}
		id, ok := ids[0].(*age.X25519Identity)
		if !ok {
			return nil, false, fmt.Errorf("backup identity %s: not an X25519 identity", path)
		}
		return id, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("backup identity: %w", err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, false, fmt.Errorf("backup identity: %w", err)
	}
	body := fmt.Sprintf("# vanta backup identity, created %s\n# public key: %s\n%s\n",
		time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		return nil, false, fmt.Errorf("backup identity: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, false, fmt.Errorf("backup identity: %w", err)
	}
	return id, true, nil
}

// LoadIdentities reads age identities from a file (an identity file as
// age-keygen writes it).
func LoadIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	return ids, nil
}

// Create makes one complete set: PostgreSQL through pgBackRest first
// (its WAL covers everything after), then the document store and the
// file trees. The set exists once its manifest is written; a failure
// removes the half-made directory.
func (s *Service) Create(ctx context.Context, kind Kind, progress func(Progress)) (m Manifest, err error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() { s.record(m, err) }()
	if _, err := ParseKind(string(kind)); err != nil {
		return m, err
	}
	recips, names, err := s.recipients()
	if err != nil {
		return m, err
	}
	started := s.o.Now().UTC()
	id := started.Format(idLayout)
	setsDir := filepath.Join(s.o.Dir, "sets")
	if err := os.MkdirAll(setsDir, 0o700); err != nil {
		return m, fmt.Errorf("backup directory: %w", err)
	}
	dir := filepath.Join(setsDir, id)
	for n := 2; ; n++ {
		if err = os.Mkdir(dir, 0o700); !errors.Is(err, os.ErrExist) {
			break
		}
		id = fmt.Sprintf("%s-%d", started.Format(idLayout), n)
		dir = filepath.Join(setsDir, id)
	}
	if err != nil {
		return m, fmt.Errorf("backup set directory: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	m = Manifest{Format: FormatVersion, ID: id, Started: started, Kind: kind, Engine: s.o.Engine, Version: s.o.Version, Recipients: names}
	steps := len(dirParts) + 2
	step := 0
	next := func(phase, part string) {
		step++
		progress(Progress{Phase: phase, Part: part, Step: step, Steps: steps})
	}

	next("postgres", "postgres")
	if s.o.PG != nil {
		pg, err := s.o.PG(ctx)
		if err != nil {
			return m, fmt.Errorf("postgres backup: %w", err)
		}
		b, err := pg.Backup(ctx, kind)
		if err != nil {
			return m, fmt.Errorf("postgres backup: %w", err)
		}
		m.Postgres = &PGInfo{Label: b.Label, Kind: b.Kind, Start: b.Start, Stop: b.Stop, Size: b.Size, RepoSize: b.RepoSize, WALStart: b.WALStart, WALStop: b.WALStop}
	}
	next("part", "docstore")
	p, err := s.docstorePart(ctx, dir, recips)
	if err != nil {
		return m, err
	}
	m.Parts = append(m.Parts, p)
	for _, name := range dirParts {
		next("part", name)
		src := filepath.Join(s.o.DataDir, name)
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			continue
		}
		p, err := writePart(dir, name, name+".tar.gz.age", "tar.gz", recips, func(w io.Writer) error { return tarDir(w, src, nil) })
		if err != nil {
			return m, err
		}
		m.Parts = append(m.Parts, p)
	}
	m.Time = s.o.Now().UTC()
	if err := writeManifest(dir, m); err != nil {
		return m, err
	}
	progress(Progress{Phase: "done", Step: steps, Steps: steps, Bytes: m.TotalSize()})
	s.o.Logger.Info("backup set made", "id", m.ID, "kind", string(kind), "bytes", m.TotalSize(), "seconds", m.Time.Sub(started).Seconds())
	return m, nil
}

func writeManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	tmp := filepath.Join(dir, ManifestFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("manifest: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("manifest: %w", err)
	}
	f.Close()
	return os.Rename(tmp, filepath.Join(dir, ManifestFile))
}

// docstorePart copies the document store consistently: for the embedded
// engine each SQLite database through VACUUM INTO (a snapshot taken in
// one read transaction while FerretDB keeps writing), for mongod a
// mongodump archive.
func (s *Service) docstorePart(ctx context.Context, dir string, recips []age.Recipient) (Part, error) {
	if s.o.Engine == "mongod" {
		return writePart(dir, "docstore", "docstore.archive.gz.age", "archive", recips, func(w io.Writer) error {
			var stderr strings.Builder
			if err := s.o.Run(ctx, "mongodump", []string{"--uri=" + s.o.MongoURI, "--archive"}, nil, nil, w, &stderr); err != nil {
				return fmt.Errorf("mongodump: %w: %s", err, lastLine(stderr.String()))
			}
			return nil
		})
	}
	src := filepath.Join(s.o.DataDir, "docdb")
	tmp, err := os.MkdirTemp(s.o.Dir, ".docstore-")
	if err != nil {
		return Part{}, fmt.Errorf("docstore copy: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := copySQLite(ctx, src, tmp); err != nil {
		return Part{}, err
	}
	return writePart(dir, "docstore", "docstore.tar.gz.age", "tar.gz", recips, func(w io.Writer) error { return tarDir(w, tmp, nil) })
}

// copySQLite writes a consistent copy of every *.sqlite database in src
// into dst.
func copySQLite(ctx context.Context, src, dst string) error {
	files, _ := filepath.Glob(filepath.Join(src, "*.sqlite"))
	sort.Strings(files)
	for _, f := range files {
		if err := vacuumInto(ctx, f, filepath.Join(dst, filepath.Base(f))); err != nil {
			return fmt.Errorf("docstore copy %s: %w", filepath.Base(f), err)
		}
	}
	return nil
}

func vacuumInto(ctx context.Context, src, dst string) error {
	db, err := sql.Open("sqlite", "file:"+src+"?_pragma=busy_timeout(30000)")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return err
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// List returns every complete set, oldest first.
func (s *Service) List() ([]Manifest, error) { return ListSets(s.o.Dir) }

// VerifyReport is what Verify checked.
type VerifyReport struct {
	ID        string   `json:"id"`
	Parts     int      `json:"parts"`
	Decrypted bool     `json:"decrypted"` // every part decrypted and read to its end
	Postgres  bool     `json:"postgres"`  // pgbackrest verify passed
	Notes     []string `json:"notes,omitempty"`
}

// ErrCorrupt says a set's files do not match its manifest.
var ErrCorrupt = errors.New("backup set does not match its manifest")

// Verify checks one set: each part's sha256 against the manifest, each
// part decrypted and read through (when this box holds an identity that
// opens it), and pgBackRest's own verify of its repository.
func (s *Service) Verify(ctx context.Context, id string) (VerifyReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sets, err := s.List()
	if err != nil {
		return VerifyReport{}, err
	}
	m, err := Pick(sets, id, time.Time{})
	if err != nil {
		return VerifyReport{}, err
	}
	var ids []age.Identity
	if b, err := os.ReadFile(IdentityFile(s.o.DataDir)); err == nil {
		ids, _ = age.ParseIdentities(strings.NewReader(string(b)))
	}
	rep, err := VerifySet(ctx, filepath.Join(s.o.Dir, "sets", m.ID), m, ids)
	if err != nil {
		return rep, err
	}
	if s.o.PG != nil && m.Postgres != nil {
		pg, err := s.o.PG(ctx)
		if err != nil {
			return rep, fmt.Errorf("pgbackrest verify: %w", err)
		}
		if err := pg.Verify(ctx); err != nil {
			return rep, fmt.Errorf("pgbackrest verify: %w", err)
		}
		rep.Postgres = true
	}
	return rep, nil
}

// VerifySet checks a set's parts: digests always, decryption when
// identities are given.
func VerifySet(ctx context.Context, dir string, m Manifest, ids []age.Identity) (VerifyReport, error) {
	rep := VerifyReport{ID: m.ID, Parts: len(m.Parts)}
	for _, p := range m.Parts {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		sum, n, err := fileDigest(filepath.Join(dir, p.File))
		if err != nil {
			return rep, fmt.Errorf("%w: part %s: %v", ErrCorrupt, p.Name, err)
		}
		if sum != p.SHA256 || n != p.Size {
			return rep, fmt.Errorf("%w: part %s: sha256 %s (%d bytes), manifest says %s (%d bytes)", ErrCorrupt, p.Name, sum, n, p.SHA256, p.Size)
		}
	}
	if len(ids) == 0 {
		rep.Notes = append(rep.Notes, "no identity on this box opens the set: decryption not tested (the digests match)")
		return rep, nil
	}
	for _, p := range m.Parts {
		r, err := openPart(filepath.Join(dir, p.File), ids)
		if err != nil {
			return rep, fmt.Errorf("%w: part %s: %v", ErrCorrupt, p.Name, err)
		}
		n, err := io.Copy(io.Discard, r)
		r.Close()
		if err != nil || n != p.Plain {
			return rep, fmt.Errorf("%w: part %s: decrypted %d of %d bytes: %v", ErrCorrupt, p.Name, n, p.Plain, err)
		}
	}
	rep.Decrypted = true
	return rep, nil
}
