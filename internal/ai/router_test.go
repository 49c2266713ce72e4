package ai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

func scope(t *testing.T) tenancy.Scope {
	t.Helper()
	return tenancy.NewScopeForTest(uuid.New())
}

func inputOf(text string) extract.Input {
	return extract.Input{Text: text, Class: "invoice", ClassConfidence: 0.9}
}

// validAnswer is a schema-valid answer for the fake servers below.
const validAnswer = `{"vendor_name":"ABC TRADING LTD","vendor_pin":"P051234567X","customer":"",
"document_number":"INV-0042","issue_date":"2018-03-14","due_date":"","currency":"KES",
"subtotal":"1000","vat":[{"rate":"16","amount":"160.00"}],"total":"1160.00",
"lines":[{"description":"Widgets","quantity":"2","unit_price":"500","amount":"1000.00"}],
"payment_method":"M-PESA"}`

// newFake is a stand-in llama-server for the router's own logic (which
// model, which reason): health answers status; /completion answers
// content. The real server's behaviour is tested in server_test.go.
func newFake(t *testing.T, health int, content string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			w.WriteHeader(health)
		case "/slots":
			w.WriteHeader(http.StatusNotImplemented)
		case "/completion":
			_ = json.NewEncoder(w).Encode(map[string]any{
				"content": content, "stop_type": "eos", "tokens_predicted": 10,
				"timings": map[string]any{"predicted_n": 10, "predicted_ms": 100.0, "predicted_per_second": 100.0},
			})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func endpoint(name string, params uint64, url string) Endpoint {
	return Endpoint{Model: Model{Name: name, Params: params, ContextLength: 4096}, URL: url}
}

func TestRouterChoices(t *testing.T) {
	ok := newFake(t, http.StatusOK, validAnswer)
	junk := newFake(t, http.StatusOK, `{"vendor_name": "x"`)
	badDate := newFake(t, http.StatusOK, strings.Replace(validAnswer, "2018-03-14", "2018-02-31", 1))
	over := errors.New("AI requests: 100 of 100 used this month")
	cases := []struct {
		name         string
		router       *Router
		text         string
		engine       string
		model        string
		reason       string
		wantSubtotal string
	}{
		{name: "no endpoints", router: &Router{}, engine: "rules",
			reason: "no model servers; fell back to rules"},
		{name: "quota exceeded", engine: "rules",
			router: &Router{Endpoints: []Endpoint{endpoint("tiny", 1, ok.URL)},
				Quota: func(context.Context, tenancy.Scope) error { return over }},
			reason: "AI quota: AI requests: 100 of 100 used this month; fell back to rules"},
		{name: "one model answers", engine: "llm", model: "tiny", wantSubtotal: "1000.00",
			router: &Router{Endpoints: []Endpoint{endpoint("tiny", 1, ok.URL)}}},
		{name: "bigger model first", engine: "llm", model: "big",
			router: &Router{Endpoints: []Endpoint{endpoint("tiny", 1, ok.URL), endpoint("big", 7, ok.URL)}}},
		{name: "down bigger model falls back to the smaller", engine: "llm", model: "tiny",
			router: &Router{Endpoints: []Endpoint{endpoint("tiny", 1, ok.URL), endpoint("big", 7, "http://127.0.0.1:1")}},
			reason: "llama-big: connection refused; fell back to llama-tiny"},
		{name: "busy queue takes the smallest model", engine: "llm", model: "tiny",
			router: &Router{Endpoints: []Endpoint{endpoint("tiny", 1, ok.URL), endpoint("big", 7, ok.URL)},
				QueueDepth: func() int { return 25 }}},
		{name: "huge queue takes rules", engine: "rules",
			router: &Router{Endpoints: []Endpoint{endpoint("tiny", 1, ok.URL)}, QueueDepth: func() int { return 500 }},
			reason: "queue of 500 documents (rules from 200); fell back to rules"},
		{name: "document too long for the context", engine: "rules", text: strings.Repeat("word ", 3000),
			router: &Router{Endpoints: []Endpoint{endpoint("tiny", 1, ok.URL)}},
			reason: "llama-tiny: document too long (about 5909 tokens with the answer, context 4096); fell back to rules"},
		{name: "broken JSON", engine: "rules",
			router: &Router{Endpoints: []Endpoint{endpoint("tiny", 1, junk.URL)}},
			reason: "llama-tiny: answer breaks the schema: not a JSON object: unexpected EOF; fell back to rules"},
		{name: "impossible date", engine: "rules",
			router: &Router{Endpoints: []Endpoint{endpoint("tiny", 1, badDate.URL)}},
			reason: `llama-tiny: answer breaks the schema: issue_date: "2018-02-31" is not a date; fell back to rules`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.text
			if text == "" {
				text = testDocuments[0]
			}
			x, err := tc.router.Extract(context.Background(), scope(t), inputOf(text))
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if x.Engine != tc.engine || x.Model != tc.model || x.FallbackReason != tc.reason {
				t.Fatalf("Extract = engine %q model %q reason %q; want %q %q %q", x.Engine, x.Model, x.FallbackReason, tc.engine, tc.model, tc.reason)
			}
			if x.Duration <= 0 {
				t.Fatalf("no duration recorded")
			}
			if x.Engine == "llm" {
				if x.PromptVersion != PromptVersion || len(x.Checks) == 0 || x.Class != "invoice" {
					t.Fatalf("LLM extraction %+v: want prompt version, checks and the input's class", x)
				}
			}
			if tc.wantSubtotal != "" && x.Fields.Subtotal != tc.wantSubtotal { // "1000" normalised by extract
				t.Fatalf("subtotal %q, want %q", x.Fields.Subtotal, tc.wantSubtotal)
			}
		})
	}
}

func TestParseAnswer(t *testing.T) {
	cases := []struct {
		name    string
		content string
		reason  string // "" = valid
	}{
		{"valid", validAnswer, ""},
		{"empty values", `{"vendor_name":"","vendor_pin":"","customer":"","document_number":"","issue_date":"","due_date":"","currency":"","subtotal":"","vat":[],"total":"","lines":[],"payment_method":""}`, ""},
		{"not JSON", `hello`, "not a JSON object"},
		{"an array", `[]`, "not a JSON object"},
		{"two objects", validAnswer + ` {}`, "text after the JSON object"},
		{"missing key", strings.Replace(validAnswer, `"payment_method":"M-PESA"`, `"x":1`, 1), "missing payment_method"},
		{"extra key", strings.Replace(validAnswer, `"customer":"",`, `"customer":"","notes":"",`, 1), `unknown key "notes"`},
		{"number for a string", strings.Replace(validAnswer, `"total":"1160.00"`, `"total":1160`, 1), "cannot unmarshal number"},
		{"comma decimal", strings.Replace(validAnswer, `"total":"1160.00"`, `"total":"1160,00"`, 1), `total: "1160,00" does not match`},
		{"bad PIN", strings.Replace(validAnswer, "P051234567X", "X051234567X", 1), "vendor_pin"},
		{"bad date", strings.Replace(validAnswer, "2018-03-14", "14/03/2018", 1), "issue_date"},
		{"lower-case currency", strings.Replace(validAnswer, `"KES"`, `"kes"`, 1), "currency"},
		{"long name", strings.Replace(validAnswer, "ABC TRADING LTD", strings.Repeat("A", 65), 1), "vendor_name: longer than 64"},
		{"too many VAT lines", strings.Replace(validAnswer, `"vat":[{"rate":"16","amount":"160.00"}]`,
			`"vat":[{"rate":"16","amount":"1"},{"rate":"16","amount":"1"},{"rate":"16","amount":"1"},{"rate":"16","amount":"1"}]`, 1), "vat: 4 entries"},
		{"bad rate", strings.Replace(validAnswer, `"rate":"16"`, `"rate":"16%"`, 1), "vat[0].rate"},
		{"bad line amount", strings.Replace(validAnswer, `"amount":"1000.00"`, `"amount":"lots"`, 1), "lines[0].amount"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseAnswer(tc.content)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("parseAnswer: %v", err)
				}
				return
			}
			var se *SchemaError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("parseAnswer = %v, want a SchemaError containing %q", err, tc.reason)
			}
		})
	}
}

// The schema sent to llama-server names every field of extract.Fields
// by its JSON tag, so that the two cannot drift apart.
func TestSchemaCoversFields(t *testing.T) {
	b, err := json.Marshal(extract.Fields{})
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	props := FieldsSchema()["properties"].(map[string]any)
	if len(props) != len(fields) {
		t.Fatalf("schema has %d properties, extract.Fields %d", len(props), len(fields))
	}
	for k := range fields {
		if _, ok := props[k]; !ok {
			t.Fatalf("schema lacks %q", k)
		}
	}
}

// newBusyFake is a server whose every slot is processing.
func newBusyFake(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
		case "/slots":
			_, _ = w.Write([]byte(`[{"id":0,"n_ctx":4096,"is_processing":true},{"id":1,"n_ctx":4096,"is_processing":true}]`))
		default:
			t.Errorf("busy server asked for %s", r.URL.Path)
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRouterSlotsAndTimeouts(t *testing.T) {
	ok := newFake(t, http.StatusOK, validAnswer)
	busy := newBusyFake(t)
	// A server that never answers a completion (until the client gives up).
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/completion" {
			// Read the body first: only then does the server notice the
			// client hanging up, and cancel r.Context().
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			return
		}
		if r.URL.Path == "/slots" {
			w.WriteHeader(http.StatusNotImplemented)
		}
	}))
	t.Cleanup(stuck.Close)
	cases := []struct {
		name          string
		router        *Router
		engine, model string
		reason        string
	}{
		{name: "all slots of the bigger model busy", engine: "llm", model: "tiny",
			router: &Router{Endpoints: []Endpoint{endpoint("big", 7, busy.URL), endpoint("tiny", 1, ok.URL)}},
			reason: "llama-big: all slots busy; fell back to llama-tiny"},
		{name: "a stuck server times out", engine: "rules",
			router: &Router{Endpoints: []Endpoint{endpoint("tiny", 1, stuck.URL)}, RequestTimeout: 50 * time.Millisecond},
			reason: "llama-tiny: timed out; fell back to rules"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x, err := tc.router.Extract(context.Background(), scope(t), inputOf(testDocuments[0]))
			if err != nil || x.Engine != tc.engine || x.Model != tc.model || x.FallbackReason != tc.reason {
				t.Fatalf("Extract = engine %q model %q reason %q, %v; want %q %q %q", x.Engine, x.Model, x.FallbackReason, err, tc.engine, tc.model, tc.reason)
			}
		})
	}
}

// The client retries a loading server (503) with backoff and gives up
// after Retries more attempts.
func TestClientRetriesWhileLoading(t *testing.T) {
	cases := []struct {
		name      string
		loading   int // 503s before the answer
		retries   int
		wantErr   error
		wantCalls int
	}{
		{"answers at once", 0, 2, nil, 1},
		{"loads, then answers", 2, 2, nil, 3},
		{"still loading after the retries", 3, 2, ErrLoading, 3},
		{"no retries", 1, 0, ErrLoading, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				if calls <= tc.loading {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				_, _ = w.Write([]byte(`{"content":"{}","stop_type":"eos","tokens_predicted":3,"timings":{"predicted_n":3,"predicted_ms":1000}}`))
			}))
			t.Cleanup(srv.Close)
			c := &Client{BaseURL: srv.URL, Retries: tc.retries, Backoff: time.Millisecond}
			got, err := c.Complete(context.Background(), CompletionRequest{Prompt: "x"})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) || calls != tc.wantCalls {
				t.Fatalf("Complete = %v after %d calls; want %v after %d", err, calls, tc.wantErr, tc.wantCalls)
			}
			if err == nil && got.TokensPerSecond() != 3 {
				t.Fatalf("tokens/s %v, want 3 (from predicted_n and predicted_ms)", got.TokensPerSecond())
			}
		})
	}
}

// One router serves every job worker at once (run with -race).
func TestRouterConcurrent(t *testing.T) {
	ok := newFake(t, http.StatusOK, validAnswer)
	r := &Router{Endpoints: []Endpoint{endpoint("tiny", 1, ok.URL), endpoint("big", 7, "http://127.0.0.1:1")}}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			x, err := r.Extract(context.Background(), tenancy.NewScopeForTest(uuid.New()), inputOf(testDocuments[0]))
			if err == nil && (x.Engine != "llm" || x.Model != "tiny") {
				err = errors.New("engine " + x.Engine + " model " + x.Model + ": " + x.FallbackReason)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
