package ai

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// The LLM engine's speed next to bare llama-server, same model (the shared
// tiny one), same prompt, same server (TestMain's):
//
//	go test -run XXX -bench 'LLMEngine|BareLlamaServer' -benchtime 3x ./internal/ai/
//
// tokens/s is tokens generated over the wall time of the whole call (for
// the engine: prompt, HTTP, strict parsing, normalising, checks);
// server-tokens/s is llama-server's own timing of the generation. The
// third, without json_schema, shows what the grammar costs.

func BenchmarkLLMEngine(b *testing.B) {
	s := needServer(b)
	var last Completion
	r := &Router{Endpoints: []Endpoint{s.endpoint(b)}}
	r.hooks.answer = func(_ Endpoint, c Completion) { last = c }
	sc := tenancy.NewScopeForTest(uuid.New())
	var tokens int
	var wall time.Duration
	var server float64
	for b.Loop() {
		start := time.Now()
		x, err := r.Extract(context.Background(), sc, inputOf(testDocuments[0]))
		wall += time.Since(start)
		if err != nil || x.Engine != "llm" {
			b.Fatalf("Extract = %+v, %v; want the LLM engine", x, err)
		}
		tokens += last.TokensPredicted
		server += last.TokensPerSecond()
	}
	b.ReportMetric(float64(tokens)/wall.Seconds(), "tokens/s")
	b.ReportMetric(server/float64(b.N), "server-tokens/s")
}

// bare posts the request a person would with curl.
func bare(b *testing.B, schema bool) {
	s := needServer(b)
	body := map[string]any{"prompt": Prompt(testDocuments[0]), "temperature": 0, "cache_prompt": true, "n_predict": testContext - EstimateTokens(Prompt(testDocuments[0]))}
	if schema {
		body["json_schema"] = FieldsSchema()
	} else {
		// Free text never stops on its own: as many tokens as the
		// schema-shaped answer takes (402 on this document).
		body["n_predict"] = 402
	}
	data, err := json.Marshal(body)
	if err != nil {
		b.Fatal(err)
	}
	var tokens int
	var wall time.Duration
	var server float64
	for b.Loop() {
		start := time.Now()
		resp, err := http.Post(s.url+"/completion", "application/json", bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		var c Completion
		err = json.NewDecoder(resp.Body).Decode(&c)
		resp.Body.Close()
		wall += time.Since(start)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("completion: %d %v", resp.StatusCode, err)
		}
		tokens += c.TokensPredicted
		server += c.TokensPerSecond()
	}
	b.ReportMetric(float64(tokens)/wall.Seconds(), "tokens/s")
	b.ReportMetric(server/float64(b.N), "server-tokens/s")
}

func BenchmarkBareLlamaServer(b *testing.B)         { bare(b, true) }
func BenchmarkBareLlamaServerNoSchema(b *testing.B) { bare(b, false) }
