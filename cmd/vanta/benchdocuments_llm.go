package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// llmRate is llama-server's own generation speed on a fixed prompt, read
// from the timings it reports, and the same seen from the client (HTTP
// and prompt processing included).
type llmRate struct {
	URL            string  `json:"url"`
	Runs           int     `json:"runs"`
	Tokens         int     `json:"tokens_per_run"`
	ServerTokensPS float64 `json:"server_tokens_per_s"`
	ClientTokensPS float64 `json:"client_tokens_per_s"`
	PromptTokensPS float64 `json:"prompt_tokens_per_s"`
	EngineTokensPS float64 `json:"engine_tokens_per_s,omitempty"`
	EngineNote     string  `json:"engine_note,omitempty"`
}

func (l llmRate) print(w io.Writer) {
	fmt.Fprintf(w, "llama-server %s, %d runs of %d tokens: %.1f tokens/s generated (server timings), %.1f tokens/s seen by the client, prompt %.1f tokens/s\n",
		l.URL, l.Runs, l.Tokens, l.ServerTokensPS, l.ClientTokensPS, l.PromptTokensPS)
	if l.EngineNote != "" {
		fmt.Fprintf(w, "LLM engine: %s\n", l.EngineNote)
	}
}

// llmPrompt is an extraction-sized prompt: a receipt's text and the ask.
const llmPrompt = "Extract vendor_name, document_number, issue_date and total as JSON from this invoice.\n" +
	"NAIROBI OFFICE SUPPLIES LTD\nKRA PIN: P051234567X\nInvoice No: INV-2026-0042\nInvoice Date: 14/03/2026\n" +
	"Subtotal KES 7,750.00\nVAT 16% KES 1,240.00\nTOTAL KES 8,990.00\nJSON:"

// benchLLM asks llama-server's /completion for llmTokens tokens, a few
// times after one warm-up, and averages.
func benchLLM(ctx context.Context, url string) (llmRate, error) {
	const runs, tokens = 5, 64
	r := llmRate{URL: url, Runs: runs, Tokens: tokens,
		EngineNote: "not measured here: the engine's tokens/s is internal/ai's (docs/BENCHMARKS.md, LLM engine)"}
	client := &http.Client{Timeout: 5 * time.Minute}
	var server, prompt float64
	var wall time.Duration
	var generated int
	for i := range runs + 1 {
		body, _ := json.Marshal(map[string]any{"prompt": llmPrompt, "n_predict": tokens, "temperature": 0, "cache_prompt": false})
		req, err := http.NewRequestWithContext(ctx, "POST", url+"/completion", bytes.NewReader(body))
		if err != nil {
			return r, err
		}
		req.Header.Set("Content-Type", "application/json")
		t := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return r, fmt.Errorf("llama-server: %w", err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return r, err
		}
		if resp.StatusCode != http.StatusOK {
			return r, fmt.Errorf("llama-server /completion: %d %s", resp.StatusCode, bytes.TrimSpace(data))
		}
		d := time.Since(t)
		var out struct {
			TokensPredicted int `json:"tokens_predicted"`
			Timings         struct {
				PredictedPerSecond float64 `json:"predicted_per_second"`
				PromptPerSecond    float64 `json:"prompt_per_second"`
			} `json:"timings"`
		}
		if err := json.Unmarshal(data, &out); err != nil {
			return r, fmt.Errorf("llama-server /completion: %w", err)
		}
		if i == 0 {
			continue // warm-up: model pages faulted in, slots allocated
		}
		server += out.Timings.PredictedPerSecond
		prompt += out.Timings.PromptPerSecond
		generated += out.TokensPredicted
		wall += d
	}
	r.ServerTokensPS = server / runs
	r.PromptTokensPS = prompt / runs
	if wall > 0 {
		r.ClientTokensPS = float64(generated) / wall.Seconds()
	}
	return r, nil
}
