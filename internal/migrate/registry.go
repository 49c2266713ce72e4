// Package migrate runs the appliance's numbered SQL migrations. There are
// two lines: the system line runs once per appliance (the vanta, auth and
// audit schemas), the company line once per company schema. Each domain
// package owns its SQL as embedded files
//
//	migrations/system/NNNN_name.sql
//	migrations/company/NNNN_name.sql
//
// and a Registry merges them, refusing two files with one version in a
// line. A domain whose schema comes from a library (the job queue's, made
// by River's own migrator) gives Go steps instead of files: a Go step is a
// numbered migration like any other, run in the same transaction as its
// bookkeeping row, so the line stays one gapless sequence. A Migrator applies what is missing, one transaction per
// migration, serialised by advisory locks so that two processes starting
// together do not race, and records what it applied: the system line in
// vanta.schema_migrations (the table the appliance has always kept), the
// company line in vanta.company_migrations, one row per company and
// version. After every company step it secures every table of the company
// schema (owner, forced row-level security, the tenant policies, grants),
// so a migration adds a table without repeating that ceremony.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Line is a sequence of migrations with its own version numbers.
type Line string

// The two lines.
const (
	System  Line = "system"
	Company Line = "company"
)

// Lines are every line, in the order boot runs them.
var Lines = []Line{System, Company}

// Migration is one numbered SQL file.
type Migration struct {
	Line    Line
	Version int
	Name    string // from the file name: 0003_runtime_grants.sql is "runtime grants"
	SQL     string
	// Go, when set, runs after SQL (either may be empty) in the
	// migration's transaction: for schemas a library makes itself. It must
	// be idempotent only as far as SQL is: it runs once per version.
	Go     func(ctx context.Context, tx pgx.Tx) error
	Source string // the domain (and file) it came from, for errors
}

// Source is one domain's migrations: FS holds migrations/system/*.sql and
// migrations/company/*.sql (either folder may be missing).
type Source struct {
	Name string // the domain, e.g. "auth"
	FS   fs.FS  // may be nil when the domain has Go steps only
	// Steps are the domain's Go migrations (Line, Version, Name and Go
	// set); they share the version numbers of the files' lines.
	Steps []Migration
}

// Registry is every known migration, by line and version.
type Registry struct {
	lines map[Line][]Migration // sorted by version
}

var fileName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// NewRegistry reads the sources. A file in a line's folder that is not
// NNNN_name.sql, a version 0, or a version used twice in a line (in one
// source or across two) is an error: versions are the order of the line
// and the key of what was applied.
func NewRegistry(sources ...Source) (*Registry, error) {
	r := &Registry{lines: map[Line][]Migration{}}
	var all []Migration
	for _, src := range sources {
		for _, st := range src.Steps {
			if st.Go == nil && st.SQL == "" {
				return nil, fmt.Errorf("migrations of %s: step %04d %q does nothing", src.Name, st.Version, st.Name)
			}
			st.Source = src.Name + ":go step " + fmt.Sprintf("%04d", st.Version)
			all = append(all, st)
		}
		if src.FS == nil {
			continue
		}
		for _, line := range Lines {
			dir := path.Join("migrations", string(line))
			entries, err := fs.ReadDir(src.FS, dir)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return nil, fmt.Errorf("migrations of %s: %w", src.Name, err)
			}
			for _, e := range entries {
				if e.IsDir() {
					return nil, fmt.Errorf("migrations of %s: %s/%s is a directory", src.Name, dir, e.Name())
				}
				m := fileName.FindStringSubmatch(e.Name())
				if m == nil {
					return nil, fmt.Errorf("migrations of %s: %s/%s is not named NNNN_name.sql", src.Name, dir, e.Name())
				}
				b, err := fs.ReadFile(src.FS, path.Join(dir, e.Name()))
				if err != nil {
					return nil, fmt.Errorf("migrations of %s: %w", src.Name, err)
				}
				v, _ := strconv.Atoi(m[1])
				all = append(all, Migration{Line: line, Version: v, Name: strings.ReplaceAll(m[2], "_", " "),
					SQL: string(b), Source: src.Name + ":" + path.Join(dir, e.Name())})
			}
		}
	}
	return r, r.add(all...)
}

// With returns a registry with extra migrations added (the same rules
// apply); r is unchanged.
func (r *Registry) With(extra ...Migration) (*Registry, error) {
	out := &Registry{lines: map[Line][]Migration{}}
	for l, ms := range r.lines {
		out.lines[l] = slices.Clone(ms)
	}
	return out, out.add(extra...)
}

func (r *Registry) add(ms ...Migration) error {
	for _, m := range ms {
		if !slices.Contains(Lines, m.Line) {
			return fmt.Errorf("migration %s: unknown line %q", m.Source, m.Line)
		}
		if m.Version < 1 {
			return fmt.Errorf("migration %s: version must be 1 or more", m.Source)
		}
		for _, o := range r.lines[m.Line] {
			if o.Version == m.Version {
				return fmt.Errorf("%s line: version %04d twice: %s and %s", m.Line, m.Version, o.Source, m.Source)
			}
		}
		r.lines[m.Line] = append(r.lines[m.Line], m)
	}
	for l := range r.lines {
		slices.SortFunc(r.lines[l], func(a, b Migration) int { return a.Version - b.Version })
	}
	return nil
}

// Line returns a line's migrations in version order.
func (r *Registry) Line(l Line) []Migration { return slices.Clone(r.lines[l]) }

// Head is the highest version of a line, 0 when it is empty.
func (r *Registry) Head(l Line) int {
	ms := r.lines[l]
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// Gaps lists the versions missing below a line's head: a domain whose
// folder was left out of the registry shows up here.
func (r *Registry) Gaps(l Line) []int {
	var gaps []int
	next := 1
	for _, m := range r.lines[l] {
		for ; next < m.Version; next++ {
			gaps = append(gaps, next)
		}
		next = m.Version + 1
	}
	return gaps
}
