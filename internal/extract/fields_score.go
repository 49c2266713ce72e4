package extract

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
)

// This file scores an engine against labelled receipts in the SROIE
// format (one JSON object a line: key, entities {company, date, address,
// total}, words). `vanta bench extract` and the quality regression test
// share it.

// Sample is one labelled document.
type Sample struct {
	Key      string            `json:"key"`
	Entities map[string]string `json:"entities"`
	Words    []string          `json:"words"`
}

// Text is the document's text: its transcribed lines joined by newlines.
func (s Sample) Text() string { return strings.Join(s.Words, "\n") }

// Split names a deterministic part of a labelled file.
type Split string

// The splits: every fifth record by key hash is held out and never looked
// at while tuning the rules, so its figures are honest.
const (
	SplitTrain   Split = "train"
	SplitHoldout Split = "holdout"
	SplitAll     Split = "all"
)

// InSplit reports whether a record with key belongs to split.
func InSplit(key string, split Split) bool {
	h := fnv.New32a()
	h.Write([]byte(key))
	held := h.Sum32()%5 == 0
	switch split {
	case SplitTrain:
		return !held
	case SplitHoldout:
		return held
	default:
		return true
	}
}

// SampleError locates a bad line in a labelled file.
type SampleError struct {
	Line int
	Err  error
}

func (e *SampleError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *SampleError) Unwrap() error { return e.Err }

// ReadSamples reads a labelled file, keeping the records of split.
func ReadSamples(r io.Reader, split Split) ([]Sample, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var out []Sample
	n, records := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		records++
		var s Sample
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			return nil, &SampleError{n, fmt.Errorf("not a JSON object: %w", err)}
		}
		if s.Key == "" {
			return nil, &SampleError{n, errors.New(`no "key"`)}
		}
		if s.Entities == nil {
			return nil, &SampleError{n, errors.New(`no "entities"`)}
		}
		if len(s.Words) == 0 {
			return nil, &SampleError{n, errors.New(`no "words"`)}
		}
		if InSplit(s.Key, split) {
			out = append(out, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &SampleError{n + 1, err}
	}
	if records == 0 {
		return nil, errors.New("no records")
	}
	return out, nil
}

// ScoredFields are the SROIE entities, in report order.
var ScoredFields = []string{"total", "date", "company", "address"}

// FieldScore is one field's precision, recall and F1 over a set.
type FieldScore struct {
	Predicted int     `json:"predicted"`
	Truth     int     `json:"truth"`
	Correct   int     `json:"correct"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// Prediction is what an engine answered for the scored entities.
type Prediction map[string]string

// Predict maps an extraction onto the SROIE entities. Address is not in
// the schema; the rules engine leaves it in the vendor block it found.
func Predict(x Extraction, address string) Prediction {
	return Prediction{
		"total":   x.Fields.Total,
		"date":    x.Fields.IssueDate,
		"company": x.Fields.VendorName,
		"address": address,
	}
}

// MatchEntity says whether a predicted value equals the truth: company and
// address after normalising white space and case, date as a calendar date,
// total as an exact amount.
func MatchEntity(field, predicted, truth string) bool {
	switch field {
	case "total":
		return predicted != "" && amountEqual(predicted, truth)
	case "date":
		p, ok1 := ParseDate(predicted)
		t, ok2 := ParseDate(truth)
		return ok1 && ok2 && p == t
	default:
		return normSpace(predicted) != "" && normSpace(predicted) == normSpace(truth)
	}
}

// Score compares predictions with the samples' truth. Precision is correct
// over predicted; recall is correct over the documents that have a truth
// for the field.
func Score(samples []Sample, preds []Prediction) map[string]FieldScore {
	out := map[string]FieldScore{}
	for _, f := range ScoredFields {
		var fs FieldScore
		for i, s := range samples {
			truth := strings.TrimSpace(s.Entities[f])
			pred := strings.TrimSpace(preds[i][f])
			if truth != "" {
				fs.Truth++
			}
			if pred != "" {
				fs.Predicted++
			}
			if truth != "" && pred != "" && MatchEntity(f, pred, truth) {
				fs.Correct++
			}
		}
		if fs.Predicted > 0 {
			fs.Precision = float64(fs.Correct) / float64(fs.Predicted)
		}
		if fs.Truth > 0 {
			fs.Recall = float64(fs.Correct) / float64(fs.Truth)
		}
		if fs.Precision+fs.Recall > 0 {
			fs.F1 = 2 * fs.Precision * fs.Recall / (fs.Precision + fs.Recall)
		}
		out[f] = fs
	}
	return out
}

// RunSamples runs an engine over samples (classifying each first, as the
// pipeline does) and returns its predictions.
func RunSamples(ctx context.Context, e Engine, samples []Sample) ([]Prediction, error) {
	out := make([]Prediction, len(samples))
	for i, s := range samples {
		text := s.Text()
		cls, conf := Classify(text)
		x, err := e.Extract(ctx, Input{Text: text, Class: cls, ClassConfidence: conf})
		if err != nil {
			return nil, fmt.Errorf("document %s: %w", s.Key, err)
		}
		out[i] = Predict(x, VendorAddress(text))
	}
	return out, nil
}
