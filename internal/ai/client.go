package ai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Client talks to one llama-server over HTTP.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8081
	// HTTP is the client to use; nil means a client with no overall
	// timeout (each call's context bounds it instead: a long answer
	// from a slow CPU must not be cut by a fixed limit).
	HTTP *http.Client
	// Retries is how many times a call is retried, with backoff, when the
	// server is loading (503) or not listening (connection refused or
	// lost): a restarting server comes back within seconds.
	Retries int
	// Backoff is the first wait between retries, doubled each time;
	// 0 means 100 ms.
	Backoff time.Duration
	// Observe, when set, is told of every completion as it ends (the
	// appliance's metrics); it must not block.
	Observe func(Inference)
}

// Inference is one /completion call as Observe sees it: how long it took
// in all (retries included) and the tokens llama-server counted.
type Inference struct {
	Model           string // the endpoint's model name; set by the Router
	Duration        time.Duration
	PromptTokens    int // tokens_evaluated
	PredictedTokens int // tokens_predicted
	Err             error
}

// ErrLoading says the server is up but still loading its model (503).
var ErrLoading = errors.New("model loading")

// ErrNoSlots says the server does not serve /slots (started without
// --slots, or an older build): callers then do without slot awareness.
var ErrNoSlots = errors.New("slots endpoint not available")

// StatusError is an unexpected HTTP status from llama-server.
type StatusError struct {
	Path   string
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.Path, e.Status, e.Body)
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// retryable reports whether err is worth another try: a loading model,
// a refused connection (restarting server) or a connection lost
// mid-request (a killed server, whose restart we may reach).
func retryable(err error) bool {
	return errors.Is(err, ErrLoading) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Reason turns an error from the client into the few words the router
// records, e.g. "connection refused" rather than a whole URL and stack.
func Reason(err error) string {
	var se *StatusError
	var ne net.Error
	var sc *SchemaError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrLoading):
		return "model loading"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection lost mid-request"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &se):
		return fmt.Sprintf("HTTP %d from %s", se.Status, se.Path)
	case errors.As(err, &sc):
		return sc.Error()
	}
	return err.Error()
}

// do runs one request, retrying retryable failures with backoff.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	wait := c.Backoff
	if wait <= 0 {
		wait = 100 * time.Millisecond
	}
	var err error
	for attempt := 0; ; attempt++ {
		err = c.once(ctx, method, path, body, out)
		if err == nil || !retryable(err) || attempt >= c.Retries || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("llama-server %s%s: %w (then %w)", c.BaseURL, path, err, ctx.Err())
		case <-t.C:
		}
		wait *= 2
	}
	if err != nil {
		return fmt.Errorf("llama-server %s%s: %w", c.BaseURL, path, err)
	}
	return nil
}

func (c *Client) once(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Answers are small (a JSON object of bounded size); a cap keeps a
	// confused server from filling memory.
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		return ErrLoading
	case resp.StatusCode == http.StatusNotImplemented && path == "/slots":
		return ErrNoSlots
	case resp.StatusCode != http.StatusOK:
		msg := strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return &StatusError{Path: path, Status: resp.StatusCode, Body: msg}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode %s answer: %w", path, err)
	}
	return nil
}

// Health asks /health once (no retries: the caller wants the state now):
// nil when the model is loaded and serving, ErrLoading (503) while it
// loads, another error when the server is down.
func (c *Client) Health(ctx context.Context) error {
	if err := c.once(ctx, http.MethodGet, "/health", nil, nil); err != nil {
		return fmt.Errorf("llama-server %s/health: %w", c.BaseURL, err)
	}
	return nil
}

// Slot is one of llama-server's parallel sequences.
type Slot struct {
	ID           int  `json:"id"`
	NCtx         int  `json:"n_ctx"`
	IsProcessing bool `json:"is_processing"`
}

// Slots lists the server's slots (ErrNoSlots when it does not say).
func (c *Client) Slots(ctx context.Context) ([]Slot, error) {
	var slots []Slot
	if err := c.once(ctx, http.MethodGet, "/slots", nil, &slots); err != nil {
		if errors.Is(err, ErrNoSlots) {
			return nil, ErrNoSlots
		}
		return nil, fmt.Errorf("llama-server %s/slots: %w", c.BaseURL, err)
	}
	return slots, nil
}

// CompletionRequest is a /completion call.
type CompletionRequest struct {
	Prompt string
	// JSONSchema constrains the answer (llama-server compiles it to a
	// grammar); nil leaves it free.
	JSONSchema  json.RawMessage
	NPredict    int     // most tokens to generate; 0 means the server's default
	Temperature float64 // 0: greedy, the same document gives the same answer
	// CachePrompt lets the server reuse the evaluated prefix (our fixed
	// instructions) across documents.
	CachePrompt bool
}

// Timings are llama-server's own measurements of one completion.
type Timings struct {
	PromptN            int     `json:"prompt_n"`
	PromptMS           float64 `json:"prompt_ms"`
	PredictedN         int     `json:"predicted_n"`
	PredictedMS        float64 `json:"predicted_ms"`
	PredictedPerSecond float64 `json:"predicted_per_second"`
}

// Completion is llama-server's answer.
type Completion struct {
	Content         string  `json:"content"`
	TokensPredicted int     `json:"tokens_predicted"`
	TokensEvaluated int     `json:"tokens_evaluated"`
	StopType        string  `json:"stop_type"` // "eos", "limit", "word"
	Truncated       bool    `json:"truncated"` // the prompt did not fit the context
	Timings         Timings `json:"timings"`
}

// TokensPerSecond is the generation speed the server measured.
func (c Completion) TokensPerSecond() float64 {
	if c.Timings.PredictedPerSecond > 0 {
		return c.Timings.PredictedPerSecond
	}
	if c.Timings.PredictedMS > 0 {
		return float64(c.Timings.PredictedN) / (c.Timings.PredictedMS / 1000)
	}
	return 0
}

// Complete runs /completion, retrying while the server loads or restarts.
func (c *Client) Complete(ctx context.Context, req CompletionRequest) (Completion, error) {
	body := map[string]any{
		"prompt":       req.Prompt,
		"temperature":  req.Temperature,
		"cache_prompt": req.CachePrompt,
		"stream":       false,
	}
	if req.NPredict > 0 {
		body["n_predict"] = req.NPredict
	}
	if req.JSONSchema != nil {
		body["json_schema"] = req.JSONSchema
	}
	data, err := json.Marshal(body)
	if err != nil {
		return Completion{}, fmt.Errorf("encode completion request: %w", err)
	}
	var out Completion
	start := time.Now()
	err = c.do(ctx, http.MethodPost, "/completion", data, &out)
	if c.Observe != nil {
		c.Observe(Inference{Duration: time.Since(start), PromptTokens: out.TokensEvaluated, PredictedTokens: out.TokensPredicted, Err: err})
	}
	if err != nil {
		return Completion{}, err
	}
	return out, nil
}
