package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/auth"
)

// doc is an invoice, bill or credit note as the API answers it.
type doc struct {
	ID         string `json:"id"`
	Number     string `json:"number"`
	Status     string `json:"status"`
	Subtotal   string `json:"subtotal"`
	TaxTotal   string `json:"tax_total"`
	Total      string `json:"total"`
	Paid       string `json:"paid"`
	Credited   string `json:"credited"`
	BalanceDue string `json:"balance_due"`
	EntryID    string `json:"entry_id"`
	Lines      []struct {
		Net         string `json:"net"`
		Tax         string `json:"tax"`
		TaxRate     string `json:"tax_rate"`
		ETIMSLetter string `json:"etims_letter"`
	} `json:"lines"`
}

type idOnly struct {
	ID string `json:"id"`
}

// TestInvoicingAPI runs the books of a small Kenyan hardware shop through
// the API and checks what the accountant would write by hand (acceptance
// 5), then sends an attacker's request to every state-changing invoicing
// route and sees each refused with nothing changed.
func TestInvoicingAPI(t *testing.T) {
	w := newWorld(t)
	in := w.in
	god := w.god.AccessToken
	manager := w.byRole[auth.RoleManager].AccessToken
	base := "/api/v1/companies/" + w.a.ID

	var customer, vendor, other idOnly
	in.mustCall("POST", base+"/contacts", w.byRole[auth.RoleUser].AccessToken, map[string]any{"kind": "customer",
		"name": "Jua Kali Hardware Ltd", "kra_pin": "p051 234 567x", "payment_terms_days": 30}, 201, &customer)
	in.mustCall("POST", base+"/contacts", manager, map[string]any{"kind": "vendor", "name": "Simba Cement Supplies", "kra_pin": "P052222222Y"}, 201, &vendor)
	in.mustCall("POST", base+"/contacts", manager, map[string]any{"kind": "customer", "name": "Wanjiru Builders"}, 201, &other)

	t.Run("worked example", func(t *testing.T) {
		// March 2026. Invoice to Jua Kali Hardware, dated 5 March, due in
		// 30 days (4 April):
		//   10 bags of cement   × 750.00   = 7,500.00  VAT 16% (B) 1,200.00
		//    2 wheelbarrows     × 4,250.00 = 8,500.00  VAT 16% (B) 1,360.00
		//    1 export delivery  × 2,000.00 = 2,000.00  zero-rated (C)  0.00
		//                        subtotal   18,000.00  VAT       2,560.00
		//                        total      20,560.00
		// Journal: Dr receivables 20,560.00; Cr sales 16,000.00 (VAT16)
		// and 2,000.00 (ZERO), one line per tax code; Cr VAT output
		// 2,560.00.
		var inv doc
		in.mustCall("POST", base+"/invoices", w.byRole[auth.RoleUser].AccessToken, map[string]any{"contact_id": customer.ID, "issue_date": "2026-03-05",
			"lines": []map[string]string{
				{"description": "Cement 50kg", "quantity": "10", "unit_price": "750.00", "tax_code": "VAT16"},
				{"description": "Wheelbarrow", "quantity": "2", "unit_price": "4250.00", "tax_code": "VAT16"},
				{"description": "Delivery to Kampala (export)", "quantity": "1", "unit_price": "2000.00", "tax_code": "ZERO"},
			}}, 201, &inv)
		if inv.Status != "draft" || inv.Number != "" || inv.Subtotal != "18000.00" || inv.TaxTotal != "2560.00" || inv.Total != "20560.00" {
			t.Errorf("draft %+v", inv)
		}
		if len(inv.Lines) != 3 || inv.Lines[1].Tax != "1360.00" || inv.Lines[2].ETIMSLetter != "C" || inv.Lines[0].ETIMSLetter != "B" || inv.Lines[0].TaxRate != "16" {
			t.Errorf("draft lines %+v", inv.Lines)
		}
		// A user drafts but does not post.
		if code, body := in.call("POST", base+"/invoices/"+inv.ID+"/issue", w.byRole[auth.RoleUser].AccessToken, nil); code != 403 {
			t.Errorf("issue as user: %d %s", code, body)
		}
		in.mustCall("POST", base+"/invoices/"+inv.ID+"/issue", manager, nil, 200, &inv)
		if inv.Status != "issued" || inv.Number != "INV-2026-000001" || inv.EntryID == "" || inv.BalanceDue != "20560.00" {
			t.Errorf("issued %+v", inv)
		}
		// The entry is posted, with the four lines of the hand-written
		// journal (read as the superuser, below the API).
		var status string
		var lines, debits int64
		pg := pgConnect(t, w.data)
		schema := "company_" + strings.ReplaceAll(w.a.ID, "-", "")
		if err := pg.QueryRow(context.Background(), `SELECT e.status, count(*), sum(greatest(l.amount, 0)) FROM `+schema+`.journal_entries e
			JOIN `+schema+`.journal_lines l ON l.entry_id = e.id WHERE e.id = $1 GROUP BY e.status`, inv.EntryID).Scan(&status, &lines, &debits); err != nil {
			t.Fatal(err)
		}
		if status != "posted" || lines != 4 || debits != 2056000 {
			t.Errorf("the invoice's entry: %s, %d lines, debits %d; want posted, 4, 2056000", status, lines, debits)
		}

		// 20 March: the customer, a withholding VAT agent, pays 10,000.00
		// and withholds 2% of the taxable value of the standard-rated
		// supplies: 2% × 16,000.00 = 320.00. The payment settles
		// 10,320.00; 10,240.00 is still due.
		var pay struct {
			ID          string
			Unallocated string
			Allocations []struct{ Number, Amount string }
		}
		in.mustCall("POST", base+"/payments", manager, map[string]any{"direction": "received", "contact_id": customer.ID,
			"date": "2026-03-20", "amount": "10000.00", "withholding_vat": "320.00", "reference": "MPESA QGH12345",
			"allocations": []map[string]string{{"document_id": inv.ID, "amount": "10320.00"}}}, 201, &pay)
		if pay.Unallocated != "0.00" || len(pay.Allocations) != 1 || pay.Allocations[0].Number != "INV-2026-000001" {
			t.Errorf("first payment %+v", pay)
		}
		in.mustCall("GET", base+"/invoices/"+inv.ID, manager, nil, 200, &inv)
		if inv.Status != "partially_paid" || inv.Paid != "10320.00" || inv.BalanceDue != "10240.00" {
			t.Errorf("after the part payment %+v", inv)
		}
		// Aged receivables on 25 March: 10,240.00 current (due 4 April).
		var aged struct {
			Total    string
			Totals   map[string]string
			Contacts []struct {
				Name  string
				Total string
			}
		}
		in.mustCall("GET", base+"/reports/aged-receivables?as_of=2026-03-25", w.byRole[auth.RoleViewer].AccessToken, nil, 200, &aged)
		if aged.Total != "10240.00" || aged.Totals["current"] != "10240.00" || len(aged.Contacts) != 1 || aged.Contacts[0].Name != "Jua Kali Hardware Ltd" {
			t.Errorf("aged receivables on 25 March %+v", aged)
		}
		// 28 March: it pays 10,500.00 without saying what for; the
		// payment settles the oldest open invoice (10,240.00) and the
		// 260.00 over is an advance from the customer.
		in.mustCall("POST", base+"/payments", manager, map[string]any{"direction": "received", "contact_id": customer.ID,
			"date": "2026-03-28", "amount": "10500.00"}, 201, &pay)
		if pay.Unallocated != "260.00" || len(pay.Allocations) != 1 || pay.Allocations[0].Amount != "10240.00" {
			t.Errorf("second payment %+v", pay)
		}
		in.mustCall("GET", base+"/invoices/"+inv.ID, manager, nil, 200, &inv)
		if inv.Status != "paid" || inv.BalanceDue != "0.00" {
			t.Errorf("after the last payment %+v", inv)
		}

		// 10 March: a bill from Simba Cement, 20 bags × 500.00 = 10,000.00
		// plus VAT 16% 1,600.00 = 11,600.00, paid in full on 25 March.
		var bill doc
		in.mustCall("POST", base+"/bills", manager, map[string]any{"contact_id": vendor.ID, "issue_date": "2026-03-10", "reference": "SC-7781",
			"lines": []map[string]string{{"description": "Cement 50kg", "quantity": "20", "unit_price": "500.00", "tax_code": "VAT16", "account": "5000"}}}, 201, &bill)
		in.mustCall("POST", base+"/bills/"+bill.ID+"/issue", manager, nil, 200, &bill)
		if bill.Number != "BILL-2026-000001" || bill.Total != "11600.00" {
			t.Errorf("bill %+v", bill)
		}
		var payables struct{ Total string }
		in.mustCall("GET", base+"/reports/aged-payables?as_of=2026-04-20", manager, nil, 200, &payables)
		if payables.Total != "11600.00" {
			t.Errorf("aged payables before paying: %+v", payables)
		}
		in.mustCall("POST", base+"/payments", manager, map[string]any{"direction": "made", "contact_id": vendor.ID, "date": "2026-03-25",
			"amount": "11600.00", "allocations": []map[string]string{{"document_id": bill.ID, "amount": "11600.00"}}}, 201, nil)
		in.mustCall("GET", base+"/reports/aged-payables?as_of=2026-04-20", manager, nil, 200, &payables)
		if payables.Total != "0.00" {
			t.Errorf("aged payables after paying: %+v", payables)
		}

		// The VAT return for March 2026, as the accountant works it:
		//   sales     B 16%  net 16,000.00  VAT 2,560.00
		//             C  0%  net  2,000.00  VAT     0.00
		//   purchases B 16%  net 10,000.00  VAT 1,600.00
		//   output VAT 2,560.00 − input VAT 1,600.00 = 960.00
		//   less withholding VAT certificates          320.00
		//   net VAT payable to KRA by 20 April         640.00
		var vat struct {
			Sales, Purchases []struct {
				TaxCode     string `json:"tax_code"`
				ETIMSLetter string `json:"etims_letter"`
				Rate        string
				Net, VAT    string
			}
			SalesNet              string `json:"sales_net"`
			OutputVAT             string `json:"output_vat"`
			InputVAT              string `json:"input_vat"`
			NetVAT                string `json:"net_vat"`
			WithholdingVATCredits string `json:"withholding_vat_credits"`
			NetPayable            string `json:"net_payable"`
		}
		in.mustCall("GET", base+"/reports/vat-return?from=2026-03-01&to=2026-03-31", w.byRole[auth.RoleViewer].AccessToken, nil, 200, &vat)
		sales := fmt.Sprint(vat.Sales)
		if sales != "[{VAT16 B 16 16000.00 2560.00} {ZERO C 0 2000.00 0.00}]" || fmt.Sprint(vat.Purchases) != "[{VAT16 B 16 10000.00 1600.00}]" {
			t.Errorf("VAT return lines: sales %s, purchases %v", sales, vat.Purchases)
		}
		if vat.SalesNet != "18000.00" || vat.OutputVAT != "2560.00" || vat.InputVAT != "1600.00" || vat.NetVAT != "960.00" ||
			vat.WithholdingVATCredits != "320.00" || vat.NetPayable != "640.00" {
			t.Errorf("VAT return %+v", vat)
		}
		code, csv := in.call("GET", base+"/reports/vat-return?from=2026-03-01&to=2026-03-31&format=csv", manager, nil)
		if code != 200 || !bytes.Contains(csv, []byte("net_payable,,,,,640.00")) {
			t.Errorf("VAT return as CSV: %d %s", code, csv)
		}

		// April: an exempt sale to Wanjiru Builders, due on the day, then
		// credited 1,000.00: 4,000.00 is 44 days overdue on 15 May (31-60).
		var inv2, cn doc
		in.mustCall("POST", base+"/invoices", manager, map[string]any{"contact_id": other.ID, "issue_date": "2026-04-01", "due_date": "2026-04-01",
			"lines": []map[string]string{{"description": "Hire of scaffolding", "quantity": "1", "unit_price": "5000.00", "tax_code": "EXEMPT"}}}, 201, &inv2)
		in.mustCall("POST", base+"/invoices/"+inv2.ID+"/issue", manager, nil, 200, &inv2)
		in.mustCall("POST", base+"/invoices/"+inv2.ID+"/credit-notes", manager, map[string]any{"date": "2026-04-03", "reason": "returned early",
			"lines": []map[string]string{{"quantity": "1", "unit_price": "1000.00", "tax_code": "EXEMPT"}}}, 201, &cn)
		if cn.Number != "CN-2026-000001" || cn.Total != "1000.00" {
			t.Errorf("credit note %+v", cn)
		}
		in.mustCall("GET", base+"/invoices/"+inv2.ID, manager, nil, 200, &inv2)
		if inv2.Number != "INV-2026-000002" || inv2.Status != "partially_paid" || inv2.Credited != "1000.00" || inv2.BalanceDue != "4000.00" {
			t.Errorf("credited invoice %+v", inv2)
		}
		in.mustCall("GET", base+"/reports/aged-receivables?as_of=2026-05-15", manager, nil, 200, &aged)
		if aged.Total != "4000.00" || aged.Totals["31-60"] != "4000.00" {
			t.Errorf("aged receivables on 15 May %+v", aged)
		}
		in.mustCall("GET", base+"/reports/vat-return?from=2026-04-01&to=2026-04-30", manager, nil, 200, &vat)
		if fmt.Sprint(vat.Sales) != "[{EXEMPT A 0 4000.00 0.00}]" || vat.NetPayable != "0.00" {
			t.Errorf("April VAT return %+v", vat)
		}

		// A void posts the reversal: the invoice's number stays taken, and
		// the period it is voided in shows it negative.
		var inv3 doc
		in.mustCall("POST", base+"/invoices", manager, map[string]any{"contact_id": other.ID, "issue_date": "2026-04-10",
			"lines": []map[string]string{{"quantity": "1", "unit_price": "100.00", "tax_code": "VAT16"}}}, 201, &inv3)
		in.mustCall("POST", base+"/invoices/"+inv3.ID+"/issue", manager, nil, 200, &inv3)
		in.mustCall("POST", base+"/invoices/"+inv3.ID+"/void", manager, map[string]string{"date": "2026-05-02", "reason": "wrong customer"}, 200, &inv3)
		if inv3.Status != "void" || inv3.Number != "INV-2026-000003" {
			t.Errorf("void %+v", inv3)
		}
		in.mustCall("GET", base+"/reports/vat-return?from=2026-05-01&to=2026-05-31", manager, nil, 200, &vat)
		if vat.OutputVAT != "-16.00" {
			t.Errorf("May VAT return after the void %+v", vat)
		}
		if code, body := in.call("POST", base+"/invoices/"+inv.ID+"/void", manager, map[string]string{}); code != 409 || errorCode(body) != "invalid_status" {
			t.Errorf("void of a paid invoice: %d %s", code, body)
		}
	})

	t.Run("attackers", func(t *testing.T) {
		user, viewer := w.byRole[auth.RoleUser].AccessToken, w.byRole[auth.RoleViewer].AccessToken
		bBase := "/api/v1/companies/" + w.b.ID
		var bCustomer, bVendor idOnly
		in.mustCall("POST", bBase+"/contacts", god, map[string]any{"kind": "customer", "name": "Bidii Customer"}, 201, &bCustomer)
		in.mustCall("POST", bBase+"/contacts", god, map[string]any{"kind": "vendor", "name": "Bidii Vendor"}, 201, &bVendor)
		draft := func(b, path, contact string) string {
			var d idOnly
			in.mustCall("POST", b+path, god, map[string]any{"contact_id": contact, "issue_date": "2026-06-01",
				"lines": []map[string]string{{"quantity": "1", "unit_price": "10.00", "tax_code": "VAT16"}}}, 201, &d)
			return d.ID
		}
		issued := func(b, path, contact string) string {
			id := draft(b, path, contact)
			in.mustCall("POST", b+path+"/"+id+"/issue", god, nil, 200, nil)
			return id
		}
		aInv, aBill := draft(base, "/invoices", customer.ID), draft(base, "/bills", vendor.ID)
		aIssued, aIssuedBill := issued(base, "/invoices", customer.ID), issued(base, "/bills", vendor.ID)
		bInv, bBill := issued(bBase, "/invoices", bCustomer.ID), issued(bBase, "/bills", bVendor.ID)
		var taxCodes struct{ Items []idOnly }
		in.mustCall("GET", bBase+"/tax-codes", god, nil, 200, &taxCodes)
		bTax := taxCodes.Items[0].ID
		in.mustCall("GET", base+"/tax-codes", god, nil, 200, &taxCodes)
		aTax := taxCodes.Items[0].ID
		var bPay idOnly
		in.mustCall("POST", bBase+"/payments", god, map[string]any{"direction": "received", "contact_id": bCustomer.ID, "date": "2026-06-02", "amount": "1.00"}, 201, &bPay)
		line := func(k, v string) []map[string]string {
			l := map[string]string{"quantity": "1", "unit_price": "10.00", "tax_code": "VAT16"}
			l[k] = v
			return []map[string]string{l}
		}
		newDoc := func(contact string, lines []map[string]string) map[string]any {
			return map[string]any{"contact_id": contact, "issue_date": "2026-06-01", "lines": lines}
		}
		// What each attack must leave as it was, read by GOD before and
		// after: the objects it aims at and the lists it would add to.
		watched := []string{base + "/contacts", base + "/tax-codes", base + "/invoices?credit_notes=true", base + "/bills?credit_notes=true", base + "/payments",
			base + "/contacts/" + customer.ID, base + "/invoices/" + aInv, base + "/invoices/" + aIssued, base + "/bills/" + aBill, base + "/bills/" + aIssuedBill,
			bBase + "/invoices/" + bInv, bBase + "/bills/" + bBill, bBase + "/payments/" + bPay.ID, bBase + "/contacts/" + bCustomer.ID,
			"/api/v1/companies/" + w.a.ID + "/reports/aged-receivables?as_of=2026-12-31", base + "/reports/vat-return?from=2026-01-01&to=2026-12-31"}
		snapshot := func() []byte {
			var all []byte
			for _, p := range watched {
				_, body := in.call("GET", p, god, nil)
				all = append(append(all, body...), '\n')
			}
			return all
		}
		attacks := []struct {
			name         string
			method, path string
			token        string
			body         any
			code         int
			field        string
		}{
			{"contact by a viewer", "POST", base + "/contacts", viewer, map[string]any{"kind": "customer", "name": "Sneaky"}, 403, ""},
			{"contact with a bad KRA PIN", "POST", base + "/contacts", user, map[string]any{"kind": "customer", "name": "Bad PIN", "kra_pin": "X123"}, 400, "kra_pin"},
			{"contact of another kind", "POST", base + "/contacts", user, map[string]any{"kind": "employee", "name": "Who"}, 400, "kind"},
			{"patch contact by a viewer", "PATCH", base + "/contacts/" + customer.ID, viewer, map[string]any{"name": "Renamed"}, 403, ""},
			{"patch another company's contact", "PATCH", base + "/contacts/" + bCustomer.ID, manager, map[string]any{"name": "Renamed"}, 404, ""},
			{"patch contact with a bad email", "PATCH", base + "/contacts/" + customer.ID, manager, map[string]any{"email": "not an email"}, 400, "email"},
			{"tax code by a manager", "POST", base + "/tax-codes", manager, map[string]any{"code": "VAT14", "name": "14%", "kind": "standard", "rate": "14", "effective_from": "2026-01-01"}, 403, ""},
			{"tax code overlapping VAT16", "POST", base + "/tax-codes", god, map[string]any{"code": "VAT16", "name": "16%", "kind": "standard", "rate": "16", "effective_from": "2026-01-01"}, 400, "effective_from"},
			{"tax code with a rate of 120", "POST", base + "/tax-codes", god, map[string]any{"code": "HIGH", "name": "High", "kind": "standard", "rate": "120", "effective_from": "2026-01-01"}, 400, "rate"},
			{"patch tax code by a manager", "PATCH", base + "/tax-codes/" + aTax, manager, map[string]any{"name": "Renamed"}, 403, ""},
			{"patch another company's tax code", "PATCH", base + "/tax-codes/" + bTax, god, map[string]any{"name": "Renamed"}, 404, ""},
			{"patch tax code with a bad letter", "PATCH", base + "/tax-codes/" + aTax, god, map[string]any{"etims_letter": "Z"}, 400, "etims_letter"},
			{"invoice by a viewer", "POST", base + "/invoices", viewer, newDoc(customer.ID, line("quantity", "1")), 403, ""},
			{"invoice to another company's contact", "POST", base + "/invoices", manager, newDoc(bCustomer.ID, line("quantity", "1")), 400, "contact_id"},
			{"invoice to a vendor", "POST", base + "/invoices", manager, newDoc(vendor.ID, line("quantity", "1")), 400, "contact_id"},
			{"invoice with a negative quantity", "POST", base + "/invoices", manager, newDoc(customer.ID, line("quantity", "-3")), 400, "lines[0].quantity"},
			{"invoice with an unknown tax code", "POST", base + "/invoices", manager, newDoc(customer.ID, line("tax_code", "VAT99")), 400, "lines[0].tax_code"},
			{"invoice posting to receivables", "POST", base + "/invoices", manager, newDoc(customer.ID, line("account", "1200")), 400, "lines[0].account"},
			{"invoice with a negative price", "POST", base + "/invoices", manager, newDoc(customer.ID, line("unit_price", "-10.00")), 400, "lines[0].unit_price"},
			{"bill from another company's vendor", "POST", base + "/bills", manager, newDoc(bVendor.ID, line("quantity", "1")), 400, "contact_id"},
			{"bill with an unknown tax code", "POST", base + "/bills", manager, newDoc(vendor.ID, line("tax_code", "NOPE")), 400, "lines[0].tax_code"},
			{"bill by a viewer", "POST", base + "/bills", viewer, newDoc(vendor.ID, line("quantity", "1")), 403, ""},
			{"patch invoice by a viewer", "PATCH", base + "/invoices/" + aInv, viewer, map[string]any{"notes": "x"}, 403, ""},
			{"patch another company's invoice", "PATCH", base + "/invoices/" + bInv, manager, map[string]any{"notes": "x"}, 404, ""},
			{"patch invoice to another company's contact", "PATCH", base + "/invoices/" + aInv, manager, map[string]any{"contact_id": bCustomer.ID}, 400, "contact_id"},
			{"patch invoice with a negative quantity", "PATCH", base + "/invoices/" + aInv, manager, map[string]any{"lines": line("quantity", "-1")}, 400, "lines[0].quantity"},
			{"patch an issued invoice", "PATCH", base + "/invoices/" + aIssued, manager, map[string]any{"notes": "x"}, 409, ""},
			{"patch bill with an unknown tax code", "PATCH", base + "/bills/" + aBill, manager, map[string]any{"lines": line("tax_code", "X")}, 400, "lines[0].tax_code"},
			{"patch another company's bill", "PATCH", base + "/bills/" + bBill, manager, map[string]any{"notes": "x"}, 404, ""},
			{"issue by a user", "POST", base + "/invoices/" + aInv + "/issue", user, nil, 403, ""},
			{"issue another company's invoice", "POST", base + "/invoices/" + bInv + "/issue", manager, nil, 404, ""},
			{"issue a bill as an invoice", "POST", base + "/invoices/" + aBill + "/issue", manager, nil, 404, ""},
			{"issue twice", "POST", base + "/invoices/" + aIssued + "/issue", manager, nil, 409, ""},
			{"issue bill by a user", "POST", base + "/bills/" + aBill + "/issue", user, nil, 403, ""},
			{"issue another company's bill", "POST", base + "/bills/" + bBill + "/issue", manager, nil, 404, ""},
			{"void by a user", "POST", base + "/invoices/" + aIssued + "/void", user, map[string]string{}, 403, ""},
			{"void another company's invoice", "POST", base + "/invoices/" + bInv + "/void", manager, map[string]string{}, 404, ""},
			{"void a draft", "POST", base + "/invoices/" + aInv + "/void", manager, map[string]string{}, 409, ""},
			{"void with a bad date", "POST", base + "/invoices/" + aIssued + "/void", manager, map[string]string{"date": "yesterday"}, 400, "date"},
			{"void another company's bill", "POST", base + "/bills/" + bBill + "/void", manager, map[string]string{}, 404, ""},
			{"credit by a user", "POST", base + "/invoices/" + aIssued + "/credit-notes", user, map[string]any{"date": "2026-06-02", "lines": line("quantity", "1")}, 403, ""},
			{"credit another company's invoice", "POST", base + "/invoices/" + bInv + "/credit-notes", manager, map[string]any{"date": "2026-06-02", "lines": line("quantity", "1")}, 404, ""},
			{"credit more than is due", "POST", base + "/invoices/" + aIssued + "/credit-notes", manager, map[string]any{"date": "2026-06-02", "lines": line("quantity", "2")}, 400, "lines"},
			{"credit with an unknown tax code", "POST", base + "/invoices/" + aIssued + "/credit-notes", manager, map[string]any{"date": "2026-06-02", "lines": line("tax_code", "VAT99")}, 400, "lines[0].tax_code"},
			{"credit a draft bill", "POST", base + "/bills/" + aBill + "/credit-notes", manager, map[string]any{"date": "2026-06-02", "lines": line("quantity", "1")}, 409, ""},
			{"payment by a user", "POST", base + "/payments", user, map[string]any{"direction": "received", "contact_id": customer.ID, "date": "2026-06-02", "amount": "1.00"}, 403, ""},
			{"payment from another company's contact", "POST", base + "/payments", manager, map[string]any{"direction": "received", "contact_id": bCustomer.ID, "date": "2026-06-02", "amount": "1.00"}, 400, "contact_id"},
			{"payment to another company's invoice", "POST", base + "/payments", manager, map[string]any{"direction": "received", "contact_id": customer.ID, "date": "2026-06-02", "amount": "1.00",
				"allocations": []map[string]string{{"document_id": bInv, "amount": "1.00"}}}, 400, "allocations[0].document_id"},
			{"payment allocating more than it is", "POST", base + "/payments", manager, map[string]any{"direction": "received", "contact_id": customer.ID, "date": "2026-06-02", "amount": "1.00",
				"allocations": []map[string]string{{"document_id": aIssued, "amount": "5.00"}}}, 400, "allocations"},
			{"payment of a negative amount", "POST", base + "/payments", manager, map[string]any{"direction": "received", "contact_id": customer.ID, "date": "2026-06-02", "amount": "-5.00"}, 400, "amount"},
			{"payment made with withholding", "POST", base + "/payments", manager, map[string]any{"direction": "made", "contact_id": vendor.ID, "date": "2026-06-02", "amount": "5.00", "withholding_vat": "1.00"}, 400, "withholding_vat"},
			{"payment into the VAT account", "POST", base + "/payments", manager, map[string]any{"direction": "received", "contact_id": customer.ID, "date": "2026-06-02", "amount": "5.00", "account": "2200"}, 400, "account"},
		}
		before := snapshot()
		for _, a := range attacks {
			code, body := in.call(a.method, a.path, a.token, a.body)
			if code != a.code || (a.field != "" && errorField(body) != a.field) {
				t.Errorf("%s: %d %s; want %d naming %q", a.name, code, body, a.code, a.field)
			}
			if bytes.Contains(body, []byte(w.b.ID)) && strings.HasPrefix(a.path, base) {
				t.Errorf("%s: the answer names the other company: %s", a.name, body)
			}
		}
		if after := snapshot(); !bytes.Equal(before, after) {
			t.Errorf("the refused requests changed something:\nbefore %s\nafter  %s", before, after)
		}
	})
}

// Objects for the isolation suite: each a throwaway of its company, made
// by GOD, so that probes that change or post them touch nothing else.
var isolationContacts sync.Map // company id + kind → contact id

func isolationContact(in *instance, god, companyID, kind string) string {
	if id, ok := isolationContacts.Load(in.data + companyID + kind); ok {
		return id.(string)
	}
	var c idOnly
	in.mustCall("POST", "/api/v1/companies/"+companyID+"/contacts", god, map[string]any{"kind": kind, "name": "Probe " + kind}, 201, &c)
	isolationContacts.Store(in.data+companyID+kind, c.ID)
	return c.ID
}

func init() {
	isolationParams[":ctid"] = isolationParam{func(in *instance, god, companyID string, i int) string {
		var c idOnly
		in.mustCall("POST", "/api/v1/companies/"+companyID+"/contacts", god, map[string]any{"kind": "both", "name": fmt.Sprintf("Probe contact %d", i)}, 201, &c)
		return c.ID
	}}
	isolationParams[":tcid"] = isolationParam{func(in *instance, god, companyID string, i int) string {
		var c idOnly
		in.mustCall("POST", "/api/v1/companies/"+companyID+"/tax-codes", god, map[string]any{"code": strings.ToUpper(fmt.Sprintf("P%d-%s", i, uuid.NewString()[:6])),
			"name": "Probe rate", "kind": "standard", "rate": "5", "effective_from": "2026-01-01"}, 201, &c)
		return c.ID
	}}
	draft := func(path, kind string) func(in *instance, god, companyID string, i int) string {
		return func(in *instance, god, companyID string, i int) string {
			var d idOnly
			in.mustCall("POST", "/api/v1/companies/"+companyID+path, god, map[string]any{"contact_id": isolationContact(in, god, companyID, kind),
				"issue_date": "2026-02-01", "lines": []map[string]string{{"description": fmt.Sprintf("probe %d", i), "quantity": "1", "unit_price": "1.00", "tax_code": "VAT16"}}}, 201, &d)
			return d.ID
		}
	}
	isolationParams[":invid"] = isolationParam{draft("/invoices", "customer")}
	isolationParams[":bid"] = isolationParam{draft("/bills", "vendor")}
	isolationParams[":pid"] = isolationParam{func(in *instance, god, companyID string, i int) string {
		var p idOnly
		in.mustCall("POST", "/api/v1/companies/"+companyID+"/payments", god, map[string]any{"direction": "received",
			"contact_id": isolationContact(in, god, companyID, "customer"), "date": "2026-02-02", "amount": "1.00"}, 201, &p)
		return p.ID
	}}
	isolationBodies["POST /contacts"] = func(i int) any { return map[string]any{"kind": "customer", "name": fmt.Sprintf("Probe %d", i)} }
	isolationBodies["PATCH /contacts/:ctid"] = func(i int) any { return map[string]any{"phone": "+254 700 000000"} }
	isolationBodies["POST /tax-codes"] = func(i int) any {
		return map[string]any{"code": strings.ToUpper(fmt.Sprintf("Q%d-%s", i, uuid.NewString()[:6])), "name": "Probe", "kind": "zero_rated", "rate": "0", "effective_from": "2026-01-01"}
	}
	isolationBodies["PATCH /tax-codes/:tcid"] = func(int) any { return map[string]any{"name": "Probe renamed"} }
	// A contact id of no company: refused with 400, after the gate.
	newDocument := func(int) any {
		return map[string]any{"contact_id": uuid.NewString(), "issue_date": "2026-02-01",
			"lines": []map[string]string{{"quantity": "1", "unit_price": "1.00", "tax_code": "VAT16"}}}
	}
	isolationBodies["POST /invoices"] = newDocument
	isolationBodies["POST /bills"] = newDocument
	isolationBodies["PATCH /invoices/:invid"] = func(int) any { return map[string]any{"notes": "probed"} }
	isolationBodies["PATCH /bills/:bid"] = func(int) any { return map[string]any{"notes": "probed"} }
	isolationBodies["POST /invoices/:invid/void"] = func(int) any { return map[string]any{} }
	isolationBodies["POST /bills/:bid/void"] = func(int) any { return map[string]any{} }
	creditNote := func(int) any {
		return map[string]any{"date": "2026-02-02", "lines": []map[string]string{{"quantity": "1", "unit_price": "1.00", "tax_code": "VAT16"}}}
	}
	isolationBodies["POST /invoices/:invid/credit-notes"] = creditNote
	isolationBodies["POST /bills/:bid/credit-notes"] = creditNote
	isolationBodies["POST /payments"] = func(int) any {
		return map[string]any{"direction": "received", "contact_id": uuid.NewString(), "date": "2026-02-02", "amount": "1.00"}
	}
}
