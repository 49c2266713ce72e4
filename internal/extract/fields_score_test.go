package extract

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// tinySROIE: four hand-made receipts in the SROIE format.
const tinySROIE = `{"key":"A1","entities":{"company":"ABC HO TRADING","date":"09/01/2019","address":"NO.2&4, TAMAN DESA","total":"31.00"},"words":["ABC HO TRADING","DATE: 09/01/2019","TOTAL","31.00"]}
{"key":"A2","entities":{"company":"XYZ SDN BHD","date":"02 APR 2018","address":"","total":"RM8.20"},"words":["XYZ SDN BHD","02 APR 2018 18:31","NETT TOTAL: RM8.20"]}
{"key":"A3","entities":{"company":"FOO ENTERPRISE","date":"2018-05-01","address":"","total":"10.00"},"words":["FOO ENTERPRISE"]}

{"key":"A4","entities":{"company":"BAR MART","date":"1/5/2018","address":"","total":"1,000.00"},"words":["BAR MART","1 x 5.00"]}
`

func TestScore(t *testing.T) {
	samples, err := ReadSamples(strings.NewReader(tinySROIE), SplitAll)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 4 {
		t.Fatalf("%d samples, want 4", len(samples))
	}
	preds := []Prediction{
		{"total": "31.00", "date": "2019-01-09", "company": "abc  ho trading", "address": "NO.2&4, TAMAN DESA"},
		{"total": "8.20", "date": "2018-04-02", "company": "XYZ SDN BHD", "address": "SOMEWHERE"},
		{"total": "10.01", "date": "2018-01-05", "company": "FOO"}, // all wrong
		{"total": "1000", "date": "2018-05-01"},                    // day first: 1/5/2018 is 1 May
	}
	got := Score(samples, preds)
	for _, tc := range []struct {
		field                     string
		predicted, truth, correct int
		precision, recall         float64
	}{
		{"total", 4, 4, 3, 0.75, 0.75},
		{"date", 4, 4, 3, 0.75, 0.75},
		{"company", 3, 4, 2, 2.0 / 3, 0.5},
		// One truth, two predictions, one right: precision (correct over
		// predicted) 0.5, recall (correct over truths) 1.
		{"address", 2, 1, 1, 0.5, 1},
	} {
		s := got[tc.field]
		if s.Predicted != tc.predicted || s.Truth != tc.truth || s.Correct != tc.correct {
			t.Errorf("%s: predicted %d truth %d correct %d, want %d %d %d", tc.field, s.Predicted, s.Truth, s.Correct, tc.predicted, tc.truth, tc.correct)
		}
		f1 := 2 * tc.precision * tc.recall / (tc.precision + tc.recall)
		if !near(s.Precision, tc.precision) || !near(s.Recall, tc.recall) || !near(s.F1, f1) {
			t.Errorf("%s: precision %.3f recall %.3f f1 %.3f, want %.3f %.3f %.3f", tc.field, s.Precision, s.Recall, s.F1, tc.precision, tc.recall, f1)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestReadSamplesErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		line       int
		msg        string
	}{
		{"not JSON", "{\"key\":\"A\",\"entities\":{},\"words\":[\"x\"]}\nnot json\n", 2, "not a JSON object"},
		{"no key", `{"entities":{},"words":["x"]}`, 1, `no "key"`},
		{"no entities", `{"key":"A","words":["x"]}`, 1, `no "entities"`},
		{"no words", `{"key":"A","entities":{}}`, 1, `no "words"`},
	} {
		_, err := ReadSamples(strings.NewReader(tc.data), SplitAll)
		var se *SampleError
		if !errors.As(err, &se) || se.Line != tc.line || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want line %d mentioning %q", tc.name, err, tc.line, tc.msg)
		}
	}
	if _, err := ReadSamples(strings.NewReader("\n\n"), SplitAll); err == nil || !strings.Contains(err.Error(), "no records") {
		t.Errorf("empty file: error %v, want no records", err)
	}
}

// TestSplit: train and holdout partition the file deterministically, about
// one record in five held out.
func TestSplit(t *testing.T) {
	samples := sroie(t, SplitAll)
	train, hold := sroie(t, SplitTrain), sroie(t, SplitHoldout)
	if len(train)+len(hold) != len(samples) {
		t.Fatalf("train %d + holdout %d != all %d", len(train), len(hold), len(samples))
	}
	if len(hold) < len(samples)/7 || len(hold) > len(samples)/3 {
		t.Errorf("holdout %d of %d", len(hold), len(samples))
	}
	for _, s := range hold {
		if InSplit(s.Key, SplitTrain) {
			t.Fatalf("%s in both splits", s.Key)
		}
	}
}

// sroie reads the labelled receipts of split, and pins the clock the date
// checks read to the day the figures were measured: receipts of 2016-2019
// must not turn implausible as the years pass.
func sroie(t *testing.T, split Split) []Sample {
	t.Helper()
	now = func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }
	t.Cleanup(func() { now = time.Now })
	f, err := os.Open("testdata/sroie/train.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	s, err := ReadSamples(f, split)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRulesSROIEHoldout is a quality regression: the rules engine must
// keep the goal on receipts it was never tuned on.
func TestRulesSROIEHoldout(t *testing.T) {
	samples := sroie(t, SplitHoldout)
	preds, err := RunSamples(context.Background(), Rules(), samples)
	if err != nil {
		t.Fatal(err)
	}
	scores := Score(samples, preds)
	for field, goal := range map[string]float64{"total": 0.85, "date": 0.85, "company": 0.70} {
		if s := scores[field]; s.F1 < goal {
			t.Errorf("%s: F1 %.3f on the holdout (%d documents), goal %.2f", field, s.F1, len(samples), goal)
		}
	}
}

// BenchmarkRules is the rules engine's cost per receipt (classification,
// extraction and checks), over the whole labelled file.
func BenchmarkRules(b *testing.B) {
	f, err := os.Open("testdata/sroie/train.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	samples, err := ReadSamples(f, SplitAll)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s := samples[i%len(samples)]
		cls, conf := Classify(s.Text())
		if _, err := Rules().Extract(ctx, Input{Text: s.Text(), Class: cls, ClassConfidence: conf}); err != nil {
			b.Fatal(err)
		}
	}
}
