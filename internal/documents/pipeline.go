package documents

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// TextReader reads a plaintext file's text (extract.ReadText).
type TextReader func(ctx context.Context, path string, kind extract.Kind, lim extract.Limits) (extract.Text, error)

// Extractor extracts fields (the ai.Router; extract.Rules() through
// RulesExtractor).
type Extractor interface {
	Extract(ctx context.Context, s tenancy.Scope, in extract.Input) (extract.Extraction, error)
}

// Pipeline processes a document: ocr, classify, extract.
type Pipeline struct {
	Store       Store
	Text        TextReader
	Extractor   Extractor
	Limits      extract.Limits
	Temp        string  // where plaintext copies live while read; "" = the system's
	ReviewBelow float64 // confidence under which a document needs review; 0 = DefaultReviewBelow
}

// DefaultReviewBelow is the confidence under which an extraction goes to
// review rather than done.
const DefaultReviewBelow = 0.7

// Process runs the stages not yet finished.
func (p Pipeline) Process(ctx context.Context, sc tenancy.Scope, id uuid.UUID) error {
	return errors.New("documents: pipeline not built yet")
}
