package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/vanta-ledger/vanta/internal/ai"
	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

const benchExtractUsage = `usage: vanta bench extract --data FILE [--engine rules|llm] [--split train|holdout|all]
                          [--llm-url URL] [--json]

field extraction against labelled receipts (one JSON object a line with
"key", "entities" {company, date, address, total} and "words"): per-field
precision (correct/predicted), recall (correct/documents with a truth) and
F1. --split holdout is every fifth record by key hash, never used to tune
the rules; train is the rest. --engine llm asks the llama-server at
--llm-url through the appliance's router; a document it cannot answer
falls back to the rules, and the fallbacks are counted
`

// extractBenchResult is what --json prints.
type extractBenchResult struct {
	Documents int                           `json:"documents"`
	Engine    string                        `json:"engine"`
	Split     string                        `json:"split"`
	Fields    map[string]extract.FieldScore `json:"fields"`
	// Fallbacks counts the documents the LLM engine left to the rules.
	Fallbacks int `json:"fallbacks,omitempty"`
}

// routedEngine is the LLM engine as the pipeline runs it (the router,
// with its fallback to rules), counting the fallbacks so that a bench of
// "llm" cannot silently be a bench of the rules.
type routedEngine struct {
	router    *ai.Router
	fallbacks atomic.Int64
	firstWhy  atomic.Pointer[string]
}

func (e *routedEngine) Name() string { return "llm" }

func (e *routedEngine) Extract(ctx context.Context, in extract.Input) (extract.Extraction, error) {
	// No company: the bench charges no quota (the router's Quota is nil).
	x, err := e.router.Extract(ctx, tenancy.Scope{}, in)
	if err == nil && x.Engine != "llm" {
		e.fallbacks.Add(1)
		why := x.FallbackReason
		e.firstWhy.CompareAndSwap(nil, &why)
	}
	return x, err
}

func cmdBenchExtract(args []string) int {
	return benchExtract(args, os.Stdout, os.Stderr)
}

func benchExtract(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vanta bench extract", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchExtractUsage) }
	data := fs.String("data", "", "labelled JSONL file")
	engine := fs.String("engine", "rules", "rules or llm")
	split := fs.String("split", "all", "train, holdout or all")
	llmURL := fs.String("llm-url", "", "llama-server base URL (for --engine llm)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vanta bench extract: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *data == "" {
		fmt.Fprintln(stderr, "vanta bench extract: --data FILE is required (a JSONL file of labelled receipts)")
		return exitUsage
	}
	sp := extract.Split(*split)
	if sp != extract.SplitTrain && sp != extract.SplitHoldout && sp != extract.SplitAll {
		fmt.Fprintf(stderr, "vanta bench extract: --split %q: want train, holdout or all\n", *split)
		return exitUsage
	}
	var eng extract.Engine
	var routed *routedEngine
	switch *engine {
	case "rules":
		eng = extract.Rules()
	case "llm":
		if *llmURL == "" {
			fmt.Fprintln(stderr, "vanta bench extract: --engine llm needs a model server: give --llm-url http://127.0.0.1:8081 (a running llama-server)")
			return exitUsage
		}
		routed = &routedEngine{router: &ai.Router{
			Endpoints: []ai.Endpoint{{Model: ai.Model{Name: "bench"}, URL: *llmURL}},
			Rules:     extract.Rules(),
		}}
		eng = routed
	default:
		fmt.Fprintf(stderr, "vanta bench extract: --engine %q: want rules or llm\n", *engine)
		return exitUsage
	}
	f, err := os.Open(*data)
	if err != nil {
		fmt.Fprintf(stderr, "vanta bench extract: --data %s: %v\n", *data, err)
		return exitUsage
	}
	defer f.Close()
	samples, err := extract.ReadSamples(f, sp)
	if err != nil {
		fmt.Fprintf(stderr, "vanta bench extract: --data %s: %v\n", *data, err)
		return exitUsage
	}
	preds, err := extract.RunSamples(context.Background(), eng, samples)
	if err != nil {
		fmt.Fprintf(stderr, "vanta bench extract: %v\n", err)
		return exitFailure
	}
	res := extractBenchResult{Documents: len(samples), Engine: eng.Name(), Split: string(sp), Fields: extract.Score(samples, preds)}
	if routed != nil {
		res.Fallbacks = int(routed.fallbacks.Load())
		if why := routed.firstWhy.Load(); why != nil {
			fmt.Fprintf(stderr, "vanta bench extract: %d of %d documents fell back to rules; the first because %s\n", res.Fallbacks, res.Documents, *why)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
		return exitOK
	}
	fmt.Fprintf(stdout, "engine %s, split %s, %d documents\n", res.Engine, res.Split, res.Documents)
	fmt.Fprintf(stdout, "%-8s %9s %9s %9s %9s %7s %7s\n", "field", "predicted", "correct", "precision", "recall", "f1", "truth")
	for _, name := range extract.ScoredFields {
		s := res.Fields[name]
		fmt.Fprintf(stdout, "%-8s %9d %9d %9.3f %9.3f %7.3f %7d\n", name, s.Predicted, s.Correct, s.Precision, s.Recall, s.F1, s.Truth)
	}
	return exitOK
}
