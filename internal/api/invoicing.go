package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/invoicing"
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

// invoicingID reads a path parameter as an id; anything else is not found,
// as an id of another company is.
func invoicingID(c *gin.Context, name string) (uuid.UUID, error) {
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
	out, err := st.CreateContact(c.Request.Context(), scope(c), in, s.actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, out)
	return nil
}

func (s *server) getContact(c *gin.Context) error {
	id, err := invoicingID(c, "ctid")
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
	id, err := invoicingID(c, "ctid")
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
	out, err := st.UpdateContact(c.Request.Context(), scope(c), id, in, s.actor(c))
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
	out, err := st.CreateTaxCode(c.Request.Context(), scope(c), in, s.actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, out)
	return nil
}

func (s *server) getTaxCode(c *gin.Context) error {
	id, err := invoicingID(c, "tcid")
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
	id, err := invoicingID(c, "tcid")
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
	out, err := st.UpdateTaxCode(c.Request.Context(), scope(c), id, in, s.actor(c))
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

func (d documentRoutes) list(c *gin.Context) error {
	st, err := d.s.invoicingStore(c)
	if err != nil {
		return err
	}
	limit, cursor, err := page(c)
	if err != nil {
		return err
	}
	creditNotes := false
	switch c.Query("credit_notes") {
	case "", "false":
	case "true":
		creditNotes = true
	default:
		return badRequest("validation_failed", "credit_notes must be true or false", "credit_notes")
	}
	items, next, err := st.List(c.Request.Context(), scope(c), d.kind, invoicing.DocumentFilter{Status: c.Query("status"),
		ContactID: c.Query("contact_id"), CreditNotes: creditNotes, Cursor: cursor, Limit: limit})
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
	id, err := invoicingID(c, d.param)
	if err != nil {
		return err
	}
	st, err := d.s.invoicingStore(c)
	if err != nil {
		return err
	}
	out, err := st.Get(c.Request.Context(), scope(c), id, d.kind)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (d documentRoutes) update(c *gin.Context) error {
	id, err := invoicingID(c, d.param)
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
	out, err := st.UpdateDraft(c.Request.Context(), scope(c), d.kind, id, in, d.s.actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (d documentRoutes) issue(c *gin.Context) error {
	id, err := invoicingID(c, d.param)
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
	id, err := invoicingID(c, d.param)
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
	id, err := invoicingID(c, d.param)
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
	id, err := invoicingID(c, "pid")
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

// Query parameters of the invoicing routes, for the API document.
var (
	dateSchema     = gin.H{"type": "string", "format": "date", "examples": []string{"2026-03-31"}}
	contactParams  = []queryParam{{name: "kind", description: "only customers or only vendors (a contact that is both is in either)", schema: gin.H{"type": "string", "enum": []string{"customer", "vendor"}}}}
	taxCodeParams  = []queryParam{{name: "on", description: "only the versions in force on this day", schema: dateSchema}}
	documentParams = []queryParam{
		{name: "status", description: "only documents in this status", schema: gin.H{"type": "string", "enum": []string{"draft", "issued", "partially_paid", "paid", "void"}}},
		{name: "contact_id", description: "only this contact's", schema: gin.H{"type": "string", "format": "uuid"}},
		{name: "credit_notes", description: "true: list the credit notes too", schema: gin.H{"type": "boolean"}},
	}
	paymentParams = []queryParam{
		{name: "direction", description: "only payments received or only payments made", schema: gin.H{"type": "string", "enum": []string{"received", "made"}}},
		{name: "contact_id", description: "only this contact's", schema: gin.H{"type": "string", "format": "uuid"}},
	}
	agedParams      = []queryParam{{name: "as_of", description: "the day balances are aged on (default: today, UTC)", schema: dateSchema}, formatParam}
	vatReturnParams = []queryParam{{name: "from", description: "the first day of the period (default 1 January of to's year)", schema: dateSchema},
		{name: "to", description: "the last day of the period (default today)", schema: dateSchema}, formatParam}
)
