package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vanta-ledger/vanta/internal/ai"
	"github.com/vanta-ledger/vanta/internal/extract/extracttest"
)

// llmRate compares, on one llama-server and one prompt (the engine's
// fields prompt over the sample invoice), the server answering a bare
// /completion with the engine's call through internal/ai's client: the
// same prompt with the fields JSON schema, which llama-server turns into
// a grammar that every sampled token must satisfy. Tokens/s are the
// server's own timings (generation only); client tokens/s include HTTP
// and prompt processing.
type llmRate struct {
	URL            string  `json:"url"`
	Runs           int     `json:"runs"`
	MaxTokens      int     `json:"max_tokens"`
	BareTokensPS   float64 `json:"bare_tokens_per_s"`
	BareClientPS   float64 `json:"bare_client_tokens_per_s"`
	EngineTokensPS float64 `json:"engine_tokens_per_s"`
	EngineClientPS float64 `json:"engine_client_tokens_per_s"`
	EngineOverBare float64 `json:"engine_over_bare"`
	PromptVersion  string  `json:"prompt_version"`
}

func (l llmRate) print(w io.Writer) {
	fmt.Fprintf(w, "llama-server %s, prompt %s, %d runs of at most %d tokens, tokens/s (server timings; client-side):\n", l.URL, l.PromptVersion, l.Runs, l.MaxTokens)
	fmt.Fprintf(w, "  bare /completion               %8.1f  %8.1f\n", l.BareTokensPS, l.BareClientPS)
	fmt.Fprintf(w, "  LLM engine (ai.Client, schema) %8.1f  %8.1f  %.2fx bare\n", l.EngineTokensPS, l.EngineClientPS, l.EngineOverBare)
}

// benchLLM runs each side once to warm up (model pages faulted in, the
// schema's grammar compiled) and then runs times, alternating so that a
// change of load hits both.
func benchLLM(ctx context.Context, url string) (llmRate, error) {
	const runs, tokens = 5, 128
	prompt := ai.Prompt(strings.Join(extracttest.Invoice().Lines, "\n"))
	schema, err := json.Marshal(ai.FieldsSchema())
	if err != nil {
		return llmRate{}, err
	}
	r := llmRate{URL: url, Runs: runs, MaxTokens: tokens, PromptVersion: ai.PromptVersion}
	engine := &ai.Client{BaseURL: url, HTTP: &http.Client{Timeout: 5 * time.Minute}}
	bareHTTP := &http.Client{Timeout: 5 * time.Minute}
	type side struct {
		server float64
		tokens int
		wall   time.Duration
	}
	var bare, eng side
	for i := range runs + 1 {
		t := time.Now()
		b, err := bareCompletion(ctx, bareHTTP, url, prompt, tokens)
		if err != nil {
			return r, err
		}
		bd := time.Since(t)
		t = time.Now()
		e, err := engine.Complete(ctx, ai.CompletionRequest{Prompt: prompt, JSONSchema: schema, NPredict: tokens, Temperature: 0, CachePrompt: false})
		if err != nil {
			return r, fmt.Errorf("LLM engine: %w", err)
		}
		ed := time.Since(t)
		if i == 0 {
			continue
		}
		bare.server += b.TokensPerSecond()
		bare.tokens += b.TokensPredicted
		bare.wall += bd
		eng.server += e.TokensPerSecond()
		eng.tokens += e.TokensPredicted
		eng.wall += ed
	}
	r.BareTokensPS, r.EngineTokensPS = bare.server/runs, eng.server/runs
	r.BareClientPS = float64(bare.tokens) / bare.wall.Seconds()
	r.EngineClientPS = float64(eng.tokens) / eng.wall.Seconds()
	r.EngineOverBare = ratio(r.EngineTokensPS, r.BareTokensPS)
	return r, nil
}

// bareCompletion is /completion by hand, no schema, no retries.
func bareCompletion(ctx context.Context, client *http.Client, url, prompt string, tokens int) (ai.Completion, error) {
	body, _ := json.Marshal(map[string]any{"prompt": prompt, "n_predict": tokens, "temperature": 0, "cache_prompt": false})
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/completion", bytes.NewReader(body))
	if err != nil {
		return ai.Completion{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return ai.Completion{}, fmt.Errorf("llama-server: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return ai.Completion{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return ai.Completion{}, fmt.Errorf("llama-server /completion: %d %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	var out ai.Completion
	if err := json.Unmarshal(data, &out); err != nil {
		return ai.Completion{}, fmt.Errorf("llama-server /completion: %w", err)
	}
	return out, nil
}
