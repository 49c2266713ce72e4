package invoicing

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Contact is a customer, a vendor, or both.
type Contact struct {
	ID               uuid.UUID `json:"id"`
	Kind             string    `json:"kind"` // customer, vendor, both
	Name             string    `json:"name"`
	KRAPIN           string    `json:"kra_pin"`
	Email            string    `json:"email"`
	Phone            string    `json:"phone"`
	Address          string    `json:"address"`
	Currency         string    `json:"currency"` // "" = the company currency
	PaymentTermsDays int       `json:"payment_terms_days"`
	Active           bool      `json:"active"`
	CreatedAt        time.Time `json:"created_at"`
}

// ContactInput creates a contact; PaymentTermsDays defaults to 30.
type ContactInput struct {
	Kind             string `json:"kind"`
	Name             string `json:"name"`
	KRAPIN           string `json:"kra_pin"`
	Email            string `json:"email"`
	Phone            string `json:"phone"`
	Address          string `json:"address"`
	Currency         string `json:"currency"`
	PaymentTermsDays *int   `json:"payment_terms_days"`
}

// ContactPatch changes a contact; nil fields are kept.
type ContactPatch struct {
	Kind             *string `json:"kind"`
	Name             *string `json:"name"`
	KRAPIN           *string `json:"kra_pin"`
	Email            *string `json:"email"`
	Phone            *string `json:"phone"`
	Address          *string `json:"address"`
	Currency         *string `json:"currency"`
	PaymentTermsDays *int    `json:"payment_terms_days"`
	Active           *bool   `json:"active"`
}

var (
	// A KRA PIN as tenancy checks a company's: A or P, nine digits, a letter.
	kraPIN       = regexp.MustCompile(`^[AP][0-9]{9}[A-Z]$`)
	currencyCode = regexp.MustCompile(`^[A-Z][A-Z0-9]{2,9}$`)
	phoneNumber  = regexp.MustCompile(`^\+?[0-9][0-9 ()-]{6,19}$`)
)

func (c *Contact) normalize() error {
	for _, s := range []*string{&c.Kind, &c.Name, &c.Email, &c.Phone, &c.Address, &c.Currency} {
		*s = strings.TrimSpace(*s)
	}
	c.KRAPIN = tenancy.NormalizeTaxID(c.KRAPIN)
	c.Currency = strings.ToUpper(c.Currency)
	switch {
	case c.Kind != "customer" && c.Kind != "vendor" && c.Kind != "both":
		return invalid("kind", "must be customer, vendor or both")
	case c.Name == "" || len(c.Name) > 200:
		return invalid("name", "must be 1 to 200 characters")
	case c.KRAPIN != "" && !kraPIN.MatchString(c.KRAPIN):
		return invalid("kra_pin", "%q is not a KRA PIN (A or P, nine digits, a letter: P051234567Z)", truncate(c.KRAPIN, 40))
	case c.Phone != "" && !phoneNumber.MatchString(c.Phone):
		return invalid("phone", "%q is not a phone number", truncate(c.Phone, 40))
	case len(c.Address) > 500:
		return invalid("address", "must be at most 500 characters")
	case c.Currency != "" && !currencyCode.MatchString(c.Currency):
		return invalid("currency", "%q is not a currency code like KES", truncate(c.Currency, 20))
	case c.PaymentTermsDays < 0 || c.PaymentTermsDays > 3650:
		return invalid("payment_terms_days", "must be from 0 to 3650")
	}
	if c.Email != "" {
		if a, err := mail.ParseAddress(c.Email); err != nil || a.Address != c.Email {
			return invalid("email", "%q is not an email address", truncate(c.Email, 80))
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

const contactColumns = `id, kind, name, coalesce(kra_pin, ''), email, phone, address, coalesce(currency, ''), payment_terms_days, active, created_at`

func scanContact(row pgx.Row) (Contact, error) {
	var c Contact
	err := row.Scan(&c.ID, &c.Kind, &c.Name, &c.KRAPIN, &c.Email, &c.Phone, &c.Address, &c.Currency, &c.PaymentTermsDays, &c.Active, &c.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNotFound
	}
	return c, err
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// checkCurrency refuses a currency the company's books do not have.
func checkCurrency(ctx context.Context, tx pgx.Tx, field, code string) (scale int, err error) {
	err = tx.QueryRow(ctx, `SELECT scale FROM currencies WHERE code = $1`, code).Scan(&scale)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, invalid(field, "%q is not a currency of the company's books", truncate(code, 20))
	}
	if err != nil {
		return 0, fmt.Errorf("currency %s: %w", code, err)
	}
	return scale, nil
}

// CreateContact adds a contact.
func (s Store) CreateContact(ctx context.Context, sc tenancy.Scope, in ContactInput) (Contact, error) {
	c := Contact{ID: uuid.New(), Kind: in.Kind, Name: in.Name, KRAPIN: in.KRAPIN, Email: in.Email, Phone: in.Phone,
		Address: in.Address, Currency: in.Currency, PaymentTermsDays: 30, Active: true}
	if in.PaymentTermsDays != nil {
		c.PaymentTermsDays = *in.PaymentTermsDays
	}
	if err := c.normalize(); err != nil {
		return Contact{}, err
	}
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		if c.Currency != "" {
			if _, err := checkCurrency(ctx, tx, "currency", c.Currency); err != nil {
				return err
			}
		}
		var err error
		c, err = scanContact(tx.QueryRow(ctx, `INSERT INTO contacts (company_id, id, kind, name, kra_pin, email, phone, address, currency, payment_terms_days)
			VALUES (current_setting('app.company_id')::uuid, $1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+contactColumns,
			c.ID, c.Kind, c.Name, nullable(c.KRAPIN), c.Email, c.Phone, c.Address, nullable(c.Currency), c.PaymentTermsDays))
		if err != nil {
			return fmt.Errorf("create contact: %w", err)
		}
		return nil
	})
	return c, err
}

// Contact reads one contact.
func (s Store) Contact(ctx context.Context, sc tenancy.Scope, id uuid.UUID) (Contact, error) {
	var c Contact
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		var err error
		c, err = scanContact(tx.QueryRow(ctx, `SELECT `+contactColumns+` FROM contacts WHERE id = $1`, id))
		return err
	})
	return c, err
}

// UpdateContact changes a contact.
func (s Store) UpdateContact(ctx context.Context, sc tenancy.Scope, id uuid.UUID, p ContactPatch) (Contact, error) {
	var c Contact
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		var err error
		if c, err = scanContact(tx.QueryRow(ctx, `SELECT `+contactColumns+` FROM contacts WHERE id = $1 FOR UPDATE`, id)); err != nil {
			return err
		}
		for _, f := range []struct {
			src *string
			dst *string
		}{{p.Kind, &c.Kind}, {p.Name, &c.Name}, {p.KRAPIN, &c.KRAPIN}, {p.Email, &c.Email}, {p.Phone, &c.Phone},
			{p.Address, &c.Address}, {p.Currency, &c.Currency}} {
			if f.src != nil {
				*f.dst = *f.src
			}
		}
		if p.PaymentTermsDays != nil {
			c.PaymentTermsDays = *p.PaymentTermsDays
		}
		if p.Active != nil {
			c.Active = *p.Active
		}
		if err := c.normalize(); err != nil {
			return err
		}
		if c.Currency != "" {
			if _, err := checkCurrency(ctx, tx, "currency", c.Currency); err != nil {
				return err
			}
		}
		c, err = scanContact(tx.QueryRow(ctx, `UPDATE contacts SET kind = $2, name = $3, kra_pin = $4, email = $5, phone = $6,
			address = $7, currency = $8, payment_terms_days = $9, active = $10 WHERE id = $1 RETURNING `+contactColumns,
			id, c.Kind, c.Name, nullable(c.KRAPIN), c.Email, c.Phone, c.Address, nullable(c.Currency), c.PaymentTermsDays, c.Active))
		if err != nil {
			return fmt.Errorf("update contact %s: %w", id, err)
		}
		return nil
	})
	return c, err
}

// ContactFilter narrows a contact listing.
type ContactFilter struct {
	Kind   string // customer or vendor: those that are it (both included)
	Cursor string // the last id of the previous page
	Limit  int
}

// Contacts lists contacts by name.
func (s Store) Contacts(ctx context.Context, sc tenancy.Scope, f ContactFilter) (items []Contact, next string, err error) {
	if f.Kind != "" && f.Kind != "customer" && f.Kind != "vendor" {
		return nil, "", invalid("kind", "must be customer or vendor")
	}
	cursor, err := parseCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	err = s.inTx(ctx, sc, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+contactColumns+` FROM contacts
			WHERE ($1 = '' OR kind = $1 OR kind = 'both')
			  AND ($2::uuid IS NULL OR (name, id) > (SELECT name, id FROM contacts WHERE id = $2))
			ORDER BY name, id LIMIT $3`, f.Kind, cursor, f.Limit+1)
		if err != nil {
			return fmt.Errorf("list contacts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanContact(rows)
			if err != nil {
				return fmt.Errorf("list contacts: %w", err)
			}
			items = append(items, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, "", err
	}
	if len(items) > f.Limit {
		items = items[:f.Limit]
		next = items[len(items)-1].ID.String()
	}
	return items, next, nil
}

// parseCursor reads a listing's cursor, the last id of the previous page.
func parseCursor(s string) (*uuid.UUID, error) {
	if s == "" {
		return nil, nil
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return nil, invalid("cursor", "is not one this API gave out")
	}
	return &id, nil
}
