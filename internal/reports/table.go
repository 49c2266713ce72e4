// Package reports turns a company's books into the statements an
// accountant signs: trial balance, general ledger, profit and loss and
// balance sheet, each as JSON and as a table for CSV.
package reports

import (
	"encoding/csv"
	"fmt"
	"io"
)

// Table is a report laid out in rows, as its CSV form shows it. Amounts
// are already decimal strings.
type Table struct {
	Columns []string
	Rows    [][]string
}

// WriteCSV writes the table with its header row.
func WriteCSV(w io.Writer, t Table) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Columns); err != nil {
		return fmt.Errorf("write report csv: %w", err)
	}
	if err := cw.WriteAll(t.Rows); err != nil {
		return fmt.Errorf("write report csv: %w", err)
	}
	return nil
}
