// Package journal reads and writes the plain-text accounting journal that
// hledger and ledger-cli read: transactions with postings, costs (@, @@),
// balance assertions and assignments, P prices, account and commodity
// declarations and comments. It is pure: no database, no files (an
// include is refused, naming its line). What it does not support
// (virtual postings, periodic and automated transactions, lots, secondary
// dates, most directives) is refused naming the line rather than misread,
// since a quietly misread journal would be wrong books.
//
// Parse gives a Journal as written; Book then does what hledger does
// before reporting: fills the one elided amount, computes balance
// assignments, checks that each transaction balances and checks every
// balance assertion against running balances in date order (file order
// within a date). Print writes a canonical journal that Parse reads back
// to the same Journal and hledger check accepts.
//
// Quantities are exact (math/big), never floats.
package journal

import (
	"fmt"
	"math/big"
)

// Journal is a parsed file. Lists keep file order.
type Journal struct {
	Accounts     []AccountDecl
	Commodities  []CommodityDecl
	Prices       []Price
	Transactions []Transaction
	// Styles is how each commodity is written: from its commodity (or D)
	// directive, else from its first amount in the file.
	Styles map[string]Style
}

// AccountDecl is an `account` directive.
type AccountDecl struct {
	Name    string
	Comment string // comment lines joined with "\n"; the first is the same-line one
	Line    int
}

// Type is the account type its `type:` tag declares (asset, liability,
// equity, income, expense) or "" if none.
func (a AccountDecl) Type() string { return typeTag(a.Comment) }

// Tag is the value of the first `name:` tag in the declaration's comment
// (the rest of its comment line), "" if none.
func (a AccountDecl) Tag(name string) string { return tagValue(a.Comment, name) }

// CommodityDecl is a `commodity` directive (or the commodity of a `D`
// directive).
type CommodityDecl struct {
	Symbol    string
	Precision int // decimals of its format; -1 when it gives no format
	Line      int
}

// Style is how a commodity's amounts are written.
type Style struct {
	Left    bool // symbol before the number
	Spaced  bool // a space between symbol and number
	Decimal byte // '.' or ','
}

// Price is a `P` directive: one unit of Commodity costs Price on Date.
type Price struct {
	Date      string // YYYY-MM-DD
	Commodity string
	Price     Amount
	Line      int
}

// Transaction is a dated entry with its postings.
type Transaction struct {
	Date        string // YYYY-MM-DD
	Status      string // "", "*" or "!"
	Code        string
	Description string
	Comment     string
	Postings    []Posting
	Line        int
}

// Posting is one line of a transaction. Amount is nil when elided (or
// when an assertion without amount makes it a balance assignment).
type Posting struct {
	Status    string
	Account   string
	Amount    *Amount
	Cost      *Cost
	Assertion *Assertion
	Comment   string
	Line      int
}

// Cost is a posting's @ unit cost or @@ total cost.
type Cost struct {
	Total  bool
	Amount Amount
}

// Assertion is a balance assertion: = (this commodity) or == (and no
// other commodity).
type Assertion struct {
	Total  bool
	Amount Amount
}

// Amount is an exact quantity of a commodity ("" when written without
// one and no D directive applies). Places is how many decimals it was
// written with (at least), for printing.
type Amount struct {
	Commodity string
	Quantity  *big.Rat
	Places    int
}

// Error is a problem in the journal, at a line (1-based).
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

func errorf(line int, format string, args ...any) *Error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}
