package appliance

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/vanta-ledger/vanta/internal/ai"
	"github.com/vanta-ledger/vanta/supervisor"
)

const tinyModel = "/work/shared/models/llama-2-tiny-random.gguf"

// TestLlamaPlan: which model servers run, with which arguments, and why
// the others do not, on machines the test makes up.
func TestLlamaPlan(t *testing.T) {
	tiny, err := os.ReadFile(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	found := func(string) (string, error) { return "/opt/llama/llama-server", nil }
	missing := func(string) (string, error) { return "", errors.New("not found") }
	type want struct {
		name, disabled string
		args           []string // substrings of the joined arguments
		noArgs         []string
	}
	cases := []struct {
		name     string
		files    map[string][]byte // under $DATA/models
		edit     func(*LLMConfig)
		lookPath func(string) (string, error)
		memMB    int
		gpu      bool
		want     []want
		urls     []string
	}{
		{name: "no models", lookPath: found, want: []want{{name: "llama", disabled: "no models in "}}},
		{name: "one model, context from its header capped, CPU threads, no GPU", lookPath: found, memMB: 8192,
			files: map[string][]byte{"llama-2-tiny-random.gguf": tiny},
			edit:  func(c *LLMConfig) { c.LLMContext = 2048 },
			want: []want{{name: "llama-llama-2-tiny-random",
				args:   []string{"--host 127.0.0.1 --port 8081", "-c 2048", "--threads " + strconv.Itoa(runtime.NumCPU())},
				noArgs: []string{"-ngl", "--mlock"}}},
			urls: []string{"http://127.0.0.1:8081"}},
		{name: "the model's own context when smaller than the cap", lookPath: found, memMB: 8192,
			files: map[string][]byte{"tiny.gguf": tiny},
			edit:  func(c *LLMConfig) { c.LLMContext = 100000 },
			want:  []want{{name: "llama-tiny", args: []string{"-c 4096"}}},
			urls:  []string{"http://127.0.0.1:8081"}},
		{name: "GPU visible", lookPath: found, memMB: 8192, gpu: true,
			files: map[string][]byte{"tiny.gguf": tiny},
			want:  []want{{name: "llama-tiny", args: []string{"-ngl 999"}}},
			urls:  []string{"http://127.0.0.1:8081"}},
		{name: "llama-server not installed", lookPath: missing, memMB: 8192,
			files: map[string][]byte{"tiny.gguf": tiny},
			want:  []want{{name: "llama-tiny", disabled: "not installed: llama-server not found (VANTA_LLAMA_SERVER)"}}},
		{name: "over the memory budget: smallest first", lookPath: found,
			files: map[string][]byte{"a-big.gguf": append(append([]byte{}, tiny...), make([]byte, 1<<20)...), "b-tiny.gguf": tiny},
			edit:  func(c *LLMConfig) { c.LLMMemoryMB = 2 },
			want: []want{
				{name: "llama-a-big", disabled: "over the memory budget: the model takes 2 MB, 0 MB of 2 MB left (VANTA_LLM_MEMORY_MB)"},
				{name: "llama-b-tiny", args: []string{"--port 8082"}},
			},
			urls: []string{"http://127.0.0.1:8082"}},
		{name: "budget from the machine's memory", lookPath: found, memMB: 2,
			files: map[string][]byte{"tiny.gguf": tiny},
			want:  []want{{name: "llama-tiny", disabled: "over the memory budget: the model takes 1 MB, 1 MB of 1 MB left"}}},
		{name: "a broken model file", lookPath: found, memMB: 8192,
			files: map[string][]byte{"broken.gguf": []byte("GGUF\x03"), "tiny.gguf": tiny},
			want: []want{
				{name: "llama-broken", disabled: "unreadable model: read model "},
				{name: "llama-tiny", args: []string{"--port 8082"}},
			},
			urls: []string{"http://127.0.0.1:8082"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "models"), 0o755); err != nil {
				t.Fatal(err)
			}
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, "models", name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg := Defaults()
			if tc.edit != nil {
				tc.edit(&cfg.LLMConfig)
			}
			c := &catalog{cfg: &cfg, layout: Layout{Root: dir}}
			progs, eps := c.llamaPlan(tc.lookPath, func() int { return tc.memMB }, tc.gpu)
			if len(progs) != len(tc.want) {
				t.Fatalf("%d programs %+v, want %d", len(progs), progs, len(tc.want))
			}
			for i, w := range tc.want {
				p := progs[i]
				if p.Name != w.name || !strings.HasPrefix(p.Disabled, w.disabled) || (w.disabled == "") != (p.Disabled == "") {
					t.Fatalf("program %d = %s disabled %q; want %s disabled %q", i, p.Name, p.Disabled, w.name, w.disabled)
				}
				checkArgs(t, p, w.args, w.noArgs)
			}
			var urls []string
			for _, e := range eps {
				urls = append(urls, e.URL)
				if e.Model.Name == "" || e.Context <= 0 {
					t.Fatalf("endpoint %+v lacks its model or context", e)
				}
			}
			if strings.Join(urls, " ") != strings.Join(tc.urls, " ") {
				t.Fatalf("endpoints %v, want %v", urls, tc.urls)
			}
		})
	}
}

func checkArgs(t *testing.T, p supervisor.Program, want, not []string) {
	t.Helper()
	joined := strings.Join(p.Args, " ")
	for _, a := range want {
		if !strings.Contains(joined, a) {
			t.Fatalf("%s args %q lack %q", p.Name, joined, a)
		}
	}
	for _, a := range not {
		if strings.Contains(joined, a) {
			t.Fatalf("%s args %q have %q", p.Name, joined, a)
		}
	}
}

func TestLLMConfig(t *testing.T) {
	cases := []struct {
		name, field, value string
		env                map[string]string
	}{
		{"empty command", "llama_server", " ", map[string]string{"VANTA_LLAMA_SERVER": " "}},
		{"negative budget", "llm_memory_mb", "-1", map[string]string{"VANTA_LLM_MEMORY_MB": "-1"}},
		{"tiny context", "llm_context", "64", map[string]string{"VANTA_LLM_CONTEXT": "64"}},
		{"not a URL", "llm_urls[1]", "10.0.0.5:8080", map[string]string{"VANTA_LLM_URLS": "http://10.0.0.4:8080, 10.0.0.5:8080"}},
		{"a URL with a query", "llm_urls[0]", "http://h:1/?x=1", map[string]string{"VANTA_LLM_URLS": "http://h:1/?x=1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Defaults()
			if err := cfg.LoadEnv(func(k string) string { return tc.env[k] }); err != nil {
				t.Fatal(err)
			}
			var fe *FieldError
			if err := cfg.Validate(); !errors.As(err, &fe) || fe.Field != tc.field || fe.Value != tc.value {
				t.Fatalf("Validate = %v, want a FieldError for %s=%q", err, tc.field, tc.value)
			}
		})
	}
	cfg := Defaults()
	env := map[string]string{"VANTA_LLAMA_SERVER": "/opt/tb/llama-server", "VANTA_LLM_URLS": "http://10.0.0.4:8080/"}
	if err := cfg.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	eps := remoteEndpoints(cfg.LLMURLs)
	if cfg.LlamaServer != "/opt/tb/llama-server" || len(eps) != 1 ||
		eps[0] != (ai.Endpoint{Model: ai.Model{Name: "remote-10.0.0.4-8080"}, URL: "http://10.0.0.4:8080"}) {
		t.Fatalf("config %+v, endpoints %+v", cfg.LLMConfig, eps)
	}
}
