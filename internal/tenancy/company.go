package tenancy

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones without the host's database: the image may lack it

	"github.com/google/uuid"
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

// Features a company may enable.
var Features = []string{"ledger", "invoicing", "documents", "ai", "reports"}

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
	c.TaxID = strings.ToUpper(c.TaxID)
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
		c.Settings.Features = []string{"ledger", "invoicing", "documents", "reports"}
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
	for _, f := range c.Settings.Features {
		if !slices.Contains(Features, f) {
			return bad("settings.features", "%q is not one of %s", f, strings.Join(Features, ", "))
		}
		if seen[f] {
			return bad("settings.features", "%q is listed twice", f)
		}
		seen[f] = true
	}
	return nil
}
