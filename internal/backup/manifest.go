package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// FormatVersion is the manifest's layout version; restore refuses newer.
const FormatVersion = 1

// ManifestFile is the plain manifest's name inside a set directory.
const ManifestFile = "manifest.json"

// idLayout names a set by when it started, in UTC: sorting ids sorts sets.
const idLayout = "20060102T150405Z"

// Manifest describes one backup set. It is plain JSON and holds no
// secrets: names, sizes, digests and versions only.
type Manifest struct {
	Format     int       `json:"format"`
	ID         string    `json:"id"`
	Started    time.Time `json:"started"`
	Time       time.Time `json:"time"` // complete: the set holds the data as of this time
	Kind       Kind      `json:"kind"`
	Engine     string    `json:"document_engine"`
	Version    string    `json:"vanta_version"`
	Recipients []string  `json:"recipients"` // age public keys the parts are encrypted to
	Parts      []Part    `json:"parts"`
	Postgres   *PGInfo   `json:"postgres,omitempty"`
}

// Part is one encrypted file of a set.
type Part struct {
	Name   string `json:"name"`   // docstore, companies, seal, audit, secrets, tls
	File   string `json:"file"`   // inside the set directory
	Format string `json:"format"` // tar.gz (a directory) or archive (mongodump --archive, gzip)
	Size   int64  `json:"size"`   // encrypted bytes on disk
	Plain  int64  `json:"plain_size"`
	SHA256 string `json:"sha256"` // of the encrypted file
}

// PGInfo is the set's pgBackRest backup.
type PGInfo struct {
	Label    string    `json:"label"`
	Kind     Kind      `json:"kind"`
	Start    time.Time `json:"start"`
	Stop     time.Time `json:"stop"`
	Size     int64     `json:"size"`
	RepoSize int64     `json:"repo_size"`
	WALStart string    `json:"wal_start,omitempty"`
	WALStop  string    `json:"wal_stop,omitempty"`
}

// TotalSize is the bytes the set's own files take (pgBackRest's share
// counted by its repository size).
func (m Manifest) TotalSize() int64 {
	var n int64
	for _, p := range m.Parts {
		n += p.Size
	}
	if m.Postgres != nil {
		n += m.Postgres.RepoSize
	}
	return n
}

func (m Manifest) validate() error {
	switch {
	case m.Format < 1 || m.Format > FormatVersion:
		return fmt.Errorf("manifest format %d: this vanta reads format 1 to %d", m.Format, FormatVersion)
	case m.ID == "":
		return errors.New("manifest has no id")
	case m.Time.IsZero():
		return errors.New("manifest has no time")
	}
	for _, p := range m.Parts {
		if p.Name == "" || p.File == "" || filepath.Base(p.File) != p.File || len(p.SHA256) != 64 {
			return fmt.Errorf("manifest part %q: bad name, file or digest", p.Name)
		}
	}
	return nil
}

// ReadManifest reads and checks a set's manifest.
func ReadManifest(setDir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(setDir, ManifestFile))
	if err != nil {
		return m, fmt.Errorf("backup set %s: %w", filepath.Base(setDir), err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("backup set %s: manifest: %w", filepath.Base(setDir), err)
	}
	if err := m.validate(); err != nil {
		return m, fmt.Errorf("backup set %s: %w", filepath.Base(setDir), err)
	}
	return m, nil
}

// ListSets reads every complete set under a backup directory, oldest
// first. A directory without a manifest (a backup that died half-way) is
// not a set.
func ListSets(backupDir string) ([]Manifest, error) {
	entries, err := os.ReadDir(filepath.Join(backupDir, "sets"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list backup sets: %w", err)
	}
	var out []Manifest
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		m, err := ReadManifest(filepath.Join(backupDir, "sets", e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// ErrNoSet is returned when no set matches a restore's choice.
var ErrNoSet = errors.New("no matching backup set")

// Pick chooses the set to restore: by id, else the newest complete at or
// before to, else (both empty) the newest.
func Pick(sets []Manifest, id string, to time.Time) (Manifest, error) {
	if id != "" {
		for _, m := range sets {
			if m.ID == id {
				return m, nil
			}
		}
		return Manifest{}, fmt.Errorf("%w: no set %q", ErrNoSet, id)
	}
	for i := len(sets) - 1; i >= 0; i-- {
		if to.IsZero() || !sets[i].Time.After(to) {
			return sets[i], nil
		}
	}
	if to.IsZero() {
		return Manifest{}, fmt.Errorf("%w: the backup directory has no sets", ErrNoSet)
	}
	return Manifest{}, fmt.Errorf("%w: none completed at or before %s", ErrNoSet, to.UTC().Format(time.RFC3339))
}
