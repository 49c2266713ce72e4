package ai

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The real llama-server of the test bed (scripts/llm-testbed), started
// once for the package with the shared tiny model. Tests that need it
// fail, never skip, when it cannot be had.
var (
	testbed    string // the wrapper's path
	testbedErr error
	shared     *server
)

// testContext is the context size the test servers run with: room for a
// short document's prompt and the longest answer the random weights
// produce.
const testContext = 2048

func TestMain(m *testing.M) {
	testbed, testbedErr = findTestbed()
	if testbedErr == nil {
		shared, testbedErr = startServer(testbed)
	}
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	os.Exit(code)
}

// findTestbed returns the wrapper named by VANTA_TEST_LLAMA_SERVER (set by
// scripts/test), else makes or finds the test bed with scripts/llm-testbed
// (a second with its stamp in place).
func findTestbed() (string, error) {
	if p := os.Getenv("VANTA_TEST_LLAMA_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("VANTA_TEST_LLAMA_SERVER=%s: %w", p, err)
		}
		return p, nil
	}
	script, err := filepath.Abs("../../scripts/llm-testbed")
	if err != nil {
		return "", err
	}
	out, err := exec.Command(script).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("%s: %w: %s", script, err, ee.Stderr)
		}
		return "", fmt.Errorf("%s: %w", script, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// needServer fails the test when the test bed's server is not running.
func needServer(t testing.TB) *server {
	t.Helper()
	if testbedErr != nil {
		t.Fatalf("the LLM test bed is missing (run scripts/llm-testbed as root, or set VANTA_TEST_LLAMA_SERVER): %v", testbedErr)
	}
	return shared
}

// server is one llama-server process of the test bed.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan error
	log  *strings.Builder
}

func (s *server) endpoint(t testing.TB) Endpoint {
	m, err := ReadGGUF(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	return Endpoint{Model: m, URL: s.url, Context: testContext}
}

func (s *server) stop() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// lockedWriter collects the server's output for failure messages.
type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 64<<10 {
		w.b.Write(p)
	}
	return len(p), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts llama-server on a free loopback port and waits,
// polling /health up to a deadline, until the model is loaded.
func startServer(wrapper string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	log := &strings.Builder{}
	w := &lockedWriter{b: log}
	cmd := exec.Command(wrapper, "-m", tinyModel, "--host", "127.0.0.1", "--port", fmt.Sprint(port),
		"-c", fmt.Sprint(testContext), "--parallel", "2")
	cmd.Stdout, cmd.Stderr = w, w
	// Dies with the test binary, even one killed by -timeout, which runs
	// no cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", wrapper, err)
	}
	s := &server{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan error, 1), log: log}
	go func() { s.done <- cmd.Wait() }()
	c := &Client{BaseURL: s.url}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Health(ctx)
		cancel()
		if err == nil {
			return s, nil
		}
		select {
		case werr := <-s.done:
			w.mu.Lock()
			defer w.mu.Unlock()
			return nil, fmt.Errorf("llama-server exited (%v) before it was healthy: %s", werr, log.String())
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("llama-server not healthy after 60 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling a real process, with a deadline
	}
}

// testDocuments are short documents in the shapes the appliance meets.
var testDocuments = []string{
	"ABC TRADING LTD\nPIN P051234567X\nTAX INVOICE No INV-0042\nDate 14/03/2018\nWidgets 2 x 500.00 = 1,000.00\nSubtotal 1,000.00\nVAT 16% 160.00\nTOTAL KES 1,160.00\nPaid by M-PESA",
	"SYARIKAT PERNIAGAAN GIN KEE\n(81109-A)\nNO 290, JALAN AIR PANAS\nTAX INVOICE\nINV NO: 18300\nDATE: 02/01/2018\nWAIST BELT 1 @ 24.00\nTOTAL INCL GST 6%: RM 25.44\nCASH 30.00 CHANGE 4.56",
	"CREDIT NOTE CN-7\nNairobi Office Supplies\nCustomer: Vanta Ltd\n3 Mar 2024\nReturned toner -4,500.00\nVAT 16% -720.00\nTotal -5,220.00",
}

func TestClientHealthAndSlots(t *testing.T) {
	s := needServer(t)
	c := &Client{BaseURL: s.url}
	ctx := context.Background()
	if err := c.Health(ctx); err != nil {
		t.Fatalf("Health: %v", err)
	}
	slots, err := c.Slots(ctx)
	if err != nil {
		t.Fatalf("Slots: %v", err)
	}
	if len(slots) != 2 || slots[0].NCtx <= 0 {
		t.Fatalf("Slots = %+v, want 2 slots (--parallel 2) with a context", slots)
	}

	down := &Client{BaseURL: "http://127.0.0.1:1"}
	if err := down.Health(ctx); Reason(err) != "connection refused" {
		t.Fatalf("Health of a closed port = %v (reason %q), want connection refused", err, Reason(err))
	}
}

// TestLLMSchemaValidOnRealServer: the random weights write nonsense, but
// the grammar holds it to the schema for every document.
func TestLLMSchemaValidOnRealServer(t *testing.T) {
	s := needServer(t)
	ep := s.endpoint(t)
	var answers []Completion
	r := &Router{Endpoints: []Endpoint{ep}}
	r.hooks.answer = func(_ Endpoint, c Completion) { answers = append(answers, c) }
	for i, doc := range testDocuments {
		t.Run(fmt.Sprint("document ", i), func(t *testing.T) {
			answers = nil
			x, err := r.Extract(context.Background(), scope(t), inputOf(doc))
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if len(answers) != 1 {
				t.Fatalf("%d answers from the model (extraction %+v), want 1", len(answers), x)
			}
			if _, err := parseAnswer(answers[0].Content); err != nil {
				t.Fatalf("answer %q: %v", answers[0].Content, err)
			}
			if answers[0].TokensPerSecond() <= 0 {
				t.Fatalf("no tokens/s in the answer's timings: %+v", answers[0].Timings)
			}
			// The schema holds; the values may still be nonsense that
			// extract's normalisers refuse (a 31 February), which must
			// then be a recorded fallback, never an error.
			switch x.Engine {
			case "llm":
				if x.Model != ep.Model.Name || x.PromptVersion != PromptVersion || x.Duration <= 0 || x.FallbackReason != "" || len(x.Checks) == 0 {
					t.Fatalf("LLM extraction = %+v; want model, prompt version, duration, checks and no fallback", x)
				}
			case "rules":
				if !strings.Contains(x.FallbackReason, "llama-llama-2-tiny-random: answer breaks the schema:") ||
					!strings.HasSuffix(x.FallbackReason, "; fell back to rules") {
					t.Fatalf("fallback reason %q, want the rejected value", x.FallbackReason)
				}
			default:
				t.Fatalf("engine %q", x.Engine)
			}
			t.Logf("engine %s, %d tokens at %.1f tokens/s, reason %q", x.Engine, answers[0].TokensPredicted, answers[0].TokensPerSecond(), x.FallbackReason)
		})
	}
}

// TestRouterFallsBackWhenServerKilledMidRequest kills llama-server once
// it has the request: the router retries, finds nobody listening, and
// falls back to rules saying why.
func TestRouterFallsBackWhenServerKilledMidRequest(t *testing.T) {
	needServer(t)
	s, err := startServer(testbed)
	if err != nil {
		t.Fatalf("start a second llama-server: %v", err)
	}
	t.Cleanup(s.stop)
	killed := make(chan error, 1)
	r := &Router{Endpoints: []Endpoint{s.endpoint(t)}, Retries: 2, Backoff: 10 * time.Millisecond}
	r.hooks.sent = func(Endpoint) {
		// The pid the test started is llama-server itself (the wrapper
		// execs all the way), so this kills the model server.
		if err := s.cmd.Process.Kill(); err != nil {
			killed <- err
			return
		}
		killed <- <-s.done
		s.done <- nil // for Cleanup's stop
	}
	x, err := r.Extract(context.Background(), scope(t), inputOf(testDocuments[0]))
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	select {
	case werr := <-killed:
		if werr == nil || !strings.Contains(werr.Error(), "killed") {
			t.Fatalf("llama-server exit = %v, want killed", werr)
		}
	default:
		t.Fatal("the request was never sent")
	}
	if x.Engine != "rules" {
		t.Fatalf("engine %q, want rules", x.Engine)
	}
	want := "llama-llama-2-tiny-random: connection refused; fell back to rules"
	if x.FallbackReason != want {
		t.Fatalf("FallbackReason = %q, want %q", x.FallbackReason, want)
	}
	// The next document does not wait for retries: the server is known
	// to be down for a moment.
	x, err = r.Extract(context.Background(), scope(t), inputOf(testDocuments[1]))
	if err != nil || x.Engine != "rules" || x.FallbackReason != want {
		t.Fatalf("second document = %+v, %v; want rules with %q", x, err, want)
	}
}

// A server killed before it answers /health at all, and one that loads.
func TestRouterHealth(t *testing.T) {
	loading := newFake(t, http.StatusServiceUnavailable, "")
	cases := []struct {
		name   string
		url    string
		reason string
	}{
		{"nobody listening", "http://127.0.0.1:1", "llama-llama-2-tiny-random: connection refused; fell back to rules"},
		{"model loading", loading.URL, "llama-llama-2-tiny-random: model loading; fell back to rules"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ReadGGUF(tinyModel)
			if err != nil {
				t.Fatal(err)
			}
			r := &Router{Endpoints: []Endpoint{{Model: m, URL: tc.url, Context: testContext}}}
			x, err := r.Extract(context.Background(), scope(t), inputOf(testDocuments[0]))
			if err != nil || x.Engine != "rules" || x.FallbackReason != tc.reason {
				t.Fatalf("Extract = engine %q reason %q, %v; want rules with %q", x.Engine, x.FallbackReason, err, tc.reason)
			}
		})
	}
}
