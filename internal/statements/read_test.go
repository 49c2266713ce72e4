package statements

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

func mustOptions(t *testing.T, preset, mapping, account, layout string) Options {
	t.Helper()
	o, err := ParseOptions(preset, mapping, account, layout)
	if err != nil {
		t.Fatalf("ParseOptions(%q, %q, %q, %q): %v", preset, mapping, account, layout, err)
	}
	return o
}

func readFile(t *testing.T, name string, o Options) []Row {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := Read(f, o)
	if err != nil {
		t.Fatalf("Read(%s): %v", name, err)
	}
	return rows
}

// brief is what a test compares of a row.
type brief struct {
	Line   int
	Date   string
	Amount int64
	ID     string
	Desc   string
}

func briefs(rows []Row) []brief {
	out := make([]brief, len(rows))
	for i, r := range rows {
		out[i] = brief{r.Line, r.Date, r.Amount, r.TransactionID, r.Description}
	}
	return out
}

func sameBriefs(t *testing.T, got []Row, want []brief) {
	t.Helper()
	g := briefs(got)
	if len(g) != len(want) {
		t.Fatalf("got %d rows %+v, want %d %+v", len(g), g, len(want), want)
	}
	for i := range want {
		w := want[i]
		if w.Desc == "" {
			g[i].Desc = ""
		}
		if g[i] != w {
			t.Errorf("row %d: got %+v, want %+v", i, g[i], w)
		}
	}
}

// TestReadMpesaStatement reads the invented M-Pesa statement in testdata
// as Safaricom lays it out: BOM, CRLF, a preamble with a summary table,
// newest first, the header repeated at a page break, a footer, negative
// withdrawals, thousands separators, a Failed row and charge rows that
// share their transaction's receipt number.
func TestReadMpesaStatement(t *testing.T) {
	rows := readFile(t, "testdata/mpesa.csv", mustOptions(t, "mpesa", "", "", ""))
	sameBriefs(t, rows, []brief{
		{19, "2026-03-05", -11200, "TC19KL6CV7", "Withdrawal Charge"},
		{20, "2026-03-05", -1000000, "TC19KL6CV7", ""},
		{21, "2026-03-04", -250000, "TC18IJ5BU6", ""},
		{22, "2026-03-03", 3875050, "TC17GH4AT5", "Business Payment from 600100 - NAIVAS SUPERMARKET, via API"},
		// line 25 (TC16EF3ZS4) Failed: left out
		{26, "2026-03-02", -5300, "TC15CD2YR3", ""},
		{27, "2026-03-02", -350000, "TC15CD2YR3", ""},
		{28, "2026-03-02", 1250000, "TC14AB1XQ2", ""},
	})
	if w := Warnings(rows); len(w) != 0 {
		t.Errorf("a continuous statement warned: %+v", w)
	}
	if rows[0].Balance == nil || *rows[0].Balance != 5028550 {
		t.Errorf("balance of the newest row = %v, want 5028550", rows[0].Balance)
	}
}

// TestReadBankStatement reads the invented bank statement: a preamble,
// day-first dates, debit/credit columns, opening and closing balance
// lines (no amount: not transactions), rows without a reference.
func TestReadBankStatement(t *testing.T) {
	rows := readFile(t, "testdata/bank.csv", mustOptions(t, "bank", "", "", ""))
	sameBriefs(t, rows, []brief{
		{7, "2026-03-02", 4640000, "FT26061ABC12", "EFT FROM ACME DISTRIBUTORS LTD INV-2026-000011"},
		{8, "2026-03-02", -30000, "", "LEDGER FEE"},
		{9, "2026-03-02", -30000, "", "LEDGER FEE"},
		{10, "2026-03-04", -1860000, "CHQ000123", ""},
		{11, "2026-03-10", -12345050, "RT26069XY77", "RTGS TO NAIROBI OFFICE SUPPLIES, INV 778"},
		{12, "2026-03-15", 50000, "MP26074QW11", ""},
	})
	if w := Warnings(rows); len(w) != 0 {
		t.Errorf("a continuous statement warned: %+v", w)
	}
}

func TestReadTable(t *testing.T) {
	mpesaHeader := "Receipt No.,Completion Time,Details,Transaction Status,Paid In,Withdrawn,Balance\n"
	tests := []struct {
		name    string
		preset  string
		mapping string
		layout  string
		in      string
		want    []brief
		warn    string // a substring of the first warning, "" for none
		errLine int    // > 0: Read fails naming this line and errField
		errFld  string
	}{
		{name: "quoted field with a newline keeps line numbers", preset: "mpesa",
			in:   mpesaHeader + "A1,2026-01-02 10:00:00,\"two\nlines\",Completed,5.00,,\nA2,2026-01-03 10:00:00,x,Completed,,1.00,\n",
			want: []brief{{2, "2026-01-02", 500, "A1", "two lines"}, {4, "2026-01-03", -100, "A2", "x"}}},
		{name: "blank lines and CRLF", preset: "mpesa",
			in:   "\r\n\r\n" + strings.ReplaceAll(mpesaHeader, "\n", "\r\n") + "\r\nA1,2026-01-02 10:00:00,x,Completed,\"1,234.50\",,\r\n\r\n",
			want: []brief{{5, "2026-01-02", 123450, "A1", "x"}}},
		{name: "BOM before the header", preset: "mpesa",
			in:   "\ufeff" + mpesaHeader + "A1,2026-01-02 10:00:00,x,Completed,1,,\n",
			want: []brief{{2, "2026-01-02", 100, "A1", "x"}}},
		{name: "only Completed rows", preset: "mpesa",
			in: mpesaHeader + "A1,2026-01-02 10:00:00,x,Failed,1.00,,\nA2,2026-01-02 11:00:00,y,Cancelled,,2.00,\n" +
				"A3,2026-01-02 12:00:00,z,COMPLETED,3.00,,\n",
			want: []brief{{4, "2026-01-02", 300, "A3", "z"}}},
		{name: "parentheses are negative in an amount column", mapping: "date:Date,description:Memo,amount:Amount,transaction_id:Ref",
			in:   "Date,Memo,Amount,Ref\n2026-02-01,fee,(50.00),R1\n2026-02-02,sale,\"1,234.50\",R2\n2026-02-03,refund,250.00 DR,R3\n2026-02-04,in,KES 10 CR,R4\n",
			want: []brief{{2, "2026-02-01", -5000, "R1", "fee"}, {3, "2026-02-02", 123450, "R2", "sale"}, {4, "2026-02-03", -25000, "R3", "refund"}, {5, "2026-02-04", 1000, "R4", "in"}}},
		{name: "mapping headers ignore case and spaces", mapping: "date: value date ,amount:AMOUNT",
			in:   "Value Date,Amount\n01/02/2026,7\n",
			want: []brief{{2, "2026-02-01", 700, "", ""}}},
		{name: "semicolon delimited", preset: "bank",
			in:      "Date;Description;Amount;Reference\n2026-02-01;rent;-1.000,00;X\n",
			errLine: 2, errFld: "amount"},
		{name: "semicolon delimited, plain amounts", preset: "bank",
			in:   "Date;Description;Amount;Reference\n2026-02-01;rent;-1000.00;X\n",
			want: []brief{{2, "2026-02-01", -100000, "X", "rent"}}},
		{name: "month-first file is read month-first throughout", preset: "bank",
			in:   "Date,Description,Amount\n02/03/2026,a,1\n12/25/2026,b,2\n",
			want: []brief{{2, "2026-02-03", 100, "", "a"}, {3, "2026-12-25", 200, "", "b"}}},
		{name: "date_format wins", preset: "bank", layout: "01/02/2006",
			in:   "Date,Description,Amount\n02/03/2026,a,1\n",
			want: []brief{{2, "2026-02-03", 100, "", "a"}}},
		{name: "bad date names its line", preset: "bank",
			in:      "Date,Description,Amount\n2026-01-01,a,1\nyesterday,b,2\n",
			errLine: 3, errFld: "date"},
		{name: "bad amount names its line and field", preset: "mpesa",
			in:      mpesaHeader + "A1,2026-01-02 10:00:00,x,Completed,1.00,,\nA2,2026-01-02 10:00:00,x,Completed,12abc,,\n",
			errLine: 3, errFld: "paid_in"},
		{name: "too many decimals is an error, not a rounding", preset: "bank",
			in:      "Date,Description,Amount\n2026-01-01,a,1.005\n",
			errLine: 2, errFld: "amount"},
		{name: "decimal comma is not thousands", preset: "bank",
			in:      "Date,Description,Amount\n2026-01-01,a,\"12,34\"\n",
			errLine: 2, errFld: "amount"},
		{name: "an amount without a date", preset: "bank",
			in:      "Date,Description,Amount\n2026-01-01,a,1\n,b,2\n",
			errLine: 3, errFld: "date"},
		{name: "no header", preset: "mpesa",
			in:      "hello,world\n1,2\n",
			errLine: 1, errFld: "header"},
		{name: "mapped column missing", mapping: "date:Date,amount:Sum",
			in:      "Date,Amount\n2026-01-01,1\n",
			errLine: 1, errFld: "header"},
		{name: "unterminated quote names its line", preset: "bank",
			in:      "Date,Description,Amount\n2026-01-01,a,1\n2026-01-02,\"b,2\n",
			errLine: 3, errFld: "csv"},
		{name: "a short row names its line", preset: "bank",
			in:      "Date,Description,Debit,Credit\n2026-01-01,a,1.00,\n2026-01-02,b\n",
			errLine: 3, errFld: "csv"},
		{name: "bank spellings: money in and money out, Txn Date, Narrative, Ref", preset: "bank",
			in:   "Txn Date,Narrative,Money Out,Money In,Ref,Running Balance (KES)\n01/02/2026,x,\"1,000.00\",,A,9000.00\n02/02/2026,y,,250.50,B,9250.50\n",
			want: []brief{{2, "2026-02-01", -100000, "A", "x"}, {3, "2026-02-02", 25050, "B", "y"}}},
		{name: "bank: withdrawals and deposits beat a stray amount column", preset: "bank",
			in:   "Posting Date,Particulars,Withdrawals,Deposits,Amount\n2026-02-01,x,5.00,,999\n",
			want: []brief{{2, "2026-02-01", -500, "", "x"}}},
		{name: "a mapping overrides the preset's guess", preset: "bank", mapping: "date:Value Date",
			in:   "Transaction Date,Value Date,Description,Amount\n2026-02-01,2026-02-03,x,5\n",
			want: []brief{{2, "2026-02-03", 500, "", "x"}}},
		{name: "zero and blank amounts are no transactions", preset: "bank",
			in:   "Date,Description,Debit,Credit,Balance\n2026-01-01,open,,,100.00\n2026-01-02,x,0.00,,100.00\n2026-01-03,y,10.00,,90.00\n",
			want: []brief{{4, "2026-01-03", -1000, "", "y"}}},
		{name: "balance break warns on the row, oldest first", preset: "bank",
			in: "Date,Description,Debit,Credit,Balance\n2026-01-01,open,,,100.00\n2026-01-02,a,10.00,,90.00\n" +
				"2026-01-03,b,,5.00,96.00\n2026-01-04,c,1.00,,95.00\n",
			want: []brief{{3, "2026-01-02", -1000, "", "a"}, {4, "2026-01-03", 500, "", "b"}, {5, "2026-01-04", -100, "", "c"}},
			warn: "line 4: 95.00 expected"},
		{name: "balance break warns, newest first", preset: "mpesa",
			in: mpesaHeader + "A3,2026-01-03 10:00:00,c,Completed,,1.00,95.00\nA2,2026-01-02 10:00:00,b,Completed,5.00,,96.00\n" +
				"A1,2026-01-01 10:00:00,a,Completed,,10.00,90.00\nA0,2026-01-01 09:00:00,z,Completed,100.00,,100.00\n",
			want: []brief{{2, "2026-01-03", -100, "A3", "c"}, {3, "2026-01-02", 500, "A2", "b"},
				{4, "2026-01-01", -1000, "A1", "a"}, {5, "2026-01-01", 10000, "A0", "z"}},
			warn: "breaks at line"},
		{name: "an exact repeat is left out with a warning", preset: "mpesa",
			in:   mpesaHeader + "A1,2026-01-02 10:00:00,x,Completed,5.00,,5.00\nA1,2026-01-02 10:00:00,x,Completed,5.00,,5.00\n",
			want: []brief{{2, "2026-01-02", 500, "A1", "x"}},
			warn: "line 3 repeats"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustOptions(t, tt.preset, tt.mapping, "", tt.layout)
			rows, err := Read(strings.NewReader(tt.in), o)
			if tt.errLine > 0 {
				var le *LineError
				if !errors.As(err, &le) {
					t.Fatalf("got %v (rows %+v), want a LineError", err, briefs(rows))
				}
				if le.Line != tt.errLine || le.Field != tt.errFld {
					t.Fatalf("got %v, want line %d field %s", le, tt.errLine, tt.errFld)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sameBriefs(t, rows, tt.want)
			w := Warnings(rows)
			switch {
			case tt.warn == "" && len(w) > 0:
				t.Errorf("unexpected warnings %+v", w)
			case tt.warn != "" && (len(w) == 0 || !strings.Contains(w[0].Message, tt.warn)):
				t.Errorf("warnings %+v, want one containing %q", w, tt.warn)
			}
		})
	}
}

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in    string
		scale int
		want  int64
		blank bool
		bad   bool
	}{
		{"1,234.50", 2, 123450, false, false},
		{"(50.00)", 2, -5000, false, false},
		{"-1,000.00", 2, -100000, false, false},
		{"50.00-", 2, -5000, false, false},
		{"Ksh 1,000", 2, 100000, false, false},
		{"KShs.12.5", 2, 1250, false, false},
		{"1,000,000", 0, 1000000, false, false},
		{".5", 2, 50, false, false},
		{"", 2, 0, true, false},
		{"-", 2, 0, true, false},
		{"1,23", 2, 0, false, true},
		{"1234,567", 2, 0, false, true},
		{"1.2.3", 2, 0, false, true},
		{"N/A", 2, 0, false, true},
		{"0.5", 0, 0, false, true},
		{"99999999999999999999", 2, 0, false, true},
	}
	for _, tt := range tests {
		got, blank, err := parseAmount(tt.in, tt.scale)
		if (err != nil) != tt.bad || got != tt.want || blank != tt.blank {
			t.Errorf("parseAmount(%q, %d) = %d, %v, %v; want %d, blank %v, error %v", tt.in, tt.scale, got, blank, err, tt.want, tt.blank, tt.bad)
		}
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		preset, mapping, account, layout string
		field                            string // "" = accepted
	}{
		{"mpesa", "", "", "", ""},
		{"BANK", "", "1100", "02/01/2006", ""},
		{"", "date:Date,amount:Amount", "", "", ""},
		{"", "date:Date,paid_in:In,withdrawn:Out,transaction_id:Ref", "", "", ""},
		{"paypal", "", "", "", "preset"},
		{"", "", "", "", "mapping"},
		{"", "date:Date", "", "", "mapping"},
		{"", "amount:Amount", "", "", "mapping"},
		{"", "date:Date,amount:A,debit:D", "", "", "mapping"},
		{"", "date:Date,colour:Blue,amount:A", "", "", "mapping"},
		{"", "date:Date,date:Other,amount:A", "", "", "mapping"},
		{"", "date,amount:A", "", "", "mapping"},
		{"mpesa", "", "11\x0010", "", "account"},
		{"mpesa", "", "", "tomorrow", "date_format"},
		{"mpesa", "", "", "15:04", "date_format"},
	}
	for _, tt := range tests {
		_, err := ParseOptions(tt.preset, tt.mapping, tt.account, tt.layout)
		var oe *OptionError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("ParseOptions(%q, %q, %q, %q): %v", tt.preset, tt.mapping, tt.account, tt.layout, err)
		case tt.field != "" && (!errors.As(err, &oe) || oe.Field != tt.field):
			t.Errorf("ParseOptions(%q, %q, %q, %q) = %v, want an OptionError on %s", tt.preset, tt.mapping, tt.account, tt.layout, err, tt.field)
		}
	}
}

// BenchmarkReadMpesa reads a 10,000-row M-Pesa statement and makes its
// drafts: go test -run '^$' -bench ReadMpesa ./internal/statements/
func BenchmarkReadMpesa(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("MPESA FULL STATEMENT\nCustomer Name:,X\n\nReceipt No.,Completion Time,Details,Transaction Status,Paid In,Withdrawn,Balance\n")
	bal := int64(0)
	for i := 0; i < 10000; i++ {
		bal += 12345
		fmt.Fprintf(&sb, "R%09d,2026-03-%02d 10:%02d:00,\"Pay Bill Online from 2547%08d, Acc. INV-%d\",Completed,\"%s\",,\"%s\"\n",
			i, 1+i%28, i%60, i, i, formatThousands(12345), formatThousands(bal))
	}
	data := sb.String()
	o := Options{Preset: PresetMpesa, Scale: 2}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rows, err := Read(strings.NewReader(data), o)
		if err != nil || len(rows) != 10000 {
			b.Fatal(err, len(rows))
		}
		if w := Warnings(rows); len(w) != 0 {
			b.Fatal(w)
		}
		_ = Entries(rows, o, "", 2)
	}
}

// formatThousands writes minor units at scale 2 with thousands commas,
// as statements do.
func formatThousands(v int64) string {
	whole, frac := strconv.FormatInt(v/100, 10), fmt.Sprintf("%02d", v%100)
	var out []string
	for len(whole) > 3 {
		out = append([]string{whole[len(whole)-3:]}, out...)
		whole = whole[:len(whole)-3]
	}
	out = append([]string{whole}, out...)
	return strings.Join(out, ",") + "." + frac
}
