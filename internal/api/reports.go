package api

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/internal/reports"
)

// report serves any report through one path: query parameters parsed and
// checked (as_of, from, to, account, all, limit, cursor: a bad one is 400
// naming it), the report run in the company's transaction and cached in
// its Redis key space under the ledger generation (reports.Runner.Run),
// answered as JSON or, with ?format=csv, as text/csv with a filename.
//
// Its signature is
//
//	func (s *server) report(name string, fn reports.Func) gin.HandlerFunc
//
// with reports.Func being
//
//	func(ctx context.Context, tx pgx.Tx, p reports.Params) (any, reports.Table, error)
//
// so any report is served by one companyRoutes row. A domain's report
// with a result of its own type, on a day or over a period, is adapted
// by reports.AsOf or reports.Period, as invoicing's are:
//
//	{CompanyRoute{"GET", "/reports/aged-receivables", auth.ActReportsRead}, s.report("aged-receivables", reports.AsOf(invoicing.AgedReceivables))},
//	{CompanyRoute{"GET", "/reports/aged-payables", auth.ActReportsRead}, s.report("aged-payables", reports.AsOf(invoicing.AgedPayables))},
//	{CompanyRoute{"GET", "/reports/vat-return", auth.ActReportsRead}, s.report("vat-return", reports.Period(invoicing.VATReturnFor))},
//
// name is the cache key's report part and the CSV file's name.
func (s *server) report(name string, fn reports.Func) gin.HandlerFunc {
	return s.handle(func(c *gin.Context) error {
		csv := false
		switch f := c.Query("format"); f {
		case "", "json":
		case "csv":
			csv = true
		default:
			return badRequest("validation_failed", "format "+strconv.Quote(f)+" is not json or csv", "format")
		}
		p, err := reports.ParseParams(c.Request.URL.Query(), time.Now().UTC())
		if err != nil {
			return err
		}
		d, err := s.companyStores(c)
		if err != nil {
			return err
		}
		out, err := d.reports.Run(c.Request.Context(), scope(c), name, p, fn)
		if err != nil {
			return err
		}
		c.Header("X-Vanta-Cache", map[bool]string{true: "hit", false: "miss"}[out.Cached])
		c.Header("X-Vanta-Ledger-Generation", strconv.FormatInt(out.Generation, 10))
		if csv {
			// Laid out before anything is sent, so that a failure is
			// still an error answer; a report's table is bounded (the
			// general ledger by its page).
			var buf bytes.Buffer
			if err := reports.WriteCSV(&buf, out.Table); err != nil {
				return err
			}
			c.Header("Content-Disposition", `attachment; filename="`+name+`.csv"`)
			c.Data(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
			return nil
		}
		c.Data(http.StatusOK, "application/json; charset=utf-8", out.JSON)
		return nil
	})
}

// reportParams are the query parameters of the books' reports, for the
// API document.
var (
	dateParam = func(name, description string) queryParam {
		return queryParam{name: name, description: description, schema: gin.H{"type": "string", "format": "date", "examples": []string{"2026-03-31"}}}
	}
	formatParam = queryParam{name: "format", description: "json (the default) or csv: the report as text/csv with a filename",
		schema: gin.H{"type": "string", "enum": []string{"json", "csv"}}}
	reportNote = "Amounts are decimal strings in the company currency unless a currency is named. A bad date, from after to or an unknown account answers 400 naming the parameter. Answers are cached until the next posting."
)
