package appliance

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// shippedConfig is the commented-out appliance.yaml of the image.
const shippedConfig = "../rootfs/etc/vanta/appliance.yaml"

// uncomment turns the shipped file into the YAML it documents: a top-level
// "#key: value" line loses its '#', and so do the indented "#  …" lines
// that follow it (the programs example); prose ("# text") stays a comment.
func uncomment(file []byte) []byte {
	topKey := regexp.MustCompile(`^#[a-z0-9_]+:`)
	var out []string
	inBlock := false
	for _, l := range strings.Split(string(file), "\n") {
		switch {
		case topKey.MatchString(l):
			out, inBlock = append(out, l[1:]), true
		case inBlock && strings.HasPrefix(l, "#  "):
			out = append(out, l[1:])
		default:
			out, inBlock = append(out, l), false
		}
	}
	return []byte(strings.Join(out, "\n"))
}

// yamlKeys lists the yaml names of a struct type's fields, those of its
// inline sections included.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		switch {
		case opts == "inline":
			keys = append(keys, yamlKeys(t.Field(i).Type)...)
		case name != "" && name != "-":
			keys = append(keys, name)
		}
	}
	return keys
}

// TestShippedConfigListsEveryKey keeps rootfs/etc/vanta/appliance.yaml in
// step with Config: every key the config accepts is there, commented out
// with its default, and nothing there is a key the config refuses.
func TestShippedConfigListsEveryKey(t *testing.T) {
	file, err := os.ReadFile(shippedConfig)
	if err != nil {
		t.Fatal(err)
	}
	// As shipped, it changes nothing.
	cfg := Defaults()
	if err := cfg.LoadFile(shippedConfig, false); err != nil || !reflect.DeepEqual(cfg, Defaults()) {
		t.Errorf("the file as shipped sets something: %v %+v", err, cfg)
	}

	doc := uncomment(file)
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(doc, &top); err != nil {
		t.Fatalf("uncommented file is not YAML: %v\n%s", err, doc)
	}
	for _, key := range yamlKeys(reflect.TypeOf(Config{})) {
		if _, ok := top[key]; !ok {
			t.Errorf("appliance.yaml lacks the key %s (commented out, with its default)", key)
		}
	}
	// Every key there is one the config knows, with a value of its type.
	var got Config
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("uncommented appliance.yaml: %v", err)
	}
	// The values shown are the defaults (programs are an example).
	got.Programs = nil
	got.AlertRules = nil // an example, like programs
	if len(got.GODAllow) == 0 {
		got.GODAllow = nil // "[]" shows the empty default
	}
	if want := Defaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("values shown differ from the defaults:\n got %+v\nwant %+v", got, want)
	}
	// The programs example names every field an operator's program has;
	// alternatives (health's exec, tcp) may stay commented inside it.
	for _, typ := range []reflect.Type{reflect.TypeOf(ProgramConfig{}), reflect.TypeOf(HealthCheck{}), reflect.TypeOf(Backoff{})} {
		for _, key := range yamlKeys(typ) {
			if !regexp.MustCompile(`(?m)^#\s+(- )?(# )?` + key + `:`).Match(file) {
				t.Errorf("the programs example lacks %s.%s", typ.Name(), key)
			}
		}
	}
}

// TestDocsQuoteRealLogLines: every log message the operator docs quote
// (`"msg":"…"` in an example, or "`…` is logged" / "its `…` log line") is
// one the code writes, so a renamed message cannot leave the docs behind.
func TestDocsQuoteRealLogLines(t *testing.T) {
	messages := map[string]bool{}
	logCall := regexp.MustCompile(`\.(?:Info|Warn|Error|Debug)(?:Context)?\((?:ctx, )?"([^"]+)"`)
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		// var/ is local state: scripts/run's data and the test beds' root
		// filesystems, one of them with /proc mounted while it is built.
		if err == nil && d.IsDir() && path != ".." && (d.Name() == "var" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range logCall.FindAllSubmatch(src, -1) {
			messages[string(m[1])] = true
		}
		return err
	})
	if err != nil || len(messages) < 10 {
		t.Fatalf("found %d log messages: %v", len(messages), err)
	}
	quoted := []*regexp.Regexp{
		regexp.MustCompile(`"msg":"([^"]+)"`),
		regexp.MustCompile("`([^`]+)` is logged"),
		regexp.MustCompile("`([^`]+)`\\s+log\\s+line"),
	}
	for _, doc := range []string{"../docs/OPERATIONS.md", "../docs/BENCHMARKS.md", "../README.md"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range quoted {
			for _, m := range re.FindAllSubmatch(text, -1) {
				if !messages[string(m[1])] {
					t.Errorf("%s quotes the log message %q, which nothing logs", doc, m[1])
				}
			}
		}
	}
}
