package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/extract/extracttest"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/transfer"
)

// vantaCompany runs `vanta company ARGS --json` and returns its exit
// code and output.
func vantaCompany(t *testing.T, args ...string) (int, []byte) {
	t.Helper()
	cmd := exec.Command(vantaBin, append([]string{"company"}, append(args, "--json")...)...)
	out, err := cmd.Output()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out
	case errors.As(err, &exit):
		return exit.ExitCode(), out
	}
	t.Fatalf("vanta company %v: %v", args, err)
	return 0, nil
}

// TestCompanyExportImport is acceptance 2: a company with books and a
// document moves from appliance A to appliance B. In B its books are the
// same, its document opens with B's keys alone (every sealed value is
// sealed again under B's new company key), its audit chain verifies;
// the bundle shows none of it in the clear; A's other company is not
// touched; a second import and a damaged bundle are refused, naming why.
func TestCompanyExportImport(t *testing.T) {
	r := newDocRig(t)
	in, a := r.in, r.a.ID
	base := r.path(a, "")
	const description = "Payment of the Nyeri warehouse lease"
	for _, e := range []map[string]any{
		{"date": "2026-02-01", "description": description, "status": "posted", "lines": []map[string]string{
			{"account": "6000", "debit": "1250.40"}, {"account": "1100", "credit": "1250.40"}}},
		{"date": "2026-02-02", "description": "Cash sale at the market", "status": "posted", "lines": []map[string]string{
			{"account": "1100", "debit": "300.00"}, {"account": "4000", "credit": "300.00"}}},
	} {
		in.mustCall("POST", base+"/journal-entries", r.god, e, 201, nil)
	}
	// An issued invoice: contacts, invoices, lines, counters and its entry.
	const customer = "Mwangaza Solar Installers"
	var contact, inv struct{ ID, Number string }
	in.mustCall("POST", base+"/contacts", r.god, map[string]any{"kind": "customer", "name": customer}, 201, &contact)
	in.mustCall("POST", base+"/invoices", r.god, map[string]any{"contact_id": contact.ID, "issue_date": "2026-02-03",
		"lines": []map[string]string{{"description": "Panel mounting", "quantity": "2", "unit_price": "1500.00", "tax_code": "VAT16"}}}, 201, &inv)
	in.mustCall("POST", base+"/invoices/"+inv.ID+"/issue", r.god, nil, 200, &inv)
	invoice := extracttest.InvoiceVariant(1)
	pdf := extracttest.PDF(invoice.Lines)
	doc := r.upload(t, r.manager, a, "lease-invoice.pdf", pdf)
	if d := r.waitDocument(t, r.manager, a, doc.DocumentID, func(d docAnswer) bool { return settled(d.Status) }); d.Extraction == nil {
		t.Fatalf("document not extracted: %+v (%v)", d, deref(d.Error))
	}
	tbA := trialBalances(in, r.god, base)
	otherBefore := ledgerState(t, in, r.path(r.b.ID, ""), r.god) + mustJSON(trialBalances(in, r.god, r.path(r.b.ID, "")))

	// Export with the operator's age recipient.
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(dir, "operator.age")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "company.vxp")
	started := time.Now()
	if code, out := vantaCompany(t, "export", "--data", r.data, "--company", a, "--out", bundle, "--recipient", id.Recipient().String()); code != 0 {
		t.Fatalf("export: exit %d: %s", code, out)
	}
	exportTook := time.Since(started)
	raw, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{description, customer, invoice.VendorName, invoice.Customer, "lease-invoice.pdf", r.a.Name} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the bundle holds %q in the clear", secret)
		}
	}
	if code, body := in.call("GET", "/api/v1/sys/audit?action=company.export", r.god, nil); code != 200 || !strings.Contains(string(body), "company.export") {
		t.Errorf("the export is not in the system audit chain: %d %s", code, body)
	}

	// Import into another appliance.
	inB, godB, _ := godInstance(t, nil)

	// The appliance checks too: a bundle with a flipped byte sent straight
	// to the socket (past the command's own check) is refused, naming the
	// chunk, and leaves nothing; the import below then succeeds.
	br, err := transfer.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	rawKey, err := br.UnwrapKey(id)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(raw)
	flipped[len(flipped)/2] ^= 0x01
	req, err := http.NewRequest("POST", "http://vanta/v1/companies/import", bytes.NewReader(flipped))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(appliance.CompanyKeyHeader, base64.StdEncoding.EncodeToString(rawKey))
	resp, err := newCtlClient(inB.data).http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 422 || !strings.Contains(string(body), "does not decrypt") {
		t.Errorf("a damaged bundle sent to the socket: %d %s", resp.StatusCode, body)
	}
	keyA, err := seal.ImportDataKey(a, rawKey)
	if err != nil {
		t.Fatal(err)
	}
	defer keyA.Destroy()
	started = time.Now()
	code, out := vantaCompany(t, "import", "--data", inB.data, "--in", bundle, "--identity", idFile)
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, out)
	}
	t.Logf("bundle %d bytes; export %v, import %v (command to exit)", len(raw), exportTook.Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
	var res transfer.ImportResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("import result %s: %v", out, err)
	}
	if res.Company.String() != a || !res.AuditChain.OK || res.Rekeyed.Documents != 1 || res.Rekeyed.Files != 1 || res.Rekeyed.Texts != 1 {
		t.Errorf("import result: %s", out)
	}
	baseB := "/api/v1/companies/" + a
	if tbB := trialBalances(inB, godB.AccessToken, baseB); !reflect.DeepEqual(tbA, tbB) {
		t.Errorf("trial balance in B %v, in A %v", tbB, tbA)
	}
	var entries struct {
		Items []struct{ Description string }
	}
	inB.mustCall("GET", baseB+"/journal-entries?limit=100", godB.AccessToken, nil, 200, &entries)
	if !strings.Contains(mustJSON(entries), description) {
		t.Errorf("B's entries: %+v", entries)
	}
	var invB struct{ Number, Total, Status string }
	inB.mustCall("GET", baseB+"/invoices/"+inv.ID, godB.AccessToken, nil, 200, &invB)
	if invB.Number != inv.Number || invB.Status != "issued" || invB.Total != "3480.00" {
		t.Errorf("invoice in B: %+v (in A %s)", invB, inv.Number)
	}
	// The next invoice in B follows A's numbering.
	var next struct{ ID, Number string }
	inB.mustCall("POST", baseB+"/invoices", godB.AccessToken, map[string]any{"contact_id": contact.ID, "issue_date": "2026-02-04",
		"lines": []map[string]string{{"description": "Inspection", "quantity": "1", "unit_price": "100.00", "tax_code": "VAT16"}}}, 201, &next)
	inB.mustCall("POST", baseB+"/invoices/"+next.ID+"/issue", godB.AccessToken, nil, 200, &next)
	if next.Number == inv.Number || next.Number == "" {
		t.Errorf("the next invoice in B is numbered %q after %q", next.Number, inv.Number)
	}
	// The document opens in B with B's key: metadata, extraction, the
	// original itself, and search by a word of its text.
	var d docAnswer
	inB.mustCall("GET", baseB+"/documents/"+doc.DocumentID, godB.AccessToken, nil, 200, &d)
	if d.Extraction == nil || !settled(d.Status) {
		t.Errorf("document in B: %+v", d)
	}
	req = inB.request("GET", baseB+"/documents/"+doc.DocumentID+"/file", nil)
	req.Header.Set("Authorization", "Bearer "+godB.AccessToken)
	resp, err = inB.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, pdf) {
		t.Errorf("original in B: %d, %d bytes, same %v", resp.StatusCode, len(got), bytes.Equal(got, pdf))
	}
	var found struct{ Items []docAnswer }
	inB.mustCall("GET", baseB+"/documents?q=toner", godB.AccessToken, nil, 200, &found)
	if len(found.Items) != 1 {
		t.Errorf("search in B for a word of the document: %d items", len(found.Items))
	}
	var verified struct{ OK bool }
	inB.mustCall("GET", baseB+"/audit/verify", godB.AccessToken, nil, 200, &verified)
	if !verified.OK {
		t.Error("the imported company's audit chain does not verify in B")
	}
	if !strings.Contains(mustJSON(res.Members), r.email) {
		t.Errorf("the source's members are not listed: %+v", res.Members)
	}

	// B sealed the document's fields under a key of its own: A's company
	// key (from the bundle) opens A's ciphertexts and none of B's.
	sealedIn := func(data, coll, field string) []byte {
		var rec bson.M
		db := mongoClient(t, data).Database("vanta_c_" + strings.ReplaceAll(a, "-", ""))
		if err := db.Collection(coll).FindOne(context.Background(), bson.D{{Key: "_id", Value: doc.DocumentID}}).Decode(&rec); err != nil {
			t.Fatalf("%s in %s: %v", coll, data, err)
		}
		b, ok := rec[field].(bson.Binary)
		if !ok {
			t.Fatalf("%s.%s: %T", coll, field, rec[field])
		}
		return b.Data
	}
	for _, f := range []struct{ coll, field, purpose string }{{"documents", "filename", "document-filename"}, {"analyses", "sealed", "document-text"}} {
		inA, inB := sealedIn(r.data, f.coll, f.field), sealedIn(inB.data, f.coll, f.field)
		if bytes.Equal(inA, inB) {
			t.Errorf("%s.%s: the same ciphertext in A and B", f.coll, f.field)
		}
		if _, err := keyA.Open(f.purpose, doc.DocumentID, inA); err != nil {
			t.Errorf("%s.%s: A's key does not open A's ciphertext: %v", f.coll, f.field, err)
		}
		if _, err := keyA.Open(f.purpose, doc.DocumentID, inB); err == nil {
			t.Errorf("%s.%s: A's key opens B's ciphertext", f.coll, f.field)
		}
	}

	// A's other company is as it was.
	if after := ledgerState(t, in, r.path(r.b.ID, ""), r.god) + mustJSON(trialBalances(in, r.god, r.path(r.b.ID, ""))); after != otherBefore {
		t.Errorf("A's other company changed:\nbefore %s\nafter  %s", otherBefore, after)
	}

	// Importing again is a conflict; a damaged bundle is refused.
	if code, out := vantaCompany(t, "import", "--data", inB.data, "--in", bundle, "--identity", idFile); code == 0 || !strings.Contains(string(out), "already has a company") {
		t.Errorf("second import: exit %d: %s", code, out)
	}
	bad := filepath.Join(dir, "flipped.vxp")
	if err := os.WriteFile(bad, flipped, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := vantaCompany(t, "import", "--data", inB.data, "--in", bad, "--identity", idFile); code == 0 || !strings.Contains(string(out), "checksum does not match") {
		t.Errorf("import of a damaged bundle: exit %d: %s", code, out)
	}
	if code, out := vantaCompany(t, "export", "--data", r.data, "--company", uuid.NewString(), "--out", bad, "--recipient", id.Recipient().String()); code == 0 || !strings.Contains(string(out), "no such company") {
		t.Errorf("export of a company A does not have: exit %d: %s", code, out)
	}
	// Sealed, the appliance has no keys to export or import with.
	inB.mustCall("POST", "/api/v1/sys/seal", godB.AccessToken, map[string]any{}, 200, nil)
	if code, out := vantaCompany(t, "export", "--data", inB.data, "--company", a, "--out", bad, "--recipient", id.Recipient().String()); code == 0 || !strings.Contains(string(out), "sealed") {
		t.Errorf("export while sealed: exit %d: %s", code, out)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
