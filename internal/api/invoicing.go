package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/invoicing"
	"github.com/vanta-ledger/vanta/internal/reports"
)

// docs serves invoices (kind "invoice", path parameter :invid) or bills
// ("bill", :bid); companyRoutes lists their rows.
func (s *server) docs(kind string) documentRoutes {
	if kind == invoicing.KindBill {
		return documentRoutes{s, kind, "bid"}
	}
	return documentRoutes{s, kind, "invid"}
}

func (s *server) invoicingStore(c *gin.Context) (invoicing.Store, error) {
	d, err := s.companyStores(c)
	if err != nil {
		return invoicing.Store{}, err
	}
	return d.invoicing, nil
}

// invPathID reads a path parameter as an id; anything else is not found,
// as an id of another company is.
func invPathID(c *gin.Context, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		return uuid.Nil, invoicing.ErrNotFound
	}
	return id, nil
}

func listAnswer[T any](c *gin.Context, items []T, next string) {
	if items == nil {
		items = []T{}
	}
	if next != "" {
		next = nextCursor(next)
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
}

func (s *server) listContacts(c *gin.Context) error {
	st, err := s.invoicingStore(c)
	if err != nil {
		return err
	}
	limit, cursor, err := page(c)
	if err != nil {
		return err
	}
	items, next, err := st.Contacts(c.Request.Context(), scope(c), invoicing.ContactFilter{Kind: c.Query("kind"), Cursor: cursor, Limit: limit})
	if err != nil {
		return err
	}
	listAnswer(c, items, next)
	return nil
}

func (s *server) createContact(c *gin.Context) error {
	var in invoicing.ContactInput
	if err := decode(c, &in); err != nil {
		return err
	}
	st, err := s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.CreateContact(c.Request.Context(), scope(c), in)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, out)
	return nil
}

func (s *server) getContact(c *gin.Context) error {
	id, err := invPathID(c, "ctid")
	if err != nil {
		return err
	}
	st, err := s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.Contact(c.Request.Context(), scope(c), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (s *server) updateContact(c *gin.Context) error {
	id, err := invPathID(c, "ctid")
	if err != nil {
		return err
	}
	var in invoicing.ContactPatch
	if err := decode(c, &in); err != nil {
		return err
	}
	st, err := s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.UpdateContact(c.Request.Context(), scope(c), id, in)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (s *server) listTaxCodes(c *gin.Context) error {
	st, err := s.invoicingStore(c)
	if err != nil {
		return err
	}
	items, err := st.TaxCodes(c.Request.Context(), scope(c), c.Query("on"))
	if err != nil {
		return err
	}
	listAnswer(c, items, "")
	return nil
}

func (s *server) createTaxCode(c *gin.Context) error {
	var in invoicing.TaxCodeInput
	if err := decode(c, &in); err != nil {
		return err
	}
	st, err := s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.CreateTaxCode(c.Request.Context(), scope(c), in)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, out)
	return nil
}

func (s *server) getTaxCode(c *gin.Context) error {
	id, err := invPathID(c, "tcid")
	if err != nil {
		return err
	}
	st, err := s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.TaxCode(c.Request.Context(), scope(c), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (s *server) updateTaxCode(c *gin.Context) error {
	id, err := invPathID(c, "tcid")
	if err != nil {
		return err
	}
	var in invoicing.TaxCodePatch
	if err := decode(c, &in); err != nil {
		return err
	}
	st, err := s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.UpdateTaxCode(c.Request.Context(), scope(c), id, in)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// documentRoutes serve invoices or bills: kind says which, param names
// the path parameter of one.
type documentRoutes struct {
	s     *server
	kind  string
	param string
}

// kinds are what a route of the kind reads: an invoice's routes show its
// credit notes too.
func (d documentRoutes) kinds() []string {
	return []string{d.kind, invoicing.KindCreditNote}
}

func (d documentRoutes) list(c *gin.Context) error {
	st, err := d.s.invoicingStore(c)
	if err != nil {
		return err
	}
	limit, cursor, err := page(c)
	if err != nil {
		return err
	}
	kinds := []string{d.kind}
	if c.Query("credit_notes") == "true" {
		kinds = d.kinds()
	}
	items, next, err := st.List(c.Request.Context(), scope(c), invoicing.DocumentFilter{Status: c.Query("status"),
		ContactID: c.Query("contact_id"), Cursor: cursor, Limit: limit}, kinds...)
	if err != nil {
		return err
	}
	listAnswer(c, items, next)
	return nil
}

func (d documentRoutes) create(c *gin.Context) error {
	var in invoicing.DocumentInput
	if err := decode(c, &in); err != nil {
		return err
	}
	st, err := d.s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.CreateDraft(c.Request.Context(), scope(c), d.kind, in, d.s.actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, out)
	return nil
}

func (d documentRoutes) get(c *gin.Context) error {
	id, err := invPathID(c, d.param)
	if err != nil {
		return err
	}
	st, err := d.s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.Get(c.Request.Context(), scope(c), id, d.kinds()...)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (d documentRoutes) update(c *gin.Context) error {
	id, err := invPathID(c, d.param)
	if err != nil {
		return err
	}
	var in invoicing.DocumentPatch
	if err := decode(c, &in); err != nil {
		return err
	}
	st, err := d.s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.UpdateDraft(c.Request.Context(), scope(c), d.kind, id, in)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (d documentRoutes) issue(c *gin.Context) error {
	id, err := invPathID(c, d.param)
	if err != nil {
		return err
	}
	st, err := d.s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.Issue(c.Request.Context(), scope(c), d.kind, id, d.s.actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (d documentRoutes) void(c *gin.Context) error {
	id, err := invPathID(c, d.param)
	if err != nil {
		return err
	}
	var in invoicing.VoidInput
	if c.Request.ContentLength != 0 {
		if err := decode(c, &in); err != nil {
			return err
		}
	}
	st, err := d.s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.Void(c.Request.Context(), scope(c), d.kind, id, in, d.s.actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (d documentRoutes) creditNote(c *gin.Context) error {
	id, err := invPathID(c, d.param)
	if err != nil {
		return err
	}
	var in invoicing.CreditNoteInput
	if err := decode(c, &in); err != nil {
		return err
	}
	st, err := d.s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.CreditNote(c.Request.Context(), scope(c), d.kind, id, in, d.s.actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, out)
	return nil
}

func (s *server) listPayments(c *gin.Context) error {
	st, err := s.invoicingStore(c)
	if err != nil {
		return err
	}
	limit, cursor, err := page(c)
	if err != nil {
		return err
	}
	items, next, err := st.Payments(c.Request.Context(), scope(c), invoicing.PaymentFilter{Direction: c.Query("direction"),
		ContactID: c.Query("contact_id"), Cursor: cursor, Limit: limit})
	if err != nil {
		return err
	}
	listAnswer(c, items, next)
	return nil
}

func (s *server) recordPayment(c *gin.Context) error {
	var in invoicing.PaymentInput
	if err := decode(c, &in); err != nil {
		return err
	}
	st, err := s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.RecordPayment(c.Request.Context(), scope(c), in, s.actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, out)
	return nil
}

func (s *server) getPayment(c *gin.Context) error {
	id, err := invPathID(c, "pid")
	if err != nil {
		return err
	}
	st, err := s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.Payment(c.Request.Context(), scope(c), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// reportAnswer writes a report as JSON, or as CSV with ?format=csv.
func reportAnswer(c *gin.Context, name string, v any, t reports.Table) error {
	switch c.Query("format") {
	case "", "json":
		c.JSON(http.StatusOK, v)
		return nil
	case "csv":
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		c.Status(http.StatusOK)
		return reports.WriteCSV(c.Writer, t)
	}
	return badRequest("validation_failed", "format must be json or csv", "format")
}

func (s *server) agedReport(kind string) func(*gin.Context) error {
	return func(c *gin.Context) error {
		st, err := s.invoicingStore(c)
		if err != nil {
			return err
		}
		asOf := c.Query("as_of")
		if asOf == "" {
			asOf = time.Now().UTC().Format("2006-01-02")
		}
		out, t, err := st.Aged(c.Request.Context(), scope(c), kind, asOf)
		if err != nil {
			return err
		}
		return reportAnswer(c, out.Report, out, t)
	}
}

func (s *server) vatReturn(c *gin.Context) error {
	st, err := s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, t, err := st.VATReturn(c.Request.Context(), scope(c), c.Query("from"), c.Query("to"))
	if err != nil {
		return err
	}
	return reportAnswer(c, "vat-return", out, t)
}

// Query parameters of the invoicing routes, for the API document.
var (
	invDateSchema  = gin.H{"type": "string", "format": "date", "examples": []string{"2026-03-31"}}
	invFormatParam = queryParam{name: "format", description: "json (default) or csv", schema: gin.H{"type": "string", "enum": []string{"json", "csv"}}}
	contactParams  = []queryParam{{name: "kind", description: "only customers or only vendors (a contact that is both is in either)", schema: gin.H{"type": "string", "enum": []string{"customer", "vendor"}}}}
	taxCodeParams  = []queryParam{{name: "on", description: "only the versions in force on this day", schema: invDateSchema}}
	documentParams = []queryParam{
		{name: "status", description: "only documents in this status", schema: gin.H{"type": "string", "enum": []string{"draft", "issued", "partially_paid", "paid", "void"}}},
		{name: "contact_id", description: "only this contact's", schema: gin.H{"type": "string", "format": "uuid"}},
		{name: "credit_notes", description: "true: list the credit notes too", schema: gin.H{"type": "boolean"}},
	}
	paymentParams = []queryParam{
		{name: "direction", description: "only payments received or only payments made", schema: gin.H{"type": "string", "enum": []string{"received", "made"}}},
		{name: "contact_id", description: "only this contact's", schema: gin.H{"type": "string", "format": "uuid"}},
	}
	agedParams      = []queryParam{{name: "as_of", description: "the day balances are aged on (default: today, UTC)", schema: invDateSchema}, invFormatParam}
	vatReturnParams = []queryParam{{name: "from", description: "the first day of the period (required)", schema: invDateSchema},
		{name: "to", description: "the last day of the period (required)", schema: invDateSchema}, invFormatParam}
)
