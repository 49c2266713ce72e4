package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vanta-ledger/vanta/appliance"
)

// tinyModel is the shared test model: random weights, a real GGUF that
// the real llama-server loads in well under a second.
const tinyModel = "/work/shared/models/llama-2-tiny-random.gguf"

// llamaTestbed returns the test bed's llama-server wrapper: the one
// scripts/test exports, else whatever scripts/llm-testbed makes or finds
// (at once when its stamp is there). Without it the test fails, loudly.
func llamaTestbed(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("VANTA_TEST_LLAMA_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the LLM test bed is missing: VANTA_TEST_LLAMA_SERVER=%s: %v", p, err)
		}
		return p
	}
	script, err := filepath.Abs("../../scripts/llm-testbed")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(script).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("the LLM test bed is missing: %s: %v: %s", script, err, ee.Stderr)
		}
		t.Fatalf("the LLM test bed is missing: %s: %v", script, err)
	}
	return strings.TrimSpace(string(out))
}

// copyModel puts the tiny model into $DATA/models.
func copyModel(t *testing.T, data string) {
	t.Helper()
	dir := filepath.Join(data, "models")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(filepath.Join(dir, filepath.Base(tinyModel)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestModelServerSupervised: a GGUF model in $DATA/models gets a real
// llama-server (the test bed's), which status and /readyz show healthy,
// and which the supervisor restarts when it is killed.
func TestModelServerSupervised(t *testing.T) {
	const name = "llama-llama-2-tiny-random"
	wrapper := llamaTestbed(t)
	data := dataDir(t)
	copyModel(t, data)
	in := bootWith(t, data, []string{"VANTA_LLAMA_SERVER=" + wrapper, "VANTA_LLM_PORT=" + freePort(t)})
	in.waitLine(name+" healthy", stateLine(name, "healthy"))

	out, err := exec.Command(vantaBin, "ctl", "status", "--json", "--data", data).Output()
	if err != nil {
		t.Fatalf("ctl status: %v", err)
	}
	var st appliance.ServicesReport
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("ctl status --json: %v\n%s", err, out)
	}
	var before appliance.ServiceReport
	for _, s := range st.Services {
		if s.Name == name {
			before = s
		}
	}
	if before.State != "healthy" || before.PID == 0 {
		t.Fatalf("ctl status shows %s as %+v, want healthy with a pid:\n%s", name, before, out)
	}

	readyz := func() appliance.ServiceBrief {
		t.Helper()
		_, body := in.get("/readyz")
		var r appliance.Readiness
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("/readyz: %v\n%s", err, body)
		}
		for _, s := range r.Services {
			if s.Name == name {
				return s
			}
		}
		t.Fatalf("/readyz does not list %s: %s", name, body)
		return appliance.ServiceBrief{}
	}
	if s := readyz(); s.State != "healthy" {
		t.Fatalf("/readyz shows %s as %+v, want healthy", name, s)
	}

	// The pid is llama-server itself: the wrapper execs all the way.
	comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(before.PID), "comm"))
	if err != nil || strings.TrimSpace(string(comm)) != "llama-server" {
		t.Fatalf("pid %d is %q (%v), want llama-server", before.PID, comm, err)
	}
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	in.waitLine(name+" healthy again", func(l map[string]any) bool {
		return stateLine(name, "healthy")(l) && l["from"] == "starting"
	})
	after := in.service(name)
	if after.Restarts < 1 || after.PID == before.PID || after.State != "healthy" {
		t.Fatalf("after kill -9: %+v, want restarted and healthy", after)
	}
	if s := readyz(); s.State != "healthy" {
		t.Fatalf("/readyz after the restart shows %s as %+v", name, s)
	}
}
