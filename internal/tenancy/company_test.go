package tenancy

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestNormalizeAcceptsAndDefaults(t *testing.T) {
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
