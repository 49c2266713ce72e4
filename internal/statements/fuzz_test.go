package statements

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"testing"
	"unicode/utf8"
)

var isoDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// FuzzRead feeds Read arbitrary bytes under each preset and a mapping. It
// must never panic, and what it returns must hold: an error is a
// *LineError with a line inside the file, every row has a date, a
// nonzero amount and a line inside the file, and Entries makes balanced
// drafts with distinct keys of them.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"testdata/mpesa.csv", "testdata/bank.csv"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
		f.Add(b, uint8(1))
	}
	f.Add([]byte("Receipt No.,Completion Time,Details,Transaction Status,Paid In,Withdrawn,Balance\nA,2026-01-01 10:00:00,\"x\",Completed,\"(1,000.00)\",,\n"), uint8(0))
	f.Add([]byte("Date;Amount\n01/02/2026;1.000\n"), uint8(2))
	f.Add([]byte("\ufeff\r\n\"a\nb\",Date,Amount\r\n"), uint8(2))
	opts := []Options{
		{Preset: PresetMpesa, Scale: 2},
		{Preset: PresetBank, Scale: 2},
		{Mapping: map[string]string{FieldDate: "Date", FieldAmount: "Amount", FieldBalance: "Balance"}, Scale: 0},
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		o := opts[int(which)%len(opts)]
		rows, err := Read(bytes.NewReader(data), o)
		lines := bytes.Count(data, []byte("\n")) + 1
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is no LineError", err)
			}
			if le.Line < 1 || le.Line > lines {
				t.Fatalf("error line %d outside 1..%d", le.Line, lines)
			}
			return
		}
		for _, r := range rows {
			if !isoDate.MatchString(r.Date) || r.Amount == 0 || r.Line < 1 || r.Line > lines || r.Scale != o.Scale ||
				len(r.Description) > 1000 || !utf8.ValidString(r.Description) || len(r.TransactionID) > 200 {
				t.Fatalf("bad row %+v", r)
			}
		}
		// The drafts of any statement balance and have distinct keys the
		// ledger accepts.
		keys := map[string]bool{}
		for _, e := range Entries(rows, o, "", 2) {
			var sum int64
			for _, l := range e.Lines {
				if l.Amount == 0 {
					t.Fatalf("zero line in %+v", e)
				}
				sum += l.Amount
			}
			if sum != 0 || len(e.Lines) != 2 || keys[e.IdempotencyKey] || len(e.IdempotencyKey) > 200 {
				t.Fatalf("bad draft %+v", e)
			}
			keys[e.IdempotencyKey] = true
		}
	})
}
