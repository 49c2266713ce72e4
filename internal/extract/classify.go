package extract

import (
	"regexp"
	"strings"
)

// classCue is a phrase that points to a class, with its weight. Phrases
// are matched on word boundaries in upper case.
type classCue struct {
	re     *regexp.Regexp
	weight float64
}

func cues(weight float64, phrases ...string) []classCue {
	out := make([]classCue, 0, len(phrases))
	for _, p := range phrases {
		out = append(out, classCue{regexp.MustCompile(`\b` + p + `\b`), weight})
	}
	return out
}

// classCues: the title words weigh most; the body words that tills, banks
// and lawyers print weigh less. A receipt often calls itself a "TAX
// INVOICE" (Malaysian GST tills do), so payment words (cash, change,
// cashier) pull a document towards receipt.
var classCues = map[Class][]classCue{
	ClassInvoice: append(cues(3, `INVOICE`, `TAX INVOICE`, `PRO-?FORMA INVOICE`),
		cues(1.5, `BILL TO`, `INVOICE (?:NO|NUMBER|#|DATE)`, `DUE DATE`, `PAYMENT TERMS`, `AMOUNT DUE`, `REMIT`, `PAYABLE (?:BY|WITHIN)`, `NET \d+`)...),
	ClassReceipt: append(cues(3, `RECEIPT`, `CASH (?:BILL|SALES?|RECEIPT)`, `OFFICIAL RECEIPT`),
		cues(1.5, `CASH`, `CHANGE(?: DUE| AMT)?`, `CASHIER`, `THANK YOU`, `COME AGAIN`, `TENDERED`, `TERMINAL`, `POS`, `ROUNDING`, `TABLE`, `MPESA`, `VISA`, `MASTERCARD`)...),
	ClassCreditNote: append(cues(8, `CREDIT NOTE`, `CREDIT MEMO`), cues(2, `REFUND`, `RETURNED GOODS`)...),
	ClassContract: append(cues(4, `AGREEMENT`, `CONTRACT`),
		cues(1.5, `HEREINAFTER`, `THE PARTIES`, `WHEREAS`, `IN WITNESS WHEREOF`, `SHALL`, `TERM OF`, `GOVERNED BY`, `SIGNED BY`, `TERMINATION`)...),
	ClassStatement: append(cues(4, `STATEMENT OF ACCOUNT`, `BANK STATEMENT`, `M-?PESA STATEMENT`, `ACCOUNT STATEMENT`, `STATEMENT`),
		cues(1.5, `OPENING BALANCE`, `CLOSING BALANCE`, `BALANCE B/?F`, `ACCOUNT (?:NO|NUMBER)`, `DEBIT`, `CREDIT`, `TRANSACTION`, `WITHDRAWN`, `PAID IN`, `RECEIPT NO`)...),
	ClassReport: append(cues(4, `REPORT`, `ANNUAL REPORT`, `EXECUTIVE SUMMARY`),
		cues(1.5, `SUMMARY`, `ANALYSIS`, `QUARTER`, `FINDINGS`, `RECOMMENDATIONS?`, `INTRODUCTION`, `CONCLUSION`)...),
}

// Classify says what kind of document text is, with a confidence in 0..1:
// the winning class's share of all the evidence, damped when there is
// little evidence at all. Text with no cue is "other".
func Classify(text string) (Class, float64) {
	up := strings.ToUpper(text)
	scores := map[Class]float64{}
	var sum float64
	for _, c := range Classes {
		for _, cue := range classCues[c] {
			n := len(cue.re.FindAllStringIndex(up, 4)) // cap: a word repeated on every row is one cue
			if n == 0 {
				continue
			}
			s := cue.weight * (1 + 0.25*float64(n-1))
			// A title in the first lines is stronger evidence than the same
			// word in the small print.
			if loc := cue.re.FindStringIndex(up); loc != nil && loc[0] < len(up)/4+200 && cue.weight >= 3 {
				s *= 1.5
			}
			scores[c] += s
			sum += s
		}
	}
	// Tills print both "TAX INVOICE" and "CASH/CHANGE": money handed over at
	// the counter makes it a receipt.
	if scores[ClassReceipt] > 0 && scores[ClassInvoice] > 0 && counterWords.MatchString(up) && !accountWords.MatchString(up) {
		scores[ClassReceipt] += scores[ClassInvoice]
		sum += scores[ClassInvoice]
	}
	best, bestScore := ClassOther, 0.0
	for _, c := range Classes {
		if scores[c] > bestScore {
			best, bestScore = c, scores[c]
		}
	}
	if bestScore == 0 {
		return ClassOther, 0.5
	}
	share := bestScore / sum
	strength := bestScore / (bestScore + 3) // 3 points of evidence → half sure
	conf := share * (0.5 + 0.5*strength)
	return best, round2(conf)
}

// counterWords are a till's: money handed back, a cashier, a table.
// accountWords are a supplier's invoice on credit.
var (
	counterWords = regexp.MustCompile(`\bCHANGE\b|\bCASHIER\b|\bTENDERED\b|\bTABLE\b|\bCOUNTER\b|\bPAX\b|\bTHANK YOU\b|\bCOME AGAIN\b|\bSIMPLIFIED TAX INVOICE\b`)
	accountWords = regexp.MustCompile(`\bBILL TO\b|\bDUE DATE\b|\bPAYMENT TERMS\b|\bREMIT\b|\bNET \d+\b|\bPAYABLE WITHIN\b`)
)

func round2(f float64) float64 {
	return float64(int(f*100+0.5)) / 100
}
