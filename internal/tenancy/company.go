package tenancy

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones without the host's database: the image may lack it

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
)

// Company is a company's configuration, as the API shows it.
type Company struct {
	ID                 uuid.UUID `json:"company_id"`
	Name               string    `json:"company_name"`
	RegistrationNumber string    `json:"registration_number"`
	TaxID              string    `json:"tax_id"`
	Industry           string    `json:"industry"`
	Address            string    `json:"address"`
	Phone              string    `json:"phone"`
	Email              string    `json:"email"`
	Settings           Settings  `json:"settings"`
	Status             string    `json:"status"`
	CreatedAt          time.Time `json:"created_at"`
}

// Settings are a company's preferences.
type Settings struct {
	Timezone string   `json:"timezone"`
	Currency string   `json:"currency"`
	Language string   `json:"language"`
	Features []string `json:"features"`
}

// Company statuses.
const (
	StatusProvisioning = "provisioning" // created; not every store is ready yet
	StatusActive       = "active"
	StatusArchived     = "archived"
)

// Feature is one entry of the catalog of features a company may list in
// settings.features.
type Feature struct {
	Name string `json:"name"`
	// Enables says what the feature switches on, for people.
	Enables string `json:"enables"`
	// Includes names the features a bundle stands for: the original
	// design's names (document_processing, ai_analytics,
	// financial_management) each stand for one or more of ours.
	Includes []string `json:"includes,omitempty"`
	// Available says whether this version of the appliance has it yet.
	// A feature that is not available may still be listed, so that a
	// company's configuration is ready when it comes; it switches nothing
	// on until then.
	Available bool `json:"available"`
}

// Catalog is every feature name settings.features accepts. The books
// (ledger, invoicing, reports) and documents are available; answers by
// the models come later. The available ones are served to every company
// whatever its list says: the list does not switch them off yet.
var Catalog = []Feature{
	{Name: "ledger", Available: true, Enables: "double-entry books: chart of accounts, journal entries, imports and exports"},
	{Name: "invoicing", Available: true, Enables: "sales invoices, bills, payments and VAT posted to the books"},
	{Name: "reports", Available: true, Enables: "trial balance, general ledger, profit and loss, balance sheet, aged balances and the VAT return"},
	{Name: "documents", Available: true, Enables: "document upload, text recognition and extraction for review, approval into draft entries"},
	{Name: "ai", Enables: "answers and analyses by the appliance's local models"},
	{Name: "document_processing", Available: true, Enables: "the original design's name for documents", Includes: []string{"documents"}},
	{Name: "ai_analytics", Enables: "the original design's name for ai", Includes: []string{"ai"}},
	{Name: "financial_management", Available: true, Enables: "the original design's name for ledger, invoicing and reports",
		Includes: []string{"ledger", "invoicing", "reports"}},
}

// DefaultFeatures are listed for a company created without settings.features.
var DefaultFeatures = []string{"ledger", "invoicing", "documents", "reports"}

// FeatureNames lists the catalog's names, in its order.
func FeatureNames() []string {
	out := make([]string, len(Catalog))
	for i, f := range Catalog {
		out[i] = f.Name
	}
	return out
}

// LookupFeature finds a feature of the catalog by its exact name.
func LookupFeature(name string) (Feature, bool) {
	for _, f := range Catalog {
		if f.Name == name {
			return f, true
		}
	}
	return Feature{}, false
}

// Has reports whether the settings switch feature on, directly or through
// a bundle that includes it. Names are kept as the company listed them, so
// that a configuration reads back as it was written; code asking about a
// feature asks here.
func (s Settings) Has(feature string) bool {
	for _, name := range s.Features {
		if name == feature {
			return true
		}
		if f, ok := LookupFeature(name); ok && slices.Contains(f.Includes, feature) {
			return true
		}
	}
	return false
}

// NormalizeTaxID is the stored spelling of a KRA PIN: upper case, with no
// white space ("p051 234 567x" → "P051234567X").
func NormalizeTaxID(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// ErrTaxIDTaken is returned when another company that is not archived
// already has the KRA PIN. The database refuses the twin (system migration 0010), so
// two creates racing with one PIN cannot both succeed.
var ErrTaxIDTaken = errors.New("tenancy: another company already has this KRA PIN (tax_id)")

// taxIDIndex is the unique index behind ErrTaxIDTaken
// (migrations/system/0010_one_active_company_per_kra_pin.sql).
const taxIDIndex = "companies_tax_id_active"

// taxIDConflict turns the unique index's refusal into ErrTaxIDTaken.
func taxIDConflict(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == taxIDIndex {
		return ErrTaxIDTaken
	}
	return err
}

// ValidationError names the field at fault.
type ValidationError struct {
	Field   string
	Problem string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Problem }

var (
	// A KRA PIN: A (individual) or P (company), nine digits, a letter.
	kraPIN   = regexp.MustCompile(`^[AP][0-9]{9}[A-Z]$`)
	currency = regexp.MustCompile(`^[A-Z]{3}$`)
	language = regexp.MustCompile(`^[a-z]{2}(-[A-Z]{2})?$`)
	phone    = regexp.MustCompile(`^\+?[0-9][0-9 ()-]{6,19}$`)
)

// Normalize fills defaults (Africa/Nairobi, KES, en) and checks every field,
// returning the first problem with the field's JSON name.
func (c *Company) Normalize() error {
	trim := func(s *string) { *s = strings.TrimSpace(*s) }
	for _, s := range []*string{&c.Name, &c.RegistrationNumber, &c.TaxID, &c.Industry, &c.Address, &c.Phone, &c.Email} {
		trim(s)
	}
	// KRA PINs are written with spaces and in lower case too; one
	// spelling is stored, so that the database's uniqueness sees twins.
	c.TaxID = NormalizeTaxID(c.TaxID)
	if c.Settings.Timezone == "" {
		c.Settings.Timezone = "Africa/Nairobi"
	}
	if c.Settings.Currency == "" {
		c.Settings.Currency = "KES"
	}
	if c.Settings.Language == "" {
		c.Settings.Language = "en"
	}
	if c.Settings.Features == nil {
		c.Settings.Features = slices.Clone(DefaultFeatures)
	}
	bad := func(field, format string, args ...any) error {
		return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.Name == "" || len(c.Name) > 200:
		return bad("company_name", "must be 1 to 200 characters")
	case len(c.RegistrationNumber) > 50:
		return bad("registration_number", "must be at most 50 characters")
	case c.TaxID != "" && !kraPIN.MatchString(c.TaxID):
		return bad("tax_id", "%q is not a KRA PIN (A or P, nine digits, a letter: P051234567Z)", c.TaxID)
	case len(c.Industry) > 100:
		return bad("industry", "must be at most 100 characters")
	case len(c.Address) > 500:
		return bad("address", "must be at most 500 characters")
	case c.Phone != "" && !phone.MatchString(c.Phone):
		return bad("phone", "%q is not a phone number", c.Phone)
	case !currency.MatchString(c.Settings.Currency):
		return bad("settings.currency", "%q is not an ISO 4217 code like KES", c.Settings.Currency)
	case !language.MatchString(c.Settings.Language):
		return bad("settings.language", "%q is not a language tag like en or sw-KE", c.Settings.Language)
	}
	if c.Email != "" {
		if a, err := mail.ParseAddress(c.Email); err != nil || a.Address != c.Email {
			return bad("email", "%q is not an email address", c.Email)
		}
	}
	if _, err := time.LoadLocation(c.Settings.Timezone); err != nil || c.Settings.Timezone == "Local" {
		return bad("settings.timezone", "%q is not a time zone like Africa/Nairobi", c.Settings.Timezone)
	}
	seen := map[string]bool{}
	for i, f := range c.Settings.Features {
		field := fmt.Sprintf("settings.features[%d]", i)
		if _, ok := LookupFeature(f); !ok {
			return bad(field, "%q is not a feature; the catalog has %s", truncate(f, 60), strings.Join(FeatureNames(), ", "))
		}
		if seen[f] {
			return bad(field, "%q is listed twice", f)
		}
		seen[f] = true
	}
	return nil
}

// truncate bounds what an error message repeats of the input.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
