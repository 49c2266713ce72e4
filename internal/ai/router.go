package ai

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptrace"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Endpoint is one llama-server serving one model.
type Endpoint struct {
	Model Model
	URL   string // e.g. http://127.0.0.1:8081
	// Context is the context size the server runs with (its -c); 0
	// means the model's own ContextLength.
	Context int
}

// Name is the endpoint's program name, "llama-<model>", as the
// supervisor and the fallback reasons call it.
func (e Endpoint) Name() string { return "llama-" + e.Model.Name }

func (e Endpoint) contextSize() int {
	if e.Context > 0 {
		return e.Context
	}
	return e.Model.ContextLength
}

// Defaults of the router's knobs.
const (
	// DefaultAnswerTokens is the room a request keeps for the answer:
	// a filled-in schema takes a few hundred tokens (fewer with a real
	// model than with the test's random weights).
	DefaultAnswerTokens = 768
	// DefaultBusyQueue: with this many documents waiting, only the
	// smallest model is used, so that the queue drains.
	DefaultBusyQueue = 20
	// DefaultRulesQueue: with this many waiting, rules only (the seed's
	// emergency mode: throughput over quality).
	DefaultRulesQueue = 200
	// DefaultRequestTimeout bounds one completion.
	DefaultRequestTimeout = 3 * time.Minute
	// healthTTL is how long a /health answer is trusted: long enough not
	// to ask for every document, short enough that a restarted server is
	// used again within seconds.
	healthTTL = 2 * time.Second
)

// Router extracts fields with the best model that fits, falling back to a
// smaller model and then to rules, and says why in FallbackReason.
type Router struct {
	Endpoints []Endpoint
	Rules     extract.Engine
	// QueueDepth is how many jobs wait; nil means 0.
	QueueDepth func() int
	// Quota is asked once per document before any model is; an error
	// (the company's AI requests are used up) means rules. nil: no limit.
	Quota func(ctx context.Context, s tenancy.Scope) error

	AnswerTokens   int           // 0: DefaultAnswerTokens
	BusyQueue      int           // 0: DefaultBusyQueue
	RulesQueue     int           // 0: DefaultRulesQueue
	RequestTimeout time.Duration // 0: DefaultRequestTimeout
	Retries        int           // per request, on 503 and refused connections; 0: 2
	Backoff        time.Duration // first retry wait; 0: 100 ms
	// Observe, when set, is told of every completion with its model's
	// name (Client.Observe); it must not block.
	Observe func(Inference)

	// hooks let tests act at exact moments (kill a server mid-request).
	hooks hooks

	mu     sync.Mutex
	health map[string]healthEntry
}

type healthEntry struct {
	err error
	at  time.Time
}

func (r *Router) answerTokens() int {
	if r.AnswerTokens > 0 {
		return r.AnswerTokens
	}
	return DefaultAnswerTokens
}

func orDefault[T int | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

// Extract runs one document through the router. It fails only when the
// rules engine fails (or ctx ends): every LLM problem is a fallback.
func (r *Router) Extract(ctx context.Context, s tenancy.Scope, in extract.Input) (extract.Extraction, error) {
	start := time.Now()
	var reasons []string
	if r.Quota != nil {
		if err := r.Quota(ctx, s); err != nil {
			return r.rules(ctx, in, start, append(reasons, "AI quota: "+err.Error()))
		}
	}
	cands, why := r.candidates()
	if why != "" {
		return r.rules(ctx, in, start, append(reasons, why))
	}
	prompt := Prompt(in.Text)
	need := EstimateTokens(prompt) + r.answerTokens()
	for i, ep := range cands {
		last := i == len(cands)-1
		if n := ep.contextSize(); n > 0 && need > n {
			reasons = append(reasons, fmt.Sprintf("%s: document too long (about %d tokens with the answer, context %d)", ep.Name(), need, n))
			continue
		}
		if err := r.checkHealth(ctx, ep); err != nil {
			reasons = append(reasons, ep.Name()+": "+Reason(err))
			continue
		}
		if !last && r.allSlotsBusy(ctx, ep) {
			reasons = append(reasons, ep.Name()+": all slots busy")
			continue
		}
		x, err := r.llm(ep).extract(ctx, in, prompt)
		if err != nil {
			if ctx.Err() != nil {
				return extract.Extraction{}, fmt.Errorf("extract with %s: %w", ep.Name(), ctx.Err())
			}
			r.markDown(ep, err)
			reasons = append(reasons, ep.Name()+": "+Reason(err))
			continue
		}
		x.Duration = time.Since(start)
		if len(reasons) > 0 {
			x.FallbackReason = strings.Join(reasons, "; ") + "; fell back to " + ep.Name()
		}
		return x, nil
	}
	return r.rules(ctx, in, start, reasons)
}

// candidates are the endpoints to try, biggest model first (the best
// answer), or why none is tried.
func (r *Router) candidates() ([]Endpoint, string) {
	if len(r.Endpoints) == 0 {
		return nil, "no model servers"
	}
	cands := append([]Endpoint(nil), r.Endpoints...)
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i].Model, cands[j].Model
		if a.Params != b.Params {
			return a.Params > b.Params
		}
		return a.FileSize > b.FileSize
	})
	depth := 0
	if r.QueueDepth != nil {
		depth = r.QueueDepth()
	}
	switch {
	case depth >= orDefault(r.RulesQueue, DefaultRulesQueue):
		return nil, fmt.Sprintf("queue of %d documents (rules from %d)", depth, orDefault(r.RulesQueue, DefaultRulesQueue))
	case depth >= orDefault(r.BusyQueue, DefaultBusyQueue) && len(cands) > 1:
		// Only the smallest model: it answers fastest, and the queue
		// matters more than the last bit of accuracy.
		cands = cands[len(cands)-1:]
	}
	return cands, ""
}

// rules runs the rules engine, recording why no model answered.
func (r *Router) rules(ctx context.Context, in extract.Input, start time.Time, reasons []string) (extract.Extraction, error) {
	eng := r.Rules
	if eng == nil {
		eng = extract.Rules()
	}
	x, err := eng.Extract(ctx, in)
	if err != nil {
		return extract.Extraction{}, fmt.Errorf("rules extraction: %w", err)
	}
	x.Duration = time.Since(start)
	if len(reasons) > 0 {
		x.FallbackReason = strings.Join(reasons, "; ") + "; fell back to rules"
	}
	return x, nil
}

func (r *Router) client(ep Endpoint) *Client {
	retries := r.Retries
	if retries == 0 {
		retries = 2
	}
	c := &Client{BaseURL: ep.URL, Retries: retries, Backoff: r.Backoff}
	if obs := r.Observe; obs != nil {
		model := ep.Model.Name
		c.Observe = func(in Inference) {
			in.Model = model
			obs(in)
		}
	}
	return c
}

func (r *Router) llm(ep Endpoint) *LLM {
	return &LLM{Endpoint: ep, Client: r.client(ep), Timeout: orDefault(r.RequestTimeout, DefaultRequestTimeout), hooks: r.hooks}
}

// checkHealth asks /health, or trusts an answer younger than healthTTL.
func (r *Router) checkHealth(ctx context.Context, ep Endpoint) error {
	r.mu.Lock()
	h, ok := r.health[ep.URL]
	r.mu.Unlock()
	if ok && time.Since(h.at) < healthTTL {
		return h.err
	}
	hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := r.client(ep).Health(hctx)
	r.setHealth(ep, err)
	return err
}

func (r *Router) setHealth(ep Endpoint, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.health == nil {
		r.health = map[string]healthEntry{}
	}
	r.health[ep.URL] = healthEntry{err: err, at: time.Now()}
}

// markDown remembers a server that failed mid-request, so that the next
// documents go elsewhere at once rather than each waiting for retries.
// An answer that broke the schema says nothing about the server's health.
func (r *Router) markDown(ep Endpoint, err error) {
	var se *SchemaError
	if errors.As(err, &se) {
		return
	}
	r.setHealth(ep, err)
}

// allSlotsBusy reports whether every slot of the server is working on
// another request (the answer would wait); a server that does not list
// its slots is taken as free.
func (r *Router) allSlotsBusy(ctx context.Context, ep Endpoint) bool {
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	slots, err := r.client(ep).Slots(sctx)
	if err != nil || len(slots) == 0 {
		return false
	}
	for _, s := range slots {
		if !s.IsProcessing {
			return false
		}
	}
	return true
}

// LLM is the LLM engine on one endpoint: the fields-v1 prompt, the
// schema-constrained completion, strict parsing and normalisation, then
// extract.ApplyChecks.
type LLM struct {
	Endpoint Endpoint
	Client   *Client
	Timeout  time.Duration // per completion; 0: DefaultRequestTimeout

	hooks hooks
}

// hooks are test hooks: sent is called once a completion request has
// been written to the server (it is working on it now), answer with each
// answer before it is parsed.
type hooks struct {
	sent   func(Endpoint)
	answer func(Endpoint, Completion)
}

// Name is the engine's name in Extraction.Engine.
func (l *LLM) Name() string { return "llm" }

// Extract runs the document through the model alone (no fallback).
func (l *LLM) Extract(ctx context.Context, in extract.Input) (extract.Extraction, error) {
	start := time.Now()
	x, err := l.extract(ctx, in, Prompt(in.Text))
	x.Duration = time.Since(start)
	return x, err
}

// Answer runs the completion and checks it against the schema, nothing
// more: the raw material of Extract, and what a benchmark measures.
func (l *LLM) Answer(ctx context.Context, prompt string) (Completion, error) {
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := CompletionRequest{Prompt: prompt, JSONSchema: schemaJSON, Temperature: 0, CachePrompt: true}
	// The answer may use whatever context the prompt leaves.
	if n := l.Endpoint.contextSize(); n > 0 {
		req.NPredict = max(n-EstimateTokens(prompt), 64)
	}
	if l.hooks.sent != nil {
		var once sync.Once
		cctx = httptrace.WithClientTrace(cctx, &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { once.Do(func() { l.hooks.sent(l.Endpoint) }) },
		})
	}
	c, err := l.Client.Complete(cctx, req)
	if err != nil {
		return Completion{}, err
	}
	if c.Truncated {
		return c, &SchemaError{Reason: "the document did not fit the context"}
	}
	if c.StopType == "limit" {
		return c, &SchemaError{Reason: fmt.Sprintf("answer cut at %d tokens", c.TokensPredicted)}
	}
	return c, nil
}

func (l *LLM) extract(ctx context.Context, in extract.Input, prompt string) (extract.Extraction, error) {
	c, err := l.Answer(ctx, prompt)
	if err != nil {
		return extract.Extraction{}, err
	}
	if l.hooks.answer != nil {
		l.hooks.answer(l.Endpoint, c)
	}
	w, err := parseAnswer(c.Content)
	if err != nil {
		return extract.Extraction{}, err
	}
	f, err := normalize(w)
	if err != nil {
		return extract.Extraction{}, err
	}
	x := extract.Extraction{
		Class: in.Class, ClassConfidence: in.ClassConfidence,
		Fields: f, Confidence: llmConfidence(f),
		Engine: l.Name(), Model: l.Endpoint.Model.Name, PromptVersion: PromptVersion,
	}
	extract.ApplyChecks(in.Text, &x)
	return x, nil
}

// normalize turns a schema-valid answer into extract.Fields with
// extract's own normalisers, so that both engines write values the same
// way; a value they refuse (2018-02-31) rejects the answer.
func normalize(w extract.Fields) (extract.Fields, error) {
	bad := func(field, v, what string) error {
		return &SchemaError{Reason: fmt.Sprintf("%s: %q is not %s", field, v, what)}
	}
	amount := func(field, v string) (string, error) {
		if v == "" {
			return "", nil
		}
		n := extract.NormalizeAmount(v)
		if n == "" {
			return "", bad(field, v, "an amount")
		}
		return n, nil
	}
	date := func(field, v string) (string, error) {
		if v == "" {
			return "", nil
		}
		d, ok := extract.ParseDate(v)
		if !ok || d != v {
			return "", bad(field, v, "a date")
		}
		return d, nil
	}
	f := extract.Fields{
		VendorName: strings.TrimSpace(w.VendorName), VendorPIN: w.VendorPIN,
		Customer: strings.TrimSpace(w.Customer), DocumentNumber: strings.TrimSpace(w.DocumentNumber),
		Currency: w.Currency, PaymentMethod: strings.TrimSpace(w.PaymentMethod),
	}
	if f.VendorPIN != "" && !extract.ValidKRAPIN(f.VendorPIN) {
		return extract.Fields{}, bad("vendor_pin", f.VendorPIN, "a KRA PIN")
	}
	var err error
	if f.IssueDate, err = date("issue_date", w.IssueDate); err != nil {
		return extract.Fields{}, err
	}
	if f.DueDate, err = date("due_date", w.DueDate); err != nil {
		return extract.Fields{}, err
	}
	if f.Subtotal, err = amount("subtotal", w.Subtotal); err != nil {
		return extract.Fields{}, err
	}
	if f.Total, err = amount("total", w.Total); err != nil {
		return extract.Fields{}, err
	}
	for i, v := range w.VAT {
		a, err := amount(fmt.Sprintf("vat[%d].amount", i), v.Amount)
		if err != nil {
			return extract.Fields{}, err
		}
		f.VAT = append(f.VAT, extract.VATLine{Rate: v.Rate, Amount: a})
	}
	for i, l := range w.Lines {
		p := fmt.Sprintf("lines[%d].", i)
		up, err := amount(p+"unit_price", l.UnitPrice)
		if err != nil {
			return extract.Fields{}, err
		}
		am, err := amount(p+"amount", l.Amount)
		if err != nil {
			return extract.Fields{}, err
		}
		f.Lines = append(f.Lines, extract.Line{Description: strings.TrimSpace(l.Description), Quantity: l.Quantity, UnitPrice: up, Amount: am})
	}
	return f, nil
}

// llmConfidence is the prior of a value the model filled in: the server
// gives no calibrated probability per field, so every found value starts
// at the same level and ApplyChecks lowers those that fail a check.
func llmConfidence(f extract.Fields) map[string]float64 {
	const found = 0.8
	c := map[string]float64{}
	set := func(name string, ok bool) {
		if ok {
			c[name] = found
		} else {
			c[name] = 0
		}
	}
	set("vendor_name", f.VendorName != "")
	set("vendor_pin", f.VendorPIN != "")
	set("customer", f.Customer != "")
	set("document_number", f.DocumentNumber != "")
	set("issue_date", f.IssueDate != "")
	set("due_date", f.DueDate != "")
	set("currency", f.Currency != "")
	set("subtotal", f.Subtotal != "")
	set("vat", len(f.VAT) > 0)
	set("total", f.Total != "")
	set("lines", len(f.Lines) > 0)
	set("payment_method", f.PaymentMethod != "")
	return c
}
