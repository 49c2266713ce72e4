package statements

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vanta-ledger/vanta/internal/money"
)

// The M-Pesa preset follows Safaricom's M-Pesa statement as exported
// (the "M-PESA FULL STATEMENT" of a phone account and the M-Pesa business
// portal's CSV export): a preamble (customer name, mobile number,
// statement period, a summary table) before the header row
//
//	Receipt No.,Completion Time,Details,Transaction Status,Paid In,Withdrawn,Balance
//
// then one row per transaction, newest first, the header repeated at
// page breaks, withdrawals often written negative ("-1,000.00"), amounts
// with thousands separators and blank where not applicable. Status is
// one of Completed, Failed, Cancelled, Declined, Attempted; only
// Completed moved money. A transaction's charge is a row of its own that
// shares the transaction's receipt number. Sources: the column list and
// status values of the M-Pesa import specification on the Mifos wiki
// (mifosforge.jira.com, "MPESA import": Receipt, Date, Details, Status,
// Withdrawn, Paid In, Balance; "Must be Completed, anything else
// IGNORE"), and public parsers of the Safaricom full statement
// (e.g. vila_kazi_lending's mpesa_parser: "Receipt No.,Completion
// Time,Details,Transaction Status,Paid In,Withdrawn,Balance", the
// DETAILED STATEMENT after a SUMMARY with a TOTAL line, header repeated
// per page).
var mpesaColumns = map[string][]string{
	FieldTransactionID: {"receipt no", "receipt", "receipt number", "receipt no s", "transaction id"},
	FieldDate:          {"completion time", "completion date", "date", "transaction date", "initiation time"},
	FieldDescription:   {"details", "description", "transaction details"},
	FieldStatus:        {"transaction status", "status"},
	FieldPaidIn:        {"paid in", "paid in ksh", "money in"},
	FieldWithdrawn:     {"withdrawn", "withdraw", "withdrawals", "paid out", "money out"},
	FieldBalance:       {"balance", "running balance"},
	FieldAmount:        {"amount", "transaction amount"},
}

// bankColumns are the header spellings Kenyan and other banks' CSV
// exports use. A bank's "debit" column is money leaving the account.
var bankColumns = map[string][]string{
	FieldDate: {"transaction date", "date", "txn date", "trans date", "tran date", "posting date", "post date",
		"booking date", "value date", "completion time"},
	FieldDescription: {"description", "details", "narration", "narrative", "particulars", "transaction details",
		"transaction description", "memo", "remarks", "payee"},
	FieldDebit: {"debit", "debits", "debit amount", "dr", "withdrawal", "withdrawals", "withdrawn",
		"money out", "paid out", "out"},
	FieldCredit: {"credit", "credits", "credit amount", "cr", "deposit", "deposits", "paid in", "money in", "in"},
	FieldAmount: {"amount", "transaction amount", "txn amount"},
	FieldTransactionID: {"reference", "ref", "ref no", "reference no", "reference number", "transaction id",
		"transaction reference", "transaction ref", "txn ref", "bank reference", "receipt no"},
	FieldBalance: {"balance", "running balance", "ledger balance", "book balance", "closing balance", "available balance"},
	FieldStatus:  {"status", "transaction status"},
}

// dateLayouts are tried in order when the options name none; the first
// that reads every date of the file is used, so a file is read one way
// throughout. Day-first comes before month-first, as Kenyan statements
// write dates; a month-first file is still read right when one of its
// days is above 12, otherwise date_format says so.
var dateLayouts = []string{
	"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02",
	"2006/01/02 15:04:05", "2006/01/02",
	"2/1/2006 15:04:05", "2/1/2006 15:04", "2/1/2006 3:04:05 PM", "2/1/2006 3:04 PM", "2/1/2006",
	"2/1/06 15:04:05", "2/1/06 15:04", "2/1/06 3:04 PM", "2/1/06",
	"2-1-2006 15:04:05", "2-1-2006 15:04", "2-1-2006", "2.1.2006",
	"2 Jan 2006", "2-Jan-2006", "2-Jan-06", "2 Jan 06", "2 January 2006", "Jan 2, 2006", "January 2, 2006",
	"1/2/2006 15:04:05", "1/2/2006 15:04", "1/2/2006 3:04:05 PM", "1/2/2006 3:04 PM", "1/2/2006",
}

// currencyPrefixes are currency marks an amount cell may start with,
// longest first.
var currencyPrefixes = []string{"KSHS", "KSH", "KES", "USD", "EUR", "GBP", "UGX", "TZS", "$", "€", "£"}

// okStatuses are the status cells of rows that moved money.
var okStatuses = map[string]bool{"completed": true, "complete": true, "success": true, "successful": true,
	"posted": true, "booked": true, "cleared": true}

const (
	maxIDLen          = 200
	maxDescriptionLen = 1000 // bytes, the ledger's bound on a description
)

// columns is where each field is in a header row, -1 when absent.
type columns map[string]int

func (c columns) has(f string) bool { return c[f] >= 0 }

// rawRow is a data row before its date is read.
type rawRow struct {
	line   int
	date   string
	row    Row
	hasAmt bool
	ok     bool // status says it moved money
	repeat bool // an exact repeat of an earlier row, left out
}

// Read reads a statement: the header row is found after any preamble,
// then every row until the end. Rows whose status is not Completed (or
// the like), rows with no amount (an opening or closing balance line) and
// repeats of the header are left out; the rest come back in file order.
// A row that cannot be read stops the import with a *LineError naming
// its line and field. Running-balance breaks are warnings on the row.
func Read(r io.Reader, o Options) ([]Row, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read statement: %w", err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if o.Scale < 0 || o.Scale > money.MaxScale {
		return nil, &OptionError{Field: "scale", Message: fmt.Sprintf("%d is not a currency scale", o.Scale)}
	}
	// Most exports use commas; some banks' use semicolons or tabs. The
	// first delimiter under which a header row appears wins.
	var firstErr error
	for _, delim := range []rune{',', ';', '\t'} {
		rows, err := readWith(data, delim, o)
		if err == nil {
			return rows, nil
		}
		var le *LineError
		if errors.As(err, &le) && le.Field == "header" {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if errors.As(err, &le) && le.Field == "csv" && delim == ',' {
			firstErr = err
			continue
		}
		return nil, err
	}
	return nil, firstErr
}

func readWith(data []byte, delim rune, o Options) ([]Row, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	// Strict quoting: a stray quote is an error naming its line rather
	// than a field that silently swallows the rows after it.
	cr.TrimLeadingSpace = true

	var cols columns
	var header []string
	var raws []rawRow
	var csvErr error
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			line := 1
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			csvErr = &LineError{Line: line, Field: "csv", Message: csvMessage(err)}
			break
		}
		line, _ := cr.FieldPos(0)
		if cols == nil {
			if c, ok := findHeader(rec, o); ok {
				cols, header = c, rec
			}
			continue
		}
		if sameHeader(rec, header) || blankRecord(rec) {
			continue
		}
		rr, err := parseRecord(rec, line, cols, o)
		if err != nil {
			return nil, err
		}
		if rr != nil {
			raws = append(raws, *rr)
		}
	}
	if cols == nil {
		if csvErr != nil {
			return nil, csvErr
		}
		return nil, &LineError{Line: 1, Field: "header", Message: headerMessage(o)}
	}
	if csvErr != nil {
		return nil, csvErr
	}
	if err := readDates(raws, o); err != nil {
		return nil, err
	}
	rows := keep(raws)
	checkBalances(raws, rows)
	return rows, nil
}

func csvMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func headerMessage(o Options) string {
	switch {
	case len(o.Mapping) > 0:
		var want []string
		for _, f := range knownFields {
			if h := o.Mapping[f]; h != "" {
				want = append(want, fmt.Sprintf("%q", h))
			}
		}
		return "no row has the mapped columns " + strings.Join(want, ", ")
	case o.Preset == PresetMpesa:
		return `no M-Pesa header row (Receipt No., Completion Time, Details, Transaction Status, Paid In, Withdrawn, Balance)`
	default:
		return "no header row with a date column and an amount (or debit and credit) column; give a mapping"
	}
}

// norm makes a header comparable: lower case, a trailing "(KES)" or the
// like dropped, punctuation turned into single spaces.
func norm(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.LastIndex(s, "("); i > 0 && strings.HasSuffix(s, ")") {
		inner := strings.TrimSpace(s[i+1 : len(s)-1])
		if len(inner) <= 4 && strings.IndexFunc(inner, func(r rune) bool { return !unicode.IsLetter(r) }) < 0 {
			s = s[:i]
		}
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		} else {
			space = true
		}
	}
	return b.String()
}

// findHeader decides whether rec is the header row: every mapped column
// is there, and (for a preset) a date and an amount or in/out column.
func findHeader(rec []string, o Options) (columns, bool) {
	index := map[string]int{}
	for i, h := range rec {
		n := norm(h)
		if _, seen := index[n]; !seen && n != "" {
			index[n] = i
		}
	}
	cols := columns{}
	for _, f := range knownFields {
		cols[f] = -1
	}
	var spellings map[string][]string
	switch o.Preset {
	case PresetMpesa:
		spellings = mpesaColumns
	case PresetBank:
		spellings = bankColumns
	}
	for f, names := range spellings {
		if _, mapped := o.Mapping[f]; mapped {
			continue
		}
		for _, n := range names {
			if i, ok := index[n]; ok {
				cols[f] = i
				break
			}
		}
	}
	for f, h := range o.Mapping {
		i, ok := index[norm(h)]
		if !ok {
			return nil, false
		}
		cols[f] = i
	}
	inOut := cols.has(FieldPaidIn) || cols.has(FieldWithdrawn) || cols.has(FieldCredit) || cols.has(FieldDebit)
	if inOut {
		if _, mapped := o.Mapping[FieldAmount]; !mapped {
			cols[FieldAmount] = -1 // separate in/out columns win over a stray Amount
		}
	}
	if !cols.has(FieldDate) || !(inOut || cols.has(FieldAmount)) {
		return nil, false
	}
	// One column cannot be two fields (a header "Date" matching both
	// date spellings is fine, but "Amount" as date is a misread).
	seen := map[int]string{}
	for _, f := range knownFields {
		if i := cols[f]; i >= 0 {
			if _, dup := seen[i]; dup {
				return nil, false
			}
			seen[i] = f
		}
	}
	return cols, true
}

func sameHeader(rec, header []string) bool {
	if len(rec) != len(header) {
		return false
	}
	for i := range rec {
		if norm(rec[i]) != norm(header[i]) {
			return false
		}
	}
	return true
}

func blankRecord(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func cell(rec []string, cols columns, f string) string {
	i := cols[f]
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// parseRecord reads one data row; nil without error means the row is no
// transaction (a page footer, a disclaimer line).
func parseRecord(rec []string, line int, cols columns, o Options) (*rawRow, error) {
	date := cell(rec, cols, FieldDate)
	rr := &rawRow{line: line, date: date, ok: true}
	rr.row.Line = line
	rr.row.Scale = o.Scale
	rr.row.Description = clean(cell(rec, cols, FieldDescription), maxDescriptionLen)
	id := clean(cell(rec, cols, FieldTransactionID), -1)
	if len(id) > maxIDLen {
		return nil, &LineError{Line: line, Field: "transaction_id", Message: fmt.Sprintf("longer than %d characters", maxIDLen)}
	}
	rr.row.TransactionID = id
	if cols.has(FieldStatus) {
		if st := strings.ToLower(cell(rec, cols, FieldStatus)); st != "" && !okStatuses[st] {
			rr.ok = false
		}
	}

	var amount int64
	if cols.has(FieldAmount) {
		a, blank, err := parseAmount(cell(rec, cols, FieldAmount), o.Scale)
		if err != nil {
			return nil, &LineError{Line: line, Field: FieldAmount, Message: err.Error()}
		}
		rr.hasAmt = !blank
		amount = a
	} else {
		for _, f := range []string{FieldPaidIn, FieldCredit, FieldWithdrawn, FieldDebit} {
			if !cols.has(f) {
				continue
			}
			a, blank, err := parseAmount(cell(rec, cols, f), o.Scale)
			if err != nil {
				return nil, &LineError{Line: line, Field: f, Message: err.Error()}
			}
			if blank {
				continue
			}
			rr.hasAmt = true
			// Out columns hold a magnitude, whichever sign the export
			// writes it with (M-Pesa writes withdrawals negative).
			if a < 0 {
				a = -a
			}
			if f == FieldWithdrawn || f == FieldDebit {
				a = -a
			}
			if amount, err = addAmounts(amount, a); err != nil {
				return nil, &LineError{Line: line, Field: f, Message: err.Error()}
			}
		}
	}
	if date != "" && short(rec, cols) {
		return nil, &LineError{Line: line, Field: "csv", Message: fmt.Sprintf("has %d fields, too few for the header's columns", len(rec))}
	}
	rr.row.Amount = amount
	if cols.has(FieldBalance) {
		b, blank, err := parseAmount(cell(rec, cols, FieldBalance), o.Scale)
		if err != nil {
			return nil, &LineError{Line: line, Field: FieldBalance, Message: err.Error()}
		}
		if !blank {
			rr.row.Balance = &b
		}
	}
	if amount == 0 {
		rr.hasAmt = false
	}
	if date == "" {
		if rr.hasAmt && rr.ok {
			return nil, &LineError{Line: line, Field: FieldDate, Message: "is empty"}
		}
		return nil, nil
	}
	return rr, nil
}

// short says the record ends before one of the amount columns.
func short(rec []string, cols columns) bool {
	for _, f := range []string{FieldAmount, FieldPaidIn, FieldCredit, FieldWithdrawn, FieldDebit} {
		if cols[f] >= len(rec) {
			return true
		}
	}
	return false
}

func addAmounts(a, b int64) (int64, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, errors.New("amount out of range")
	}
	return s, nil
}

// clean drops control characters and invalid UTF-8 (PostgreSQL text
// refuses NUL), folds runs of white space and cuts to at most max bytes
// at a character boundary (-1: no cut).
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if max >= 0 && len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// parseAmount reads a statement amount at scale: "1,234.50", "-50",
// "(50.00)" (negative), "50.00-", "KES 1,000", "1,000.00 CR" / "DR".
// blank is true for an empty cell or a lone "-".
func parseAmount(s string, scale int) (v int64, blank bool, err error) {
	orig := s
	s = strings.TrimSpace(strings.ReplaceAll(s, "\u00a0", " "))
	if s == "" || s == "-" || s == "--" {
		return 0, true, nil
	}
	neg := false
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		neg, s = true, strings.TrimSpace(s[1:len(s)-1])
	}
	upper := strings.ToUpper(s)
	switch {
	case strings.HasSuffix(upper, "CR"):
		s = strings.TrimSpace(s[:len(s)-2])
	case strings.HasSuffix(upper, "DR"):
		neg, s = !neg, strings.TrimSpace(s[:len(s)-2])
	}
	if strings.HasSuffix(s, "-") {
		neg, s = !neg, strings.TrimSpace(s[:len(s)-1])
	}
	if strings.HasPrefix(s, "-") {
		neg, s = !neg, strings.TrimSpace(s[1:])
	} else if strings.HasPrefix(s, "+") {
		s = strings.TrimSpace(s[1:])
	}
	// A currency written before the number: "KES", "Ksh", "KShs.", "$".
	for _, c := range currencyPrefixes {
		if len(s) > len(c) && strings.EqualFold(s[:len(c)], c) {
			s = strings.TrimSpace(strings.TrimPrefix(s[len(c):], "."))
			break
		}
	}
	if strings.HasPrefix(s, "-") { // "KES -50.00"
		neg, s = !neg, strings.TrimSpace(s[1:])
	}
	whole, frac, dotted := strings.Cut(s, ".")
	if strings.Contains(whole, ",") {
		groups := strings.Split(whole, ",")
		for i, g := range groups {
			// Groups of three only: "12,34" is a decimal comma, which
			// read as thousands would be a hundred times too much.
			if g == "" || len(g) > 3 || (i > 0 && len(g) != 3) {
				return 0, false, fmt.Errorf("%q is not an amount", orig)
			}
		}
		whole = strings.Join(groups, "")
	}
	if whole == "" && !dotted {
		return 0, false, fmt.Errorf("%q is not an amount", orig)
	}
	plain := whole
	if dotted {
		plain += "." + frac
	}
	v, err = money.Parse(plain, scale)
	if err != nil {
		switch {
		case errors.Is(err, money.ErrPrecision):
			return 0, false, fmt.Errorf("%q has more than %d decimals", orig, scale)
		case errors.Is(err, money.ErrRange):
			return 0, false, fmt.Errorf("%q is too large", orig)
		}
		return 0, false, fmt.Errorf("%q is not an amount", orig)
	}
	if neg {
		v = -v
	}
	return v, false, nil
}

// readDates picks one layout for the whole file and sets each row's
// date, or names the first row it cannot read.
func readDates(raws []rawRow, o Options) error {
	layouts := dateLayouts
	if o.DateFormat != "" {
		layouts = []string{o.DateFormat}
	}
	best, bestN := -1, -1
	for li, layout := range layouts {
		n := 0
		for i := range raws {
			if _, ok := parseDate(raws[i].date, layout); ok {
				n++
			}
		}
		if n == len(raws) {
			for i := range raws {
				d, _ := parseDate(raws[i].date, layout)
				raws[i].row.Date = d
			}
			return nil
		}
		if n > bestN {
			best, bestN = li, n
		}
	}
	for i := range raws {
		if _, ok := parseDate(raws[i].date, layouts[best]); !ok {
			msg := fmt.Sprintf("cannot read %q as a date", raws[i].date)
			if o.DateFormat != "" {
				msg += " in the layout " + o.DateFormat
			} else {
				msg += "; give date_format as a Go layout, e.g. 02/01/2006"
			}
			return &LineError{Line: raws[i].line, Field: FieldDate, Message: msg}
		}
	}
	return nil
}

func parseDate(s, layout string) (string, bool) {
	s = strings.Join(strings.Fields(s), " ")
	t, err := time.Parse(layout, s)
	if err != nil || t.Year() < 1900 || t.Year() > 2999 {
		return "", false
	}
	return t.Format("2006-01-02"), true
}

// keep returns the rows that moved money, leaving out exact repeats of a
// transaction (same id, date, amount and description), which are export
// glitches, with a warning on the row kept.
func keep(raws []rawRow) []Row {
	var rows []Row
	type sig struct {
		id, date, desc string
		amount         int64
	}
	first := map[sig]int{}
	for ri := range raws {
		rr := &raws[ri]
		if !rr.ok || !rr.hasAmt {
			continue
		}
		if rr.row.TransactionID != "" {
			k := sig{rr.row.TransactionID, rr.row.Date, rr.row.Description, rr.row.Amount}
			if i, dup := first[k]; dup {
				rows[i].Warnings = append(rows[i].Warnings,
					fmt.Sprintf("line %d repeats this transaction exactly and was left out", rr.line))
				rr.repeat = true
				continue
			}
			first[k] = len(rows)
		}
		rows = append(rows, rr.row)
	}
	return rows
}

// checkBalances warns at the first row where the running balance does
// not follow from the previous one. Statements come newest first
// (M-Pesa) or oldest first (most banks); the order with fewer breaks is
// taken as the file's. Rows without an amount but with a balance (an
// opening balance line) take part; rows that did not complete do not.
func checkBalances(raws []rawRow, rows []Row) {
	type point struct {
		line    int
		amount  int64
		balance *int64
	}
	var pts []point
	for _, rr := range raws {
		if !rr.ok || rr.repeat {
			continue
		}
		amt := int64(0)
		if rr.hasAmt {
			amt = rr.row.Amount
		}
		pts = append(pts, point{rr.line, amt, rr.row.Balance})
	}
	// walk returns the breaks in one order: each as the point's index,
	// the balance expected and the balance shown.
	type brk struct {
		i              int
		expected, seen int64
	}
	walk := func(newestFirst bool) []brk {
		var out []brk
		var run int64
		have := false
		for i, p := range pts {
			if have {
				if newestFirst {
					run -= pts[i-1].amount
				} else {
					run += p.amount
				}
			}
			if p.balance == nil {
				continue
			}
			if have && run != *p.balance {
				out = append(out, brk{i, run, *p.balance})
			}
			run, have = *p.balance, true
		}
		return out
	}
	fwd, rev := walk(false), walk(true)
	breaks := fwd
	if len(rev) < len(fwd) {
		breaks = rev
	}
	if len(breaks) == 0 || len(rows) == 0 {
		return
	}
	b := breaks[0]
	scale := rows[0].Scale
	line := pts[b.i].line
	msg := fmt.Sprintf("running balance breaks at line %d: %s expected from the row before, the statement shows %s (a missing, extra or reordered row?)",
		line, money.Format(b.expected, scale), money.Format(b.seen, scale))
	if len(breaks) > 1 {
		msg += fmt.Sprintf("; %d breaks in all", len(breaks))
	}
	// The warning goes on the row at that line, or the nearest row after
	// it (the line may be a balance-only line).
	at := len(rows) - 1
	for i := range rows {
		if rows[i].Line >= line {
			at = i
			break
		}
	}
	rows[at].Warnings = append(rows[at].Warnings, msg)
}
