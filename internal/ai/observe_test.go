package ai

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestRouterObservesCompletions: every completion, answered or not, is
// reported once with its model's name and the tokens the server counted.
func TestRouterObservesCompletions(t *testing.T) {
	fail := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(`{"content":"ok","stop_type":"eos","tokens_predicted":7,"tokens_evaluated":42}`))
	}))
	t.Cleanup(srv.Close)
	var seen []Inference
	r := &Router{Backoff: time.Millisecond, Observe: func(in Inference) { seen = append(seen, in) }}
	c := r.client(Endpoint{URL: srv.URL, Model: Model{Name: "tiny-q4"}})
	if _, err := c.Complete(context.Background(), CompletionRequest{Prompt: "x"}); err != nil {
		t.Fatal(err)
	}
	fail = true
	if _, err := c.Complete(context.Background(), CompletionRequest{Prompt: "x"}); err == nil {
		t.Fatal("a 500 answered")
	}
	if len(seen) != 2 {
		t.Fatalf("observed %d completions, want 2", len(seen))
	}
	if got := seen[0]; got.Model != "tiny-q4" || got.PromptTokens != 42 || got.PredictedTokens != 7 || got.Err != nil || got.Duration <= 0 {
		t.Errorf("answered: %+v", got)
	}
	var se *StatusError
	if got := seen[1]; got.Model != "tiny-q4" || !errors.As(got.Err, &se) || got.PredictedTokens != 0 {
		t.Errorf("failed: %+v", got)
	}
}
