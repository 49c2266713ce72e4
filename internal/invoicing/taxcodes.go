package invoicing

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// TaxCode is one version of a tax code: the rate in force from
// EffectiveFrom to EffectiveTo (inclusive; "" = open).
type TaxCode struct {
	ID            uuid.UUID `json:"id"`
	Code          string    `json:"code"`
	Name          string    `json:"name"`
	Kind          string    `json:"kind"` // standard, zero_rated, exempt, non_vat, withholding_vat
	Rate          string    `json:"rate"` // percent, "16"
	ETIMSLetter   string    `json:"etims_letter"`
	EffectiveFrom string    `json:"effective_from"`
	EffectiveTo   string    `json:"effective_to"`
	CreatedAt     time.Time `json:"created_at"`
}

// TaxCodeInput adds a tax code, or a new version of one from a date.
type TaxCodeInput struct {
	Code          string `json:"code"`
	Name          string `json:"name"`
	Kind          string `json:"kind"`
	Rate          string `json:"rate"`
	ETIMSLetter   string `json:"etims_letter"`
	EffectiveFrom string `json:"effective_from"`
	EffectiveTo   string `json:"effective_to"`
}

// TaxCodePatch changes a version's name, eTIMS letter or end date ("" =
// open). The rate never changes in place: documents issued under it keep
// it; a new rate is a new version from its date.
type TaxCodePatch struct {
	Name        *string `json:"name"`
	ETIMSLetter *string `json:"etims_letter"`
	EffectiveTo *string `json:"effective_to"`
}

var (
	taxCodePattern = regexp.MustCompile(`^[A-Z0-9_-]{1,20}$`)
	taxKinds       = map[string]bool{"standard": true, "zero_rated": true, "exempt": true, "non_vat": true, "withholding_vat": true}
)

const taxCodeColumns = `id, code, name, kind, trim_scale(rate)::text, coalesce(etims_letter, ''), effective_from, effective_to, created_at`

func scanTaxCode(row pgx.Row) (TaxCode, error) {
	var t TaxCode
	var from time.Time
	var to *time.Time
	err := row.Scan(&t.ID, &t.Code, &t.Name, &t.Kind, &t.Rate, &t.ETIMSLetter, &from, &to, &t.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	t.EffectiveFrom = from.Format(dateLayout)
	if to != nil {
		t.EffectiveTo = to.Format(dateLayout)
	}
	return t, err
}

func parseDate(field, s string) (time.Time, error) {
	d, err := time.Parse(dateLayout, s)
	if err != nil {
		return time.Time{}, invalid(field, "%q is not a date like 2026-03-31", truncate(s, 40))
	}
	return d, nil
}

func (t *TaxCode) check() error {
	t.Code = strings.ToUpper(strings.TrimSpace(t.Code))
	t.Name = strings.TrimSpace(t.Name)
	t.ETIMSLetter = strings.ToUpper(strings.TrimSpace(t.ETIMSLetter))
	switch {
	case !taxCodePattern.MatchString(t.Code):
		return invalid("code", "must be 1 to 20 of A-Z, 0-9, _ and -")
	case t.Name == "" || len(t.Name) > 200:
		return invalid("name", "must be 1 to 200 characters")
	case !taxKinds[t.Kind]:
		return invalid("kind", "must be standard, zero_rated, exempt, non_vat or withholding_vat")
	case t.ETIMSLetter != "" && !strings.Contains("ABCDE", t.ETIMSLetter) || len(t.ETIMSLetter) > 1:
		return invalid("etims_letter", "must be A (exempt), B (16%%), C (0%%), D (non-VAT) or E (8%%)")
	}
	r, err := ParsePercent(t.Rate)
	if err != nil {
		return invalid("rate", "%v", err)
	}
	switch {
	case t.Kind == "standard" && r.Sign() == 0:
		return invalid("rate", "a standard rate is more than 0")
	case (t.Kind == "zero_rated" || t.Kind == "exempt" || t.Kind == "non_vat") && r.Sign() != 0:
		return invalid("rate", "a %s code has rate 0", t.Kind)
	}
	from, err := parseDate("effective_from", t.EffectiveFrom)
	if err != nil {
		return err
	}
	if t.EffectiveTo != "" {
		to, err := parseDate("effective_to", t.EffectiveTo)
		if err != nil {
			return err
		}
		if to.Before(from) {
			return invalid("effective_to", "is before effective_from")
		}
	}
	return nil
}

// overlap refuses two versions of one code in force on the same day:
// a document must find exactly one rate.
func overlap(ctx context.Context, tx pgx.Tx, t TaxCode) error {
	// The code's versions are locked so that two changes racing on one
	// code cannot both pass the check.
	var n int
	err := tx.QueryRow(ctx, `WITH v AS (SELECT id, effective_from, effective_to FROM tax_codes WHERE code = $1 FOR UPDATE)
		SELECT count(*) FROM v WHERE id <> $2
		  AND effective_from <= coalesce($4::date, 'infinity') AND coalesce(effective_to, 'infinity') >= $3::date`,
		t.Code, t.ID, t.EffectiveFrom, nullable(t.EffectiveTo)).Scan(&n)
	if err != nil {
		return fmt.Errorf("tax code %s: %w", t.Code, err)
	}
	if n > 0 {
		return invalid("effective_from", "another version of %s is in force in these dates; end it first (effective_to)", t.Code)
	}
	return nil
}

// CreateTaxCode adds a tax code or a version of one.
func (s Store) CreateTaxCode(ctx context.Context, sc tenancy.Scope, in TaxCodeInput) (TaxCode, error) {
	t := TaxCode{ID: uuid.New(), Code: in.Code, Name: in.Name, Kind: in.Kind, Rate: in.Rate, ETIMSLetter: in.ETIMSLetter,
		EffectiveFrom: in.EffectiveFrom, EffectiveTo: in.EffectiveTo}
	if err := t.check(); err != nil {
		return TaxCode{}, err
	}
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		if err := overlap(ctx, tx, t); err != nil {
			return err
		}
		var err error
		t, err = scanTaxCode(tx.QueryRow(ctx, `INSERT INTO tax_codes (company_id, id, code, name, kind, rate, etims_letter, effective_from, effective_to)
			VALUES (current_setting('app.company_id')::uuid, $1, $2, $3, $4, $5::numeric, $6, $7, $8) RETURNING `+taxCodeColumns,
			t.ID, t.Code, t.Name, t.Kind, t.Rate, nullable(t.ETIMSLetter), t.EffectiveFrom, nullable(t.EffectiveTo)))
		if err != nil {
			return fmt.Errorf("create tax code: %w", err)
		}
		return nil
	})
	return t, err
}

// UpdateTaxCode changes a version's name, letter or end date.
func (s Store) UpdateTaxCode(ctx context.Context, sc tenancy.Scope, id uuid.UUID, p TaxCodePatch) (TaxCode, error) {
	var t TaxCode
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		var err error
		if t, err = scanTaxCode(tx.QueryRow(ctx, `SELECT `+taxCodeColumns+` FROM tax_codes WHERE id = $1 FOR UPDATE`, id)); err != nil {
			return err
		}
		if p.Name != nil {
			t.Name = *p.Name
		}
		if p.ETIMSLetter != nil {
			t.ETIMSLetter = *p.ETIMSLetter
		}
		if p.EffectiveTo != nil {
			t.EffectiveTo = *p.EffectiveTo
		}
		if err := t.check(); err != nil {
			return err
		}
		if err := overlap(ctx, tx, t); err != nil {
			return err
		}
		t, err = scanTaxCode(tx.QueryRow(ctx, `UPDATE tax_codes SET name = $2, etims_letter = $3, effective_to = $4 WHERE id = $1 RETURNING `+taxCodeColumns,
			id, t.Name, nullable(t.ETIMSLetter), nullable(t.EffectiveTo)))
		if err != nil {
			return fmt.Errorf("update tax code %s: %w", id, err)
		}
		return nil
	})
	return t, err
}

// TaxCodes lists every version, by code and date; on (a date), only the
// versions in force that day.
func (s Store) TaxCodes(ctx context.Context, sc tenancy.Scope, on string) ([]TaxCode, error) {
	if on != "" {
		if _, err := parseDate("on", on); err != nil {
			return nil, err
		}
	}
	var out []TaxCode
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+taxCodeColumns+` FROM tax_codes
			WHERE $1::date IS NULL OR (effective_from <= $1::date AND coalesce(effective_to, 'infinity') >= $1::date)
			ORDER BY code, effective_from`, nullable(on))
		if err != nil {
			return fmt.Errorf("list tax codes: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanTaxCode(rows)
			if err != nil {
				return fmt.Errorf("list tax codes: %w", err)
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	return out, err
}

// TaxCode reads one version.
func (s Store) TaxCode(ctx context.Context, sc tenancy.Scope, id uuid.UUID) (TaxCode, error) {
	var t TaxCode
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		var err error
		t, err = scanTaxCode(tx.QueryRow(ctx, `SELECT `+taxCodeColumns+` FROM tax_codes WHERE id = $1`, id))
		return err
	})
	return t, err
}

// taxOn is the version of code in force on date, for a line (field names
// the line's tax_code in errors).
func taxOn(ctx context.Context, tx pgx.Tx, field, code string, date time.Time) (TaxCode, *big.Rat, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if !taxCodePattern.MatchString(code) {
		return TaxCode{}, nil, invalid(field, "%q is not a tax code", truncate(code, 30))
	}
	t, err := scanTaxCode(tx.QueryRow(ctx, `SELECT `+taxCodeColumns+` FROM tax_codes
		WHERE code = $1 AND effective_from <= $2 AND coalesce(effective_to, 'infinity') >= $2`, code, date))
	if errors.Is(err, ErrNotFound) {
		return TaxCode{}, nil, invalid(field, "no tax code %s is in force on %s", code, date.Format(dateLayout))
	}
	if err != nil {
		return TaxCode{}, nil, fmt.Errorf("tax code %s: %w", code, err)
	}
	if t.Kind == "withholding_vat" {
		return TaxCode{}, nil, invalid(field, "%s is withholding VAT, which a customer deducts on payment (withholding_vat), not a line's tax", code)
	}
	r, err := ParsePercent(t.Rate)
	if err != nil {
		return TaxCode{}, nil, fmt.Errorf("tax code %s: %w", code, err)
	}
	return t, r, nil
}
