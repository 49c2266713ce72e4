package tenancy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestFeatureCatalog: the original design's configuration is accepted as
// written, its names stand for ours, and a name outside the catalog is
// refused naming its position.
func TestFeatureCatalog(t *testing.T) {
	t.Parallel()
	var c Company
	if err := json.Unmarshal([]byte(`{"company_name":"Acme","settings":{"features":["document_processing","ai_analytics","financial_management"]}}`), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Normalize(); err != nil {
		t.Fatalf("the original design's features: %v", err)
	}
	if strings.Join(c.Settings.Features, ",") != "document_processing,ai_analytics,financial_management" {
		t.Errorf("features stored as %v, want them as written", c.Settings.Features)
	}
	for _, f := range []string{"documents", "ai", "ledger", "invoicing", "reports"} {
		if !c.Settings.Has(f) {
			t.Errorf("the original design's bundles do not switch on %s", f)
		}
	}
	if (Settings{Features: []string{"ledger"}}).Has("documents") {
		t.Error("ledger switches on documents")
	}
	for _, f := range Catalog {
		if f.Enables == "" {
			t.Errorf("%s does not say what it switches on", f.Name)
		}
		for _, in := range f.Includes {
			if g, ok := LookupFeature(in); !ok || len(g.Includes) != 0 {
				t.Errorf("%s includes %s, which is not a plain feature of the catalog", f.Name, in)
			}
		}
	}
	for _, tc := range []struct {
		features []string
		field    string
	}{
		{[]string{"ledger", "document-processing"}, "settings.features[1]"},
		{[]string{"Ledger"}, "settings.features[0]"},
		{[]string{"ai", "ledger", "ai"}, "settings.features[2]"},
		{[]string{""}, "settings.features[0]"},
	} {
		c := Company{Name: "X", Settings: Settings{Features: tc.features}}
		var ve *ValidationError
		if err := c.Normalize(); !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("features %q: %v, want a ValidationError on %s", tc.features, err, tc.field)
		}
	}
	c = Company{Name: "X", Settings: Settings{Features: []string{strings.Repeat("x", 10000)}}}
	if err := c.Normalize(); err == nil || len(err.Error()) > 400 {
		t.Errorf("a long unknown feature: the error repeats %d bytes", len(err.Error()))
	}
}

func TestNormalizeTaxID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"p051234567x": "P051234567X", " P051 234 567X\t": "P051234567X", "a 123456789 b": "A123456789B"} {
		c := Company{Name: "X", TaxID: in}
		if err := c.Normalize(); err != nil || c.TaxID != want {
			t.Errorf("tax_id %q: %q %v, want %q", in, c.TaxID, err, want)
		}
	}
}

func TestNormalizeAcceptsAndDefaults(t *testing.T) {
	t.Parallel()
	c := Company{Name: "  Acme Ltd ", TaxID: "a123456789b", Phone: "+254 712 345678", Email: "books@acme.co.ke",
		Settings: Settings{Language: "sw-KE", Features: []string{"ledger", "ai"}}}
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	if c.Name != "Acme Ltd" || c.TaxID != "A123456789B" || c.Settings.Timezone != "Africa/Nairobi" || c.Settings.Currency != "KES" {
		t.Errorf("normalized %+v", c)
	}
}

// FuzzCompanyDecodeAndNormalize feeds arbitrary JSON to the company
// decoder and validator: they may refuse, never panic, and whatever they
// accept satisfies the rules.
func FuzzCompanyDecodeAndNormalize(f *testing.F) {
	for _, seed := range []string{
		`{"company_name":"Acme","tax_id":"P051234567Z","settings":{"currency":"KES"}}`,
		`{"company_name":"","settings":{"features":["ledger","ledger"]}}`,
		`{"company_name":"x","settings":{"timezone":"Local"}}`,
		`{"company_name":"x","email":"a@b","phone":"+254700000000"}`,
		`[]`, `null`, `{"settings":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Company
		if json.Unmarshal(data, &c) != nil {
			return
		}
		err := c.Normalize()
		var ve *ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("Normalize returned a %T, want a ValidationError: %v", err, err)
		}
		if err == nil && (c.Name == "" || len(c.Settings.Currency) != 3 || c.Settings.Timezone == "") {
			t.Fatalf("accepted an invalid company: %+v", c)
		}
	})
}
