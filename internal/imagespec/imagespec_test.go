package imagespec

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The repository's files, from this package's directory.
const (
	dockerfilePath = "../../Dockerfile"
	packagesPath   = "../../packages.list"
	imageConfPath  = "../../rootfs/etc/vanta/image.conf"
	readmePath     = "../../README.md"
	rootfsTestPath = "../../scripts/rootfs-test"
	rootfsTestGo   = "../rootfstest/*.go"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []Instruction
	}{
		{"continuation joined as docker joins it", "FROM a AS b\nRUN x \\\n && y\n",
			[]Instruction{{1, "FROM", "a AS b", 0}, {2, "RUN", "x  && y", 0}}},
		{"comment and blank lines inside a continuation dropped", "RUN a; \\\n    # note\n\n    b\n",
			[]Instruction{{1, "RUN", "a;     b", -1}}},
		{"stages counted", "ARG X=1\nFROM a\nENV K=V\nFROM b\nEXPOSE 1\n",
			[]Instruction{{1, "ARG", "X=1", -1}, {2, "FROM", "a", 0}, {3, "ENV", "K=V", 0}, {4, "FROM", "b", 1}, {5, "EXPOSE", "1", 1}}},
		{"backslash followed by spaces continues", "run a \\  \nb\n",
			[]Instruction{{1, "RUN", "a b", -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if _, err := Parse("RUN a \\\n"); err == nil {
		t.Error("a continuation past the end of the file parsed")
	}
}

func TestPackages(t *testing.T) {
	list := "# comment\n\npostgresql-15\nmongodb-org-server image\nnodejs debian\n  # indented comment\nca-certificates\n"
	tests := []struct {
		scope string
		want  []string
	}{
		{ScopeImage, []string{"postgresql-15", "mongodb-org-server", "ca-certificates"}},
		{ScopeDebian, []string{"postgresql-15", "nodejs", "ca-certificates"}},
	}
	for _, tt := range tests {
		t.Run(tt.scope, func(t *testing.T) {
			if got := Packages(list, tt.scope); !slices.Equal(got, tt.want) {
				t.Errorf("Packages(%s) = %v, want %v", tt.scope, got, tt.want)
			}
		})
	}
}

// TestPackagesListIsTheShellReadersList: the Go reading of packages.list
// equals the awk rule the Dockerfile, install-deps and the rootfs test use,
// run by awk itself, for both scopes.
func TestPackagesListIsTheShellReadersList(t *testing.T) {
	list := read(t, packagesPath)
	for _, scope := range []string{ScopeImage, ScopeDebian} {
		out, err := exec.Command("awk", `!/^[[:space:]]*(#|$)/ && ($2 == "" || $2 == "`+scope+`") { print $1 }`, packagesPath).Output()
		if err != nil {
			t.Fatalf("awk: %v", err)
		}
		if got, want := Packages(list, scope), strings.Fields(string(out)); !slices.Equal(got, want) {
			t.Errorf("scope %s: Packages = %v, awk = %v", scope, got, want)
		}
	}
	if pkgs := Packages(list, ScopeImage); !slices.Contains(pkgs, "pgadmin4-server") || slices.Contains(pkgs, "nodejs") {
		t.Errorf("image scope %v: want pgadmin4-server and not nodejs (contract: the image's node comes from its Node.js stage)", pkgs)
	}
	if pkgs := Packages(list, ScopeDebian); slices.Contains(pkgs, "pgadmin4-server") || slices.Contains(pkgs, "mongodb-org-server") {
		t.Errorf("debian scope %v: has an image-only package", pkgs)
	}
}

// aptInstalls returns the package arguments of every apt-get install in a
// shell script: words after "install" that are not options. The list's
// expansion is returned as it is written, "${packages[@]}".
func aptInstalls(script string) [][]string {
	var out [][]string
	for _, cmd := range regexp.MustCompile(`;|&&|\|\||\||\n`).Split(script, -1) {
		f := strings.Fields(cmd)
		i := slices.Index(f, "apt-get")
		if i < 0 || i+1 >= len(f) || f[i+1] != "install" {
			continue
		}
		var pkgs []string
		for _, w := range f[i+2:] {
			if !strings.HasPrefix(w, "-") {
				pkgs = append(pkgs, w)
			}
		}
		out = append(out, pkgs)
	}
	return out
}

// packagesProblems says how the Dockerfile's final stage strays from
// installing packages.list's image scope: it must COPY the list in, read
// it with the image rule, install that expansion, and install nothing
// else that stays: any other package named must be in the list or be
// purged again in the same stage.
func packagesProblems(dockerfile, list string) []string {
	ins, err := Parse(dockerfile)
	if err != nil {
		return []string{err.Error()}
	}
	final := FinalStage(ins)
	var problems []string
	copied, read, installed := false, false, false
	purged := map[string]bool{}
	var named []string
	rule := `$2 == "" || $2 == "image"`
	for _, in := range final {
		switch in.Cmd {
		case "COPY", "ADD":
			if slices.Contains(strings.Fields(in.Args), "packages.list") {
				copied = true
			}
		case "RUN":
			if strings.Contains(in.Args, "packages.list") && strings.Contains(in.Args, rule) {
				read = true
			}
			for _, m := range regexp.MustCompile(`apt-get\s+(?:-\S+\s+)*(?:purge|remove)\s+([^;&|]*)`).FindAllStringSubmatch(in.Args, -1) {
				for _, w := range strings.Fields(m[1]) {
					purged[w] = true
				}
			}
			for _, pkgs := range aptInstalls(in.Args) {
				for _, p := range pkgs {
					if p == `"${packages[@]}"` {
						installed = true
					} else {
						named = append(named, strings.Trim(p, `"'`))
					}
				}
			}
			for _, other := range []string{"apt install", "aptitude", "dpkg -i", "dpkg --install", "snap install"} {
				if strings.Contains(in.Args, other) {
					problems = append(problems, "line "+strconv.Itoa(in.Line)+": installs packages with "+other+", outside packages.list")
				}
			}
		}
	}
	if !copied {
		problems = append(problems, "the final stage does not COPY packages.list")
	}
	if !read {
		problems = append(problems, "no RUN of the final stage reads packages.list with the image rule "+rule)
	}
	if !installed {
		problems = append(problems, `no apt-get install of the final stage installs "${packages[@]}", the list`)
	}
	image := Packages(list, ScopeImage)
	for _, p := range named {
		name, _, _ := strings.Cut(p, "=")
		if !purged[name] && !slices.Contains(image, name) {
			problems = append(problems, "the final stage installs "+p+", which packages.list (scope image) does not name and the stage does not purge")
		}
	}
	return problems
}

// readmeSpec reads the README's image table: the rows | `ENV` |,
// | `EXPOSE` | and | `VOLUME` |, each value in backquotes.
func readmeSpec(readme string) (Spec, []string) {
	s := Spec{Env: map[string]string{}}
	var problems []string
	seen := map[string]bool{}
	code := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(readme, "\n") {
		for _, key := range []string{"ENV", "EXPOSE", "VOLUME"} {
			head := "| `" + key + "` |"
			if !strings.HasPrefix(line, head) {
				continue
			}
			seen[key] = true
			cell, _, _ := strings.Cut(strings.TrimPrefix(line, head), "|")
			for _, m := range code.FindAllStringSubmatch(cell, -1) {
				switch key {
				case "ENV":
					k, v, ok := strings.Cut(m[1], "=")
					if !ok {
						problems = append(problems, "README: ENV value "+m[1]+" is not KEY=VALUE")
					}
					s.Env[k] = v
				case "EXPOSE":
					s.Expose = append(s.Expose, m[1])
				case "VOLUME":
					s.Volumes = append(s.Volumes, m[1])
				}
			}
		}
	}
	for _, key := range []string{"ENV", "EXPOSE", "VOLUME"} {
		if !seen[key] {
			problems = append(problems, "README: no | `"+key+"` | row in the image section")
		}
	}
	slices.Sort(s.Expose)
	slices.Sort(s.Volumes)
	return s, problems
}

// specProblems compares the Dockerfile's final stage with image.conf and
// the README's image table.
func specProblems(dockerfile, conf, readme string) []string {
	var problems []string
	ins, err := Parse(dockerfile)
	if err != nil {
		return []string{"Dockerfile: " + err.Error()}
	}
	image, err := SpecOf(FinalStage(ins))
	if err != nil {
		return []string{"Dockerfile: " + err.Error()}
	}
	confIns, err := Parse(conf)
	if err != nil {
		return []string{"image.conf: " + err.Error()}
	}
	for _, in := range confIns {
		if in.Cmd != "ENV" && in.Cmd != "EXPOSE" && in.Cmd != "VOLUME" {
			problems = append(problems, "image.conf: line "+strconv.Itoa(in.Line)+": "+in.Cmd+" (only ENV, EXPOSE and VOLUME belong there)")
		}
	}
	confSpec, err := SpecOf(confIns)
	if err != nil {
		return []string{"image.conf: " + err.Error()}
	}
	readmeSpec, readmeProblems := readmeSpec(readme)
	problems = append(problems, readmeProblems...)
	if len(image.Env) == 0 || len(image.Expose) == 0 || len(image.Volumes) == 0 {
		problems = append(problems, "the Dockerfile's final stage lacks ENV, EXPOSE or VOLUME")
	}
	for _, other := range []struct {
		name string
		spec Spec
	}{{"rootfs/etc/vanta/image.conf", confSpec}, {"the README's image section", readmeSpec}} {
		if !reflect.DeepEqual(image.Env, other.spec.Env) {
			problems = append(problems, "ENV: the Dockerfile has "+show(image.Env)+", "+other.name+" "+show(other.spec.Env))
		}
		if !slices.Equal(image.Expose, other.spec.Expose) {
			problems = append(problems, "EXPOSE: the Dockerfile has "+strings.Join(image.Expose, " ")+", "+other.name+" "+strings.Join(other.spec.Expose, " "))
		}
		if !slices.Equal(image.Volumes, other.spec.Volumes) {
			problems = append(problems, "VOLUME: the Dockerfile has "+strings.Join(image.Volumes, " ")+", "+other.name+" "+strings.Join(other.spec.Volumes, " "))
		}
	}
	return problems
}

func show(env map[string]string) string {
	var kv []string
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	slices.Sort(kv)
	return "[" + strings.Join(kv, " ") + "]"
}

// TestImageAgreesWithItsDescriptions is acceptance 4: the Dockerfile
// installs exactly packages.list's image packages, and its environment,
// ports and volume are image.conf's (the rootfs test's) and the README's.
func TestImageAgreesWithItsDescriptions(t *testing.T) {
	dockerfile, list := read(t, dockerfilePath), read(t, packagesPath)
	for _, p := range packagesProblems(dockerfile, list) {
		t.Error(p)
	}
	for _, p := range specProblems(dockerfile, read(t, imageConfPath), read(t, readmePath)) {
		t.Error(p)
	}
	// The rootfs test (once it is on this branch: scripts/rootfs-test and
	// the Go test it drives) must take its packages and its environment
	// from the same two files.
	sources := []string{rootfsTestPath}
	goFiles, err := filepath.Glob(rootfsTestGo)
	if err != nil {
		t.Fatal(err)
	}
	var rootfsTest strings.Builder
	for _, f := range append(sources, goFiles...) {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		rootfsTest.Write(b)
	}
	if rootfsTest.Len() > 0 {
		for _, want := range []string{"packages.list", "image.conf"} {
			if !strings.Contains(rootfsTest.String(), want) {
				t.Errorf("the rootfs test (scripts/rootfs-test, internal/rootfstest) does not read %s", want)
			}
		}
	}
}

func TestLoad(t *testing.T) {
	s, err := Load(imageConfPath)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"VANTA_DATA=/var/lib/vanta", "VANTA_LISTEN=:8443", "VANTA_MONGO_EXPRESS=/usr/local/lib/vanta/mongo-express"}
	if got := s.Environ(); !slices.Equal(got, want) {
		t.Errorf("Environ() = %v, want %v", got, want)
	}
	bad := filepath.Join(t.TempDir(), "image.conf")
	for _, src := range []string{"RUN true\n", "ENV A=\"quoted\"\n", "ENV A=1 \\\n"} {
		if err := os.WriteFile(bad, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(bad); err == nil {
			t.Errorf("Load accepted %q", src)
		}
	}
}

// TestDriftIsCaught: each kind of drift between the files makes the checks
// above complain, so the agreement test cannot pass vacuously.
func TestDriftIsCaught(t *testing.T) {
	dockerfile, list := read(t, dockerfilePath), read(t, packagesPath)
	conf, readme := read(t, imageConfPath), read(t, readmePath)
	replace := func(t *testing.T, s, old, new string) string {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("%q not found: update this test with the file", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	tests := []struct {
		name                     string
		dockerfile, conf, readme func(*testing.T, string) string
		list                     func(*testing.T, string) string
	}{
		{name: "a port only in the Dockerfile", dockerfile: func(t *testing.T, s string) string {
			return replace(t, s, "EXPOSE 8443/tcp", "EXPOSE 8443/tcp 9000/tcp")
		}},
		{name: "a port only in the README", readme: func(t *testing.T, s string) string { return replace(t, s, "`8443/tcp`", "`8443/tcp`, `8080/tcp`") }},
		{name: "the volume moved in image.conf", conf: func(t *testing.T, s string) string { return replace(t, s, "VOLUME /var/lib/vanta", "VOLUME /data") }},
		{name: "an env value changed in the Dockerfile", dockerfile: func(t *testing.T, s string) string {
			return replace(t, s, "VANTA_LISTEN=:8443 \\", "VANTA_LISTEN=:9443 \\")
		}},
		{name: "an env var only in image.conf", conf: func(t *testing.T, s string) string { return s + "ENV VANTA_TLS=off\n" }},
		{name: "an env var missing from the README", readme: func(t *testing.T, s string) string {
			return replace(t, s, ", `VANTA_MONGO_EXPRESS=/usr/local/lib/vanta/mongo-express`", "")
		}},
		{name: "a runtime package installed besides the list", dockerfile: func(t *testing.T, s string) string {
			return replace(t, s, `apt-get install -y --no-install-recommends "${packages[@]}";`, `apt-get install -y --no-install-recommends "${packages[@]}" jq;`)
		}},
		{name: "a build tool not purged", dockerfile: func(t *testing.T, s string) string {
			return replace(t, s, "apt-get purge -y --auto-remove curl gnupg;", "apt-get purge -y --auto-remove gnupg;")
		}},
		{name: "the list read with another scope", dockerfile: func(t *testing.T, s string) string {
			return replace(t, s, `$2 == "image"`, `$2 == "debian"`)
		}},
		{name: "ca-certificates dropped from the list", list: func(t *testing.T, s string) string { return replace(t, s, "\nca-certificates\n", "\n") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, l, c, r := dockerfile, list, conf, readme
			if tt.dockerfile != nil {
				d = tt.dockerfile(t, d)
			}
			if tt.list != nil {
				l = tt.list(t, l)
			}
			if tt.conf != nil {
				c = tt.conf(t, c)
			}
			if tt.readme != nil {
				r = tt.readme(t, r)
			}
			problems := append(packagesProblems(d, l), specProblems(d, c, r)...)
			if len(problems) == 0 {
				t.Error("no problem reported")
			}
			t.Log(problems)
		})
	}
}

// TestImageEssentials: what the issue asks of the image beyond its
// packages: vanta init as PID 1 with no init in front, the health check
// that counts sealed as alive, SIGTERM, the OCI labels with the version
// from a build argument, the service users, the pinned llama.cpp and the
// vendor repositories' keys checked by fingerprint.
func TestImageEssentials(t *testing.T) {
	ins, err := Parse(read(t, dockerfilePath))
	if err != nil {
		t.Fatal(err)
	}
	final := FinalStage(ins)
	find := func(in []Instruction, cmd, contains string) bool {
		for _, i := range in {
			if i.Cmd == cmd && strings.Contains(i.Args, contains) {
				return true
			}
		}
		return false
	}
	tests := []struct {
		name          string
		in            []Instruction
		cmd, contains string
	}{
		{"vanta init is the entry point", final, "ENTRYPOINT", `["vanta","init"]`},
		{"sealed counts as healthy", final, "HEALTHCHECK", `"--allow-sealed"`},
		{"SIGTERM stops it", final, "STOPSIGNAL", "SIGTERM"},
		{"the version label comes from VERSION", final, "LABEL", `org.opencontainers.image.version="${VERSION}"`},
		{"the base is Ubuntu 22.04", ins, "FROM", "ubuntu:22.04"},
		{"the service users exist", final, "RUN", "for u in postgres redis mongodb pgadmin; do"},
		{"keys are trusted by fingerprint", final, "RUN", `trust_key "$PGADMIN_KEY_URL" "$PGADMIN_KEY_FINGERPRINT" pgadmin`},
		{"llama.cpp is pinned to a tag", ins, "ARG", "LLAMA_CPP_TAG=b"},
		{"llama-server is built", ins, "RUN", "--target llama-server"},
		{"Mongo Express is installed from the lockfile", ins, "RUN", "npm ci --omit=dev --ignore-scripts"},
		{"Mongo Express goes where the appliance looks", final, "COPY", "/usr/local/lib/vanta/mongo-express /usr/local/lib/vanta/mongo-express"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !find(tt.in, tt.cmd, tt.contains) {
				t.Errorf("no %s with %s", tt.cmd, tt.contains)
			}
		})
	}
	for _, i := range final {
		if i.Cmd == "USER" {
			t.Errorf("line %d: USER %s: vanta init must start as root to run each service as its own user", i.Line, i.Args)
		}
		if (i.Cmd == "ENTRYPOINT" || i.Cmd == "CMD") && (strings.Contains(i.Args, "tini") || strings.Contains(i.Args, "dumb-init")) {
			t.Errorf("line %d: %s %s: vanta init reaps; nothing goes in front of it", i.Line, i.Cmd, i.Args)
		}
	}
}

// TestRunBlocksParse: every RUN of the Dockerfile is valid shell for the
// shell its stage runs it with (bash -n for SHELL ["/bin/bash", …], sh -n
// otherwise), as docker will hand it over.
func TestRunBlocksParse(t *testing.T) {
	ins, err := Parse(read(t, dockerfilePath))
	if err != nil {
		t.Fatal(err)
	}
	shell := map[int]string{}
	runs := 0
	for _, in := range ins {
		switch in.Cmd {
		case "SHELL":
			shell[in.Stage] = in.Args
		case "RUN":
			runs++
			sh := "sh"
			if strings.Contains(shell[in.Stage], "/bin/bash") {
				sh = "bash"
			}
			t.Run(strconv.Itoa(in.Line), func(t *testing.T) {
				f := filepath.Join(t.TempDir(), "run.sh")
				if err := os.WriteFile(f, []byte(in.Args+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command(sh, "-n", f).CombinedOutput(); err != nil {
					t.Errorf("line %d: %s -n: %v\n%s\n%s", in.Line, sh, err, out, in.Args)
				}
			})
		}
	}
	if runs < 5 {
		t.Errorf("only %d RUN instructions found", runs)
	}
}
