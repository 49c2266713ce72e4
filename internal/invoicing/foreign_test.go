package invoicing

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/ledger"
)

// TestForeignCurrencyAndCredits: a USD invoice at 129.50 paid at 130.00
// posts the realised exchange gain, and receivables come back to zero in
// shillings too; a vendor's credit note takes input VAT back; and after
// it all the ledger verifies and every account's base sums to zero.
func TestForeignCurrencyAndCredits(t *testing.T) {
	ctx := context.Background()
	e := setup(t, 4)
	buyer := must(e.store.CreateContact(ctx, e.a, ContactInput{Kind: "customer", Name: "Kampala Importers", Currency: "USD"}, clerk))
	// 100.00 USD + VAT 16% 16.00 = 116.00 USD, at 129.50 = 15,022.00 KES.
	inv := must(e.store.CreateDraft(ctx, e.a, KindInvoice, DocumentInput{ContactID: buyer.ID.String(), Rate: "129.50", IssueDate: "2026-03-02",
		Lines: []LineInput{{Description: "Consulting", Quantity: "1", UnitPrice: "100.00", TaxCode: "VAT16"}}}, clerk))
	if inv.Currency != "USD" || inv.Total != "116.00" {
		t.Fatalf("USD invoice %+v", inv)
	}
	if _, err := e.store.CreateDraft(ctx, e.a, KindInvoice, DocumentInput{ContactID: buyer.ID.String(), IssueDate: "2026-03-02",
		Lines: []LineInput{{Quantity: "1", UnitPrice: "1.00", TaxCode: "VAT16"}}}, clerk); !isField(err, "rate") {
		t.Errorf("USD invoice without a rate: %v", err)
	}
	inv = must(e.store.Issue(ctx, e.a, KindInvoice, inv.ID, clerk))
	// Paid 116.00 USD at 130.00 = 15,080.00 KES: 58.00 more than booked,
	// an exchange gain.
	pay := must(e.store.RecordPayment(ctx, e.a, PaymentInput{Direction: "received", ContactID: buyer.ID.String(), Date: "2026-03-30",
		Rate: "130.00", Amount: "116.00"}, clerk))
	if pay.Currency != "USD" || len(pay.Allocations) != 1 || pay.Unallocated != "0.00" {
		t.Errorf("USD payment %+v", pay)
	}
	if got := must(e.store.Get(ctx, e.a, inv.ID, KindInvoice)); got.Status != StatusPaid {
		t.Errorf("USD invoice after payment %+v", got)
	}

	// A bill of 1,160.00 and the vendor's credit note of 580.00 (500.00 +
	// VAT 80.00): input VAT 160.00 − 80.00 = 80.00.
	vendor := must(e.store.CreateContact(ctx, e.a, ContactInput{Kind: "vendor", Name: "Nairobi Stationers"}, clerk))
	bill := must(e.store.CreateDraft(ctx, e.a, KindBill, DocumentInput{ContactID: vendor.ID.String(), IssueDate: "2026-03-05",
		Lines: []LineInput{{Quantity: "10", UnitPrice: "100.00", TaxCode: "VAT16", Account: "6600"}}}, clerk))
	bill = must(e.store.Issue(ctx, e.a, KindBill, bill.ID, clerk))
	cn := must(e.store.CreditNote(ctx, e.a, KindBill, bill.ID, CreditNoteInput{Date: "2026-03-06", Reason: "5 returned",
		Lines: []LineInput{{Quantity: "5", UnitPrice: "100.00", TaxCode: "VAT16", Account: "6600"}}}, clerk))
	if cn.Number != "CN-2026-000001" || cn.Total != "580.00" {
		t.Errorf("credit note %+v", cn)
	}
	if got := must(e.store.Get(ctx, e.a, bill.ID, KindBill)); got.BalanceDue != "580.00" || got.Status != StatusPartiallyPaid {
		t.Errorf("bill after the credit note %+v", got)
	}
	err := e.store.inTx(ctx, e.a, func(tx pgx.Tx) error {
		vat, _, err := VATReturnFor(ctx, tx, "2026-03-01", "2026-03-31")
		if err != nil {
			return err
		}
		// Output VAT: 16.00 USD at 129.50 = 2,072.00 KES.
		if vat.OutputVAT != "2072.00" || vat.InputVAT != "80.00" || vat.NetPayable != "1992.00" {
			t.Errorf("VAT return %+v", vat)
		}
		byRole := map[string]int64{}
		rows, err := tx.Query(ctx, `SELECT coalesce(a.role, a.code), sum(b.base_amount)::bigint FROM account_balances b JOIN accounts a ON a.id = b.account_id GROUP BY 1`)
		if err != nil {
			return err
		}
		var total int64
		for rows.Next() {
			var role string
			var sum int64
			if err := rows.Scan(&role, &sum); err != nil {
				return err
			}
			byRole[role] = sum
			total += sum
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if total != 0 || byRole["ar"] != 0 || byRole["fx"] != -5800 || byRole["bank"] != 1508000 || byRole["vat_input"] != 8000 || byRole["ap"] != -58000 {
			t.Errorf("balances in KES by role: %v (Σ %d)", byRole, total)
		}
		rep, err := ledger.Verify(ctx, tx)
		if err != nil {
			return err
		}
		if !rep.OK {
			t.Errorf("ledger verify: %+v", rep)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
