// Package imagespec reads what describes the appliance image: the
// Dockerfile's instructions, the shared package list (packages.list) and
// the image's environment, ports and volume (rootfs/etc/vanta/image.conf,
// written in Dockerfile syntax). Its tests keep the Dockerfile, those files
// and the README's image section in agreement, since no machine here can
// build the image itself.
package imagespec

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Instruction is one Dockerfile instruction, its continuation lines joined
// as docker joins them: the escaping backslash and the newline removed,
// comment and blank lines inside the continuation dropped.
type Instruction struct {
	Line  int    // where it starts, 1-based
	Cmd   string // upper case: FROM, RUN, ENV, …
	Args  string // the rest, trimmed
	Stage int    // index of the FROM it follows; -1 before the first
}

// Parse splits a Dockerfile into instructions. Only the default escape
// character (\) is understood; heredocs are not.
func Parse(src string) ([]Instruction, error) {
	var out []Instruction
	stage := -1
	var cur *Instruction
	var buf strings.Builder
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur == nil {
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			cmd, rest, _ := strings.Cut(trimmed, " ")
			cur = &Instruction{Line: n, Cmd: strings.ToUpper(cmd)}
			buf.Reset()
			line = rest
		} else if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue // docker drops these inside a continuation
		}
		body := strings.TrimRight(line, " \t")
		if strings.HasSuffix(body, `\`) {
			buf.WriteString(strings.TrimSuffix(body, `\`))
			continue
		}
		buf.WriteString(line)
		cur.Args = strings.TrimSpace(buf.String())
		if cur.Cmd == "FROM" {
			stage++
		}
		cur.Stage = stage
		out = append(out, *cur)
		cur = nil
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: %s continues past the end of the file", cur.Line, cur.Cmd)
	}
	return out, nil
}

// FinalStage is the instructions after the last FROM: the image's own. A
// file without FROM (image.conf) is all final stage.
func FinalStage(ins []Instruction) []Instruction {
	last := -1
	for _, in := range ins {
		last = max(last, in.Stage)
	}
	var out []Instruction
	for _, in := range ins {
		if in.Stage == last && in.Cmd != "FROM" {
			out = append(out, in)
		}
	}
	return out
}

// Spec is what a container of the image starts with.
type Spec struct {
	Env     map[string]string
	Expose  []string // sorted, each with its protocol: 8443/tcp
	Volumes []string // sorted
}

// SpecOf collects the ENV, EXPOSE and VOLUME instructions given. ENV must
// use the KEY=VALUE form with unquoted values (what this repository
// writes), so that nothing is misread.
func SpecOf(ins []Instruction) (Spec, error) {
	s := Spec{Env: map[string]string{}}
	for _, in := range ins {
		switch in.Cmd {
		case "ENV":
			for _, f := range strings.Fields(in.Args) {
				k, v, ok := strings.Cut(f, "=")
				if !ok || k == "" || strings.ContainsAny(f, `"'\$`) {
					return Spec{}, fmt.Errorf("line %d: ENV %q: want unquoted KEY=VALUE words", in.Line, in.Args)
				}
				s.Env[k] = v
			}
		case "EXPOSE":
			for _, p := range strings.Fields(in.Args) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				s.Expose = append(s.Expose, p)
			}
		case "VOLUME":
			var vols []string
			if strings.HasPrefix(in.Args, "[") {
				if err := json.Unmarshal([]byte(in.Args), &vols); err != nil {
					return Spec{}, fmt.Errorf("line %d: VOLUME %s: %w", in.Line, in.Args, err)
				}
			} else {
				vols = strings.Fields(in.Args)
			}
			s.Volumes = append(s.Volumes, vols...)
		}
	}
	sort.Strings(s.Expose)
	sort.Strings(s.Volumes)
	return s, nil
}

// Scopes of packages.list's second column.
const (
	ScopeImage  = "image"  // the Ubuntu image only
	ScopeDebian = "debian" // the Debian 12 rootfs test and native installs
)

// Packages is packages.list read for one scope, as the shell readers'
// awk rule reads it: lines that are blank or start with # skipped, the
// first word taken when the second is absent or equals scope.
func Packages(list, scope string) []string {
	var out []string
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) == 1 || f[1] == scope {
			out = append(out, f[0])
		}
	}
	return out
}

// Environ is the environment as KEY=VALUE words, sorted by key: what a
// process of the image starts with (exec.Cmd.Env; a later word for the
// same key overrides an earlier one).
func (s Spec) Environ() []string {
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+s.Env[k])
	}
	return out
}

// Load reads a file of ENV, EXPOSE and VOLUME instructions, such as
// rootfs/etc/vanta/image.conf, which the rootfs test runs vanta init with.
func Load(path string) (Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("image spec: %w", err)
	}
	ins, err := Parse(string(b))
	if err != nil {
		return Spec{}, fmt.Errorf("image spec %s: %w", path, err)
	}
	for _, in := range ins {
		if in.Cmd != "ENV" && in.Cmd != "EXPOSE" && in.Cmd != "VOLUME" {
			return Spec{}, fmt.Errorf("image spec %s: line %d: %s (only ENV, EXPOSE and VOLUME belong there)", path, in.Line, in.Cmd)
		}
	}
	s, err := SpecOf(ins)
	if err != nil {
		return Spec{}, fmt.Errorf("image spec %s: %w", path, err)
	}
	return s, nil
}
